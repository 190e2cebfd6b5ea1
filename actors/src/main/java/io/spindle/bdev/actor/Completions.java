package io.spindle.bdev.actor;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorStoppedException;

import java.util.Arrays;

/**
 * The reply side of the batched protocol: one message with the outcome of several {@link IoBatch} entries, all
 * from one shard of a {@link BdevServer} to one requester. A shard sends at most one {@code Completions} per
 * requester per reactor loop, with every entry of that requester that completed or was refused since the
 * last one; entries of one batch may be spread over several messages, and one message may hold entries of
 * several batches. Match entries with requests by {@link #tag(int)}.
 *
 * <p>Every entry of every submitted batch appears in exactly one {@code Completions}, as one of:
 * <ul>
 *   <li>ran: {@link #status(int)} is the I/O status ({@link IoStatus#SUCCESS}, FAILED, ABORTED ...) and
 *       {@link #errno(int)} is 0; a successful read carries its data in {@link #buffer(int)};</li>
 *   <li>busy: {@link #isBusy(int)}, errno {@link Errno#EBUSY}: the server's {@code maxInFlight} I/O were
 *       outstanding when the entry arrived; nothing was queued, resubmit it after a completion;</li>
 *   <li>refused: the entry never reached the bdev; {@link #errno(int)} is EINVAL (a field out of range or not
 *       block aligned: {@link #message(int)} names the entry, the field, the value and the bound), EBADF,
 *       ENOTSUP, ENODEV or ESHUTDOWN, as for {@link BdevServer.Refused}.</li>
 * </ul>
 * The in-flight slots of the entries in a message are released just before it is sent, so a requester that
 * submits only after completions never sees Busy because of its own earlier entries.
 *
 * <p><b>Ownership and threads.</b> Built on the shard's reactor and never touched by the server after the
 * send: the receiver owns the message and may read it on any one thread at a time. The {@link LentBuffer}s of
 * successful reads are the receiver's too and <b>must be released</b>, each with {@link LentBuffer#release()}
 * or all at once with {@link #releaseAll()} (one hand-back task for the lot when the receiver is not on the
 * shard's reactor).
 */
public final class Completions {
    private static final IoType[] TYPES = IoType.values();
    private static final IoStatus[] STATUSES = IoStatus.values();

    private long[] tags;
    private long[] offsets;
    private long[] lengths;
    private byte[] types;
    /** {@code IoStatus.ordinal() + 1}, or 0 when the entry never ran. */
    private byte[] statuses;
    private int[] errnos;
    /** Allocated at the first refusal. */
    private String[] messages;
    /** Allocated at the first successful read. */
    private LentBuffer[] buffers;
    private int size;
    /** In-flight slots held by the entries, released by the shard just before the send (shard-owned). */
    int heldSlots;

    Completions(int capacity) {
        int c = Math.max(1, capacity);
        tags = new long[c];
        offsets = new long[c];
        lengths = new long[c];
        types = new byte[c];
        statuses = new byte[c];
        errnos = new int[c];
    }

    // ------------------------------------------------------------------ building (sender's thread, before the send)

    /** Adds an entry that ran; {@code buf}: the lent data of a successful read, else null. */
    void addCompleted(long tag, IoType type, long offset, long length, IoStatus status, LentBuffer buf) {
        int i = slot();
        tags[i] = tag;
        types[i] = (byte) type.ordinal();
        offsets[i] = offset;
        lengths[i] = length;
        statuses[i] = (byte) (status.ordinal() + 1);
        errnos[i] = 0;
        if (buf != null) {
            if (buffers == null) {
                buffers = new LentBuffer[tags.length];
            }
            buffers[i] = buf;
        }
    }

    /** Adds an entry that never ran: refused with {@code errno} (EBUSY for Busy) and {@code message}. */
    void addRefused(long tag, IoType type, long offset, long length, int errno, String message) {
        int i = slot();
        tags[i] = tag;
        types[i] = (byte) type.ordinal();
        offsets[i] = offset;
        lengths[i] = length;
        statuses[i] = 0;
        errnos[i] = errno;
        if (messages == null) {
            messages = new String[tags.length];
        }
        messages[i] = message;
    }

    private int slot() {
        if (size == tags.length) {
            int c = tags.length * 2;
            tags = Arrays.copyOf(tags, c);
            offsets = Arrays.copyOf(offsets, c);
            lengths = Arrays.copyOf(lengths, c);
            types = Arrays.copyOf(types, c);
            statuses = Arrays.copyOf(statuses, c);
            errnos = Arrays.copyOf(errnos, c);
            if (messages != null) {
                messages = Arrays.copyOf(messages, c);
            }
            if (buffers != null) {
                buffers = Arrays.copyOf(buffers, c);
            }
        }
        return size++;
    }

    // ------------------------------------------------------------------ reading (receiver)

    /** Entries in this message (at least 1). */
    public int size() {
        return size;
    }

    /** The tag the requester gave entry {@code i} in its {@link IoBatch}. */
    public long tag(int i) {
        check(i);
        return tags[i];
    }

    /** The entry's I/O type. */
    public IoType type(int i) {
        check(i);
        return TYPES[types[i]];
    }

    /** The entry's byte offset. */
    public long offset(int i) {
        check(i);
        return offsets[i];
    }

    /** The entry's length in bytes. */
    public long length(int i) {
        check(i);
        return lengths[i];
    }

    /** Whether the entry ran and completed with {@link IoStatus#SUCCESS}. */
    public boolean success(int i) {
        check(i);
        return statuses[i] == IoStatus.SUCCESS.ordinal() + 1;
    }

    /** How the entry's I/O completed; null when it never ran (busy or refused: see {@link #errno(int)}). */
    public IoStatus status(int i) {
        check(i);
        return statuses[i] == 0 ? null : STATUSES[statuses[i] - 1];
    }

    /** 0 when the entry ran; {@link Errno#EBUSY} when busy; else the negative errno it was refused with. */
    public int errno(int i) {
        check(i);
        return errnos[i];
    }

    /** Whether the entry was answered Busy (the server's in-flight bound was reached); resubmit it later. */
    public boolean isBusy(int i) {
        check(i);
        return errnos[i] == Errno.EBUSY;
    }

    /** Why the entry did not run, in key=value form naming the field and the bound; null when it ran. */
    public String message(int i) {
        check(i);
        return messages == null ? null : messages[i];
    }

    /**
     * The data of a successful read: lent to the receiver, who must release it (see {@link LentBuffer}); null
     * for any other entry.
     */
    public LentBuffer buffer(int i) {
        check(i);
        return buffers == null ? null : buffers[i];
    }

    /**
     * Releases every lent buffer of this message that was not released yet; callable on any thread. On the
     * shard's reactor the buffers go back to its pool at once, elsewhere one task takes them all back.
     *
     * @return how many buffers this call released
     */
    public int releaseAll() {
        if (buffers == null) {
            return 0;
        }
        LentBuffer[] mine = null;
        int n = 0;
        Reactor owner = null;
        for (int i = 0; i < size; i++) {
            LentBuffer b = buffers[i];
            if (b == null || !b.markReleased()) {
                continue;
            }
            if (owner == null) {
                owner = b.pool.reactor;
            }
            if (owner.isCurrent()) {
                b.pool.giveLent(b);
            } else {
                if (mine == null) {
                    mine = new LentBuffer[size - i];
                }
                mine[n] = b;
            }
            n++;
        }
        if (mine != null) {
            giveBack(owner, mine);
        }
        return n;
    }

    private static void giveBack(Reactor owner, LentBuffer[] bufs) {
        try {
            owner.send(() -> {
                for (LentBuffer b : bufs) {
                    if (b != null) {
                        b.pool.giveLent(b);
                    }
                }
            });
        } catch (ReactorStoppedException e) {
            for (LentBuffer b : bufs) {
                if (b != null) {
                    b.dma.close(); // the reactor and its pool are gone
                }
            }
        }
    }

    private void check(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("completions index=" + i + ": must be < size=" + size);
        }
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("Completions[size=").append(size);
        int shown = Math.min(size, 8);
        for (int i = 0; i < shown; i++) {
            b.append(i == 0 ? ": " : ", ").append(tags[i]).append('=');
            if (statuses[i] != 0) {
                b.append(STATUSES[statuses[i] - 1]);
            } else {
                b.append(Errno.name(errnos[i]));
            }
        }
        return b.append(size > shown ? ", ...]" : "]").toString();
    }
}
