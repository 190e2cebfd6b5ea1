package io.spindle.bdev.actor;

import io.spindle.bdev.DmaBuffer;
import io.spindle.runtime.Reactor;

/**
 * One reactor's I/O buffers for the server: power-of-two size classes from 4 KiB to 128 KiB, allocated on
 * first need and kept for reuse while the idle ones total at most {@link BdevServer#POOL_CACHE_BYTES}.
 * A transfer above 128 KiB gets a temporary buffer of its exact size, freed when given back. Each buffer is
 * wrapped once in the {@link LentBuffer} that lends it out, so lending allocates nothing.
 *
 * <p>Owner: the shard's reactor; never touched elsewhere (a {@link LentBuffer} released on another thread
 * comes back through a task on this reactor). Every buffer taken must be given back exactly once, either by
 * the shard ({@link #give}) or, when it was lent, by the borrower's release ({@link #giveLent}).
 * {@link #close()} frees the idle ones and marks the pool closed: buffers given back later (lent ones the
 * borrowers still hold) are freed instead of kept.
 */
final class BufferPool implements AutoCloseable {
    static final int MIN_SHIFT = 12;
    static final int MAX_SHIFT = 17;
    static final int MAX_POOLED = 1 << MAX_SHIFT;

    final Reactor reactor;
    private final int alignment;
    /** Per size class, the head of an intrusive free list ({@link LentBuffer#nextFree}). */
    private final LentBuffer[] free = new LentBuffer[MAX_SHIFT - MIN_SHIFT + 1];
    private long cachedBytes;
    private int out;
    private int lent;
    private boolean closed;

    BufferPool(Reactor reactor, int alignment) {
        this.reactor = reactor;
        this.alignment = alignment;
    }

    /** A buffer of at least {@code length} bytes (1 to {@link BdevServer#MAX_TRANSFER}). */
    LentBuffer take(int length) {
        out++;
        if (length > MAX_POOLED) {
            return new LentBuffer(this, DmaBuffer.allocate(length, alignment));
        }
        int shift = Math.max(MIN_SHIFT, 32 - Integer.numberOfLeadingZeros(length - 1));
        int k = shift - MIN_SHIFT;
        LentBuffer b = free[k];
        if (b != null) {
            free[k] = b.nextFree;
            b.nextFree = null;
            cachedBytes -= b.dma.capacity();
            return b;
        }
        return new LentBuffer(this, DmaBuffer.allocate(1L << shift, alignment));
    }

    /** Returns a buffer from {@link #take} that was not lent: kept for reuse, or freed (temporary, closed, or the cache is full). */
    void give(LentBuffer b) {
        out--;
        keepOrFree(b);
    }

    /** Records that a buffer from {@link #take} was lent to a requester; it comes back through {@link #giveLent}. */
    void lent(LentBuffer b, int length) {
        out--;
        lent++;
        b.lend(length);
    }

    /** A lent buffer released by its borrower (on this reactor). */
    void giveLent(LentBuffer b) {
        lent--;
        keepOrFree(b);
    }

    private void keepOrFree(LentBuffer b) {
        long cap = b.dma.capacity();
        if (closed || cap > MAX_POOLED || cachedBytes + cap > BdevServer.POOL_CACHE_BYTES) {
            b.dma.close();
            return;
        }
        int k = (63 - Long.numberOfLeadingZeros(cap)) - MIN_SHIFT;
        b.nextFree = free[k];
        free[k] = b;
        cachedBytes += cap;
    }

    /** Buffers taken by ops and not given back (lent ones excluded). */
    int out() {
        return out;
    }

    /** Buffers lent to requesters and not released yet. */
    int lentOut() {
        return lent;
    }

    /** Frees every idle buffer; buffers given back from now on are freed. */
    @Override
    public void close() {
        closed = true;
        for (int k = 0; k < free.length; k++) {
            LentBuffer b = free[k];
            while (b != null) {
                LentBuffer n = b.nextFree;
                b.nextFree = null;
                b.dma.close();
                b = n;
            }
            free[k] = null;
        }
        cachedBytes = 0;
    }
}
