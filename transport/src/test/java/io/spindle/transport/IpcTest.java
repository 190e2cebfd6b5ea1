package io.spindle.transport;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Two apps sharing one media driver (the target's embedded one; the host's is external) over aeron:ipc. */
class IpcTest {
    @Test
    void aHostOnTheTargetsDriverAttachesOverIpcAndVerifies() throws Exception {
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "spindle-aeron-ipc-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        String nqn = RemoteBdevUdpTest.NQN;
        try (Node tgt = Node.target("tgt_ipc", "spindle.transport.aeron-dir = \"" + dir + "\"");
             Node host = Node.host("host_ipc", "spindle.transport { driver = external, aeron-dir = \"" + dir + "\" }")) {
            tgt.export(nqn, "ipc", "intra_host", 4420, true);
            assertThat(host.rpc("bdev_nvme_attach_controller", "{\"name\":\"Nvme0\",\"trtype\":\"AERON\",\"adrfam\":\"intra_host\",\"traddr\":\"ipc\","
                    + "\"trsvcid\":\"4420\",\"subnqn\":\"" + nqn + "\"}").size()).isEqualTo(2);
            Verifier.Result r = new Verifier(host.layer, host.spindle.reactors().reactor(0), "Nvme0n1", 32, 4096, 5000).start().get(60, TimeUnit.SECONDS);
            assertThat(r.miscompares()).isZero();
            assertThat(r.failed()).isZero();
            assertThat(r.completed()).isEqualTo(r.submitted());
            Verifier.Result big = new Verifier(host.layer, host.spindle.reactors().reactor(1), "Nvme0n1", 4, 131072, 200).start().get(60, TimeUnit.SECONDS);
            assertThat(big.miscompares()).isZero();
            assertThat(big.failed()).isZero();
            host.rpc("bdev_nvme_detach_controller", "{\"name\":\"Nvme0\"}");
        }
        assertThat(dir).doesNotExist();
    }
}
