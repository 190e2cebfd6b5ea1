package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.IoChannel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/** Bounce buffers for misaligned caller buffers: kept per reactor, so a steady bounced load allocates none. */
@Timeout(60)
class BdevBounceCacheTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-bounce-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("more bounced I/O in flight than the old 16-buffer cache: the second round reuses every buffer of the first,"
            + " none is allocated or freed per I/O")
    void steadyBouncedLoadAllocatesNoBuffer() {
        int n = 40;
        try (BdevHarness h = new BdevHarness(kit, 1, 128); DmaBuffer buf = DmaBuffer.allocate(n * 4096L + 1)) {
            TestModule.Opts o = new TestModule.Opts();
            o.blockSize = 4096;
            o.numBlocks = 128;
            o.requiredAlignment = 4096;
            o.holdIo = true;
            h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
            BdevHarness.Opened opened = h.open(0, "Test0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> c = opened.ch;
            BdevMgmt mgmt = c.context().mgmt;
            BdevResetTest.Log log = new BdevResetTest.Log();
            for (int round = 1; round <= 2; round++) {
                h.on(0, () -> {
                    for (int i = 0; i < n; i++) {
                        // offset 1: misaligned for the bdev, so each read runs on a bounce buffer
                        assertThat(d.readBlocks(c, buf, 1 + i * 4096L, i, 1, log, "r")).isZero();
                    }
                    return null;
                });
                h.poll();
                assertThat(drv.heldOn(h.group.reactor(0))).as("round %d: all %d in flight at once", round, n).isEqualTo(n);
                assertThat(h.on(0, mgmt::bounceBuffersAllocated)).as("round %d", round).isEqualTo(n);
                assertThat(h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS))).isEqualTo(n);
                h.poll();
                assertThat(log.done).hasSize(round * n).allMatch(s -> s.equals("READ:SUCCESS@r"));
            }
            assertThat(h.test.log).noneMatch(s -> s.startsWith("BUG"));
            opened.close();
        }
    }

    @Test
    @DisplayName("the bounce cache gives memory back above iobuf_large_cache_size: buffers that stayed free a whole second are freed,"
            + " down to the bound; a second in which the load used them frees none")
    void idleBounceBuffersAboveTheBoundAreFreed() {
        int n = 40;
        try (BdevHarness h = new BdevHarness(kit, 1, 128); DmaBuffer buf = DmaBuffer.allocate(n * 4096L + 1)) {
            TestModule.Opts o = new TestModule.Opts();
            o.blockSize = 4096;
            o.numBlocks = 128;
            o.requiredAlignment = 4096;
            o.holdIo = true;
            h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
            BdevHarness.Opened opened = h.open(0, "Test0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> c = opened.ch;
            BdevMgmt mgmt = c.context().mgmt;
            BdevResetTest.Log log = new BdevResetTest.Log();
            Runnable burst = () -> {
                h.on(0, () -> {
                    for (int i = 0; i < n; i++) {
                        assertThat(d.readBlocks(c, buf, 1 + i * 4096L, i, 1, log, "r")).isZero(); // misaligned: bounced
                    }
                    return null;
                });
                h.poll();
                h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS));
                h.poll();
            };
            burst.run();
            assertThat(h.on(0, mgmt::bounceBuffersAllocated)).isEqualTo(n);
            h.group.advanceTime(java.time.Duration.ofSeconds(1));
            h.poll();
            assertThat(h.on(0, mgmt::bounceBuffersAllocated)).as("the burst used them all in this second: none freed").isEqualTo(n);
            h.group.advanceTime(java.time.Duration.ofSeconds(1));
            h.poll();
            assertThat(h.on(0, mgmt::bounceBuffersAllocated)).as("a whole second unused: freed down to the bound")
                    .isEqualTo(BdevOptions.defaults(128).iobufLargeCacheSize());
            burst.run(); // the next burst allocates again what it needs beyond the bound
            assertThat(h.on(0, mgmt::bounceBuffersAllocated)).isEqualTo(n);
            assertThat(log.done).hasSize(2 * n).allMatch(s -> s.equals("READ:SUCCESS@r"));
            opened.close();
        }
    }
}
