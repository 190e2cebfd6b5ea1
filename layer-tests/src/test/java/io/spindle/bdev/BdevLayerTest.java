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
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The bdev layer on manual reactors: register and lookup, open, the I/O path and its return codes, splitting,
 * emulation, io_wait, and claims. Ports of SPDK's {@code bdev_ut.c} cases keep their names.
 */
@Timeout(60)
class BdevLayerTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-layer-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** Completion recorder; one instance per test, reused for every I/O (no allocation per I/O). */
    static final class Done implements IoCallback {
        final List<IoStatus> statuses = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();

        @Override
        public void onComplete(BdevIo io, IoStatus status, Object arg) {
            statuses.add(status);
            threads.add(Thread.currentThread().getName() + "/" + io.home.reactor.name());
        }
    }

    static final BdevEventHandler IGNORE = (e, b, d) -> { };

    static Throwable cause(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    @Nested
    class Register {
        @Test
        void rejectsBadGeometryNamingTheField() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                TestModule.Opts o = new TestModule.Opts();
                o.blockSize = 1000;
                assertThatThrownBy(() -> h.await(h.test.create(h.layer, o)))
                        .satisfies(t -> assertThat(cause(t)).isInstanceOf(BdevException.class)
                                .hasMessageContaining("block_size=1000").hasMessageContaining("power of two >= 512")
                                .hasMessageContaining("EINVAL"));
                TestModule.Opts z = new TestModule.Opts();
                z.numBlocks = 0;
                z.blockSize = 512;
                assertThatThrownBy(() -> h.await(h.test.create(h.layer, z)))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("num_blocks=0"));
                assertThatThrownBy(() -> h.await(h.malloc.create(h.layer, MallocModule.Options.of("M", 16, 100))))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("block_size=100"));
            }
        }

        @Test
        void namesAliasesAndUuidsAreUniqueAndLookedUp() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                assertThat(b.uuid()).isNotNull();
                assertThat(b.aliases()).contains(b.uuid().toString());
                assertThat(h.layer.get("Malloc0")).isSameAs(b);
                assertThat(h.layer.get(b.uuid().toString())).isSameAs(b);
                assertThatThrownBy(() -> h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512))))
                        .satisfies(t -> assertThat(cause(t)).isInstanceOf(BdevException.class)
                                .hasMessageContaining("name Malloc0 already exists").hasMessageContaining("EEXIST"));
                assertThatThrownBy(() -> h.await(h.malloc.create(h.layer,
                        new MallocModule.Options("Other", 64, 512, b.uuid(), 0))))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("already exists"));
                assertThat(h.layer.bdevs()).containsExactly(b);
                assertThat(h.layer.leafBdevs()).containsExactly(b);
            }
        }
        @Test
        @DisplayName("register race: while a bdev registers its actor ref is already set, lookups miss it and unregister,"
                + " resize, QoS, stats and media events from another thread answer ENODEV")
        void callsWhileRegisteringAnswerEnodevAndTheActorRefIsSetAtSpawn() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                CompletableFuture<Bdev> reg = h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)).toCompletableFuture();
                // step reactor 0 one task at a time until the registry has reserved the names; the bdev's actor
                // (spawned in the same step) has not started yet: its setup is a later task on reactor 0
                for (int i = 0; i < 10_000 && h.layer.reserved("Malloc0") == null; i++) {
                    h.group.pollOnce(0);
                }
                Bdev b = h.layer.reserved("Malloc0");
                assertThat(b).as("names reserved").isNotNull();
                assertThat(b.status()).isEqualTo(Bdev.Status.REGISTERING);
                assertThat(b.ioDevice).as("the bdev actor has not started").isNull();
                assertThat(b.actor).as("set at spawn, before the names").isNotNull();
                assertThat(reg).isNotDone();
                // this test thread is no reactor: as an RPC handler or another actor would call
                assertThat(h.layer.get("Malloc0")).isNull();
                assertThat(h.layer.get(b.uuid().toString())).isNull();
                assertThat(h.layer.bdevs()).isEmpty();
                assertThat(h.layer.unregister("Malloc0").toCompletableFuture()).isCompletedWithValue(Errno.ENODEV);
                assertThat(h.layer.resize("Malloc0", 128).toCompletableFuture()).isCompletedWithValue(Errno.ENODEV);
                assertThat(h.layer.setQosLimits("Malloc0", QosLimits.of(1000, 0, 0, 0)).toCompletableFuture()).isCompletedWithValue(Errno.ENODEV);
                assertThat(h.layer.notifyMediaManagement("Malloc0").toCompletableFuture()).isCompletedWithValue(Errno.ENODEV);
                assertThat(h.layer.stats("Malloc0").toCompletableFuture()).isCompletedExceptionally();
                assertThat(h.layer.histogram("Malloc0").toCompletableFuture()).isCompletedExceptionally();
                assertThat(h.layer.enableHistogram("Malloc0", true)).isFalse();
                assertThatThrownBy(() -> h.on(0, () -> h.layer.open("Malloc0", false, IGNORE)))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("ENODEV"));
                // the ref works before the actor started: what is told now waits in its mailbox and is answered
                CompletableFuture<Integer> early = new CompletableFuture<>();
                b.actor.tell(new BdevActor.Resize(64, early)); // the count malloc holds: a resize it accepts
                assertThat(h.await(reg)).isSameAs(b);
                assertThat(b.status()).isEqualTo(Bdev.Status.READY);
                assertThat(h.await(early)).as("answered, not lost").isIn(Errno.OK, Errno.ENODEV);
                assertThat(h.layer.get("Malloc0")).isSameAs(b);
                assertThat(h.await(h.layer.unregister("Malloc0"))).isZero();
                assertThat(h.layer.reserved("Malloc0")).isNull();
            }
        }
    }

    @Nested
    class Open {
        @Test
        @DisplayName("bdev_open_ext: the event handler is required; unknown names are ENODEV; off-reactor is refused")
        void bdevOpenExt() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                assertThatThrownBy(() -> h.on(0, () -> h.layer.open("Malloc0", true, null)))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("event handler is required").hasMessageContaining("EINVAL"));
                assertThatThrownBy(() -> h.on(0, () -> h.layer.open("nope", false, IGNORE)))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("name=nope").hasMessageContaining("ENODEV"));
                assertThatThrownBy(() -> h.layer.open("Malloc0", false, IGNORE))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("must be called on a reactor");
            }
        }
    }

    @Nested
    class Io {
        @ParameterizedTest(name = "block size {0}")
        @ValueSource(ints = {512, 4096})
        void mallocWritesAndReadsBackAndNeverCompletesInline(int bs) {
            try (BackendHarness h = new BackendHarness(kit, 2, 64); DmaBuffer w = DmaBuffer.allocate(4 * bs); DmaBuffer r = DmaBuffer.allocate(4 * bs)) {
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 256, bs)));
                for (int i = 0; i < 4 * bs; i++) {
                    w.put(i, new byte[]{(byte) (i * 7 + 3)});
                }
                BdevDescriptor d = h.on(1, () -> h.layer.open("Malloc0", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(1, d::getIoChannel);
                Done done = new Done();
                boolean inline = h.on(1, () -> {
                    int rc = d.writeBlocks(ch, w, 0, 10, 4, done, null);
                    assertThat(rc).isZero();
                    return !done.statuses.isEmpty();
                });
                assertThat(inline).as("completion inside submit").isFalse();
                h.poll();
                assertThat(h.on(1, () -> d.read(ch, r, 0, 10L * bs, 4L * bs, done, null))).isZero();
                h.poll();
                assertThat(done.statuses).containsExactly(IoStatus.SUCCESS, IoStatus.SUCCESS);
                assertThat(done.threads).allSatisfy(t -> assertThat(t).endsWith("/reactor_1"));
                assertThat(r.get(0, 4 * bs)).isEqualTo(w.get(0, 4 * bs));
                h.on(1, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
        }

        @Test
        void vectoredReadAndWriteCoverTheSegmentsInOrder() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer a = DmaBuffer.allocate(512); DmaBuffer b = DmaBuffer.allocate(1024);
                 DmaBuffer out = DmaBuffer.allocate(1536)) {
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                a.fill(0, 512, (byte) 1);
                b.fill(0, 1024, (byte) 2);
                BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                Done done = new Done();
                IoVec[] v = {new IoVec(a, 0, 512), new IoVec(b, 0, 1024)};
                assertThat(h.on(0, () -> d.writevBlocks(ch, v, 2, 3, 3, done, null))).isZero();
                h.poll();
                IoVec[] one = {new IoVec(out, 0, 1536)};
                assertThat(h.on(0, () -> d.readv(ch, one, 1, 3 * 512, 1536, done, null))).isZero();
                h.poll();
                assertThat(done.statuses).containsExactly(IoStatus.SUCCESS, IoStatus.SUCCESS);
                assertThat(out.getByte(0)).isEqualTo((byte) 1);
                assertThat(out.getByte(511)).isEqualTo((byte) 1);
                assertThat(out.getByte(512)).isEqualTo((byte) 2);
                assertThat(out.getByte(1535)).isEqualTo((byte) 2);
                // segments that do not add up to the length are refused
                assertThat(h.on(0, () -> d.writevBlocks(ch, v, 2, 3, 2, done, null))).isEqualTo(Errno.EINVAL);
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
        }

        @Test
        void invalidRequestsReturnAnErrnoAndNeverCallBack() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(8192)) {
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                BdevDescriptor ro = h.on(0, () -> h.layer.open("Malloc0", false, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, ro::getIoChannel);
                Done done = new Done();
                assertThat(h.on(0, () -> ro.readBlocks(ch, buf, 0, 63, 2, done, null))).as("past the end").isEqualTo(Errno.EINVAL);
                assertThat(h.on(0, () -> ro.readBlocks(ch, buf, 0, -1, 1, done, null))).as("negative").isEqualTo(Errno.EINVAL);
                assertThat(h.on(0, () -> ro.readBlocks(ch, buf, 0, 0, 0, done, null))).as("empty").isEqualTo(Errno.EINVAL);
                assertThat(h.on(0, () -> ro.read(ch, buf, 0, 100, 512, done, null))).as("unaligned offset").isEqualTo(Errno.EINVAL);
                assertThat(h.on(0, () -> ro.read(ch, buf, 0, 0, 700, done, null))).as("unaligned length").isEqualTo(Errno.EINVAL);
                assertThat(h.on(0, () -> ro.readBlocks(ch, buf, 8000, 0, 1, done, null))).as("buffer too small").isEqualTo(Errno.EINVAL);
                assertThat(h.on(0, () -> ro.readBlocks(ch, buf, 0, 0, Long.MAX_VALUE, done, null))).as("overflow").isEqualTo(Errno.EINVAL);
                assertThat(h.on(0, () -> ro.writeBlocks(ch, buf, 0, 0, 1, done, null))).as("read-only").isEqualTo(Errno.EBADF);
                assertThat(h.on(0, () -> ro.unmapBlocks(ch, 0, 1, done, null))).as("read-only unmap").isEqualTo(Errno.EBADF);
                h.poll();
                assertThat(done.statuses).isEmpty();
                h.on(0, () -> {
                    ch.put();
                    ro.close();
                    return null;
                });
            }
        }

        @Test
        void unsupportedTypesAreEnotsup() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
                TestModule.Opts o = new TestModule.Opts();
                o.types = EnumSet.of(IoType.READ);
                h.await(h.test.create(h.layer, o));
                BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                Done done = new Done();
                assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 0, 0, 1, done, null))).isEqualTo(Errno.ENOTSUP);
                assertThat(h.on(0, () -> d.writeZeroesBlocks(ch, 0, 1, done, null))).as("no write to emulate with").isEqualTo(Errno.ENOTSUP);
                assertThat(h.on(0, () -> d.flushBlocks(ch, 0, 1, done, null))).isEqualTo(Errno.ENOTSUP);
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
        }

        @Test
        @DisplayName("bdev_io_wait_test: ENOMEM when the reactor's pool is empty, io_wait callback when one frees")
        void bdevIoWaitTest() {
            try (BackendHarness h = new BackendHarness(kit, 1, 16); DmaBuffer buf = DmaBuffer.allocate(512)) {
                TestModule.Opts o = new TestModule.Opts();
                o.holdIo = true;
                h.await(h.test.create(h.layer, o));
                TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
                BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                Done done = new Done();
                List<Integer> rcs = h.on(0, () -> {
                    List<Integer> out = new ArrayList<>();
                    for (int i = 0; i < 17; i++) {
                        out.add(d.readBlocks(ch, buf, 0, i, 1, done, null));
                    }
                    return out;
                });
                assertThat(rcs.subList(0, 16)).containsOnly(0);
                assertThat(rcs.get(16)).isEqualTo(Errno.ENOMEM);
                List<String> waited = new CopyOnWriteArrayList<>();
                IoWaitEntry entry = new IoWaitEntry(arg -> waited.add("resubmit rc=" + d.readBlocks(ch, buf, 0, 16, 1, done, null)), null);
                assertThat(h.on(0, () -> d.queueIoWait(ch, entry))).isZero();
                assertThat(h.on(0, () -> d.queueIoWait(ch, entry))).as("queued twice").isEqualTo(Errno.EINVAL);
                h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS));
                h.poll();
                assertThat(waited).containsExactly("resubmit rc=0");
                h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS));
                h.poll();
                assertThat(done.statuses).hasSize(17).containsOnly(IoStatus.SUCCESS);
                // with I/O available, queueing a waiter is refused: submit instead
                assertThat(h.on(0, () -> d.queueIoWait(ch, new IoWaitEntry(arg -> { }, null)))).isEqualTo(Errno.EINVAL);
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
        }

        @Test
        @DisplayName("bdev_io_wait_test with several waiters: each freed I/O goes to the oldest waiter, whose resubmit succeeds")
        void severalIoWaitersEachResubmitInOrder() {
            try (BackendHarness h = new BackendHarness(kit, 1, 16); DmaBuffer buf = DmaBuffer.allocate(512)) {
                TestModule.Opts o = new TestModule.Opts();
                o.holdIo = true;
                h.await(h.test.create(h.layer, o));
                TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
                BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                Done done = new Done();
                List<String> order = new CopyOnWriteArrayList<>();
                h.on(0, () -> {
                    for (int i = 0; i < 16; i++) {
                        assertThat(d.readBlocks(ch, buf, 0, i, 1, done, null)).isZero();
                    }
                    for (int w = 0; w < 3; w++) {
                        int ww = w;
                        assertThat(d.readBlocks(ch, buf, 0, 20 + w, 1, done, null)).isEqualTo(Errno.ENOMEM);
                        assertThat(d.queueIoWait(ch, new IoWaitEntry(arg -> order.add("waiter " + ww + " rc="
                                + d.readBlocks(ch, buf, 0, 20 + ww, 1, done, null)), null))).isZero();
                    }
                    return null;
                });
                h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS));
                h.poll();
                assertThat(order).containsExactly("waiter 0 rc=0", "waiter 1 rc=0", "waiter 2 rc=0");
                h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS));
                h.poll();
                assertThat(done.statuses).hasSize(19).containsOnly(IoStatus.SUCCESS);
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
        }

        @Test
        @DisplayName("enomem: a module's NOMEM requeues the I/O at the head; it is retried when outstanding I/O drops to"
                + " max(n/2, n-8), or by a 10 ms poller when none is outstanding; every I/O completes once")
        void enomem() {
            try (BackendHarness h = new BackendHarness(kit, 1, 128); DmaBuffer buf = DmaBuffer.allocate(512)) {
                // SPDK's enomem: the module takes AVAIL = 20 I/O; the 21st gets NOMEM, the rest queue behind it
                TestModule.Opts a = new TestModule.Opts().name("Test1");
                a.holdIo = true;
                a.availCnt = 20;
                h.await(h.test.create(h.layer, a));
                TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test1").driver;
                BdevDescriptor d = h.on(0, () -> h.layer.open("Test1", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                io.spindle.runtime.Reactor r0 = h.group.reactor(0);
                List<Object> args = new CopyOnWriteArrayList<>();
                IoCallback cb = (io, st, arg) -> {
                    assertThat(st).isEqualTo(IoStatus.SUCCESS);
                    args.add(arg);
                };
                h.on(0, () -> {
                    for (int i = 0; i < 64; i++) {
                        assertThat(d.readBlocks(ch, buf, 0, i, 1, cb, i)).isZero();
                    }
                    return null;
                });
                h.poll();
                assertThat(drv.heldOn(r0)).isEqualTo(20);
                assertThat(drv.submitted).as("20 taken, the 21st refused; 43 wait in the layer").hasSize(21);
                assertThat(drv.submitted.get(20)).isEqualTo("READ 20+1");
                assertThat(h.on(0, () -> ch.context().ioOutstanding())).isEqualTo(20);
                // threshold = max(20/2, 20-8) = 12: one completion (19 outstanding) retries nothing
                h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS, 1));
                h.poll();
                assertThat(args).containsExactly(0);
                assertThat(drv.submitted).hasSize(21);
                // seven more reach the threshold (12 outstanding): the head is retried first, then those behind it,
                // until the module is full again and refuses the next, which becomes the new head
                h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS, 7));
                h.poll();
                assertThat(args).hasSize(8);
                assertThat(drv.heldOn(r0)).isEqualTo(20);
                assertThat(drv.submitted.subList(21, drv.submitted.size())).containsExactly("READ 20+1", "READ 21+1", "READ 22+1",
                        "READ 23+1", "READ 24+1", "READ 25+1", "READ 26+1", "READ 27+1", "READ 28+1");
                // one completion is above the threshold again: nothing retried, and no 10 ms poller while I/O is out
                h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS, 1));
                h.group.advanceTime(java.time.Duration.ofMillis(11));
                h.poll();
                assertThat(drv.submitted).hasSize(30);
                assertThat(args).hasSize(9);
                // drain: every I/O completes exactly once, in submission order
                for (int i = 0; i < 100 && args.size() < 64; i++) {
                    h.on(0, () -> drv.releaseHeld(IoStatus.SUCCESS));
                    h.poll();
                }
                List<Object> expect = new ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    expect.add(i);
                }
                assertThat(args).containsExactlyElementsOf(expect);
                assertThat(h.on(0, () -> ch.context().ioOutstanding())).isZero();
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });

                // nothing outstanding when NOMEM comes: only the 10 ms poller retries
                TestModule.Opts o = new TestModule.Opts();
                o.nomemFirst = 3;
                h.await(h.test.create(h.layer, o));
                BdevDescriptor d0 = h.on(0, () -> h.layer.open("Test0", true, IGNORE));
                IoChannel<BdevChannel> ch0 = h.on(0, d0::getIoChannel);
                Done done = new Done();
                h.on(0, () -> {
                    for (int i = 0; i < 3; i++) {
                        assertThat(d0.readBlocks(ch0, buf, 0, i, 1, done, null)).isZero();
                    }
                    return null;
                });
                h.poll();
                TestModule.Driver drv0 = (TestModule.Driver) h.layer.get("Test0").driver;
                // the first I/O got NOMEM; the other two queue behind it
                assertThat(drv0.submitted).containsExactly("READ 0+1");
                assertThat(done.statuses).isEmpty();
                for (int round = 0; round < 3; round++) {
                    h.group.advanceTime(java.time.Duration.ofMillis(11));
                    h.poll();
                }
                assertThat(drv0.submitted).containsExactly("READ 0+1", "READ 0+1", "READ 0+1", "READ 0+1", "READ 1+1", "READ 2+1");
                assertThat(done.statuses).hasSize(3).containsOnly(IoStatus.SUCCESS);
                h.on(0, () -> {
                    ch0.put();
                    d0.close();
                    return null;
                });
            }
        }
    }

    @Nested
    class SplitAndEmulation {
        @Test
        @DisplayName("bdev_io_boundary_split_test: I/O crossing optimal_io_boundary is split, one completion to the caller")
        void bdevIoBoundarySplitTest() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(40 * 512)) {
                TestModule.Opts o = new TestModule.Opts();
                o.optimalIoBoundary = 16;
                h.await(h.test.create(h.layer, o));
                TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
                BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                Done done = new Done();
                for (int i = 0; i < 40 * 512; i += 512) {
                    buf.fill(i, 512, (byte) (i / 512));
                }
                assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 0, 10, 40, done, null))).isZero();
                h.poll();
                assertThat(drv.submitted).containsExactly("WRITE 10+6", "WRITE 16+16", "WRITE 32+16", "WRITE 48+2");
                assertThat(done.statuses).containsExactly(IoStatus.SUCCESS);
                try (DmaBuffer r = DmaBuffer.allocate(40 * 512)) {
                    assertThat(h.on(0, () -> d.readBlocks(ch, r, 0, 10, 40, done, null))).isZero();
                    h.poll();
                    assertThat(r.get(0, 40 * 512)).isEqualTo(buf.get(0, 40 * 512));
                }
                // within one boundary: no split
                drv.submitted.clear();
                assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 16, 16, done, null))).isZero();
                h.poll();
                assertThat(drv.submitted).containsExactly("READ 16+16");
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
        }

        @Test
        @DisplayName("needsSplit: a power-of-two boundary (compared above its bit) and any other (divided) split exactly the I/O that"
                + " cross a boundary")
        void needsSplitMatchesTheBoundaryArithmetic() {
            for (long boundary = 1; boundary <= 40; boundary++) {
                for (long off = 0; off < 200; off++) {
                    for (long n = 1; n <= 50; n++) {
                        boolean crosses = off / boundary != (off + n - 1) / boundary;
                        assertThat(SplitAndBounce.crossesBoundary(boundary, off, n)).as("boundary %d offset %d n %d", boundary, off, n)
                                .isEqualTo(crosses);
                    }
                }
            }
            assertThat(SplitAndBounce.crossesBoundary(1L << 40, (1L << 40) - 1, 2)).isTrue();
            assertThat(SplitAndBounce.crossesBoundary(1L << 40, 1L << 40, 1L << 39)).isFalse();
        }

        @Test
        @DisplayName("bdev_io_max_size_and_segment_split_test: I/O above max_rw_size is split, vector segments follow")
        void bdevIoMaxSizeAndSegmentSplitTest() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer a = DmaBuffer.allocate(3 * 512); DmaBuffer b = DmaBuffer.allocate(7 * 512)) {
                TestModule.Opts o = new TestModule.Opts();
                o.maxRwSize = 4;
                h.await(h.test.create(h.layer, o));
                TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
                BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                Done done = new Done();
                IoVec[] v = {new IoVec(a, 0, 3 * 512), new IoVec(b, 0, 7 * 512)};
                assertThat(h.on(0, () -> d.writevBlocks(ch, v, 2, 0, 10, done, null))).isZero();
                h.poll();
                assertThat(drv.submitted).containsExactly("WRITE 0+4", "WRITE 4+4", "WRITE 8+2");
                assertThat(done.statuses).containsExactly(IoStatus.SUCCESS);
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
        }

        @Test
        @DisplayName("bdev_write_zeroes: emulated with writes of a zero buffer when the module lacks it")
        void bdevWriteZeroes() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(600 * 512)) {
                TestModule.Opts o = new TestModule.Opts();
                o.types = EnumSet.of(IoType.READ, IoType.WRITE);
                h.await(h.test.create(h.layer, o));
                TestModule.Driver drv = (TestModule.Driver) h.layer.get("Test0").driver;
                Bdev bdev = h.layer.get("Test0");
                assertThat(bdev.supports(IoType.WRITE_ZEROES)).isTrue();
                BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                Done done = new Done();
                buf.fill(0, 600 * 512, (byte) 0x5a);
                assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 0, 0, 600, done, null))).isZero();
                h.poll();
                drv.submitted.clear();
                assertThat(h.on(0, () -> d.writeZeroesBlocks(ch, 10, 300, done, null))).isZero();
                h.poll();
                // 128 KiB zero buffer = 256 blocks per child write
                assertThat(drv.submitted).containsExactly("WRITE 10+256", "WRITE 266+44");
                assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 0, 600, done, null))).isZero();
                h.poll();
                assertThat(done.statuses).containsOnly(IoStatus.SUCCESS).hasSize(3);
                assertThat(buf.getByte(10 * 512 - 1)).isEqualTo((byte) 0x5a);
                for (long i = 10 * 512; i < 310 * 512; i += 97) {
                    assertThat(buf.getByte(i)).isZero();
                }
                assertThat(buf.getByte(310 * 512)).isEqualTo((byte) 0x5a);
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
        }

        @Test
        @DisplayName("bdev_compare_emulated: read + compare; MISCOMPARE when the data differs")
        void bdevCompareEmulated() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(8 * 512)) {
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", true, IGNORE));
                IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
                Done done = new Done();
                buf.fill(0, 8 * 512, (byte) 7);
                assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 0, 4, 8, done, null))).isZero();
                h.poll();
                assertThat(h.on(0, () -> d.compareBlocks(ch, buf, 0, 4, 8, done, null))).isZero();
                h.poll();
                buf.put(3000, new byte[]{8});
                assertThat(h.on(0, () -> d.compareBlocks(ch, buf, 0, 4, 8, done, null))).isZero();
                h.poll();
                assertThat(done.statuses).containsExactly(IoStatus.SUCCESS, IoStatus.SUCCESS, IoStatus.MISCOMPARE);
                h.on(0, () -> {
                    ch.put();
                    d.close();
                    return null;
                });
            }
        }
    }

    @Nested
    class Claims {
        static final long KEY = 0x5eed;

        BdevDescriptor open(BackendHarness h, boolean writable) {
            return h.on(0, () -> h.layer.open("Malloc0", writable, IGNORE));
        }

        void close(BackendHarness h, BdevDescriptor d) {
            h.on(0, () -> {
                d.close();
                return null;
            });
        }

        void assertUnclaimed(Bdev b) {
            assertThat(b.claimType()).isNull();
            assertThat(b.claimModule()).isNull();
            assertThat(b.v2ClaimCount()).isZero();
        }

        @Test
        @DisplayName("claim_v2_rwo: one writer; it blocks writers and every other claim; no key allowed; released at close")
        void claimV2Rwo() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                // claim, then release by closing the descriptor
                BdevDescriptor d = open(h, true);
                assertThat(h.layer.claimDescriptor(d, ClaimType.READ_MANY_WRITE_ONE, 0, h.test)).isZero();
                assertThat(b.claimType()).isEqualTo(ClaimType.READ_MANY_WRITE_ONE);
                assertThat(b.claimModule()).isSameAs(h.test);
                assertThat(b.v2ClaimCount()).isEqualTo(1);
                close(h, d);
                assertUnclaimed(b);
                assertThat(b.openDescriptors()).isZero();

                BdevDescriptor d1 = open(h, true);
                assertThat(h.layer.claimDescriptor(d1, ClaimType.READ_MANY_WRITE_ONE, 0, h.test)).isZero();
                // the claim blocks new writers
                assertThatThrownBy(() -> open(h, true))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("EPERM").hasMessageContaining("read_many_write_one"));
                // new readers are allowed, but no new claim of any kind
                BdevDescriptor d2 = open(h, false);
                assertThat(d2.isWritable()).isFalse();
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_ONE, 0, h.test)).isEqualTo(Errno.EPERM);
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_NONE, 0, h.test)).isEqualTo(Errno.EPERM);
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_SHARED, KEY, h.test)).isEqualTo(Errno.EPERM);
                assertThat(d2.isWritable()).isFalse();
                assertThat(h.layer.claimBdev(b, null, h.test)).as("v1 over v2").isEqualTo(Errno.EPERM);
                assertThat(h.layer.leafBdevs()).isEmpty();
                // none of the above changed the existing claim
                assertThat(b.v2ClaimCount()).isEqualTo(1);
                assertThat(b.claimType()).isEqualTo(ClaimType.READ_MANY_WRITE_ONE);
                // closing the claimer allows a new claim, which promotes the read-only descriptor to write
                close(h, d1);
                assertUnclaimed(b);
                assertThat(d2.isWritable()).isFalse();
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_ONE, 0, h.test)).isZero();
                assertThat(d2.isWritable()).as("promoted to write").isTrue();
                assertThat(b.v2ClaimCount()).isEqualTo(1);
                close(h, d2);
                assertUnclaimed(b);

                // a key is refused
                BdevDescriptor k = open(h, false);
                assertThat(h.layer.claimDescriptor(k, ClaimType.READ_MANY_WRITE_ONE, KEY, h.test)).isEqualTo(Errno.EINVAL);
                assertUnclaimed(b);
                close(h, k);
                assertThat(h.layer.leafBdevs()).containsExactly(b);
            }
        }

        @Test
        @DisplayName("claim_v2_rom: read-only claimers share; writers, other claims, keys and writable claimers are refused")
        void claimV2Rom() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                BdevDescriptor d = open(h, false);
                assertThat(h.layer.claimDescriptor(d, ClaimType.READ_MANY_WRITE_NONE, 0, h.test)).isZero();
                assertThat(b.claimType()).isEqualTo(ClaimType.READ_MANY_WRITE_NONE);
                assertThat(b.claimModule()).isSameAs(h.test);
                assertThat(b.v2ClaimCount()).isEqualTo(1);
                close(h, d);
                assertUnclaimed(b);
                assertThat(b.openDescriptors()).isZero();

                BdevDescriptor d1 = open(h, false);
                assertThat(h.layer.claimDescriptor(d1, ClaimType.READ_MANY_WRITE_NONE, 0, h.test)).isZero();
                assertThatThrownBy(() -> open(h, true))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("EPERM").hasMessageContaining("read_many_write_none"));
                BdevDescriptor d2 = open(h, false);
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_ONE, 0, h.test)).isEqualTo(Errno.EPERM);
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_SHARED, KEY, h.test)).isEqualTo(Errno.EPERM);
                assertThat(d2.isWritable()).isFalse();
                assertThat(h.layer.claimBdev(b, null, h.test)).as("v1 over v2").isEqualTo(Errno.EPERM);
                assertThat(b.v2ClaimCount()).isEqualTo(1);
                // a second read-only claim is allowed and the descriptor stays read-only
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_NONE, 0, h.test)).isZero();
                assertThat(d2.isWritable()).isFalse();
                assertThat(b.v2ClaimCount()).isEqualTo(2);
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_NONE, 0, h.test)).as("claimed twice").isEqualTo(Errno.EPERM);
                // the claim remains while one claimer is open
                close(h, d1);
                assertThat(b.claimType()).isEqualTo(ClaimType.READ_MANY_WRITE_NONE);
                assertThat(b.v2ClaimCount()).isEqualTo(1);
                close(h, d2);
                assertUnclaimed(b);
                assertThat(b.openDescriptors()).isZero();

                // a key is refused
                BdevDescriptor k = open(h, false);
                assertThat(h.layer.claimDescriptor(k, ClaimType.READ_MANY_WRITE_NONE, KEY, h.test)).isEqualTo(Errno.EINVAL);
                assertUnclaimed(b);
                close(h, k);
                // a writable descriptor is refused (EINVAL); a read-only one while a writer is open is EPERM
                BdevDescriptor rw = open(h, true);
                assertThat(h.layer.claimDescriptor(rw, ClaimType.READ_MANY_WRITE_NONE, 0, h.test)).isEqualTo(Errno.EINVAL);
                BdevDescriptor ro = open(h, false);
                assertThat(h.layer.claimDescriptor(ro, ClaimType.READ_MANY_WRITE_NONE, 0, h.test)).as("a writer is open").isEqualTo(Errno.EPERM);
                assertUnclaimed(b);
                close(h, rw);
                close(h, ro);
                assertThat(b.openDescriptors()).isZero();
            }
        }

        @Test
        @DisplayName("claim_v2_rwm: writers with the same non-zero key share; other keys, claims and unclaimed writers refused")
        void claimV2Rwm() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                BdevDescriptor d1 = open(h, true);
                assertThat(h.layer.claimDescriptor(d1, ClaimType.READ_MANY_WRITE_SHARED, 0, h.test)).as("no key").isEqualTo(Errno.EINVAL);
                assertUnclaimed(b);
                assertThat(h.layer.claimDescriptor(d1, ClaimType.READ_MANY_WRITE_SHARED, KEY, h.test)).isZero();
                assertThat(b.claimType()).isEqualTo(ClaimType.READ_MANY_WRITE_SHARED);
                assertThat(b.v2ClaimCount()).isEqualTo(1);
                assertThatThrownBy(() -> open(h, true))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("EPERM").hasMessageContaining("read_many_write_shared"));
                BdevDescriptor d2 = open(h, false);
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_ONE, 0, h.test)).isEqualTo(Errno.EPERM);
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_NONE, 0, h.test)).isEqualTo(Errno.EPERM);
                assertThat(d2.isWritable()).isFalse();
                assertThat(h.layer.claimBdev(b, null, h.test)).as("v1 over v2").isEqualTo(Errno.EPERM);
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_SHARED, KEY + 1, h.test)).as("another key").isEqualTo(Errno.EPERM);
                assertThat(d2.isWritable()).isFalse();
                assertThat(b.v2ClaimCount()).isEqualTo(1);
                // the same key shares the claim and promotes the descriptor to write
                assertThat(h.layer.claimDescriptor(d2, ClaimType.READ_MANY_WRITE_SHARED, KEY, h.test)).isZero();
                assertThat(d2.isWritable()).isTrue();
                assertThat(b.v2ClaimCount()).isEqualTo(2);
                close(h, d1);
                assertThat(b.claimType()).isEqualTo(ClaimType.READ_MANY_WRITE_SHARED);
                assertThat(b.v2ClaimCount()).isEqualTo(1);
                close(h, d2);
                assertUnclaimed(b);
                assertThat(b.openDescriptors()).isZero();

                // a writer open without a claim blocks a shared claim by anyone else (SPDK: EPERM)
                BdevDescriptor writer = open(h, true);
                BdevDescriptor ro = open(h, false);
                assertThat(h.layer.claimDescriptor(ro, ClaimType.READ_MANY_WRITE_SHARED, KEY, h.test)).isEqualTo(Errno.EPERM);
                assertThat(ro.isWritable()).isFalse();
                assertUnclaimed(b);
                close(h, writer);
                assertThat(h.layer.claimDescriptor(ro, ClaimType.READ_MANY_WRITE_SHARED, KEY, h.test)).isZero();
                close(h, ro);
                assertUnclaimed(b);
            }
        }

        @Test
        @DisplayName("claim_v2_existing_writer: with two writers open, no v2 claim is granted (EPERM; EINVAL for read_many_write_none)")
        void claimV2ExistingWriter() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                BdevDescriptor d1 = open(h, true);
                BdevDescriptor d2 = open(h, true);
                for (ClaimType type : List.of(ClaimType.READ_MANY_WRITE_ONE, ClaimType.READ_MANY_WRITE_SHARED, ClaimType.READ_MANY_WRITE_NONE)) {
                    long key = type == ClaimType.READ_MANY_WRITE_SHARED ? KEY : 0;
                    int expect = type == ClaimType.READ_MANY_WRITE_NONE ? Errno.EINVAL : Errno.EPERM;
                    assertThat(h.layer.claimDescriptor(d1, type, key, h.test)).as("%s on d1", type).isEqualTo(expect);
                    assertUnclaimed(b);
                    assertThat(h.layer.claimDescriptor(d2, type, key, h.test)).as("%s on d2", type).isEqualTo(expect);
                    assertUnclaimed(b);
                }
                close(h, d1);
                close(h, d2);
            }
        }

        @Test
        @DisplayName("claim_v2_existing_v1: under a v1 claim every v2 claim is EPERM and the v1 claim stays")
        void claimV2ExistingV1() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                assertThat(h.layer.claimBdev(b, null, h.test)).isZero();
                assertThat(b.claimType()).isEqualTo(ClaimType.EXCL_WRITE);
                BdevDescriptor d = open(h, false);
                for (ClaimType type : List.of(ClaimType.READ_MANY_WRITE_ONE, ClaimType.READ_MANY_WRITE_SHARED, ClaimType.READ_MANY_WRITE_NONE)) {
                    long key = type == ClaimType.READ_MANY_WRITE_SHARED ? KEY : 0;
                    assertThat(h.layer.claimDescriptor(d, type, key, h.test)).as("%s", type).isEqualTo(Errno.EPERM);
                    assertThat(b.claimType()).isEqualTo(ClaimType.EXCL_WRITE);
                    assertThat(b.claimModule()).isSameAs(h.test);
                }
                assertThat(h.layer.claimDescriptor(d, ClaimType.EXCL_WRITE, 0, h.test)).as("v1 through the v2 call").isEqualTo(Errno.EPERM);
                assertThat(h.layer.releaseBdev(b, h.test)).isZero();
                assertUnclaimed(b);
                // EXCL_WRITE given to the v2 call is the v1 claim (SPDK): it upgrades the descriptor, outlives its close
                assertThat(h.layer.claimDescriptor(d, ClaimType.EXCL_WRITE, 0, h.test)).isZero();
                assertThat(d.isWritable()).isTrue();
                close(h, d);
                assertThat(b.claimType()).isEqualTo(ClaimType.EXCL_WRITE);
                assertThat(h.layer.releaseBdev(b, h.test)).isZero();
                assertThat(h.layer.claimDescriptor(null, ClaimType.READ_MANY_WRITE_ONE, 0, h.test)).as("no descriptor").isEqualTo(Errno.EINVAL);
            }
        }

        @Test
        @DisplayName("claim_v1_existing_v2: a v1 claim is EPERM under any v2 claim and granted once its descriptor closed")
        void claimV1ExistingV2() {
            try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
                Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
                for (ClaimType type : List.of(ClaimType.READ_MANY_WRITE_ONE, ClaimType.READ_MANY_WRITE_SHARED, ClaimType.READ_MANY_WRITE_NONE)) {
                    BdevDescriptor d = open(h, false);
                    assertThat(h.layer.claimDescriptor(d, type, type == ClaimType.READ_MANY_WRITE_SHARED ? KEY : 0, h.test)).as("%s", type).isZero();
                    assertThat(h.layer.claimBdev(b, null, h.test)).as("v1 over %s", type).isEqualTo(Errno.EPERM);
                    close(h, d);
                    assertThat(h.layer.claimBdev(b, null, h.test)).as("v1 after %s released", type).isZero();
                    assertThat(h.layer.releaseBdev(b, h.test)).isZero();
                    assertUnclaimed(b);
                }
            }
        }

        /** Registers a malloc bdev and, with auto examine off, names it for bdev_examine; waits for examine. */
        Bdev examined(BackendHarness h, String name, boolean auto) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of(name, 64, 512)));
            if (!auto) {
                assertThat(h.await(h.layer.examine(name))).isZero();
            }
            h.await(h.layer.waitForExamine());
            return b;
        }

        void resetExamine(BackendHarness h, ExamineModule... mods) {
            h.on(0, () -> {
                for (ExamineModule m : mods) {
                    m.reset();
                }
                return null;
            });
            h.test.examinedDisks.clear();
        }

        @ParameterizedTest(name = "{displayName} [auto examine={0}]")
        @ValueSource(booleans = {true, false})
        @DisplayName("examine_claimed / examine_claimed_manual: every module's examine_config runs; examine_disk only for the claimers"
                + " when examine_config claimed the bdev, else for all")
        void examineClaimed(boolean auto) {
            ExamineModule ex0 = new ExamineModule("ut_examine0");
            ExamineModule ex1 = new ExamineModule("ut_examine1");
            BdevOptions opts = new BdevOptions(64, BdevOptions.DEFAULT_IO_CACHE_SIZE, auto, 128, 16);
            try (BackendHarness h = new BackendHarness(kit, 1, opts, ex0, ex1)) {
                // one module claims: both examine_config, only the claimer's examine_disk
                ex0.claimType = ClaimType.READ_MANY_WRITE_NONE;
                Bdev b0 = examined(h, "Malloc0", auto);
                assertThat(ex0.claimRc).isZero();
                assertThat(ex0.examineConfigCount).isEqualTo(1);
                assertThat(ex0.examineDiskCount).isEqualTo(1);
                assertThat(b0.claimModule()).isSameAs(ex0);
                assertThat(ex1.examineConfigCount).isEqualTo(1);
                assertThat(ex1.examineDiskCount).as("not a claimer").isZero();
                assertThat(ex1.desc).isNull();
                assertThat(h.test.examinedDisks).as("not a claimer").isEmpty();
                resetExamine(h, ex0, ex1);
                assertThat(b0.claimed()).isFalse();

                // two modules claim: both examine_config and examine_disk
                ex0.claimType = ClaimType.READ_MANY_WRITE_NONE;
                ex1.claimType = ClaimType.READ_MANY_WRITE_NONE;
                Bdev b1 = examined(h, "Malloc1", auto);
                assertThat(ex0.claimRc).isZero();
                assertThat(ex1.claimRc).isZero();
                assertThat(ex0.examineConfigCount).isEqualTo(1);
                assertThat(ex0.examineDiskCount).isEqualTo(1);
                assertThat(ex1.examineConfigCount).isEqualTo(1);
                assertThat(ex1.examineDiskCount).isEqualTo(1);
                assertThat(b1.claimModules()).containsExactly(ex0, ex1);
                assertThat(b1.v2ClaimCount()).isEqualTo(2);
                assertThat(h.test.examinedDisks).isEmpty();
                resetExamine(h, ex0, ex1);

                // conflicting claim types: the first examiner wins; only its examine_disk runs
                ex0.claimType = ClaimType.READ_MANY_WRITE_NONE;
                ex1.claimType = ClaimType.READ_MANY_WRITE_ONE;
                Bdev b2 = examined(h, "Malloc2", auto);
                assertThat(ex0.claimRc).isZero();
                assertThat(ex1.claimRc).isEqualTo(Errno.EPERM);
                assertThat(ex0.examineDiskCount).isEqualTo(1);
                assertThat(ex1.examineConfigCount).isEqualTo(1);
                assertThat(ex1.examineDiskCount).isZero();
                assertThat(b2.claimType()).isEqualTo(ClaimType.READ_MANY_WRITE_NONE);
                assertThat(b2.claimModules()).containsExactly(ex0);
                resetExamine(h, ex0, ex1);

                // nobody claims: every module's examine_disk
                Bdev b3 = examined(h, "Malloc3", auto);
                assertThat(b3.claimed()).isFalse();
                assertThat(ex0.examineDiskCount).isEqualTo(1);
                assertThat(ex1.examineDiskCount).isEqualTo(1);
                assertThat(h.test.examinedDisks).containsExactly("Malloc3");
                resetExamine(h, ex0, ex1);

                // a v1 claim from examine_config: only the v1 claimer's examine_disk
                h.test.examineClaim = (b, l) -> l.claimBdev(b, null, h.test);
                Bdev b4 = examined(h, "Malloc4", auto);
                h.test.examineClaim = null;
                assertThat(h.test.claims).containsExactly("Malloc4:0");
                assertThat(b4.claimType()).isEqualTo(ClaimType.EXCL_WRITE);
                assertThat(b4.claimModule()).isSameAs(h.test);
                assertThat(h.test.examinedDisks).containsExactly("Malloc4");
                assertThat(ex0.examineConfigCount).isEqualTo(1);
                assertThat(ex0.examineDiskCount).isZero();
                assertThat(ex1.examineConfigCount).isEqualTo(1);
                assertThat(ex1.examineDiskCount).isZero();
                assertThat(h.layer.leafBdevs()).doesNotContain(b4);
                assertThatThrownBy(() -> h.on(0, () -> h.layer.open("Malloc4", true, IGNORE)))
                        .satisfies(t -> assertThat(cause(t)).hasMessageContaining("EPERM"));
                assertThat(h.layer.releaseBdev(b4, h.malloc)).as("not the claimer").isEqualTo(Errno.EINVAL);
                assertThat(h.layer.releaseBdev(b4, h.test)).isZero();
                assertThat(h.layer.leafBdevs()).contains(b4);
            }
        }
    }
}
