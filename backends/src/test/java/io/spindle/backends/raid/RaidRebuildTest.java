package io.spindle.backends.raid;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.backends.IoKit;
import io.spindle.backends.QdLoad;
import io.spindle.backends.TgtHarness;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.BdevLayer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * SPDK's {@code raid_rebuild_test} scenario without nbd, on real reactors: a raid1 loses a base, a new one is added
 * with {@code bdev_raid_add_base_bdev} and rebuilt in the background while a write/read-back/compare load runs;
 * {@code bdev_raid_get_bdevs} shows the progress; at the end the new base holds exactly what the other does.
 */
@Timeout(120)
class RaidRebuildTest {
    static <X> X join(java.util.concurrent.CompletionStage<X> st) {
        try {
            return st.toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    @DisplayName("raid_rebuild_test: rebuild under I/O with progress; 0 failed I/O, 0 miscompares, the target equals the surviving base")
    void rebuildUnderIo() throws Exception {
        try (TgtHarness t = new TgtHarness("raid-rebuild")) {
            BdevLayer l = t.layer();
            for (String n : new String[] {"M0", "M1", "M2"}) {
                join(l.module(MallocModule.class).create(l, MallocModule.Options.of(n, 32768, 512))); // 16 MiB
            }
            t.call("bdev_raid_set_options", "{\"process_window_size_kb\":128,\"process_max_bandwidth_mb_sec\":64}");
            t.call("bdev_raid_create", "{\"name\":\"r\",\"raid_level\":\"raid1\",\"base_bdevs\":[\"M0\",\"M1\"]}");
            QdLoad load = new QdLoad(l, "r", QdLoad.Mode.VERIFY, 8, 16, 0, 1);
            await().atMost(Duration.ofSeconds(60)).until(() -> load.completed() >= 2000);
            t.call("bdev_raid_remove_base_bdev", "{\"name\":\"M1\"}");
            assertThat(t.call("bdev_raid_add_base_bdev", "{\"raid_bdev\":\"r\",\"base_bdev\":\"M2\"}").asBoolean()).isTrue();
            List<Long> progress = new CopyOnWriteArrayList<>();
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() -> {
                JsonNode r = t.call("bdev_raid_get_bdevs", "{\"category\":\"online\"}").get(0);
                if (r.has("process")) {
                    assertThat(r.at("/process/type").asText()).isEqualTo("rebuild");
                    assertThat(r.at("/process/target").asText()).isEqualTo("M2");
                    progress.add(r.at("/process/progress/blocks").asLong());
                    return false;
                }
                return r.get("num_base_bdevs_operational").asInt() == 2;
            });
            assertThat(progress).as("progress seen while it ran").isNotEmpty();
            List<Long> sorted = new ArrayList<>(progress);
            sorted.sort(Long::compare);
            assertThat(progress).isEqualTo(sorted);
            long at = load.completed();
            await().atMost(Duration.ofSeconds(60)).until(() -> load.completed() >= at + 2000);
            load.stop();
            await().atMost(Duration.ofSeconds(60)).until(() -> load.drained().isDone());
            assertThat(load.failed.get()).isZero();
            assertThat(load.miscompares.get()).isZero();
            assertThat(load.completed()).isEqualTo(load.submitted.get());
            // the target holds what the surviving base does (the raid's bases are claimed: read-only opens)
            IoKit io = new IoKit(l);
            for (long b = 0; b < 32768; b += 4096) {
                assertThat(io.read("M2", b, 4096)).as("blocks from %d", b).isEqualTo(io.read("M0", b, 4096));
            }
            JsonNode r = t.call("bdev_raid_get_bdevs", "{\"category\":\"all\"}").get(0);
            assertThat(r.at("/base_bdevs_list/1/name").asText()).isEqualTo("M2");
        }
    }
}
