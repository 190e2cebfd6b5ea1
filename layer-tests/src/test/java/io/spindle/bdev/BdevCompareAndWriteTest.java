package io.spindle.bdev;

import io.spindle.backends.BackendHarness;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** compare_and_write: emulated under an LBA range lock (SPDK's {@code lock_lba_range_then_submit_io} shape). */
@Timeout(60)
class BdevCompareAndWriteTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-caw-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("compare_and_write: writes only when the data matches; MISCOMPARE writes nothing")
    void writesOnlyOnMatch() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer cmp = DmaBuffer.allocate(1024); DmaBuffer w = DmaBuffer.allocate(1024);
             DmaBuffer r = DmaBuffer.allocate(1024)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            assertThat(h.layer.get("Malloc0").supports(IoType.COMPARE_AND_WRITE)).isTrue();
            BdevHarness.Opened o = h.open(0, "Malloc0");
            BdevDescriptor d = o.desc;
            IoChannel<BdevChannel> ch = o.ch;
            List<String> done = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> done.add(arg + ":" + st);
            cmp.fill(0, 1024, (byte) 0); // the disk starts zeroed
            w.fill(0, 1024, (byte) 0x11);
            assertThat(h.on(0, () -> d.compareAndWriteBlocks(ch, cmp, 0, w, 0, 4, 2, cb, "match"))).isZero();
            h.poll();
            assertThat(h.on(0, () -> d.readBlocks(ch, r, 0, 4, 2, cb, "read"))).isZero();
            h.poll();
            assertThat(r.getByte(0)).isEqualTo((byte) 0x11);
            w.fill(0, 1024, (byte) 0x22);
            assertThat(h.on(0, () -> d.compareAndWriteBlocks(ch, cmp, 0, w, 0, 4, 2, cb, "stale"))).isZero(); // cmp still zeroes
            h.poll();
            assertThat(h.on(0, () -> d.readBlocks(ch, r, 0, 4, 2, cb, "read2"))).isZero();
            h.poll();
            assertThat(r.getByte(1023)).as("nothing written on MISCOMPARE").isEqualTo((byte) 0x11);
            assertThat(done).containsExactly("match:SUCCESS", "read:SUCCESS", "stale:MISCOMPARE", "read2:SUCCESS");
            assertThat(h.on(0, () -> d.compareAndWriteBlocks(ch, cmp, 0, w, 0, 0, 512, cb, "too big"))).isEqualTo(Errno.EINVAL);
            o.close();
        }
    }

    @Test
    @DisplayName("lock_lba_range: an overlapping write from another reactor waits for the compare-and-write; a disjoint one does not")
    void overlappingWritesWaitForTheLock() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64); DmaBuffer cmp = DmaBuffer.allocate(512); DmaBuffer w = DmaBuffer.allocate(512);
             DmaBuffer other = DmaBuffer.allocate(512); DmaBuffer r = DmaBuffer.allocate(512)) {
            TestModule.Opts o = new TestModule.Opts();
            o.holdIo = true;
            h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
            BdevHarness.Opened o0 = h.open(0, "Test0");
            BdevHarness.Opened o1 = h.open(1, "Test0");
            BdevDescriptor d0 = o0.desc;
            IoChannel<BdevChannel> c0 = o0.ch;
            BdevDescriptor d1 = o1.desc;
            IoChannel<BdevChannel> c1 = o1.ch;
            List<String> done = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> done.add(arg + ":" + st);
            cmp.fill(0, 512, (byte) 0);
            w.fill(0, 512, (byte) 0x33);
            other.fill(0, 512, (byte) 0x44);
            // a write already at the module on reactor 1 overlaps: the lock must wait for it
            assertThat(h.on(1, () -> d1.writeBlocks(c1, other, 0, 7, 1, cb, "early"))).isZero();
            assertThat(h.on(0, () -> d0.compareAndWriteBlocks(c0, cmp, 0, w, 0, 7, 1, cb, "caw"))).isZero();
            h.poll();
            assertThat(drv.submitted).as("the read waits until the early write is done").containsExactly("WRITE 7+1");
            // now a new overlapping write from reactor 1 must queue behind the lock; a disjoint one goes
            assertThat(h.on(1, () -> d1.writeBlocks(c1, other, 0, 7, 1, cb, "late"))).isZero();
            assertThat(h.on(1, () -> d1.writeBlocks(c1, other, 0, 20, 1, cb, "disjoint"))).isZero();
            h.poll();
            assertThat(drv.submitted).containsExactly("WRITE 7+1", "WRITE 20+1");
            // let the early write finish: it lands 0x44
            h.on(1, () -> {
                drv.opts.holdIo = false;
                return drv.releaseHeld(IoStatus.SUCCESS);
            });
            h.poll();
            // the early write landed 0x44, so the compare against zeroes fails and caw writes nothing; the lock
            // releases and only then does the late write reach the module (after caw's READ)
            assertThat(done).contains("early:SUCCESS", "disjoint:SUCCESS", "caw:MISCOMPARE", "late:SUCCESS");
            assertThat(drv.submitted).containsExactly("WRITE 7+1", "WRITE 20+1", "READ 7+1", "WRITE 7+1");
            assertThat(h.on(0, () -> d0.readBlocks(c0, r, 0, 7, 1, cb, "check"))).isZero();
            h.poll();
            assertThat(r.getByte(0)).isEqualTo((byte) 0x44);
            o0.close();
            o1.close();
        }
    }
}
