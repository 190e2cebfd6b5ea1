package io.spindle.bdev;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bdev layer's I/O clock ({@link BdevMgmt#clock()}): within one task or poller run of the reactor, up to
 * {@link BdevMgmt#CLOCK_SHARES} submits and completions share one clock read; the next one, or the first of the next
 * run, reads the clock again.
 */
@Timeout(60)
class BdevClockTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-clock-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    private static void spinPast(long t) {
        while (System.nanoTime() - t < 2_000) {
            Thread.onSpinWait(); // the clock moves on: a fresh read differs from t
        }
    }

    @Test
    void oneClockReadServesSixteenUsesOfOneRunAndTheNextRunReadsAgain() {
        try (BdevHarness h = new BdevHarness(kit, 1, 64)) {
            h.await(h.test.create(h.layer, new TestModule.Opts().name("T0")));
            try (BdevHarness.Opened o = h.open(0, "T0")) {
                BdevMgmt m = o.ch.context().mgmt;
                long[] firstRun = h.on(0, () -> {
                    long[] seen = new long[BdevMgmt.CLOCK_SHARES + 1];
                    for (int i = 0; i < seen.length; i++) {
                        seen[i] = m.clock();
                        spinPast(seen[i]);
                    }
                    return seen;
                });
                for (int i = 1; i < BdevMgmt.CLOCK_SHARES; i++) {
                    assertThat(firstRun[i]).as("use %d of the run shares the first read", i).isEqualTo(firstRun[0]);
                }
                assertThat(firstRun[BdevMgmt.CLOCK_SHARES]).as("use 17 reads the clock again").isGreaterThan(firstRun[0]);
                long nextRun = h.on(0, m::clock);
                assertThat(nextRun).as("a new task run reads the clock again").isGreaterThan(firstRun[BdevMgmt.CLOCK_SHARES]);
            }
        }
    }
}
