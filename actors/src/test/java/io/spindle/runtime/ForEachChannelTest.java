package io.spindle.runtime;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * {@link FanOuts#forEachChannel}, SPDK's {@code spdk_for_each_channel}, on manual reactors
 * ({@link ReactorGroup#manual}), stepped by the test as SPDK's {@code ut_multithread} does.
 *
 * <p>Ports of {@code test/unit/lib/thread/thread.c/thread_ut.c}: {@code for_each_channel_remove} (a channel
 * destroyed before its hop runs is skipped), {@code for_each_channel_unreg} (an unregister requested while a
 * walk is in flight is answered only after the walk completed and every channel was put),
 * {@code for_each_channel_and_thread_exit_race} (the originating reactor cannot finish exiting while its walk is
 * in flight) and {@code device_unregister_and_thread_exit_race} (the reactor of the device's actor cannot finish
 * exiting while the unregister is pending). Also the walk's contract from SPDK's {@code thread.h}: ascending
 * reactor order, the visitor on the channel's reactor, {@code continueWalk} on that reactor and possibly later,
 * a non-zero status ends the walk, the completion always by message (also empty walk: 0; unregistered device:
 * {@link Errno#ENODEV}), channels created meanwhile on later reactors visited.
 *
 * <p>The seed-bug rule (DESIGN.md section 1, SPDK #3630): every fold, the completion and the release of a
 * walk's context run on the originator (checked with {@link Reactor#current()}, since every manual reactor runs
 * on the test thread), and the context is released exactly once.
 */
@Timeout(30)
class ForEachChannelTest {
    static final ActorTestKit testKit = ActorTestKit.create("for-each-channel-test");
    private static final AtomicLong NAMES = new AtomicLong();

    @AfterAll
    static void shutdownTestKit() {
        testKit.shutdownTestKit();
    }

    // ------------------------------------------------------------------ fixtures

    /** A channel's context: the reactor that created it. */
    record Chan(int reactor) {
    }

    /** Logs creates and destroys, and whether they ran on the channel's reactor. */
    static final class Factory implements ChannelFactory<Chan> {
        final List<Integer> created = new CopyOnWriteArrayList<>();
        final List<Integer> destroyed = new CopyOnWriteArrayList<>();
        final List<String> violations = new CopyOnWriteArrayList<>();

        @Override
        public Chan create(IoDevice<Chan> device, Reactor reactor) {
            if (Reactor.current() != reactor) {
                violations.add("create for " + reactor + " ran on " + Reactor.current());
            }
            created.add(reactor.index());
            return new Chan(reactor.index());
        }

        @Override
        public void destroy(IoDevice<Chan> device, Reactor reactor, Chan context) {
            if (Reactor.current() != reactor) {
                violations.add("destroy for " + reactor + " ran on " + Reactor.current());
            }
            destroyed.add(reactor.index());
        }
    }

    /** A walk's context: counts its releases and records the reactor each ran on. */
    static final class WalkCtx implements AutoCloseable {
        final List<String> events;
        final AtomicInteger releases = new AtomicInteger();
        final List<String> releasedOn = new CopyOnWriteArrayList<>();

        WalkCtx(List<String> events) {
            this.events = events;
        }

        @Override
        public void close() {
            releases.incrementAndGet();
            releasedOn.add(String.valueOf(Reactor.current()));
            events.add("release");
        }
    }

    /**
     * A channel visitor that records every callback and where it ran. On request it holds a hop (the test
     * continues it later), continues it from a later task on the same reactor, ends it with a status, or throws.
     */
    static final class Recorder implements FanOuts.ChannelVisitor<WalkCtx, Chan, Integer> {
        final Reactor origin;
        final List<String> events;
        final List<Integer> visited = new CopyOnWriteArrayList<>();
        final List<Integer> folded = new CopyOnWriteArrayList<>();
        final List<String> violations = new CopyOnWriteArrayList<>();
        final Map<Integer, FanOuts.ChannelHop<Chan, Integer>> held = new ConcurrentHashMap<>();
        final Set<Integer> holdOn = ConcurrentHashMap.newKeySet();
        final Set<Integer> deferOn = ConcurrentHashMap.newKeySet();
        final Set<Integer> throwOn = ConcurrentHashMap.newKeySet();
        final Map<Integer, Integer> statusOn = new ConcurrentHashMap<>();
        final AtomicInteger completions = new AtomicInteger();
        volatile int status = Integer.MIN_VALUE;
        /** Set by the starting task while {@code forEachChannel} runs: a completion then would be inline. */
        volatile boolean inCall;
        /** Runs inside the completion, before it is recorded. */
        volatile Runnable onComplete = () -> { };

        Recorder(Reactor origin, List<String> events) {
            this.origin = origin;
            this.events = events;
        }

        @Override
        public void visit(FanOuts.ChannelHop<Chan, Integer> hop) {
            Reactor r = hop.reactor();
            int i = r.index();
            if (Reactor.current() != r) {
                violations.add("visit of " + r + " ran on " + Reactor.current());
            }
            if (hop.context().reactor() != i || hop.channel().reactor() != r) {
                violations.add("visit of " + r + " got the channel of " + hop.context().reactor());
            }
            visited.add(i);
            events.add("visit " + i);
            if (throwOn.contains(i)) {
                throw new IllegalStateException("visitor failure on " + r.name() + " (expected by the test)");
            }
            if (holdOn.contains(i)) {
                held.put(i, hop);
                return;
            }
            if (deferOn.contains(i)) {
                // continue from a later task on the same reactor: the walk must wait for it
                r.send(() -> {
                    events.add("deferred continue " + i);
                    hop.continueWalk(statusOn.getOrDefault(i, Errno.OK), i * 10);
                });
                events.add("visit " + i + " returned");
                return;
            }
            hop.continueWalk(statusOn.getOrDefault(i, Errno.OK), i * 10);
        }

        @Override
        public void fold(WalkCtx context, Reactor reactor, Integer result) {
            onOrigin("fold of " + reactor);
            if (result == null || result != reactor.index() * 10) {
                violations.add("fold of " + reactor + " got result " + result);
            }
            folded.add(reactor.index());
            events.add("fold " + reactor.index());
        }

        @Override
        public void complete(WalkCtx context, int status) {
            onOrigin("complete");
            if (inCall) {
                violations.add("completion ran inline inside forEachChannel");
            }
            if (context.releases.get() != 0) {
                violations.add("context released before its completion");
            }
            onComplete.run();
            completions.incrementAndGet();
            this.status = status;
            events.add("complete " + Errno.name(status));
        }

        private void onOrigin(String what) {
            if (Reactor.current() != origin) {
                violations.add(what + " ran on " + Reactor.current() + ", not on the originator " + origin);
            }
        }

        /** Continues the held hop of reactor {@code i} from a task on that reactor (not polled). */
        void continueHeld(ReactorGroup group, int i, int st) {
            FanOuts.ChannelHop<Chan, Integer> hop = held.remove(i);
            assertThat(hop).as("held hop on reactor %d", i).isNotNull();
            group.reactor(i).send(() -> hop.continueWalk(st, i * 10));
        }
    }

    sealed interface OwnerCmd permits UnregisterDevice, GotUnregistered, StopOwner {
    }

    /** The owner unregisters its device; the reply comes back to the owner. */
    record UnregisterDevice() implements OwnerCmd {
    }

    record GotUnregistered(IoDeviceActor.Unregistered reply) implements OwnerCmd {
    }

    enum StopOwner implements OwnerCmd {
        INSTANCE
    }

    /**
     * The actor that registers the io_device (its device actor is this actor's child, on its dispatcher). On
     * {@link UnregisterDevice} it unregisters it and hands the reply to {@code onUnregistered} inside its own
     * message handling, then stops.
     */
    static Behavior<OwnerCmd> owner(ReactorGroup group, String name, ChannelFactory<Chan> factory, CompletableFuture<IoDevice<Chan>> device,
                                    Consumer<IoDeviceActor.Unregistered> onUnregistered, CompletableFuture<Void> stopped) {
        return Behaviors.setup(ctx -> {
            IoDevice<Chan> d = IoDevice.register(ctx, group, name, factory);
            device.complete(d);
            return Behaviors.receive(OwnerCmd.class)
                    .onMessage(UnregisterDevice.class, m -> {
                        d.unregister(ctx.messageAdapter(IoDeviceActor.Unregistered.class, GotUnregistered::new));
                        return Behaviors.same();
                    })
                    .onMessage(GotUnregistered.class, m -> {
                        onUnregistered.accept(m.reply());
                        return Behaviors.stopped();
                    })
                    .onMessageEquals(StopOwner.INSTANCE, Behaviors::stopped)
                    .onSignal(PostStop.class, s -> {
                        stopped.complete(null);
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    /**
     * One manual group, one device registered by an owner actor on Pekko's default dispatcher (so the device
     * actor runs on Pekko's threads and answers without the reactors being polled), walks originated on
     * reactor 0 with {@link FanOuts#forReactor}.
     */
    static final class Rig implements AutoCloseable {
        final ReactorGroup group;
        final String name = "dev" + NAMES.incrementAndGet();
        final Factory factory = new Factory();
        final List<String> events = new CopyOnWriteArrayList<>();
        final ActorRef<OwnerCmd> owner;
        final CompletableFuture<Void> ownerStopped = new CompletableFuture<>();
        final IoDevice<Chan> device;
        private FanOuts fanOuts; // reactor 0 only
        private boolean unregistered;

        /** Whether the owner (so the device actor) and the unregister listener run on reactor 0: then nothing moves unpolled. */
        final boolean onReactor0;

        Rig(ReactorGroup group) throws Exception {
            this(group, false);
        }

        /**
         * @param onReactor0 place the owner, hence the device actor, and the unregister listener on reactor 0's
         *                   dispatcher: every step of an unregister then happens only when the test polls, so "not
         *                   answered yet" is an exact check after a poll until idle, not a wait for silence
         */
        Rig(ReactorGroup group, boolean onReactor0) throws Exception {
            this.group = group;
            this.onReactor0 = onReactor0;
            CompletableFuture<IoDevice<Chan>> dev = new CompletableFuture<>();
            Behavior<OwnerCmd> b = owner(group, name, factory, dev, u -> { }, ownerStopped);
            if (onReactor0) {
                group.registerDispatchers(testKit.system());
                owner = testKit.spawn(b, "owner-" + name, group.reactor(0).dispatcher());
                group.pollUntil(dev::isDone, Duration.ofSeconds(10));
            } else {
                owner = testKit.spawn(b, "owner-" + name);
            }
            device = dev.get(10, TimeUnit.SECONDS);
        }

        Reactor r(int i) {
            return group.reactor(i);
        }

        /** Runs {@code s} in a task on reactor {@code i} and polls that reactor (only) until idle. */
        <T> T on(int i, Supplier<T> s) {
            AtomicReference<T> out = new AtomicReference<>();
            group.reactor(i).send(() -> out.set(s.get()));
            group.pollUntilIdle(i);
            return out.get();
        }

        void run(int i, Runnable task) {
            group.reactor(i).send(task);
            group.pollUntilIdle(i);
        }

        IoChannel<Chan> get(int i) {
            IoChannel<Chan> ch = on(i, device::getChannel);
            assertThat(ch).as("channel on reactor %d", i).isNotNull();
            return ch;
        }

        void put(IoChannel<Chan> ch) {
            run(ch.reactor().index(), ch::put);
        }

        /** Queues a task on reactor 0 that starts the walk; not polled. */
        void startWalk(WalkCtx ctx, Recorder rec) {
            startWalk(device, ctx, rec);
        }

        void startWalk(IoDevice<Chan> d, WalkCtx ctx, Recorder rec) {
            group.reactor(0).send(() -> {
                if (fanOuts == null) {
                    fanOuts = FanOuts.forReactor(group.reactor(0));
                }
                rec.inCall = true;
                try {
                    fanOuts.forEachChannel(d, ctx, rec);
                } finally {
                    rec.inCall = false;
                }
                events.add("forEachChannel returned");
            });
        }

        TestProbe<IoDeviceActor.Unregistered> unregister() {
            TestProbe<IoDeviceActor.Unregistered> p = testKit.createTestProbe();
            device.unregister(p.getRef());
            unregistered = true;
            return p;
        }

        /**
         * Unregisters with a listener actor that logs "unregistered" into {@link #events} when the reply
         * arrives; the future completes then (it can be checked without consuming the reply).
         */
        CompletableFuture<IoDeviceActor.Unregistered> unregisterToListener() {
            CompletableFuture<IoDeviceActor.Unregistered> f = new CompletableFuture<>();
            Behavior<IoDeviceActor.Unregistered> l = Behaviors.receiveMessage(u -> {
                events.add("unregistered");
                f.complete(u);
                return Behaviors.stopped();
            });
            ActorRef<IoDeviceActor.Unregistered> listener = onReactor0
                    ? testKit.spawn(l, "unregister-listener-" + name, group.reactor(0).dispatcher())
                    : testKit.spawn(l, "unregister-listener-" + name);
            device.unregister(listener);
            unregistered = true;
            return f;
        }

        void unregisterAndAwait() {
            TestProbe<IoDeviceActor.Unregistered> p = unregister();
            group.pollUntilIdle();
            p.expectMessage(Duration.ofSeconds(10), new IoDeviceActor.Unregistered(name, Errno.OK));
        }

        @Override
        public void close() {
            try {
                if (!unregistered) {
                    unregister();
                    group.pollUntilIdle();
                }
                if (!ownerStopped.isDone()) {
                    owner.tell(StopOwner.INSTANCE);
                    if (onReactor0) {
                        group.pollUntil(ownerStopped::isDone, Duration.ofSeconds(10));
                    }
                    ownerStopped.get(10, TimeUnit.SECONDS);
                }
            } catch (Exception e) {
                throw new AssertionError("owner did not stop", e);
            } finally {
                group.close();
            }
        }
    }

    static ReactorGroup manual(int n) {
        return ReactorGroup.manual(n);
    }

    /** The common end-of-walk checks: one completion, one release, on the originator, after the completion. */
    static void assertEndedOnce(Recorder rec, WalkCtx ctx, int status) {
        assertThat(rec.violations).isEmpty();
        assertThat(rec.completions).hasValue(1);
        assertThat(rec.status).isEqualTo(status);
        assertThat(ctx.releases).hasValue(1);
        assertThat(ctx.releasedOn).containsExactly(rec.origin.name());
        List<String> ev = rec.events;
        assertThat(ev.indexOf("release")).as("release after completion in %s", ev).isGreaterThan(ev.indexOf("complete " + Errno.name(status)));
    }

    // ------------------------------------------------------------------ for_each_channel_remove

    @Test
    @DisplayName("for_each_channel_remove: a channel destroyed after its hop was sent but before it ran is skipped")
    void for_each_channel_remove() throws Exception {
        // one task per loop iteration, SPDK's poll_thread_times(i, 1): the put and its deferred destroy separate
        ReactorGroup g = ReactorGroup.manual(ReactorConfig.builder().mask(CoreMask.firstN(3)).manual(true).maxTasksPerLoop(1).conclude());
        try (Rig rig = new Rig(g)) {
            IoChannel<Chan> ch0 = rig.get(0);
            IoChannel<Chan> ch1 = rig.get(1);
            IoChannel<Chan> ch2 = rig.get(2);
            assertThat(rig.factory.created).containsExactly(0, 1, 2);

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rec.holdOn.add(0);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle(0);
            assertThat(rec.visited).containsExactly(0);

            // reactor 1 puts its channel: the destroy is queued behind the put, not run yet
            g.reactor(1).send(ch1::put);
            assertThat(g.pollOnce(1)).isEqualTo(1);
            assertThat(rig.device.hasChannelOn(1)).isTrue();
            assertThat(rig.factory.destroyed).isEmpty();

            // hop 0 continues: the originator still sees reactor 1's channel and sends the hop behind the destroy
            rec.continueHeld(g, 0, Errno.OK);
            g.pollUntilIdle(0);
            assertThat(rec.folded).containsExactly(0);

            assertThat(g.pollOnce(1)).as("the deferred destroy").isEqualTo(1);
            assertThat(rig.factory.destroyed).containsExactly(1);
            assertThat(g.pollOnce(1)).as("the hop, which finds no channel").isEqualTo(1);
            assertThat(rec.visited).containsExactly(0);

            g.pollUntilIdle();
            assertThat(rec.visited).containsExactly(0, 2);
            assertThat(rec.folded).as("no fold for a skipped reactor").containsExactly(0, 2);
            assertEndedOnce(rec, ctx, Errno.OK);
            assertThat(rig.events).containsSubsequence("visit 0", "fold 0", "visit 2", "fold 2", "complete OK", "release");

            rig.put(ch0);
            rig.put(ch2);
            g.pollUntilIdle();
            assertThat(rig.factory.destroyed).containsExactlyInAnyOrder(0, 1, 2);
            assertThat(rig.factory.violations).isEmpty();
            rig.unregisterAndAwait();
        }
    }

    @Test
    @DisplayName("for_each_channel_remove (case 1): a channel put and destroyed before the walk is not visited")
    void for_each_channel_remove_beforeWalk() throws Exception {
        try (Rig rig = new Rig(manual(3))) {
            IoChannel<Chan> ch0 = rig.get(0);
            IoChannel<Chan> ch1 = rig.get(1);
            IoChannel<Chan> ch2 = rig.get(2);
            rig.put(ch0);
            assertThat(rig.factory.destroyed).containsExactly(0);

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(rig.r(0), rig.events);
            rig.startWalk(ctx, rec);
            assertThat(rec.visited).isEmpty();
            rig.group.pollUntilIdle();
            assertThat(rec.visited).containsExactly(1, 2);
            assertThat(rec.folded).containsExactly(1, 2);
            assertEndedOnce(rec, ctx, Errno.OK);

            rig.put(ch1);
            rig.put(ch2);
            rig.unregisterAndAwait();
        }
    }

    @Test
    @DisplayName("for_each_channel_remove (case 2): the hop holds its channel; a put during the visit destroys it only after continueWalk")
    void for_each_channel_remove_hopHoldsChannel() throws Exception {
        try (Rig rig = new Rig(manual(3))) {
            ReactorGroup g = rig.group;
            IoChannel<Chan> ch0 = rig.get(0);
            IoChannel<Chan> ch1 = rig.get(1);
            IoChannel<Chan> ch2 = rig.get(2);

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rec.holdOn.add(1);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();
            assertThat(rec.held).containsKey(1);
            assertThat(rig.<Integer>on(1, ch1::refs)).as("the holder's reference and the hop's").isEqualTo(2);

            rig.put(ch1);
            g.pollUntilIdle();
            assertThat(rig.factory.destroyed).as("the hop still holds reactor 1's channel").isEmpty();
            assertThat(rig.device.hasChannelOn(1)).isTrue();

            rec.continueHeld(g, 1, Errno.OK);
            g.pollUntilIdle();
            assertThat(rig.factory.destroyed).containsExactly(1);
            assertThat(rec.visited).containsExactly(0, 1, 2);
            assertThat(rec.folded).containsExactly(0, 1, 2);
            assertEndedOnce(rec, ctx, Errno.OK);

            rig.put(ch0);
            rig.put(ch2);
            rig.unregisterAndAwait();
        }
    }

    // ------------------------------------------------------------------ for_each_channel_unreg

    @Test
    @DisplayName("for_each_channel_unreg: unregister during a walk fails new gets at once; Unregistered only after the walk completed")
    void for_each_channel_unreg() throws Exception {
        try (Rig rig = new Rig(manual(3), true)) {
            ReactorGroup g = rig.group;
            IoChannel<Chan> ch0 = rig.get(0);
            IoChannel<Chan> ch1 = rig.get(1);

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rec.holdOn.add(1);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();
            assertThat(rec.visited).containsExactly(0, 1);
            assertThat(rec.held).containsKey(1);

            CompletableFuture<IoDeviceActor.Unregistered> unreg = rig.unregisterToListener();
            // the device actor and the listener run on reactor 0: polling moves the unregister, never the held hop
            g.pollUntil(rig.device::isUnregistered, Duration.ofSeconds(10));

            // new gets fail at once, with the walk still in flight: where no channel exists, and where one does
            assertThat(rig.<IoChannel<Chan>>on(2, rig.device::getChannel)).isNull();
            assertThat(rig.<IoChannel<Chan>>on(0, rig.device::getChannel)).isNull();
            assertThat(rig.factory.created).containsExactly(0, 1);

            // every holder puts its channel; reactor 1's stays alive: the walk's hop holds it
            rig.put(ch0);
            rig.put(ch1);
            g.pollUntilIdle();
            assertThat(rig.factory.destroyed).containsExactly(0);
            assertThat(rig.device.liveChannels()).isEqualTo(1);
            // everything is polled until idle: a reply sent by now would have reached the listener (on reactor 0)
            assertThat(unreg).as("no reply while the walk is in flight").isNotDone();
            rig.events.add("no reply while the walk is in flight");

            // the walk ends now; inside its completion (on reactor 0, the listener's reactor too) the unregister must
            // not have been answered: a reply sent before would have been delivered in an earlier task
            rec.onComplete = () -> {
                if (unreg.isDone()) {
                    rec.violations.add("Unregistered arrived before the walk's completion ran");
                }
            };
            rec.continueHeld(g, 1, Errno.OK);
            g.pollUntilIdle();
            assertThat(unreg.get(10, TimeUnit.SECONDS)).isEqualTo(new IoDeviceActor.Unregistered(rig.name, Errno.OK));

            assertThat(rig.factory.destroyed).containsExactly(0, 1);
            assertThat(rec.visited).containsExactly(0, 1);
            assertThat(rec.folded).containsExactly(0, 1);
            assertEndedOnce(rec, ctx, Errno.OK);
            assertThat(rig.events).containsSubsequence("visit 0", "fold 0", "visit 1", "no reply while the walk is in flight", "fold 1",
                    "complete OK", "release", "unregistered");
            assertThat(rig.group.devices()).doesNotContain(rig.device);
        }
    }

    @Test
    @DisplayName("for_each_channel_unreg: after the walk completed, Unregistered still waits for every channel to be put")
    void for_each_channel_unreg_waitsForChannels() throws Exception {
        try (Rig rig = new Rig(manual(2), true)) {
            ReactorGroup g = rig.group;
            IoChannel<Chan> ch0 = rig.get(0);
            IoChannel<Chan> ch1 = rig.get(1);

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rec.holdOn.add(0);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();
            TestProbe<IoDeviceActor.Unregistered> unreg = rig.unregister();
            g.pollUntil(rig.device::isUnregistered, Duration.ofSeconds(10));

            // the device actor runs on reactor 0 and its reply is enqueued at the probe when sent: after a poll until
            // idle, "no message now" is exact
            rec.continueHeld(g, 0, Errno.OK);
            g.pollUntilIdle();
            assertEndedOnce(rec, ctx, Errno.OK);
            assertThat(rec.visited).containsExactly(0, 1);
            unreg.expectNoMessage(Duration.ZERO);

            rig.put(ch0);
            g.pollUntilIdle();
            unreg.expectNoMessage(Duration.ZERO);

            rig.put(ch1);
            g.pollUntilIdle();
            unreg.expectMessage(Duration.ofSeconds(10), new IoDeviceActor.Unregistered(rig.name, Errno.OK));
            assertThat(rig.factory.destroyed).containsExactly(0, 1);
        }
    }

    // ------------------------------------------------------------------ the walk's contract

    @Test
    @DisplayName("for_each_channel: ascending reactor order, visitor on the channel's reactor, continueWalk there and possibly later")
    void walkOrderThreadsAndAsyncContinue() throws Exception {
        try (Rig rig = new Rig(manual(4))) {
            ReactorGroup g = rig.group;
            // created out of order, none on reactor 0
            IoChannel<Chan> ch3 = rig.get(3);
            IoChannel<Chan> ch1 = rig.get(1);
            IoChannel<Chan> ch2 = rig.get(2);

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rec.holdOn.add(1);
            rec.deferOn.add(2);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();
            assertThat(rec.visited).containsExactly(1);
            FanOuts.ChannelHop<Chan, Integer> hop1 = rec.held.remove(1);

            // continueWalk belongs to the hop's reactor: not the test thread, not another reactor
            assertThatThrownBy(() -> hop1.continueWalk(Errno.OK, 10)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("reactor_1");
            Throwable fromOther = rig.on(0, () -> {
                try {
                    hop1.continueWalk(Errno.OK, 10);
                    return null;
                } catch (Throwable e) {
                    return e;
                }
            });
            assertThat(fromOther).isInstanceOf(IllegalStateException.class).hasMessageContaining("reactor_0");
            g.pollUntilIdle();
            assertThat(rec.visited).containsExactly(1);
            assertThat(rec.folded).isEmpty();

            // now on its reactor; a second call is refused
            Throwable twice = rig.on(1, () -> {
                hop1.continueWalk(Errno.OK, 10);
                try {
                    hop1.continueWalk(Errno.OK, 10);
                    return null;
                } catch (Throwable e) {
                    return e;
                }
            });
            assertThat(twice).isInstanceOf(IllegalStateException.class).hasMessageContaining("twice");
            g.pollUntilIdle();

            assertThat(rec.visited).containsExactly(1, 2, 3);
            assertThat(rec.folded).containsExactly(1, 2, 3);
            assertEndedOnce(rec, ctx, Errno.OK);
            // reactor 2's visitor returned before its continue, which ran as a later task; the walk waited for it
            assertThat(rig.events).containsSubsequence("visit 2", "visit 2 returned", "deferred continue 2", "fold 2", "visit 3");
            assertThat(rig.<Integer>on(1, ch1::refs)).as("each hop's reference was put").isEqualTo(1);
            assertThat(rig.<Integer>on(2, ch2::refs)).isEqualTo(1);

            rig.put(ch1);
            rig.put(ch2);
            rig.put(ch3);
            rig.unregisterAndAwait();
        }
    }

    @Test
    @DisplayName("for_each_channel: a non-zero status stops the walk and is the completion status")
    void nonZeroStatusStopsWalk() throws Exception {
        try (Rig rig = new Rig(manual(4))) {
            ReactorGroup g = rig.group;
            List<IoChannel<Chan>> chs = List.of(rig.get(0), rig.get(1), rig.get(2), rig.get(3));

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rec.statusOn.put(1, Errno.EBUSY);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();

            assertThat(rec.visited).containsExactly(0, 1);
            assertThat(rec.folded).as("a failed hop is not folded").containsExactly(0);
            assertEndedOnce(rec, ctx, Errno.EBUSY);
            assertThat(rig.<Integer>on(1, chs.get(1)::refs)).isEqualTo(1);

            chs.forEach(rig::put);
            rig.unregisterAndAwait();
        }
    }

    @Test
    @DisplayName("for_each_channel: a visitor that throws ends the walk with EIO and puts the hop's reference")
    void visitorThrowsEndsWalkWithEio() throws Exception {
        try (Rig rig = new Rig(manual(3))) {
            ReactorGroup g = rig.group;
            List<IoChannel<Chan>> chs = List.of(rig.get(0), rig.get(1), rig.get(2));

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rec.throwOn.add(1);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();

            assertThat(rec.visited).containsExactly(0, 1);
            assertThat(rec.folded).containsExactly(0);
            assertEndedOnce(rec, ctx, Errno.EIO);
            assertThat(rig.<Integer>on(1, chs.get(1)::refs)).isEqualTo(1);

            chs.forEach(rig::put);
            rig.unregisterAndAwait();
        }
    }

    @Test
    @DisplayName("for_each_channel: no channel -> completion 0, by message, never inline")
    void emptyWalkCompletesByMessage() throws Exception {
        try (Rig rig = new Rig(manual(3))) {
            ReactorGroup g = rig.group;
            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rig.startWalk(ctx, rec);
            assertThat(g.pollOnce(0)).as("the starting task and the completion message").isEqualTo(2);

            assertThat(rec.visited).isEmpty();
            assertEndedOnce(rec, ctx, Errno.OK);
            assertThat(rig.events).containsExactly("forEachChannel returned", "complete OK", "release");
            rig.unregisterAndAwait();
        }
    }

    @Test
    @DisplayName("for_each_channel: an unregistered device -> completion ENODEV, by message, never inline")
    void unregisteredDeviceCompletesWithEnodev() throws Exception {
        try (Rig rig = new Rig(manual(2))) {
            ReactorGroup g = rig.group;
            rig.unregisterAndAwait();

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();

            assertThat(rec.visited).isEmpty();
            assertEndedOnce(rec, ctx, Errno.ENODEV);
            assertThat(rig.events).containsExactly("forEachChannel returned", "complete ENODEV", "release");
        }
    }

    @Test
    @DisplayName("for_each_channel: a device with an unregister pending -> ENODEV; the unregister is not held by that walk")
    void unregisterPendingCompletesWithEnodev() throws Exception {
        try (Rig rig = new Rig(manual(2))) {
            ReactorGroup g = rig.group;
            IoChannel<Chan> ch1 = rig.get(1);
            TestProbe<IoDeviceActor.Unregistered> unreg = rig.unregister();
            await().atMost(Duration.ofSeconds(10)).until(rig.device::isUnregistered);

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();
            assertThat(rec.visited).as("a live channel is not visited by a walk refused with ENODEV").isEmpty();
            assertEndedOnce(rec, ctx, Errno.ENODEV);
            assertThat(rig.events).containsExactly("forEachChannel returned", "complete ENODEV", "release");

            rig.put(ch1);
            g.pollUntilIdle();
            unreg.expectMessage(Duration.ofSeconds(10), new IoDeviceActor.Unregistered(rig.name, Errno.OK));
        }
    }

    @Test
    @DisplayName("for_each_channel: a channel created on a later reactor during the walk is visited, one on an earlier reactor is not")
    void channelCreatedDuringWalkOnLaterReactorIsVisited() throws Exception {
        try (Rig rig = new Rig(manual(4))) {
            ReactorGroup g = rig.group;
            IoChannel<Chan> ch1 = rig.get(1);

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rec.holdOn.add(1);
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();
            assertThat(rec.visited).containsExactly(1);

            IoChannel<Chan> ch0 = rig.get(0);
            IoChannel<Chan> ch3 = rig.get(3);
            rec.continueHeld(g, 1, Errno.OK);
            g.pollUntilIdle();

            assertThat(rec.visited).containsExactly(1, 3);
            assertThat(rec.folded).containsExactly(1, 3);
            assertEndedOnce(rec, ctx, Errno.OK);

            rig.put(ch0);
            rig.put(ch1);
            rig.put(ch3);
            rig.unregisterAndAwait();
        }
    }

    // ------------------------------------------------------------------ exit races

    @Test
    @DisplayName("for_each_channel_and_thread_exit_race: the originating reactor is not EXITED before its walk's completion ran")
    void for_each_channel_and_thread_exit_race() throws Exception {
        try (Rig rig = new Rig(manual(3))) {
            ReactorGroup g = rig.group;
            IoChannel<Chan> ch1 = rig.get(1);
            IoChannel<Chan> ch2 = rig.get(2);
            Reactor r0 = g.reactor(0);

            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(r0, rig.events);
            rec.holdOn.add(1);
            List<Reactor.State> r0AtCompletion = new CopyOnWriteArrayList<>();
            rec.onComplete = () -> r0AtCompletion.add(r0.state());
            rig.startWalk(ctx, rec);
            g.pollUntilIdle();
            assertThat(rec.held).containsKey(1);

            g.requestStop();
            for (int i = 0; i < 5; i++) {
                g.pollUntilIdle();
            }
            assertThat(r0.state()).as("reactor 0 originated a walk still in flight").isEqualTo(Reactor.State.EXITING);
            assertThat(r0.leakReport()).contains("1 fan-out(s) in flight");
            assertThat(rec.completions).hasValue(0);
            assertThat(ctx.releases).hasValue(0);

            rec.continueHeld(g, 1, Errno.OK);
            g.pollUntilIdle();
            assertThat(rec.visited).containsExactly(1, 2);
            assertEndedOnce(rec, ctx, Errno.OK);
            assertThat(r0AtCompletion).containsExactly(Reactor.State.EXITING);
            assertThat(r0.state()).isEqualTo(Reactor.State.EXITED);

            // reactors 1 and 2 still hold their channels
            assertThat(g.reactor(1).state()).isEqualTo(Reactor.State.EXITING);
            assertThat(g.reactor(2).state()).isEqualTo(Reactor.State.EXITING);
            g.reactor(1).send(ch1::put);
            g.reactor(2).send(ch2::put);
            g.pollUntilIdle();
            assertThat(g.reactor(1).state()).isEqualTo(Reactor.State.EXITED);
            assertThat(g.reactor(2).state()).isEqualTo(Reactor.State.EXITED);
            assertThat(ctx.releases).hasValue(1);
            assertThat(rec.completions).hasValue(1);
            rig.unregisterAndAwait();
        }
    }

    @Test
    @DisplayName("device_unregister_and_thread_exit_race: the device actor's reactor stays EXITING until the unregister is answered")
    void device_unregister_and_thread_exit_race() throws Exception {
        ReactorGroup g = manual(2);
        try {
            g.registerDispatchers(testKit.system());
            Reactor r0 = g.reactor(0);
            Factory factory = new Factory();
            String name = "dev" + NAMES.incrementAndGet();
            CompletableFuture<IoDevice<Chan>> dev = new CompletableFuture<>();
            CompletableFuture<Void> ownerStopped = new CompletableFuture<>();
            List<String> events = new CopyOnWriteArrayList<>();
            AtomicReference<IoDeviceActor.Unregistered> reply = new AtomicReference<>();
            ActorRef<OwnerCmd> owner = testKit.spawn(owner(g, name, factory, dev, u -> {
                // inside the owner's message handling, on reactor 0
                events.add("owner got Unregistered on " + Reactor.current() + ", reactor_0 " + r0.state());
                reply.set(u);
            }, ownerStopped), "owner-" + name, r0.dispatcher());
            g.pollUntil(dev::isDone, Duration.ofSeconds(10));
            IoDevice<Chan> device = dev.get();

            AtomicReference<IoChannel<Chan>> ch0 = new AtomicReference<>();
            AtomicReference<IoChannel<Chan>> ch1 = new AtomicReference<>();
            r0.send(() -> ch0.set(device.getChannel()));
            g.reactor(1).send(() -> ch1.set(device.getChannel()));
            g.pollUntilIdle();
            assertThat(ch0.get()).isNotNull();
            assertThat(ch1.get()).isNotNull();

            // reactor 0: its channel put; then the owner unregisters the device and the group stops
            r0.send(ch0.get()::put);
            owner.tell(new UnregisterDevice());
            g.requestStop();
            g.pollUntil(device::isUnregistered, Duration.ofSeconds(10));
            for (int i = 0; i < 5; i++) {
                g.pollUntilIdle();
            }
            assertThat(factory.destroyed).containsExactly(0);
            assertThat(r0.state()).as("the unregister is pending on reactor 0").isEqualTo(Reactor.State.EXITING);
            assertThat(r0.leakReport()).contains("io_device unregister(s) pending");
            assertThat(g.reactor(1).state()).as("reactor 1 holds its channel").isEqualTo(Reactor.State.EXITING);
            assertThat(reply.get()).isNull();

            g.reactor(1).send(ch1.get()::put);
            g.pollUntil(() -> r0.state() == Reactor.State.EXITED, Duration.ofSeconds(10));
            assertThat(g.reactor(1).state()).isEqualTo(Reactor.State.EXITED);
            assertThat(factory.destroyed).containsExactly(0, 1);
            assertThat(reply.get()).isEqualTo(new IoDeviceActor.Unregistered(name, Errno.OK));
            assertThat(events).containsExactly("owner got Unregistered on reactor_0, reactor_0 EXITING");
            assertThat(ownerStopped).as("the owner stopped on reactor 0 before it exited").isDone();
            assertThat(factory.violations).isEmpty();
        } finally {
            g.close();
        }
    }

    // ------------------------------------------------------------------ an actor originator cut short

    sealed interface OrigCmd permits StartChannelWalk, StopOriginator {
    }

    record StartChannelWalk(IoDevice<Chan> device, WalkCtx ctx, Recorder rec) implements OrigCmd {
    }

    enum StopOriginator implements OrigCmd {
        INSTANCE
    }

    static Behavior<OrigCmd> channelOriginator(ReactorGroup group, CompletableFuture<Void> stopped) {
        return FanOuts.originator(group, (ctx, fanOuts) -> {
            return Behaviors.receive(OrigCmd.class)
                    .onMessage(StartChannelWalk.class, m -> {
                        fanOuts.forEachChannel(m.device(), m.ctx(), m.rec());
                        return Behaviors.same();
                    })
                    .onMessageEquals(StopOriginator.INSTANCE, Behaviors::stopped)
                    .onSignal(PostStop.class, s -> {
                        stopped.complete(null);
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    @Test
    @DisplayName("for_each_channel: an originating actor that stops mid-walk releases the context once, on its reactor; the device is freed")
    void originatorActorStopsMidWalk() throws Exception {
        try (Rig rig = new Rig(manual(3))) {
            ReactorGroup g = rig.group;
            g.registerDispatchers(testKit.system());
            IoChannel<Chan> ch0 = rig.get(0);
            IoChannel<Chan> ch1 = rig.get(1);
            IoChannel<Chan> ch2 = rig.get(2);

            CompletableFuture<Void> stopped = new CompletableFuture<>();
            ActorRef<OrigCmd> orig = testKit.spawn(channelOriginator(g, stopped), "orig-" + rig.name, g.reactor(0).dispatcher());
            WalkCtx ctx = new WalkCtx(rig.events);
            Recorder rec = new Recorder(g.reactor(0), rig.events);
            rec.holdOn.add(1);
            orig.tell(new StartChannelWalk(rig.device, ctx, rec));
            g.pollUntil(() -> rec.held.containsKey(1), Duration.ofSeconds(10));
            assertThat(rec.folded).containsExactly(0);

            orig.tell(StopOriginator.INSTANCE);
            g.pollUntil(stopped::isDone, Duration.ofSeconds(10));
            assertThat(ctx.releases).hasValue(1);
            assertThat(ctx.releasedOn).containsExactly("reactor_0");
            assertThat(rec.completions).as("no completion for a walk cut short").hasValue(0);

            // the held hop still ends; its reply is dropped, no further hop is sent
            rec.continueHeld(g, 1, Errno.OK);
            g.pollUntilIdle();
            assertThat(rec.visited).containsExactly(0, 1);
            assertThat(rec.folded).containsExactly(0);
            assertThat(rec.completions).hasValue(0);
            assertThat(ctx.releases).hasValue(1);
            assertThat(rec.violations).isEmpty();

            // the walk no longer holds the device
            rig.put(ch0);
            rig.put(ch1);
            rig.put(ch2);
            rig.unregisterAndAwait();
        }
    }
}
