package io.spindle.bdev;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A bdev's QoS rate limits and the quotas of the current 1 ms timeslice (SPDK's {@code spdk_bdev_qos}).
 * Quotas are shared atomics: every channel checks them on its own reactor at submit (a small overrun is
 * allowed and charged to the next slice); the owner reactor's 1 ms poller refills them and then lets each
 * channel submit what it queued. Thread-safe.
 */
final class Qos {
    static final long SLICE_NANOS = 1_000_000;

    /** The limits; 0 disables one. */
    final QosLimits limits;
    private final AtomicLong iosLeft = new AtomicLong();
    private final AtomicLong rwBytesLeft = new AtomicLong();
    private final AtomicLong rBytesLeft = new AtomicLong();
    private final AtomicLong wBytesLeft = new AtomicLong();

    Qos(QosLimits limits) {
        this.limits = limits;
        refill();
    }

    private static long perSlice(long perSecond, long min) {
        return Math.max(min, perSecond / 1000);
    }

    /** Refills every quota for a new timeslice; a previous overrun is carried (charged) into it. */
    void refill() {
        refill(iosLeft, limits.rwIosPerSec(), 1);
        refill(rwBytesLeft, limits.rwMbytesPerSec() << 20, 512);
        refill(rBytesLeft, limits.rMbytesPerSec() << 20, 512);
        refill(wBytesLeft, limits.wMbytesPerSec() << 20, 512);
    }

    private static void refill(AtomicLong left, long perSecond, long min) {
        if (perSecond <= 0) {
            return;
        }
        long slice = perSlice(perSecond, min);
        long cur = left.get();
        left.set(Math.min(cur, 0) + slice);
    }

    /** Admits an I/O of {@code bytes} if every applicable quota has something left; charges it. */
    boolean tryAdmit(IoType type, long bytes) {
        if (limits.rwIosPerSec() > 0 && iosLeft.get() <= 0) {
            return false;
        }
        if (limits.rwMbytesPerSec() > 0 && rwBytesLeft.get() <= 0) {
            return false;
        }
        if (type == IoType.READ && limits.rMbytesPerSec() > 0 && rBytesLeft.get() <= 0) {
            return false;
        }
        if (type == IoType.WRITE && limits.wMbytesPerSec() > 0 && wBytesLeft.get() <= 0) {
            return false;
        }
        if (limits.rwIosPerSec() > 0) {
            iosLeft.decrementAndGet();
        }
        if (limits.rwMbytesPerSec() > 0) {
            rwBytesLeft.addAndGet(-bytes);
        }
        if (type == IoType.READ && limits.rMbytesPerSec() > 0) {
            rBytesLeft.addAndGet(-bytes);
        }
        if (type == IoType.WRITE && limits.wMbytesPerSec() > 0) {
            wBytesLeft.addAndGet(-bytes);
        }
        return true;
    }
}
