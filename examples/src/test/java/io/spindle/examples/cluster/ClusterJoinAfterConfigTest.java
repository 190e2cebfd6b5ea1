package io.spindle.examples.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A {@code spindle tgt --cluster --json} node joins the cluster only once its JSON config has created its exports:
 * the other members never see it as a member without them, and its directory entry is in its own replica before it
 * joins. Node 1 in this JVM, nodes 2 and 3 as {@code spindle tgt} processes ({@link LocalCluster}). Node 2 is held
 * with {@code --wait-for-rpc} (its config's exports are made only after {@code framework_start_init}); node 3,
 * started after it, joins first: had node 2 joined at its start, as before, it would be a member by then.
 */
class ClusterJoinAfterConfigTest {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private LocalCluster cluster;

    @AfterEach
    void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private List<String> members() throws Exception {
        List<String> out = new ArrayList<>();
        for (JsonNode n : cluster.call("cluster_get_nodes", null).get("nodes")) {
            out.add(n.get("name").asText() + ":" + n.get("status").asText());
        }
        return out;
    }

    private String log(int k) throws Exception {
        return Files.readString(cluster.log(k));
    }

    private static int indexOf(List<String> lines, String start) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(start)) {
                return i;
            }
        }
        return -1;
    }

    @Test
    @Timeout(400)
    @DisplayName("a tgt node with a JSON config joins once the config has created its exports: not a member while the config is pending, then listed with its bdev")
    void nodeJoinsOnlyOnceItsConfigHasCreatedItsExports() throws Exception {
        cluster = new LocalCluster(3, List.of());
        List<String> events = new CopyOnWriteArrayList<>();
        cluster.startNode1(events::add);
        await().atMost(WAIT).untilAsserted(() -> assertThat(members()).containsExactly("node1:up"));

        // node 2: its config waits for framework_start_init, so its export does not exist yet
        Process p2 = cluster.startNode(2, 256, "--wait-for-rpc");
        await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            assertThat(p2.isAlive()).as("node 2 runs").isTrue();
            assertThat(log(2)).contains("spindle tgt: waiting for framework_start_init");
        });

        // node 3, started after it with its config applied at once, joins and is listed with its export
        cluster.startNode(3, 256);
        await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> assertThat(members()).contains("node3:up"));
        cluster.awaitExport("node3", WAIT);
        // node 2's Pekko was up and had the same seeds before node 3's process existed; still it is not a member
        assertThat(members()).as("node 2, its config pending, is not a member").containsExactlyInAnyOrder("node1:up", "node3:up");
        assertThat(events).noneMatch(l -> l.contains("node2"));
        assertThat(log(2)).doesNotContain("member joining: node2").doesNotContain("this node (node2) is up")
                .doesNotContain("joining the cluster");

        // the config runs: the export exists, then the node joins
        cluster.call(2, "framework_start_init", null);
        await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> assertThat(members()).contains("node2:up"));
        cluster.awaitExport("node2", WAIT);
        JsonNode entry = cluster.call("cluster_get_bdevs", "{\"name\":\"Malloc0\",\"node\":\"node2\"}").get(0);
        assertThat(entry.get("status").asText()).isEqualTo("up");
        assertThat(entry.get("nqn").asText()).isEqualTo("nqn.2016-06.io.spindle:node2");

        await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> assertThat(log(2)).contains("this node (node2) is up"));
        // node 2's own narration, in order: the export published, the join sent with it, then welcomed as joining
        List<String> lines2 = new ArrayList<>();
        for (String l : Files.readAllLines(cluster.log(2))) {
            if (l.startsWith("spindle tgt: cluster: ")) {
                lines2.add(l.substring("spindle tgt: cluster: ".length()));
            }
        }
        int join = indexOf(lines2, "joining the cluster through ");
        int joining = indexOf(lines2, "member joining: node2 ");
        int up = indexOf(lines2, "this node (node2) is up");
        assertThat(join).as("node 2 narrates its join: " + lines2).isNotNegative();
        assertThat(lines2.get(join)).endsWith("with its exports published: Malloc0");
        assertThat(up).as("node 2 is up after it joined: " + lines2).isGreaterThan(join);
        if (joining >= 0) {
            assertThat(joining).as("welcomed after the join was sent: " + lines2).isGreaterThan(join);
        }
    }
}
