package io.spindle.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.rpc.RpcException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Three Spindle members in one JVM on free loopback ports, a real Pekko cluster over Artery TCP: membership as
 * {@code cluster_get_nodes} reports it, the directory as {@code cluster_get_bdevs} reports it, attach resolution, a
 * graceful leave, a crash downed by the Split Brain Resolver (every attachment to the crashed node hot-removed), and
 * a restarted node joining as a new incarnation.
 */
class ClusterMembershipTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private TestCluster cluster;

    @AfterEach
    void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
    }

    static Export export(String nqn, int nsid, String bdev, String uuid) {
        return new Export(nqn, nsid, bdev, uuid, 512, 65536, List.of(new Listener("AERON", "IPv4", "127.0.0.1", "4420")));
    }

    private static List<String> upNames(JsonNode view) {
        List<String> out = new ArrayList<>();
        for (JsonNode n : view.get("nodes")) {
            if (n.get("status").asText().equals("up") && n.get("reachable").asBoolean()) {
                out.add(n.get("name").asText());
            }
        }
        return out;
    }

    private static List<String> bdevs(JsonNode entries) {
        List<String> out = new ArrayList<>();
        for (JsonNode e : entries) {
            out.add(e.get("node").asText() + ":" + e.get("name").asText());
        }
        return out;
    }

    private void awaitAllUp(int... members) {
        List<String> expected = new ArrayList<>();
        for (int i : members) {
            expected.add("node" + (i + 1));
        }
        for (int i : members) {
            await().atMost(WAIT).untilAsserted(() -> assertThat(upNames(cluster.node(i).call("cluster_get_nodes", null)))
                    .containsExactlyInAnyOrderElementsOf(expected));
        }
    }

    @Test
    @Timeout(180)
    @DisplayName("three members form a cluster: cluster_get_nodes on each lists all three up and reachable, with names, roles, the leader and which node answered")
    void threeMembersFormACluster() throws Exception {
        cluster = new TestCluster(3, "5s");
        for (int i = 0; i < 3; i++) {
            cluster.start(i);
        }
        awaitAllUp(0, 1, 2);
        JsonNode v = cluster.node(1).call("cluster_get_nodes", null);
        assertThat(v.get("cluster_name").asText()).isEqualTo("spindle");
        assertThat(v.get("local_node").asText()).isEqualTo("node2");
        assertThat(v.get("local_address").asText()).isEqualTo("pekko://spindle@127.0.0.1:" + cluster.ports[1]);
        assertThat(v.get("leader").asText()).startsWith("pekko://spindle@127.0.0.1:");
        assertThat(v.get("nodes")).hasSize(3);
        for (JsonNode n : v.get("nodes")) {
            assertThat(n.get("roles").toString()).isEqualTo("[\"spindle\"]");
            assertThat(n.get("local").asBoolean()).isEqualTo(n.get("name").asText().equals("node2"));
            assertThat(n.get("uid").asLong()).isNotZero();
            assertThat(n.get("exports").asInt()).isZero();
        }
        assertThatThrownBy(() -> cluster.node(0).call("cluster_get_nodes", "{}"))
                .isInstanceOf(RpcException.class).hasMessageContaining("requires no parameters");
    }

    @Test
    @Timeout(180)
    @DisplayName("the directory: each node's exports reach every node's cluster_get_bdevs; lookups by name, UUID and node; changes and withdrawals converge")
    void directoryConverges() throws Exception {
        cluster = new TestCluster(3, "5s");
        for (int i = 0; i < 3; i++) {
            cluster.start(i);
        }
        awaitAllUp(0, 1, 2);
        String u2 = UUID.randomUUID().toString();
        String u3 = UUID.randomUUID().toString();
        String n3 = UUID.randomUUID().toString();
        cluster.node(1).exports.set(export("nqn.2016-06.io.spindle:node2", 1, "Malloc0", u2));
        cluster.node(2).exports.set(export("nqn.2016-06.io.spindle:node3", 1, "Malloc0", u3), export("nqn.2016-06.io.spindle:node3", 2, "Null1", n3));
        for (int i = 0; i < 3; i++) {
            int k = i;
            await().atMost(WAIT).untilAsserted(() -> assertThat(bdevs(cluster.node(k).call("cluster_get_bdevs", null)))
                    .containsExactlyInAnyOrder("node2:Malloc0", "node3:Malloc0", "node3:Null1"));
        }
        JsonNode all = cluster.node(0).call("cluster_get_bdevs", null);
        JsonNode e = null;
        for (JsonNode x : all) {
            if (x.get("uuid").asText().equals(n3)) {
                e = x;
            }
        }
        assertThat(e).isNotNull();
        assertThat(e.get("name").asText()).isEqualTo("Null1");
        assertThat(e.get("block_size").asInt()).isEqualTo(512);
        assertThat(e.get("num_blocks").asLong()).isEqualTo(65536);
        assertThat(e.get("nqn").asText()).isEqualTo("nqn.2016-06.io.spindle:node3");
        assertThat(e.get("nsid").asInt()).isEqualTo(2);
        assertThat(e.get("address").asText()).isEqualTo("pekko://spindle@127.0.0.1:" + cluster.ports[2]);
        assertThat(e.get("status").asText()).isEqualTo("up");
        assertThat(e.get("reachable").asBoolean()).isTrue();
        assertThat(e.get("listen_addresses").get(0).toString())
                .isEqualTo("{\"trtype\":\"AERON\",\"adrfam\":\"IPv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"4420\"}");

        assertThat(bdevs(cluster.node(0).call("cluster_get_bdevs", "{\"name\":\"Malloc0\"}"))).containsExactlyInAnyOrder("node2:Malloc0", "node3:Malloc0");
        assertThat(bdevs(cluster.node(0).call("cluster_get_bdevs", "{\"name\":\"Malloc0\",\"node\":\"node3\"}"))).containsExactly("node3:Malloc0");
        assertThat(bdevs(cluster.node(0).call("cluster_get_bdevs", "{\"name\":\"" + u2.toUpperCase() + "\"}"))).containsExactly("node2:Malloc0");
        assertThat(bdevs(cluster.node(0).call("cluster_get_bdevs", "{\"uuid\":\"" + u3 + "\"}"))).containsExactly("node3:Malloc0");
        assertThatThrownBy(() -> cluster.node(0).call("cluster_get_bdevs", "{\"name\":\"Nope\"}"))
                .isInstanceOf(RpcException.class).hasMessage("No such device")
                .satisfies(x -> assertThat(((RpcException) x).code()).isEqualTo(-19));
        assertThatThrownBy(() -> cluster.node(0).call("cluster_get_bdevs", "{\"nme\":\"x\"}"))
                .isInstanceOf(RpcException.class).hasMessageContaining("unknown key nme");
        JsonNode nodes = cluster.node(0).call("cluster_get_nodes", null);
        for (JsonNode n : nodes.get("nodes")) {
            assertThat(n.get("exports").asInt()).isEqualTo(switch (n.get("name").asText()) {
                case "node2" -> 1;
                case "node3" -> 2;
                default -> 0;
            });
        }

        // a change and a withdrawal reach every node
        cluster.node(2).exports.set(export("nqn.2016-06.io.spindle:node3", 2, "Null1", n3));
        cluster.node(1).exports.set();
        for (int i = 0; i < 3; i++) {
            int k = i;
            await().atMost(WAIT).untilAsserted(() -> assertThat(bdevs(cluster.node(k).call("cluster_get_bdevs", null)))
                    .containsExactly("node3:Null1"));
        }
    }

    @Test
    @Timeout(180)
    @DisplayName("bdev_cluster_attach resolves through the directory: ambiguous names list the candidates, unknown ones are -19, node or UUID pick one; detach")
    void attachResolvesThroughTheDirectory() throws Exception {
        cluster = new TestCluster(3, "5s");
        RecordingRemoteBdevs remote = new RecordingRemoteBdevs();
        cluster.start(0, null, c -> c.remoteBdevs(remote));
        cluster.start(1, null, c -> c.remoteBdevs(RemoteBdevs.NONE)); // a member without an initiator
        cluster.start(2);
        awaitAllUp(0, 1, 2);
        String u2 = UUID.randomUUID().toString();
        String u3 = UUID.randomUUID().toString();
        cluster.node(1).exports.set(export("nqn.2016-06.io.spindle:node2", 1, "Malloc0", u2));
        cluster.node(2).exports.set(export("nqn.2016-06.io.spindle:node3", 1, "Malloc0", u3));
        await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(0).call("cluster_get_bdevs", null)).hasSize(2));

        assertThatThrownBy(() -> cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"C\",\"bdev\":\"Malloc0\"}"))
                .isInstanceOf(RpcException.class)
                .satisfies(x -> assertThat(((RpcException) x).code()).isEqualTo(-22))
                .hasMessageContaining("bdev=Malloc0 is ambiguous").hasMessageContaining("node2 (").hasMessageContaining("node3 (")
                .hasMessageContaining(u2).hasMessageContaining(u3);
        assertThatThrownBy(() -> cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"C\",\"bdev\":\"Malloc9\"}"))
                .isInstanceOf(RpcException.class).satisfies(x -> assertThat(((RpcException) x).code()).isEqualTo(-19))
                .satisfies(x -> assertThat(((RpcException) x).detail()).contains("not in the cluster directory"));
        assertThatThrownBy(() -> cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"C\"}"))
                .isInstanceOf(RpcException.class).hasMessageContaining("bdev is required");
        assertThatThrownBy(() -> cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"C\",\"bdev\":\"Malloc0\",\"ctrlr_loss_timeout_sec\":-2}"))
                .isInstanceOf(RpcException.class).hasMessageContaining("ctrlr_loss_timeout_sec=-2: must be between -1 and");

        JsonNode r = cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"Cluster2\",\"bdev\":\"Malloc0\",\"node\":\"node2\"}");
        assertThat(r.toString()).isEqualTo("[\"Cluster2n1\"]");
        RemoteBdevs.AttachSpec spec = remote.attached.get("Cluster2");
        assertThat(spec.export().uuid()).isEqualTo(u2);
        assertThat(spec.nodeName()).isEqualTo("node2");
        assertThat(spec.listener()).isEqualTo(new Listener("AERON", "IPv4", "127.0.0.1", "4420"));
        assertThat(spec.options()).isEqualTo(new ClusterConfig.AttachDefaults(-1, 1, 0));
        r = cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"Cluster3\",\"bdev\":\"" + u3 + "\",\"reconnect_delay_sec\":2}");
        assertThat(r.toString()).isEqualTo("[\"Cluster3n1\"]");
        assertThat(remote.attached.get("Cluster3").options().reconnectDelaySec()).isEqualTo(2);
        assertThatThrownBy(() -> cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"Cluster3\",\"bdev\":\"" + u2 + "\"}"))
                .isInstanceOf(RpcException.class).satisfies(x -> assertThat(((RpcException) x).code()).isEqualTo(-17));

        assertThat(cluster.node(0).call("bdev_cluster_detach", "{\"name\":\"Cluster3\"}").asBoolean()).isTrue();
        assertThat(remote.detached).containsExactly("Cluster3");
        assertThatThrownBy(() -> cluster.node(0).call("bdev_cluster_detach", "{\"name\":\"Cluster3\"}"))
                .isInstanceOf(RpcException.class).satisfies(x -> assertThat(((RpcException) x).code()).isEqualTo(-19));

        // a node without an initiator refuses attach with -95; it resolves the bdev in its own replica of the directory
        // first (an unknown bdev is -19 there too), so wait until that replica lists the export: above, only node 0's was
        // awaited, and a slow replica made this call fail with -19 once
        await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(1).call("cluster_get_bdevs", null)).hasSize(2));
        assertThatThrownBy(() -> cluster.node(1).call("bdev_cluster_attach", "{\"name\":\"X\",\"bdev\":\"" + u3 + "\"}"))
                .isInstanceOf(RpcException.class).satisfies(x -> assertThat(((RpcException) x).code()).isEqualTo(-95));
    }

    @Test
    @Timeout(180)
    @DisplayName("a graceful leave unpublishes first: the leaving node's bdevs leave every directory, then it is removed (was exiting) and its attachments detached")
    void gracefulLeave() throws Exception {
        cluster = new TestCluster(3, "5s");
        RecordingRemoteBdevs remote = new RecordingRemoteBdevs();
        cluster.start(0, null, c -> c.remoteBdevs(remote));
        cluster.start(1);
        cluster.start(2);
        awaitAllUp(0, 1, 2);
        String u3 = UUID.randomUUID().toString();
        cluster.node(2).exports.set(export("nqn.2016-06.io.spindle:node3", 1, "Malloc0", u3));
        await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(0).call("cluster_get_bdevs", null)).hasSize(1));
        cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"Cluster3\",\"bdev\":\"Malloc0\"}");

        cluster.stop(2);
        for (int i = 0; i < 2; i++) {
            int k = i;
            await().atMost(WAIT).untilAsserted(() -> assertThat(upNames(cluster.node(k).call("cluster_get_nodes", null)))
                    .containsExactlyInAnyOrder("node1", "node2"));
            await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(k).events).anyMatch(l -> l.startsWith("member removed: node3")
                    && l.endsWith("(was exiting)")));
            assertThat(cluster.node(k).call("cluster_get_bdevs", null)).isEmpty();
            assertThat(cluster.node(k).call("cluster_get_nodes", null).get("nodes")).hasSize(2);
        }
        // node3's entry was withdrawn before it left: node1 saw it go before the removal
        List<String> ev = cluster.node(0).events;
        int unlisted = indexOf(ev, "directory: node3");
        int removed = indexOf(ev, "member removed: node3");
        assertThat(unlisted).as("entry withdrawn in " + ev).isGreaterThanOrEqualTo(0);
        assertThat(ev.get(unlisted)).contains("no longer listed");
        assertThat(unlisted).isLessThan(removed);
        await().atMost(WAIT).untilAsserted(() -> assertThat(remote.detached).containsExactly("Cluster3"));
    }

    @Test
    @Timeout(240)
    @DisplayName("joinAtStart(false): the node is no member until join(), which publishes its exports before it joins; every member then lists them; a second join() joins nothing more")
    void deferredJoinPublishesTheExportsFirst() throws Exception {
        cluster = new TestCluster(4, "5s");
        cluster.start(0);
        cluster.start(1);
        awaitAllUp(0, 1);
        TestCluster.Node late = cluster.start(2, null, c -> c.joinAtStart(false));
        String u3 = UUID.randomUUID().toString();
        late.exports.set(export("nqn.2016-06.io.spindle:node3", 1, "Malloc0", u3));
        // a node started after it, joining at its start, becomes a member: had node3 joined at its start it would be one too
        cluster.start(3);
        awaitAllUp(0, 1, 3);
        assertThat(cluster.node(0).call("cluster_get_nodes", null).get("nodes")).hasSize(3);
        assertThat(late.call("cluster_get_nodes", null).get("nodes")).as("node3 sees no member, itself included").isEmpty();
        assertThat(late.events).noneMatch(l -> l.startsWith("member ") || l.startsWith("joining"));

        late.cluster.join().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        awaitAllUp(0, 1, 2, 3);
        for (int i : new int[] {0, 1, 3}) {
            await().atMost(WAIT).untilAsserted(() -> assertThat(bdevs(cluster.node(i).call("cluster_get_bdevs", null)))
                    .containsExactly("node3:Malloc0"));
        }
        // node3's narration in order: the join sent with its entry published, then welcomed (joining), then up
        List<String> ev = late.events;
        int join = indexOf(ev, "joining the cluster through ");
        assertThat(join).as("join narrated in " + ev).isNotNegative();
        assertThat(ev.get(join)).endsWith("with its exports published: Malloc0");
        assertThat(indexOf(ev, "this node (node3) is up")).isGreaterThan(join);
        int joining = indexOf(ev, "member joining: node3");
        if (joining >= 0) {
            assertThat(joining).isGreaterThan(join);
        }
        late.cluster.join().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(late.events.stream().filter(l -> l.startsWith("joining the cluster")).count()).isEqualTo(1);
    }

    private static int indexOf(List<String> events, String prefix) {
        for (int i = events.size() - 1; i >= 0; i--) {
            if (events.get(i).startsWith(prefix)) {
                return i;
            }
        }
        return -1;
    }

    @Test
    @Timeout(240)
    @DisplayName("a crashed node becomes unreachable, the Split Brain Resolver downs it, its attachments are hot-removed on the attaching node, and a restart joins as a new incarnation that can be attached again")
    void crashDownedByResolverThenRejoin() throws Exception {
        cluster = new TestCluster(3, "2s");
        RecordingRemoteBdevs remote = new RecordingRemoteBdevs();
        cluster.start(0, null, c -> c.remoteBdevs(remote));
        cluster.start(1);
        cluster.start(2, "pekko.coordinated-shutdown.run-by-actor-system-terminate = off", c -> c);
        awaitAllUp(0, 1, 2);
        String u2 = UUID.randomUUID().toString();
        String u3 = UUID.randomUUID().toString();
        cluster.node(1).exports.set(export("nqn.2016-06.io.spindle:node2", 1, "Malloc0", u2));
        cluster.node(2).exports.set(export("nqn.2016-06.io.spindle:node3", 1, "Malloc0", u3));
        await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(0).call("cluster_get_bdevs", null)).hasSize(2));
        cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"Cluster2\",\"bdev\":\"Malloc0\",\"node\":\"node2\"}");
        cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"Cluster3\",\"bdev\":\"Malloc0\",\"node\":\"node3\"}");
        long uid3 = uidOf(cluster.node(0).call("cluster_get_nodes", null), "node3");

        cluster.crash(2);
        for (int i = 0; i < 2; i++) {
            int k = i;
            await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(k).events).anyMatch(l -> l.startsWith("member unreachable: node3")));
            await().atMost(WAIT).untilAsserted(() -> assertThat(cluster.node(k).events).anyMatch(l -> l.startsWith("member removed: node3")
                    && l.endsWith("(was down)")));
            await().atMost(WAIT).untilAsserted(() -> assertThat(bdevs(cluster.node(k).call("cluster_get_bdevs", null)))
                    .containsExactly("node2:Malloc0"));
        }
        await().atMost(WAIT).untilAsserted(() -> assertThat(remote.detached).containsExactly("Cluster3"));
        assertThat(remote.attached).containsOnlyKeys("Cluster2");
        assertThat(cluster.node(0).events).anyMatch(l -> l.startsWith("hot-removing Cluster3 (bdevs Cluster3n1): its node node3 was downed"));

        // node3 restarts on the same address: a new incarnation, its bdevs back in the directory, attachable again
        cluster.start(2);
        cluster.node(2).exports.set(export("nqn.2016-06.io.spindle:node3", 1, "Malloc0", u3));
        awaitAllUp(0, 1, 2);
        await().atMost(WAIT).untilAsserted(() -> assertThat(bdevs(cluster.node(0).call("cluster_get_bdevs", null)))
                .containsExactlyInAnyOrder("node2:Malloc0", "node3:Malloc0"));
        assertThat(uidOf(cluster.node(0).call("cluster_get_nodes", null), "node3")).isNotEqualTo(uid3);
        JsonNode r = cluster.node(0).call("bdev_cluster_attach", "{\"name\":\"Cluster3\",\"bdev\":\"Malloc0\",\"node\":\"node3\"}");
        assertThat(r.toString()).isEqualTo("[\"Cluster3n1\"]");
    }

    private static long uidOf(JsonNode view, String name) {
        for (JsonNode n : view.get("nodes")) {
            if (n.get("name").asText().equals(name)) {
                return n.get("uid").asLong();
            }
        }
        throw new AssertionError(name + " not in " + view);
    }
}
