package io.spindle.bdev.actor;

import io.spindle.bdev.DmaBuffer;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorStoppedException;

/**
 * The data of a successful batched read ({@link IoBatch#read}), lent to the requester in a
 * {@link Completions} message instead of being copied into a fresh {@code byte[]}: a pooled off-heap buffer of
 * the {@link BdevServer} shard that ran the read.
 *
 * <p><b>Ownership.</b> From the moment the shard sends the {@code Completions} that carries it, the buffer
 * belongs to the receiver of that message, and only to it; the server does not touch it, reuse it or free it
 * until it is released. The receiver reads it ({@link #getBytes}, {@link #getLong}, {@link #toArray} ...) and
 * then <b>must {@link #release()} it exactly once</b>, directly or through {@link Completions#releaseAll()}.
 * A buffer that is never released is never reused nor freed: it leaks off-heap memory (and Spindle's test leak
 * check fails). After the release the buffer goes back to the shard's pool and will carry someone else's data:
 * do not keep the reference; any use after {@code release()} throws {@link IllegalStateException} as long as
 * the object was not lent out again (this object is pooled with its memory, so a stale reference may not
 * always be detected).
 *
 * <p><b>Threads.</b> Not thread-safe: one thread at a time, which the message hand-off provides (the shard's
 * writes happen before the {@code Completions} is received; the receiver may pass the buffer on in another
 * message, and with it the duty to release it). {@link #release()} may be called on any thread: on the
 * shard's own reactor it returns the buffer to the pool at once; elsewhere it sends a task to that reactor
 * (a requester placed on the shard's reactor therefore releases for free). If the server has closed
 * meanwhile, the buffer is freed instead; if the reactor has exited, it is freed on the calling thread.
 */
public final class LentBuffer {
    final BufferPool pool;
    final DmaBuffer dma;
    /** Bytes of data; at most {@code dma.capacity()}. */
    private int length;
    /** Pool state: true while the pool holds it (idle) or an op of the shard uses it; false while lent. */
    private boolean released = true;
    /** Free-list link of the pool's size class (pool-owned). */
    LentBuffer nextFree;
    private final Runnable giveBack = this::giveBackOnReactor;

    LentBuffer(BufferPool pool, DmaBuffer dma) {
        this.pool = pool;
        this.dma = dma;
    }

    /** How many times the shard has lent this buffer out: a reply records it, so a stale reply cannot release a later lending. */
    private int lends;

    /** Called by the shard on its reactor when it hands the buffer out with {@code length} bytes of data. */
    void lend(int length) {
        this.length = length;
        this.released = false;
        this.lends++;
    }

    /** The current lending's number (see {@link #lends}); read by the shard right after {@link #lend}. */
    int lends() {
        return lends;
    }

    /** Bytes of data, the length of the read. */
    public int length() {
        check();
        return length;
    }

    /**
     * Copies {@code len} bytes at {@code offset} of the data into {@code dst[dstOffset, dstOffset + len)}.
     *
     * @throws IndexOutOfBoundsException naming the offsets and the bound
     * @throws IllegalStateException     after {@link #release()}
     */
    public LentBuffer getBytes(int offset, byte[] dst, int dstOffset, int len) {
        checkRange(offset, len);
        dma.getBytes(offset, dst, dstOffset, len);
        return this;
    }

    /** The byte at {@code offset}. @throws IndexOutOfBoundsException beyond {@link #length()} */
    public byte getByte(int offset) {
        checkRange(offset, 1);
        return dma.getByte(offset);
    }

    /** The little-endian long at {@code offset}. @throws IndexOutOfBoundsException beyond {@link #length()} */
    public long getLong(int offset) {
        checkRange(offset, 8);
        return dma.getLong(offset);
    }

    /** A fresh copy of the data; the array is the caller's (the buffer must still be released). */
    public byte[] toArray() {
        check();
        return dma.get(0, length);
    }

    /**
     * Address of data byte 0, for code that reads off-heap memory directly. Valid only until {@link #release()};
     * reading beyond {@link #length()} bytes or after the release reads memory the server owns.
     */
    public long address() {
        check();
        return dma.address();
    }

    /** Whether this buffer was released (and not lent out again since). */
    public boolean isReleased() {
        return released;
    }

    /**
     * Gives the buffer back to the shard that lent it. Call exactly once, on any thread, when done reading;
     * see the class Javadoc for where it goes.
     *
     * @throws IllegalStateException when already released
     */
    public void release() {
        if (released) {
            throw new IllegalStateException("LentBuffer.release: already released (release exactly once)");
        }
        released = true;
        Reactor owner = pool.reactor;
        if (owner.isCurrent()) {
            pool.giveLent(this);
            return;
        }
        try {
            owner.send(giveBack);
        } catch (ReactorStoppedException e) {
            dma.close(); // the reactor and its pool are gone: nobody else can reach this memory any more
        }
    }

    /**
     * {@link #release()}'s marking without the hand-back, for {@link Completions#releaseAll()}'s one task: only for
     * lending {@code lend}. A buffer released on its own and lent out again since belongs to its new borrower: false.
     */
    boolean markReleased(int lend) {
        if (released || lends != lend) {
            return false;
        }
        released = true;
        return true;
    }

    private void giveBackOnReactor() {
        pool.giveLent(this);
    }

    private void check() {
        if (released) {
            throw new IllegalStateException("LentBuffer used after release");
        }
    }

    private void checkRange(int offset, int len) {
        check();
        if (offset < 0 || len < 0 || offset > length - len) {
            throw new IndexOutOfBoundsException("LentBuffer offset=" + offset + " length=" + len + " data_length=" + length);
        }
    }

    @Override
    public String toString() {
        return released ? "LentBuffer[released]" : "LentBuffer[length=" + length + "]";
    }
}
