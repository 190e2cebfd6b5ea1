package io.spindle.transport;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** bdev_nvme's fault semantics over Aeron UDP: reset, fast_io_fail, ctrlr_loss, reconnect. */
class FaultTest {
    static final String NQN = RemoteBdevUdpTest.NQN;

    static long commands(Node tgt) throws Exception {
        long n = 0;
        for (var c : tgt.rpc("nvmf_get_subsystems", null).get(1).get("controllers")) {
            for (var q : c.get("io_qpairs")) {
                n += q.get("commands").asLong();
            }
        }
        return n;
    }

    @Test
    void listenerRemovedResetsThenFastIoFailFailsIoThenCtrlrLossHotRemovesTheBdev() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_f1", ""); Node host = Node.host("host_f1", "")) {
            tgt.export(NQN, "127.0.0.1", "ipv4", port, true);
            host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port,
                    ",\"ctrlr_loss_timeout_sec\":4,\"reconnect_delay_sec\":1,\"fast_io_fail_timeout_sec\":2"));
            Verifier v = new Verifier(host.layer, host.spindle.reactors().reactor(0), "Nvme0n1", 16, 4096, Long.MAX_VALUE);
            var f = v.start();
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> commands(tgt) > 1000);
            long t0 = System.nanoTime();
            tgt.rpc("nvmf_subsystem_remove_listener", "{\"nqn\":\"" + NQN + "\",\"listen_address\":{\"trtype\":\"AERON\",\"traddr\":\"127.0.0.1\","
                    + "\"trsvcid\":\"" + port + "\"}}");
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !"enabled".equals(host.rpc("bdev_nvme_get_controllers", null).get(0)
                    .get("ctrlrs").get(0).get("state").asText()));
            Verifier.Result r = f.get(30, TimeUnit.SECONDS);
            long took = (System.nanoTime() - t0) / 1_000_000;
            assertThat(r.removed()).as("REMOVE delivered after ctrlr_loss_timeout_sec").isTrue();
            assertThat(took).as("ms until the bdev was removed").isGreaterThanOrEqualTo(3500);
            assertThat(r.failed()).as("I/O failed after fast_io_fail_timeout_sec").isPositive();
            assertThat(r.doubleCompletions()).isZero();
            assertThat(r.completed()).isEqualTo(r.submitted());
            assertThat(r.miscompares()).isZero();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> host.layer.get("Nvme0n1") == null && host.layer.get("Nvme0n2") == null);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> host.rpc("bdev_nvme_get_controllers", null).isEmpty());
        }
    }

    @Test
    void aTargetBackWithinCtrlrLossTimeoutIsReconnectedAndIoResumesWithoutError() throws Exception {
        int port = Node.freeUdpPort();
        Node tgt = Node.target("tgt_f2", "");
        try (Node host = Node.host("host_f2", "")) {
            tgt.export(NQN, "127.0.0.1", "ipv4", port, true);
            host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port,
                    ",\"ctrlr_loss_timeout_sec\":60,\"reconnect_delay_sec\":1"));
            Verifier v = new Verifier(host.layer, host.spindle.reactors().reactor(1), "Nvme0n1", 8, 4096, 4000);
            var f = v.start();
            Node t = tgt;
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> commands(t) > 500);
            tgt.close();
            tgt = null;
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !"enabled".equals(host.rpc("bdev_nvme_get_controllers", null).get(0)
                    .get("ctrlrs").get(0).get("state").asText()));
            assertThat(f).isNotDone();
            tgt = Node.target("tgt_f2b", "");
            tgt.export(NQN, "127.0.0.1", "ipv4", port, true);
            Verifier.Result r = f.get(60, TimeUnit.SECONDS);
            assertThat(r.failed()).as(String.valueOf(r)).isZero();
            assertThat(r.doubleCompletions()).isZero();
            assertThat(r.completed()).isEqualTo(r.submitted());
            assertThat(r.writes()).isGreaterThanOrEqualTo(4000);
            // (reads retried on the new target may miscompare: its Malloc0 is a new, zeroed RAM disk) a fresh run verifies clean
            Verifier.Result after = new Verifier(host.layer, host.spindle.reactors().reactor(0), "Nvme0n1", 8, 4096, 1000).start()
                    .get(60, TimeUnit.SECONDS);
            assertThat(after.miscompares()).isZero();
            assertThat(after.failed()).isZero();
            assertThat(host.rpc("bdev_nvme_get_controllers", null).get(0).get("ctrlrs").get(0).get("state").asText()).isEqualTo("enabled");
            host.rpc("bdev_nvme_detach_controller", "{\"name\":\"Nvme0\"}");
        } finally {
            if (tgt != null) {
                tgt.close();
            }
        }
    }
}
