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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

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
            try {
                assertThat(LeakCheckExtension.reactorThreads()).containsExactlyInAnyOrder("reactor_0", "reactor_1");
                List<ReactorStats> stats = s.reactorStats().toCompletableFuture().join();
                assertThat(stats).extracting(ReactorStats::name).containsExactly("reactor_0", "reactor_1");
                // each thread loops once it is scheduled: on a busy machine a reactor may not have run yet right after start
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
                        .until(() -> s.reactorStats().toCompletableFuture().join().stream().allMatch(st -> st.loops() > 0));
            } catch (AssertionError | RuntimeException e) {
                s.stop().toCompletableFuture().join(); // do not leave the reactors to the tests that follow
                throw e;
            }
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
    @DisplayName("the stop path")
    class StopPath {
        @Test
        @DisplayName("the RPC server is stopped, and its socket removed, before the first subsystem's fini")
        void rpcServerStopsBeforeTheFirstFini() throws Exception {
            java.nio.file.Path dir = java.nio.file.Files.createTempDirectory(java.nio.file.Path.of("/tmp"), "spapp");
            java.nio.file.Path socket = dir.resolve("s.sock");
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            Subsystem probe = new Subsystem() {
                @Override
                public String name() {
                    return "probe";
                }

                @Override
                public CompletableFuture<Void> init(SubsystemContext ctx) {
                    log.add("init socket exists=" + java.nio.file.Files.exists(socket));
                    return CompletableFuture.completedFuture(null);
                }

                @Override
                public CompletableFuture<Void> fini(SubsystemContext ctx) {
                    log.add("fini socket exists=" + java.nio.file.Files.exists(socket));
                    return CompletableFuture.completedFuture(null);
                }
            };
            try {
                Spindle s = Spindle.start(SpindleConfig.builder().name("stop-rpc").reactor(twoReactors()).subsystem(probe)
                        .rpc(io.spindle.rpc.RpcServerConfig.builder().socket(socket).conclude()).conclude());
                SpindleApp.Stopped st = s.stopAndWait();
                assertThat(st.clean()).isTrue();
                assertThat(log).containsExactly("init socket exists=true", "fini socket exists=false");
                assertThat(socket).doesNotExist();
            } finally {
                try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.walk(dir)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }

        @Test
        @DisplayName("two Stop messages (not deduplicated by the handle) are both answered with the same Stopped")
        void twoStopMessagesAreBothAnswered() {
            TestProbe<SpindleApp.StartResult> started = testKit.createTestProbe();
            ActorRef<SpindleApp.Command> app = testKit.spawn(Spindle.create(
                    SpindleConfig.builder().name("stop-twice").reactor(twoReactors()).conclude(), started.getRef()));
            started.expectMessageClass(SpindleApp.Started.class, Duration.ofSeconds(20));
            TestProbe<SpindleApp.Stopped> first = testKit.createTestProbe();
            TestProbe<SpindleApp.Stopped> second = testKit.createTestProbe();
            app.tell(new SpindleApp.Stop(first.getRef()));
            app.tell(new SpindleApp.Stop(second.getRef()));
            SpindleApp.Stopped a = first.expectMessageClass(SpindleApp.Stopped.class, Duration.ofSeconds(20));
            SpindleApp.Stopped b = second.expectMessageClass(SpindleApp.Stopped.class, Duration.ofSeconds(20));
            assertThat(a.clean()).isTrue();
            assertThat(b).isSameAs(a);
            first.expectTerminated(app, Duration.ofSeconds(5));
        }

        @Test
        @DisplayName("a stop while waiting for framework_start_init stops at once: no subsystem initialised, none finished")
        void stopWhileWaitingForStartInit() {
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            TestProbe<SpindleApp.StartResult> started = testKit.createTestProbe();
            ActorRef<SpindleApp.Command> app = testKit.spawn(Spindle.create(SpindleConfig.builder().name("stop-waiting")
                    .reactor(twoReactors()).subsystem(new Recording("bdev", List.of(), log, false)).waitForStartInit(true).conclude(),
                    started.getRef()));
            Spindle s = started.expectMessageClass(SpindleApp.Started.class, Duration.ofSeconds(20)).spindle();
            TestProbe<SpindleApp.Stopped> stop = testKit.createTestProbe();
            app.tell(new SpindleApp.Stop(stop.getRef()));
            assertThat(stop.expectMessageClass(SpindleApp.Stopped.class, Duration.ofSeconds(20)).clean()).isTrue();
            assertThat(log).isEmpty();
            assertThat(s.whenStopped().toCompletableFuture().join().clean()).isTrue();
        }

        @Test
        @DisplayName("the app actor stopped from outside (no Stop): its reactors still stop and whenStopped reports an unclean stop")
        void appActorStoppedFromOutside() throws Exception {
            TestProbe<SpindleApp.StartResult> started = testKit.createTestProbe();
            ActorRef<SpindleApp.Command> app = testKit.spawn(Spindle.create(
                    SpindleConfig.builder().name("stopped-outside").reactor(twoReactors()).conclude(), started.getRef()));
            Spindle s = started.expectMessageClass(SpindleApp.Started.class, Duration.ofSeconds(20)).spindle();
            testKit.stop(app, Duration.ofSeconds(20));
            SpindleApp.Stopped st = s.whenStopped().toCompletableFuture().get(20, TimeUnit.SECONDS);
            assertThat(st.clean()).isFalse();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> LeakCheckExtension.reactorThreads().isEmpty());
        }

        @Test
        @DisplayName("the app actor stopped from outside on manual reactors: they are asked to exit, and exit when the test steps them")
        void appActorStoppedFromOutsideOnManualReactors() throws Exception {
            TestProbe<SpindleApp.StartResult> started = testKit.createTestProbe();
            ActorRef<SpindleApp.Command> app = testKit.spawn(Spindle.create(SpindleConfig.builder().name("stopped-outside-manual")
                    .reactor(ReactorConfig.builder().mask(CoreMask.firstN(2)).manual(true).conclude()).conclude(), started.getRef()));
            Spindle s = started.expectMessageClass(SpindleApp.Started.class, Duration.ofSeconds(20)).spindle();
            io.spindle.runtime.ReactorGroup g = s.reactors();
            CompletableFuture<Void> stopped = CompletableFuture.runAsync(() -> testKit.stop(app, Duration.ofSeconds(20)));
            g.pollUntil(stopped::isDone, Duration.ofSeconds(20)); // its reactor actors stop on the manual reactors
            stopped.join();
            g.pollUntilIdle();
            assertThat(g.reactors()).allSatisfy(r -> assertThat(r.state()).isEqualTo(Reactor.State.EXITED));
            assertThat(s.whenStopped().toCompletableFuture().get(20, TimeUnit.SECONDS).clean()).isFalse();
            g.close(); // a manual group is the test's to close (the app closes only threaded ones)
        }

        @Test
        @DisplayName("the app actor stopped from outside during the start: the listener gets StartFailed, the reactors stop")
        void appActorStoppedDuringTheStart() throws Exception {
            CompletableFuture<Void> release = new CompletableFuture<>();
            CountDownLatch inInit = new CountDownLatch(1);
            Subsystem slow = new Subsystem() {
                @Override
                public String name() {
                    return "slow";
                }

                @Override
                public CompletableFuture<Void> init(SubsystemContext ctx) {
                    inInit.countDown();
                    return release;
                }

                @Override
                public CompletableFuture<Void> fini(SubsystemContext ctx) {
                    return CompletableFuture.completedFuture(null);
                }
            };
            TestProbe<SpindleApp.StartResult> started = testKit.createTestProbe();
            ActorRef<SpindleApp.Command> app = testKit.spawn(Spindle.create(SpindleConfig.builder().name("stopped-in-start")
                    .reactor(twoReactors()).subsystem(slow).conclude(), started.getRef()));
            try {
                assertThat(inInit.await(20, TimeUnit.SECONDS)).isTrue();
                testKit.stop(app, Duration.ofSeconds(20));
                SpindleApp.StartResult r = started.expectMessageClass(SpindleApp.StartResult.class, Duration.ofSeconds(20));
                assertThat(r).isInstanceOfSatisfying(SpindleApp.StartFailed.class,
                        f -> assertThat(f.reason()).isEqualTo("app actor stopped during start"));
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> LeakCheckExtension.reactorThreads().isEmpty());
            } finally {
                release.complete(null);
            }
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
                Thread.sleep(20); // paces a poll of the child process's log; the condition decides, not the time
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

    /**
     * A walk context holding off-heap memory. Created on the originator's thread, which becomes the Bytes' owner
     * for Chronicle's single-thread check; every later touch is such a check (it throws on any other live
     * thread) and is recorded with its thread.
     */
    static final class TracedContext implements AutoCloseable {
        final Bytes<?> bytes = Bytes.allocateElasticDirect(64);
        final Thread createdBy = Thread.currentThread();
        final List<Thread> touchedBy = new CopyOnWriteArrayList<>();
        final List<Thread> releasedBy = new CopyOnWriteArrayList<>();
        final List<Integer> statuses = new CopyOnWriteArrayList<>();
        final AtomicInteger folds = new AtomicInteger();

        TracedContext() {
            touch();
        }

        /** A no-op write covered by Chronicle's single-thread check (see SeedBugRegressionTest). */
        void touch() {
            touchedBy.add(Thread.currentThread());
            bytes.writeSkip(0);
        }

        @Override
        public void close() {
            releasedBy.add(Thread.currentThread());
            touch();
            bytes.releaseLast();
        }
    }

    sealed interface OriginatorCmd permits StartWalks, Block {
    }

    /**
     * Starts {@code ahead} walks, queues a {@link Block} to itself, then starts {@code behind} walks. The
     * originator's mailbox is then: the first hop of each "ahead" walk, the Block, the first hop of each "behind"
     * walk; the replies of the ahead walks' first hops can only queue up behind the Block.
     */
    record StartWalks(int ahead, int behind, List<TracedContext> aheadOut, List<TracedContext> behindOut,
                      List<String> visits, Block block) implements OriginatorCmd {
    }

    /** Blocks the originator's only thread until {@code release} opens. */
    record Block(CountDownLatch blocked, CountDownLatch release) implements OriginatorCmd {
    }

    static Behavior<OriginatorCmd> originator(io.spindle.runtime.ReactorGroup group, AtomicReference<Thread> thread) {
        return FanOuts.originator(group, (ctx, fanOuts) -> {
            thread.set(Thread.currentThread());
            return Behaviors.receive(OriginatorCmd.class)
                    .onMessage(StartWalks.class, m -> {
                        for (int i = 0; i < m.ahead(); i++) {
                            m.aheadOut().add(startWalk(fanOuts, m.visits()));
                        }
                        ctx.getSelf().tell(m.block());
                        for (int i = 0; i < m.behind(); i++) {
                            m.behindOut().add(startWalk(fanOuts, m.visits()));
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Block.class, m -> {
                        m.blocked().countDown();
                        if (!m.release().await(30, TimeUnit.SECONDS)) {
                            throw new IllegalStateException("originator never released");
                        }
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    static TracedContext startWalk(FanOuts fanOuts, List<String> visits) {
        TracedContext c = new TracedContext();
        fanOuts.forEachReactor(c, new FanOuts.ReactorVisitor<TracedContext, String>() {
            @Override
            public String visit(Reactor reactor) {
                visits.add(reactor.name() + " on " + Thread.currentThread().getName());
                return reactor.name();
            }

            @Override
            public void fold(TracedContext x, Reactor reactor, String result) {
                x.folds.incrementAndGet();
                x.touch();
            }

            @Override
            public void complete(TracedContext x, int status) {
                x.statuses.add(status);
                x.touch();
            }
        });
        return c;
    }

    /**
     * The app stops while walks of another originator are provably in flight. The originator starts 20 walks
     * whose first hop runs on reactor 0 and whose replies then wait in its mailbox, and 20 more whose first hop
     * it has not even sent, because its only thread is blocked (a {@link Block}) for the whole stop. Once the app
     * has stopped and the reactors have exited, the originator is released: each walk ends then, on the
     * originator, by the rule for a walk cut short (FanOuts Javadoc): a walk whose next hop cannot be sent
     * because its reactor has exited completes once with {@code ESHUTDOWN}; with one reactor the "ahead" walks
     * had no hop left and complete {@code OK}. Each context is released exactly once, on the originator's
     * thread, and no Bytes is left unreleased.
     */
    @ParameterizedTest(name = "{0} reactor(s)")
    @ValueSource(ints = {1, 2, 4})
    @DisplayName("#3630 + #1766/#2206: app stop while walks are provably mid-walk: one completion (ESHUTDOWN when cut short), one release, on the originator's thread")
    void appStopWhileWalksAreInFlight(int n) throws Exception {
        int ahead = 20;
        int behind = 20;
        TestProbe<SpindleApp.StartResult> started = testKit.createTestProbe();
        testKit.spawn(Spindle.create(SpindleConfig.builder().name("embedded-walks-" + n)
                .reactor(ReactorConfig.builder().mask(CoreMask.firstN(n)).oversubscribe(true).exitTimeout(Duration.ofSeconds(2)).conclude())
                .conclude(), started.getRef()));
        Spindle s = started.expectMessageClass(SpindleApp.Started.class, Duration.ofSeconds(20)).spindle();
        AtomicReference<Thread> origThread = new AtomicReference<>();
        ActorRef<OriginatorCmd> orig = testKit.spawn(originator(s.reactors(), origThread), "originator-" + n,
                DispatcherSelector.fromConfig("originator-dispatcher"));
        CountDownLatch release = new CountDownLatch(1);
        try {
            List<TracedContext> aheadWalks = new CopyOnWriteArrayList<>();
            List<TracedContext> behindWalks = new CopyOnWriteArrayList<>();
            List<String> visits = new CopyOnWriteArrayList<>();
            Block block = new Block(new CountDownLatch(1), release);
            orig.tell(new StartWalks(ahead, behind, aheadWalks, behindWalks, visits, block));
            assertThat(block.blocked().await(20, TimeUnit.SECONDS)).isTrue();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> visits.size() == ahead);
            List<TracedContext> all = new ArrayList<>(aheadWalks);
            all.addAll(behindWalks);
            assertThat(all).hasSize(ahead + behind);
            assertThat(all).as("in flight when the stop is requested")
                    .allSatisfy(c -> assertThat(c.statuses).isEmpty())
                    .allSatisfy(c -> assertThat(c.releasedBy).isEmpty());

            SpindleApp.Stopped stopped = s.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertThat(stopped.clean()).as("the app's own stop is unaffected: %s", stopped.leaks()).isTrue();
            assertThat(s.reactors().reactors()).allSatisfy(r -> assertThat(r.state()).isEqualTo(Reactor.State.EXITED));
            assertThat(all).as("still in flight after the app stopped").allSatisfy(c -> {
                assertThat(c.statuses).isEmpty();
                assertThat(c.releasedBy).isEmpty();
            });

            release.countDown();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> all.stream().allMatch(c -> !c.releasedBy.isEmpty()));
            assertThat(all).as("each walk ended and released once before the originator stops")
                    .allSatisfy(c -> assertThat(c.releasedBy).hasSize(1));
            testKit.stop(orig, Duration.ofSeconds(10)); // its PostStop closes its FanOuts: nothing may be released twice
            // checked again below, after the stop: still one release each

            Thread originator = origThread.get();
            assertThat(originator.getName()).doesNotStartWith("reactor_").contains("originator-dispatcher");
            for (TracedContext c : all) {
                assertThat(c.createdBy).isSameAs(originator);
                assertThat(c.touchedBy).allSatisfy(t -> assertThat(t).isSameAs(originator));
                assertThat(c.releasedBy).as("released exactly once, on the originator").containsExactly(originator);
                assertThat(c.bytes.refCount()).as("Bytes released").isZero();
            }
            int aheadStatus = n == 1 ? Errno.OK : Errno.ESHUTDOWN;
            assertThat(aheadWalks).allSatisfy(c -> {
                assertThat(c.statuses).as("first hop ran before the stop").containsExactly(aheadStatus);
                assertThat(c.folds).as("reactor 0's reply folded").hasValue(1);
            });
            assertThat(behindWalks).allSatisfy(c -> {
                assertThat(c.statuses).as("no hop could be sent").containsExactly(Errno.ESHUTDOWN);
                assertThat(c.folds).hasValue(0);
            });
            assertThat(visits).as("only the ahead walks' first hops ran, each on its reactor's thread")
                    .hasSize(ahead).containsOnly("reactor_0 on reactor_0");
        } finally {
            release.countDown();
            if (!s.whenStopped().toCompletableFuture().isDone()) {
                s.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
        }
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
