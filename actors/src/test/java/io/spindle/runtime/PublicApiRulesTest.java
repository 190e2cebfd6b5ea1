package io.spindle.runtime;

import net.openhft.chronicle.bytes.Bytes;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The two seed bugs written by a user of the public API, and what Spindle does about each: the nested-channel rule
 * that makes SPDK #3252 unwritable for any io_device, and the fan-out originator that cannot forget to release its
 * contexts (SPDK #1766/#2206) nor hand them to a reactor (#3630).
 */
@Timeout(60)
class PublicApiRulesTest {
    static final ActorTestKit kit = ActorTestKit.create("public-api-rules-test");
    static final Duration T = Duration.ofSeconds(10);

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** A channel factory that logs create/destroy and, when given one, gets and puts a channel of {@code inner}. */
    static final class Layered implements ChannelFactory<IoChannel<?>> {
        final String name;
        final List<String> log;
        volatile IoDevice<?> inner;
        volatile boolean skipPut;

        Layered(String name, List<String> log) {
            this.name = name;
            this.log = log;
        }

        @Override
        public IoChannel<?> create(IoDevice<IoChannel<?>> device, Reactor reactor) {
            log.add(name + " create " + reactor.name());
            return inner == null ? null : inner.getChannelOrThrow();
        }

        @Override
        public void destroy(IoDevice<IoChannel<?>> device, Reactor reactor, IoChannel<?> nested) {
            log.add(name + " destroy " + reactor.name());
            if (nested != null && !skipPut) {
                nested.put();
            }
        }
    }

    static IoDevice<IoChannel<?>> device(ReactorGroup g, String name, Layered f) {
        return ThreadLibraryTest.device(kit, g, name, f); // this class's own kit: ThreadLibraryTest's may already be shut down
    }

    static CompletableFuture<Integer> unregister(IoDevice<?> d, List<String> log) {
        CompletableFuture<Integer> f = new CompletableFuture<>();
        ActorRef<IoDeviceActor.Unregistered> r = kit.spawn(Behaviors.receive(IoDeviceActor.Unregistered.class).onAnyMessage(u -> {
            log.add(u.device() + " unregistered");
            f.complete(u.status());
            return Behaviors.stopped();
        }).build());
        d.unregister(r);
        return f;
    }

    @Nested
    @DisplayName("nested channels")
    class NestedChannels {
        @Test
        @DisplayName("an outer device's unregister is answered only after the nested channel its destroy put was destroyed (3 levels)")
        void outerUnregisterWaitsForNestedDestroys() {
            ReactorGroup g = ReactorGroup.manual(2);
            try {
                List<String> log = new CopyOnWriteArrayList<>();
                Layered fc = new Layered("C", log);
                Layered fb = new Layered("B", log);
                Layered fa = new Layered("A", log);
                IoDevice<IoChannel<?>> c = device(g, "C", fc);
                IoDevice<IoChannel<?>> b = device(g, "B", fb);
                IoDevice<IoChannel<?>> a = device(g, "A", fa);
                fb.inner = c;
                fa.inner = b;
                IoChannel<IoChannel<?>> ch = ThreadLibraryTest.on(g, 1, a::getChannel);
                assertThat(log).containsExactly("A create reactor_1", "B create reactor_1", "C create reactor_1");
                CompletableFuture<Integer> un = unregister(a, log);
                ThreadLibraryTest.on(g, 1, () -> {
                    ch.put();
                    return null;
                });
                g.pollUntil(un::isDone, T);
                assertThat(un.join()).isZero();
                // A's unregister answered only after B's and C's destroys ran (each deferred by its own message)
                assertThat(log).containsSubsequence("A destroy reactor_1", "B destroy reactor_1", "C destroy reactor_1", "A unregistered");
                assertThat(b.liveChannels()).isZero();
                assertThat(c.liveChannels()).isZero();
                unregisterAll(g, log, b, c);
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("a nested channel given back while its outer channel lives (raid dropping a removed base) is no longer owed by the outer destroy: no leak report")
        void nestedChannelPutAtRuntimeIsNotOwedByTheDestroy() {
            ReactorGroup g = ReactorGroup.manual(1);
            ch.qos.logback.classic.Logger deviceLog = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(IoDevice.class);
            ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged = new ch.qos.logback.core.read.ListAppender<>();
            logged.start();
            deviceLog.addAppender(logged);
            try {
                List<String> log = new CopyOnWriteArrayList<>();
                Layered fc = new Layered("C", log);
                Layered fb = new Layered("B", log);
                Layered fa = new Layered("A", log);
                IoDevice<IoChannel<?>> c = device(g, "C", fc);
                IoDevice<IoChannel<?>> b = device(g, "B", fb);
                IoDevice<IoChannel<?>> a = device(g, "A", fa);
                fa.inner = b; // A's create gets B's channel, which it drops at runtime
                fb.inner = c; // B's create gets C's channel, which its destroy forgets: still reported
                fb.skipPut = true;
                IoChannel<IoChannel<?>> ch = ThreadLibraryTest.on(g, 0, a::getChannel);
                ThreadLibraryTest.on(g, 0, () -> {
                    ch.context().put(); // A gives B's channel back while A's channel lives
                    return null;
                });
                g.pollUntil(() -> log.contains("B destroy reactor_0"), T);
                CompletableFuture<Integer> un = unregister(a, log);
                ThreadLibraryTest.on(g, 0, () -> {
                    ch.put();
                    return null;
                });
                g.pollUntil(un::isDone, T);
                assertThat(un.join()).isZero();
                List<String> reports = logged.list.stream().map(e -> e.getFormattedMessage()).filter(m -> m.contains("did not put")).toList();
                assertThat(reports).as("only B's forgotten put of C is reported").hasSize(1);
                assertThat(reports.get(0)).contains("io_device=B").contains("IoChannel[C@reactor_0]");
                IoChannel<?> leaked = ThreadLibraryTest.on(g, 0, () -> c.getChannelOrThrow());
                ThreadLibraryTest.on(g, 0, () -> {
                    leaked.put(); // the forgotten reference and this one
                    leaked.put();
                    return null;
                });
                unregisterAll(g, log, b, c);
            } finally {
                deviceLog.detachAppender(logged);
                g.close();
            }
        }

        @Test
        @DisplayName("a nested channel another holder keeps does not hold the outer device: the put is processed at once")
        void sharedNestedChannelDoesNotBlock() {
            ReactorGroup g = ReactorGroup.manual(1);
            try {
                List<String> log = new CopyOnWriteArrayList<>();
                Layered fb = new Layered("B", log);
                Layered fa = new Layered("A", log);
                IoDevice<IoChannel<?>> b = device(g, "B", fb);
                IoDevice<IoChannel<?>> a = device(g, "A", fa);
                fa.inner = b;
                IoChannel<IoChannel<?>> other = ThreadLibraryTest.on(g, 0, b::getChannel); // another holder of B's channel
                IoChannel<IoChannel<?>> ch = ThreadLibraryTest.on(g, 0, a::getChannel);
                CompletableFuture<Integer> un = unregister(a, log);
                ThreadLibraryTest.on(g, 0, () -> {
                    ch.put();
                    return null;
                });
                g.pollUntil(un::isDone, T);
                assertThat(un.join()).isZero();
                assertThat(log).doesNotContain("B destroy reactor_0");
                assertThat(ThreadLibraryTest.on(g, 0, other::refs)).isEqualTo(1);
                ThreadLibraryTest.on(g, 0, () -> {
                    other.put();
                    return null;
                });
                unregisterAll(g, log, b);
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("a nested channel revived by a get before its deferred destroy ran releases the outer channel")
        void revivedNestedChannelReleasesTheOuter() {
            ReactorGroup g = ReactorGroup.manual(1);
            try {
                List<String> log = new CopyOnWriteArrayList<>();
                Layered fb = new Layered("B", log);
                Layered fa = new Layered("A", log);
                IoDevice<IoChannel<?>> b = device(g, "B", fb);
                IoDevice<IoChannel<?>> a = device(g, "A", fa);
                fa.inner = b;
                IoChannel<IoChannel<?>> ch = ThreadLibraryTest.on(g, 0, a::getChannel);
                CompletableFuture<Integer> un = unregister(a, log);
                AtomicReference<IoChannel<IoChannel<?>>> revived = new AtomicReference<>();
                // A's last put and, in the same task, after A's destroy queued B's deferred destroy: a get of B revives it
                g.reactor(0).send(() -> {
                    ch.put();
                    g.reactor(0).send(() -> revived.set(b.getChannel()));
                });
                g.pollUntil(un::isDone, T);
                assertThat(un.join()).isZero();
                assertThat(revived.get()).isNotNull();
                assertThat(log).doesNotContain("B destroy reactor_0");
                ThreadLibraryTest.on(g, 0, () -> {
                    revived.get().put();
                    return null;
                });
                unregisterAll(g, log, b);
                assertThat(log).contains("B destroy reactor_0");
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("a destroy that does not put what its create got is not waited for (it would hang): the channel stays in the leak report")
        void destroyThatKeepsItsNestedChannelIsNotWaitedFor() {
            ReactorGroup g = ReactorGroup.manual(1);
            try {
                List<String> log = new CopyOnWriteArrayList<>();
                Layered fb = new Layered("B", log);
                Layered fa = new Layered("A", log);
                fa.skipPut = true;
                IoDevice<IoChannel<?>> b = device(g, "B", fb);
                IoDevice<IoChannel<?>> a = device(g, "A", fa);
                fa.inner = b;
                IoChannel<IoChannel<?>> ch = ThreadLibraryTest.on(g, 0, a::getChannel);
                IoChannel<?> nested = ThreadLibraryTest.on(g, 0, ch::context);
                CompletableFuture<Integer> un = unregister(a, log);
                ThreadLibraryTest.on(g, 0, () -> {
                    ch.put();
                    return null;
                });
                g.pollUntil(un::isDone, T);
                assertThat(un.join()).isZero();
                assertThat(ThreadLibraryTest.on(g, 0, () -> g.reactor(0).leakReport())).contains("io_channel B refs=1");
                ThreadLibraryTest.on(g, 0, () -> {
                    nested.put();
                    return null;
                });
                unregisterAll(g, log, b);
            } finally {
                g.close();
            }
        }

        /** An io_device whose owner actor, and so its device actor, runs on reactor {@code i} of the manual group. */
        private IoDevice<IoChannel<?>> deviceOn(ReactorGroup g, int i, String name, Layered f, List<ActorRef<Object>> owners) {
            CompletableFuture<IoDevice<IoChannel<?>>> d = new CompletableFuture<>();
            owners.add(kit.spawn(Behaviors.<Object>setup(ctx -> {
                d.complete(IoDevice.register(ctx, g, name, f));
                return Behaviors.receiveMessage(m -> Behaviors.stopped());
            }), g.reactor(i).dispatcher()));
            g.pollUntil(d::isDone, T);
            return d.join();
        }

        @Test
        @DisplayName("the outer device's unregister stays unanswered while the nested put of its channel's destroy is still queued, however "
                + "far the device actor's reactor runs ahead (stepped one task at a time)")
        void outerUnregisterWaitsForTheQueuedNestedDestroy() {
            ReactorGroup g = ReactorGroup.manual(ReactorConfig.builder().mask(CoreMask.firstN(2)).manual(true).maxTasksPerLoop(1).conclude());
            List<ActorRef<Object>> owners = new ArrayList<>();
            try {
                g.registerDispatchers(kit.system());
                List<String> log = new CopyOnWriteArrayList<>();
                Layered fb = new Layered("B", log);
                Layered fa = new Layered("A", log);
                IoDevice<IoChannel<?>> b = deviceOn(g, 0, "B", fb, owners);
                IoDevice<IoChannel<?>> a = deviceOn(g, 0, "A", fa, owners);
                fa.inner = b;
                IoChannel<IoChannel<?>> ch = ThreadLibraryTest.on(g, 1, a::getChannel);
                CompletableFuture<Integer> un = new CompletableFuture<>();
                ActorRef<IoDeviceActor.Unregistered> replier = kit.spawn(Behaviors.receive(IoDeviceActor.Unregistered.class).onAnyMessage(u -> {
                    log.add(u.device() + " unregistered");
                    un.complete(u.status());
                    return Behaviors.stopped();
                }).build(), g.reactor(0).dispatcher());
                a.unregister(replier);
                g.pollUntilIdle(0);
                assertThat(a.isUnregistered()).isTrue();
                g.reactor(1).send(ch::put);
                g.pollOnce(1); // the put: A's destroy is queued on reactor 1
                g.pollOnce(1); // A's destroy: it puts B's channel, whose destroy is queued behind it
                assertThat(log).containsExactly("A create reactor_1", "B create reactor_1", "A destroy reactor_1");
                g.pollUntilIdle(0); // the device actors' reactor runs as far as it can
                assertThat(un).as("A's channel is not gone while the put its destroy made is unprocessed").isNotDone();
                assertThat(a.liveChannels()).isEqualTo(1);
                g.pollOnce(1); // B's destroy
                g.pollUntil(un::isDone, T);
                assertThat(un.join()).isZero();
                assertThat(log).containsExactly("A create reactor_1", "B create reactor_1", "A destroy reactor_1", "B destroy reactor_1",
                        "A unregistered");
                CompletableFuture<Integer> unB = new CompletableFuture<>();
                ActorRef<IoDeviceActor.Unregistered> replierB = kit.spawn(Behaviors.receive(IoDeviceActor.Unregistered.class).onAnyMessage(u -> {
                    unB.complete(u.status());
                    return Behaviors.stopped();
                }).build(), g.reactor(0).dispatcher());
                b.unregister(replierB);
                g.pollUntil(unB::isDone, T);
                assertThat(unB.join()).isZero();
            } finally {
                owners.forEach(o -> o.tell("stop")); // they run on reactor 0: stopped before the group closes
                g.pollUntilIdle();
                g.close();
            }
        }

        private void unregisterAll(ReactorGroup g, List<String> log, IoDevice<?>... devices) {
            List<CompletableFuture<Integer>> fs = new ArrayList<>();
            for (IoDevice<?> d : devices) {
                fs.add(unregister(d, log));
            }
            g.pollUntil(() -> fs.stream().allMatch(CompletableFuture::isDone), T);
            assertThat(fs).allSatisfy(f -> assertThat(f.join()).isZero());
        }

        @Test
        @DisplayName("IoDevice.register outside the owner's message handling is refused with Spindle's error, not Pekko's")
        void registerOutsideTheOwnerIsRefused() {
            ReactorGroup g = ReactorGroup.manual(1);
            try {
                CompletableFuture<org.apache.pekko.actor.typed.javadsl.ActorContext<Object>> ctx = new CompletableFuture<>();
                kit.spawn(Behaviors.<Object>setup(c -> {
                    ctx.complete(c);
                    return Behaviors.ignore();
                }));
                Layered f = new Layered("X", new ArrayList<>());
                @SuppressWarnings({"unchecked", "rawtypes"})
                ChannelFactory<Object> raw = (ChannelFactory) f;
                assertThatThrownBy(() -> IoDevice.register(ctx.get(10, TimeUnit.SECONDS), g, "late", raw))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("IoDevice.register io_device=late: must be called inside the owner actor's message handling");
            } finally {
                g.close();
            }
        }
    }

    // ------------------------------------------------------------------ fan-out originators

    /** A context owning off-heap memory; counts its releases. */
    static final class Ctx implements AutoCloseable {
        final Bytes<?> bytes = Bytes.allocateElasticDirect(16);
        final AtomicInteger releases = new AtomicInteger();
        volatile Thread releasedOn;

        @Override
        public void close() {
            releases.incrementAndGet();
            releasedOn = Thread.currentThread();
            bytes.releaseLast();
        }
    }

    sealed interface Cmd permits Start, Boom {
    }

    record Start(int walks, List<Ctx> out, CompletableFuture<Void> started) implements Cmd {
    }

    enum Boom implements Cmd {
        INSTANCE
    }

    static final FanOuts.ReactorVisitor<Ctx, Integer> VISIT = new FanOuts.ReactorVisitor<>() {
        @Override
        public Integer visit(Reactor reactor) {
            return reactor.index();
        }

        @Override
        public void complete(Ctx context, int status) {
        }
    };

    /**
     * The forgetful originator: it starts walks and stops (or throws) with no PostStop and no close anywhere. Written
     * with the public API only, which no longer has a way to originate walks without {@link FanOuts#originator}.
     */
    static Behavior<Cmd> forgetful(ReactorGroup g, AtomicReference<Thread> thread) {
        return FanOuts.originator(g, (ctx, fanOuts) -> {
            thread.set(Thread.currentThread());
            return Behaviors.receive(Cmd.class)
                    .onMessage(Start.class, m -> {
                        for (int i = 0; i < m.walks(); i++) {
                            Ctx c = new Ctx();
                            m.out().add(c);
                            fanOuts.forEachReactor(c, VISIT);
                        }
                        m.started().complete(null);
                        return Behaviors.stopped(); // stops mid-walk: every walk is in flight
                    })
                    .onMessageEquals(Boom.INSTANCE, () -> {
                        throw new IllegalStateException("boom (expected by the test)");
                    })
                    .build();
        });
    }

    @Nested
    @DisplayName("fan-out originators")
    class Originators {
        @Test
        @DisplayName("SPDK #1766/#2206: an originator that writes no cleanup and stops mid-walk releases all 50 contexts once, on its thread")
        void forgetfulOriginatorReleasesEveryContext() {
            ReactorGroup g = ReactorGroup.manual(3);
            try {
                g.registerDispatchers(kit.system());
                AtomicReference<Thread> thread = new AtomicReference<>();
                List<Ctx> ctxs = new CopyOnWriteArrayList<>();
                CompletableFuture<Void> started = new CompletableFuture<>();
                ActorRef<Cmd> orig = kit.spawn(forgetful(g, thread), "forgetful", g.reactor(0).dispatcher());
                orig.tell(new Start(50, ctxs, started));
                g.pollUntil(started::isDone, T);
                // pollUntil stepped the reactors until idle: the originator's stop (on reactor 0, right after the message
                // that started the walks) has run, so every context is released by now, with no waiting for more
                assertThat(ctxs).hasSize(50).allSatisfy(c -> {
                    assertThat(c.releases).hasValue(1);
                    assertThat(c.releasedOn).isSameAs(thread.get());
                    assertThat(c.bytes.refCount()).isZero();
                });
                g.pollUntilIdle(); // replies in flight are dropped; nothing is released twice
                assertThat(ctxs).allSatisfy(c -> assertThat(c.releases).hasValue(1));
            } finally {
                g.close();
            }
            assertThat(g.reactor(0).state()).isEqualTo(Reactor.State.EXITED);
        }

        @Test
        @DisplayName("an originator that fails with an exception, or restarts under a supervisor, releases its walks' contexts too")
        void failingOrRestartingOriginatorReleases() {
            ReactorGroup g = ReactorGroup.manual(2);
            try {
                g.registerDispatchers(kit.system());
                for (boolean restart : new boolean[]{false, true}) {
                    AtomicReference<Thread> thread = new AtomicReference<>();
                    List<Ctx> ctxs = new CopyOnWriteArrayList<>();
                    Behavior<Cmd> b = FanOuts.originator(g, (ctx, fanOuts) -> Behaviors.receive(Cmd.class)
                            .onMessage(Start.class, m -> {
                                for (int i = 0; i < m.walks(); i++) {
                                    Ctx c = new Ctx();
                                    m.out().add(c);
                                    fanOuts.forEachReactor(c, VISIT);
                                }
                                m.started().complete(null);
                                return Behaviors.same();
                            })
                            .onMessageEquals(Boom.INSTANCE, () -> {
                                throw new IllegalStateException("boom (expected by the test)");
                            })
                            .build());
                    if (restart) {
                        b = Behaviors.supervise(b).onFailure(IllegalStateException.class, SupervisorStrategy.restart());
                    }
                    ActorRef<Cmd> orig = kit.spawn(b, "failing-" + restart, g.reactor(0).dispatcher());
                    CompletableFuture<Void> started = new CompletableFuture<>();
                    orig.tell(new Start(10, ctxs, started));
                    CompletableFuture<Void> terminated = new CompletableFuture<>();
                    kit.spawn(Behaviors.<Object>setup(w -> {
                        w.watch(orig);
                        return Behaviors.receiveSignal((c, sig) -> {
                            terminated.complete(null);
                            return Behaviors.stopped();
                        });
                    }));
                    orig.tell(Boom.INSTANCE); // right behind Start: it fails while every walk is in flight
                    g.pollUntil(started::isDone, T);
                    if (!restart) {
                        // the stop after a failure is decided by the parent (the test kit's guardian, off the reactors)
                        g.pollUntil(terminated::isDone, T);
                    }
                    g.pollUntilIdle(); // the failure and the stop or restart have run; the releases are not waited for
                    assertThat(ctxs).as("restart=%s", restart).allSatisfy(c -> assertThat(c.releases).hasValue(1));
                    if (restart) {
                        CompletableFuture<Void> stopped = CompletableFuture.runAsync(() -> kit.stop(orig)); // it runs on reactor 0
                        g.pollUntil(stopped::isDone, T);
                        stopped.join();
                    }
                }
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("a walk started off the originator's thread (a future's callback) is refused, naming originator and caller")
        void walkOffTheOriginatorThreadIsRefused() {
            ReactorGroup g = ReactorGroup.manual(1);
            try {
                CompletableFuture<FanOuts> leaked = new CompletableFuture<>();
                kit.spawn(FanOuts.originator(g, (ctx, fanOuts) -> {
                    leaked.complete(fanOuts);
                    return Behaviors.ignore();
                }));
                FanOuts f = leaked.orTimeout(10, TimeUnit.SECONDS).join();
                assertThatThrownBy(() -> f.forEachReactor(null, VISIT))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("forEachReactor: must be called inside the originating actor's message handling")
                        .hasMessageContaining("caller=thread " + Thread.currentThread().getName());
                assertThatThrownBy(f::close).isInstanceOf(IllegalStateException.class);
                assertThat(f.inFlight()).isZero();
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("an originator whose behavior factory fails after starting a walk releases that walk's context at once")
        void originatorWhoseFactoryFailsReleases() {
            ReactorGroup g = ReactorGroup.manual(2);
            try {
                g.registerDispatchers(kit.system());
                List<Ctx> ctxs = new CopyOnWriteArrayList<>();
                ActorRef<Cmd> orig = kit.spawn(FanOuts.<Cmd>originator(g, (ctx, fanOuts) -> {
                    Ctx c = new Ctx();
                    ctxs.add(c);
                    fanOuts.forEachReactor(c, VISIT);
                    throw new IllegalStateException("factory fails after starting a walk (expected by the test)");
                }), "failing-factory", g.reactor(0).dispatcher());
                CompletableFuture<Void> terminated = new CompletableFuture<>();
                kit.spawn(Behaviors.<Object>setup(w -> {
                    w.watch(orig);
                    return Behaviors.receiveSignal((c, sig) -> {
                        terminated.complete(null);
                        return Behaviors.stopped();
                    });
                }));
                g.pollUntil(() -> !ctxs.isEmpty(), T);
                assertThat(ctxs).singleElement().satisfies(c -> {
                    assertThat(c.releases).as("released by the failed start itself").hasValue(1);
                    assertThat(c.bytes.refCount()).isZero();
                });
                // the stop after the failure is decided by the parent (the test kit's guardian, off the reactors)
                g.pollUntil(terminated::isDone, T);
                g.pollUntilIdle();
                assertThat(ctxs.get(0).releases).hasValue(1);
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("an originator whose own PostStop handler throws still releases every walk's context")
        void originatorWhosePostStopThrowsReleases() {
            ReactorGroup g = ReactorGroup.manual(2);
            try {
                g.registerDispatchers(kit.system());
                List<Ctx> ctxs = new CopyOnWriteArrayList<>();
                ActorRef<Cmd> orig = kit.spawn(FanOuts.<Cmd>originator(g, (ctx, fanOuts) -> Behaviors.receive(Cmd.class)
                        .onMessage(Start.class, m -> {
                            for (int i = 0; i < m.walks(); i++) {
                                Ctx c = new Ctx();
                                m.out().add(c);
                                fanOuts.forEachReactor(c, VISIT);
                            }
                            m.started().complete(null);
                            return Behaviors.stopped(); // stops mid-walk
                        })
                        .onSignal(org.apache.pekko.actor.typed.PostStop.class, sig -> {
                            throw new IllegalStateException("PostStop fails (expected by the test)");
                        })
                        .build()), "throwing-post-stop", g.reactor(0).dispatcher());
                CompletableFuture<Void> started = new CompletableFuture<>();
                orig.tell(new Start(5, ctxs, started));
                g.pollUntil(started::isDone, T); // steps until idle: the stop, and its failing PostStop, have run
                assertThat(ctxs).hasSize(5).allSatisfy(c -> {
                    assertThat(c.releases).hasValue(1);
                    assertThat(c.bytes.refCount()).isZero();
                });
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("a signal other than PostStop or PreRestart (Terminated of a watched actor) does not end the originator's walks")
        void otherSignalsDoNotEndTheWalks() {
            ReactorGroup g = ReactorGroup.manual(ReactorConfig.builder().mask(CoreMask.firstN(2)).manual(true).maxTasksPerLoop(1).conclude());
            try {
                g.registerDispatchers(kit.system());
                List<Ctx> ctxs = new CopyOnWriteArrayList<>();
                List<Integer> statuses = new CopyOnWriteArrayList<>();
                AtomicInteger terminatedSeen = new AtomicInteger();
                FanOuts.ReactorVisitor<Ctx, Integer> visitor = new FanOuts.ReactorVisitor<>() {
                    @Override
                    public Integer visit(Reactor reactor) {
                        return reactor.index();
                    }

                    @Override
                    public void complete(Ctx context, int status) {
                        statuses.add(status);
                    }
                };
                ActorRef<Cmd> orig = kit.spawn(FanOuts.<Cmd>originator(g, (ctx, fanOuts) -> {
                    ActorRef<Void> watched = ctx.spawn(Behaviors.<Void>ignore(), "watched",
                            org.apache.pekko.actor.typed.DispatcherSelector.sameAsParent());
                    ctx.watch(watched);
                    return Behaviors.receive(Cmd.class)
                            .onMessage(Start.class, m -> {
                                Ctx c = new Ctx();
                                m.out().add(c);
                                fanOuts.forEachReactor(c, visitor);
                                ctx.stop(watched); // its Terminated reaches us while the walk waits for reactor 1
                                m.started().complete(null);
                                return Behaviors.same();
                            })
                            .onMessageEquals(Boom.INSTANCE, Behaviors::stopped)
                            .onSignal(org.apache.pekko.actor.typed.Terminated.class, t -> {
                                terminatedSeen.incrementAndGet();
                                return Behaviors.same();
                            })
                            .build();
                }), "watching-originator", g.reactor(0).dispatcher());
                CompletableFuture<Void> started = new CompletableFuture<>();
                orig.tell(new Start(1, ctxs, started));
                g.pollUntilIdle(0); // reactor 0 only: the walk's hop to reactor 1 waits there, the Terminated is handled
                assertThat(started).isDone();
                assertThat(terminatedSeen).hasValue(1);
                assertThat(ctxs).singleElement().satisfies(c -> assertThat(c.releases).as("still in flight").hasValue(0));
                g.pollUntilIdle();
                assertThat(statuses).as("the walk completed normally").containsExactly(Errno.OK);
                assertThat(ctxs.get(0).releases).hasValue(1);
                orig.tell(Boom.INSTANCE); // stops it, on reactor 0
                g.pollUntilIdle();
                assertThat(ctxs.get(0).releases).hasValue(1);
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("a reactor originator's walk started from another reactor is refused")
        void reactorOriginatorOffItsReactorIsRefused() {
            ReactorGroup g = ReactorGroup.manual(2);
            try {
                FanOuts f = ThreadLibraryTest.on(g, 0, () -> FanOuts.forReactor(g.reactor(0)));
                assertThatThrownBy(() -> ThreadLibraryTest.on(g, 1, () -> {
                    f.forEachReactor(null, VISIT);
                    return null;
                })).isInstanceOf(IllegalStateException.class).hasMessageContaining("owner=reactor_0").hasMessageContaining("caller=reactor_1");
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("SPDK #3630: a visitor that holds its walk's context in a field is refused when the walk starts")
        void visitorHoldingItsContextIsRefused() {
            ReactorGroup g = ReactorGroup.manual(1);
            try {
                FanOuts f = ThreadLibraryTest.on(g, 0, () -> FanOuts.forReactor(g.reactor(0)));
                Ctx c = new Ctx();
                try {
                    FanOuts.ReactorVisitor<Ctx, Integer> capturing = new FanOuts.ReactorVisitor<>() {
                        @Override
                        public Integer visit(Reactor reactor) {
                            return c.bytes.readRemaining() > 0 ? 1 : 0; // a reactor reaching the context
                        }

                        @Override
                        public void complete(Ctx context, int status) {
                        }
                    };
                    assertThatThrownBy(() -> ThreadLibraryTest.on(g, 0, () -> {
                        f.forEachReactor(c, capturing);
                        return null;
                    })).isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining("forEachReactor: visitor=")
                            .hasMessageContaining("holds the walk's context in field=val$c");
                    assertThat(c.releases).as("a refused walk never owned the context").hasValue(0);
                } finally {
                    c.close();
                }
            } finally {
                g.close();
            }
        }
    }
}
