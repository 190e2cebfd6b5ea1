package io.spindle.examples.tgt;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleApp;
import io.spindle.app.SpindleConfig;
import io.spindle.app.SpindleStartException;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.cluster.ClusterConfig;
import io.spindle.cluster.ClusterSubsystem;
import io.spindle.rpc.JsonConfig;
import io.spindle.rpc.RpcServerConfig;
import io.spindle.runtime.CoreMask;
import io.spindle.runtime.IdleMode;
import io.spindle.runtime.ReactorConfig;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code spindle tgt}: a Spindle target, SPDK's {@code spdk_tgt} — reactors, the bdev subsystem (plus the
 * {@code keyring} and {@code nvmf} subsystems of the transport module: SPDK's {@code nvmf_*} RPCs with trtype AERON)
 * and the JSON-RPC server, configured from SPDK's JSON config format, running until SIGINT, SIGTERM or
 * {@code spdk_kill_instance}, then stopping cleanly (bdevs unregistered top-down, the socket file removed).
 *
 * <pre>
 * ./spindle tgt -m 0x3 --json examples/configs/malloc-null.json -r /tmp/spindle.sock
 * ./spindle rpc -s /tmp/spindle.sock bdev_get_bdevs
 * </pre>
 *
 * <p>The start, in SPDK's order: the RPC server comes up first (in the STARTUP state); with {@code --json} the
 * config's startup entries ({@code bdev_set_options}) run, then {@code framework_start_init} initialises the
 * subsystems (with {@code --wait-for-rpc} only when a client calls it), then the config's other entries run.
 * A config that fails is reported on one line (file, entry, method, field), whatever it created is removed,
 * and the target exits 1. With {@code --cluster} and {@code --json} the node joins the cluster once every entry has
 * run (its exports exist), so no member ever sees it without them; without {@code --json} it joins at the start.
 *
 * <p>Exit status: 0 after a clean stop, 1 when the start failed or the stop was not clean, 2 for a bad command
 * line.
 */
public final class SpindleTgt {
    private SpindleTgt() {
    }

    /** The parsed command line. */
    record Options(CoreMask mask, Path json, Path socket, boolean waitForRpc, int tcpPort, IdleMode idle, boolean pin, ClusterOptions cluster,
            io.spindle.env.HugePages.Mode huge) {
    }

    /**
     * The cluster flags ({@code --cluster NODE} and the {@code --cluster-*} / {@code --seed-nodes} that refine it); null
     * fields take the HOCON {@code spindle.cluster} values, or for a node named {@code nodeK} the port {@code 25519+K}.
     */
    record ClusterOptions(String node, String name, String host, Integer port, List<String> seeds, ClusterConfig.Transport transport) {
        /** The port a node named {@code nodeK} (K = 1..) gets by default: 25520 for node1, 25521 for node2, ... */
        static Integer defaultPort(String node) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("node([1-9][0-9]{0,3})").matcher(node);
            return m.matches() ? ClusterConfig.BASE_PORT + Integer.parseInt(m.group(1)) - 1 : null;
        }

        /** The cluster configuration: these flags over the HOCON. */
        ClusterConfig config(Config hocon) {
            ClusterConfig.Builder b = ClusterConfig.builder(hocon).enabled(true);
            if (node != null) {
                b.nodeName(node);
            }
            if (name != null) {
                b.clusterName(name);
            }
            if (host != null) {
                b.host(host);
            }
            Integer p = port != null ? port : node != null ? defaultPort(node) : null;
            if (p != null) {
                b.port(p);
            }
            if (seeds != null) {
                b.seedNodes(seeds);
            }
            if (transport != null) {
                b.transport(transport);
            }
            return b.conclude();
        }
    }

    /** A bad command line. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String m) {
            super(m, null, false, false);
        }
    }

    static String usage() {
        return String.join("\n",
                "usage: spindle tgt [-m MASK] [--json FILE] [-r SOCK] [--wait-for-rpc] [--rpc-tcp PORT] [--idle MODE] [--pin]",
                "                   [--huge | --no-huge]",
                "                   [--cluster NODE [--cluster-name NAME] [--cluster-host HOST] [--cluster-port PORT]",
                "                    [--seed-nodes HOST:PORT,...] [--cluster-transport tcp|aeron-udp]]",
                "",
                "Runs a Spindle target: reactors, the bdev subsystem and the JSON-RPC server (SPDK's spdk_tgt).",
                "Stops on SIGINT, SIGTERM or the spdk_kill_instance RPC.",
                "With --cluster it is also a member of a Pekko cluster (docs/cluster.md): it publishes its exports in the",
                "cluster-wide bdev directory (cluster_get_bdevs), attaches others' (bdev_cluster_attach), and hot-removes",
                "the bdevs of a member that is gone. With --json it joins once the config has run (its exports exist).",
                "Three nodes on one machine, one flag each:",
                "  spindle tgt --cluster node1 &  spindle tgt --cluster node2 &  spindle tgt --cluster node3 &",
                "",
                "  -m, --cpumask MASK   core mask: 0x3, [0,1], 0-3 (default 0x1)",
                "  -c, --json FILE      SPDK JSON config to load at start",
                "  -r, --rpc-socket SOCK  Unix socket of the RPC server (default " + RpcServerConfig.DEFAULT_SOCKET + ")",
                "  --wait-for-rpc       initialise the subsystems only on the framework_start_init RPC",
                "  --rpc-tcp PORT       also listen on 127.0.0.1:PORT (0: any free port, printed at start)",
                "  --idle MODE          reactor idle strategy: backoff (default), busy, park, yield",
                "  --pin                pin each reactor thread to its core",
                "  --huge               malloc bdevs and I/O buffers on huge pages (hugetlbfs), required: the start fails",
                "                       without a usable mount (spindle.memory.huge-pages = on)",
                "  --no-huge            normal pages only (default: huge pages when a hugetlbfs mount has free pages, else",
                "                       normal pages and one log line)",
                "  --cluster NODE       cluster mode, as the node named NODE; a node named nodeK listens on port 25519+K",
                "                       (node1: 25520) and, without -r, serves RPC on /var/tmp/spindle-NODE.sock",
                "  --cluster-name NAME  the cluster's name (default spindle: spindle.cluster.name)",
                "  --cluster-host HOST  the address other members reach this node at (default 127.0.0.1)",
                "  --cluster-port PORT  Artery port (default: from NODE, else spindle.cluster.port = 25520)",
                "  --seed-nodes LIST    comma-separated host:port seeds (default 127.0.0.1:25520,127.0.0.1:25521,127.0.0.1:25522)",
                "  --cluster-transport T  tcp (default) or aeron-udp, for the cluster's control messages",
                "  -h, --help           this text");
    }

    static Options parse(String... args) {
        CoreMask mask = null;
        Path json = null;
        Path sock = RpcServerConfig.DEFAULT_SOCKET;
        boolean wait = false;
        int tcp = -1;
        IdleMode idle = IdleMode.BACKOFF;
        boolean pin = false;
        boolean sockGiven = false;
        String node = null;
        String clusterName = null;
        String clusterHost = null;
        Integer clusterPort = null;
        List<String> seeds = null;
        ClusterConfig.Transport transport = null;
        List<String> clusterFlags = new ArrayList<>();
        io.spindle.env.HugePages.Mode huge = io.spindle.env.HugePages.Mode.AUTO;
        java.util.Set<String> hugeFlags = new java.util.HashSet<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "-m", "--cpumask" -> {
                    String v = value(args, ++i, a);
                    try {
                        mask = CoreMask.parse(v, Runtime.getRuntime().availableProcessors());
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(a + " " + v + ": " + e.getMessage());
                    }
                }
                case "-c", "--json" -> {
                    json = Path.of(value(args, ++i, a));
                    if (!Files.isReadable(json)) {
                        throw new UsageException(a + " " + json + ": no such readable file");
                    }
                }
                case "-r", "--rpc-socket" -> {
                    sock = Path.of(value(args, ++i, a));
                    sockGiven = true;
                }
                case "--wait-for-rpc" -> wait = true;
                case "--rpc-tcp" -> {
                    String v = value(args, ++i, a);
                    try {
                        tcp = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        tcp = -2;
                    }
                    if (tcp < 0 || tcp > 65535) {
                        throw new UsageException("--rpc-tcp " + v + ": must be a port 0..65535 (0: any free port)");
                    }
                }
                case "--idle" -> {
                    String v = value(args, ++i, a);
                    try {
                        idle = IdleMode.parse("--idle", v);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--idle " + v + ": allowed: backoff, busy, park, yield");
                    }
                }
                case "--pin" -> pin = true;
                case "--huge" -> {
                    huge = io.spindle.env.HugePages.Mode.ON;
                    hugeFlags.add(a);
                }
                case "--no-huge" -> {
                    huge = io.spindle.env.HugePages.Mode.OFF;
                    hugeFlags.add(a);
                }
                case "--cluster" -> {
                    node = value(args, ++i, a);
                    if (node.startsWith("-")) {
                        throw new UsageException("--cluster " + node + ": needs this node's name (e.g. --cluster node1)");
                    }
                }
                case "--cluster-name" -> {
                    clusterName = value(args, ++i, a);
                    clusterFlags.add(a);
                }
                case "--cluster-host" -> {
                    clusterHost = value(args, ++i, a);
                    clusterFlags.add(a);
                }
                case "--cluster-port" -> {
                    String v = value(args, ++i, a);
                    try {
                        clusterPort = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        clusterPort = -1;
                    }
                    if (clusterPort < 0 || clusterPort > 65535) {
                        throw new UsageException("--cluster-port " + v + ": must be a port 0..65535");
                    }
                    clusterFlags.add(a);
                }
                case "--seed-nodes" -> {
                    seeds = new ArrayList<>();
                    for (String x : value(args, ++i, a).split(",")) {
                        if (!x.isBlank()) {
                            seeds.add(x.trim());
                        }
                    }
                    clusterFlags.add(a);
                }
                case "--cluster-transport" -> {
                    String v = value(args, ++i, a);
                    try {
                        transport = ClusterConfig.Transport.parse("--cluster-transport", v);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(e.getMessage());
                    }
                    clusterFlags.add(a);
                }
                default -> throw new UsageException("unknown option " + a + " (spindle tgt --help)");
            }
        }
        ClusterOptions cluster = null;
        if (node != null) {
            cluster = new ClusterOptions(node, clusterName, clusterHost, clusterPort, seeds, transport);
            if (!sockGiven) {
                sock = Path.of("/var/tmp/spindle-" + node + ".sock");
            }
        } else if (!clusterFlags.isEmpty()) {
            throw new UsageException(clusterFlags.get(0) + " needs --cluster NODE");
        }
        if (hugeFlags.size() > 1) {
            throw new UsageException("--huge, --no-huge: give one of them");
        }
        return new Options(mask == null ? CoreMask.parse("0x1") : mask, json, sock, wait, tcp, idle, pin, cluster, huge);
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new UsageException(flag + ": needs a value");
        }
        return args[i];
    }

    /** Command-line entry point. */
    public static void main(String[] args) {
        org.slf4j.LoggerFactory.getILoggerFactory();
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the target until it is stopped; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help"))) {
            out.println(usage());
            return 0;
        }
        Options o;
        JsonConfig cfg = null;
        try {
            o = parse(args);
            if (o.json() != null) {
                cfg = JsonConfig.read(o.json());
            }
        } catch (UsageException e) {
            err.println("spindle tgt: " + e.getMessage());
            return 2;
        } catch (JsonConfig.JsonConfigException e) {
            err.println("spindle tgt: --json " + e.getMessage());
            return 2;
        }
        Spindle spindle;
        ClusterConfig cluster = null;
        ClusterSubsystem clusterSubsystem = null;
        try {
            Config hocon = ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.stdout-loglevel = WARNING"
                    + (o.huge() != io.spindle.env.HugePages.Mode.AUTO
                            ? "\nspindle.memory.huge-pages = " + o.huge().name().toLowerCase(java.util.Locale.ROOT) : ""))
                    .withFallback(ConfigFactory.load());
            io.spindle.examples.bdevperf.BdevPerf.requireHugePages(o.huge(), hocon); // one clear line, exit 1, before anything starts
            if (o.cluster() != null) {
                cluster = o.cluster().config(hocon);
            } else if (hocon.getBoolean("spindle.cluster.enabled")) {
                cluster = ClusterConfig.fromConfig(hocon);
            }
            RpcServerConfig rpc = RpcServerConfig.builder().socket(o.socket()).tcpPort(o.tcpPort()).conclude();
            SpindleConfig.Builder b;
            if (cluster != null) {
                // a cluster member: the ActorSystem is named after the cluster and runs Pekko Cluster (nothing of it otherwise).
                // Pekko's stdout logger, used while the system terminates, would print the benign "exiting-completed" warning
                // of a last member's leave on stdout
                b = SpindleConfig.builder(cluster.pekkoConfig().withFallback(ConfigFactory.parseString("pekko.stdout-loglevel = ERROR"))
                        .withFallback(hocon)).name(cluster.clusterName());
            } else {
                b = SpindleConfig.builder(hocon).name("spindle_tgt");
            }
            b.reactor(ReactorConfig.builder().mask(o.mask()).idle(o.idle()).pin(o.pin()).conclude())
                    .rpc(rpc)
                    .waitForStartInit(cfg != null || o.waitForRpc());
            if (cluster != null) {
                // first, so it finishes last: at stop the node unexports, then leaves the cluster. With --json it joins once
                // the config has created its exports (below), so the others never see it without them
                clusterSubsystem = new ClusterSubsystem(cluster).joinAtStart(cfg == null).onEvent(line -> {
                    out.println("spindle tgt: cluster: " + line);
                    out.flush();
                });
                b.subsystem(clusterSubsystem);
            }
            b.subsystem(new BdevSubsystem());
            spindle = Spindle.start(io.spindle.examples.Subsystems.addPlugins(b).conclude());
        } catch (IllegalArgumentException e) {
            err.println("spindle tgt: " + e.getMessage());
            return 2;
        } catch (SpindleStartException e) {
            err.println("spindle tgt: start failed: " + e.getMessage());
            return 1;
        }
        out.println("spindle tgt: reactors on core mask " + o.mask() + "; RPC server listening on " + spindle.rpcSocketPath()
                + (spindle.rpcTcpAddress() != null ? " and tcp " + spindle.rpcTcpAddress() : ""));
        if (cluster != null) {
            out.println("spindle tgt: cluster member " + cluster.nodeName() + " of " + cluster.clusterName() + " at " + cluster.host() + ":"
                    + cluster.port() + " (" + cluster.transport().pekkoName() + "), seeds " + cluster.seedNodes());
        }
        if (cfg != null) {
            if (clusterSubsystem != null) {
                // join once every entry ran (with --wait-for-rpc: after framework_start_init and the runtime entries);
                // a config that fails stops the target without it ever joining
                ClusterSubsystem cs = clusterSubsystem;
                cfg.whenApplied().thenRun(() -> {
                    try {
                        cs.join();
                    } catch (IllegalStateException e) {
                        // stopping already: nothing to join
                    }
                });
            }
            try {
                cfg.apply(spindle, !o.waitForRpc());
            } catch (JsonConfig.JsonConfigException e) {
                err.println("spindle tgt: --json " + e.getMessage());
                spindle.stopAndWait();
                return 1;
            }
        }
        // SIGINT/SIGTERM stop Spindle like spdk_kill_instance does, and the process then exits 0 as spdk_tgt does
        // (without these handlers the JVM's own shutdown would still stop Spindle, via CoordinatedShutdown)
        for (String sig : new String[] {"INT", "TERM"}) {
            if (!io.spindle.examples.Signals.onSignal(sig, spindle::requestShutdown)) {
                err.println("spindle tgt: cannot handle SIG" + sig + "; the JVM's shutdown stops Spindle instead");
            }
        }
        out.println(o.waitForRpc() ? "spindle tgt: waiting for framework_start_init" : "spindle tgt: started");
        out.flush();
        SpindleApp.Stopped stopped;
        try {
            stopped = spindle.whenStopped().toCompletableFuture().join();
        } catch (RuntimeException e) {
            err.println("spindle tgt: stop failed: " + e.getMessage());
            return 1;
        }
        spindle.system().getWhenTerminated().toCompletableFuture().join();
        out.println("spindle tgt: stopped" + (stopped.clean() ? "" : " (not clean: " + stopped.leaks() + ")"));
        return stopped.clean() ? 0 : 1;
    }
}
