package io.spindle.bdev;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.BackendHarness;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.IoChannel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.EnumSet;

import static org.assertj.core.api.Assertions.assertThat;

/** What {@code bdev_get_iostat} counts, as SPDK's {@code bdev_io_update_io_stat}. */
@Timeout(60)
class BdevIoStatsTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-iostat-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("bdev_io_update_io_stat: read, write and unmap count bytes, ops and latency; a native write_zeroes, flush and reset"
            + " count nothing; a failed I/O counts in io_error by status")
    void onlyReadWriteUnmapCountAndErrorsByStatus() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(8 * 512)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            BdevHarness.Opened o = h.open(0, "Malloc0");
            BdevDescriptor d = o.desc;
            IoChannel<BdevChannel> c = o.ch;
            BdevResetTest.Log log = new BdevResetTest.Log();
            h.on(0, () -> {
                assertThat(d.writeBlocks(c, buf, 0, 0, 8, log, "w")).isZero();
                assertThat(d.readBlocks(c, buf, 0, 0, 4, log, "r")).isZero();
                assertThat(d.unmapBlocks(c, 8, 2, log, "u")).isZero();
                assertThat(d.writeZeroesBlocks(c, 16, 8, log, "z")).isZero();
                assertThat(d.flushBlocks(c, 0, 64, log, "f")).isZero();
                return null;
            });
            h.poll();
            assertThat(h.on(0, () -> d.reset(c, log, "reset"))).isZero();
            h.poll();
            assertThat(log.done).hasSize(6).allMatch(s -> s.contains(":SUCCESS@"));
            IoStats s = h.await(h.layer.stats("Malloc0"));
            assertThat(s.numWriteOps()).as("the native write_zeroes is not a write").isEqualTo(1);
            assertThat(s.bytesWritten()).isEqualTo(8 * 512);
            assertThat(s.numReadOps()).isEqualTo(1);
            assertThat(s.bytesRead()).isEqualTo(4 * 512);
            assertThat(s.numUnmapOps()).isEqualTo(1);
            assertThat(s.bytesUnmapped()).isEqualTo(2 * 512);
            assertThat(s.unmapLatencyMax()).isGreaterThanOrEqualTo(s.unmapLatencyMin());
            assertThat(s.ioErrors()).isZero();
            ObjectNode json = new ObjectMapper().createObjectNode();
            s.writeJson(json);
            assertThat(json.get("num_write_ops").asLong()).isEqualTo(1);
            assertThat(json.get("bytes_unmapped").asLong()).isEqualTo(1024);
            assertThat(json.get("num_copy_ops").asLong()).isZero();
            assertThat(json.get("io_error").size()).isZero();

            // an I/O aborted in the layer (a frozen channel) is an error, counted by status
            h.on(0, () -> {
                c.context().frozen = true;
                assertThat(d.readBlocks(c, buf, 0, 0, 1, log, "aborted")).isZero();
                return null;
            });
            h.poll();
            h.on(0, () -> c.context().frozen = false);
            s = h.await(h.layer.stats("Malloc0"));
            assertThat(s.numReadOps()).as("a failed read adds no read").isEqualTo(1);
            assertThat(s.ioErrors()).isEqualTo(1);
            assertThat(s.errors(IoStatus.ABORTED)).isEqualTo(1);
            json = new ObjectMapper().createObjectNode();
            s.writeJson(json);
            assertThat(json.get("io_error").get("aborted").asLong()).isEqualTo(1);
            o.close();
        }
    }

    @Test
    @DisplayName("bdev_io_update_io_stat: a split read counts each child; an emulated write_zeroes counts its writes, an emulated"
            + " compare its reads; the parent counts nothing of its own")
    void childrenCountParentsDoNot() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(8 * 512)) {
            TestModule.Opts o = new TestModule.Opts();
            o.maxRwSize = 2;
            o.types = EnumSet.of(IoType.READ, IoType.WRITE); // write_zeroes and compare emulated
            h.await(h.test.create(h.layer, o));
            BdevHarness.Opened opened = h.open(0, "Test0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> c = opened.ch;
            BdevResetTest.Log log = new BdevResetTest.Log();
            assertThat(h.on(0, () -> d.readBlocks(c, buf, 0, 0, 8, log, "split"))).isZero();
            h.poll();
            IoStats s = h.await(h.layer.stats("Test0"));
            assertThat(s.numReadOps()).as("four children of 2 blocks").isEqualTo(4);
            assertThat(s.bytesRead()).isEqualTo(8 * 512);

            assertThat(h.on(0, () -> d.writeZeroesBlocks(c, 0, 6, log, "zeroes"))).isZero();
            h.poll();
            s = h.await(h.layer.stats("Test0"));
            assertThat(s.numWriteOps()).as("three writes of zeroes").isEqualTo(3);
            assertThat(s.bytesWritten()).isEqualTo(6 * 512);

            buf.fill(0, 8 * 512, (byte) 0);
            assertThat(h.on(0, () -> d.compareBlocks(c, buf, 0, 0, 4, log, "cmp"))).isZero();
            h.poll();
            s = h.await(h.layer.stats("Test0"));
            assertThat(s.numReadOps()).as("the compare's two reads").isEqualTo(6);
            assertThat(s.bytesRead()).isEqualTo(12 * 512);
            assertThat(s.numWriteOps()).isEqualTo(3);
            assertThat(s.ioErrors()).isZero();
            assertThat(log.done).containsExactly("READ:SUCCESS@split", "WRITE_ZEROES:SUCCESS@zeroes", "COMPARE:SUCCESS@cmp");
            opened.close();
        }
    }
}
