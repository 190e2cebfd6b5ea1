package io.spindle.app;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.spindle.runtime.ReactorConfig;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything {@link Spindle} needs to start: reactors, subsystems, timeouts, and the HOCON it came from.
 *
 * <p>Built with {@link #builder()} or {@link #fromConfig(Config)} (the {@code spindle { }} block).
 * {@link Builder#conclude()} validates eagerly: bad values and subsystem graphs with an unknown dependency
 * or a cycle are rejected with a message naming the key or subsystems. Immutable.
 */
public final class SpindleConfig {
    private final String name;
    private final ReactorConfig reactor;
    private final List<Subsystem> initOrder;
    private final Duration startTimeout;
    private final Duration stopTimeout;
    private final Config config;
    private final io.spindle.rpc.RpcServerConfig rpc;
    private final boolean waitForStartInit;
    private final java.util.function.Consumer<Spindle> shutdownHandler;

    private SpindleConfig(Builder b, List<Subsystem> initOrder) {
        this.name = b.name;
        this.reactor = b.reactor;
        this.initOrder = List.copyOf(initOrder);
        this.startTimeout = b.startTimeout;
        this.stopTimeout = b.stopTimeout;
        this.config = b.config;
        this.rpc = b.rpc;
        this.waitForStartInit = b.waitForStartInit;
        this.shutdownHandler = b.shutdownHandler;
    }

    /** Builder with the defaults of {@code reference.conf}. */
    public static Builder builder() {
        return new Builder(ConfigFactory.load());
    }

    /** Builder from {@code config} (the root; {@code spindle { }} is read, reference.conf is the fallback). */
    public static Builder builder(Config config) {
        return new Builder(config.withFallback(ConfigFactory.defaultReference()).resolve());
    }

    /** {@code builder(config).conclude()}. */
    public static SpindleConfig fromConfig(Config config) {
        return builder(config).conclude();
    }

    /** ActorSystem name when standalone; prefix of actor names. */
    public String name() {
        return name;
    }

    /** Reactor settings. */
    public ReactorConfig reactor() {
        return reactor;
    }

    /** Subsystems in init order (dependencies first). */
    public List<Subsystem> subsystems() {
        return initOrder;
    }

    /** How long the start may take. */
    public Duration startTimeout() {
        return startTimeout;
    }

    /** How long a stop may take before it is reported as timed out. */
    public Duration stopTimeout() {
        return stopTimeout;
    }

    /** The whole HOCON configuration (for subsystems' own keys). */
    public Config config() {
        return config;
    }

    /** The JSON-RPC server settings, or null for no server ({@code spindle.rpc.enabled = off}, the default). */
    public io.spindle.rpc.RpcServerConfig rpc() {
        return rpc;
    }

    /**
     * What a shutdown request ({@link Spindle#requestShutdown()}: {@code spdk_kill_instance SIGINT/SIGTERM}, a
     * target's signal handler) does: SPDK's {@code shutdown_cb}; by default {@link Spindle#stop()}.
     */
    public java.util.function.Consumer<Spindle> shutdownHandler() {
        return shutdownHandler != null ? shutdownHandler : Spindle::stop;
    }

    /** Whether the subsystems wait for {@code framework_start_init} (SPDK's {@code --wait-for-rpc}). */
    public boolean waitForStartInit() {
        return waitForStartInit;
    }

    /** Mutable builder, not thread-safe. */
    public static final class Builder {
        private final Config config;
        private String name;
        private ReactorConfig reactor;
        private final List<Subsystem> subsystems = new ArrayList<>();
        private Duration startTimeout;
        private Duration stopTimeout;
        private io.spindle.rpc.RpcServerConfig rpc;
        private boolean rpcSet;
        private boolean waitForStartInit;
        private java.util.function.Consumer<Spindle> shutdownHandler;

        private Builder(Config config) {
            this.config = config;
            this.name = config.getString("spindle.name");
            this.startTimeout = config.getDuration("spindle.start-timeout");
            this.stopTimeout = config.getDuration("spindle.stop-timeout");
        }

        /** ActorSystem name when standalone (letters, digits, '-' and '_'). */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Reactor settings; default: read from {@code spindle.reactor}. */
        public Builder reactor(ReactorConfig reactor) {
            this.reactor = Objects.requireNonNull(reactor, "reactor");
            return this;
        }

        /** Adds a subsystem. */
        public Builder subsystem(Subsystem s) {
            subsystems.add(Objects.requireNonNull(s, "subsystem"));
            return this;
        }

        /** The JSON-RPC server; null for none. Default: read from {@code spindle.rpc}. */
        public Builder rpc(io.spindle.rpc.RpcServerConfig rpc) {
            this.rpc = rpc;
            this.rpcSet = true;
            return this;
        }

        /**
         * Start with the RPC server only and initialise the subsystems on {@code framework_start_init}
         * ({@link Spindle#startInit()}), as SPDK's {@code --wait-for-rpc}; {@link Spindle#start} then returns once
         * the server runs, in {@link io.spindle.rpc.spi.RpcState#STARTUP}. Default false.
         */
        public Builder waitForStartInit(boolean wait) {
            this.waitForStartInit = wait;
            return this;
        }

        /**
         * The shutdown handler (SPDK's {@code spdk_app_opts.shutdown_cb}): run on its own thread for a shutdown
         * request, e.g. to drain work before calling {@link Spindle#stop()}. Default: {@code Spindle::stop}.
         */
        public Builder shutdownHandler(java.util.function.Consumer<Spindle> handler) {
            this.shutdownHandler = Objects.requireNonNull(handler, "handler");
            return this;
        }

        /** Start timeout. */
        public Builder startTimeout(Duration d) {
            this.startTimeout = Objects.requireNonNull(d, "startTimeout");
            return this;
        }

        /** Stop timeout. */
        public Builder stopTimeout(Duration d) {
            this.stopTimeout = Objects.requireNonNull(d, "stopTimeout");
            return this;
        }

        /**
         * Validates and orders the subsystems.
         *
         * @throws IllegalArgumentException naming the bad key, the duplicate or unknown subsystem, or the cycle
         */
        public SpindleConfig conclude() {
            if (!name.matches("[A-Za-z0-9][A-Za-z0-9_-]*")) {
                throw new IllegalArgumentException("spindle.name=" + name + ": must be letters, digits, '-' or '_' (an ActorSystem name)");
            }
            if (reactor == null) {
                reactor = ReactorConfig.fromConfig(config);
            }
            if (!rpcSet) {
                rpc = io.spindle.rpc.RpcServerConfig.fromConfig(config);
            }
            if (startTimeout.isNegative() || startTimeout.isZero()) {
                throw new IllegalArgumentException("spindle.start-timeout=" + startTimeout + ": must be > 0");
            }
            if (stopTimeout.isNegative() || stopTimeout.isZero()) {
                throw new IllegalArgumentException("spindle.stop-timeout=" + stopTimeout + ": must be > 0");
            }
            return new SpindleConfig(this, order(subsystems));
        }

        /** Kahn's algorithm, stable in registration order. */
        static List<Subsystem> order(List<Subsystem> subsystems) {
            Map<String, Subsystem> byName = new LinkedHashMap<>();
            for (Subsystem s : subsystems) {
                if (byName.put(s.name(), s) != null) {
                    throw new IllegalArgumentException("subsystem=" + s.name() + ": registered twice");
                }
            }
            Map<String, Integer> missing = new HashMap<>();
            for (Subsystem s : subsystems) {
                int n = 0;
                for (String d : s.dependsOn()) {
                    if (!byName.containsKey(d)) {
                        throw new IllegalArgumentException("subsystem=" + s.name() + " depends_on=" + d + ": no such subsystem (have "
                                + byName.keySet() + ")");
                    }
                    n++;
                }
                missing.put(s.name(), n);
            }
            List<Subsystem> out = new ArrayList<>();
            Deque<Subsystem> ready = new ArrayDeque<>();
            for (Subsystem s : subsystems) {
                if (missing.get(s.name()) == 0) {
                    ready.add(s);
                }
            }
            while (!ready.isEmpty()) {
                Subsystem s = ready.poll();
                out.add(s);
                for (Subsystem t : subsystems) {
                    if (t.dependsOn().contains(s.name()) && missing.merge(t.name(), -1, Integer::sum) == 0) {
                        ready.add(t);
                    }
                }
            }
            if (out.size() != subsystems.size()) {
                List<String> cyc = new ArrayList<>();
                for (Subsystem s : subsystems) {
                    if (!out.contains(s)) {
                        cyc.add(s.name());
                    }
                }
                throw new IllegalArgumentException("subsystem dependency cycle among " + cyc);
            }
            return out;
        }
    }
}
