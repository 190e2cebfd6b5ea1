package io.spindle.transport;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The target's bdev is hot-removed under QD 64: the namespace goes, the host's bdev is hot-removed, every I/O completes once. */
class HotRemoveTest {
    @Test
    void targetBdevHotRemovedUnderQd64RemovesTheHostBdevAndEveryIoCompletesOnce() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_hr", ""); Node host = Node.host("host_hr", "")) {
            tgt.export(RemoteBdevUdpTest.NQN, "127.0.0.1", "ipv4", port, true);
            host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ""));
            Verifier v = new Verifier(host.layer, host.spindle.reactors().reactor(0), "Nvme0n1", 64, 4096, Long.MAX_VALUE);
            var f = v.start();
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> tgt.rpc("nvmf_get_subsystems", null).get(1).get("controllers").get(0)
                    .get("io_qpairs").get(0).get("commands").asLong() + tgt.rpc("nvmf_get_subsystems", null).get(1).get("controllers").get(0)
                    .get("io_qpairs").get(1).get("commands").asLong() > 2000);
            tgt.rpc("bdev_malloc_delete", "{\"name\":\"Malloc0\"}");
            Verifier.Result r = f.get(30, TimeUnit.SECONDS);
            assertThat(r.removed()).isTrue();
            assertThat(r.doubleCompletions()).isZero();
            assertThat(r.completed()).isEqualTo(r.submitted());
            assertThat(r.miscompares()).isZero();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> host.layer.get("Nvme0n1") == null);
            assertThat(tgt.rpc("nvmf_get_subsystems", null).get(1).get("namespaces").size()).isEqualTo(1);
            // the other namespace still serves
            Verifier.Result n2 = new Verifier(host.layer, host.spindle.reactors().reactor(1), "Nvme0n2", 8, 4096, 200).start().get(30, TimeUnit.SECONDS);
            assertThat(n2.failed()).isZero();
        }
    }
}
