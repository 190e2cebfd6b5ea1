package io.spindle.transport;

import com.fasterxml.jackson.databind.JsonNode;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A namespace added on the target while a host is connected reaches the host without a reconnect (ASYNC_EVENT
 * NS_ADDED, as NVMe's namespace-attribute-changed notice that SPDK's bdev_nvme acts on): its bdev appears with the
 * target bdev's geometry and UUID and serves I/O; removing the namespace removes it again.
 */
class NamespaceAddedTest {
    @Test
    void aNamespaceAddedWhileConnectedAppearsOnTheHostServesIoAndGoesWhenRemoved() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_nsadd", ""); Node host = Node.host("host_nsadd", "")) {
            tgt.export(RemoteBdevUdpTest.NQN, "127.0.0.1", "ipv4", port, true);
            host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ""));
            assertThat(host.layer.get("Nvme0n3")).isNull();

            tgt.rpc("bdev_malloc_create", "{\"name\":\"Malloc7\",\"num_blocks\":2048,\"block_size\":512,"
                    + "\"uuid\":\"5b1bbd2c-57a4-4e5e-8f61-3f4f0c3b7a11\"}");
            JsonNode nsid = tgt.rpc("nvmf_subsystem_add_ns", "{\"nqn\":\"" + RemoteBdevUdpTest.NQN + "\",\"namespace\":{\"bdev_name\":\"Malloc7\",\"nsid\":3}}");
            assertThat(nsid.asLong()).isEqualTo(3);

            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> host.layer.get("Nvme0n3") != null);
            JsonNode b = host.rpc("bdev_get_bdevs", "{\"name\":\"Nvme0n3\"}").get(0);
            assertThat(b.get("block_size").asInt()).isEqualTo(512);
            assertThat(b.get("num_blocks").asLong()).isEqualTo(2048);
            assertThat(b.get("uuid").asText()).isEqualTo("5b1bbd2c-57a4-4e5e-8f61-3f4f0c3b7a11");
            assertThat(host.rpc("bdev_nvme_get_controllers", "{\"name\":\"Nvme0\"}").toString()).contains("Nvme0");

            Verifier.Result r = new Verifier(host.layer, host.spindle.reactors().reactor(0), "Nvme0n3", 8, 512, 400).start().get(60, TimeUnit.SECONDS);
            assertThat(r.failed()).isZero();
            assertThat(r.miscompares()).isZero();
            assertThat(r.completed()).isEqualTo(r.submitted()).isPositive();

            tgt.rpc("nvmf_subsystem_remove_ns", "{\"nqn\":\"" + RemoteBdevUdpTest.NQN + "\",\"nsid\":3}");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> host.layer.get("Nvme0n3") == null);
            assertThat(host.layer.get("Nvme0n1")).as("the other namespaces stay").isNotNull();
        }
    }

    @Test
    void anExportedBdevIsClaimedByTheTargetAndAClaimedBdevCannotBeExported() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_nsclaim", "")) {
            tgt.export(RemoteBdevUdpTest.NQN, "127.0.0.1", "ipv4", port, true);
            JsonNode m0 = tgt.rpc("bdev_get_bdevs", "{\"name\":\"Malloc0\"}").get(0);
            assertThat(m0.get("claimed").asBoolean()).as("Malloc0 exported as nsid 1").isTrue();
            assertThat(m0.get("claim_type").asText()).isEqualTo("exclusive_write");
            // nothing else may stack on an exported bdev (SPDK: the nvmf target's module claim)
            assertThatThrownBy(() -> tgt.rpc("bdev_passthru_create", "{\"base_bdev_name\":\"Malloc0\",\"name\":\"PT0\"}"))
                    .isInstanceOf(Node.RpcFailure.class);
            assertThat(tgt.layer.get("PT0")).isNull();

            // a bdev another module claimed cannot become a namespace; the error names the bdev and the holder
            tgt.rpc("bdev_malloc_create", "{\"name\":\"Malloc8\",\"num_blocks\":256,\"block_size\":512}");
            tgt.rpc("bdev_passthru_create", "{\"base_bdev_name\":\"Malloc8\",\"name\":\"PT8\"}");
            assertThatThrownBy(() -> tgt.rpc("nvmf_subsystem_add_ns", "{\"nqn\":\"" + RemoteBdevUdpTest.NQN
                    + "\",\"namespace\":{\"bdev_name\":\"Malloc8\"}}")).hasMessageContaining("bdev_name=Malloc8").hasMessageContaining("claimed");

            // removing the namespace releases the claim
            tgt.rpc("nvmf_subsystem_remove_ns", "{\"nqn\":\"" + RemoteBdevUdpTest.NQN + "\",\"nsid\":1}");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> !tgt.rpc("bdev_get_bdevs", "{\"name\":\"Malloc0\"}").get(0).get("claimed").asBoolean());
            tgt.rpc("bdev_passthru_create", "{\"base_bdev_name\":\"Malloc0\",\"name\":\"PT0\"}");
            assertThat(tgt.layer.get("PT0")).isNotNull();
        }
    }
}
