package io.spindle.transport;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Two Spindle apps in one JVM, each with its own embedded media driver, over Aeron UDP on loopback. */
class RemoteBdevUdpTest {
    static final String NQN = "nqn.2016-06.io.spindle:cnode1";

    static String attach(String name, int port, String extra) {
        return "{\"name\":\"" + name + "\",\"trtype\":\"AERON\",\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"" + port
                + "\",\"subnqn\":\"" + NQN + "\"" + extra + "}";
    }

    @Test
    void attachVerifyAt4kAnd128kThenDetach() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_udp", ""); Node host = Node.host("host_udp", "")) {
            tgt.export(NQN, "127.0.0.1", "ipv4", port, true);
            JsonNode names = host.rpc("bdev_nvme_attach_controller", attach("Nvme0", port, ""));
            assertThat(names.toString()).isEqualTo("[\"Nvme0n1\",\"Nvme0n2\"]");
            JsonNode b = host.rpc("bdev_get_bdevs", "{\"name\":\"Nvme0n1\"}").get(0);
            assertThat(b.get("block_size").asInt()).isEqualTo(4096);
            assertThat(b.get("num_blocks").asLong()).isEqualTo(8192);
            assertThat(b.get("uuid").asText()).isEqualTo(tgt.layer.get("Malloc0").uuid().toString());
            JsonNode ds = b.get("driver_specific").get("nvme").get(0); // SPDK's one-element array (one path)
            assertThat(b.get("driver_specific").get("nvme").size()).isEqualTo(1);
            assertThat(ds.get("controller").asText()).isEqualTo("Nvme0");
            assertThat(ds.get("trid").get("traddr").asText()).isEqualTo("127.0.0.1");
            assertThat(ds.get("trid").get("subnqn").asText()).isEqualTo(NQN);

            for (int[] run : new int[][] {{4096, 16, 2000}, {131072, 4, 200}}) {
                Verifier v0 = new Verifier(host.layer, host.spindle.reactors().reactor(0), "Nvme0n1", run[1], run[0], run[2]).part(0, 2);
                Verifier v1 = new Verifier(host.layer, host.spindle.reactors().reactor(1), "Nvme0n1", run[1], run[0], run[2]).part(1, 2);
                var f0 = v0.start();
                var f1 = v1.start();
                for (Verifier.Result r : new Verifier.Result[] {f0.get(60, TimeUnit.SECONDS), f1.get(60, TimeUnit.SECONDS)}) {
                    assertThat(r.miscompares()).as("miscompares at " + run[0]).isZero();
                    assertThat(r.failed()).as("failed at " + run[0]).isZero();
                    assertThat(r.doubleCompletions()).isZero();
                    assertThat(r.completed()).isEqualTo(r.submitted());
                    assertThat(r.writes()).isGreaterThanOrEqualTo(run[2]);
                }
            }
            // what the bdev layer does for any bdev works on a remote one: iostat, QoS, claims
            JsonNode st = host.rpc("bdev_get_iostat", "{\"names\":[\"Nvme0n1\"]}").get("bdevs").get(0);
            assertThat(st.get("num_read_ops").asLong()).isGreaterThanOrEqualTo(4000);
            assertThat(st.get("num_write_ops").asLong()).isGreaterThanOrEqualTo(4000);
            host.rpc("bdev_set_qos_limit", "{\"name\":\"Nvme0n1\",\"rw_ios_per_sec\":2000}");
            long t0 = System.nanoTime();
            Verifier.Result q = new Verifier(host.layer, host.spindle.reactors().reactor(0), "Nvme0n1", 8, 4096, 1000).start().get(60, TimeUnit.SECONDS);
            assertThat(q.failed()).isZero();
            assertThat(System.nanoTime() - t0).as("2000 I/O under a 2000 IOPS limit").isGreaterThan(700_000_000L);
            host.rpc("bdev_set_qos_limit", "{\"name\":\"Nvme0n1\",\"rw_ios_per_sec\":0}");
            io.spindle.bdev.Bdev nb = host.layer.get("Nvme0n2");
            assertThat(host.layer.claimBdev(nb, null, nb.module())).isZero();
            assertThat(nb.claimed()).isTrue();
            assertThat(host.layer.releaseBdev(nb, nb.module())).isZero();

            JsonNode ctrls = host.rpc("bdev_nvme_get_controllers", null);
            assertThat(ctrls.get(0).get("ctrlrs").get(0).get("state").asText()).isEqualTo("enabled");
            JsonNode subs = tgt.rpc("nvmf_get_subsystems", null);
            assertThat(subs.get(1).get("controllers").get(0).get("num_io_qpairs").asInt()).isEqualTo(2);
            assertThat(subs.get(1).get("controllers").get(0).get("bad_frames").asLong()).isZero();

            host.rpc("bdev_nvme_detach_controller", "{\"name\":\"Nvme0\"}");
            assertThat(host.layer.get("Nvme0n1")).isNull();
            assertThat(host.rpc("bdev_nvme_get_controllers", null)).isEmpty();
        }
    }
}
