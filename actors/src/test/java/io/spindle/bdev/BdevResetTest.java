package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** Reset and abort: SPDK's {@code io_during_reset}, {@code put_channel_during_reset}, {@code unregister_during_reset}, {@code bdev_io_abort}. */
@Timeout(60)
class BdevResetTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-reset-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** Records "status@arg" per completion. */
    static final class Log implements IoCallback {
        final List<String> done = new CopyOnWriteArrayList<>();

        @Override
        public void onComplete(BdevIo io, IoStatus status, Object arg) {
            done.add(io.type() + ":" + status + "@" + arg);
        }
    }

    static TestModule.Opts held() {
        TestModule.Opts o = new TestModule.Opts();
        o.holdIo = true;
        return o;
    }

    @Test
    @DisplayName("io_during_reset: I/O on a frozen channel is aborted; held I/O is aborted by the module reset; after it, I/O succeeds")
    void ioDuringReset() {
        try (BdevHarness h = new BdevHarness(kit, 2, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
            h.await(h.test.create(h.layer, held()));
            TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
            BdevHarness.Opened o0 = h.open(0, "Test0");
            BdevHarness.Opened o1 = h.open(1, "Test0");
            BdevDescriptor d0 = o0.desc;
            IoChannel<BdevChannel> c0 = o0.ch;
            BdevDescriptor d1 = o1.desc;
            IoChannel<BdevChannel> c1 = o1.ch;
            Log log = new Log();
            assertThat(h.on(0, () -> d0.readBlocks(c0, buf, 0, 0, 1, log, "held-0"))).isZero();
            h.group.reactor(0).send(() -> assertThat(d0.reset(c0, log, "reset")).isZero());
            // step one message at a time until the freeze walk has reached reactor 1 (manual mode: one thread)
            for (int i = 0; i < 10_000 && !c1.context().frozen; i++) {
                h.group.pollOnce(0);
                h.group.pollOnce(1);
            }
            assertThat(c1.context().frozen).isTrue();
            h.group.reactor(1).send(() -> assertThat(d1.readBlocks(c1, buf, 0, 1, 1, log, "during")).isZero());
            h.group.pollOnce(1); // runs before the unfreeze hop can arrive on reactor 1
            h.poll();
            assertThat(log.done).contains("READ:ABORTED@during", "READ:ABORTED@held-0", "RESET:SUCCESS@reset");
            assertThat(log.done.indexOf("READ:ABORTED@held-0")).isLessThan(log.done.indexOf("RESET:SUCCESS@reset"));
            assertThat(h.test.log).contains("module reset on reactor_0");
            drv.opts.holdIo = false;
            assertThat(h.on(1, () -> d1.readBlocks(c1, buf, 0, 1, 1, log, "after"))).isZero();
            h.poll();
            assertThat(log.done).contains("READ:SUCCESS@after");
            o0.close();
            o1.close();
        }
    }

    @Test
    @DisplayName("put_channel_during_reset: a channel put while the reset walks is skipped; the reset completes")
    void putChannelDuringReset() {
        try (BdevHarness h = new BdevHarness(kit, 2, 64)) {
            h.await(h.test.create(h.layer, new TestModule.Opts()));
            BdevHarness.Opened o0 = h.open(0, "Test0");
            BdevHarness.Opened o1 = h.open(1, "Test0");
            BdevDescriptor d0 = o0.desc;
            IoChannel<BdevChannel> c0 = o0.ch;
            BdevDescriptor d1 = o1.desc;
            IoChannel<BdevChannel> c1 = o1.ch;
            Log log = new Log();
            h.group.reactor(0).send(() -> assertThat(d0.reset(c0, log, "reset")).isZero());
            h.group.reactor(1).send(() -> {
                c1.put();
                d1.close();
            });
            h.poll();
            assertThat(log.done).containsExactly("RESET:SUCCESS@reset");
            o0.close();
        }
    }

    @Test
    @DisplayName("a reset holds its channel: the caller puts the channel while the module holds the reset; the channel is destroyed only after the reset completed")
    void resetHoldsAReferenceOnItsChannel() {
        try (BdevHarness h = new BdevHarness(kit, 1, 64)) {
            TestModule.Opts o = new TestModule.Opts();
            o.holdReset = true;
            Bdev bdev = h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) bdev.driver;
            List<String> order = new CopyOnWriteArrayList<>();
            h.test.log.clear();
            BdevHarness.Opened opened = h.open(0, "Test0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> c0 = opened.ch;
            assertThat(h.on(0, () -> d.reset(c0, (io, st, arg) -> order.add("reset " + st + " channels=" + drv.channels.size()), null))).isZero();
            h.poll();
            assertThat(h.test.log).contains("module reset on reactor_0");
            assertThat(h.on(0, c0::refs)).as("the caller's reference and the reset's").isEqualTo(2);
            h.on(0, () -> {
                c0.put(); // the caller is done with the channel while the module still holds the reset
                return null;
            });
            h.poll();
            assertThat(drv.channels).as("the reset's reference keeps the channel").hasSize(1);
            assertThat(order).isEmpty();
            assertThat(h.on(0, drv::releaseReset)).isTrue();
            h.poll();
            assertThat(order).as("completed once, on a live channel").containsExactly("reset SUCCESS channels=1");
            assertThat(drv.channels).as("destroyed once the reset let go").isEmpty();
            assertThat(h.test.log).noneMatch(x -> x.startsWith("BUG"));
            h.on(0, () -> {
                d.close();
                return null;
            });
        }
    }

    @Test
    @DisplayName("unregister_during_reset: while the module holds the reset the unregister stays pending; the reset completes,"
            + " then the unregister once both channels are put")
    void unregisterDuringReset() {
        try (BdevHarness h = new BdevHarness(kit, 2, 64)) {
            TestModule.Opts o = new TestModule.Opts();
            o.holdReset = true;
            Bdev bdev = h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) bdev.driver;
            List<String> order = new CopyOnWriteArrayList<>();
            h.test.log.clear();
            BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, (e, b, desc) -> order.add("event " + e)));
            IoChannel<BdevChannel> c0 = h.on(0, d::getIoChannel);
            IoChannel<BdevChannel> c1 = h.on(1, d::getIoChannel);
            assertThat(h.on(0, () -> d.reset(c0, (io, st, arg) -> order.add("reset " + st), null))).isZero();
            h.group.pollOnce(0); // SPDK: poll_thread_times(0, 1)
            CompletableFuture<Integer> un = new CompletableFuture<>();
            h.on(0, () -> {
                d.close();
                h.layer.unregister("Test0").thenAccept(x -> {
                    order.add("unregistered " + x);
                    un.complete(x);
                });
                return null;
            });
            h.poll();
            // the reset reached the module, which holds it: neither the reset nor the unregister is done
            assertThat(h.test.log).contains("module reset on reactor_0");
            assertThat(order).as("nothing completed while the module holds the reset").isEmpty();
            assertThat(un).isNotDone();
            assertThat(h.test.log).noneMatch(x -> x.startsWith("destruct"));
            assertThat(bdev.status()).isEqualTo(Bdev.Status.REMOVING);
            // the module completes the reset: the reset finishes, the unregister still waits for the channels
            assertThat(h.on(0, drv::releaseReset)).isTrue();
            h.poll();
            assertThat(order).containsExactly("reset SUCCESS");
            assertThat(un).as("both channels are still held").isNotDone();
            assertThat(h.test.log).noneMatch(x -> x.startsWith("destruct"));
            h.on(0, () -> {
                c0.put();
                return null;
            });
            h.poll();
            assertThat(un).as("reactor_1's channel is still held").isNotDone();
            h.on(1, () -> {
                c1.put();
                return null;
            });
            assertThat(h.await(un)).isZero();
            assertThat(order).as("no REMOVE: the descriptor closed before the unregister").containsExactly("reset SUCCESS", "unregistered 0");
            List<String> log = h.test.log;
            assertThat(log.indexOf("module reset done on reactor_0")).isLessThan(log.indexOf("destruct begins Test0"));
            assertThat(log).noneMatch(x -> x.startsWith("BUG"));
        }
    }

    @Test
    @DisplayName("bdev_io_abort: abort a held I/O through the module; ENOTSUP without module support and nothing queued")
    void bdevIoAbort() {
        try (BdevHarness h = new BdevHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
            TestModule.Opts o = held();
            o.types = EnumSet.of(IoType.READ, IoType.WRITE, IoType.ABORT);
            h.await(h.test.create(h.layer, o));
            BdevHarness.Opened opened = h.open(0, "Test0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> ch = opened.ch;
            Log log = new Log();
            String target = "victim";
            assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 0, 1, log, target))).isZero();
            assertThat(h.on(0, () -> d.abort(ch, target, log, "abort"))).isZero();
            h.poll();
            assertThat(log.done).containsExactlyInAnyOrder("READ:ABORTED@victim", "ABORT:SUCCESS@abort");
            assertThat(h.on(0, () -> d.abort(ch, "nobody", log, "abort2"))).isZero();
            h.poll();
            assertThat(log.done).contains("ABORT:FAILED@abort2");
            opened.close();

            h.await(h.test.create(h.layer, held().name("Test1")));
            BdevHarness.Opened o1 = h.open(0, "Test1");
            BdevDescriptor d1 = o1.desc;
            IoChannel<BdevChannel> ch1 = o1.ch;
            assertThat(h.on(0, () -> d1.abort(ch1, target, log, "x"))).isEqualTo(Errno.ENOTSUP);
            TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test1").driver;
            h.on(0, () -> {
                drv.releaseHeld(IoStatus.SUCCESS);
                ch1.put();
                d1.close();
                return null;
            });
        }
    }

    @Test
    @DisplayName("bdev_io_abort (queued, split): an I/O still queued in the layer is aborted there without module"
            + " abort; a split I/O is aborted through its children and completes ABORTED once")
    void bdevIoAbortQueuedAndSplit() {
        try (BdevHarness h = new BdevHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(16 * 512)) {
            // the module takes one I/O and answers NOMEM past it; it has no ABORT
            TestModule.Opts o = held();
            o.availCnt = 1;
            o.types = EnumSet.of(IoType.READ, IoType.WRITE);
            h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
            BdevHarness.Opened opened = h.open(0, "Test0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> ch = opened.ch;
            Log log = new Log();
            assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 0, 1, log, "a"))).isZero();
            assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 1, 1, log, "b"))).isZero();
            h.poll();
            assertThat(drv.submitted).containsExactly("READ 0+1", "READ 1+1");
            assertThat(h.on(0, () -> d.abort(ch, "b", log, "abort-b"))).as("queued in the layer: abortable there").isZero();
            h.poll();
            assertThat(log.done).containsExactlyInAnyOrder("READ:ABORTED@b", "ABORT:SUCCESS@abort-b");
            assertThat(h.on(0, () -> d.abort(ch, "a", log, "abort-a"))).as("held by a module without abort").isEqualTo(Errno.ENOTSUP);
            h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS));
            h.group.advanceTime(java.time.Duration.ofMillis(20));
            h.poll();
            assertThat(log.done).containsExactlyInAnyOrder("READ:ABORTED@b", "ABORT:SUCCESS@abort-b", "READ:SUCCESS@a");
            assertThat(drv.submitted).as("the aborted I/O is never retried").containsExactly("READ 0+1", "READ 1+1");
            opened.close();

            // split: max_rw_size 2 blocks, the module holds I/O and has ABORT
            TestModule.Opts s = held().name("Test1");
            s.maxRwSize = 2;
            s.types = EnumSet.of(IoType.READ, IoType.WRITE, IoType.ABORT);
            h.await(h.test.create(h.layer, s));
            TestModule.Driver drv1 = (TestModule.Driver) h.layer.get("Test1").driver;
            BdevHarness.Opened o1 = h.open(0, "Test1");
            BdevDescriptor d1 = o1.desc;
            IoChannel<BdevChannel> ch1 = o1.ch;
            Log log1 = new Log();
            assertThat(h.on(0, () -> d1.readBlocks(ch1, buf, 0, 0, 8, log1, "big"))).isZero();
            h.poll();
            assertThat(drv1.submitted).containsExactly("READ 0+2", "READ 2+2", "READ 4+2", "READ 6+2");
            assertThat(h.on(0, () -> d1.abort(ch1, "big", log1, "abort-big"))).isZero();
            h.poll();
            assertThat(log1.done).as("the parent waits for its other children").containsExactly("ABORT:SUCCESS@abort-big");
            h.on(0, () -> drv1.releaseHeld(IoStatus.SUCCESS));
            h.poll();
            assertThat(log1.done).containsExactly("ABORT:SUCCESS@abort-big", "READ:ABORTED@big");
            h.group.advanceTime(java.time.Duration.ofMillis(20));
            h.poll();
            assertThat(log1.done).as("once").hasSize(2);
            o1.close();
        }
    }
}
