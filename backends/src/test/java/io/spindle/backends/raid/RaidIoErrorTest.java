package io.spindle.backends.raid;

import io.spindle.backends.QdLoad;
import io.spindle.backends.TgtHarness;
import io.spindle.backends.error.ErrorModule;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.passthru.PassthruModule;
import io.spindle.bdev.BdevLayer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * SPDK's {@code raid_io_error_test} ({@code test/bdev/bdev_raid.sh}) as a Spindle test, on real reactors: each base
 * is malloc → {@code bdev_error_create} → {@code bdev_passthru_create}; a random read/write load runs on the raid;
 * {@code failure} is injected on one base's error bdev. raid1 drops that base, stays online and fails no I/O; raid0
 * and concat fail I/O.
 */
@Timeout(120)
class RaidIoErrorTest {
    static <X> X join(java.util.concurrent.CompletionStage<X> st) {
        try {
            return st.toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @ParameterizedTest(name = "raid_io_error_test {0} {1} bases")
    @CsvSource({"raid0, 2", "concat, 2", "raid1, 2", "raid1, 4"})
    @DisplayName("raid_io_error_test: failure injected on one base under randrw")
    void raidIoErrorTest(String level, int n) throws Exception {
        try (TgtHarness t = new TgtHarness("raid-io-error")) {
            BdevLayer l = t.layer();
            List<String> bases = new ArrayList<>();
            for (int i = 1; i <= n; i++) {
                join(l.module(MallocModule.class).create(l, MallocModule.Options.of("BaseBdev" + i + "_malloc", 8192, 512)));
                join(l.module(ErrorModule.class).create(l, "BaseBdev" + i + "_malloc", null));
                join(l.module(PassthruModule.class).create(l, "BaseBdev" + i, "EE_BaseBdev" + i + "_malloc", null));
                bases.add("BaseBdev" + i);
            }
            RaidModule raid = l.module(RaidModule.class);
            RaidLevel lv = RaidLevel.parse(level);
            join(raid.create(l, new RaidModule.Options("raid_bdev1", lv, lv.striped() ? 64 : 0, bases, null)));
            QdLoad load = new QdLoad(l, "raid_bdev1", QdLoad.Mode.RANDRW, 8, 16, 0, 1);
            await().atMost(Duration.ofSeconds(60)).until(() -> load.completed() >= 2000);
            // SPDK: bdev_error_inject_error EE_BaseBdev1_malloc <write for raid1, read otherwise> failure
            join(l.module(ErrorModule.class).injectError(l, "EE_BaseBdev1_malloc",
                    new ErrorModule.Injection(null, ErrorModule.ErrorType.FAILURE, 1_000_000, 0, 0, 0)));
            long at = load.completed();
            await().atMost(Duration.ofSeconds(60)).until(() -> load.completed() >= at + 4000);
            load.stop();
            await().atMost(Duration.ofSeconds(60)).until(() -> load.drained().isDone());
            assertThat(load.completed()).isEqualTo(load.submitted.get());
            var online = raid.getBdevs(RaidModule.Category.ONLINE);
            if (lv == RaidLevel.RAID1) {
                assertThat(load.failed.get()).as("raid1: 0 failed I/O").isZero();
                assertThat(online).hasSize(1);
                assertThat(online.get(0).get("num_base_bdevs_operational").asInt()).isEqualTo(n - 1);
                assertThat(online.get(0).at("/base_bdevs_list/0/name").isNull()).as("the failing base dropped").isTrue();
            } else {
                assertThat(load.failed.get()).as(level + ": I/O fails").isPositive();
                assertThat(online).hasSize(1);
            }
        }
    }
}
