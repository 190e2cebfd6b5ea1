package io.spindle.bdev;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.BackendHarness;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.nullbdev.NullModule;
import io.spindle.runtime.IoChannel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** bdev JSON as {@code bdev_get_bdevs} shows it, config writers, the null module, and {@code enomem_multi_bdev_unregister}. */
@Timeout(60)
class BdevJsonAndMultiTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-json-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    void bdevJsonHasSpdkFieldsAndConfigRecreatesTheBdev() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 128, 4096)));
            ObjectMapper m = new ObjectMapper();
            ObjectNode j = b.toJson(m);
            assertThat(j.get("name").asText()).isEqualTo("Malloc0");
            assertThat(j.get("product_name").asText()).isEqualTo("Malloc disk");
            assertThat(j.get("block_size").asInt()).isEqualTo(4096);
            assertThat(j.get("num_blocks").asLong()).isEqualTo(128);
            assertThat(j.get("uuid").asText()).isEqualTo(b.uuid().toString());
            assertThat(j.get("claimed").asBoolean()).isFalse();
            assertThat(j.get("supported_io_types").get("read").asBoolean()).isTrue();
            assertThat(j.get("supported_io_types").get("compare").asBoolean()).as("emulated").isTrue();
            assertThat(j.get("supported_io_types").get("abort").asBoolean()).isFalse();
            assertThat(j.get("assigned_rate_limits").get("rw_ios_per_sec").asLong()).isZero();
            // SPDK's malloc has no dump_info_json ({}); Spindle's names the memory backing it, the one addition (issue 17)
            assertThat(j.get("driver_specific").size()).isEqualTo(1);
            assertThat(j.get("driver_specific").get("malloc").get("memory").asText()).isIn("4KiB pages",
                    "hugetlbfs " + io.spindle.env.HugePages.sizeName(io.spindle.env.HugePages.process().mount() == null ? 2L << 20
                            : io.spindle.env.HugePages.process().mount().pageSize()));
            ObjectNode cfg = b.driver.writeConfig(b);
            assertThat(cfg.get("method").asText()).isEqualTo("bdev_malloc_create");
            assertThat(cfg.get("params").get("num_blocks").asLong()).isEqualTo(128);
            assertThat(cfg.get("params").get("uuid").asText()).isEqualTo(b.uuid().toString());
        }
    }

    @Test
    void nullBdevCompletesFromItsPollerAndZeroFillsOnlyWhenAsked() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(4096)) {
            h.await(h.nul.create(h.layer, NullModule.Options.of("Null0", 1024, 4096)));
            h.await(h.nul.create(h.layer, new NullModule.Options("Null1", 1024, 4096, null, true)));
            List<String> done = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> done.add(arg + ":" + st);
            for (String n : List.of("Null0", "Null1")) {
                BdevDescriptor d = h.on(0, () -> h.layer.open(n, true, (e, b, desc) -> { }));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                buf.fill(0, 4096, (byte) 9);
                assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 0, 1, cb, n))).isZero();
                h.poll();
                assertThat(buf.getByte(100)).as(n).isEqualTo(n.equals("Null0") ? (byte) 9 : (byte) 0);
                assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 0, 5, 1, cb, n + "w"))).isZero();
                h.poll();
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
            assertThat(done).containsExactly("Null0:SUCCESS", "Null0w:SUCCESS", "Null1:SUCCESS", "Null1w:SUCCESS");
            assertThat(h.await(h.nul.delete(h.layer, "Malloc?"))).isEqualTo(io.spindle.runtime.Errno.ENODEV);
            assertThat(h.await(h.nul.delete(h.layer, "Null0"))).isZero();
        }
    }

    @Test
    @DisplayName("enomem_multi_bdev_unregister: unregistering a bdev aborts its NOMEM-queued I/O; another bdev's still completes")
    void enomemMultiBdevUnregister() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
            for (String n : List.of("A", "B")) {
                TestModule.Opts o = new TestModule.Opts().name(n);
                o.nomemFirst = 1;
                h.await(h.test.create(h.layer, o));
            }
            List<String> done = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> done.add(arg + ":" + st);
            BdevDescriptor a = h.on(0, () -> h.layer.open("A", true, (e, b, desc) -> {
                if (e == BdevEvent.REMOVE) {
                    desc.close(); // the channel is put by the test below: the unregister waits for it too
                }
            }));
            BdevHarness.Opened oBd = h.open(0, "B");
            IoChannel<BdevChannel> ca = h.on(0, a::getIoChannel);
            BdevDescriptor bd = oBd.desc;
            IoChannel<BdevChannel> cbh = oBd.ch;
            h.on(0, () -> {
                assertThat(a.readBlocks(ca, buf, 0, 0, 1, cb, "a0")).isZero();
                assertThat(a.readBlocks(ca, buf, 0, 2, 1, cb, "a1")).isZero();
                assertThat(bd.readBlocks(cbh, buf, 0, 0, 1, cb, "b0")).isZero();
                return null;
            });
            h.poll();
            assertThat(done).isEmpty(); // all three wait for module resources
            CompletableFuture<Integer> un = h.layer.unregister("A").toCompletableFuture();
            h.group.pollUntil(() -> done.size() >= 2, BackendHarness.T);
            assertThat(done).containsExactlyInAnyOrder("a0:ABORTED", "a1:ABORTED");
            h.on(0, () -> {
                ca.put();
                return null;
            });
            h.group.pollUntil(un::isDone, BackendHarness.T);
            assertThat(un.join()).isZero();
            h.group.advanceTime(Duration.ofMillis(11));
            h.poll();
            assertThat(done).contains("b0:SUCCESS");
            oBd.close();
        }
    }
}
