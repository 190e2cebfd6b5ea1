package io.spindle.app;

import ch.qos.logback.classic.Level;
import io.spindle.runtime.CoreMask;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorConfig;
import io.spindle.runtime.ReactorGroup;
import io.spindle.testing.ScheduleExplorer;
import net.openhft.chronicle.bytes.Bytes;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The schedule explorer on app stop during walks (SPDK #3630, #1766/#2206 at the app level): a {@link SpindleApp} on
 * 1 to 4 manual reactors, and a fan-out originator with walks over them, stopped in every order the explorer
 * reaches.
 *
 * <p><b>What the explorer controls.</b> Everything the stop is made of runs on manual reactors it steps one task
 * at a time: the app actor itself (placed on reactor {@code app} of a second manual group, since the app creates its
 * own reactors), the originator (reactor {@code orig} of that group), the app's reactors with their reactor actors
 * and every walk hop. Schedule choices are the app stop, up to four walks of the originator, an app-originated walk
 * ({@link Spindle#onEachReactor}) and the originator's stop. Not controlled: Pekko's scheduler, which delivers the
 * app's "have the reactors exited" re-check (the explorer waits for it when nothing else can run).
 *
 * <p><b>Invariants of every schedule.</b> Every walk context is created, folded, completed and released on the
 * originator's reactor only, released exactly once and after its completion (if any), completed at most once with
 * OK or ESHUTDOWN, never completed once cut short by the originator's stop; each visit ran on its own reactor;
 * every context's off-heap memory is freed; the app's own walk request is answered once; the app stops clean
 * with every reactor exited and nothing left in the leak round.
 */
@Timeout(600)
class AppStopScheduleExplorationTest {
    static final ActorTestKit kit = ActorTestKit.create("app-stop-explorer", com.typesafe.config.ConfigFactory
            .parseString("pekko.scheduler.tick-duration = 1ms").withFallback(com.typesafe.config.ConfigFactory.load()));
    static final Duration T = Duration.ofSeconds(10);

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    /** A walk's context: off-heap memory plus a record of where it was touched. */
    static final class Ctx implements AutoCloseable {
        final int id;
        final Bytes<?> bytes = Bytes.allocateElasticDirect(16);
        final Reactor createdOn = Reactor.current();
        final List<String> events = new ArrayList<>();
        final List<Reactor> touchedOn = new ArrayList<>();
        int releases;
        int completions;

        Ctx(int id) {
            this.id = id;
        }

        void touch(String event) {
            events.add(event);
            touchedOn.add(Reactor.current());
        }

        @Override
        public void close() {
            releases++;
            touch("release");
            bytes.releaseLast();
        }
    }

    /** The originator's messages. */
    sealed interface Cmd permits StartWalk, StopSelf {
    }

    record StartWalk(int id) implements Cmd {
    }

    enum StopSelf implements Cmd {
        INSTANCE
    }

    /** What the originator did, for the invariants; touched only on the originator's reactor and the test thread between steps. */
    static final class OriginatorState {
        final List<Ctx> contexts = new CopyOnWriteArrayList<>();
        final List<String> violations = new CopyOnWriteArrayList<>();
        volatile boolean ready;
        volatile boolean stopped;
    }

    /** Runs on each reactor; holds no context (a visitor holding it would be refused). */
    static final class Visitor implements FanOuts.ReactorVisitor<Ctx, Integer> {
        final List<String> violations;
        int lastVisited = -1;

        Visitor(List<String> violations) {
            this.violations = violations;
        }

        @Override
        public Integer visit(Reactor reactor) {
            if (Reactor.current() != reactor) {
                violations.add("visit of " + reactor.name() + " ran on " + Reactor.current());
            }
            if (reactor.index() <= lastVisited) {
                violations.add("visit of " + reactor.name() + " after reactor index " + lastVisited);
            }
            lastVisited = reactor.index();
            return reactor.index();
        }

        @Override
        public void fold(Ctx c, Reactor reactor, Integer index) {
            c.touch("fold " + index);
            c.bytes.writeInt(index);
        }

        @Override
        public void complete(Ctx c, int status) {
            c.completions++;
            c.touch("complete " + Errno.name(status));
        }
    }

    static Behavior<Cmd> originator(ReactorGroup reactors, OriginatorState st) {
        return FanOuts.originator(reactors, (ctx, fanOuts) -> {
            st.ready = true;
            return Behaviors.receive(Cmd.class)
                    .onMessage(StartWalk.class, m -> {
                        Ctx c = new Ctx(m.id());
                        c.touch("create");
                        st.contexts.add(c);
                        fanOuts.forEachReactor(c, new Visitor(st.violations));
                        return Behaviors.same();
                    })
                    .onMessageEquals(StopSelf.INSTANCE, Behaviors::stopped)
                    .onSignal(PostStop.class, s -> {
                        st.stopped = true; // the FanOuts is closed right after this, in the same signal
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    /** Spawns children on request, on its own reactor: no round trip through the test kit's guardian per schedule. */
    record Spawn(Behavior<?> behavior, Props props, CompletableFuture<ActorRef<?>> ref) {
    }

    static Behavior<Spawn> spawner() {
        return Behaviors.setup(ctx -> Behaviors.receive(Spawn.class).onMessage(Spawn.class, m -> {
            m.ref().complete(ctx.spawnAnonymous(m.behavior(), m.props()));
            return Behaviors.same();
        }).build());
    }

    @SuppressWarnings("unchecked")
    static <T> ActorRef<T> spawn(ActorRef<Spawn> spawner, ReactorGroup outer, Behavior<T> behavior, Props props) {
        CompletableFuture<ActorRef<?>> f = new CompletableFuture<>();
        spawner.tell(new Spawn(behavior, props, f));
        outer.pollUntil(f::isDone, T);
        return (ActorRef<T>) f.join();
    }

    @Test
    @DisplayName("explorer: app stop during walks on 1-4 manual reactors (uniform random + PCT schedules): every context released once on "
            + "its originator, completed at most once, nothing leaked, the app stops clean")
    void appStopDuringWalks() {
        ch.qos.logback.classic.Logger appLog = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(SpindleApp.class);
        Level was = appLog.getLevel();
        appLog.setLevel(Level.WARN); // one start and one stop line per schedule otherwise
        ReactorGroup outer = ReactorGroup.manual(ReactorConfig.builder().mask(CoreMask.firstN(2)).manual(true)
                .maxTasksPerLoop(1).dispatcherThroughput(1).conclude());
        Throwable failure = null;
        try {
            outer.registerDispatchers(kit.system());
            ActorRef<Spawn> spawner = kit.spawn(spawner(), "spawner", outer.reactor(0).dispatcher());
            ScheduleExplorer.Report r = ScheduleExplorer.of("app stop during walks", 2000).pct(3, 50)
                    .explore(s -> runSchedule(s, outer, spawner));
            assertThat(r.schedules()).isPositive();
            CompletableFuture<Void> gone = CompletableFuture.runAsync(() -> kit.stop(spawner)); // it runs on outer reactor 0
            outer.pollUntil(gone::isDone, T);
            gone.join();
        } catch (Throwable t) {
            failure = t;
            throw t;
        } finally {
            appLog.setLevel(was);
            try {
                outer.close();
            } catch (Throwable t) {
                if (failure == null) {
                    throw t;
                }
                failure.addSuppressed(t);
            }
        }
    }

    private static void runSchedule(ScheduleExplorer.Schedule s, ReactorGroup outer, ActorRef<Spawn> spawner) {
        Random rnd = s.random();
        int n = 1 + rnd.nextInt(4);
        SpindleConfig cfg = SpindleConfig.builder().name("x" + Long.toHexString(s.seed()))
                .reactor(ReactorConfig.builder().mask(CoreMask.firstN(n)).manual(true).maxTasksPerLoop(1).dispatcherThroughput(1)
                        .exitTimeout(Duration.ofSeconds(5)).conclude())
                .conclude();
        CompletableFuture<SpindleApp.StartResult> started = new CompletableFuture<>();
        spawn(spawner, outer, SpindleApp.create(cfg, started::complete, false), outer.reactor(0).dispatcher());
        outer.pollUntil(started::isDone, T);
        assertThat(started.join()).isInstanceOf(SpindleApp.Started.class);
        Spindle sp = ((SpindleApp.Started) started.join()).spindle();
        ReactorGroup g = sp.reactors();

        OriginatorState st = new OriginatorState();
        ActorRef<Cmd> orig = spawn(spawner, outer, originator(g, st), outer.reactor(1).dispatcher());
        outer.pollUntil(() -> st.ready, T);

        s.reactor("app", outer.reactor(0)).reactor("orig", outer.reactor(1)).reactors(g.reactors());
        int walks = 1 + rnd.nextInt(4);
        for (int i = 0; i < walks; i++) {
            int id = i;
            s.action("walk" + i, () -> orig.tell(new StartWalk(id)));
        }
        List<CompletableFuture<List<Integer>>> appWalks = new ArrayList<>();
        if (rnd.nextBoolean()) {
            s.action("app-walk", () -> !sp.whenStopped().toCompletableFuture().isDone(),
                    () -> appWalks.add(sp.onEachReactor(Reactor::index).toCompletableFuture()));
        }
        CompletableFuture<SpindleApp.Stopped> stopped = sp.whenStopped().toCompletableFuture();
        s.action("app-stop", () -> {
            if (st.contexts.stream().anyMatch(c -> c.releases == 0)) {
                s.note("app stop requested with a walk in flight");
            }
            sp.stop();
        });
        s.action("orig-stop", () -> orig.tell(StopSelf.INSTANCE));

        s.runUntil(() -> stopped.isDone() && st.stopped);
        s.quiesce();

        // ---- invariants
        Reactor origReactor = outer.reactor(1);
        assertThat(st.violations).as("visits on their own reactors, in order").isEmpty();
        SpindleApp.Stopped result = stopped.join();
        assertThat(result.clean()).as("the app stops clean: %s", result.leaks()).isTrue();
        assertThat(result.leaks()).isEmpty();
        assertThat(g.reactors()).allSatisfy(r -> assertThat(r.state()).isEqualTo(Reactor.State.EXITED));
        for (Ctx c : st.contexts) {
            assertThat(c.createdOn).as("walk %d created on the originator", c.id).isSameAs(origReactor);
            assertThat(c.touchedOn).as("walk %d touched on the originator only: %s", c.id, c.events).allSatisfy(t -> assertThat(t).isSameAs(origReactor));
            assertThat(c.releases).as("walk %d released exactly once: %s", c.id, c.events).isEqualTo(1);
            assertThat(c.events.get(c.events.size() - 1)).as("walk %d: release is the last thing: %s", c.id, c.events).isEqualTo("release");
            assertThat(c.completions).as("walk %d completed at most once: %s", c.id, c.events).isLessThanOrEqualTo(1);
            assertThat(c.bytes.refCount()).as("walk %d memory freed", c.id).isZero();
            if (c.completions == 1) {
                String done = c.events.get(c.events.size() - 2);
                assertThat(done).as("walk %d status: %s", c.id, c.events).isIn("complete OK", "complete ESHUTDOWN");
                if (done.equals("complete ESHUTDOWN")) {
                    s.note("walk ended ESHUTDOWN");
                }
                if (done.equals("complete OK") && c.events.size() - 3 < n) {
                    throw new AssertionError("walk " + c.id + " completed OK without a fold per reactor: " + c.events);
                }
            } else {
                s.note("walk cut short by the originator's stop");
            }
        }
        for (CompletableFuture<List<Integer>> w : appWalks) {
            assertThat(w).as("the app's walk request is answered").isDone();
            if (!w.isCompletedExceptionally() && w.join().isEmpty()) {
                s.note("app walk answered empty (stopping)");
            }
        }
    }
}
