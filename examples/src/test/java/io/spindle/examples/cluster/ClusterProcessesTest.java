package io.spindle.examples.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.rpc.RpcClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Three {@code ./spindle tgt --cluster} processes on loopback (free ports, private sockets): they form a cluster;
 * {@code kill -9} of one makes the other two see it unreachable, then downed by the Split Brain Resolver and removed;
 * restarted, it joins as a new incarnation; {@code spdk_kill_instance} makes a node leave gracefully (removed "was
 * exiting") and exit 0. Uses what the build made ({@code SPINDLE_SKIP_BUILD=1}).
 */
class ClusterProcessesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private static final Duration WAIT = Duration.ofSeconds(90);
    private Path dir;
    private int[] ports;
    private final Process[] procs = new Process[3];
    private final List<Process> started = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "spcl"); // socket paths stay short
        ports = new int[3];
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
                held.add(s);
                ports[i] = s.getLocalPort();
            }
        } finally {
            for (ServerSocket s : held) {
                s.close();
            }
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Process p : started) {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private Path sock(int i) {
        return dir.resolve("n" + (i + 1) + ".sock");
    }

    private Path log(int i) {
        return dir.resolve("n" + (i + 1) + ".log");
    }

    /** Starts node i+1 as its own process and waits for "spindle tgt: started". */
    private Process start(int i) throws Exception {
        String seeds = "127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1] + ",127.0.0.1:" + ports[2];
        ProcessBuilder pb = new ProcessBuilder(ROOT.resolve("spindle").toString(), "tgt", "--cluster", "node" + (i + 1),
                "--cluster-port", Integer.toString(ports[i]), "--seed-nodes", seeds, "-r", sock(i).toString())
                .directory(ROOT.toFile()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log(i).toFile()));
        pb.environment().put("SPINDLE_SKIP_BUILD", "1");
        // test timings: seeds retried every second, the resolver decides after 3 s of stability
        pb.environment().put("SPINDLE_JAVA_OPTS", "-Dpekko.cluster.seed-node-timeout=1s -Dpekko.cluster.retry-unsuccessful-join-after=1s"
                + " -Dspindle.cluster.split-brain-resolver.stable-after=3s");
        long mark = Files.exists(log(i)) ? Files.readString(log(i)).length() : 0;
        Process p = pb.start();
        started.add(p);
        procs[i] = p;
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!Files.readString(log(i)).substring((int) mark).contains("spindle tgt: started")) {
            assertThat(p.isAlive()).as("node" + (i + 1) + " running; its output:\n" + Files.readString(log(i))).isTrue();
            assertThat(System.nanoTime() < deadline).as("node" + (i + 1) + " started; its output:\n" + Files.readString(log(i))).isTrue();
            Thread.sleep(100);
        }
        return p;
    }

    private JsonNode call(int i, String method, String params) throws Exception {
        try (RpcClient c = RpcClient.connect(sock(i), Duration.ofSeconds(30))) {
            return c.call(method, params == null ? null : JSON.readTree(params));
        }
    }

    private List<String> upNodes(int i) throws Exception {
        List<String> out = new ArrayList<>();
        for (JsonNode n : call(i, "cluster_get_nodes", null).get("nodes")) {
            if (n.get("status").asText().equals("up") && n.get("reachable").asBoolean()) {
                out.add(n.get("name").asText());
            }
        }
        return out;
    }

    private long uid(int i, String node) throws Exception {
        for (JsonNode n : call(i, "cluster_get_nodes", null).get("nodes")) {
            if (n.get("name").asText().equals(node)) {
                return n.get("uid").asLong();
            }
        }
        return 0;
    }

    private String logOf(int i) throws IOException {
        return Files.readString(log(i), StandardCharsets.UTF_8);
    }

    @Test
    @Timeout(420)
    @DisplayName("three tgt processes: kill -9 of one is seen unreachable, downed and removed; it rejoins as a new incarnation; spdk_kill_instance leaves gracefully and exits 0")
    void killRejoinAndLeave() throws Exception {
        for (int i = 0; i < 3; i++) {
            start(i);
        }
        for (int i = 0; i < 3; i++) {
            int k = i;
            await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> assertThat(upNodes(k))
                    .containsExactlyInAnyOrder("node1", "node2", "node3"));
        }
        JsonNode view = call(0, "cluster_get_nodes", null);
        assertThat(view.get("local_node").asText()).isEqualTo("node1");
        assertThat(view.get("local_address").asText()).isEqualTo("pekko://spindle@127.0.0.1:" + ports[0]);
        long uid3 = uid(0, "node3");

        // kill -9 node3
        procs[2].destroyForcibly();
        assertThat(procs[2].waitFor(30, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < 2; i++) {
            int k = i;
            await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> assertThat(logOf(k))
                    .contains("spindle tgt: cluster: member unreachable: node3")
                    .contains("spindle tgt: cluster: member removed: node3 pekko://spindle@127.0.0.1:" + ports[2] + " (was down)"));
            assertThat(upNodes(k)).containsExactlyInAnyOrder("node1", "node2");
            assertThat(call(k, "cluster_get_nodes", null).get("nodes")).hasSize(2);
        }

        // restarted: a new incarnation on the same address
        start(2);
        for (int i = 0; i < 3; i++) {
            int k = i;
            await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> assertThat(upNodes(k))
                    .containsExactlyInAnyOrder("node1", "node2", "node3"));
        }
        assertThat(uid(0, "node3")).isNotZero().isNotEqualTo(uid3);

        // node2 leaves gracefully through spdk_kill_instance
        call(1, "spdk_kill_instance", "{\"sig_name\":\"SIGTERM\"}");
        assertThat(procs[1].waitFor(90, TimeUnit.SECONDS)).as("node2 exits; its output:\n" + logOf(1)).isTrue();
        assertThat(procs[1].exitValue()).as(logOf(1)).isZero();
        assertThat(logOf(1)).contains("spindle tgt: cluster: unpublishing this node's exports").contains("spindle tgt: stopped");
        for (int i : new int[] {0, 2}) {
            await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> assertThat(logOf(i))
                    .contains("spindle tgt: cluster: member removed: node2 pekko://spindle@127.0.0.1:" + ports[1] + " (was exiting)"));
            assertThat(upNodes(i)).containsExactlyInAnyOrder("node1", "node3");
        }

        // SIGTERM stops the others cleanly (exit 0), the last one leaving a cluster of one
        for (int i : new int[] {2, 0}) {
            procs[i].destroy();
            assertThat(procs[i].waitFor(90, TimeUnit.SECONDS)).as("node" + (i + 1) + " exits on SIGTERM").isTrue();
            assertThat(procs[i].exitValue()).as(logOf(i)).isZero();
        }
        assertThat(logOf(0)).doesNotContain("[WARN]").doesNotContain("Exception");
    }
}
