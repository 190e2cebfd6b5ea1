package io.spindle.bdev;

import io.spindle.bdev.io.IoType;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A bdev's QoS rate limits and the budget of the current 1 ms timeslice (SPDK's {@code spdk_bdev_qos}).
 *
 * <p><b>Budget per reactor, one owner for the refill.</b> SPDK funnels a QoS bdev's I/O through one thread, which
 * owns the quotas. Spindle keeps each reactor's I/O on its reactor instead, and gives each channel its own
 * {@link Credit}: an I/O is admitted and charged against the channel's credit, plain fields on its reactor. Only
 * when the credit runs out does the channel take a chunk (an eighth of the slice over the reactors, at least one I/O
 * or 512 bytes) from the bdev's shared pool: one atomic add per chunk, not four per I/O. The pool is refilled once
 * per slice by its one owner, the QoS poller on reactor 0 ({@link #refill()}), with a compare-and-set that keeps
 * what was charged meanwhile (the overrun of the last slice, as a debt, is charged to the new one), and a new slice
 * number tells the channels to drop what they hold of the old slice (a debt they ran up stays with them). The four
 * pools sit on cache lines of their own; the slice number, read on every admit and written once per slice, sits
 * with the read-only limits. Neither the refill nor an admit allocates.
 *
 * <p>A channel may hold a chunk it does not use before the slice ends; the bdev then passes a little less than its
 * limit in that slice (at most a chunk per channel), never more than the limit plus the last chunks taken.
 *
 * <p>Threads: {@link #refill()} on the owner only; {@link #tryAdmit} on the credit's reactor; the limits from anywhere.
 */
final class Qos {
    static final long SLICE_NANOS = 1_000_000;

    private static final int IOS = 0;
    private static final int RW = 1;
    private static final int R = 2;
    private static final int W = 3;
    /** Longs between two pools (and before the first, after the last): 64 bytes, a cache line. */
    private static final int SPACING = 8;
    private static final VarHandle POOL = MethodHandles.arrayElementVarHandle(long[].class);

    /** The limits; 0 disables one. */
    final QosLimits limits;
    /** Per slice, and per chunk a channel takes from the pool, for IOS, RW, R, W (0 where the limit is off). */
    private final long[] slice = new long[4];
    private final long[] chunk = new long[4];
    /** The pools, at {@code (i + 1) * SPACING}; the rest is padding. */
    private final long[] pools = new long[5 * SPACING];
    /** The slice number; written by the owner at each refill, read by every admit. */
    private volatile long epoch;

    /**
     * @param limits   the rate limits
     * @param reactors how many reactors may submit (sizes the chunks)
     */
    Qos(QosLimits limits, int reactors) {
        this.limits = limits;
        set(IOS, limits.rwIosPerSec(), 1, reactors);
        set(RW, limits.rwMbytesPerSec() << 20, 512, reactors);
        set(R, limits.rMbytesPerSec() << 20, 512, reactors);
        set(W, limits.wMbytesPerSec() << 20, 512, reactors);
        refill();
    }

    private void set(int i, long perSecond, long min, int reactors) {
        if (perSecond <= 0) {
            return;
        }
        slice[i] = Math.max(min, perSecond / 1000);
        chunk[i] = Math.max(min, slice[i] / (8L * Math.max(1, reactors)));
    }

    /**
     * A new timeslice (the owner, every {@link #SLICE_NANOS}): each pool becomes its slice's amount less what was
     * overdrawn, in one compare-and-set that a concurrent take cannot slip past; then the slice number moves on.
     */
    void refill() {
        for (int i = 0; i < 4; i++) {
            long s = slice[i];
            if (s == 0) {
                continue;
            }
            int at = (i + 1) * SPACING;
            long cur;
            do {
                cur = (long) POOL.getVolatile(pools, at);
            } while (!POOL.compareAndSet(pools, at, cur, Math.min(cur, 0) + s));
        }
        epoch = epoch + 1; // single writer: the owner
    }

    /** What is left in pool {@code i} (IOS=0, RW=1, R=2, W=3); tests. */
    long pool(int i) {
        return (long) POOL.getVolatile(pools, (i + 1) * SPACING);
    }

    /** The current slice number: it moves at every refill. Any thread. */
    long epoch() {
        return epoch;
    }

    /**
     * Admits an I/O of {@code bytes} when every applicable budget of the channel has something left (taking a
     * chunk from the pool where it has not), and charges it there. On the credit's reactor; no allocation.
     */
    boolean tryAdmit(Credit c, IoType type, long bytes) {
        long e = epoch;
        if (c.qos != this || c.epoch != e) {
            c.newSlice(this, e);
        }
        boolean read = type == IoType.READ;
        boolean write = type == IoType.WRITE;
        if (!has(c, IOS) || !has(c, RW) || read && !has(c, R) || write && !has(c, W)) {
            return false;
        }
        c.left[IOS]--;
        c.left[RW] -= bytes;
        if (read) {
            c.left[R] -= bytes;
        } else if (write) {
            c.left[W] -= bytes;
        }
        return true;
    }

    /** Whether budget {@code i} of {@code c} is off or has something left, taking a chunk from the pool if needed. */
    private boolean has(Credit c, int i) {
        if (slice[i] == 0 || c.left[i] > 0) {
            return true;
        }
        int at = (i + 1) * SPACING;
        long take = chunk[i];
        // chunks until the credit is positive (a debt the channel ran up is paid first) or the pool is empty; two
        // reactors may both take from a nearly empty pool: the overdraft is a debt the next refill charges
        while ((long) POOL.getVolatile(pools, at) > 0) {
            POOL.getAndAdd(pools, at, -take);
            c.left[i] += take;
            if (c.left[i] > 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * One channel's budget of the current slice: what it took from the pool and has not spent. Owned by the
     * channel's reactor; plain fields.
     */
    static final class Credit {
        private Qos qos;
        private long epoch = -1;
        private final long[] left = new long[4];

        /** A new slice, or other limits: drop what is left of the old budget; keep a debt (charges are never lost). */
        private void newSlice(Qos q, long e) {
            if (qos != q) {
                java.util.Arrays.fill(left, 0);
            } else {
                for (int i = 0; i < 4; i++) {
                    left[i] = Math.min(left[i], 0);
                }
            }
            qos = q;
            epoch = e;
        }
    }
}
