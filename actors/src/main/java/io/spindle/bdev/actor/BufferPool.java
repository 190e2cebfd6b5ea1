package io.spindle.bdev.actor;

import io.spindle.bdev.DmaBuffer;

import java.util.ArrayDeque;

/**
 * One reactor's I/O buffers for the server: power-of-two size classes from 4 KiB to 128 KiB, allocated on
 * first need and kept for reuse while the idle ones total at most {@link BdevServer#POOL_CACHE_BYTES}.
 * A transfer above 128 KiB gets a temporary buffer of its exact size, freed when given back.
 *
 * <p>Owner: the shard's reactor; never touched elsewhere. Every buffer taken must be given back exactly once;
 * {@link #close()} frees the idle ones (call it only when none is out).
 */
final class BufferPool implements AutoCloseable {
    static final int MIN_SHIFT = 12;
    static final int MAX_SHIFT = 17;
    static final int MAX_POOLED = 1 << MAX_SHIFT;

    private final int alignment;
    private final ArrayDeque<DmaBuffer>[] free;
    private long cachedBytes;
    private int out;

    @SuppressWarnings("unchecked")
    BufferPool(int alignment) {
        this.alignment = alignment;
        this.free = (ArrayDeque<DmaBuffer>[]) new ArrayDeque<?>[MAX_SHIFT - MIN_SHIFT + 1];
        for (int i = 0; i < free.length; i++) {
            free[i] = new ArrayDeque<>();
        }
    }

    /** A buffer of at least {@code length} bytes (1 to {@link BdevServer#MAX_TRANSFER}). */
    DmaBuffer take(int length) {
        out++;
        if (length > MAX_POOLED) {
            return DmaBuffer.allocate(length, alignment);
        }
        int shift = Math.max(MIN_SHIFT, 32 - Integer.numberOfLeadingZeros(length - 1));
        DmaBuffer b = free[shift - MIN_SHIFT].poll();
        if (b != null) {
            cachedBytes -= b.capacity();
            return b;
        }
        return DmaBuffer.allocate(1L << shift, alignment);
    }

    /** Returns a buffer from {@link #take}: kept for reuse, or freed (temporary, or the cache is full). */
    void give(DmaBuffer b) {
        out--;
        long cap = b.capacity();
        if (cap > MAX_POOLED || cachedBytes + cap > BdevServer.POOL_CACHE_BYTES) {
            b.close();
            return;
        }
        int shift = 63 - Long.numberOfLeadingZeros(cap);
        free[shift - MIN_SHIFT].push(b);
        cachedBytes += cap;
    }

    /** Buffers taken and not given back. */
    int out() {
        return out;
    }

    /** Frees every idle buffer. */
    @Override
    public void close() {
        for (ArrayDeque<DmaBuffer> q : free) {
            DmaBuffer b;
            while ((b = q.poll()) != null) {
                b.close();
            }
        }
        cachedBytes = 0;
    }
}
