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
 *
 * <p><b>Recycling.</b> A receiver that is done with the message may hand it back with {@link #recycle()}: the
 * shard that sent it then fills the same object again for a later reply (no allocation per reply). Recycling
 * is optional: a message never recycled is simply left to the garbage collector. After {@code recycle()} the
 * message is no longer the receiver's: every accessor, {@link #releaseAll()} and a second {@code recycle()} throw
 * {@link IllegalStateException} while the shard holds it (in its pool or being filled). Once the shard has sent
 * it again it is a new message to whoever receives it, and a stale reference kept past {@code recycle()} would
 * read that one: do not keep it (the same caveat as {@link LentBuffer}). {@link #generation()} changes at every
 * reuse, for a receiver that wants to assert it. The lent buffers are independent of the message: read
 * through {@link #buffer(int)} before the recycle, they stay the receiver's until released, before or after it
 * ({@code recycle()} neither releases nor frees them). {@code recycle()} may be called on any thread: on the
 * shard's reactor the message goes back to the shard's pool at once, elsewhere through one task on that
 * reactor; a message sent by a shard that has closed since, or by the server itself, is dropped.
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
    /** Per buffer, the lending it was for ({@link LentBuffer#lends()}): releaseAll releases that lending only. */
    private int[] bufferLends;
    private int size;
    /** In-flight slots held by the entries, released by the shard just before the send (shard-owned). */
    int heldSlots;
    /** The shard whose pool {@link #recycle()} returns it to; null for a message built by the server. */
    private final ReactorShard home;
    /** {@link #FILLING}, {@link #SENT} or {@link #RECYCLED}. */
    private byte state = FILLING;
    private static final byte FILLING = 0;
    private static final byte SENT = 1;
    private static final byte RECYCLED = 2;
    private int generation;
    /** Free-list link of the home shard's pool (shard-owned). */
    Completions nextFree;
    private final Runnable giveBack;

    Completions(int capacity) {
        this(capacity, null);
    }

    Completions(int capacity, ReactorShard home) {
        this.home = home;
        this.giveBack = home == null ? null : () -> home.takeBack(this);
        int c = Math.max(1, capacity);
        tags = new long[c];
        offsets = new long[c];
        lengths = new long[c];
        types = new byte[c];
        statuses = new byte[c];
        errnos = new int[c];
    }

    // ------------------------------------------------------------------ building (sender's thread, before the send)

    /** Taken from the home shard's pool: empty, being filled, with a new generation. */
    void reuse() {
        state = FILLING;
        size = 0;
        heldSlots = 0;
        generation++;
    }

    /** Entries added so far (the sender's view, before the send). */
    int entries() {
        return size;
    }

    /** Called by the sender just before the {@code tell}: from here on it is the receiver's. */
    void sent() {
        state = SENT;
    }

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
                bufferLends = new int[tags.length];
            }
            buffers[i] = buf;
            bufferLends[i] = buf.lends();
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
                bufferLends = Arrays.copyOf(bufferLends, c);
            }
        }
        return size++;
    }

    // ------------------------------------------------------------------ reading (receiver)

    /**
     * Entries in this message (at least 1).
     *
     * @throws IllegalStateException after {@link #recycle()}
     */
    public int size() {
        if (state != SENT) {
            throw notReadable();
        }
        return size;
    }

    /** Which reuse of this object the message is: changes each time its shard fills it again after a {@link #recycle()}. */
    public int generation() {
        return generation;
    }

    /** Whether {@link #recycle()} was called on this message (and the shard has not sent the object again since). */
    public boolean isRecycled() {
        return state != SENT;
    }

    /**
     * Hands the message back to the shard that sent it, for reuse by a later reply; call at most once, after the
     * last read, on any thread (see the class Javadoc). It does not release the lent buffers: release them with
     * {@link #releaseAll()} or each on its own, before or after.
     *
     * @throws IllegalStateException when already recycled
     */
    public void recycle() {
        if (state != SENT) {
            throw new IllegalStateException("completions: already recycled (recycle() exactly once, after the last read)");
        }
        state = RECYCLED;
        // plain loops over the typed arrays, not Arrays.fill: the JDK's fill is shared by every caller, its profile sees
        // every array type, and its store-check speculation inlined here failed and recompiled the hot receive path
        int n = size;
        LentBuffer[] b = buffers;
        if (b != null) {
            for (int i = 0; i < n; i++) {
                b[i] = null;
            }
        }
        String[] m = messages;
        if (m != null) {
            for (int i = 0; i < n; i++) {
                m[i] = null;
            }
        }
        size = 0;
        ReactorShard h = home;
        if (h == null) {
            return; // built by the server on a refusal path: nothing to return it to
        }
        if (h.reactor.isCurrent()) {
            h.takeBack(this);
            return;
        }
        try {
            h.reactor.send(giveBack);
        } catch (ReactorStoppedException e) {
            // the reactor is gone, and the shard with it: leave the message to the garbage collector
        }
    }

    private IllegalStateException notReadable() {
        return new IllegalStateException("completions: used after recycle() (it belongs to its shard again; read everything before"
                + " recycling it, and keep no reference after)");
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
     * Releases every lent buffer of this message that was not released yet; callable on any thread. A buffer the
     * receiver released on its own, which the shard may since have lent to another reply, is left to that reply. On the
     * shard's reactor the buffers go back to its pool at once, elsewhere one task takes them all back.
     *
     * @return how many buffers this call released
     */
    public int releaseAll() {
        if (state != SENT) {
            throw notReadable();
        }
        if (buffers == null) {
            return 0;
        }
        LentBuffer[] mine = null;
        int n = 0;
        Reactor owner = null;
        for (int i = 0; i < size; i++) {
            LentBuffer b = buffers[i];
            if (b == null || !b.markReleased(bufferLends[i])) {
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
        if (state != SENT) {
            throw notReadable();
        }
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("completions index=" + i + ": must be < size=" + size);
        }
    }

    @Override
    public String toString() {
        if (state == RECYCLED) {
            return "Completions[recycled]";
        }
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
