package io.spindle.transport;

import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Reactor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Every I/O type of a remote bdev over Aeron UDP: read, write, compare (equal and different), write_zeroes, unmap, flush, reset. */
class IoTypesTest {
    @Test
    void everyIoTypeReachesTheTargetBdevWithItsEffectAndStatus() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_types", ""); Node host = Node.host("host_types", "")) {
            tgt.export(RemoteBdevUdpTest.NQN, "127.0.0.1", "ipv4", port, true);
            host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ""));
            Reactor r = host.spindle.reactors().reactor(1);
            String b = "Nvme0n1";
            int len = 16 * 4096; // above the in-capsule size: sent as data chunks
            byte[] pattern = new byte[len];
            ThreadLocalRandom.current().nextBytes(pattern);
            try (DmaBuffer w = DmaBuffer.allocate(len); DmaBuffer rd = DmaBuffer.allocate(len); DmaBuffer one = DmaBuffer.allocate(4096)) {
                w.put(0, pattern);
                int n = len / 4096;
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.writeBlocks(ch, w, 0, 100, n, cb, null))).isEqualTo(IoStatus.SUCCESS);
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.readBlocks(ch, rd, 0, 100, n, cb, null))).isEqualTo(IoStatus.SUCCESS);
                assertThat(rd.get(0, len)).isEqualTo(pattern);
                // a one-block write rides in the capsule
                one.fill(0, 4096, (byte) 0x5A);
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.writeBlocks(ch, one, 0, 7, 1, cb, null))).isEqualTo(IoStatus.SUCCESS);
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.compareBlocks(ch, one, 0, 7, 1, cb, null))).isEqualTo(IoStatus.SUCCESS);
                one.fill(100, 1, (byte) 0x11);
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.compareBlocks(ch, one, 0, 7, 1, cb, null))).isEqualTo(IoStatus.MISCOMPARE);
                // write_zeroes and unmap zero the range on a malloc bdev
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.writeZeroesBlocks(ch, 100, 4, cb, null))).isEqualTo(IoStatus.SUCCESS);
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.unmapBlocks(ch, 104, 4, cb, null))).isEqualTo(IoStatus.SUCCESS);
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.readBlocks(ch, rd, 0, 100, n, cb, null))).isEqualTo(IoStatus.SUCCESS);
                byte[] expect = pattern.clone();
                Arrays.fill(expect, 0, 8 * 4096, (byte) 0);
                assertThat(rd.get(0, len)).isEqualTo(expect);
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.flushBlocks(ch, 0, 8192, cb, null))).isEqualTo(IoStatus.SUCCESS);
                assertThat(OneIo.run(host.layer, r, b, (d, ch, cb) -> d.reset(ch, cb, null))).isEqualTo(IoStatus.SUCCESS);
                // the null namespace: reads succeed, writes are discarded
                assertThat(OneIo.run(host.layer, r, "Nvme0n2", (d, ch, cb) -> d.writeBlocks(ch, w, 0, 1 << 19, n, cb, null))).isEqualTo(IoStatus.SUCCESS);
                assertThat(OneIo.run(host.layer, r, "Nvme0n2", (d, ch, cb) -> d.readBlocks(ch, rd, 0, (1 << 20) - n, n, cb, null))).isEqualTo(IoStatus.SUCCESS);
            }
            assertThat(tgt.rpc("nvmf_get_subsystems", null).get(1).get("controllers").get(0).get("bad_frames").asLong()).isZero();
        }
    }
}
