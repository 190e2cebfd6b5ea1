package io.spindle.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleConfig;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.rpc.RpcDispatcher;
import io.spindle.runtime.ReactorConfig;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * Several Spindle cluster members in one JVM, each a standalone Spindle (its own ActorSystem named after the
 * cluster, one reactor, the bdev and cluster subsystems) on a free loopback port, all seeds of each other. Test
 * timings: seeds retried every second, and the given Split Brain Resolver stable-after. Closing stops every member
 * still running and waits for its ActorSystem to terminate.
 */
final class TestCluster implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    /** One member. */
    static final class Node {
        final String name;
        final Spindle spindle;
        final ClusterSubsystem cluster;
        final MutableExports exports;
        final List<String> events;
        final RpcDispatcher rpc;

        Node(String name, Spindle spindle, ClusterSubsystem cluster, MutableExports exports, List<String> events) {
            this.name = name;
            this.spindle = spindle;
            this.cluster = cluster;
            this.exports = exports;
            this.events = events;
            this.rpc = RpcDispatcher.create(spindle);
        }

        /** Calls a JSON-RPC method in-process, as the RPC server would; returns the result or throws the RpcException. */
        JsonNode call(String method, String paramsJson) throws Exception {
            JsonNode params = paramsJson == null ? null : JSON.readTree(paramsJson);
            try {
                return rpc.call(method, params, new ArrayList<>()).toCompletableFuture().get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                throw (Exception) ClusterNode.unwrap(e);
            }
        }

        boolean running() {
            return !spindle.whenStopped().toCompletableFuture().isDone();
        }
    }

    /** An ExportSource a test sets by hand. */
    static final class MutableExports implements ExportSource {
        private volatile List<Export> current = List.of();
        private volatile Consumer<List<Export>> listener;

        @Override
        public Watch watch(Consumer<List<Export>> l) {
            listener = l;
            l.accept(current);
            return () -> listener = null;
        }

        void set(Export... exports) {
            current = List.of(exports);
            Consumer<List<Export>> l = listener;
            if (l != null) {
                l.accept(current);
            }
        }
    }

    final int[] ports;
    final List<Node> nodes = new ArrayList<>();
    private final String stableAfter;
    private final ClusterConfig.Transport transport;

    TestCluster(int size, String stableAfter) throws IOException {
        this(size, stableAfter, ClusterConfig.Transport.TCP);
    }

    /** With Artery {@code transport}; aeron-udp needs free UDP ports, tcp free TCP ports. */
    TestCluster(int size, String stableAfter, ClusterConfig.Transport transport) throws IOException {
        this.ports = transport == ClusterConfig.Transport.TCP ? freePorts(size) : freeUdpPorts(size);
        this.stableAfter = stableAfter;
        this.transport = transport;
    }

    static int[] freeUdpPorts(int n) throws IOException {
        int[] p = new int[n];
        List<java.net.DatagramSocket> held = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                java.net.DatagramSocket s = new java.net.DatagramSocket(0, java.net.InetAddress.getLoopbackAddress());
                held.add(s);
                p[i] = s.getLocalPort();
            }
        } finally {
            for (java.net.DatagramSocket s : held) {
                s.close();
            }
        }
        return p;
    }

    static int[] freePorts(int n) throws IOException {
        int[] p = new int[n];
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
                held.add(s);
                p[i] = s.getLocalPort();
            }
        } finally {
            for (ServerSocket s : held) {
                s.close();
            }
        }
        return p;
    }

    List<String> seeds() {
        List<String> s = new ArrayList<>();
        for (int p : ports) {
            s.add("127.0.0.1:" + p);
        }
        return s;
    }

    /** Starts member {@code i} (0-based, named node{i+1}); {@code extra} HOCON goes in front of the test defaults. */
    Node start(int i, String extra, UnaryOperator<ClusterSubsystem> configure) {
        String name = "node" + (i + 1);
        Config hocon = ConfigFactory.parseString(extra == null ? "" : extra)
                .withFallback(ConfigFactory.parseString("""
                        pekko.loglevel = WARNING
                        pekko.cluster.seed-node-timeout = 1s
                        pekko.cluster.retry-unsuccessful-join-after = 1s
                        pekko.cluster.log-info = off
                        pekko.remote.artery.advanced.test-mode = on
                        """))
                .withFallback(ConfigFactory.load());
        ClusterConfig cc = ClusterConfig.builder(hocon).enabled(true).nodeName(name).port(ports[i]).seedNodes(seeds()).transport(transport)
                .stableAfter(java.time.Duration.parse("PT" + stableAfter.toUpperCase())).conclude();
        MutableExports exports = new MutableExports();
        List<String> events = new CopyOnWriteArrayList<>();
        ClusterSubsystem cs = configure.apply(new ClusterSubsystem(cc).exportSource(exports).onEvent(events::add));
        Spindle s = Spindle.start(SpindleConfig.builder(cc.pekkoConfig().withFallback(hocon)).name(cc.clusterName())
                .reactor(ReactorConfig.builder().mask("0x1").conclude())
                .subsystem(cs)
                .subsystem(new BdevSubsystem())
                .conclude());
        Node n = new Node(name, s, cs, exports, events);
        while (nodes.size() <= i) {
            nodes.add(null);
        }
        nodes.set(i, n);
        return n;
    }

    Node start(int i) {
        return start(i, null, c -> c);
    }

    Node node(int i) {
        return nodes.get(i);
    }

    /** Stops member {@code i} the way spdk_kill_instance does (graceful: unexport, stop, leave) and waits for its ActorSystem. */
    void stop(int i) {
        Node n = nodes.get(i);
        n.spindle.stop().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
    }

    /**
     * Takes member {@code i} away as a crash does: its ActorSystem terminates without CoordinatedShutdown (no leave,
     * no unexport), so the others only notice through the failure detector. Its reactors still exit (the app actor's
     * PostStop), so nothing leaks into the next test.
     */
    void crash(int i) {
        Node n = nodes.get(i);
        n.spindle.system().terminate();
        n.spindle.system().getWhenTerminated().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
        n.spindle.whenStopped().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
    }

    @Override
    public void close() {
        List<CompletableFuture<?>> all = new ArrayList<>();
        for (Node n : nodes) {
            if (n != null) {
                all.add(n.spindle.stop().toCompletableFuture().handle((s, e) -> null));
            }
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).orTimeout(90, TimeUnit.SECONDS).handle((v, e) -> null).join();
    }
}
