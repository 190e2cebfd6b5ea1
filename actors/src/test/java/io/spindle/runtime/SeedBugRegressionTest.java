package io.spindle.runtime;

import com.typesafe.config.ConfigFactory;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.core.io.ThreadingIllegalStateException;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Regression tests for the two SPDK bugs behind Spindle's fan-out design (DESIGN.md section 1, rule 2), on real
 * reactor threads ({@link ReactorGroup#start}) with the originator an actor on its own single-thread dispatcher.
 *
 * <ul>
 *   <li><b>SPDK #3630</b> ("call_reactor is freed in the last spdk thread instead of app thread", fixed by
 *   {@code de31e13fdd}): a {@code forEachReactor} context is created, folded into, completed and released on the
 *   originator's thread only. The context holds a Chronicle {@code Bytes} written on every fold; with assertions on,
 *   Chronicle's single-thread check throws {@link ThreadingIllegalStateException} if any reactor thread touched
 *   it while the originator's thread lives, and the leak check fails if it was never released. Each thread that
 *   touches the context is recorded and compared with the originator's.</li>
 *   <li><b>SPDK #1766 / #2206</b> ("spdk_for_each_reactor() can cause memory leak on application shutdown", fixed
 *   by {@code 7665710cd4} and {@code c4f086b6ed}, regression test {@code 84ab68c1a3}): stopping while many walks
 *   are in flight (the reactor group stops, or the originator stops) releases every context exactly once, runs
 *   no completion twice, and leaks no {@code Bytes}.</li>
 * </ul>
 *
 * <p>The app-level stop ({@code Spindle.stop}) mid-walk is covered by {@code SpindleAppTest}; this class covers
 * the reactor-group and originator stops.
 */
@Timeout(60)
class SeedBugRegressionTest {
    private static final Logger LOG = LoggerFactory.getLogger(SeedBugRegressionTest.class);
    private static final Duration WAIT = Duration.ofSeconds(20);

    static final ActorTestKit testKit = ActorTestKit.create("seed-bug-regression-test", ConfigFactory.parseString(
                    "originator-dispatcher { type = Dispatcher, executor = thread-pool-executor, "
                            + "thread-pool-executor { fixed-pool-size = 1, allow-core-timeout = off }, throughput = 1 }")
            .withFallback(ConfigFactory.load()));

    @AfterAll
    static void shutdownTestKit() {
        testKit.shutdownTestKit();
    }

    static ReactorGroup startGroup(int n) {
        return ReactorGroup.start(ReactorConfig.builder().mask(CoreMask.firstN(n)).oversubscribe(true)
                .exitTimeout(Duration.ofSeconds(5)).conclude());
    }

    // ------------------------------------------------------------------ fixtures

    /**
     * A walk's context owning off-heap memory. Its first write happens on the creating thread, which becomes the
     * Bytes' owner for Chronicle's single-thread check; every later touch is recorded with its thread.
     */
    static final class TracedContext implements AutoCloseable {
        final Bytes<?> bytes = Bytes.allocateElasticDirect(64);
        final Thread createdBy;
        final List<Thread> foldedBy = new CopyOnWriteArrayList<>();
        final List<Thread> completedBy = new CopyOnWriteArrayList<>();
        final List<Thread> releasedBy = new CopyOnWriteArrayList<>();
        final List<Integer> statuses = new CopyOnWriteArrayList<>();
        final List<Long> readBack = new CopyOnWriteArrayList<>();
        final AtomicInteger releases = new AtomicInteger();
        final AtomicInteger completions = new AtomicInteger();

        TracedContext() {
            createdBy = Thread.currentThread();
            touch(); // the first checked use makes this thread the owner
            bytes.writeLong(-1L);
        }

        /**
         * A no-op write that Chronicle's single-thread check covers (plain {@code writeLong} within capacity is
         * not checked): throws {@link ThreadingIllegalStateException} on any thread but the owner while it lives.
         */
        void touch() {
            bytes.writeSkip(0);
        }

        void fold(Reactor r) {
            foldedBy.add(Thread.currentThread());
            touch();
            bytes.writeLong(r.index());
        }

        void complete(int status) {
            completedBy.add(Thread.currentThread());
            completions.incrementAndGet();
            statuses.add(status);
            while (bytes.readRemaining() >= Long.BYTES) {
                readBack.add(bytes.readLong());
            }
            bytes.readSkip(0);
        }

        @Override
        public void close() {
            releasedBy.add(Thread.currentThread());
            releases.incrementAndGet();
            touch();
            bytes.clear();
            bytes.releaseLast();
        }
    }

    /** Runs on every reactor; never sees the context. Optionally blocks in one reactor until a gate opens. */
    static final class Visitor implements FanOuts.ReactorVisitor<TracedContext, String> {
        final Map<Integer, List<String>> visits = new ConcurrentHashMap<>();
        final List<String> violations = new CopyOnWriteArrayList<>();
        final int gateOn;
        final CountDownLatch gateReached;
        final CountDownLatch gate;

        Visitor() {
            this(-1, null, null);
        }

        Visitor(int gateOn, CountDownLatch gateReached, CountDownLatch gate) {
            this.gateOn = gateOn;
            this.gateReached = gateReached;
            this.gate = gate;
        }

        @Override
        public String visit(Reactor reactor) {
            String t = Thread.currentThread().getName();
            visits.computeIfAbsent(reactor.index(), k -> new CopyOnWriteArrayList<>()).add(t);
            if (Reactor.current() != reactor) {
                violations.add("visit of " + reactor + " ran with current reactor " + Reactor.current());
            }
            if (reactor.index() == gateOn) {
                gateReached.countDown();
                try {
                    if (!gate.await(WAIT.toSeconds(), TimeUnit.SECONDS)) {
                        violations.add("gate never opened");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return t;
        }

        @Override
        public void fold(TracedContext context, Reactor reactor, String visitedOn) {
            if (!reactor.name().equals(visitedOn)) {
                violations.add("hop of " + reactor + " ran on thread " + visitedOn);
            }
            context.fold(reactor);
        }

        @Override
        public void complete(TracedContext context, int status) {
            context.complete(status);
        }
    }

    record Walk(TracedContext ctx, Visitor visitor) {
    }

    sealed interface Cmd permits StartWalks {
    }

    /** Starts one walk per visitor; each context is created here, on the originator's thread. */
    record StartWalks(List<Visitor> visitors, List<Walk> out, CountDownLatch started) implements Cmd {
    }

    static Behavior<Cmd> originator(ReactorGroup group, AtomicReference<Thread> thread, Consumer<Thread> onPostStop) {
        return FanOuts.originator(group, (ctx, fanOuts) -> {
            thread.set(Thread.currentThread());
            return Behaviors.receive(Cmd.class)
                    .onMessage(StartWalks.class, m -> {
                        for (Visitor v : m.visitors()) {
                            TracedContext c = new TracedContext();
                            m.out().add(new Walk(c, v));
                            fanOuts.forEachReactor(c, v);
                        }
                        m.started().countDown();
                        return Behaviors.same();
                    })
                    .onSignal(PostStop.class, s -> {
                        onPostStop.accept(Thread.currentThread());
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    static ActorRef<Cmd> spawnOriginator(ReactorGroup g, String name, AtomicReference<Thread> thread, List<Thread> postStop) {
        ActorRef<Cmd> ref = testKit.spawn(originator(g, thread, postStop::add), name, DispatcherSelector.fromConfig("originator-dispatcher"));
        await().atMost(WAIT).until(() -> thread.get() != null);
        return ref;
    }

    /** Every touch of every context was on {@code originator}; each context released exactly once, its memory freed. */
    static void assertOwnedByOriginator(List<Walk> walks, Thread originator) {
        assertThat(originator.getName()).doesNotStartWith("reactor_").contains("originator-dispatcher");
        for (Walk w : walks) {
            TracedContext c = w.ctx();
            assertThat(c.createdBy).isSameAs(originator);
            assertThat(c.foldedBy).allSatisfy(t -> assertThat(t).isSameAs(originator));
            assertThat(c.completedBy).allSatisfy(t -> assertThat(t).isSameAs(originator));
            assertThat(c.releasedBy).containsExactly(originator);
            assertThat(c.releases).as("releases").hasValue(1);
            assertThat(c.completions.get()).as("completions").isLessThanOrEqualTo(1);
            assertThat(c.bytes.refCount()).as("Bytes refCount after release").isZero();
            assertThat(w.visitor().violations).isEmpty();
            w.visitor().visits.forEach((i, threads) -> assertThat(threads).as("visits of reactor %d", i).containsExactly("reactor_" + i));
        }
    }

    // ------------------------------------------------------------------ #3630

    @Test
    @DisplayName("sanity: Chronicle's single-thread check is on, so a reactor touching a context would throw")
    void chronicleSingleThreadCheckIsOn() throws Exception {
        Bytes<?> b = Bytes.allocateElasticDirect(64);
        try {
            b.writeSkip(0); // this thread becomes the owner
            b.writeLong(1L);
            List<String> refused = new CopyOnWriteArrayList<>();
            Thread other = new Thread(() -> {
                List<Runnable> touches = List.of(() -> b.writeSkip(0), () -> b.readLong(), () -> b.readSkip(0), b::clear);
                for (Runnable touch : touches) {
                    try {
                        touch.run();
                    } catch (ThreadingIllegalStateException e) {
                        refused.add("refused");
                    }
                }
            }, "reactor-impostor");
            other.start();
            other.join(WAIT.toMillis());
            assertThat(refused).as("writeSkip, readLong, readSkip, clear from a second live thread").hasSize(4);
        } finally {
            b.releaseLast();
        }
    }

    @ParameterizedTest(name = "{0} reactor(s)")
    @ValueSource(ints = {1, 2, 4})
    @DisplayName("#3630: forEachReactor context is created and released on the originator's thread")
    void contextIsCreatedAndReleasedOnOriginatorThread(int n) throws Exception {
        ReactorGroup g = startGroup(n);
        ActorRef<Cmd> orig = null;
        try {
            AtomicReference<Thread> origThread = new AtomicReference<>();
            List<Thread> postStop = new CopyOnWriteArrayList<>();
            orig = spawnOriginator(g, "originator-3630-" + n, origThread, postStop);

            List<Visitor> visitors = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                visitors.add(new Visitor());
            }
            List<Walk> walks = new CopyOnWriteArrayList<>();
            CountDownLatch started = new CountDownLatch(1);
            orig.tell(new StartWalks(visitors, walks, started));
            assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            await().atMost(WAIT).until(() -> walks.stream().allMatch(w -> w.ctx().releases.get() >= 1));

            assertThat(walks).hasSize(20);
            assertOwnedByOriginator(walks, origThread.get());
            List<Long> expected = new ArrayList<>();
            expected.add(-1L);
            for (int i = 0; i < n; i++) {
                expected.add((long) i);
            }
            for (Walk w : walks) {
                TracedContext c = w.ctx();
                assertThat(c.statuses).containsExactly(Errno.OK);
                assertThat(c.foldedBy).hasSize(n);
                assertThat(c.readBack).as("folded on the originator in ascending order").isEqualTo(expected);
                assertThat(w.visitor().visits).as("visit ran once on each reactor's thread").hasSize(n);
            }
            testKit.stop(orig, WAIT);
            orig = null;
            assertThat(postStop).containsExactly(origThread.get());
            // its stop closes its FanOuts: a completed walk is not released a second time
            assertOwnedByOriginator(walks, origThread.get());
        } finally {
            if (orig != null) {
                testKit.stop(orig, WAIT);
            }
            g.close();
        }
    }

    @ParameterizedTest(name = "{0} reactor(s)")
    @ValueSource(ints = {1, 2, 4})
    @DisplayName("#3630: stop requested mid-walk: every context released exactly once, on the originator's thread")
    void stopRequestedMidWalk(int n) throws Exception {
        ReactorGroup g = startGroup(n);
        ActorRef<Cmd> orig = null;
        CountDownLatch gate = new CountDownLatch(1);
        try {
            AtomicReference<Thread> origThread = new AtomicReference<>();
            List<Thread> postStop = new CopyOnWriteArrayList<>();
            orig = spawnOriginator(g, "originator-3630-stop-" + n, origThread, postStop);

            // the first walk blocks the last reactor: it, and every walk behind it, is in flight at the stop
            CountDownLatch gateReached = new CountDownLatch(1);
            List<Visitor> visitors = new ArrayList<>();
            visitors.add(new Visitor(n - 1, gateReached, gate));
            for (int i = 1; i < 100; i++) {
                visitors.add(new Visitor());
            }
            List<Walk> walks = new CopyOnWriteArrayList<>();
            CountDownLatch started = new CountDownLatch(1);
            orig.tell(new StartWalks(visitors, walks, started));
            assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(gateReached.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

            g.requestStop();
            gate.countDown();
            await().atMost(WAIT).until(() -> walks.stream().allMatch(w -> w.ctx().releases.get() >= 1));
            assertThat(g.awaitStopped(WAIT)).isTrue();

            assertThat(walks).hasSize(100);
            assertOwnedByOriginator(walks, origThread.get());
            for (Walk w : walks) {
                assertThat(w.ctx().completions).as("a walk ended by a stopping group completes once").hasValue(1);
                assertThat(w.ctx().statuses).hasSize(1).allSatisfy(st -> assertThat(st).isIn(Errno.OK, Errno.ESHUTDOWN));
            }
            assertThat(walks.get(0).ctx().statuses).as("the walk in flight at the stop").containsExactly(Errno.OK);
            LOG.info("n={}: statuses at stop: {}", n, statusHistogram(walks));
            testKit.stop(orig, WAIT);
            orig = null;
            // the originator's stop closes its FanOuts after every walk ended: nothing is released or completed twice
            assertOwnedByOriginator(walks, origThread.get());
            assertThat(walks).allSatisfy(w -> assertThat(w.ctx().completions).hasValue(1));
        } finally {
            gate.countDown();
            if (orig != null) {
                testKit.stop(orig, WAIT);
            }
            g.close();
        }
    }

    // ------------------------------------------------------------------ #1766 / #2206

    enum StopMode {
        /** {@link ReactorGroup#requestStop()} while walks are in flight. */
        GROUP_REQUEST_STOP,
        /** {@link ReactorGroup#close()} (stop and wait) while walks are in flight. */
        GROUP_CLOSE,
        /** The originating actor stops (its PostStop closes its FanOuts) while walks are in flight. */
        ORIGINATOR_STOP
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(StopMode.class)
    @DisplayName("#1766/#2206: stop while 200 forEachReactor walks are in flight: each context released once, no completion twice, no leak")
    void stopWhileManyWalksAreInFlight(StopMode mode) throws Exception {
        int n = 4;
        int count = 200;
        ReactorGroup g = startGroup(n);
        ActorRef<Cmd> orig = null;
        boolean origStopped = false;
        CountDownLatch gate = new CountDownLatch(1);
        try {
            AtomicReference<Thread> origThread = new AtomicReference<>();
            List<Thread> postStop = new CopyOnWriteArrayList<>();
            orig = spawnOriginator(g, "originator-2206-" + mode, origThread, postStop);

            CountDownLatch gateReached = new CountDownLatch(1);
            List<Visitor> visitors = new ArrayList<>();
            visitors.add(new Visitor(n - 1, gateReached, gate));
            for (int i = 1; i < count; i++) {
                visitors.add(new Visitor());
            }
            List<Walk> walks = new CopyOnWriteArrayList<>();
            CountDownLatch started = new CountDownLatch(1);
            orig.tell(new StartWalks(visitors, walks, started));
            assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(gateReached.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            // nothing can have completed: every walk needs the last reactor, blocked by the first walk
            assertThat(walks).allSatisfy(w -> assertThat(w.ctx().completions).hasValue(0));

            switch (mode) {
                case GROUP_REQUEST_STOP -> {
                    g.requestStop();
                    gate.countDown();
                }
                case GROUP_CLOSE -> {
                    Thread closer = new Thread(g::close, "group-closer");
                    closer.start();
                    await().atMost(WAIT).until(() -> g.reactors().stream().allMatch(r -> r.state() != Reactor.State.RUNNING));
                    gate.countDown();
                    closer.join(WAIT.toMillis());
                    assertThat(closer.isAlive()).isFalse();
                }
                case ORIGINATOR_STOP -> {
                    testKit.stop(orig, WAIT);
                    origStopped = true;
                    assertThat(postStop).containsExactly(origThread.get());
                    // released by the stop itself, before it returned: no waiting (a missing stop hook fails here, at once)
                    assertThat(walks).allSatisfy(w -> assertThat(w.ctx().releases).as("released by the originator's stop").hasValue(1));
                    gate.countDown();
                }
                default -> throw new IllegalStateException(mode.name());
            }
            await().atMost(WAIT).until(() -> walks.stream().allMatch(w -> w.ctx().releases.get() >= 1));
            assertThat(walks).allSatisfy(w -> assertThat(w.ctx().releases).hasValue(1));
            if (!origStopped) {
                testKit.stop(orig, WAIT);
                origStopped = true;
                assertThat(postStop).containsExactly(origThread.get());
            }
            g.close();
            // after the originator stopped and the group closed: still released exactly once (assertOwnedByOriginator)
            assertThat(g.threadsEnded()).isTrue();

            assertThat(walks).hasSize(count);
            assertOwnedByOriginator(walks, origThread.get());
            for (Walk w : walks) {
                if (mode == StopMode.ORIGINATOR_STOP) {
                    assertThat(w.ctx().completions).as("no completion for a walk its originator abandoned").hasValue(0);
                } else {
                    assertThat(w.ctx().completions).as("completion exactly once").hasValue(1);
                    assertThat(w.ctx().statuses).allSatisfy(st -> assertThat(st).isIn(Errno.OK, Errno.ESHUTDOWN));
                }
                assertThat(w.visitor().visits.keySet()).allSatisfy(i -> assertThat(i).isBetween(0, n - 1));
            }
            LOG.info("{}: statuses at stop: {}", mode, statusHistogram(walks));
        } finally {
            gate.countDown();
            if (orig != null && !origStopped) {
                testKit.stop(orig, WAIT);
            }
            g.close();
        }
    }

    static Map<String, Integer> statusHistogram(List<Walk> walks) {
        Map<String, Integer> h = new TreeMap<>();
        for (Walk w : walks) {
            String k = w.ctx().statuses.isEmpty() ? "none" : Errno.name(w.ctx().statuses.get(0));
            h.merge(k, 1, Integer::sum);
        }
        return h;
    }
}
