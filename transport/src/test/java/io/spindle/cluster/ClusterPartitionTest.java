package io.spindle.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.remote.RARP;
import org.apache.pekko.remote.transport.ThrottlerTransportAdapter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Network partitions on a real three-member cluster in one JVM, made with Artery's test-mode blackhole (what
 * Pekko's own multi-node tests use): a partition that heals before the Split Brain Resolver acts removes nothing;
 * one that outlasts {@code stable-after} makes keep-majority down the minority side (which stops its own Spindle)
 * while the majority removes it and hot-removes what it had attached from it.
 */
class ClusterPartitionTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private TestCluster cluster;

    @AfterEach
    void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static Address address(TestCluster.Node n) {
        return org.apache.pekko.cluster.typed.Cluster.get(n.spindle.system()).selfMember().address();
    }

    /**
     * Cuts (or, with {@code cut} false, restores) both directions between {@code from} and {@code to}, on {@code from}'s
     * side. SetThrottle belongs to the deprecated classic transport, but it is the message Artery's test mode
     * ({@code pekko.remote.artery.advanced.test-mode = on}) takes, as Pekko's multi-node TestConductor sends it.
     */
    @SuppressWarnings("deprecation")
    private static void blackhole(TestCluster.Node from, TestCluster.Node to, boolean cut) throws Exception {
        RARP rarp = (RARP) RARP.get(Adapter.toClassic(from.spindle.system()));
        ThrottlerTransportAdapter.ThrottleMode mode = cut ? ThrottlerTransportAdapter.Blackhole$.MODULE$
                : ThrottlerTransportAdapter.Unthrottled$.MODULE$;
        // Scala's nested object Direction.Both has no name javac can resolve: take its instance by reflection
        ThrottlerTransportAdapter.Direction both = (ThrottlerTransportAdapter.Direction) Class
                .forName("org.apache.pekko.remote.transport.ThrottlerTransportAdapter$Direction$Both$").getField("MODULE$").get(null);
        scala.concurrent.Future<Object> f = rarp.provider().transport().managementCommand(
                new ThrottlerTransportAdapter.SetThrottle(address(to), both, mode));
        scala.concurrent.Await.result(f, scala.concurrent.duration.Duration.create(10, TimeUnit.SECONDS));
    }

    private void isolate(int i, boolean cut) throws Exception {
        for (int k = 0; k < 3; k++) {
            if (k != i) {
                blackhole(cluster.node(k), cluster.node(i), cut);
                blackhole(cluster.node(i), cluster.node(k), cut);
            }
        }
    }

    private void formWithExports(RecordingRemoteBdevs remote, String stableAfter) throws Exception {
        cluster = new TestCluster(3, stableAfter);
        cluster.start(0, null, c -> c.remoteBdevs(remote));
        cluster.start(1);
        cluster.start(2);
        for (int i = 0; i < 3; i++) {
            int k = i;
            await().atMost(WAIT).untilAsserted(() -> {
                int up = 0;
                for (JsonNode n : cluster.node(k).call("cluster_get_nodes", null).get("nodes")) {
                    up += n.get("status").asText().equals("up") && n.get("reachable").asBoolean() ? 1 : 0;
                }
                assertThat(up).isEqualTo(3);
            });
        }
        cluster.node(2).exports.set(ClusterMembershipTest.export("nqn.2016-06.io.spindle:node3", 1, "Malloc0", UUID.randomUUID().toString()));
        await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(0).call("cluster_get_bdevs", null)).hasSize(1));
        cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"Cluster3\",\"bdev\":\"Malloc0\"}");
    }

    @Test
    @Timeout(240)
    @DisplayName("a partition that heals before the resolver acts: node3 is unreachable, then reachable again; nothing is removed or detached")
    void shortPartitionHeals() throws Exception {
        RecordingRemoteBdevs remote = new RecordingRemoteBdevs();
        formWithExports(remote, "20s");
        isolate(2, true);
        await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(0).events).anyMatch(l -> l.startsWith("member unreachable: node3")));
        JsonNode entry = cluster.node(0).call("cluster_get_bdevs", null).get(0);
        assertThat(entry.get("reachable").asBoolean()).isFalse();
        isolate(2, false);
        await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(0).events).anyMatch(l -> l.startsWith("member reachable again: node3")));
        await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(0).call("cluster_get_bdevs", null).get(0).get("reachable").asBoolean())
                .isTrue());
        assertThat(cluster.node(0).events).noneMatch(l -> l.startsWith("member removed"));
        assertThat(remote.detached).isEmpty();
        assertThat(remote.attached).containsOnlyKeys("Cluster3");
        assertThat(cluster.node(2).running()).isTrue();
    }

    @Test
    @Timeout(240)
    @DisplayName("a partition that outlasts stable-after: keep-majority downs node3 (its Spindle stops itself), the majority removes it and hot-removes its attachment")
    void longPartitionDownsTheMinority() throws Exception {
        RecordingRemoteBdevs remote = new RecordingRemoteBdevs();
        formWithExports(remote, "2s");
        isolate(2, true);
        for (int i = 0; i < 2; i++) {
            int k = i;
            await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(k).events).anyMatch(l -> l.startsWith("member removed: node3")
                    && l.endsWith("(was down)")));
            assertThat(cluster.node(k).call("cluster_get_bdevs", null)).isEmpty();
        }
        await().atMost(WAIT).untilAsserted(() -> assertThat(remote.detached).containsExactly("Cluster3"));
        // the minority side downed itself: CoordinatedShutdown ran Spindle's stop (unexport first) and terminated it
        cluster.node(2).spindle.whenStopped().toCompletableFuture().get(60, TimeUnit.SECONDS);
        cluster.node(2).spindle.system().getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertThat(cluster.node(0).running()).isTrue();
        assertThat(cluster.node(1).running()).isTrue();
        List<String> names = new java.util.ArrayList<>();
        for (JsonNode n : cluster.node(0).call("cluster_get_nodes", null).get("nodes")) {
            names.add(n.get("name").asText());
        }
        assertThat(names).containsExactlyInAnyOrder("node1", "node2");
    }
}
