package io.spindle.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Settings of a cluster member ({@code spindle.cluster} in HOCON; defaults and comments in the transport module's
 * {@code reference.conf}), and the Pekko settings they make ({@link #pekkoConfig()}).
 *
 * <p>Built with {@link #builder()} / {@link #builder(Config)} or {@link #fromConfig(Config)};
 * {@link Builder#conclude()} rejects bad values with a message naming the key and the bound. Immutable; any thread.
 *
 * <p>A standalone member, as {@code spindle tgt --cluster} starts it:
 * <pre>{@code
 * ClusterConfig cc = ClusterConfig.builder(hocon).nodeName("node2").port(25521).conclude();
 * Spindle spindle = Spindle.start(SpindleConfig.builder(cc.pekkoConfig().withFallback(hocon))
 *         .name(cc.clusterName())                     // members of one cluster share the ActorSystem name
 *         .subsystem(new BdevSubsystem())
 *         .subsystem(new ClusterSubsystem(cc))
 *         .conclude());
 * }</pre>
 * Embedded, create your ActorSystem named {@link #clusterName()} with {@link #pekkoConfig()} as the first config
 * and add a {@link ClusterSubsystem} to the Spindle you spawn in it.
 */
public final class ClusterConfig {
    /** Artery's transport for the control plane. */
    public enum Transport {
        /** Artery TCP (Pekko's default). */
        TCP("tcp"),
        /** Artery over Aeron UDP (Pekko runs its own embedded media driver). */
        AERON_UDP("aeron-udp");

        private final String pekkoName;

        Transport(String pekkoName) {
            this.pekkoName = pekkoName;
        }

        /** The name Pekko's {@code pekko.remote.artery.transport} takes. */
        public String pekkoName() {
            return pekkoName;
        }

        /** Parses {@code tcp} or {@code aeron-udp}. */
        public static Transport parse(String key, String v) {
            for (Transport t : values()) {
                if (t.pekkoName.equals(v)) {
                    return t;
                }
            }
            throw new IllegalArgumentException(key + "=" + v + ": must be tcp or aeron-udp");
        }
    }

    /** The Split Brain Resolver strategies Spindle lets you pick ({@code lease-majority} needs a lease: not offered). */
    public static final List<String> STRATEGIES = List.of("keep-majority", "keep-oldest", "down-all", "static-quorum");

    /** The role every Spindle member has. */
    public static final String SPINDLE_ROLE = "spindle";

    /** Prefix of the role that carries a member's node name ({@code node=node2}). */
    public static final String NODE_ROLE_PREFIX = "node=";

    /** Default Artery port of node {@code node1}; {@code nodeK} gets {@code BASE_PORT + K - 1} from {@code spindle tgt}. */
    public static final int BASE_PORT = 25520;

    private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern SYSTEM_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*");
    private static final Pattern HOST_PORT = Pattern.compile("([^\\s:/@]+|\\[[0-9A-Fa-f:]+]):(\\d{1,5})");
    private static final Pattern FULL_ADDRESS = Pattern.compile("pekko://([A-Za-z0-9][A-Za-z0-9_-]*)@" + HOST_PORT.pattern());

    private final boolean enabled;
    private final String clusterName;
    private final String nodeName;
    private final String host;
    private final int port;
    private final String bindHost;
    private final int bindPort;
    private final List<String> seedNodes;
    private final Transport transport;
    private final List<String> roles;
    private final Duration heartbeatInterval;
    private final Duration acceptableHeartbeatPause;
    private final String strategy;
    private final Duration stableAfter;
    private final int staticQuorumSize;
    private final Duration directoryWriteTimeout;
    private final Duration directoryNotifyInterval;
    private final Duration directoryGossipInterval;
    private final Duration exportPollInterval;
    private final Duration leaveTimeout;
    private final Duration aeronUdpGiveUp;
    private final AttachDefaults attachDefaults;

    /**
     * The controller options {@code bdev_cluster_attach} passes to {@code bdev_nvme_attach_controller} unless its call
     * gives them ({@code spindle.cluster.attach}); SPDK's meaning and units (seconds, -1 = forever).
     */
    public record AttachDefaults(long ctrlrLossTimeoutSec, long reconnectDelaySec, long fastIoFailTimeoutSec) {
    }

    private ClusterConfig(Builder b) {
        this.enabled = b.enabled;
        this.clusterName = b.clusterName;
        this.nodeName = b.nodeName;
        this.host = b.host;
        this.port = b.port;
        this.bindHost = b.bindHost;
        this.bindPort = b.bindPort;
        this.seedNodes = List.copyOf(b.seedNodes);
        this.transport = b.transport;
        this.roles = List.copyOf(b.roles);
        this.heartbeatInterval = b.heartbeatInterval;
        this.acceptableHeartbeatPause = b.acceptableHeartbeatPause;
        this.strategy = b.strategy;
        this.stableAfter = b.stableAfter;
        this.staticQuorumSize = b.staticQuorumSize;
        this.directoryWriteTimeout = b.directoryWriteTimeout;
        this.directoryNotifyInterval = b.directoryNotifyInterval;
        this.directoryGossipInterval = b.directoryGossipInterval;
        this.exportPollInterval = b.exportPollInterval;
        this.leaveTimeout = b.leaveTimeout;
        this.aeronUdpGiveUp = b.aeronUdpGiveUp;
        this.attachDefaults = new AttachDefaults(b.ctrlrLossTimeoutSec, b.reconnectDelaySec, b.fastIoFailTimeoutSec);
    }

    /** A builder with the defaults of {@code reference.conf}. */
    public static Builder builder() {
        return new Builder(ConfigFactory.defaultReference());
    }

    /** A builder from {@code config}'s {@code spindle.cluster} block (reference.conf is the fallback). */
    public static Builder builder(Config config) {
        return new Builder(config.withFallback(ConfigFactory.defaultReference()).resolve());
    }

    /** {@code builder(config).conclude()}. */
    public static ClusterConfig fromConfig(Config config) {
        return builder(config).conclude();
    }

    /** Whether cluster mode is on ({@code spindle.cluster.enabled}). */
    public boolean enabled() {
        return enabled;
    }

    /** The cluster's name: the ActorSystem name of every member. */
    public String clusterName() {
        return clusterName;
    }

    /** This node's name. */
    public String nodeName() {
        return nodeName;
    }

    /** The canonical host other members reach this node at. */
    public String host() {
        return host;
    }

    /** The canonical Artery port (0: a free port). */
    public int port() {
        return port;
    }

    /** The seed nodes as full Pekko addresses ({@code pekko://NAME@host:port}). */
    public List<String> seedNodes() {
        return seedNodes;
    }

    /** Artery's transport. */
    public Transport transport() {
        return transport;
    }

    /** The member's roles, {@link #SPINDLE_ROLE} and the node-name role first. */
    public List<String> roles() {
        List<String> r = new ArrayList<>();
        r.add(SPINDLE_ROLE);
        r.add(NODE_ROLE_PREFIX + nodeName);
        for (String x : roles) {
            if (!r.contains(x)) {
                r.add(x);
            }
        }
        return r;
    }

    /** The Split Brain Resolver's strategy. */
    public String strategy() {
        return strategy;
    }

    /** The Split Brain Resolver's {@code stable-after}. */
    public Duration stableAfter() {
        return stableAfter;
    }

    /** The failure detector's heartbeat interval. */
    public Duration heartbeatInterval() {
        return heartbeatInterval;
    }

    /** The failure detector's acceptable heartbeat pause. */
    public Duration acceptableHeartbeatPause() {
        return acceptableHeartbeatPause;
    }

    /** How long an update of this node's directory entry waits for every member's acknowledgement. */
    public Duration directoryWriteTimeout() {
        return directoryWriteTimeout;
    }

    /** How long a graceful leave may take. */
    public Duration leaveTimeout() {
        return leaveTimeout;
    }

    /**
     * aeron-udp only: how long Artery retries a control-stream message the other member's media driver does not
     * take before it gives up (Pekko's {@code give-up-system-message-after}); it bounds a stopping node's
     * ActorSystem termination when a member has just left or died ({@code spindle.cluster.aeron-udp.give-up}).
     */
    public Duration aeronUdpGiveUp() {
        return aeronUdpGiveUp;
    }

    /** How often this node's target is read for changes of its exports. */
    public Duration exportPollInterval() {
        return exportPollInterval;
    }

    /** The controller options of {@code bdev_cluster_attach}. */
    public AttachDefaults attachDefaults() {
        return attachDefaults;
    }

    /**
     * The Pekko settings of this member: provider {@code cluster}, Artery with its canonical (and bind) address,
     * no seed nodes (an empty {@code pekko.cluster.seed-nodes}: the member joins when its {@link ClusterSubsystem}
     * says so, through {@link #seedNodes()}, not when the ActorSystem starts), the roles, the Split Brain
     * Resolver and its strategy, the failure detector, Distributed Data's intervals, one MBean per ActorSystem
     * (several members in one JVM). Put it in front of the rest:
     * {@code cc.pekkoConfig().withFallback(hocon)}.
     */
    public Config pekkoConfig() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pekko.actor.provider", "cluster");
        m.put("pekko.remote.artery.transport", transport.pekkoName());
        m.put("pekko.remote.artery.canonical.hostname", host);
        m.put("pekko.remote.artery.canonical.port", port);
        if (!bindHost.isEmpty()) {
            m.put("pekko.remote.artery.bind.hostname", bindHost);
        }
        if (bindPort >= 0) {
            m.put("pekko.remote.artery.bind.port", Integer.toString(bindPort));
        }
        // no seed nodes here: Pekko would join through them as soon as the ActorSystem starts, before the node's
        // exports exist; the cluster subsystem joins through seedNodes() itself (ClusterSubsystem.join), and an empty
        // list also overrides seed nodes set elsewhere, so the join is never made twice
        m.put("pekko.cluster.seed-nodes", List.of());
        m.put("pekko.cluster.roles", roles());
        m.put("pekko.cluster.downing-provider-class", "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider");
        m.put("pekko.cluster.split-brain-resolver.active-strategy", strategy);
        m.put("pekko.cluster.split-brain-resolver.stable-after", stableAfter.toMillis() + "ms");
        m.put("pekko.cluster.split-brain-resolver.static-quorum.quorum-size", staticQuorumSize);
        m.put("pekko.cluster.failure-detector.heartbeat-interval", heartbeatInterval.toMillis() + "ms");
        m.put("pekko.cluster.failure-detector.acceptable-heartbeat-pause", acceptableHeartbeatPause.toMillis() + "ms");
        m.put("pekko.cluster.distributed-data.notify-subscribers-interval", directoryNotifyInterval.toMillis() + "ms");
        m.put("pekko.cluster.distributed-data.gossip-interval", directoryGossipInterval.toMillis() + "ms");
        m.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
        // a graceful leave needs the members to agree twice (Leaving, then Exiting); on a loaded machine, or while
        // another member is unreachable, that outlasts Pekko's 5 s / 10 s phases, and a node that terminates before
        // it is Exiting is seen unreachable and downed instead
        m.put("pekko.coordinated-shutdown.phases.cluster-leave.timeout", leaveTimeout.toMillis() + "ms");
        m.put("pekko.coordinated-shutdown.phases.cluster-exiting.timeout", leaveTimeout.toMillis() + "ms");
        if (transport == Transport.AERON_UDP) {
            // Artery's AeronSink, once its upstream has completed (it does at ActorSystem termination), finishes a
            // message it could not hand to Aeron before it completes, retrying until this give-up: 6 hours by default
            // for the control stream. A member that has just left or died leaves such a message behind (its driver is
            // gone, the publication is not connected), and the ActorSystem's termination waited for it (docs/cluster.md)
            m.put("pekko.remote.artery.advanced.give-up-system-message-after", aeronUdpGiveUp.toMillis() + "ms");
        }
        m.put("pekko.actor.allow-java-serialization", "off");
        Config c = ConfigFactory.empty();
        for (Map.Entry<String, Object> e : m.entrySet()) {
            c = c.withValue(e.getKey(), ConfigValueFactory.fromAnyRef(e.getValue()));
        }
        return c;
    }

    @Override
    public String toString() {
        return "cluster=" + clusterName + " node=" + nodeName + " address=" + host + ":" + port + " transport=" + transport.pekkoName()
                + " seeds=" + seedNodes + " sbr=" + strategy + "/" + stableAfter.toMillis() + "ms";
    }

    /**
     * A seed node given as {@code host:port} or {@code pekko://NAME@host:port}, as a full address of cluster
     * {@code clusterName}.
     *
     * @throws IllegalArgumentException naming the key and the value
     */
    static String seedAddress(String key, String seed, String clusterName) {
        String s = seed.trim();
        Matcher full = FULL_ADDRESS.matcher(s);
        if (full.matches()) {
            if (!full.group(1).equals(clusterName)) {
                throw new IllegalArgumentException(key + "=" + s + ": names cluster " + full.group(1) + ", but this node's cluster is "
                        + clusterName + " (members of one cluster share the name)");
            }
            checkPort(key, s, full.group(3));
            return s;
        }
        Matcher hp = HOST_PORT.matcher(s);
        if (!hp.matches()) {
            throw new IllegalArgumentException(key + "=" + s + ": must be host:port or pekko://" + clusterName + "@host:port");
        }
        checkPort(key, s, hp.group(2));
        return "pekko://" + clusterName + "@" + s;
    }

    private static void checkPort(String key, String s, String port) {
        int p = Integer.parseInt(port);
        if (p < 1 || p > 65535) {
            throw new IllegalArgumentException(key + "=" + s + ": port must be between 1 and 65535");
        }
    }

    /** Mutable builder, not thread-safe. */
    public static final class Builder {
        private boolean enabled;
        private String clusterName;
        private String nodeName;
        private String host;
        private int port;
        private String bindHost;
        private int bindPort;
        private List<String> seedNodes;
        private Transport transport;
        private List<String> roles;
        private Duration heartbeatInterval;
        private Duration acceptableHeartbeatPause;
        private String strategy;
        private Duration stableAfter;
        private int staticQuorumSize;
        private Duration directoryWriteTimeout;
        private Duration directoryNotifyInterval;
        private Duration directoryGossipInterval;
        private Duration exportPollInterval;
        private Duration leaveTimeout;
        private Duration aeronUdpGiveUp;
        private long ctrlrLossTimeoutSec;
        private long reconnectDelaySec;
        private long fastIoFailTimeoutSec;

        private Builder(Config root) {
            Config c = root.getConfig("spindle.cluster");
            enabled = c.getBoolean("enabled");
            clusterName = c.getString("name");
            nodeName = c.getString("node-name");
            host = c.getString("host");
            port = c.getInt("port");
            bindHost = c.getString("bind-host");
            bindPort = c.getInt("bind-port");
            seedNodes = c.getStringList("seed-nodes");
            transport = Transport.parse("spindle.cluster.transport", c.getString("transport"));
            roles = c.getStringList("roles");
            heartbeatInterval = c.getDuration("failure-detector.heartbeat-interval");
            acceptableHeartbeatPause = c.getDuration("failure-detector.acceptable-heartbeat-pause");
            strategy = c.getString("split-brain-resolver.active-strategy");
            stableAfter = c.getDuration("split-brain-resolver.stable-after");
            staticQuorumSize = c.getInt("split-brain-resolver.static-quorum-size");
            directoryWriteTimeout = c.getDuration("directory.write-timeout");
            directoryNotifyInterval = c.getDuration("directory.notify-interval");
            directoryGossipInterval = c.getDuration("directory.gossip-interval");
            exportPollInterval = c.getDuration("directory.export-poll-interval");
            leaveTimeout = c.getDuration("leave-timeout");
            aeronUdpGiveUp = c.getDuration("aeron-udp.give-up");
            ctrlrLossTimeoutSec = c.getLong("attach.ctrlr-loss-timeout-sec");
            reconnectDelaySec = c.getLong("attach.reconnect-delay-sec");
            fastIoFailTimeoutSec = c.getLong("attach.fast-io-fail-timeout-sec");
        }

        /** Cluster mode on or off. */
        public Builder enabled(boolean on) {
            this.enabled = on;
            return this;
        }

        /** The cluster's name (the ActorSystem name of every member). */
        public Builder clusterName(String name) {
            this.clusterName = Objects.requireNonNull(name, "clusterName");
            return this;
        }

        /** This node's name. */
        public Builder nodeName(String name) {
            this.nodeName = Objects.requireNonNull(name, "nodeName");
            return this;
        }

        /** The canonical host. */
        public Builder host(String host) {
            this.host = Objects.requireNonNull(host, "host");
            return this;
        }

        /** The canonical port (0: a free port). */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** The bind host ("" = the canonical host). */
        public Builder bindHost(String host) {
            this.bindHost = Objects.requireNonNull(host, "bindHost");
            return this;
        }

        /** The bind port (-1 = the canonical port). */
        public Builder bindPort(int port) {
            this.bindPort = port;
            return this;
        }

        /** The seed nodes, {@code host:port} or full addresses; empty to join programmatically. */
        public Builder seedNodes(List<String> seeds) {
            this.seedNodes = List.copyOf(seeds);
            return this;
        }

        /** Artery's transport. */
        public Builder transport(Transport t) {
            this.transport = Objects.requireNonNull(t, "transport");
            return this;
        }

        /** Extra roles. */
        public Builder roles(List<String> roles) {
            this.roles = List.copyOf(roles);
            return this;
        }

        /** The failure detector's heartbeat interval and acceptable pause. */
        public Builder failureDetector(Duration heartbeatInterval, Duration acceptablePause) {
            this.heartbeatInterval = Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
            this.acceptableHeartbeatPause = Objects.requireNonNull(acceptablePause, "acceptablePause");
            return this;
        }

        /** The Split Brain Resolver's strategy (one of {@link #STRATEGIES}). */
        public Builder strategy(String strategy) {
            this.strategy = Objects.requireNonNull(strategy, "strategy");
            return this;
        }

        /** The Split Brain Resolver's {@code stable-after}. */
        public Builder stableAfter(Duration d) {
            this.stableAfter = Objects.requireNonNull(d, "stableAfter");
            return this;
        }

        /** aeron-udp only: how long Artery retries a control-stream message before giving up ({@code aeron-udp.give-up}). */
        public Builder aeronUdpGiveUp(Duration d) {
            this.aeronUdpGiveUp = Objects.requireNonNull(d, "aeronUdpGiveUp");
            return this;
        }

        /**
         * Validates.
         *
         * @throws IllegalArgumentException naming the key, the value and the bound
         */
        public ClusterConfig conclude() {
            if (!SYSTEM_NAME.matcher(clusterName).matches()) {
                throw new IllegalArgumentException("spindle.cluster.name=" + clusterName
                        + ": must be letters, digits, '-' or '_' (it is the ActorSystem name of every member)");
            }
            if (!NODE_NAME.matcher(nodeName).matches()) {
                throw new IllegalArgumentException("spindle.cluster.node-name=" + nodeName
                        + ": must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
            }
            if (host.isBlank() || host.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("spindle.cluster.host=\"" + host + "\": must be a host name or IP address");
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("spindle.cluster.port=" + port + ": must be between 0 and 65535 (0: a free port)");
            }
            if (bindPort < -1 || bindPort > 65535) {
                throw new IllegalArgumentException("spindle.cluster.bind-port=" + bindPort + ": must be between -1 and 65535 (-1: the port)");
            }
            List<String> seeds = new ArrayList<>();
            for (String s : seedNodes) {
                String a = seedAddress("spindle.cluster.seed-nodes", s, clusterName);
                if (!seeds.contains(a)) {
                    seeds.add(a);
                }
            }
            seedNodes = seeds;
            for (String r : roles) {
                if (r.isBlank() || r.startsWith(NODE_ROLE_PREFIX) || r.startsWith("dc-")) {
                    throw new IllegalArgumentException("spindle.cluster.roles=" + roles + ": role \"" + r
                            + "\" must be non-blank and not start with " + NODE_ROLE_PREFIX + " or dc- (Spindle and Pekko use those)");
                }
            }
            positive("spindle.cluster.failure-detector.heartbeat-interval", heartbeatInterval);
            positive("spindle.cluster.failure-detector.acceptable-heartbeat-pause", acceptableHeartbeatPause);
            if (acceptableHeartbeatPause.compareTo(heartbeatInterval) < 0) {
                throw new IllegalArgumentException("spindle.cluster.failure-detector.acceptable-heartbeat-pause=" + acceptableHeartbeatPause.toMillis()
                        + "ms: must be >= heartbeat-interval=" + heartbeatInterval.toMillis() + "ms");
            }
            strategy = strategy.toLowerCase(Locale.ROOT);
            if (!STRATEGIES.contains(strategy)) {
                throw new IllegalArgumentException("spindle.cluster.split-brain-resolver.active-strategy=" + strategy + ": must be one of "
                        + String.join(", ", STRATEGIES));
            }
            positive("spindle.cluster.split-brain-resolver.stable-after", stableAfter);
            if (staticQuorumSize < 1) {
                throw new IllegalArgumentException("spindle.cluster.split-brain-resolver.static-quorum-size=" + staticQuorumSize + ": must be >= 1");
            }
            positive("spindle.cluster.directory.write-timeout", directoryWriteTimeout);
            positive("spindle.cluster.directory.notify-interval", directoryNotifyInterval);
            positive("spindle.cluster.directory.gossip-interval", directoryGossipInterval);
            positive("spindle.cluster.directory.export-poll-interval", exportPollInterval);
            positive("spindle.cluster.leave-timeout", leaveTimeout);
            positive("spindle.cluster.aeron-udp.give-up", aeronUdpGiveUp);
            Duration decided = stableAfter.plus(acceptableHeartbeatPause);
            if (transport == Transport.AERON_UDP && aeronUdpGiveUp.compareTo(decided) <= 0) {
                // giving up quarantines the other member: the resolver, not this timeout, must decide about an unreachable one
                throw new IllegalArgumentException("spindle.cluster.aeron-udp.give-up=" + aeronUdpGiveUp.toMillis()
                        + "ms: must be > split-brain-resolver.stable-after + failure-detector.acceptable-heartbeat-pause = " + decided.toMillis() + "ms");
            }
            if (ctrlrLossTimeoutSec < -1) {
                throw new IllegalArgumentException("spindle.cluster.attach.ctrlr-loss-timeout-sec=" + ctrlrLossTimeoutSec + ": must be >= -1 (-1: forever)");
            }
            if (reconnectDelaySec < 0) {
                throw new IllegalArgumentException("spindle.cluster.attach.reconnect-delay-sec=" + reconnectDelaySec + ": must be >= 0");
            }
            if (fastIoFailTimeoutSec < 0) {
                throw new IllegalArgumentException("spindle.cluster.attach.fast-io-fail-timeout-sec=" + fastIoFailTimeoutSec + ": must be >= 0");
            }
            return new ClusterConfig(this);
        }

        private static void positive(String key, Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(key + "=" + d.toMillis() + "ms: must be > 0");
            }
        }
    }
}
