package io.spindle.backends;

import io.spindle.backends.aio.AioModule;
import io.spindle.backends.delay.DelayModule;
import io.spindle.backends.error.ErrorModule;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.mapped.MappedModule;
import io.spindle.backends.passthru.PassthruModule;
import io.spindle.backends.raid.RaidLevel;
import io.spindle.backends.raid.RaidModule;
import io.spindle.backends.split.SplitModule;
import io.spindle.bdev.BdevLayer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Hot-remove of a base under I/O at queue depth 64 (32 on each of two real reactors), for every module: every I/O
 * accepted completes exactly once (as many completions as submits, whatever the status), the virtual bdevs over the
 * removed base go away (their users get REMOVE), raid0 and concat go offline, and raid1 degrades and keeps serving
 * with no failed I/O and no miscompare.
 */
@Timeout(120)
class HotRemoveUnderLoadTest {
    static final Duration T = Duration.ofSeconds(60);

    static void malloc(BdevLayer l, String name) {
        join(l.module(MallocModule.class).create(l, MallocModule.Options.of(name, 8192, 512)));
    }

    static <X> X join(java.util.concurrent.CompletionStage<X> st) {
        try {
            return st.toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static void awaitCompletions(QdLoad load, long n) {
        await().atMost(T).until(() -> load.completed() >= n || load.drained().isDone());
    }

    static void assertExactlyOnce(QdLoad load) {
        await().atMost(T).until(() -> load.drained().isDone());
        assertThat(load.completed()).as("completions == submits").isEqualTo(load.submitted.get());
        assertThat(load.submitted.get()).isPositive();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"passthru", "split", "delay", "error"})
    @DisplayName("a virtual bdev over a base removed under QD 64: REMOVE to its users, every I/O completes once, the vbdev is gone")
    void vbdevGoesWithItsBase(String kind) throws Exception {
        try (TgtHarness t = new TgtHarness("hr-" + kind)) {
            BdevLayer l = t.layer();
            malloc(l, "Malloc0");
            String top = switch (kind) {
                case "passthru" -> join(l.module(PassthruModule.class).create(l, "PT0", "Malloc0", null));
                case "split" -> join(l.module(SplitModule.class).create(l, "Malloc0", 2, 0)).get(1);
                case "delay" -> join(l.module(DelayModule.class).create(l, "D0", "Malloc0", null, DelayModule.Latencies.all(20)));
                default -> {
                    join(l.module(ErrorModule.class).create(l, "Malloc0", null));
                    yield "EE_Malloc0";
                }
            };
            QdLoad load = new QdLoad(l, top, QdLoad.Mode.RANDRW, 8, 32, 0, 1);
            awaitCompletions(load, 2000);
            assertThat(join(l.module(MallocModule.class).delete(l, "Malloc0"))).isZero();
            assertExactlyOnce(load);
            assertThat(load.removes.get()).as("REMOVE on both reactors").isEqualTo(2);
            assertThat(l.bdevs()).isEmpty();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"raid0", "concat"})
    @DisplayName("raid0 and concat lose a base under QD 64: offline and unregistered, every I/O completes once")
    void stripedRaidGoesOffline(String level) throws Exception {
        try (TgtHarness t = new TgtHarness("hr-" + level)) {
            BdevLayer l = t.layer();
            malloc(l, "M0");
            malloc(l, "M1");
            RaidModule raid = l.module(RaidModule.class);
            join(raid.create(l, new RaidModule.Options("r", RaidLevel.parse(level), 16, List.of("M0", "M1"), null)));
            QdLoad load = new QdLoad(l, "r", QdLoad.Mode.RANDRW, 8, 32, 0, 1);
            awaitCompletions(load, 2000);
            join(l.module(MallocModule.class).delete(l, "M1"));
            assertExactlyOnce(load);
            assertThat(load.removes.get()).isEqualTo(2);
            assertThat(l.get("r")).isNull();
            assertThat(raid.getBdevs(RaidModule.Category.OFFLINE)).hasSize(1);
            assertThat(join(raid.delete(l, "r"))).isZero();
        }
    }

    @Test
    @DisplayName("raid1 loses a base under QD 64 (write, read back, compare): degraded, online, 0 failed I/O, 0 miscompares")
    void raid1DegradesAndServes() throws Exception {
        try (TgtHarness t = new TgtHarness("hr-raid1")) {
            BdevLayer l = t.layer();
            malloc(l, "M0");
            malloc(l, "M1");
            RaidModule raid = l.module(RaidModule.class);
            join(raid.create(l, new RaidModule.Options("r", RaidLevel.RAID1, 0, List.of("M0", "M1"), null)));
            QdLoad load = new QdLoad(l, "r", QdLoad.Mode.VERIFY, 8, 32, 0, 1);
            awaitCompletions(load, 2000);
            join(l.module(MallocModule.class).delete(l, "M1"));
            long at = load.completed();
            awaitCompletions(load, at + 4000);
            load.stop();
            assertExactlyOnce(load);
            assertThat(load.failed.get()).isZero();
            assertThat(load.aborted.get()).isZero();
            assertThat(load.miscompares.get()).isZero();
            assertThat(load.removes.get()).isZero();
            var info = raid.getBdevs(RaidModule.Category.ONLINE);
            assertThat(info).hasSize(1);
            assertThat(info.get(0).get("num_base_bdevs_operational").asInt()).isEqualTo(1);
        }
    }

    @Test
    @DisplayName("aio: the file truncated to 0 under QD 64 reads: the failing reads detect the removal, the bdev is deleted, every I/O"
            + " completes once")
    void aioDetectsRemoval(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("hr.img");
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(8 << 20);
        }
        try (TgtHarness t = new TgtHarness("hr-aio")) {
            BdevLayer l = t.layer();
            join(l.module(AioModule.class).create(l, AioModule.Options.of("AIO0", f.toString(), 512)));
            QdLoad load = new QdLoad(l, "AIO0", QdLoad.Mode.READ, 8, 32, 0, 1);
            awaitCompletions(load, 2000);
            try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                r.setLength(0);
            }
            assertExactlyOnce(load);
            assertThat(load.removes.get()).isEqualTo(2);
            assertThat(load.failed.get()).isPositive();
            assertThat(l.bdevs()).isEmpty();
        }
    }

    @Test
    @DisplayName("mapped: deleted under QD 64 writes and reads: REMOVE, every I/O completes once")
    void mappedDeletedUnderLoad(@TempDir Path dir) throws Exception {
        try (TgtHarness t = new TgtHarness("hr-mapped")) {
            BdevLayer l = t.layer();
            MappedModule m = l.module(MappedModule.class);
            join(m.create(l, new MappedModule.Options("Map0", dir.resolve("m.img").toString(), 4096, 2048, null)));
            QdLoad load = new QdLoad(l, "Map0", QdLoad.Mode.VERIFY, 1, 32, 0, 1);
            awaitCompletions(load, 2000);
            assertThat(join(m.delete(l, "Map0"))).isZero();
            assertExactlyOnce(load);
            assertThat(load.removes.get()).isEqualTo(2);
            assertThat(load.miscompares.get()).isZero();
        }
    }
}
