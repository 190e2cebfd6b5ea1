package io.spindle.bdev.actor;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A server's bound on outstanding I/O, shared by the server actor and its shards (which take slots for the
 * requests sent to them directly). Slots are taken with a CAS so that no thread ever pushes the count past
 * the bound, and released in bulk (once per coalesced reply), so the shared counter is touched about twice
 * per message rather than per I/O.
 *
 * <p>Thread-safe.
 */
final class InFlight {
    final int max;
    private final AtomicInteger count = new AtomicInteger();

    InFlight(int max) {
        this.max = max;
    }

    /** Takes up to {@code n} slots; returns how many were taken (0 when the bound is reached). */
    int tryAcquire(int n) {
        while (true) {
            int c = count.get();
            int k = Math.min(n, max - c);
            if (k <= 0) {
                return 0;
            }
            if (count.compareAndSet(c, c + k)) {
                return k;
            }
        }
    }

    /** Gives back {@code n} slots taken by {@link #tryAcquire}. */
    void release(int n) {
        if (n > 0) {
            count.getAndAdd(-n);
        }
    }

    /** Slots taken now. */
    int get() {
        return count.get();
    }
}
