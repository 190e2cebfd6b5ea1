package io.spindle.runtime;

import java.util.Locale;

/**
 * What a reactor does on a loop iteration that found no work.
 *
 * <p>Busy-spinning is opt-in: the default is {@link #BACKOFF}, which spins briefly, yields, then parks
 * with an exponentially growing timeout, and is woken at once when a task is submitted.
 */
public enum IdleMode {
    /** Spin, then yield, then park from {@code min-park} up to {@code max-park}; woken on submit. The default. */
    BACKOFF,
    /** {@link Thread#yield()} on every idle iteration. */
    YIELD,
    /** Spin with {@link Thread#onSpinWait()}: lowest latency, burns the core. For benchmarks. */
    BUSY,
    /** Park until a task is submitted or the next timed poller is due (at most {@code max-park} when active pollers exist). */
    PARK;

    /**
     * Parses {@code backoff|yield|busy|park} (case-insensitive).
     *
     * @throws IllegalArgumentException naming the key and the allowed values
     */
    public static IdleMode parse(String key, String value) {
        if (value != null) {
            for (IdleMode m : values()) {
                if (m.name().equalsIgnoreCase(value.trim())) {
                    return m;
                }
            }
        }
        throw new IllegalArgumentException(key + "=" + value + ": expected one of backoff, yield, busy, park");
    }

    /** The lower-case name used in configuration and on command lines. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
