package io.spindle.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code spindle.cluster.transport = aeron-udp}: the same three-member cluster with Artery over Aeron UDP (each
 * ActorSystem with Pekko's embedded media driver) forms, and the directory reaches every member.
 */
class ClusterAeronUdpTest {
    private TestCluster cluster;

    /**
     * One member at a time, the last first, each a graceful leave while the others still run, each stop (leave and
     * ActorSystem termination) within {@link TestCluster#stop}'s 60 s; a stop that does not make it fails the test.
     * Before {@code spindle.cluster.aeron-udp.give-up} (Pekko's {@code give-up-system-message-after}, 6 hours by
     * default), about one such stop in five to eight hung for minutes: the stopping node's control stream to the member
     * stopped just before it still held a message nobody would take (docs/cluster.md, "Stopping a node over aeron-udp").
     */
    @AfterEach
    @Timeout(120)
    void tearDown() {
        if (cluster == null) {
            return;
        }
        try {
            for (int i = cluster.nodes.size() - 1; i >= 0; i--) {
                if (cluster.node(i) != null) {
                    cluster.stop(i);
                }
            }
        } finally {
            cluster.close();
        }
    }

    @Test
    @Timeout(240)
    @DisplayName("Artery aeron-udp: three members form a cluster and every member's directory lists an export")
    void aeronUdpCluster() throws Exception {
        boolean aeron;
        try {
            Class.forName("io.aeron.driver.MediaDriver");
            aeron = true;
        } catch (ClassNotFoundException e) {
            aeron = false;
        }
        assumeTrue(aeron, "Aeron is not on the class path (it comes with the transport)");
        cluster = new TestCluster(3, "5s", ClusterConfig.Transport.AERON_UDP);
        for (int i = 0; i < 3; i++) {
            cluster.start(i);
        }
        for (int i = 0; i < 3; i++) {
            int k = i;
            await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
                int up = 0;
                for (JsonNode n : cluster.node(k).call("cluster_get_nodes", null).get("nodes")) {
                    up += n.get("status").asText().equals("up") && n.get("reachable").asBoolean() ? 1 : 0;
                }
                assertThat(up).isEqualTo(3);
            });
        }
        assertThat(cluster.node(0).spindle.system().settings().config().getString("pekko.remote.artery.transport")).isEqualTo("aeron-udp");
        assertThat(cluster.node(0).spindle.system().settings().config().getDuration("pekko.remote.artery.advanced.give-up-system-message-after"))
                .as("spindle.cluster.aeron-udp.give-up, which bounds the stops of tearDown").isEqualTo(Duration.ofSeconds(15));
        cluster.node(1).exports.set(ClusterMembershipTest.export("nqn.2016-06.io.spindle:node2", 1, "Malloc0", UUID.randomUUID().toString()));
        for (int i = 0; i < 3; i++) {
            int k = i;
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(cluster.node(k).call("cluster_get_bdevs", null)).hasSize(1));
        }
    }
}
