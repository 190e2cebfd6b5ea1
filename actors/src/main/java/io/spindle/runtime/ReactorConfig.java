package io.spindle.runtime;

import com.typesafe.config.Config;

import java.time.Duration;
import java.util.Objects;
import java.util.function.IntConsumer;

/**
 * How a {@link ReactorGroup} is built: the core mask, the idle strategy, pinning, and the loop's limits.
 *
 * <p>Built with {@link #builder()} or read from HOCON with {@link #fromConfig(Config)} (the
 * {@code spindle.reactor} block, defaults in {@code reference.conf}). {@link Builder#conclude()} validates
 * eagerly and throws {@link IllegalArgumentException} naming the key and the bound. Immutable.
 */
public final class ReactorConfig {
    /** Upper bound for {@code max-tasks-per-loop}, the size of SPDK's message ring. */
    public static final int MAX_TASKS_PER_LOOP_LIMIT = 65536;

    private final CoreMask mask;
    private final IdleMode idle;
    private final boolean pin;
    private final boolean manual;
    private final boolean oversubscribe;
    private final int maxTasksPerLoop;
    private final int dispatcherThroughput;
    private final long minParkNanos;
    private final long maxParkNanos;
    private final long parkMaxParkNanos;
    private final int backoffSpins;
    private final int backoffYields;
    private final Duration exitTimeout;
    private final ReactorClock clock;
    private final IntConsumer pinner;

    private ReactorConfig(Builder b) {
        this.mask = b.mask;
        this.idle = b.idle;
        this.pin = b.pin;
        this.manual = b.manual;
        this.oversubscribe = b.oversubscribe;
        this.maxTasksPerLoop = b.maxTasksPerLoop;
        this.dispatcherThroughput = b.dispatcherThroughput;
        this.minParkNanos = b.minPark.toNanos();
        this.maxParkNanos = b.maxPark.toNanos();
        this.parkMaxParkNanos = b.parkMaxPark.toNanos();
        this.backoffSpins = b.backoffSpins;
        this.backoffYields = b.backoffYields;
        this.exitTimeout = b.exitTimeout;
        this.clock = b.clock;
        this.pinner = b.pinner;
    }

    /** A builder with the defaults of {@code reference.conf}: mask 0x1, backoff, no pinning, threaded. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Reads the {@code spindle.reactor} block of {@code config} (the root config, with
     * {@code reference.conf} as fallback).
     *
     * @throws IllegalArgumentException naming the first bad key
     */
    public static ReactorConfig fromConfig(Config config) {
        Config c = config.getConfig("spindle.reactor");
        Builder b = builder()
                .mask(c.getString("mask"))
                .idle(IdleMode.parse("spindle.reactor.idle", c.getString("idle")))
                .pin(c.getBoolean("pin"))
                .manual(parseMode(c.getString("mode")))
                .oversubscribe(c.getBoolean("oversubscribe"))
                .maxTasksPerLoop(c.getInt("max-tasks-per-loop"))
                .dispatcherThroughput(c.getInt("dispatcher-throughput"))
                .minPark(c.getDuration("backoff.min-park"))
                .maxPark(c.getDuration("backoff.max-park"))
                .parkMaxPark(c.getDuration("park.max-park"))
                .backoffSpins(c.getInt("backoff.spins"))
                .backoffYields(c.getInt("backoff.yields"))
                .exitTimeout(c.getDuration("exit-timeout"));
        return b.conclude();
    }

    private static boolean parseMode(String mode) {
        return switch (mode.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "threaded" -> false;
            case "manual" -> true;
            default -> throw new IllegalArgumentException("spindle.reactor.mode=" + mode + ": expected threaded or manual");
        };
    }

    /** The cores, one reactor each. */
    public CoreMask mask() {
        return mask;
    }

    /** What a reactor does when a loop iteration found no work. */
    public IdleMode idle() {
        return idle;
    }

    /** Whether each reactor thread is pinned to its core with OpenHFT affinity. */
    public boolean pin() {
        return pin;
    }

    /** Whether reactors own no thread and are stepped by hand (tests). */
    public boolean manual() {
        return manual;
    }

    /** Whether cores beyond this machine's count are accepted (reactors then share CPUs; pinning refused). */
    public boolean oversubscribe() {
        return oversubscribe;
    }

    /** Tasks run per loop iteration before pollers get their turn. */
    public int maxTasksPerLoop() {
        return maxTasksPerLoop;
    }

    /** Messages an actor processes per mailbox run on a reactor (Pekko's {@code throughput}). */
    public int dispatcherThroughput() {
        return dispatcherThroughput;
    }

    /** First park of the backoff strategy, in nanoseconds. */
    public long minParkNanos() {
        return minParkNanos;
    }

    /**
     * Longest park of the backoff strategy ({@code backoff.max-park}); also the longest park of the
     * {@link IdleMode#PARK park} strategy while any poller is registered on the reactor.
     */
    public long maxParkNanos() {
        return maxParkNanos;
    }

    /**
     * Longest park of the {@link IdleMode#PARK park} strategy while no poller is registered on the reactor
     * ({@code park.max-park}). A {@link Reactor#send send} wakes a parked reactor at once, so this bounds only
     * how long a reactor with nothing to do sleeps between two loop iterations.
     */
    public long parkMaxParkNanos() {
        return parkMaxParkNanos;
    }

    /** Spins before the backoff strategy yields. */
    public int backoffSpins() {
        return backoffSpins;
    }

    /** Yields before the backoff strategy parks. */
    public int backoffYields() {
        return backoffYields;
    }

    /** How long an exiting reactor waits for its channels, pollers and walks to drain before it is forced. */
    public Duration exitTimeout() {
        return exitTimeout;
    }

    /** The clock timed pollers and accounting read. */
    public ReactorClock clock() {
        return clock;
    }

    /** What pins the calling reactor thread to a core; throws when it could not. Tests replace it. */
    IntConsumer pinner() {
        return pinner;
    }

    /** A builder pre-filled with this configuration. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.mask = mask;
        b.idle = idle;
        b.pin = pin;
        b.manual = manual;
        b.oversubscribe = oversubscribe;
        b.maxTasksPerLoop = maxTasksPerLoop;
        b.dispatcherThroughput = dispatcherThroughput;
        b.minPark = Duration.ofNanos(minParkNanos);
        b.maxPark = Duration.ofNanos(maxParkNanos);
        b.parkMaxPark = Duration.ofNanos(parkMaxParkNanos);
        b.backoffSpins = backoffSpins;
        b.backoffYields = backoffYields;
        b.exitTimeout = exitTimeout;
        b.clock = clock;
        b.pinner = pinner;
        return b;
    }

    @Override
    public String toString() {
        return "ReactorConfig[mask=" + mask + ", idle=" + idle.configName() + ", pin=" + pin + ", mode="
                + (manual ? "manual" : "threaded") + "]";
    }

    /** Mutable builder; not thread-safe. */
    public static final class Builder {
        private CoreMask mask = CoreMask.parse("0x1");
        private IdleMode idle = IdleMode.BACKOFF;
        private boolean pin;
        private boolean manual;
        private boolean oversubscribe;
        private int maxTasksPerLoop = 64;
        private int dispatcherThroughput = 16;
        private Duration minPark = Duration.ofNanos(1_000);
        private Duration maxPark = Duration.ofMillis(1);
        private Duration parkMaxPark = Duration.ofMillis(100);
        private int backoffSpins = 100;
        private int backoffYields = 10;
        private Duration exitTimeout = Duration.ofSeconds(5);
        private ReactorClock clock;
        private IntConsumer pinner = Reactor::pinWithAffinity;

        private Builder() {
        }

        /** Core mask in SPDK syntax ({@code 0x3}, {@code [0,1]}, {@code 0-3}). */
        public Builder mask(String mask) {
            this.mask = CoreMask.parse(mask);
            return this;
        }

        /** Core mask. */
        public Builder mask(CoreMask mask) {
            this.mask = Objects.requireNonNull(mask, "mask");
            return this;
        }

        /** Idle strategy. */
        public Builder idle(IdleMode idle) {
            this.idle = Objects.requireNonNull(idle, "idle");
            return this;
        }

        /** Pin each reactor thread to its core. */
        public Builder pin(boolean pin) {
            this.pin = pin;
            return this;
        }

        /** Manual mode: no threads, a test steps the reactors. */
        public Builder manual(boolean manual) {
            this.manual = manual;
            return this;
        }

        /** Accept cores this machine lacks (reactors share CPUs). */
        public Builder oversubscribe(boolean oversubscribe) {
            this.oversubscribe = oversubscribe;
            return this;
        }

        /** Tasks per loop iteration, 1..65536. */
        public Builder maxTasksPerLoop(int n) {
            this.maxTasksPerLoop = n;
            return this;
        }

        /** Pekko mailbox throughput on reactor dispatchers, 1..65536. */
        public Builder dispatcherThroughput(int n) {
            this.dispatcherThroughput = n;
            return this;
        }

        /** Backoff: first park. */
        public Builder minPark(Duration d) {
            this.minPark = Objects.requireNonNull(d, "minPark");
            return this;
        }

        /** Backoff: longest park. */
        public Builder maxPark(Duration d) {
            this.maxPark = Objects.requireNonNull(d, "maxPark");
            return this;
        }

        /** Park strategy: longest park while no poller is registered, above 0 and at most 10 minutes. */
        public Builder parkMaxPark(Duration d) {
            this.parkMaxPark = Objects.requireNonNull(d, "parkMaxPark");
            return this;
        }

        /** Backoff: spins before yielding. */
        public Builder backoffSpins(int n) {
            this.backoffSpins = n;
            return this;
        }

        /** Backoff: yields before parking. */
        public Builder backoffYields(int n) {
            this.backoffYields = n;
            return this;
        }

        /** How long an exiting reactor waits for channels, pollers and walks to drain. */
        public Builder exitTimeout(Duration d) {
            this.exitTimeout = Objects.requireNonNull(d, "exitTimeout");
            return this;
        }

        /** The clock; defaults to the system clock, or a fresh {@link ManualClock} in manual mode. */
        public Builder clock(ReactorClock clock) {
            this.clock = clock;
            return this;
        }

        /**
         * Test seam: replaces the OpenHFT affinity call a pinned reactor thread makes on itself at start
         * ({@code pinner.accept(core)}; an exception means the pin failed).
         */
        Builder pinner(IntConsumer pinner) {
            this.pinner = Objects.requireNonNull(pinner, "pinner");
            return this;
        }

        /**
         * Fills defaults and validates.
         *
         * @throws IllegalArgumentException naming the key and the bound
         */
        public ReactorConfig conclude() {
            if (!manual && !oversubscribe) {
                mask.checkAvailable(Runtime.getRuntime().availableProcessors());
            }
            if (pin && manual) {
                throw new IllegalArgumentException("spindle.reactor.pin=on: pinning needs threaded mode, mode=manual");
            }
            if (pin && oversubscribe) {
                int cpus = Runtime.getRuntime().availableProcessors();
                for (int c : mask.cores()) {
                    if (c >= cpus) {
                        throw new IllegalArgumentException("spindle.reactor.pin=on: core " + c + " does not exist on this machine ("
                                + cpus + " cores), it cannot be pinned");
                    }
                }
            }
            checkRange("spindle.reactor.max-tasks-per-loop", maxTasksPerLoop, 1, MAX_TASKS_PER_LOOP_LIMIT);
            checkRange("spindle.reactor.dispatcher-throughput", dispatcherThroughput, 1, MAX_TASKS_PER_LOOP_LIMIT);
            checkRange("spindle.reactor.backoff.spins", backoffSpins, 0, 1_000_000);
            checkRange("spindle.reactor.backoff.yields", backoffYields, 0, 1_000_000);
            if (minPark.isNegative() || minPark.isZero()) {
                throw new IllegalArgumentException("spindle.reactor.backoff.min-park=" + minPark + ": must be > 0");
            }
            if (maxPark.compareTo(minPark) < 0 || maxPark.compareTo(Duration.ofSeconds(1)) > 0) {
                throw new IllegalArgumentException("spindle.reactor.backoff.max-park=" + maxPark + ": must be between min-park="
                        + minPark + " and 1s");
            }
            if (parkMaxPark.isNegative() || parkMaxPark.isZero() || parkMaxPark.compareTo(Duration.ofMinutes(10)) > 0) {
                throw new IllegalArgumentException("spindle.reactor.park.max-park=" + parkMaxPark + ": must be > 0 and at most 10m");
            }
            if (exitTimeout.isNegative() || exitTimeout.compareTo(Duration.ofMinutes(10)) > 0) {
                throw new IllegalArgumentException("spindle.reactor.exit-timeout=" + exitTimeout + ": must be between 0 and 10m");
            }
            if (clock == null) {
                clock = manual ? new ManualClock() : ReactorClock.system();
            }
            return new ReactorConfig(this);
        }

        private static void checkRange(String key, int v, int lo, int hi) {
            if (v < lo || v > hi) {
                throw new IllegalArgumentException(key + "=" + v + ": must be between " + lo + " and " + hi);
            }
        }
    }
}
