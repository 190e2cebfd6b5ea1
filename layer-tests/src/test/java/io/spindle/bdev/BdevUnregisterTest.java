package io.spindle.bdev;

import io.spindle.backends.BackendHarness;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleConfig;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorConfig;
import io.spindle.testing.Seeds;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Unregister and hot-remove: SPDK's {@code unregister_and_close*}, {@code event_notify_and_close},
 * {@code bdev_open_while_hotremove}, {@code bdev_close_while_hotremove}, {@code bdev_open_ext_unregister}, the
 * SPDK issue #3252 regression, and removal under load on real reactor threads.
 */
@Timeout(120)
class BdevUnregisterTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-unregister-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static Throwable cause(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    @Test
    @DisplayName("unregister_and_close: the unregister waits for the open descriptor, which gets exactly one REMOVE; a descriptor"
            + " closed before anything ran gets none and the unregister completes")
    void unregisterAndClose() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            List<String> events = new CopyOnWriteArrayList<>();
            BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", true, (e, bd, desc) -> events.add(e.name())));
            CompletableFuture<Integer> un = h.layer.unregister("Malloc0").toCompletableFuture();
            h.poll();
            assertThat(un).as("a descriptor is still open").isNotDone();
            assertThat(events).containsExactly("REMOVE");
            assertThat(b.status()).isEqualTo(Bdev.Status.REMOVING);
            h.on(0, () -> {
                d.close();
                return null;
            });
            h.poll();
            assertThat(un).isCompletedWithValue(Errno.OK);
            assertThat(events).as("nothing after the close").containsExactly("REMOVE");
            assertThat(h.layer.get("Malloc0")).isNull();

            // register again; unregister, then close before anything else ran: REMOVE is never delivered
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            List<String> ev2 = new CopyOnWriteArrayList<>();
            BdevDescriptor d2 = h.on(0, () -> h.layer.open("Malloc0", true, (e, bd, desc) -> ev2.add(e.name())));
            assertThat(ev2).isEmpty();
            CompletableFuture<Integer> un2 = new CompletableFuture<>();
            h.on(0, () -> {
                h.layer.unregister("Malloc0").thenAccept(un2::complete);
                // nothing has run yet: no REMOVE, no completion
                assertThat(ev2).isEmpty();
                assertThat(un2).isNotDone();
                d2.close();
                return null;
            });
            h.poll();
            assertThat(ev2).as("the descriptor closed before REMOVE").isEmpty();
            assertThat(un2).isCompletedWithValue(Errno.OK);
            assertThat(h.layer.get("Malloc0")).isNull();
        }
    }

    @Test
    @DisplayName("a bdev whose actor has stopped answers ENODEV to unregister, resize, QoS, media events, stats and histogram (no dead letter)")
    void requestsToAStoppedBdevActorAnswerEnodev() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            assertThat(h.await(h.layer.unregister("Malloc0"))).isZero();
            h.poll(); // the actor has stopped
            // a caller that looked the bdev up before it went (as bdev_null_resize does) resizes that object
            CompletableFuture<Integer> resize = h.layer.resize(b, 64).toCompletableFuture();
            h.poll();
            assertThat(resize).as("resize of the bdev object").isCompletedWithValue(Errno.ENODEV);
            List<CompletableFuture<?>> asked = sendEveryRequest(b);
            h.poll();
            assertAnsweredEnodev(asked);
        }
    }

    @Test
    @DisplayName("requests still in a bdev actor's mailbox when it stops after its unregister are answered ENODEV")
    void requestsQueuedBehindTheLastStepAnswerEnodev() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            TestModule.Opts o = new TestModule.Opts();
            o.asyncDestruct = true;
            Bdev b = h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) b.driver;
            CompletableFuture<Integer> un = h.layer.unregister("Test0").toCompletableFuture();
            h.group.pollUntil(() -> drv.destructs == 1, BackendHarness.T);
            h.poll();
            assertThat(un).as("waits for the module's destruct").isNotDone();
            // the destruct completes on this thread: its Destructed message, the actor's last, is now in the
            // mailbox; what is sent after it arrives when the actor is about to stop
            drv.destructGate.complete(null);
            CompletableFuture<Integer> resize = h.layer.resize(b, 1024).toCompletableFuture();
            List<CompletableFuture<?>> asked = sendEveryRequest(b);
            assertThat(resize).isNotDone();
            h.poll();
            assertThat(un).isCompletedWithValue(Errno.OK);
            assertThat(resize).as("resize queued behind the stop").isCompletedWithValue(Errno.ENODEV);
            assertAnsweredEnodev(asked);
        }
    }

    /** One request of each kind to the bdev's actor, as the layer sends them. */
    private static List<CompletableFuture<?>> sendEveryRequest(Bdev b) {
        CompletableFuture<Integer> unregister = new CompletableFuture<>();
        CompletableFuture<Integer> resize = new CompletableFuture<>();
        CompletableFuture<Integer> qos = new CompletableFuture<>();
        CompletableFuture<Integer> media = new CompletableFuture<>();
        CompletableFuture<List<BdevLayer.ChannelStats>> stats = new CompletableFuture<>();
        CompletableFuture<org.HdrHistogram.Histogram> histogram = new CompletableFuture<>();
        b.request(new BdevActor.Unregister(unregister));
        b.request(new BdevActor.Resize(2048, resize));
        b.request(new BdevActor.SetQos(QosLimits.of(1000, 0, 0, 0), qos));
        b.request(new BdevActor.MediaEvent(media));
        b.request(new BdevActor.GetStats(IoStats.ResetMode.NONE, stats));
        b.request(new BdevActor.GetHistogram(histogram));
        return List.of(unregister, resize, qos, media, stats, histogram);
    }

    private static void assertAnsweredEnodev(List<CompletableFuture<?>> asked) {
        for (int i = 0; i < 4; i++) {
            assertThat(asked.get(i).getNow(null)).as("request %d", i).isEqualTo(Errno.ENODEV);
        }
        for (int i = 4; i < 6; i++) {
            assertThat(asked.get(i)).as("query %d", i).isCompletedExceptionally();
            assertThatThrownBy(asked.get(i)::join).satisfies(t -> assertThat(cause(t)).isInstanceOf(BdevException.class)
                    .hasMessageContaining("ENODEV").hasMessageContaining("no such bdev"));
        }
    }

    @Test
    @DisplayName("event_notify_and_close: events in flight on the descriptor's reactor when it closes there are dropped")
    void eventNotifyAndClose() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64)) {
            // a null bdev: it can grow (a malloc bdev's memory is fixed)
            Bdev b = h.await(h.nul.create(h.layer, io.spindle.backends.nullbdev.NullModule.Options.of("Malloc0", 64, 512)));
            List<String> events = new CopyOnWriteArrayList<>();
            BdevDescriptor d = h.on(1, () -> h.layer.open("Malloc0", true, (e, bd, desc) ->
                    events.add(e + "@" + Reactor.current().name() + " blocks=" + bd.numBlocks())));
            // the normal case: RESIZE is delivered on the descriptor's reactor
            assertThat(h.await(h.layer.resize("Malloc0", 128))).isZero();
            h.poll();
            assertThat(events).containsExactly("RESIZE@reactor_1 blocks=128");

            // the race: the close is queued on reactor_1 first (not run), then two resizes post their RESIZE
            // messages to reactor_1 while the descriptor is still open; reactor_1 then runs the close before them
            CompletableFuture<Void> closed = new CompletableFuture<>();
            h.group.reactor(1).send(() -> {
                d.close();
                closed.complete(null);
            });
            CompletableFuture<Integer> r1 = h.layer.resize("Malloc0", 192).toCompletableFuture();
            CompletableFuture<Integer> r2 = h.layer.resize("Malloc0", 256).toCompletableFuture();
            for (int i = 0; i < 10_000 && !(r1.isDone() && r2.isDone()); i++) {
                h.group.pollOnce(0); // the bdev actor only: reactor_1 runs nothing yet
            }
            assertThat(r1).isCompletedWithValue(Errno.OK);
            assertThat(r2).isCompletedWithValue(Errno.OK);
            assertThat(b.numBlocks()).isEqualTo(256);
            assertThat(closed).as("reactor_1 has not run").isNotDone();
            assertThat(b.openDescriptors()).as("both events were sent to an open descriptor").isEqualTo(1);
            h.poll();
            assertThat(closed).isDone();
            assertThat(d.isClosed()).isTrue();
            assertThat(events).as("the handler never ran for the events in flight").containsExactly("RESIZE@reactor_1 blocks=128");
            assertThat(h.await(h.layer.unregister("Malloc0"))).isZero();
            assertThat(events).hasSize(1);
        }
    }

    @Test
    @DisplayName("bdev_close_while_hotremove: the descriptor closes while REMOVE is in flight to it; no event, the unregister completes")
    void bdevCloseWhileHotremove() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64)) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            List<String> events = new CopyOnWriteArrayList<>();
            BdevDescriptor d = h.on(1, () -> h.layer.open("Malloc0", true, (e, bd, desc) -> events.add(e.name())));
            h.group.reactor(1).send(d::close); // queued on the descriptor's reactor ahead of what the unregister posts
            CompletableFuture<Integer> un = h.layer.unregister("Malloc0").toCompletableFuture();
            for (int i = 0; i < 10_000 && b.status() != Bdev.Status.REMOVING; i++) {
                h.group.pollOnce(0);
            }
            assertThat(b.status()).as("REMOVE posted to reactor_1").isEqualTo(Bdev.Status.REMOVING);
            assertThat(d.isClosed()).isFalse();
            for (int i = 0; i < 10_000 && !d.isClosed(); i++) {
                h.group.pollOnce(1);
            }
            assertThat(d.isClosed()).isTrue();
            assertThat(un).as("the unregister reply waits for the bdev actor on reactor_0").isNotDone();
            h.group.pollUntil(un::isDone, BackendHarness.T);
            assertThat(un.join()).isZero();
            assertThat(events).as("REMOVE reached a closed descriptor: dropped").isEmpty();
            assertThat(b.status()).isEqualTo(Bdev.Status.REMOVED);
        }
    }

    @Test
    @DisplayName("unregister_and_close_different_threads: close on reactor 1; the unregister completes only after reactor 0 runs")
    void unregisterAndCloseDifferentThreads() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            List<String> events = new CopyOnWriteArrayList<>();
            BdevDescriptor d = h.on(1, () -> h.layer.open("Malloc0", true, (e, b, desc) -> {
                events.add(e + "@" + Reactor.current().name());
                desc.close(); // close from the handler, on reactor 1
            }));
            CompletableFuture<Integer> un = h.layer.unregister("Malloc0").toCompletableFuture();
            for (int i = 0; i < 10000 && events.isEmpty(); i++) {
                h.group.pollOnce(0);
                h.group.pollOnce(1);
            }
            assertThat(events).containsExactly("REMOVE@reactor_1");
            assertThat(d.isClosed()).isTrue();
            assertThat(un).as("the bdev actor on reactor 0 has not run yet").isNotDone();
            h.group.pollUntil(un::isDone, BackendHarness.T);
            assertThat(un.join()).isZero();
        }
    }

    @Test
    @DisplayName("bdev_close on another reactor, or off any reactor, fails naming both and leaves the descriptor open")
    void closeOnAnotherReactorFailsClearly() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64)) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            BdevDescriptor d = h.on(1, () -> h.layer.open("Malloc0", true, (e, bd, desc) -> { }));
            assertThatThrownBy(() -> h.on(0, () -> {
                d.close();
                return null;
            })).satisfies(t -> assertThat(cause(t)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("bdev_close bdev=Malloc0").hasMessageContaining("owner=reactor_1").hasMessageContaining("caller=reactor_0"));
            assertThatThrownBy(d::close).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("bdev_close bdev=Malloc0").hasMessageContaining("owner=reactor_1").hasMessageContaining("caller=thread ");
            assertThat(d.isClosed()).isFalse();
            assertThat(b.openDescriptors()).isEqualTo(1);
            // nothing was half done: the unregister still waits for it, and the owner closes it normally
            CompletableFuture<Integer> un = h.layer.unregister("Malloc0").toCompletableFuture();
            h.poll();
            assertThat(un).isNotDone();
            h.on(1, () -> {
                d.close();
                return null;
            });
            assertThat(h.await(un)).isZero();
            assertThatThrownBy(() -> h.on(1, () -> {
                d.close();
                return null;
            })).satisfies(t -> assertThat(cause(t)).hasMessageContaining("already closed"));
        }
    }

    @Test
    @DisplayName("bdev_open_while_hotremove: opening a bdev being unregistered is ENODEV; a second unregister is EBUSY")
    void bdevOpenWhileHotremove() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", false, (e, b, desc) -> { }));
            CompletableFuture<Integer> un = h.layer.unregister("Malloc0").toCompletableFuture();
            h.group.pollUntil(() -> h.layer.get("Malloc0").status() != Bdev.Status.READY, BackendHarness.T);
            assertThatThrownBy(() -> h.on(0, () -> h.layer.open("Malloc0", false, (e, b, desc) -> { })))
                    .satisfies(t -> assertThat(cause(t)).isInstanceOf(BdevException.class).hasMessageContaining("ENODEV"));
            assertThat(h.await(h.layer.unregister("Malloc0"))).isEqualTo(Errno.EBUSY);
            h.on(0, () -> {
                d.close();
                return null;
            });
            assertThat(h.await(un)).isZero();
            assertThat(h.await(h.layer.unregister("Malloc0"))).as("gone").isEqualTo(Errno.ENODEV);
        }
    }

    @Test
    @DisplayName("bdev_open_ext_unregister: REMOVE reaches each handler on its own reactor, which closes; unregister completes")
    void bdevOpenExtUnregister() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            List<String> events = new CopyOnWriteArrayList<>();
            List<BdevDescriptor> ds = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                ds.add(h.on(r, () -> h.layer.open("Malloc0", true, (e, b, desc) -> {
                    events.add(e + "@" + Reactor.current().name() + " desc@" + desc.reactor().name());
                    desc.close();
                })));
            }
            assertThat(h.layer.get("Malloc0").openDescriptors()).isEqualTo(2);
            assertThat(h.await(h.layer.unregister("Malloc0"))).isZero();
            assertThat(events).containsExactlyInAnyOrder("REMOVE@reactor_0 desc@reactor_0", "REMOVE@reactor_1 desc@reactor_1");
            assertThat(ds).allSatisfy(d -> assertThat(d.isClosed()).isTrue());
        }
    }

    @Test
    @DisplayName("SPDK #3252: destruct runs only after every module channel was destroyed on its own reactor, and finishes before the "
            + "reply (50 fixed + 50 random interleavings)")
    void destructWaitsForModuleChannels() {
        try (BackendHarness h = new BackendHarness(kit, 4, 64)) {
            Seeds.forEach(Seeds.of(50, 50), seed -> runInterleaving(h, seed));
        }
    }

    /**
     * One randomized run of the #3252 scenario on four manual reactors, stepped one task at a time. Each reactor
     * has a descriptor, a bdev channel (holding a module-io_device channel) and I/O held by the module; on some
     * reactors the module also holds a module channel of its own (as a module's I/O or poller would), put as a
     * separate random action. Once a descriptor saw REMOVE, its channel put and its close are separate random
     * actions in either order, so the last bdev channel is often destroyed after the bdev's io_device was
     * unregistered; its module channel's destroy is then the next task on that reactor. Per-seed speeds let
     * reactor 0 (the bdev actor's) run ahead of the others, the interleaving in which SPDK's shape (waiting for
     * the bdev's own io_device only) reaches destruct first.
     *
     * <p>The module channel's destroy writes into the module's off-heap state, which destruct frees when it begins:
     * a destroy after destruct is a use-after-free seen by Chronicle's release tracking, and stepping stops at
     * once with that violation (as it does for a module channel destroyed on a reactor other than its own). The
     * destruct is asynchronous: the reply must come after it finished, never before.
     */
    private void runInterleaving(BackendHarness h, long seed) {
        Random rnd = new Random(seed);
        String name = "T" + Long.toHexString(seed);
        TestModule.Opts o = new TestModule.Opts().name(name);
        o.moduleDevice = true;
        o.asyncDestruct = true;
        o.holdIo = true;
        h.test.log.clear();
        h.test.violations.clear();
        Bdev bdev = h.await(h.test.create(h.layer, o));
        TestModule.Driver drv = (TestModule.Driver) bdev.driver;
        int n = h.group.size();
        BdevDescriptor[] descs = new BdevDescriptor[n];
        List<IoChannel<BdevChannel>> chans = new ArrayList<>();
        List<IoChannel<TestModule.ModuleChannel>> moduleHeld = new ArrayList<>();
        boolean[] removeSeen = new boolean[n];
        boolean[] closed = new boolean[n];
        boolean[] put = new boolean[n];
        boolean[] heldPut = new boolean[n];
        // reactor 0 steps 4, 8 or 16 times as often as the others, which get 1, 2 or 4
        int[] weight = new int[n];
        int total = 0;
        for (int r = 0; r < n; r++) {
            weight[r] = r == 0 ? 4 << rnd.nextInt(3) : 1 << rnd.nextInt(3);
            total += weight[r];
        }
        AtomicInteger completions = new AtomicInteger();
        AtomicInteger accepted = new AtomicInteger();
        IoCallback cb = (io, st, arg) -> completions.incrementAndGet();
        DmaBuffer buf = DmaBuffer.allocate(512);
        try {
            for (int r = 0; r < n; r++) {
                int rr = r;
                descs[r] = h.on(r, () -> h.layer.open(name, true, (e, b, d) -> removeSeen[rr] = true));
                chans.add(h.on(r, descs[r]::getIoChannel));
                // the module's own reference to its channel here (a module poller, I/O in flight at the module)
                moduleHeld.add(rnd.nextBoolean() ? h.on(r, drv.moduleDevice::getChannel) : null);
                heldPut[r] = moduleHeld.get(r) == null;
                int ios = rnd.nextInt(4);
                for (int i = 0; i < ios; i++) {
                    int blk = i;
                    if (h.on(r, () -> descs[rr].readBlocks(chans.get(rr), buf, 0, blk, 1, cb, null)) == 0) {
                        accepted.incrementAndGet();
                    }
                }
            }
            CompletableFuture<Integer> un = new CompletableFuture<>();
            h.layer.unregister(name).whenComplete((st, err) -> {
                h.test.log.add("unregister reply " + st);
                un.complete(st);
            });
            List<String> violations = h.test.violations;
            int steps = 0;
            while (!un.isDone() && violations.isEmpty() && steps++ < 200_000) {
                int k = rnd.nextInt(total + 3 * n + 1);
                if (k < total) {
                    int r = 0;
                    for (int acc = weight[0]; acc <= k; acc += weight[++r]) {
                        // find the reactor whose weight range holds k
                    }
                    h.group.pollOnce(r);
                } else if (k < total + n) {
                    int r = k - total;
                    int rr = r;
                    if (removeSeen[r] && !closed[r]) {
                        closed[r] = true;
                        h.group.reactor(r).send(() -> {
                            drv.releaseHeld(IoStatus.SUCCESS);
                            descs[rr].close();
                        });
                    } else if (!removeSeen[r]) {
                        h.group.reactor(r).send(() -> {
                            if (!descs[rr].isClosed() && descs[rr].readBlocks(chans.get(rr), buf, 0, 5, 1, cb, null) == 0) {
                                accepted.incrementAndGet();
                            }
                        });
                    }
                } else if (k < total + 2 * n) {
                    int r = k - total - n;
                    int rr = r;
                    if (removeSeen[r] && !put[r]) {
                        put[r] = true;
                        h.group.reactor(r).send(() -> {
                            drv.releaseHeld(IoStatus.SUCCESS);
                            chans.get(rr).put();
                        });
                    }
                } else if (k < total + 3 * n) {
                    int r = k - total - 2 * n;
                    if (removeSeen[r] && !heldPut[r]) {
                        heldPut[r] = true;
                        h.group.reactor(r).send(moduleHeld.get(r)::put);
                    }
                } else if (drv.destructs > 0 && !drv.destructGate.isDone()) {
                    drv.destructGate.complete(null); // the asynchronous destruct finishes now
                }
            }
            assertThat(violations).as("no use-after-free, every module channel destroyed on its own reactor").isEmpty();
            h.group.pollUntil(() -> un.isDone() || !violations.isEmpty(), BackendHarness.T);
            assertThat(violations).as("no use-after-free, every module channel destroyed on its own reactor").isEmpty();
            assertThat(un.join()).isZero();
            assertThat(drv.destructs).as("destruct once").isEqualTo(1);
            h.poll();
            assertThat(violations).as("no use-after-free after the reply either").isEmpty();
            assertThat(completions.get()).as("every accepted I/O completed once").isEqualTo(accepted.get());

            List<String> log = new ArrayList<>(h.test.log);
            int destructAt = log.indexOf("destruct begins " + name);
            int doneAt = log.indexOf("destruct done " + name);
            int replyAt = log.indexOf("unregister reply 0");
            List<String> created = TestModule.filter(log, "module channel created on ");
            List<String> destroyed = TestModule.filter(log, "module channel destroyed on ");
            assertThat(created).hasSize(n);
            assertThat(destroyed).as("every module channel destroyed").hasSize(n);
            for (String dstr : destroyed) {
                String[] p = dstr.split(" ");
                assertThat(p[4]).as("destroyed on its own reactor: %s", dstr).isEqualTo(p[6]);
                assertThat(log.indexOf(dstr)).as("%s before destruct; log %s", dstr, log).isLessThan(destructAt);
            }
            assertThat(destructAt).as("destruct ran; log %s", log).isGreaterThanOrEqualTo(0);
            assertThat(doneAt).as("the asynchronous destruct finished; log %s", log).isGreaterThan(destructAt);
            assertThat(replyAt).as("the reply came after the asynchronous destruct finished; log %s", log).isGreaterThan(doneAt);
            assertThat(drv.state.refCount()).as("the module's state freed by destruct").isZero();
            assertThat(log).noneMatch(x -> x.startsWith("BUG"));
        } finally {
            buf.close();
        }
    }

    @Test
    @DisplayName("hot-remove under load: QD 64 on 2 reactors, unregister Malloc0; every I/O completes once, none hangs")
    void hotRemoveUnderLoad() throws Exception {
        Spindle spindle = Spindle.start(SpindleConfig.builder().name("hotremove")
                .reactor(ReactorConfig.builder().mask("0x3").conclude())
                .subsystem(new BdevSubsystem().onStart(l -> l.module(MallocModule.class).create(l, MallocModule.Options.of("Malloc0", 65536, 512))))
                .conclude());
        boolean stopped = false;
        try {
            BdevLayer layer = BdevLayer.of(spindle);
            Bdev bdev = layer.get("Malloc0");
            List<String> trace = new CopyOnWriteArrayList<>();
            layer.trace(trace::add); // the unregister steps, among them each call of the driver's destruct
            AtomicLong accepted = new AtomicLong();
            AtomicLong completed = new AtomicLong();
            ConcurrentHashMap<IoStatus, AtomicLong> byStatus = new ConcurrentHashMap<>();
            List<CompletableFuture<Void>> jobsDone = new ArrayList<>();
            List<CompletableFuture<Void>> running = new ArrayList<>();
            for (Reactor r : spindle.reactors().reactors()) {
                CompletableFuture<Void> done = new CompletableFuture<>();
                CompletableFuture<Void> started = new CompletableFuture<>();
                jobsDone.add(done);
                running.add(started);
                r.send(() -> new LoadJob(layer, r, 64, accepted, completed, byStatus, done).start(started));
            }
            CompletableFuture.allOf(running.toArray(CompletableFuture<?>[]::new)).get(10, TimeUnit.SECONDS);
            // under load: the jobs have completed I/O on both reactors and keep 64 each in flight
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() -> completed.get() >= 2_000);
            int st = layer.unregister("Malloc0").toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertThat(st).isZero();
            CompletableFuture.allOf(jobsDone.toArray(CompletableFuture<?>[]::new)).get(30, TimeUnit.SECONDS);
            assertThat(completed.get()).isEqualTo(accepted.get()).isPositive();
            assertThat(byStatus.keySet()).isSubsetOf(IoStatus.SUCCESS, IoStatus.ABORTED);
            assertThat(bdev.status()).isEqualTo(Bdev.Status.REMOVED);
            assertThat(bdev.openDescriptors()).isZero();
            assertThat(layer.get("Malloc0")).isNull();
            assertThat(trace).as("destruct ran exactly once").containsOnlyOnce("Malloc0: destruct begins", "Malloc0: destruct done");
            assertThat(trace.stream().filter(t -> t.endsWith("destruct begins"))).hasSize(1);
            stopped = true;
            assertThat(spindle.stopAndWait().clean()).isTrue();
            assertThat(trace.stream().filter(t -> t.endsWith("destruct begins"))).as("not again at stop").hasSize(1);
            assertThat(trace.indexOf("Malloc0: destruct begins")).isGreaterThan(trace.indexOf("Malloc0: REMOVE to 2 descriptor(s)"));
        } finally {
            if (!stopped) {
                spindle.stopAndWait();
            }
        }
    }

    /** A QD-n random 4 KiB read/write job on one reactor that drains and closes on REMOVE. */
    static final class LoadJob implements IoCallback {
        final BdevLayer layer;
        final Reactor reactor;
        final int qd;
        final AtomicLong accepted;
        final AtomicLong completed;
        final ConcurrentHashMap<IoStatus, AtomicLong> byStatus;
        final CompletableFuture<Void> done;
        final Random rnd = new Random(7);
        BdevDescriptor desc;
        IoChannel<BdevChannel> ch;
        DmaBuffer buf;
        int outstanding;
        boolean removing;

        LoadJob(BdevLayer layer, Reactor reactor, int qd, AtomicLong accepted, AtomicLong completed,
                ConcurrentHashMap<IoStatus, AtomicLong> byStatus, CompletableFuture<Void> done) {
            this.layer = layer;
            this.reactor = reactor;
            this.qd = qd;
            this.accepted = accepted;
            this.completed = completed;
            this.byStatus = byStatus;
            this.done = done;
        }

        void start(CompletableFuture<Void> started) {
            desc = layer.open("Malloc0", true, (e, b, d) -> {
                if (e == BdevEvent.REMOVE) {
                    removing = true;
                    maybeClose();
                }
            });
            ch = desc.getIoChannel();
            buf = DmaBuffer.allocate(4096L * qd);
            for (int i = 0; i < qd; i++) {
                submit(i);
            }
            started.complete(null);
        }

        void submit(int slot) {
            long blk = (long) rnd.nextInt(65536 / 8) * 8;
            int rc = rnd.nextBoolean()
                    ? desc.readBlocks(ch, buf, slot * 4096L, blk, 8, this, slot)
                    : desc.writeBlocks(ch, buf, slot * 4096L, blk, 8, this, slot);
            if (rc == 0) {
                accepted.incrementAndGet();
                outstanding++;
            }
        }

        @Override
        public void onComplete(BdevIo io, IoStatus status, Object arg) {
            completed.incrementAndGet();
            byStatus.computeIfAbsent(status, s -> new AtomicLong()).incrementAndGet();
            outstanding--;
            if (!removing) {
                submit((Integer) arg);
            } else {
                maybeClose();
            }
        }

        void maybeClose() {
            if (outstanding == 0 && desc != null && !desc.isClosed()) {
                ch.put();
                desc.close();
                buf.close();
                done.complete(null);
            }
        }
    }
}
