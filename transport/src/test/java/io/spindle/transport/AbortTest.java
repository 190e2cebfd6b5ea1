package io.spindle.transport;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPDK's {@code spdk_bdev_abort} on a remote bdev (bdev_nvme's abort): the host sends an ABORT capsule naming the
 * victim's command id, the target aborts it in its bdev layer, the victim completes ABORTED and the abort SUCCESS;
 * an abort that names nothing completes FAILED; every other I/O completes once, untouched.
 */
class AbortTest {
    private static final int READS = 16;
    private static final int BLOCKS = 32; // 128 KiB: at 1 MB/s of target QoS each read waits ~0.13 s for its turn

    @Test
    void abortOfACommandQueuedAtTheTargetEndsItAbortedAndTheAbortSucceeds() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_abort", ""); Node host = Node.host("host_abort", "")) {
            tgt.export(RemoteBdevUdpTest.NQN, "127.0.0.1", "ipv4", port, true);
            // the target's bdev admits 1 MB/s: the reads below queue in its bdev layer (QoS) one behind the other
            tgt.rpc("bdev_set_qos_limit", "{\"name\":\"Malloc0\",\"rw_mbytes_per_sec\":1}");
            host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ""));
            Reactor r = host.spindle.reactors().reactor(1);
            // one I/O first: this reactor's queue pair is connected, so the reads below go out as they are submitted
            try (DmaBuffer one = DmaBuffer.allocate(4096)) {
                assertThat(OneIo.run(host.layer, r, "Nvme0n2", (d, ch, cb) -> d.readBlocks(ch, one, 0, 0, 1, cb, null))).isEqualTo(IoStatus.SUCCESS);
            }
            Object[] args = new Object[READS];
            for (int i = 0; i < READS; i++) {
                args[i] = "read-" + i;
            }
            Object unknown = "never-submitted";
            ConcurrentLinkedQueue<String> events = new ConcurrentLinkedQueue<>();
            AtomicInteger readsDone = new AtomicInteger();
            CompletableFuture<Void> allDone = new CompletableFuture<>();
            List<DmaBuffer> bufs = new ArrayList<>();
            for (int i = 0; i < READS; i++) {
                bufs.add(DmaBuffer.allocate(BLOCKS * 4096L));
            }
            AtomicReference<BdevDescriptor> desc = new AtomicReference<>();
            AtomicReference<IoChannel<BdevChannel>> chan = new AtomicReference<>();
            int[] todo = {READS + 2};
            Runnable oneDone = () -> {
                if (--todo[0] == 0) {
                    chan.get().put();
                    desc.get().close();
                    allDone.complete(null);
                }
            };
            try {
                r.send(() -> {
                    BdevDescriptor d = host.layer.open("Nvme0n1", false, (ev, b, dd) -> { });
                    IoChannel<BdevChannel> ch = d.getIoChannel();
                    desc.set(d);
                    chan.set(ch);
                    for (int i = 0; i < READS; i++) {
                        int rc = d.readBlocks(ch, bufs.get(i), 0, (long) i * BLOCKS, BLOCKS, (io, st, a) -> {
                            events.add(a + "=" + st);
                            readsDone.incrementAndGet();
                            oneDone.run();
                        }, args[i]);
                        assertThat(rc).isZero();
                    }
                    // the last read is the victim: it reaches the target before the ABORT (one publication, in order)
                    int rc = d.abort(ch, args[READS - 1], (io, st, a) -> {
                        events.add("abort=" + st);
                        oneDone.run();
                    }, null);
                    assertThat(rc).isZero();
                    rc = d.abort(ch, unknown, (io, st, a) -> {
                        events.add("abort-unknown=" + st);
                        oneDone.run();
                    }, null);
                    assertThat(rc).isZero();
                });
                allDone.get(60, TimeUnit.SECONDS);
            } finally {
                bufs.forEach(DmaBuffer::close);
            }
            assertThat(events).contains("abort=SUCCESS", "abort-unknown=FAILED", "read-" + (READS - 1) + "=ABORTED");
            for (int i = 0; i < READS - 1; i++) {
                assertThat(events).contains("read-" + i + "=SUCCESS");
            }
            assertThat(events).hasSize(READS + 2); // each I/O completed exactly once
            JsonNode q = host.rpc("bdev_nvme_get_controllers", "{\"name\":\"Nvme0\"}").get(0).get("ctrlrs").get(0).get("io_qpairs");
            long sent = 0;
            for (JsonNode qp : q) {
                sent += qp.get("aborts_sent").asLong();
            }
            assertThat(sent).isEqualTo(1); // the victim's; the unknown one matched nothing and sent nothing
            assertThat(tgt.rpc("nvmf_get_subsystems", null).get(1).get("controllers").get(0).get("bad_frames").asLong()).isZero();
            tgt.rpc("bdev_set_qos_limit", "{\"name\":\"Malloc0\",\"rw_mbytes_per_sec\":0}");
        }
    }
}
