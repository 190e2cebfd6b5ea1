package io.spindle.runtime;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link FanOuts#forEachReactor}, SPDK's {@code spdk_for_each_reactor}, on manual reactors stepped by the test.
 *
 * <p>Ports {@code test/unit/lib/event/reactor.c/reactor_ut.c::test_for_each_reactor} (5 reactors, the visitor
 * runs once per reactor in ascending order, the completion once after all of them and only when the
 * originator is polled again), adapted to the originator-driven walk: after each hop the originator folds the
 * hop's result and sends the next one. Then the ways a walk ends early: a visitor or a fold that throws
 * ({@link Errno#EIO}), a hop to an exited reactor ({@link Errno#ESHUTDOWN}, the #1766/#2206 situation: the
 * completion runs and the context is released once), a stop requested mid-walk (the originating reactor does
 * not exit before its walk ended), and the originator closing mid-walk (no completion, the context released
 * exactly once, on the originator, later replies dropped).
 *
 * <p>Every fold, completion and release is checked to run on the originator: {@link Reactor#current()} for a
 * reactor originator (manual reactors all run on the test thread), the thread for an actor originator on its
 * own single-thread dispatcher (DESIGN.md section 1, SPDK #3630).
 */
@Timeout(30)
class ForEachReactorTest {
    static final ActorTestKit testKit = ActorTestKit.create("for-each-reactor-test", ConfigFactory.parseString(
                    "originator-dispatcher { type = Dispatcher, executor = thread-pool-executor, "
                            + "thread-pool-executor { fixed-pool-size = 1, allow-core-timeout = off }, throughput = 1 }")
            .withFallback(ConfigFactory.load()));

    @AfterAll
    static void shutdownTestKit() {
        testKit.shutdownTestKit();
    }

    /** A walk's context: counts releases, records where each ran. */
    static final class Ctx implements AutoCloseable {
        final AtomicInteger releases = new AtomicInteger();
        final List<String> releasedOnReactor = new CopyOnWriteArrayList<>();
        final List<Thread> releasedOnThread = new CopyOnWriteArrayList<>();
        final List<String> events;

        Ctx(List<String> events) {
            this.events = events;
        }

        @Override
        public void close() {
            releases.incrementAndGet();
            releasedOnReactor.add(String.valueOf(Reactor.current()));
            releasedOnThread.add(Thread.currentThread());
            events.add("release");
        }
    }

    /**
     * Records every callback. The originator is a reactor ({@code originReactor}) or a thread
     * ({@code originThread}, set when the originating actor starts).
     */
    static final class Rec implements FanOuts.ReactorVisitor<Ctx, Integer> {
        final Reactor originReactor;
        final AtomicReference<Thread> originThread = new AtomicReference<>();
        final List<String> events = new CopyOnWriteArrayList<>();
        final AtomicInteger count = new AtomicInteger();
        final List<Integer> visited = new CopyOnWriteArrayList<>();
        final List<Integer> foldAttempts = new CopyOnWriteArrayList<>();
        final List<Integer> folded = new CopyOnWriteArrayList<>();
        final List<String> violations = new CopyOnWriteArrayList<>();
        final Set<Integer> throwOn = ConcurrentHashMap.newKeySet();
        final Set<Integer> foldThrowOn = ConcurrentHashMap.newKeySet();
        final AtomicInteger completions = new AtomicInteger();
        volatile int status = Integer.MIN_VALUE;
        volatile boolean done;
        volatile boolean inCall;
        volatile Runnable onComplete = () -> { };

        Rec(Reactor originReactor) {
            this.originReactor = originReactor;
        }

        @Override
        public Integer visit(Reactor reactor) {
            if (Reactor.current() != reactor) {
                violations.add("visit of " + reactor + " ran on " + Reactor.current());
            }
            visited.add(reactor.index());
            count.incrementAndGet();
            events.add("visit " + reactor.index());
            if (throwOn.contains(reactor.index())) {
                throw new IllegalStateException("visitor failure on " + reactor.name() + " (expected by the test)");
            }
            return reactor.index() * 10 + 1;
        }

        @Override
        public void fold(Ctx context, Reactor reactor, Integer result) {
            onOrigin("fold of " + reactor);
            foldAttempts.add(reactor.index());
            if (foldThrowOn.contains(reactor.index())) {
                throw new IllegalStateException("fold failure for " + reactor.name() + " (expected by the test)");
            }
            if (result == null || result != reactor.index() * 10 + 1) {
                violations.add("fold of " + reactor + " got " + result);
            }
            folded.add(reactor.index());
            events.add("fold " + reactor.index());
        }

        @Override
        public void complete(Ctx context, int status) {
            onOrigin("complete");
            if (inCall) {
                violations.add("completion ran inline inside forEachReactor");
            }
            if (context.releases.get() != 0) {
                violations.add("context released before its completion");
            }
            onComplete.run();
            count.incrementAndGet();
            completions.incrementAndGet();
            this.status = status;
            done = true;
            events.add("complete " + Errno.name(status));
        }

        private void onOrigin(String what) {
            if (originReactor != null && Reactor.current() != originReactor) {
                violations.add(what + " ran on " + Reactor.current() + ", not on the originator " + originReactor);
            }
            Thread t = originThread.get();
            if (t != null && Thread.currentThread() != t) {
                violations.add(what + " ran on thread " + Thread.currentThread().getName() + ", not on the originator " + t.getName());
            }
        }
    }

    /** Starts a walk from a task on reactor 0 (not polled); {@code out} receives the originator's FanOuts. */
    static void startFromReactor0(ReactorGroup g, Ctx ctx, Rec rec, AtomicReference<FanOuts> out) {
        Reactor r0 = g.reactor(0);
        r0.send(() -> {
            FanOuts f = out.get();
            if (f == null) {
                f = FanOuts.forReactor(r0);
                out.set(f);
            }
            rec.inCall = true;
            try {
                f.forEachReactor(ctx, rec);
            } finally {
                rec.inCall = false;
            }
            rec.events.add("forEachReactor returned");
        });
    }

    static void assertEndedOnce(Rec rec, Ctx ctx, int status) {
        assertThat(rec.violations).isEmpty();
        assertThat(rec.completions).hasValue(1);
        assertThat(rec.status).isEqualTo(status);
        assertThat(ctx.releases).hasValue(1);
        List<String> ev = rec.events;
        assertThat(ev.indexOf("release")).as("release after completion in %s", ev).isGreaterThan(ev.indexOf("complete " + Errno.name(status)));
    }

    // ------------------------------------------------------------------ test_for_each_reactor

    @Test
    @DisplayName("test_for_each_reactor: 5 reactors, ascending, fold on the originator, completion once after all and only when it is polled again")
    void test_for_each_reactor() {
        ReactorGroup g = ReactorGroup.manual(5);
        try {
            Reactor r0 = g.reactor(0);
            Rec rec = new Rec(r0);
            Ctx ctx = new Ctx(rec.events);
            startFromReactor0(g, ctx, rec, new AtomicReference<>());

            // no event processed yet
            assertThat(rec.count).hasValue(0);
            for (int i = 1; i < 5; i++) {
                assertThat(g.pollOnce(i)).as("nothing queued on reactor %d yet", i).isZero();
            }
            assertThat(rec.count).hasValue(0);

            // the originator starts the walk; hop 0 runs on it; it folds hop 0 and sends hop 1
            g.pollOnce(0);
            assertThat(rec.count).hasValue(1);
            assertThat(rec.folded).containsExactly(0);
            assertThat(g.pollOnce(2)).as("hops go in ascending order: reactor 1 before 2").isZero();

            for (int i = 1; i < 5; i++) {
                g.pollOnce(i);
                assertThat(rec.count).as("after polling reactor %d", i).hasValue(i + 1);
                assertThat(rec.visited).hasSize(i + 1);
                assertThat(rec.folded).as("folded on the originator only").hasSize(i);
                assertThat(rec.done).isFalse();
                if (i < 4) {
                    g.pollOnce(0);
                    assertThat(rec.folded).hasSize(i + 1);
                    assertThat(rec.count).hasValue(i + 1);
                }
            }

            // after every reactor ran, the completion counts once more, when the originator is polled again
            assertThat(rec.completions).hasValue(0);
            g.pollOnce(0);
            assertThat(rec.count).hasValue(6);
            assertThat(rec.done).isTrue();
            assertThat(rec.visited).containsExactly(0, 1, 2, 3, 4);
            assertThat(rec.folded).containsExactly(0, 1, 2, 3, 4);
            assertEndedOnce(rec, ctx, Errno.OK);
            assertThat(ctx.releasedOnReactor).containsExactly("reactor_0");

            g.pollUntilIdle();
            assertThat(rec.count).hasValue(6);
            assertThat(rec.completions).hasValue(1);
            assertThat(ctx.releases).hasValue(1);
        } finally {
            g.close();
        }
    }

    @Test
    @DisplayName("for_each_reactor: the completion is never inline in forEachReactor, even with one reactor")
    void completionNeverInline() {
        ReactorGroup g = ReactorGroup.manual(1);
        try {
            Rec rec = new Rec(g.reactor(0));
            Ctx ctx = new Ctx(rec.events);
            startFromReactor0(g, ctx, rec, new AtomicReference<>());
            g.pollUntilIdle();
            assertEndedOnce(rec, ctx, Errno.OK);
            assertThat(rec.events).containsExactly("forEachReactor returned", "visit 0", "fold 0", "complete OK", "release");
        } finally {
            g.close();
        }
    }

    // ------------------------------------------------------------------ failures

    @Test
    @DisplayName("for_each_reactor: a visitor that throws ends the walk with EIO")
    void visitorThrowsEndsWalkWithEio() {
        ReactorGroup g = ReactorGroup.manual(5);
        try {
            Rec rec = new Rec(g.reactor(0));
            rec.throwOn.add(2);
            Ctx ctx = new Ctx(rec.events);
            startFromReactor0(g, ctx, rec, new AtomicReference<>());
            g.pollUntilIdle();

            assertThat(rec.visited).containsExactly(0, 1, 2);
            assertThat(rec.folded).as("the failed hop is not folded").containsExactly(0, 1);
            assertEndedOnce(rec, ctx, Errno.EIO);
            assertThat(ctx.releasedOnReactor).containsExactly("reactor_0");
        } finally {
            g.close();
        }
    }

    @Test
    @DisplayName("for_each_reactor: a fold that throws ends the walk with EIO")
    void foldThrowsEndsWalkWithEio() {
        ReactorGroup g = ReactorGroup.manual(5);
        try {
            Rec rec = new Rec(g.reactor(0));
            rec.foldThrowOn.add(1);
            Ctx ctx = new Ctx(rec.events);
            startFromReactor0(g, ctx, rec, new AtomicReference<>());
            g.pollUntilIdle();

            assertThat(rec.visited).as("no hop after the failed fold").containsExactly(0, 1);
            assertThat(rec.foldAttempts).containsExactly(0, 1);
            assertThat(rec.folded).containsExactly(0);
            assertEndedOnce(rec, ctx, Errno.EIO);
            assertThat(ctx.releasedOnReactor).containsExactly("reactor_0");
        } finally {
            g.close();
        }
    }

    @Test
    @DisplayName("for_each_reactor: a hop to an exited reactor ends the walk with ESHUTDOWN; completion once, context released once")
    void hopToExitedReactorEndsWithEshutdown() {
        ReactorGroup g = ReactorGroup.manual(4);
        try {
            Reactor r2 = g.reactor(2);
            r2.requestExit();
            r2.pollOnce();
            assertThat(r2.state()).isEqualTo(Reactor.State.EXITED);

            Rec rec = new Rec(g.reactor(0));
            Ctx ctx = new Ctx(rec.events);
            startFromReactor0(g, ctx, rec, new AtomicReference<>());
            g.pollUntilIdle();

            assertThat(rec.visited).containsExactly(0, 1);
            assertThat(rec.folded).containsExactly(0, 1);
            assertEndedOnce(rec, ctx, Errno.ESHUTDOWN);
            assertThat(ctx.releasedOnReactor).containsExactly("reactor_0");
            assertThat(g.reactor(3).state()).isEqualTo(Reactor.State.RUNNING);
            g.pollUntilIdle();
            assertThat(rec.completions).hasValue(1);
            assertThat(ctx.releases).hasValue(1);
        } finally {
            g.close();
        }
    }

    @Test
    @DisplayName("for_each_reactor: stop requested mid-walk: the originating reactor exits only after the ESHUTDOWN completion")
    void stopRequestedMidWalk() {
        ReactorGroup g = ReactorGroup.manual(3);
        try {
            Reactor r0 = g.reactor(0);
            Rec rec = new Rec(r0);
            List<Reactor.State> r0AtCompletion = new CopyOnWriteArrayList<>();
            rec.onComplete = () -> r0AtCompletion.add(r0.state());
            Ctx ctx = new Ctx(rec.events);
            startFromReactor0(g, ctx, rec, new AtomicReference<>());
            g.pollOnce(0); // hop 0 done, hop 1 queued on reactor 1

            g.requestStop();
            g.pollOnce(2);
            assertThat(g.reactor(2).state()).as("reactor 2 holds nothing").isEqualTo(Reactor.State.EXITED);
            g.pollOnce(0);
            assertThat(r0.state()).as("reactor 0 originated a walk in flight").isEqualTo(Reactor.State.EXITING);
            g.pollOnce(1);
            assertThat(rec.visited).as("a queued hop still runs on an exiting reactor").containsExactly(0, 1);
            assertThat(g.reactor(1).state()).isEqualTo(Reactor.State.EXITED);
            assertThat(rec.completions).hasValue(0);

            g.pollOnce(0);
            assertEndedOnce(rec, ctx, Errno.ESHUTDOWN);
            assertThat(rec.folded).containsExactly(0, 1);
            assertThat(r0AtCompletion).containsExactly(Reactor.State.EXITING);
            assertThat(r0.state()).isEqualTo(Reactor.State.EXITED);
            assertThat(ctx.releasedOnReactor).containsExactly("reactor_0");
        } finally {
            g.close();
        }
    }

    // ------------------------------------------------------------------ the originator closes

    @Test
    @DisplayName("for_each_reactor: the originating reactor closes mid-walk: no completion, context released once there, later replies dropped")
    void originatorReactorClosesMidWalk() {
        ReactorGroup g = ReactorGroup.manual(3);
        try {
            Reactor r0 = g.reactor(0);
            Rec rec = new Rec(r0);
            Ctx ctx = new Ctx(rec.events);
            AtomicReference<FanOuts> fanOuts = new AtomicReference<>();
            startFromReactor0(g, ctx, rec, fanOuts);
            g.pollOnce(0); // hop 1 queued on reactor 1
            assertThat(rec.folded).containsExactly(0);

            r0.send(() -> {
                assertThat(fanOuts.get().inFlight()).isEqualTo(1);
                fanOuts.get().close();
                assertThat(fanOuts.get().inFlight()).isZero();
            });
            g.pollOnce(0);
            assertThat(ctx.releases).hasValue(1);
            assertThat(ctx.releasedOnReactor).containsExactly("reactor_0");
            assertThat(rec.completions).hasValue(0);

            g.pollUntilIdle();
            assertThat(rec.visited).as("the hop already sent still runs; none after it").containsExactly(0, 1);
            assertThat(rec.folded).as("its reply is dropped").containsExactly(0);
            assertThat(rec.completions).hasValue(0);
            assertThat(ctx.releases).hasValue(1);
            assertThat(rec.violations).isEmpty();

            AtomicReference<Throwable> refused = new AtomicReference<>();
            r0.send(() -> {
                try {
                    fanOuts.get().forEachReactor(new Ctx(rec.events), rec);
                } catch (Throwable e) {
                    refused.set(e);
                }
            });
            g.pollUntilIdle();
            assertThat(refused.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
            assertThatThrownBy(() -> FanOuts.forReactor(r0)).as("forReactor off its reactor").isInstanceOf(IllegalStateException.class);
        } finally {
            g.close();
        }
    }

    sealed interface OrigCmd permits StartWalk, StopOriginator {
    }

    enum StopOriginator implements OrigCmd {
        INSTANCE
    }

    record StartWalk(Ctx ctx, Rec rec) implements OrigCmd {
    }

    /** An originating actor made by {@link FanOuts#originator}: its fan-outs are closed by its stop, after its PostStop. */
    static Behavior<OrigCmd> originator(ReactorGroup group, AtomicReference<Thread> thread, Runnable onPostStop) {
        return FanOuts.originator(group, (ctx, fanOuts) -> {
            thread.set(Thread.currentThread());
            return Behaviors.receive(OrigCmd.class)
                    .onMessage(StartWalk.class, m -> {
                        m.rec().originThread.set(Thread.currentThread());
                        fanOuts.forEachReactor(m.ctx(), m.rec());
                        return Behaviors.same();
                    })
                    .onMessageEquals(StopOriginator.INSTANCE, Behaviors::stopped)
                    .onSignal(PostStop.class, s -> {
                        onPostStop.run();
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    /** Polls reactor {@code i} alone until {@code done} holds (work arrives from the originator's thread). */
    static void pollReactorUntil(ReactorGroup g, int i, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!done.getAsBoolean()) {
            if (g.pollOnce(i) == 0) {
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("condition not met on reactor " + i);
                }
                Thread.sleep(1); // paces a poll for work another thread sends; the condition decides, not the time
            }
        }
    }

    @Test
    @DisplayName("for_each_reactor: the originating actor stops mid-walk: no completion, context released once on its thread, replies dropped")
    void originatorActorStopsMidWalk() throws Exception {
        ReactorGroup g = ReactorGroup.manual(3);
        try {
            AtomicReference<Thread> origThread = new AtomicReference<>();
            List<Thread> postStopThread = new CopyOnWriteArrayList<>();
            ActorRef<OrigCmd> orig = testKit.spawn(originator(g, origThread, () -> postStopThread.add(Thread.currentThread())),
                    "originator-stops", DispatcherSelector.fromConfig("originator-dispatcher"));
            Rec rec = new Rec(null);
            Ctx ctx = new Ctx(rec.events);
            orig.tell(new StartWalk(ctx, rec));

            // hop 0 on reactor 0, its reply folded on the originator's thread, which then sends hop 1 to reactor 1
            pollReactorUntil(g, 0, () -> rec.folded.size() == 1);
            assertThat(rec.visited).containsExactly(0);

            testKit.stop(orig, Duration.ofSeconds(10));
            assertThat(origThread.get()).isNotNull();
            assertThat(origThread.get().getName()).doesNotStartWith("reactor_").isNotEqualTo(Thread.currentThread().getName());
            assertThat(postStopThread).containsExactly(origThread.get());
            assertThat(ctx.releases).hasValue(1);
            assertThat(ctx.releasedOnThread).containsExactly(origThread.get());
            assertThat(rec.completions).hasValue(0);

            g.pollUntilIdle();
            assertThat(rec.visited).as("the hop already sent still runs; none after it").containsExactly(0, 1);
            assertThat(rec.folded).as("its reply is dropped").containsExactly(0);
            assertThat(rec.completions).hasValue(0);
            assertThat(ctx.releases).hasValue(1);
            assertThat(rec.violations).isEmpty();
        } finally {
            g.close();
        }
    }

    @Test
    @DisplayName("for_each_reactor: an originating actor on a reactor dispatcher folds and completes on that reactor")
    void originatorActorOnReactorDispatcher() throws Exception {
        ReactorGroup g = ReactorGroup.manual(3);
        try {
            g.registerDispatchers(testKit.system());
            AtomicReference<Thread> origThread = new AtomicReference<>();
            AtomicInteger stopped = new AtomicInteger();
            Reactor r1 = g.reactor(1);
            ActorRef<OrigCmd> orig = testKit.spawn(originator(g, origThread, stopped::incrementAndGet), "originator-on-reactor-1", r1.dispatcher());
            Rec rec = new Rec(r1);
            Ctx ctx = new Ctx(rec.events);
            orig.tell(new StartWalk(ctx, rec));
            g.pollUntil(() -> ctx.releases.get() == 1, Duration.ofSeconds(10));

            assertThat(rec.visited).containsExactly(0, 1, 2);
            assertThat(rec.folded).containsExactly(0, 1, 2);
            assertEndedOnce(rec, ctx, Errno.OK);
            assertThat(ctx.releasedOnReactor).containsExactly("reactor_1");

            // stop it while reactor 1 still runs, before the group closes
            orig.tell(StopOriginator.INSTANCE);
            g.pollUntil(() -> stopped.get() == 1, Duration.ofSeconds(10));
        } finally {
            g.close();
        }
    }
}
