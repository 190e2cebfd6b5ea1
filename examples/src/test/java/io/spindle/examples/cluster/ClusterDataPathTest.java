package io.spindle.examples.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.bdev.BdevLayer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Membership driving the bdev lifecycle, with real remote bdevs: node 1 is this JVM (a cluster member with the Aeron
 * initiator), nodes 2 and 3 are {@code spindle tgt --cluster} processes exporting a Malloc0 over Aeron. Node 1
 * attaches them with {@code bdev_cluster_attach} and keeps I/O in flight on them ({@link IoLoop}, every submission
 * and completion counted) while a node is killed with {@code kill -9}, stopped with SIGSTOP for less than the
 * resolver's stable-after, or leaves gracefully.
 */
class ClusterDataPathTest {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private LocalCluster cluster;
    private final List<String> events = new CopyOnWriteArrayList<>();

    @BeforeEach
    void transportPresent() {
        boolean present = false;
        for (io.spindle.rpc.spi.RpcMethodProvider p : java.util.ServiceLoader.load(io.spindle.rpc.spi.RpcMethodProvider.class)) {
            for (io.spindle.rpc.spi.RpcMethod m : p.methods()) {
                present |= m.name().equals("nvmf_create_transport");
            }
        }
        assumeTrue(present, "the Aeron transport's nvmf target (nvmf_create_transport) is not on the class path");
    }

    @AfterEach
    void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private void start(String stableAfter, int... nodes) throws Exception {
        cluster = new LocalCluster(3, List.of("spindle.cluster.split-brain-resolver.stable-after = " + stableAfter));
        for (int k : nodes) {
            cluster.startNode(k, 4096);
        }
        cluster.startNode1(events::add);
        cluster.awaitMembers(1 + nodes.length, WAIT);
        for (int k : nodes) {
            cluster.awaitExport("node" + k, WAIT);
            JsonNode r = cluster.call("bdev_cluster_attach", "{\"name\":\"Node" + k + "\",\"bdev\":\"Malloc0\",\"node\":\"node" + k + "\"}");
            assertThat(r.toString()).isEqualTo("[\"Node" + k + "n1\"]");
        }
    }

    private IoLoop io(String bdev) {
        IoLoop l = new IoLoop(BdevLayer.of(cluster.node1()), cluster.node1().reactors().reactor(0), bdev, 16);
        l.start();
        return l;
    }

    private static void signal(Process p, String sig) throws Exception {
        assertThat(new ProcessBuilder("kill", "-" + sig, Long.toString(p.pid())).start().waitFor()).isZero();
    }

    @Test
    @Timeout(420)
    @DisplayName("kill -9 of an exporting node under I/O: unreachable, downed, removed; its bdev is hot-removed on node 1 with every I/O completed exactly once; the other bdev carries on; the restarted node is attached again")
    void killNineUnderIo() throws Exception {
        start("3s", 2, 3);
        JsonNode b = cluster.call("bdev_get_bdevs", "{\"name\":\"Node3n1\"}").get(0);
        assertThat(b.get("driver_specific").get("cluster").get("node").asText()).isEqualTo("node3");
        assertThat(b.get("driver_specific").get("cluster").get("bdev").asText()).isEqualTo("Malloc0");
        assertThat(b.get("driver_specific").get("nvme").get(0).get("controller").asText()).isEqualTo("Node3");
        IoLoop two = io("Node2n1");
        IoLoop three = io("Node3n1");
        await().atMost(WAIT).until(() -> two.okCount.get() > 200 && three.okCount.get() > 200);

        cluster.process(3).destroyForcibly();
        IoLoop.Result r3 = three.done().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(r3.removed()).as("Node3n1 hot-removed").isTrue();
        assertThat(r3.doubles()).as("double completions").isZero();
        assertThat(r3.completed()).as("every I/O submitted to Node3n1 completed").isEqualTo(r3.submitted());
        assertThat(r3.miscompares()).isZero();
        assertThat(events).anyMatch(l -> l.startsWith("member unreachable: node3"))
                .anyMatch(l -> l.startsWith("member downed: node3"))
                .anyMatch(l -> l.startsWith("hot-removing Node3 (bdevs Node3n1)"));
        // hot-removed when downed; the leader removes it shortly after
        await().atMost(WAIT).until(() -> events.stream().anyMatch(l -> l.startsWith("member removed: node3") && l.endsWith("(was down)")));
        assertThat(BdevLayer.of(cluster.node1()).get("Node3n1")).isNull();
        long before = two.okCount.get();
        await().atMost(WAIT).until(() -> two.okCount.get() > before + 200);
        two.stop();
        IoLoop.Result r2 = two.done().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(r2.failed()).as("Node2n1 I/O failed").isZero();
        assertThat(r2.doubles()).isZero();
        assertThat(r2.miscompares()).isZero();
        assertThat(r2.completed()).isEqualTo(r2.submitted());

        cluster.startNode(3, 4096);
        cluster.awaitMembers(3, WAIT);
        cluster.awaitExport("node3", WAIT);
        assertThat(cluster.call("bdev_cluster_attach", "{\"name\":\"Node3\",\"bdev\":\"Malloc0\",\"node\":\"node3\"}").toString())
                .isEqualTo("[\"Node3n1\"]");
        IoLoop again = io("Node3n1");
        await().atMost(WAIT).until(() -> again.okCount.get() > 200);
        again.stop();
        IoLoop.Result ra = again.done().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(ra.failed()).isZero();
        assertThat(ra.miscompares()).isZero();
    }

    @Test
    @Timeout(420)
    @DisplayName("a node stopped (SIGSTOP) past the transport's keep-alive but for less than the resolver's stable-after: unreachable, then reachable again; the controller reconnects and I/O resumes without an error")
    void shortPartitionResumesIo() throws Exception {
        start("45s", 2);
        IoLoop two = io("Node2n1");
        await().atMost(WAIT).until(() -> two.okCount.get() > 200);
        signal(cluster.process(2), "STOP");
        try {
            await().atMost(WAIT).until(() -> events.stream().anyMatch(l -> l.startsWith("member unreachable: node2")));
            Thread.sleep(12_000); // past keep-alive-timeout (10 s): the host resets its controller and reconnects
        } finally {
            signal(cluster.process(2), "CONT");
        }
        await().atMost(WAIT).until(() -> events.stream().anyMatch(l -> l.startsWith("member reachable again: node2")));
        long before = two.okCount.get();
        await().atMost(WAIT).until(() -> two.okCount.get() > before + 200);
        two.stop();
        IoLoop.Result r = two.done().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(r.removed()).isFalse();
        assertThat(r.failed()).as("failed I/O").isZero();
        assertThat(r.doubles()).isZero();
        assertThat(r.miscompares()).isZero();
        assertThat(events).noneMatch(l -> l.startsWith("member removed"));
    }

    @Test
    @Timeout(420)
    @DisplayName("a graceful leave under I/O (spdk_kill_instance): the node unexports, leaves (removed as exiting) and exits 0; node 1's bdev of it is removed with every I/O completed exactly once")
    void gracefulLeaveUnderIo() throws Exception {
        start("5s", 2, 3);
        IoLoop two = io("Node2n1");
        await().atMost(WAIT).until(() -> two.okCount.get() > 200);
        cluster.call(2, "spdk_kill_instance", "{\"sig_name\":\"SIGTERM\"}");
        assertThat(cluster.process(2).waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(cluster.process(2).exitValue()).as(String.join("\n", cluster.tail(2, 30))).isZero();
        IoLoop.Result r = two.done().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(r.removed()).isTrue();
        assertThat(r.doubles()).isZero();
        assertThat(r.completed()).isEqualTo(r.submitted());
        assertThat(r.miscompares()).isZero();
        await().atMost(WAIT).until(() -> events.stream().anyMatch(l -> l.startsWith("member removed: node2") && l.endsWith("(was exiting)")));
        int unlisted = -1;
        int removed = -1;
        for (int i = 0; i < events.size(); i++) {
            String l = events.get(i);
            boolean gone = l.startsWith("directory: node2") && (l.contains("no longer listed") || l.contains("exports nothing"));
            unlisted = gone && unlisted < 0 ? i : unlisted;
            removed = events.get(i).startsWith("member removed: node2") ? i : removed;
        }
        assertThat(unlisted).as("node2's exports withdrawn before it was removed: " + events).isBetween(0, removed);
        assertThat(cluster.tail(2, 40)).anyMatch(l -> l.contains("left the cluster (exiting)"));
    }
}
