package io.spindle.examples.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleConfig;
import io.spindle.app.Subsystem;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.cluster.ClusterConfig;
import io.spindle.cluster.ClusterSubsystem;
import io.spindle.rpc.RpcClient;
import io.spindle.rpc.RpcDispatcher;
import io.spindle.rpc.RpcException;
import io.spindle.runtime.ReactorConfig;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A cluster of Spindle nodes on this machine, for the cluster demo, its tests and its figures: node 1 runs in this
 * JVM (a standalone Spindle with the cluster, bdev, keyring and nvmf subsystems, driven through its RPC dispatcher),
 * nodes 2.. are {@code spindle tgt --cluster nodeK} processes (this JVM's class path and flags), each exporting a
 * Malloc0 over Aeron from its JSON config. Free loopback ports; everything (sockets, logs, configs, Aeron
 * directories) lives in one temporary directory, removed by {@link #close()}.
 *
 * <p>Not thread-safe, except {@link #close()} (idempotent), which a shutdown hook may call.
 */
public final class LocalCluster implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final int size;
    private final Path dir;
    private final int[] clusterPorts;
    private final int[] aeronPorts;
    private final Process[] procs;
    private final List<String> pekkoOverrides;
    private final List<String> childJvmFlags = new ArrayList<>();
    private Spindle node1;
    private RpcDispatcher rpc;
    private boolean closed;

    /**
     * A cluster of {@code size} nodes; {@code pekkoOverrides} are HOCON lines ({@code key = value}) every node gets
     * (e.g. {@code spindle.cluster.split-brain-resolver.stable-after = 3s}).
     */
    public LocalCluster(int size, List<String> pekkoOverrides) throws IOException {
        this.size = size;
        this.dir = Files.createTempDirectory(Path.of("/tmp"), "spindle-cluster-"); // Unix socket paths stay short
        this.clusterPorts = new int[size];
        this.aeronPorts = new int[size];
        this.procs = new Process[size];
        List<String> o = new ArrayList<>(List.of("pekko.cluster.seed-node-timeout = 2s", "pekko.cluster.retry-unsuccessful-join-after = 2s"));
        o.addAll(pekkoOverrides);
        this.pekkoOverrides = List.copyOf(o);
        List<AutoCloseable> held = new ArrayList<>();
        try {
            for (int i = 0; i < size; i++) {
                ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                held.add(s);
                clusterPorts[i] = s.getLocalPort();
                DatagramSocket d = new DatagramSocket(0, InetAddress.getLoopbackAddress());
                held.add(d);
                aeronPorts[i] = d.getLocalPort();
            }
        } finally {
            for (AutoCloseable c : held) {
                try {
                    c.close();
                } catch (Exception e) {
                    // a port only looked at
                }
            }
        }
    }

    /** Extra JVM flags for the node processes started after this call (e.g. a faster start for a demo). */
    public LocalCluster childJvmFlags(String... flags) {
        childJvmFlags.addAll(List.of(flags));
        return this;
    }

    /** The temporary directory (logs {@code nodeK.log}, sockets {@code nodeK.sock}). */
    public Path dir() {
        return dir;
    }

    /** Node {@code k}'s (1-based) Aeron listener port. */
    public int aeronPort(int k) {
        return aeronPorts[k - 1];
    }

    /** The seed list, {@code host:port,...}. */
    public String seeds() {
        StringBuilder b = new StringBuilder();
        for (int p : clusterPorts) {
            b.append(b.length() == 0 ? "" : ",").append("127.0.0.1:").append(p);
        }
        return b.toString();
    }

    /** Starts node 1 in this JVM; {@code events} gets its cluster events (on the cluster actor's thread). */
    public Spindle startNode1(Consumer<String> events) {
        StringBuilder h = new StringBuilder("pekko.loglevel = WARNING\npekko.stdout-loglevel = ERROR\n");
        pekkoOverrides.forEach(l -> h.append(l).append('\n'));
        Config hocon = ConfigFactory.parseString(h.toString())
                .withFallback(ConfigFactory.parseMap(Map.of("spindle.transport.dir-base", dir.toString())))
                .withFallback(ConfigFactory.load());
        ClusterConfig cc = ClusterConfig.builder(hocon).enabled(true).nodeName("node1").port(clusterPorts[0]).seedNodes(List.of(seeds().split(",")))
                .conclude();
        SpindleConfig.Builder b = SpindleConfig.builder(cc.pekkoConfig().withFallback(hocon)).name(cc.clusterName())
                .reactor(ReactorConfig.builder().mask("0x1").conclude())
                .subsystem(new ClusterSubsystem(cc).onEvent(events::accept))
                .subsystem(new BdevSubsystem());
        for (Subsystem s : ServiceLoader.load(Subsystem.class)) {
            b.subsystem(s); // keyring, nvmf: what spindle tgt starts too
        }
        node1 = Spindle.start(b.conclude());
        rpc = RpcDispatcher.create(node1);
        return node1;
    }

    /** Node 1 (null before {@link #startNode1}). */
    public Spindle node1() {
        return node1;
    }

    /**
     * Starts node {@code k} (2..size) as a {@code spindle tgt --cluster nodeK} process exporting a Malloc0 of
     * {@code blocks} 4 KiB blocks as namespace 1 of {@code nqn.2016-06.io.spindle:nodeK}, listening on Aeron UDP
     * 127.0.0.1:{@link #aeronPort}. Its output goes to {@code nodeK.log}. It joins the cluster once its JSON config
     * has run (its export exists).
     */
    public Process startNode(int k, long blocks) throws IOException {
        return startNode(k, blocks, new String[0]);
    }

    /** As {@link #startNode(int, long)}, with more {@code spindle tgt} flags (e.g. {@code --wait-for-rpc}). */
    public Process startNode(int k, long blocks, String... tgtFlags) throws IOException {
        Path cfg = dir.resolve("node" + k + ".json");
        String nqn = "nqn.2016-06.io.spindle:node" + k;
        Files.writeString(cfg, """
                {"subsystems":[
                 {"subsystem":"bdev","config":[
                   {"method":"bdev_malloc_create","params":{"name":"Malloc0","num_blocks":BLOCKS,"block_size":4096}},
                   {"method":"bdev_wait_for_examine"}]},
                 {"subsystem":"nvmf","config":[
                   {"method":"nvmf_create_transport","params":{"trtype":"AERON"}},
                   {"method":"nvmf_create_subsystem","params":{"nqn":"NQN","allow_any_host":true}},
                   {"method":"nvmf_subsystem_add_ns","params":{"nqn":"NQN","namespace":{"bdev_name":"Malloc0"}}},
                   {"method":"nvmf_subsystem_add_listener","params":{"nqn":"NQN","listen_address":
                     {"trtype":"AERON","adrfam":"ipv4","traddr":"127.0.0.1","trsvcid":"PORT"}}}]}]}
                """.replace("NQN", nqn).replace("PORT", Integer.toString(aeronPorts[k - 1])).replace("BLOCKS", Long.toString(blocks)));
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib") && !a.startsWith("-javaagent") && !a.startsWith("-Xlog")) {
                cmd.add(a);
            }
        }
        cmd.addAll(childJvmFlags);
        for (String l : pekkoOverrides) {
            int eq = l.indexOf('=');
            cmd.add("-D" + l.substring(0, eq).trim() + "=" + l.substring(eq + 1).trim());
        }
        // the Aeron directory under ours, so even a killed node's goes with it
        cmd.addAll(List.of("-Dspindle.transport.dir-base=" + dir, "-cp", System.getProperty("java.class.path"),
                "io.spindle.examples.tgt.SpindleTgt", "--cluster", "node" + k, "--cluster-port", Integer.toString(clusterPorts[k - 1]),
                "--seed-nodes", seeds(), "-r", socket(k).toString(), "--json", cfg.toString()));
        cmd.addAll(List.of(tgtFlags));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log(k).toFile())).start();
        procs[k - 1] = p;
        return p;
    }

    /** Node {@code k}'s process (null for node 1 or one not started). */
    public Process process(int k) {
        return procs[k - 1];
    }

    /** Node {@code k}'s RPC socket. */
    public Path socket(int k) {
        return dir.resolve("node" + k + ".sock");
    }

    /** Node {@code k}'s log. */
    public Path log(int k) {
        return dir.resolve("node" + k + ".log");
    }

    /** Calls {@code method} on node 1 in-process; RpcException for an error answer. */
    public JsonNode call(String method, String params) throws Exception {
        try {
            return rpc.call(method, params == null ? null : JSON.readTree(params), new ArrayList<>()).toCompletableFuture().get(90, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable c = e.getCause();
            while (c instanceof java.util.concurrent.CompletionException && c.getCause() != null) {
                c = c.getCause();
            }
            if (c instanceof RpcException r) {
                throw r;
            }
            throw e;
        }
    }

    /** Calls {@code method} on node {@code k} (2..) through its RPC socket. */
    public JsonNode call(int k, String method, String params) throws Exception {
        try (RpcClient c = RpcClient.connect(socket(k), Duration.ofSeconds(30))) {
            return c.call(method, params == null ? null : JSON.readTree(params));
        }
    }

    /** Whether node 1 has the RPC method {@code name} (e.g. the raid module's). */
    public boolean hasMethod(String name) {
        return rpc.method(name) != null;
    }

    /** Waits until node 1 sees {@code n} members up and reachable; fails early when a node process exited. */
    public void awaitMembers(int n, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            int up = 0;
            for (JsonNode m : call("cluster_get_nodes", null).get("nodes")) {
                up += m.get("status").asText().equals("up") && m.get("reachable").asBoolean() ? 1 : 0;
            }
            if (up == n) {
                return;
            }
            for (int k = 2; k <= size; k++) {
                Process p = procs[k - 1];
                if (p != null && !p.isAlive() && p.exitValue() != 137) {
                    throw new IllegalStateException("node " + k + " exited (" + p.exitValue() + "); its log: " + log(k));
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("node 1 did not see " + n + " members up within " + timeout.toSeconds() + " s");
            }
            Thread.sleep(50);
        }
    }

    /** Waits until node 1's directory lists a bdev of node {@code node}. */
    public void awaitExport(String node, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (JsonNode e : call("cluster_get_bdevs", null)) {
                if (e.get("node").asText().equals(node)) {
                    return;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("node 1's directory did not list a bdev of " + node + " within " + timeout.toSeconds() + " s");
            }
            Thread.sleep(20);
        }
    }

    /** The last {@code n} lines of node {@code k}'s log. */
    public List<String> tail(int k, int n) {
        try {
            List<String> lines = Files.readAllLines(log(k));
            return lines.subList(Math.max(0, lines.size() - n), lines.size());
        } catch (IOException e) {
            return List.of();
        }
    }

    /**
     * Stops every node gracefully (SIGTERM to the processes; node 1's stop), forcibly when one does not stop within a
     * minute, and removes the directory. Idempotent; any thread.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<Process> live = new ArrayList<>();
        for (Process p : procs) {
            if (p != null && p.isAlive()) {
                p.destroy(); // SIGTERM: spindle tgt unexports, leaves the cluster, exits 0
                live.add(p);
            }
        }
        if (node1 != null) {
            try {
                node1.stop().toCompletableFuture().get(60, TimeUnit.SECONDS);
            } catch (Exception e) {
                // reported by whoever waits for node 1
            }
        }
        for (Process p : live) {
            try {
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        if (Files.exists(dir)) {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                // best effort
            }
        }
    }
}
