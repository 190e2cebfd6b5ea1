package io.spindle.bdev.actor;


import io.spindle.bdev.io.IoType;
import java.util.Arrays;
import java.util.Objects;

/**
 * Several I/O requests in one message: the request side of the batched protocol ({@link BdevServer.Submit}).
 * Each entry is a read, write, flush, unmap or write_zeroes with a requester-chosen {@code tag}; every entry of
 * a submitted batch is answered by exactly one entry, with the same tag, in a {@link Completions} message
 * sent to the submit's {@code replyTo}. Entries are independent: they may complete in any order and in
 * different {@code Completions} messages (the shard coalesces, per reactor loop and per requester, whatever
 * completed). Offsets and lengths are in bytes, multiples of the bdev's block size, as in
 * {@link BdevServer.Read} and friends.
 *
 * <pre>{@code
 * IoBatch b = new IoBatch(32);
 * for (int slot = 0; slot < 32; slot++) {
 *     b.read(offsetOf(slot), 4096, slot);          // tag: here the requester's slot number
 * }
 * shard.tell(new BdevServer.Submit(b, completionsRef)); // b belongs to the server from here on
 * // ... later, once a Completions answering one of b's entries has arrived:
 * b.reset();                                           // b is the requester's again: refill and resubmit it
 * }</pre>
 *
 * <p><b>Ownership and threads.</b> Not thread-safe: fill it on one thread. Constructing a {@code Submit} seals
 * it: from then on it belongs to the server, which reads every entry on a reactor in one go when the submit
 * arrives there ("takes" the batch) and never looks at it again; adding to a sealed batch throws. A batch is
 * then either dropped (the garbage collector frees it) or <b>reused</b>: {@link #reset()} empties it and gives
 * it back to its sender, which may fill and submit it again (no allocation per submit). The reset is allowed
 * only once the server has taken the batch, which has happened when any answer to any of its entries has
 * arrived (every answer is sent after the take); before that it throws {@link IllegalStateException}, so a
 * batch the server may still be reading cannot be overwritten by mistake. A batch whose submit never reached
 * a shard (a dead letter) is never taken: build a new one. {@link #isTaken()} tells without throwing. The
 * reset may run on any one thread at a time (the sender's); the server's take is published to it with
 * release/acquire ordering.
 *
 * <p>A {@link #write}'s {@code data} array is lent to the server until that entry's completion arrives: it is
 * copied on a reactor after the {@code tell}, so do not modify it before (the same array may back several
 * writes). The same holds for the caller's off-heap buffers of {@link #read(long, io.spindle.bdev.DmaBuffer,
 * long, int, long)} and {@link #write(long, io.spindle.bdev.DmaBuffer, long, int, long)}: lent until that
 * entry's answer, whether or not the batch was reset meanwhile. The data of a successful pooled read is not
 * copied: it arrives as a {@link LentBuffer} that the receiver must release.
 */
public final class IoBatch {
    /** Largest {@link #capacity()}. */
    public static final int MAX_ENTRIES = 4096;
    static final IoType[] TYPES = IoType.values();

    final byte[] types;
    final long[] offsets;
    final long[] lengths;
    final long[] tags;
    // package-private columns: the shard reads them directly on its hot path (after one bound check per batch)
    /** Write sources; allocated at the first write. */
    byte[][] data;
    io.spindle.bdev.DmaBuffer[] bufs;
    long[] bufOffsets;
    private int size;
    /** {@link #OPEN}, {@link #SUBMITTED} or {@link #TAKEN}; written by the sender (seal, reset) and the server (take). */
    private volatile int state;
    private static final int OPEN = 0;
    private static final int SUBMITTED = 1;
    private static final int TAKEN = 2;
    private static final java.lang.invoke.VarHandle STATE;

    static {
        try {
            STATE = java.lang.invoke.MethodHandles.lookup().findVarHandle(IoBatch.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * An empty batch for up to {@code capacity} entries.
     *
     * @param capacity 1 to {@link #MAX_ENTRIES}
     * @throws IllegalArgumentException naming the bad capacity and the bound
     */
    public IoBatch(int capacity) {
        if (capacity < 1 || capacity > MAX_ENTRIES) {
            throw new IllegalArgumentException("io_batch capacity=" + capacity + ": must be between 1 and " + MAX_ENTRIES);
        }
        types = new byte[capacity];
        offsets = new long[capacity];
        lengths = new long[capacity];
        tags = new long[capacity];
    }

    /**
     * Adds a read of {@code length} bytes at byte {@code offset} (at most {@link BdevServer#MAX_TRANSFER}); on
     * success its completion lends the data as a {@link LentBuffer}.
     *
     * @throws IllegalStateException when the batch is full or sealed
     */
    public IoBatch read(long offset, int length, long tag) {
        return add(IoType.READ, offset, length, tag, null);
    }

    /**
     * Adds a write of {@code data} at byte {@code offset}; {@code data.length} is the length (a multiple of the
     * block size, at most {@link BdevServer#MAX_TRANSFER}). The array is lent until this entry's completion.
     *
     * @throws NullPointerException  when {@code data} is null
     * @throws IllegalStateException when the batch is full or sealed
     */
    public IoBatch write(long offset, byte[] data, long tag) {
        Objects.requireNonNull(data, "data");
        return add(IoType.WRITE, offset, data.length, tag, data);
    }

    /** Adds a flush of {@code length} bytes at {@code offset}. @throws IllegalStateException when full or sealed */
    public IoBatch flush(long offset, long length, long tag) {
        return add(IoType.FLUSH, offset, length, tag, null);
    }

    /** Adds an unmap of {@code length} bytes at {@code offset}. @throws IllegalStateException when full or sealed */
    public IoBatch unmap(long offset, long length, long tag) {
        return add(IoType.UNMAP, offset, length, tag, null);
    }

    /** Adds a write_zeroes of {@code length} bytes at {@code offset}. @throws IllegalStateException when full or sealed */
    public IoBatch writeZeroes(long offset, long length, long tag) {
        return add(IoType.WRITE_ZEROES, offset, length, tag, null);
    }

    /**
     * Adds a read of {@code length} bytes at byte {@code offset} into the caller's off-heap buffer {@code dst} at
     * {@code dstOffset}: no pooled buffer and no copy; the entry's answer carries no {@link LentBuffer}, the data is in
     * {@code dst}. The buffer is lent to the server from the submit until this entry is answered: keep it open and do
     * not read the range before; the server never keeps or frees it.
     *
     * @throws NullPointerException  when {@code dst} is null
     * @throws IllegalStateException when sealed or full
     */
    public IoBatch read(long offset, io.spindle.bdev.DmaBuffer dst, long dstOffset, int length, long tag) {
        Objects.requireNonNull(dst, "dst");
        add(IoType.READ, offset, length, tag, null);
        setBuf(dst, dstOffset);
        return this;
    }

    /**
     * Adds a write of {@code length} bytes of the caller's off-heap buffer {@code src} from {@code srcOffset} at byte
     * {@code offset}, with no copy. The buffer is lent until this entry is answered: do not modify the range before.
     *
     * @throws NullPointerException  when {@code src} is null
     * @throws IllegalStateException when sealed or full
     */
    public IoBatch write(long offset, io.spindle.bdev.DmaBuffer src, long srcOffset, int length, long tag) {
        Objects.requireNonNull(src, "src");
        add(IoType.WRITE, offset, length, tag, null);
        setBuf(src, srcOffset);
        return this;
    }

    private void setBuf(io.spindle.bdev.DmaBuffer b, long off) {
        if (bufs == null) {
            bufs = new io.spindle.bdev.DmaBuffer[types.length];
            bufOffsets = new long[types.length];
        }
        bufs[size - 1] = b;
        bufOffsets[size - 1] = off;
    }

    private IoBatch add(IoType t, long offset, long length, long tag, byte[] src) {
        if ((int) STATE.getOpaque(this) != OPEN) {
            throw new IllegalStateException("io_batch: sealed by a Submit; it belongs to the server now: reset() it once an answer to"
                    + " one of its entries has arrived, or build a new batch");
        }
        if (size == types.length) {
            throw new IllegalStateException("io_batch capacity=" + types.length + ": full");
        }
        int i = size++;
        types[i] = (byte) t.ordinal();
        offsets[i] = offset;
        lengths[i] = length;
        tags[i] = tag;
        if (src != null) {
            if (data == null) {
                data = new byte[types.length][];
            }
            data[i] = src;
        }
        return this;
    }

    /** Entries added. */
    public int size() {
        return size;
    }

    /** Entries it can hold. */
    public int capacity() {
        return types.length;
    }

    /** Whether {@link #size()} reached {@link #capacity()}. */
    public boolean isFull() {
        return size == types.length;
    }

    /** Whether a {@link BdevServer.Submit} was made of it since it was built or last {@link #reset()} (it cannot be modified). */
    public boolean isSealed() {
        return (int) STATE.getOpaque(this) != OPEN;
    }

    /**
     * Whether the server has read every entry of the submitted batch, so that {@link #reset()} is allowed. True at
     * the latest when the first answer to one of its entries arrives; false for a batch not submitted.
     */
    public boolean isTaken() {
        return (int) STATE.getAcquire(this) == TAKEN;
    }

    /**
     * Empties the batch and makes it the sender's again, to be filled and submitted anew (the capacity stays).
     * Allowed on a batch never submitted and on one the server has taken (see the class Javadoc: true once an
     * answer to any of its entries has arrived). The entries' lent write arrays and buffers stay lent until their
     * own answers arrive; the reset only forgets the references.
     *
     * @return this batch
     * @throws IllegalStateException when the batch was submitted and the server has not taken it yet (it may still
     *                               be reading it): wait for an answer to one of its entries, or build a new batch
     */
    public IoBatch reset() {
        int st = (int) STATE.getAcquire(this);
        if (st == SUBMITTED) {
            throw new IllegalStateException("io_batch size=" + size + ": submitted and not yet taken by the server (it may still be reading"
                    + " it); reset() it only after an answer to one of its entries has arrived, or build a new batch");
        }
        // plain loops over the typed arrays, not Arrays.fill: the JDK's fill is shared by every caller, its profile sees
        // every array type, and its store-check speculation inlined into a sender's loop failed and recompiled it
        int n = size;
        byte[][] d = data;
        if (d != null) {
            for (int i = 0; i < n; i++) {
                d[i] = null;
            }
        }
        io.spindle.bdev.DmaBuffer[] bb = bufs;
        if (bb != null) {
            for (int i = 0; i < n; i++) {
                bb[i] = null;
            }
        }
        size = 0;
        STATE.setOpaque(this, OPEN);
        return this;
    }

    /** The tag of entry {@code i} (0 to size - 1). */
    public long tag(int i) {
        checkIndex(i);
        return tags[i];
    }

    /** The I/O type of entry {@code i}. */
    public IoType type(int i) {
        checkIndex(i);
        return TYPES[types[i]];
    }

    /** The byte offset of entry {@code i}. */
    public long offset(int i) {
        checkIndex(i);
        return offsets[i];
    }

    /** The length in bytes of entry {@code i} ({@code data.length} for a write). */
    public long length(int i) {
        checkIndex(i);
        return lengths[i];
    }

    /** The data array of write entry {@code i}; null for other types. */
    byte[] data(int i) {
        return data == null ? null : data[i];
    }

    /** Entry {@code i}'s caller-supplied buffer, or null. */
    io.spindle.bdev.DmaBuffer buffer(int i) {
        return bufs == null ? null : bufs[i];
    }

    long bufferOffset(int i) {
        return bufOffsets == null ? 0 : bufOffsets[i];
    }

    /**
     * Called by {@link BdevServer.Submit}'s constructor.
     *
     * @throws IllegalStateException when already submitted and not reset since
     */
    void seal() {
        if (!STATE.compareAndSet(this, OPEN, SUBMITTED)) {
            throw new IllegalStateException("submit: the batch was already submitted; reset() it once an answer to one of its entries"
                    + " has arrived, or build a new IoBatch");
        }
    }

    /**
     * Called by whoever read the batch for the server (a shard, or the server when it answers every entry itself),
     * on that thread, after its last read of the entries: from here on the sender may {@link #reset()} it.
     */
    void taken() {
        STATE.setRelease(this, TAKEN);
    }

    private void checkIndex(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("io_batch index=" + i + ": must be < size=" + size);
        }
    }

    @Override
    public String toString() {
        return "IoBatch[size=" + size + ", capacity=" + types.length + (isTaken() ? ", taken]" : isSealed() ? ", sealed]" : "]");
    }
}
