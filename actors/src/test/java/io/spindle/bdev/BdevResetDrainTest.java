package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.IoChannel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reset with SPDK's {@code reset_io_drain_timeout} ({@code bdev_reset_check_outstanding_io}): freeze, abort what
 * the layer queues, wait for the I/O at the module to drain (no module reset when it does in time), else reset the
 * module at the timeout; 0 resets the module at once.
 */
@Timeout(60)
class BdevResetDrainTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-reset-drain-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    private static TestModule.Opts held(int drainSeconds) {
        TestModule.Opts o = new TestModule.Opts();
        o.holdIo = true;
        o.resetIoDrainTimeout = drainSeconds;
        return o;
    }

    @Test
    @DisplayName("reset_io_drain_timeout: the reset waits for I/O outstanding on another channel; drained in time, the module is"
            + " not reset and the reset completes SUCCESS after that I/O")
    void drainedInTimeSkipsTheModuleReset() {
        try (BdevHarness h = new BdevHarness(kit, 2, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
            Bdev bdev = h.await(h.test.create(h.layer, held(5)));
            assertThat(bdev.resetIoDrainTimeout()).isEqualTo(5);
            TestModule.Driver drv = (TestModule.Driver) bdev.driver;
            BdevHarness.Opened o0 = h.open(0, "Test0");
            BdevHarness.Opened o1 = h.open(1, "Test0");
            BdevDescriptor d0 = o0.desc;
            IoChannel<BdevChannel> c0 = o0.ch;
            BdevDescriptor d1 = o1.desc;
            IoChannel<BdevChannel> c1 = o1.ch;
            BdevResetTest.Log log = new BdevResetTest.Log();

            // nothing outstanding: the drain check passes at once and the module is not reset
            assertThat(h.on(0, () -> d0.reset(c0, log, "empty"))).isZero();
            h.poll();
            assertThat(log.done).containsExactly("RESET:SUCCESS@empty");
            assertThat(h.test.log).noneMatch(s -> s.startsWith("module reset"));

            assertThat(h.on(1, () -> d1.readBlocks(c1, buf, 0, 3, 1, log, "out"))).isZero();
            h.poll();
            assertThat(drv.heldOn(h.group.reactor(1))).isEqualTo(1);
            assertThat(h.on(0, () -> d0.reset(c0, log, "reset"))).isZero();
            h.poll();
            assertThat(c0.context().frozen).isTrue();
            assertThat(c1.context().frozen).isTrue();
            assertThat(h.on(0, () -> d0.readBlocks(c0, buf, 0, 0, 1, log, "frozen"))).isZero();
            for (int i = 0; i < 20; i++) { // two seconds of drain checks: still waiting for the read on reactor 1
                h.group.advanceTime(Duration.ofMillis(100));
                h.poll();
            }
            assertThat(log.done).containsExactly("RESET:SUCCESS@empty", "READ:ABORTED@frozen");
            assertThat(h.test.log).noneMatch(s -> s.startsWith("module reset"));

            assertThat(h.on(1, () -> drv.releaseHeld(IoStatus.SUCCESS))).isEqualTo(1);
            h.poll();
            assertThat(log.done).as("the reset notices the drain at its next check").doesNotContain("RESET:SUCCESS@reset");
            h.group.advanceTime(Duration.ofMillis(ChannelReset.DRAIN_CHECK_MILLIS));
            h.poll();
            assertThat(log.done).containsExactly("RESET:SUCCESS@empty", "READ:ABORTED@frozen", "READ:SUCCESS@out", "RESET:SUCCESS@reset");
            assertThat(h.test.log).as("drained in time: no module reset").noneMatch(s -> s.startsWith("module reset"));
            assertThat(c0.context().frozen).isFalse();
            assertThat(c1.context().frozen).isFalse();
            drv.opts.holdIo = false;
            assertThat(h.on(1, () -> d1.readBlocks(c1, buf, 0, 1, 1, log, "after"))).isZero();
            h.poll();
            assertThat(log.done).endsWith("READ:SUCCESS@after");
            o0.close();
            o1.close();
        }
    }

    @Test
    @DisplayName("reset_io_drain_timeout: I/O still out when the timeout expires: the module is reset (aborting it), then the reset"
            + " completes; with 0 the module is reset at once")
    void timeoutResetsTheModule() {
        try (BdevHarness h = new BdevHarness(kit, 2, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
            Bdev bdev = h.await(h.test.create(h.layer, held(1)));
            BdevHarness.Opened o0 = h.open(0, "Test0");
            BdevHarness.Opened o1 = h.open(1, "Test0");
            BdevDescriptor d0 = o0.desc;
            IoChannel<BdevChannel> c0 = o0.ch;
            BdevDescriptor d1 = o1.desc;
            IoChannel<BdevChannel> c1 = o1.ch;
            BdevResetTest.Log log = new BdevResetTest.Log();
            assertThat(h.on(1, () -> d1.readBlocks(c1, buf, 0, 3, 1, log, "stuck"))).isZero();
            h.poll();
            assertThat(h.on(0, () -> d0.reset(c0, log, "reset"))).isZero();
            h.poll();
            h.group.advanceTime(Duration.ofMillis(990));
            h.poll();
            assertThat(h.test.log).as("inside the timeout").noneMatch(s -> s.startsWith("module reset"));
            assertThat(log.done).isEmpty();
            for (int i = 0; i < 3; i++) {
                h.group.advanceTime(Duration.ofMillis(ChannelReset.DRAIN_CHECK_MILLIS));
                h.poll();
            }
            assertThat(h.test.log).contains("module reset on reactor_0");
            // the test module's reset aborts what its channel on reactor 0 holds (nothing); reactor 1's read is still out
            assertThat(log.done).containsExactly("RESET:SUCCESS@reset");
            h.on(1, () -> ((TestModule.Driver) bdev.driver).releaseHeld(IoStatus.ABORTED));
            h.poll();
            assertThat(log.done).containsExactly("RESET:SUCCESS@reset", "READ:ABORTED@stuck");
            o0.close();
            o1.close();

            // reset_io_drain_timeout 0 (SPDK's default): the module is reset at once, nothing outstanding or not
            h.await(h.test.create(h.layer, held(0).name("Test1")));
            BdevHarness.Opened oZ = h.open(0, "Test1");
            BdevDescriptor z = oZ.desc;
            IoChannel<BdevChannel> zc = oZ.ch;
            h.test.log.clear();
            assertThat(h.on(0, () -> z.reset(zc, log, "now"))).isZero();
            h.poll();
            assertThat(h.test.log).containsExactly("module reset on reactor_0");
            assertThat(log.done).endsWith("RESET:SUCCESS@now");
            oZ.close();
        }
    }

}
