package io.spindle.app;

import io.spindle.runtime.CoreMask;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorConfig;
import io.spindle.runtime.ReactorStats;
import io.spindle.testing.LeakCheckExtension;
import net.openhft.chronicle.bytes.Bytes;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The app: standalone and embedded start and stop, subsystem order, failed init, the stop's last leak round,
 * CoordinatedShutdown on SIGTERM, and the seed-bug rules (#3630, #1766/#2206) when the app stops mid-walk.
 */
@Timeout(60)
class SpindleAppTest {
    static final ActorTestKit testKit = ActorTestKit.create("spindle-app-test",
            com.typesafe.config.ConfigFactory.parseString(
                    "originator-dispatcher { type = Dispatcher, executor = thread-pool-executor, "
                            + "thread-pool-executor { fixed-pool-size = 1, allow-core-timeout = off }, throughput = 1 }")
                    .withFallback(com.typesafe.config.ConfigFactory.load()));

    @AfterAll
    static void shutdown() {
        testKit.shutdownTestKit();
    }

    static ReactorConfig twoReactors() {
        return ReactorConfig.builder().mask("0x3").exitTimeout(Duration.ofMillis(500)).conclude();
    }

    /** A subsystem that logs its init and fini into a shared list. */
    record Recording(String name, List<String> deps, List<String> log, boolean failInit) implements Subsystem {
        @Override
        public List<String> dependsOn() {
            return deps;
        }

        @Override
        public CompletableFuture<Void> init(SubsystemContext ctx) {
            log.add("init " + name);
            if (failInit) {
                return CompletableFuture.failedFuture(new IllegalStateException("disk on fire"));
            }
            // finish asynchronously from another thread, as real subsystems do
            return CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(5, TimeUnit.MILLISECONDS));
        }

        @Override
        public CompletableFuture<Void> fini(SubsystemContext ctx) {
            log.add("fini " + name);
            return CompletableFuture.completedFuture(null);
        }
    }

    @Nested
    class Standalone {
        @Test
        void startRunsOneThreadPerReactorAndStopEndsThem() {
            Spindle s = Spindle.start(SpindleConfig.builder().name("standalone-1").reactor(twoReactors()).conclude());
            assertThat(LeakCheckExtension.reactorThreads()).containsExactlyInAnyOrder("reactor_0", "reactor_1");
            List<ReactorStats> stats = s.reactorStats().toCompletableFuture().join();
            assertThat(stats).extracting(ReactorStats::name).containsExactly("reactor_0", "reactor_1");
            assertThat(stats).allSatisfy(st -> assertThat(st.loops()).isPositive());
            SpindleApp.Stopped stopped = s.stop().toCompletableFuture().join();
            assertThat(stopped.clean()).isTrue();
            assertThat(stopped.leaks()).isEmpty();
            assertThat(LeakCheckExtension.reactorThreads()).isEmpty();
            assertThat(s.system().whenTerminated().isCompleted()).isTrue();
        }

        @Test
        void stopIsIdempotentFromManyThreads() throws Exception {
            Spindle s = Spindle.start(SpindleConfig.builder().name("standalone-2").reactor(twoReactors()).conclude());
            List<CompletableFuture<SpindleApp.Stopped>> all = new CopyOnWriteArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Thread t = new Thread(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    all.add(s.stop().toCompletableFuture());
                });
                t.start();
                threads.add(t);
            }
            go.countDown();
            for (Thread t : threads) {
                t.join();
            }
            SpindleApp.Stopped first = all.get(0).get(30, TimeUnit.SECONDS);
            for (CompletableFuture<SpindleApp.Stopped> f : all) {
                assertThat(f.get(30, TimeUnit.SECONDS)).isSameAs(first);
            }
            assertThat(s.stop().toCompletableFuture().get(5, TimeUnit.SECONDS)).isSameAs(first);
        }

        @Test
        void subsystemsInitInDependencyOrderAndFiniInReverse() {
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            Spindle s = Spindle.start(SpindleConfig.builder().name("standalone-3").reactor(twoReactors())
                    .subsystem(new Recording("bdev", List.of("accel", "iobuf"), log, false))
                    .subsystem(new Recording("accel", List.of("iobuf"), log, false))
                    .subsystem(new Recording("iobuf", List.of(), log, false))
                    .subsystem(new Recording("rpc", List.of(), log, false))
                    .conclude());
            assertThat(log).containsExactly("init iobuf", "init rpc", "init accel", "init bdev");
            s.stopAndWait();
            assertThat(log).containsExactly("init iobuf", "init rpc", "init accel", "init bdev",
                    "fini bdev", "fini accel", "fini rpc", "fini iobuf");
        }

        @Test
        void failedInitStopsTheStartFinishesWhatStartedAndNamesTheSubsystem() {
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            SpindleConfig cfg = SpindleConfig.builder().name("standalone-4").reactor(twoReactors())
                    .subsystem(new Recording("iobuf", List.of(), log, false))
                    .subsystem(new Recording("bdev", List.of("iobuf"), log, true))
                    .subsystem(new Recording("rpc", List.of("bdev"), log, false))
                    .conclude();
            assertThatThrownBy(() -> Spindle.start(cfg))
                    .isInstanceOf(SpindleStartException.class)
                    .hasMessageContaining("subsystem=bdev init failed")
                    .hasMessageContaining("disk on fire");
            assertThat(log).containsExactly("init iobuf", "init bdev", "fini iobuf");
            assertThat(LeakCheckExtension.reactorThreads()).isEmpty();
        }

        @Test
        void badSubsystemGraphsAreRejectedAtConclude() {
            List<String> log = new ArrayList<>();
            assertThatThrownBy(() -> SpindleConfig.builder().subsystem(new Recording("bdev", List.of("accel"), log, false)).conclude())
                    .hasMessageContaining("subsystem=bdev depends_on=accel: no such subsystem");
            assertThatThrownBy(() -> SpindleConfig.builder()
                    .subsystem(new Recording("a", List.of("b"), log, false))
                    .subsystem(new Recording("b", List.of("a"), log, false)).conclude())
                    .hasMessageContaining("cycle").hasMessageContaining("a").hasMessageContaining("b");
            assertThatThrownBy(() -> SpindleConfig.builder()
                    .subsystem(new Recording("a", List.of(), log, false))
                    .subsystem(new Recording("a", List.of(), log, false)).conclude())
                    .hasMessageContaining("subsystem=a: registered twice");
        }

        @Test
        void hoconConfigIsReadAndValidated() {
            SpindleConfig c = SpindleConfig.fromConfig(com.typesafe.config.ConfigFactory.parseString(
                    "spindle { name = hocon, reactor { mask = \"[0,1]\", idle = park } }"));
            assertThat(c.reactor().mask()).isEqualTo(CoreMask.parse("0x3"));
            assertThat(c.reactor().idle().configName()).isEqualTo("park");
            assertThatThrownBy(() -> SpindleConfig.fromConfig(com.typesafe.config.ConfigFactory.parseString(
                    "spindle.reactor.mask = \"0x100\"")))
                    .hasMessageContaining("core 8 does not exist on this machine");
            assertThatThrownBy(() -> SpindleConfig.fromConfig(com.typesafe.config.ConfigFactory.parseString(
                    "spindle.name = \"no spaces\"")))
                    .hasMessageContaining("spindle.name=no spaces");
        }

        @Test
        void stopReportsWhatReactorsStillHold() {
            Subsystem leaky = new Subsystem() {
                @Override
                public String name() {
                    return "leaky";
                }

                @Override
                public CompletableFuture<Void> init(SubsystemContext ctx) {
                    CompletableFuture<Void> done = new CompletableFuture<>();
                    ctx.reactors().reactor(1).send(() -> {
                        ctx.reactors().reactor(1).registerPoller("forgotten_poller", () -> 0);
                        done.complete(null);
                    });
                    return done;
                }

                @Override
                public CompletableFuture<Void> fini(SubsystemContext ctx) {
                    return CompletableFuture.completedFuture(null); // forgets to unregister its poller
                }
            };
            Spindle s = Spindle.start(SpindleConfig.builder().name("standalone-5")
                    .reactor(ReactorConfig.builder().mask("0x3").exitTimeout(Duration.ofMillis(200)).conclude())
                    .subsystem(leaky).conclude());
            SpindleApp.Stopped stopped = s.stopAndWait();
            assertThat(stopped.clean()).isFalse();
            assertThat(stopped.leaks()).singleElement().asString().contains("reactor_1").contains("poller forgotten_poller");
            assertThat(LeakCheckExtension.reactorThreads()).isEmpty();
        }

        @Test
        void stopDuringStartWaitsForTheInitInProgressThenFinishesIt() throws Exception {
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            CompletableFuture<Void> release = new CompletableFuture<>();
            CountDownLatch inInit = new CountDownLatch(1);
            Subsystem slow = new Subsystem() {
                @Override
                public String name() {
                    return "slow";
                }

                @Override
                public CompletableFuture<Void> init(SubsystemContext ctx) {
                    log.add("init slow");
                    inInit.countDown();
                    return release;
                }

                @Override
                public CompletableFuture<Void> fini(SubsystemContext ctx) {
                    log.add("fini slow");
                    return CompletableFuture.completedFuture(null);
                }
            };
            TestProbe<SpindleApp.StartResult> started = testKit.createTestProbe();
            ActorRef<SpindleApp.Command> app = testKit.spawn(Spindle.create(SpindleConfig.builder().name("embedded-slow")
                    .reactor(twoReactors()).subsystem(slow).subsystem(new Recording("after", List.of("slow"), log, false))
                    .conclude(), started.getRef()));
            assertThat(inInit.await(10, TimeUnit.SECONDS)).isTrue();
            TestProbe<SpindleApp.Stopped> stopProbe = testKit.createTestProbe();
            app.tell(new SpindleApp.Stop(stopProbe.getRef()));
            stopProbe.expectNoMessage(Duration.ofMillis(100));
            release.complete(null);
            SpindleApp.Stopped st = stopProbe.expectMessageClass(SpindleApp.Stopped.class, Duration.ofSeconds(20));
            assertThat(st.clean()).isTrue();
            assertThat(log).containsExactly("init slow", "fini slow");
            started.expectNoMessage(Duration.ofMillis(50)); // never reported Started
            stopProbe.expectTerminated(app, Duration.ofSeconds(5));
        }
    }

    @Nested
    class Embedded {
        @Test
        void spawnsInTheUsersSystemAndPlacesUserActorsOnReactors() {
            TestProbe<SpindleApp.StartResult> started = testKit.createTestProbe();
            ActorRef<SpindleApp.Command> app = testKit.spawn(Spindle.create(
                    SpindleConfig.builder().name("embedded-1").reactor(twoReactors()).conclude(), started.getRef()), "spindle-embedded-1");
            Spindle s = started.expectMessageClass(SpindleApp.Started.class, Duration.ofSeconds(20)).spindle();
            assertThat(s.isStandalone()).isFalse();
            assertThat(s.app()).isEqualTo(app);

            TestProbe<String> where = testKit.createTestProbe();
            ActorRef<String> onReactor1 = testKit.spawn(Behaviors.receive(String.class).onAnyMessage(m -> {
                where.getRef().tell(Thread.currentThread().getName() + "/" + Reactor.current().name());
                return Behaviors.same();
            }).build(), "user-on-reactor-1", s.reactors().reactor(1).dispatcher());
            onReactor1.tell("hi");
            onReactor1.tell("again");
            assertThat(where.receiveSeveralMessages(2, Duration.ofSeconds(5))).containsOnly("reactor_1/reactor_1");
            testKit.stop(onReactor1);

            SpindleApp.Stopped st = s.stop().toCompletableFuture().join();
            assertThat(st.clean()).isTrue();
            assertThat(testKit.system().whenTerminated().isCompleted()).isFalse(); // the user's system lives on
            assertThat(LeakCheckExtension.reactorThreads()).isEmpty();
        }

        @Test
        void coordinatedShutdownOfTheUsersSystemStopsSpindle() throws Exception {
            ActorTestKit own = ActorTestKit.create("cs-test");
            try {
                TestProbe<SpindleApp.StartResult> started = own.createTestProbe();
                own.spawn(Spindle.create(SpindleConfig.builder().name("embedded-cs").reactor(twoReactors()).conclude(), started.getRef()));
                Spindle s = started.expectMessageClass(SpindleApp.Started.class, Duration.ofSeconds(20)).spindle();
                org.apache.pekko.actor.CoordinatedShutdown.get(own.system())
                        .runAll(org.apache.pekko.actor.CoordinatedShutdown.unknownReason());
                SpindleApp.Stopped st = s.whenStopped().toCompletableFuture().get(30, TimeUnit.SECONDS);
                assertThat(st.clean()).isTrue();
            } finally {
                own.shutdownTestKit();
            }
            assertThat(LeakCheckExtension.reactorThreads()).isEmpty();
        }
    }

    @Test
    @DisplayName("SIGTERM to a standalone Spindle runs the stop through CoordinatedShutdown")
    void sigtermStopsAStandaloneProcess() throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("-D")) {
                cmd.add(a);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(StandaloneMain.class.getName());
        java.nio.file.Path log = java.nio.file.Files.createTempFile("spindle-sigterm", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!java.nio.file.Files.readString(log).contains("STARTED") && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(java.nio.file.Files.readString(log)).contains("STARTED reactors=2");
            ProcessHandle.of(p.pid()).orElseThrow().destroy(); // SIGTERM
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            String out = java.nio.file.Files.readString(log);
            assertThat(out).as("child output, exit %s", p.exitValue()).contains("stopping").contains("STOPPED clean=true");
        } finally {
            p.destroyForcibly();
            java.nio.file.Files.deleteIfExists(log);
        }
    }

    // ------------------------------------------------------------------ seed bugs, app-level stop

    /** A walk context holding off-heap memory; records every thread that touches it. */
    static final class BytesContext implements AutoCloseable {
        final Bytes<?> bytes = Bytes.allocateElasticDirect(64);
        final List<String> touchedBy = new CopyOnWriteArrayList<>();
        final AtomicInteger releases = new AtomicInteger();
        final AtomicInteger completions = new AtomicInteger();

        BytesContext() {
            touch();
        }

        void touch() {
            touchedBy.add(Thread.currentThread().getName());
            bytes.writeSkip(8); // single-thread checked: throws if another live thread owns it
        }

        @Override
        public void close() {
            touch();
            releases.incrementAndGet();
            bytes.releaseLast();
        }
    }

    sealed interface OriginatorCmd permits StartWalks, Hop {
    }

    record StartWalks(int count) implements OriginatorCmd {
    }

    record Hop(FanOuts.Hop hop) implements OriginatorCmd {
    }

    static Behavior<OriginatorCmd> originator(io.spindle.runtime.ReactorGroup group, List<BytesContext> contexts, List<String> hopThreads,
                                              CountDownLatch started) {
        return Behaviors.setup(ctx -> {
            FanOuts fanOuts = FanOuts.forActor(group, ctx.messageAdapter(FanOuts.Hop.class, Hop::new));
            return Behaviors.receive(OriginatorCmd.class)
                    .onMessage(StartWalks.class, m -> {
                        for (int i = 0; i < m.count(); i++) {
                            BytesContext c = new BytesContext();
                            contexts.add(c);
                            fanOuts.forEachReactor(c, new FanOuts.ReactorVisitor<BytesContext, String>() {
                                @Override
                                public String visit(Reactor reactor) {
                                    hopThreads.add(Thread.currentThread().getName());
                                    return reactor.name();
                                }

                                @Override
                                public void fold(BytesContext x, Reactor reactor, String result) {
                                    x.touch();
                                }

                                @Override
                                public void complete(BytesContext x, int status) {
                                    x.touch();
                                    x.completions.incrementAndGet();
                                }
                            });
                        }
                        started.countDown();
                        return Behaviors.same();
                    })
                    .onMessage(Hop.class, m -> {
                        m.hop().run();
                        return Behaviors.same();
                    })
                    .onSignal(PostStop.class, s -> {
                        fanOuts.close();
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    @Test
    @DisplayName("#3630 + #1766/#2206: app stop mid-walk releases every context once, on the originator's thread")
    void appStopWhileManyWalksAreInFlight() throws Exception {
        TestProbe<SpindleApp.StartResult> started = testKit.createTestProbe();
        testKit.spawn(Spindle.create(SpindleConfig.builder().name("embedded-walks")
                .reactor(ReactorConfig.builder().mask(CoreMask.firstN(4)).oversubscribe(true).exitTimeout(Duration.ofSeconds(2)).conclude())
                .conclude(), started.getRef()));
        Spindle s = started.expectMessageClass(SpindleApp.Started.class, Duration.ofSeconds(20)).spindle();
        List<BytesContext> contexts = new CopyOnWriteArrayList<>();
        List<String> hopThreads = new CopyOnWriteArrayList<>();
        CountDownLatch walksStarted = new CountDownLatch(1);
        ActorRef<OriginatorCmd> orig = testKit.spawn(originator(s.reactors(), contexts, hopThreads, walksStarted), "originator",
                DispatcherSelector.fromConfig("originator-dispatcher"));
        orig.tell(new StartWalks(300));
        assertThat(walksStarted.await(10, TimeUnit.SECONDS)).isTrue();
        SpindleApp.Stopped st = s.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertThat(st).isNotNull();
        // every walk ends: finished, or ESHUTDOWN once the reactors are gone; then stop the originator
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> contexts.stream().allMatch(c -> c.releases.get() == 1));
        testKit.stop(orig);

        assertThat(contexts).hasSize(300);
        String originatorThread = contexts.get(0).touchedBy.get(0);
        assertThat(originatorThread).doesNotStartWith("reactor_");
        for (BytesContext c : contexts) {
            assertThat(c.releases.get()).as("releases").isEqualTo(1);
            assertThat(c.completions.get()).as("completions").isLessThanOrEqualTo(1);
            assertThat(c.bytes.refCount()).isZero();
            assertThat(c.touchedBy).containsOnly(originatorThread);
        }
        assertThat(hopThreads).allSatisfy(t -> assertThat(t).startsWith("reactor_"));
        ConcurrentHashMap<String, Boolean> seen = new ConcurrentHashMap<>();
        hopThreads.forEach(t -> seen.put(t, true));
        assertThat(seen.keySet()).isSubsetOf("reactor_0", "reactor_1", "reactor_2", "reactor_3");
        assertThat(Errno.ESHUTDOWN).isNegative();
    }

    @Test
    void pollerCountsFeedReactorStats() {
        Spindle s = Spindle.start(SpindleConfig.builder().name("standalone-stats").reactor(twoReactors()).conclude());
        try {
            CompletableFuture<Poller> p = new CompletableFuture<>();
            Reactor r0 = s.reactors().reactor(0);
            AtomicInteger runs = new AtomicInteger();
            r0.send(() -> p.complete(r0.registerPoller("counter", () -> {
                runs.incrementAndGet();
                return 1;
            })));
            Poller poller = p.join();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() > 100);
            List<ReactorStats> stats = s.reactorStats().toCompletableFuture().join();
            assertThat(stats.get(0).activePollers()).isEqualTo(1);
            assertThat(stats.get(0).pollerRuns()).isGreaterThan(100);
            assertThat(stats.get(0).busyNanos()).isPositive();
            CompletableFuture<Void> gone = new CompletableFuture<>();
            r0.send(() -> {
                poller.unregister();
                gone.complete(null);
            });
            gone.join();
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
        }
    }
}
