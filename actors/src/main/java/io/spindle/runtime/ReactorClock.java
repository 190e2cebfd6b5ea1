package io.spindle.runtime;

/**
 * The time source of a reactor group, in nanoseconds. Timed pollers and busy/idle accounting read it.
 *
 * <p>{@link #system()} is {@link System#nanoTime()}; tests use a {@link ManualClock} and move time with
 * {@link ManualClock#advance(long)} so timed pollers fire exactly when a test says.
 * Implementations must be safe to read from any thread.
 */
@FunctionalInterface
public interface ReactorClock {
    /** Current time in nanoseconds; only differences are meaningful. */
    long nanoTime();

    /** The system monotonic clock. */
    static ReactorClock system() {
        return System::nanoTime;
    }
}
