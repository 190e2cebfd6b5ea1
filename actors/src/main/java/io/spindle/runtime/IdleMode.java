package io.spindle.runtime;

import java.util.Locale;

/**
 * What a reactor does on a loop iteration that found no work ({@code spindle.reactor.idle}).
 *
 * <p>Busy-spinning is opt-in: the default is {@link #BACKOFF}, which spins briefly, yields, then parks
 * with an exponentially growing timeout, and is woken at once when a task is submitted.
 *
 * <p><b>Threads.</b> An immutable value chosen once per {@link ReactorGroup} through {@link ReactorConfig};
 * the strategy is applied only by each reactor's own thread, inside its loop, and its state (the backoff
 * step) is that thread's. Manual reactors never idle: a test's {@code pollOnce} returns instead. The one
 * cross-thread interaction is the wake-up: {@link Reactor#send} from any thread unparks a parked reactor.
 */
public enum IdleMode {
    /** Spin, then yield, then park from {@code backoff.min-park} doubling up to {@code backoff.max-park}; woken on submit. The default. */
    BACKOFF,
    /** {@link Thread#yield()} on every idle iteration. */
    YIELD,
    /** Spin with {@link Thread#onSpinWait()}: lowest latency, burns the core. For benchmarks. */
    BUSY,
    /**
     * Park until a task is submitted (the send unparks the reactor), the next timed poller is due, or a cap
     * passes: {@code park.max-park} (default 100 ms) while no poller is registered, {@code backoff.max-park}
     * (default 1 ms) while any poller is, since pollers must run again without a send.
     */
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
