package io.spindle.bdev;

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

import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * compare_and_write's read and write take the submit path of a caller's read and write (split, bounce, QoS), its
 * range lock excludes an overlapping compare_and_write, it is abortable until it writes, and a pooled I/O reuses
 * its lock walk.
 */
@Timeout(60)
class BdevCompareAndWritePathTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-caw-path-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("compare_and_write: its read and write are split at max_rw_size and a misaligned write buffer is bounced, as a"
            + " caller's read and write are")
    void readAndWriteAreSplitAndBounced() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer cmp = DmaBuffer.allocate(4 * 512);
             DmaBuffer w = DmaBuffer.allocate(4 * 512 + 1); DmaBuffer r = DmaBuffer.allocate(4 * 512)) {
            TestModule.Opts o = new TestModule.Opts();
            o.maxRwSize = 2;
            o.requiredAlignment = 512;
            o.types = EnumSet.of(IoType.READ, IoType.WRITE);
            h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
            BdevHarness.Opened opened = h.open(0, "Test0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> ch = opened.ch;
            List<String> done = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> done.add(arg + ":" + st);
            cmp.fill(0, 4 * 512, (byte) 0);
            for (int i = 0; i < 4 * 512; i++) {
                w.put(1 + i, new byte[]{(byte) (i * 7 + 1)});
            }
            assertThat(h.on(0, () -> d.compareAndWriteBlocks(ch, cmp, 0, w, 1, 8, 4, cb, "caw"))).isZero();
            h.poll();
            assertThat(done).containsExactly("caw:SUCCESS");
            assertThat(drv.submitted).containsExactly("READ 8+2", "READ 10+2", "WRITE 8+2", "WRITE 10+2");
            assertThat(h.test.log).as("the misaligned write buffer was bounced").noneMatch(s -> s.startsWith("BUG"));
            assertThat(h.on(0, () -> d.readBlocks(ch, r, 0, 8, 4, cb, "check"))).isZero();
            h.poll();
            assertThat(r.get(0, 4 * 512)).isEqualTo(w.get(1, 4 * 512));
            IoStats s = h.await(h.layer.stats("Test0"));
            assertThat(s.numReadOps()).as("its two reads and the check's two").isEqualTo(4);
            assertThat(s.numWriteOps()).isEqualTo(2);
            opened.close();
        }
    }

    @Test
    @DisplayName("compare_and_write under QoS: its read and its write are each charged (rw_ios_per_sec 1000: one per 1 ms slice)")
    void readAndWriteAreChargedToQos() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer cmp = DmaBuffer.allocate(512); DmaBuffer w = DmaBuffer.allocate(512)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            assertThat(h.await(h.layer.setQosLimits("Malloc0", QosLimits.of(1000, 0, 0, 0)))).isZero();
            BdevHarness.Opened o = h.open(0, "Malloc0");
            BdevDescriptor d = o.desc;
            IoChannel<BdevChannel> ch = o.ch;
            List<String> done = new CopyOnWriteArrayList<>();
            cmp.fill(0, 512, (byte) 0);
            w.fill(0, 512, (byte) 0x5a);
            assertThat(h.on(0, () -> d.compareAndWriteBlocks(ch, cmp, 0, w, 0, 3, 1, (io, st, arg) -> done.add(st.name()), null))).isZero();
            h.poll();
            assertThat(done).as("the read took this slice's quota; the write waits for the next slice").isEmpty();
            h.group.advanceTime(Duration.ofMillis(1));
            h.poll();
            assertThat(done).containsExactly("SUCCESS");
            assertThat(h.await(h.layer.setQosLimits("Malloc0", QosLimits.NONE))).isZero();
            o.close();
        }
    }

    @Test
    @DisplayName("bdev_lock_lba_range: a compare_and_write overlapping one that holds the lock waits for its unlock, so the"
            + " second compares against the first one's data (MISCOMPARE) instead of both writing")
    void overlappingCompareAndWritesExcludeEachOther() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64); DmaBuffer cmp = DmaBuffer.allocate(512); DmaBuffer a = DmaBuffer.allocate(512);
             DmaBuffer b = DmaBuffer.allocate(512); DmaBuffer r = DmaBuffer.allocate(512)) {
            TestModule.Opts o = new TestModule.Opts();
            o.holdIo = true;
            h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
            BdevDescriptor d0 = h.on(0, () -> h.layer.open("Test0", true, (e, x, desc) -> { }));
            BdevDescriptor d1 = h.on(1, () -> h.layer.open("Test0", true, (e, x, desc) -> { }));
            IoChannel<BdevChannel> c0 = h.on(0, d0::getIoChannel);
            IoChannel<BdevChannel> c1 = h.on(1, d1::getIoChannel);
            List<String> done = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> done.add(arg + ":" + st);
            cmp.fill(0, 512, (byte) 0);
            a.fill(0, 512, (byte) 0x11);
            b.fill(0, 512, (byte) 0x22);
            assertThat(h.on(0, () -> d0.compareAndWriteBlocks(c0, cmp, 0, a, 0, 5, 1, cb, "A"))).isZero();
            h.poll();
            assertThat(h.on(1, () -> d1.compareAndWriteBlocks(c1, cmp, 0, b, 0, 5, 1, cb, "B"))).isZero();
            h.poll();
            assertThat(drv.submitted).as("B waits for A's lock: only A's read is out").containsExactly("READ 5+1");
            for (int i = 0; i < 4 && done.size() < 2; i++) { // A's read, A's write, then B's read (B writes nothing)
                h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS));
                h.on(1, () -> drv.releaseHeld(IoStatus.SUCCESS));
                h.poll();
            }
            assertThat(done).containsExactly("A:SUCCESS", "B:MISCOMPARE");
            assertThat(drv.submitted).containsExactly("READ 5+1", "WRITE 5+1", "READ 5+1");
            drv.opts.holdIo = false;
            assertThat(h.on(1, () -> d1.readBlocks(c1, r, 0, 5, 1, cb, "check"))).isZero();
            h.poll();
            assertThat(r.getByte(511)).isEqualTo((byte) 0x11);
            h.on(0, () -> {
                c0.put();
                d0.close();
                return null;
            });
            h.on(1, () -> {
                c1.put();
                d1.close();
                return null;
            });
        }
    }

    @Test
    @DisplayName("bdev_lock_lba_range: the lock waits for an overlapping write queued in the layer for module resources on"
            + " another channel, not only for writes at the module, so that write cannot land between the read and the write")
    void lockWaitsForWritesQueuedInTheLayer() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64); DmaBuffer cmp = DmaBuffer.allocate(512); DmaBuffer w = DmaBuffer.allocate(512);
             DmaBuffer other = DmaBuffer.allocate(512); DmaBuffer r = DmaBuffer.allocate(512)) {
            TestModule.Opts o = new TestModule.Opts();
            o.holdIo = true;
            o.nomemFirst = 1; // the first I/O the module sees is answered NOMEM: the layer queues it and retries in 10 ms
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
            assertThat(h.on(1, () -> d1.writeBlocks(c1, other, 0, 7, 1, cb, "queued"))).isZero();
            h.poll();
            assertThat(h.on(0, () -> d0.compareAndWriteBlocks(c0, cmp, 0, w, 0, 7, 1, cb, "caw"))).isZero();
            h.poll();
            assertThat(drv.submitted).as("the compare_and_write's read waits for the queued write").containsExactly("WRITE 7+1");
            drv.opts.holdIo = false;
            h.group.advanceTime(Duration.ofMillis(10)); // the NOMEM retry: the write lands, then the lock is taken
            h.poll();
            assertThat(done).containsExactly("queued:SUCCESS", "caw:MISCOMPARE");
            assertThat(drv.submitted).containsExactly("WRITE 7+1", "WRITE 7+1", "READ 7+1");
            assertThat(h.on(0, () -> d0.readBlocks(c0, r, 0, 7, 1, cb, "check"))).isZero();
            h.poll();
            assertThat(r.getByte(0)).isEqualTo((byte) 0x44);
            o0.close();
            o1.close();
        }
    }

    @Test
    @DisplayName("bdev_io_abort (compare_and_write): one still waiting for its lock walk is aborted in the layer on a module"
            + " without ABORT: it completes ABORTED, reads and writes nothing, and unlocks the range")
    void waitingCompareAndWriteIsAbortable() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer cmp = DmaBuffer.allocate(512); DmaBuffer w = DmaBuffer.allocate(512)) {
            TestModule.Opts o = new TestModule.Opts();
            o.holdIo = true;
            o.types = EnumSet.of(IoType.READ, IoType.WRITE);
            h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
            BdevHarness.Opened opened = h.open(0, "Test0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> ch = opened.ch;
            BdevResetTest.Log log = new BdevResetTest.Log();
            cmp.fill(0, 512, (byte) 0);
            assertThat(h.on(0, () -> d.writeBlocks(ch, w, 0, 9, 1, log, "early"))).isZero();
            assertThat(h.on(0, () -> d.compareAndWriteBlocks(ch, cmp, 0, w, 0, 9, 1, log, "caw"))).isZero();
            h.poll();
            assertThat(drv.submitted).as("the lock waits for the early write").containsExactly("WRITE 9+1");
            assertThat(h.on(0, () -> d.abort(ch, "caw", log, "abort"))).as("abortable in the layer, not ENOTSUP").isZero();
            h.poll();
            assertThat(log.done).containsExactly("ABORT:SUCCESS@abort");
            h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS));
            h.poll();
            assertThat(log.done).containsExactly("ABORT:SUCCESS@abort", "WRITE:SUCCESS@early", "COMPARE_AND_WRITE:ABORTED@caw");
            assertThat(drv.submitted).as("nothing read or written for it").containsExactly("WRITE 9+1");
            drv.opts.holdIo = false;
            assertThat(h.on(0, () -> d.writeBlocks(ch, w, 0, 9, 1, log, "after"))).as("the range is unlocked").isZero();
            h.poll();
            assertThat(log.done).endsWith("WRITE:SUCCESS@after");
            opened.close();
        }
    }

    @Test
    @DisplayName("compare_and_write allocates no walk visitor per I/O: the pooled I/O that ran one reuses its lock walk")
    void pooledIoReusesItsLockWalk() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer cmp = DmaBuffer.allocate(512); DmaBuffer w = DmaBuffer.allocate(512)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            BdevHarness.Opened o = h.open(0, "Malloc0");
            BdevDescriptor d = o.desc;
            IoChannel<BdevChannel> ch = o.ch;
            List<BdevIo> ios = new CopyOnWriteArrayList<>();
            List<Object> walks = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> {
                ios.add(io);
                walks.add(io.cawLock);
            };
            for (int i = 0; i < 3; i++) {
                cmp.fill(0, 512, (byte) i);
                w.fill(0, 512, (byte) (i + 1));
                assertThat(h.on(0, () -> d.compareAndWriteBlocks(ch, cmp, 0, w, 0, 1, 1, cb, null))).isZero();
                h.poll();
            }
            assertThat(ios).hasSize(3);
            assertThat(ios.get(1)).as("the pool hands the same I/O back").isSameAs(ios.get(0));
            assertThat(ios.get(2)).isSameAs(ios.get(0));
            assertThat(walks.get(0)).isNotNull();
            assertThat(walks).allSatisfy(x -> assertThat(x).isSameAs(walks.get(0)));
            o.close();
        }
    }
}
