package io.spindle.runtime;

import java.time.Duration;

/**
 * A clock that moves only when told to: SPDK's mocked ticks in {@code test_env.c}.
 *
 * <p>Thread-safe: the time is a volatile field written by the test thread and read by reactors.
 */
public final class ManualClock implements ReactorClock {
    private volatile long now;

    /** Starts at an arbitrary positive origin so that {@code 0} is never a valid deadline. */
    public ManualClock() {
        this.now = 1_000_000_000L;
    }

    @Override
    public long nanoTime() {
        return now;
    }

    /** Moves time forward by {@code nanos} (must be non-negative). */
    public void advance(long nanos) {
        if (nanos < 0) {
            throw new IllegalArgumentException("advance nanos=" + nanos + ": must be >= 0");
        }
        now += nanos;
    }

    /** Moves time forward by {@code d}. */
    public void advance(Duration d) {
        advance(d.toNanos());
    }
}
