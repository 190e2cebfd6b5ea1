package io.spindle.runtime;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Ports of SPDK's {@code thread_ut.c} cases on manual reactors (SPDK's {@code ut_multithread}): messages,
 * pollers, pause/resume, channels and their deferred destroy, nested channels, failed creates; plus core masks.
 */
@Timeout(60)
class ThreadLibraryTest {
    static final ActorTestKit kit = ActorTestKit.create("thread-library-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** Registers an io_device owned by a fresh actor; returns it once registered. */
    static <C> IoDevice<C> device(ReactorGroup g, String name, ChannelFactory<C> f) {
        return device(kit, g, name, f);
    }

    /**
     * {@link #device(ReactorGroup, String, ChannelFactory)} with the owner spawned by {@code owners}: another test class
     * passes its own kit (this class's is shut down when this class ends, whatever order the classes run in).
     */
    static <C> IoDevice<C> device(ActorTestKit owners, ReactorGroup g, String name, ChannelFactory<C> f) {
        CompletableFuture<IoDevice<C>> d = new CompletableFuture<>();
        owners.spawn(Behaviors.<Object>setup(ctx -> {
            d.complete(IoDevice.register(ctx, g, name, f));
            return Behaviors.ignore();
        }));
        return d.orTimeout(10, TimeUnit.SECONDS).join();
    }

    /** Runs {@code task} on reactor {@code i} (stepping the group) and returns its result or rethrows its exception. */
    static <X> X on(ReactorGroup g, int i, java.util.function.Supplier<X> task) {
        CompletableFuture<X> f = new CompletableFuture<>();
        g.reactor(i).send(() -> {
            try {
                f.complete(task.get());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        g.pollUntil(f::isDone, Duration.ofSeconds(10));
        return unwrap(f);
    }

    static <X> X unwrap(CompletableFuture<X> f) {
        try {
            return f.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            if (e.getCause() instanceof Error er) {
                throw er;
            }
            throw e;
        }
    }

    /** Runs {@code task} on reactor {@code i}, stepping only that reactor, one loop at a time (busy pollers allowed). */
    static <X> X step(ReactorGroup g, int i, java.util.function.Supplier<X> task) {
        CompletableFuture<X> f = new CompletableFuture<>();
        g.reactor(i).send(() -> {
            try {
                f.complete(task.get());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        for (int n = 0; n < 1000 && !f.isDone(); n++) {
            g.pollOnce(i);
        }
        assertThat(f).as("task ran on reactor %d", i).isDone();
        return unwrap(f);
    }

    /** A factory that logs where create/destroy ran. */
    static final class Logging implements ChannelFactory<String> {
        final List<String> log = new CopyOnWriteArrayList<>();

        @Override
        public String create(IoDevice<String> d, Reactor r) {
            log.add("create " + d.name() + " on " + r.name() + " current=" + Reactor.current().name());
            return d.name() + "@" + r.name();
        }

        @Override
        public void destroy(IoDevice<String> d, Reactor r, String ctx) {
            log.add("destroy " + ctx + " current=" + Reactor.current().name());
        }
    }

    @Nested
    class Messages {
        @Test
        @DisplayName("thread_send_msg: never inline, FIFO per reactor, from any thread; refused after exit")
        void threadSendMsg() {
            ReactorGroup g = ReactorGroup.manual(2);
            try {
                List<String> ran = new CopyOnWriteArrayList<>();
                boolean inline = step(g, 0, () -> {
                    g.reactor(1).send(() -> ran.add("from reactor_0 on " + Reactor.current().name()));
                    g.reactor(0).send(() -> ran.add("self"));
                    return !ran.isEmpty();
                });
                assertThat(inline).isFalse();
                assertThat(ran).as("reactor_0's self-message ran in the same step").containsExactly("self");
                assertThat(g.pollOnce(1)).isPositive();
                assertThat(ran).containsExactly("self", "from reactor_0 on reactor_1");
                for (int i = 0; i < 100; i++) {
                    int n = i;
                    g.reactor(1).send(() -> ran.add("n" + n)); // from the test thread, not a reactor
                }
                g.pollUntilIdle(1);
                List<String> expected = new ArrayList<>();
                for (int i = 0; i < 100; i++) {
                    expected.add("n" + i);
                }
                assertThat(ran.subList(2, ran.size())).containsExactlyElementsOf(expected);
            } finally {
                g.close();
            }
            assertThatThrownBy(() -> g.reactor(1).send(() -> { }))
                    .isInstanceOf(ReactorStoppedException.class).hasMessageContaining("reactor_1").hasMessageContaining("EXITED");
            assertThat(g.reactor(1).state()).isEqualTo(Reactor.State.EXITED);
            assertThat(g.pollOnce(1)).as("stepping an exited reactor runs nothing and is no error").isZero();
            assertThat(g.pollUntilIdle()).isZero();
        }
    }

    @Nested
    class Pollers {
        @Test
        @DisplayName("thread_poller: active pollers run every loop newest first; timed ones at period, re-armed from the run")
        void threadPoller() {
            ReactorGroup g = ReactorGroup.manual(1);
            try {
                List<String> runs = new CopyOnWriteArrayList<>();
                List<Poller> ps = step(g, 0, () -> {
                    Reactor r = Reactor.current();
                    List<Poller> l = new ArrayList<>();
                    l.add(r.registerPoller("a", () -> {
                        runs.add("a");
                        return 0;
                    }));
                    l.add(r.registerPoller("b", () -> {
                        runs.add("b");
                        return 1;
                    }));
                    l.add(r.registerPoller("t1", () -> {
                        runs.add("t1");
                        return 1;
                    }, 1000, TimeUnit.MICROSECONDS));
                    l.add(r.registerPoller("t2", () -> {
                        runs.add("t2");
                        return 1;
                    }, 1000, TimeUnit.MICROSECONDS));
                    return l;
                });
                runs.clear();
                assertThat(g.pollOnce(0)).as("b returned 1").isEqualTo(1);
                assertThat(runs).containsExactly("b", "a");
                runs.clear();
                g.advanceTime(Duration.ofMillis(3)); // three periods at once: each timed poller runs once (no catch-up)
                g.pollOnce(0);
                assertThat(runs).containsExactly("b", "a", "t1", "t2");
                runs.clear();
                g.pollOnce(0);
                assertThat(runs).containsExactly("b", "a");
                runs.clear();
                g.advanceTime(Duration.ofMillis(1));
                g.pollOnce(0);
                assertThat(runs).containsExactly("b", "a", "t1", "t2");
                assertThatThrownBy(() -> ps.get(0).unregister()).as("off its reactor")
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("owner=reactor_0");
                step(g, 0, () -> {
                    ps.forEach(Poller::unregister);
                    return null;
                });
                runs.clear();
                g.advanceTime(Duration.ofMillis(5));
                assertThat(g.pollOnce(0)).isZero();
                assertThat(runs).isEmpty();
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("thread_poller: a poller may unregister itself; it never runs again")
        void pollerUnregistersItself() {
            ReactorGroup g = ReactorGroup.manual(1);
            try {
                AtomicInteger runs = new AtomicInteger();
                AtomicReference<Poller> self = new AtomicReference<>();
                step(g, 0, () -> {
                    self.set(Reactor.current().registerPoller("once", () -> {
                        runs.incrementAndGet();
                        self.get().unregister();
                        self.get().unregister(); // idempotent
                        return 1;
                    }));
                    return null;
                });
                g.pollUntilIdle(0);
                g.pollOnce(0);
                assertThat(runs.get()).isEqualTo(1);
                assertThat(step(g, 0, () -> Reactor.current().holdsNothing())).isTrue();
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("poller_pause: pause/resume are idempotent, work from inside the poller, and re-arm timed pollers")
        void pollerPause() {
            ReactorGroup g = ReactorGroup.manual(1);
            try {
                AtomicInteger active = new AtomicInteger();
                AtomicInteger timed = new AtomicInteger();
                AtomicReference<Poller> a = new AtomicReference<>();
                Poller t = step(g, 0, () -> {
                    a.set(Reactor.current().registerPoller("a", () -> {
                        active.incrementAndGet();
                        a.get().pause(); // from inside itself
                        a.get().pause();
                        return 1;
                    }));
                    return Reactor.current().registerPoller("t", () -> {
                        timed.incrementAndGet();
                        return 1;
                    }, 10, TimeUnit.MILLISECONDS);
                });
                g.pollOnce(0);
                g.pollOnce(0);
                assertThat(active.get()).isEqualTo(1);
                assertThat(step(g, 0, () -> a.get().state())).isEqualTo(Poller.State.PAUSED);
                step(g, 0, () -> {
                    t.pause();
                    t.pause();
                    return null;
                });
                g.advanceTime(Duration.ofMillis(20));
                g.pollOnce(0);
                assertThat(timed.get()).as("paused").isZero();
                step(g, 0, () -> {
                    a.get().resume();
                    a.get().resume();
                    t.resume(); // re-armed at now + 10 ms
                    return null;
                });
                g.pollOnce(0);
                assertThat(active.get()).isEqualTo(2);
                assertThat(timed.get()).isZero();
                g.advanceTime(Duration.ofMillis(10));
                g.pollOnce(0);
                assertThat(timed.get()).isEqualTo(1);
                step(g, 0, () -> {
                    t.pause();
                    t.unregister(); // unregistering a paused poller
                    a.get().unregister();
                    return null;
                });
                assertThat(step(g, 0, () -> Reactor.current().holdsNothing())).isTrue();
            } finally {
                g.close();
            }
        }
    }

    @Nested
    class Accounting {
        /** Counter deltas between two snapshots of one reactor's stats. */
        record Delta(long busy, long idle, long loops, long tasks, long pollerRuns) {
            static Delta between(ReactorStats a, ReactorStats b) {
                return new Delta(b.busyNanos() - a.busyNanos(), b.idleNanos() - a.idleNanos(), b.loops() - a.loops(),
                        b.tasksRun() - a.tasksRun(), b.pollerRuns() - a.pollerRuns());
            }
        }

        @Test
        @DisplayName("busy/idle: the time up to the next iteration is busy when a task ran or a poller returned > 0, else idle")
        void busyIdleTasksLoopsAndPollerRunsAreCountedExactly() {
            ManualClock clock = new ManualClock();
            ReactorGroup g = ReactorGroup.manual(ReactorConfig.builder().mask("0x1").manual(true).clock(clock).conclude());
            try {
                Reactor r = g.reactor(0);
                AtomicInteger next = new AtomicInteger(); // what poller "p" returns
                List<Poller> ps = step(g, 0, () -> List.of(r.registerPoller("p", next::get), r.registerPoller("idle", () -> 0)));
                g.pollUntilIdle(0); // the iteration that registered them was busy; this one is idle
                ReactorStats s = r.stats();

                // each row: advance the clock, set p's result, step once; the advance is charged to the previous
                // iteration: busy if it did work, idle if not
                clock.advance(100);
                next.set(0);
                assertThat(g.pollOnce(0)).isZero();
                ReactorStats s1 = r.stats();
                assertThat(Delta.between(s, s1)).as("after an idle iteration").isEqualTo(new Delta(0, 100, 1, 0, 2));

                clock.advance(200);
                next.set(3);
                assertThat(g.pollOnce(0)).isEqualTo(3);
                ReactorStats s2 = r.stats();
                assertThat(Delta.between(s1, s2)).as("previous iteration idle").isEqualTo(new Delta(0, 200, 1, 0, 2));

                clock.advance(50);
                next.set(0);
                assertThat(g.pollOnce(0)).isZero();
                ReactorStats s3 = r.stats();
                assertThat(Delta.between(s2, s3)).as("previous iteration busy (p returned 3)").isEqualTo(new Delta(50, 0, 1, 0, 2));

                clock.advance(70);
                for (int i = 0; i < 3; i++) {
                    r.send(() -> { });
                }
                assertThat(g.pollOnce(0)).as("3 tasks, pollers idle").isEqualTo(3);
                ReactorStats s4 = r.stats();
                assertThat(Delta.between(s3, s4)).as("3 tasks counted; previous iteration idle").isEqualTo(new Delta(0, 70, 1, 3, 2));

                clock.advance(30);
                next.set(-2); // a negative count is idle, as 0
                assertThat(g.pollOnce(0)).isZero();
                ReactorStats s5 = r.stats();
                assertThat(Delta.between(s4, s5)).as("previous iteration busy (tasks ran)").isEqualTo(new Delta(30, 0, 1, 0, 2));

                clock.advance(40);
                assertThat(g.pollOnce(0)).isZero();
                ReactorStats s6 = r.stats();
                assertThat(Delta.between(s5, s6)).as("previous iteration idle (p returned -2)").isEqualTo(new Delta(0, 40, 1, 0, 2));

                assertThat(ps.get(0).runCount).isEqualTo(ps.get(1).runCount);
                assertThat(ps.get(0).busyCount).as("p was busy once").isEqualTo(1);
                assertThat(ps.get(1).busyCount).isZero();
                // poller and channel counts are exact on the reactor, unknown (-1) elsewhere
                ReactorStats own = step(g, 0, r::stats);
                assertThat(List.of(own.activePollers(), own.timedPollers(), own.pausedPollers(), own.channels())).containsExactly(2, 0, 0, 0);
                assertThat(List.of(s6.activePollers(), s6.timedPollers(), s6.pausedPollers(), s6.channels())).containsExactly(-1, -1, -1, -1);
                assertThat(own.name()).isEqualTo("reactor_0");
                step(g, 0, () -> {
                    ps.forEach(Poller::unregister);
                    return null;
                });
            } finally {
                g.close();
            }
        }
    }

    @Nested
    class Channels {
        @Test
        @DisplayName("channel: one per (reactor, device), created on its reactor, reference counted, destroyed later by message")
        void channel() {
            ReactorGroup g = ReactorGroup.manual(2);
            Logging f = new Logging();
            IoDevice<String> d = device(g, "dev", f);
            try {
                IoChannel<String> c0 = on(g, 0, d::getChannel);
                IoChannel<String> c0b = on(g, 0, d::getChannel);
                IoChannel<String> c1 = on(g, 1, d::getChannel);
                assertThat(c0b).isSameAs(c0);
                assertThat(c1).isNotSameAs(c0);
                assertThat(on(g, 0, c0::refs)).isEqualTo(2);
                assertThat(f.log).containsExactly("create dev on reactor_0 current=reactor_0", "create dev on reactor_1 current=reactor_1");
                assertThatThrownBy(() -> on(g, 1, () -> {
                    c0.put();
                    return null;
                })).hasMessageContaining("owner=reactor_0").hasMessageContaining("caller=reactor_1");
                boolean destroyedInline = on(g, 0, () -> {
                    c0.put();
                    c0.put();
                    return f.log.size() > 2;
                });
                assertThat(destroyedInline).isFalse();
                g.pollUntilIdle();
                assertThat(f.log).contains("destroy dev@reactor_0 current=reactor_0");
                on(g, 1, () -> {
                    c1.put();
                    return null;
                });
                g.pollUntilIdle();
                assertThat(d.liveChannels()).isZero();
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("channel_destroy_races: a get before the deferred destroy runs revives the channel")
        void channelDestroyRaces() {
            ReactorGroup g = ReactorGroup.manual(1);
            Logging f = new Logging();
            IoDevice<String> d = device(g, "dev", f);
            try {
                IoChannel<String> c = on(g, 0, d::getChannel);
                IoChannel<String> again = on(g, 0, () -> {
                    c.put(); // destroy queued
                    return d.getChannel(); // before it runs
                });
                g.pollUntilIdle();
                assertThat(again).isSameAs(c);
                assertThat(f.log).noneMatch(s -> s.startsWith("destroy"));
                on(g, 0, () -> {
                    c.put();
                    return null;
                });
                g.pollUntilIdle();
                assertThat(f.log).anyMatch(s -> s.startsWith("destroy"));
                IoChannel<String> fresh = on(g, 0, d::getChannel);
                assertThat(fresh).isNotSameAs(c);
                on(g, 0, () -> {
                    fresh.put();
                    return null;
                });
                g.pollUntilIdle();
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("nested_channel: a create that gets other devices' channels; one put tears the chain down over several polls")
        void nestedChannel() {
            // one task per step, as SPDK's poll_thread_times(i, 1): each deferred destroy is its own message
            ReactorGroup g = ReactorGroup.manual(ReactorConfig.builder().mask("0x1").manual(true).maxTasksPerLoop(1).conclude());
            g.registerDispatchers(kit.system());
            List<String> log = new CopyOnWriteArrayList<>();
            IoDevice<String> c = device(g, "C", new ChannelFactory<>() {
                @Override
                public String create(IoDevice<String> dev, Reactor r) {
                    return "C";
                }

                @Override
                public void destroy(IoDevice<String> dev, Reactor r, String x) {
                    log.add("destroy C");
                }
            });
            IoDevice<IoChannel<String>> b = device(g, "B", new ChannelFactory<>() {
                @Override
                public IoChannel<String> create(IoDevice<IoChannel<String>> dev, Reactor r) {
                    return c.getChannel();
                }

                @Override
                public void destroy(IoDevice<IoChannel<String>> dev, Reactor r, IoChannel<String> inner) {
                    log.add("destroy B");
                    inner.put();
                }
            });
            IoDevice<IoChannel<IoChannel<String>>> a = device(g, "A", new ChannelFactory<>() {
                @Override
                public IoChannel<IoChannel<String>> create(IoDevice<IoChannel<IoChannel<String>>> dev, Reactor r) {
                    return b.getChannel();
                }

                @Override
                public void destroy(IoDevice<IoChannel<IoChannel<String>>> dev, Reactor r, IoChannel<IoChannel<String>> inner) {
                    log.add("destroy A");
                    inner.put();
                }
            });
            try {
                IoChannel<IoChannel<IoChannel<String>>> ch = on(g, 0, a::getChannel);
                assertThat(c.liveChannels() + b.liveChannels() + a.liveChannels()).isEqualTo(3);
                step(g, 0, () -> {
                    ch.put();
                    return null;
                });
                assertThat(log).as("destroy deferred by a message").isEmpty();
                // the reactor is asked to exit now: it must not reach EXITED before the whole chain is gone
                g.requestStop();
                int polls = 0;
                while (g.reactor(0).state() != Reactor.State.EXITED && polls < 100) {
                    polls++;
                    assertThat(log.size() == 3 || g.reactor(0).state() != Reactor.State.EXITED).isTrue();
                    g.reactor(0).pollOnce();
                }
                assertThat(log).containsExactly("destroy A", "destroy B", "destroy C");
                assertThat(polls).as("torn down over several polls").isGreaterThan(1);
                assertThat(g.reactor(0).state()).isEqualTo(Reactor.State.EXITED);
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("an owner stopped without unregistering: its io_device stops first, live channels are logged and destroyed on their reactors when put")
        void ownerStoppedWithoutUnregisteringItsDevice() {
            ReactorGroup g = ReactorGroup.manual(2);
            Logging f = new Logging();
            ch.qos.logback.classic.Logger deviceLog = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(IoDeviceActor.class);
            ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged = new ch.qos.logback.core.read.ListAppender<>();
            logged.start();
            deviceLog.addAppender(logged);
            try {
                CompletableFuture<IoDevice<String>> registered = new CompletableFuture<>();
                List<String> atOwnerPostStop = new CopyOnWriteArrayList<>();
                org.apache.pekko.actor.typed.ActorRef<Object> owner = kit.spawn(Behaviors.setup(ctx -> {
                    IoDevice<String> d = IoDevice.register(ctx, g, "orphan", f);
                    registered.complete(d);
                    return Behaviors.receive(Object.class)
                            .onSignal(org.apache.pekko.actor.typed.PostStop.class, sig -> {
                                // only the device actor's own PostStop marks it: nobody called unregister
                                atOwnerPostStop.add("device unregistered=" + d.isUnregistered());
                                return Behaviors.same();
                            }).build();
                }));
                IoDevice<String> d = registered.orTimeout(10, TimeUnit.SECONDS).join();
                IoChannel<String> c0 = on(g, 0, d::getChannel);
                IoChannel<String> c1 = on(g, 1, d::getChannel);
                org.apache.pekko.actor.testkit.typed.javadsl.TestProbe<Object> watcher = kit.createTestProbe();

                kit.stop(owner, Duration.ofSeconds(10));
                watcher.expectTerminated(d.actor(), Duration.ofSeconds(5));
                assertThat(atOwnerPostStop).as("the device actor stopped before the owner finished stopping")
                        .containsExactly("device unregistered=true");
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> {
                    synchronized (logged.list) {
                        return !logged.list.isEmpty();
                    }
                });
                synchronized (logged.list) {
                    assertThat(logged.list).singleElement().satisfies(e -> {
                        assertThat(e.getLevel()).isEqualTo(ch.qos.logback.classic.Level.ERROR);
                        assertThat(e.getFormattedMessage()).isEqualTo("io_device orphan stopped by its owner with 2 live channel(s) "
                                + "not unregistered first; they are destroyed when their holders put them");
                    });
                }

                // the device is gone for new users, its holders still own their channels
                assertThat(on(g, 0, d::getChannel)).as("get after the owner stopped").isNull();
                assertThat(d.liveChannels()).isEqualTo(2);
                assertThat(on(g, 1, () -> Reactor.current().leakReport())).contains("io_channel orphan refs=1");
                assertThat(f.log).noneMatch(l -> l.startsWith("destroy"));

                on(g, 0, () -> {
                    c0.put();
                    return null;
                });
                on(g, 1, () -> {
                    c1.put();
                    return null;
                });
                g.pollUntilIdle();
                assertThat(f.log).contains("destroy orphan@reactor_0 current=reactor_0", "destroy orphan@reactor_1 current=reactor_1");
                assertThat(d.liveChannels()).isZero();
                assertThat(g.devices()).doesNotContain(d);
                assertThat(on(g, 0, () -> Reactor.current().holdsNothing())).isTrue();
                assertThat(on(g, 1, () -> Reactor.current().holdsNothing())).isTrue();
            } finally {
                deviceLog.detachAppender(logged);
                logged.stop();
                g.close();
            }
        }

        @Test
        @DisplayName("channel_create_cb_failed: getChannel gets null, getChannelOrThrow the cause and errno; nothing is left behind")
        void channelCreateCbFailed() {
            ReactorGroup g = ReactorGroup.manual(1);
            AtomicInteger attempts = new AtomicInteger();
            IoDevice<String> d = device(g, "flaky", new ChannelFactory<>() {
                @Override
                public String create(IoDevice<String> dev, Reactor r) throws Exception {
                    if (attempts.incrementAndGet() <= 2) { // the first two creates fail
                        throw new java.io.IOException("device not ready");
                    }
                    return "ok";
                }

                @Override
                public void destroy(IoDevice<String> dev, Reactor r, String x) {
                }
            });
            try {
                assertThat(on(g, 0, d::getChannel)).isNull();
                assertThat(d.liveChannels()).isZero();
                assertThat(d.hasChannelOn(0)).isFalse();
                assertThat(on(g, 0, () -> Reactor.current().holdsNothing())).isTrue();
                // the same failure, handed to the getter
                assertThatThrownBy(() -> on(g, 0, d::getChannelOrThrow))
                        .isInstanceOfSatisfying(IoChannelException.class, e -> {
                            assertThat(e.errno()).isEqualTo(Errno.EIO);
                            assertThat(e.device()).isEqualTo("flaky");
                        })
                        .hasMessage("getChannel io_device=flaky reactor=reactor_0 errno=EIO: channel create failed: "
                                + "java.io.IOException: device not ready")
                        .hasCauseInstanceOf(java.io.IOException.class);
                assertThat(d.liveChannels()).isZero();
                assertThat(on(g, 0, () -> Reactor.current().holdsNothing())).isTrue();
                IoChannel<String> ch = on(g, 0, d::getChannelOrThrow);
                assertThat(ch.context()).isEqualTo("ok");
                assertThat(on(g, 0, d::getChannelOrThrow)).as("fast path, one more reference").isSameAs(ch);
                on(g, 0, () -> {
                    ch.put();
                    ch.put();
                    return null;
                });
                g.pollUntilIdle();
                assertThat(d.liveChannels()).isZero();
            } finally {
                g.close();
            }
        }

        /** A factory whose create first gets a channel of {@code inner}, then fails; it puts the nested one back or not. */
        static ChannelFactory<IoChannel<String>> failsAfterNestedGet(IoDevice<String> inner, boolean putBack,
                                                                     AtomicReference<IoChannel<String>> got) {
            return new ChannelFactory<>() {
                @Override
                public IoChannel<String> create(IoDevice<IoChannel<String>> dev, Reactor r) {
                    IoChannel<String> nested = inner.getChannelOrThrow();
                    got.set(nested);
                    try {
                        throw new IllegalStateException("queue setup failed");
                    } catch (IllegalStateException e) {
                        if (putBack) {
                            nested.put();
                        }
                        throw e;
                    }
                }

                @Override
                public void destroy(IoDevice<IoChannel<String>> dev, Reactor r, IoChannel<String> nested) {
                    nested.put();
                }
            };
        }

        @Test
        @DisplayName("channel_create_cb_failed, nested: a create that got a nested channel and puts it back before throwing leaves nothing")
        void failedCreatePutsBackItsNestedChannel() {
            ReactorGroup g = ReactorGroup.manual(1);
            Logging innerLog = new Logging();
            IoDevice<String> inner = device(g, "inner", innerLog);
            AtomicReference<IoChannel<String>> got = new AtomicReference<>();
            IoDevice<IoChannel<String>> outer = device(g, "outer", failsAfterNestedGet(inner, true, got));
            try {
                assertThatThrownBy(() -> on(g, 0, outer::getChannelOrThrow))
                        .isInstanceOf(IoChannelException.class).hasMessageContaining("io_device=outer")
                        .hasRootCauseMessage("queue setup failed");
                assertThat(got.get()).as("the create did get the nested channel").isNotNull();
                g.pollUntilIdle(); // the nested channel's deferred destroy
                assertThat(innerLog.log).containsExactly("create inner on reactor_0 current=reactor_0",
                        "destroy inner@reactor_0 current=reactor_0");
                assertThat(inner.liveChannels() + outer.liveChannels()).isZero();
                assertThat(on(g, 0, () -> Reactor.current().holdsNothing())).isTrue();
            } finally {
                g.close();
            }
        }

        @Test
        @DisplayName("channel_create_cb_failed, nested: a create that throws without putting back its nested channel leaks it, and the leak report names it")
        void failedCreateThatKeepsItsNestedChannelShowsInTheLeakReport() {
            ReactorGroup g = ReactorGroup.manual(1);
            IoDevice<String> inner = device(g, "inner", new Logging());
            AtomicReference<IoChannel<String>> got = new AtomicReference<>();
            IoDevice<IoChannel<String>> outer = device(g, "outer", failsAfterNestedGet(inner, false, got));
            try {
                assertThat(on(g, 0, outer::getChannel)).isNull();
                g.pollUntilIdle();
                assertThat(outer.liveChannels()).as("nothing of the failed device").isZero();
                assertThat(inner.liveChannels()).as("the runtime does not put back for the create").isEqualTo(1);
                assertThat(on(g, 0, () -> Reactor.current().leakReport())).isEqualTo("io_channel inner refs=1");
            } finally {
                on(g, 0, () -> {
                    got.get().put(); // clean up for the test's own exit
                    return null;
                });
                g.close();
            }
            assertThat(inner.liveChannels()).isZero();
        }

        @Test
        @DisplayName("getChannelOrThrow on an unregistered device: ENODEV, no channel; a nested ENODEV propagates its errno")
        void getChannelOrThrowReportsEnodev() {
            ReactorGroup g = ReactorGroup.manual(1);
            IoDevice<String> inner = device(g, "gone", new Logging());
            IoDevice<String> outer = device(g, "stacked", new ChannelFactory<>() {
                @Override
                public String create(IoDevice<String> dev, Reactor r) {
                    return inner.getChannelOrThrow().context();
                }

                @Override
                public void destroy(IoDevice<String> dev, Reactor r, String x) {
                }
            });
            try {
                org.apache.pekko.actor.testkit.typed.javadsl.TestProbe<IoDeviceActor.Unregistered> done = kit.createTestProbe();
                inner.unregister(done.getRef());
                assertThat(done.receiveMessage(Duration.ofSeconds(10)).status()).isEqualTo(Errno.OK);
                assertThatThrownBy(() -> on(g, 0, inner::getChannelOrThrow))
                        .isInstanceOfSatisfying(IoChannelException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENODEV))
                        .hasMessage("getChannel io_device=gone reactor=reactor_0 errno=ENODEV: io_device unregistered");
                assertThatThrownBy(() -> on(g, 0, outer::getChannelOrThrow))
                        .isInstanceOfSatisfying(IoChannelException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENODEV))
                        .hasMessageContaining("io_device=stacked").hasCauseInstanceOf(IoChannelException.class);
                assertThat(inner.liveChannels() + outer.liveChannels()).isZero();
            } finally {
                g.close();
            }
        }
    }

    @Nested
    class Masks {
        @Test
        void parsesSpdkMaskForms() {
            assertThat(CoreMask.parse("0x3").cores()).containsExactly(0, 1);
            assertThat(CoreMask.parse("[0,1]").cores()).containsExactly(0, 1);
            assertThat(CoreMask.parse("0-3").cores()).containsExactly(0, 1, 2, 3);
            assertThat(CoreMask.parse("[0,2-3]").cores()).containsExactly(0, 2, 3);
            assertThat(CoreMask.parse("0x5").toHex()).isEqualTo("0x5");
        }

        @Test
        void rejectsBadMasksNamingTheProblem() {
            assertThatThrownBy(() -> CoreMask.parse("")).hasMessageContaining("core mask is empty");
            assertThatThrownBy(() -> CoreMask.parse("0x")).hasMessageContaining("bad hex mask");
            assertThatThrownBy(() -> CoreMask.parse("0xZZ")).hasMessageContaining("bad hex mask");
            assertThatThrownBy(() -> CoreMask.parse("[0,")).hasMessageContaining("unbalanced brackets");
            assertThatThrownBy(() -> CoreMask.parse("3-1")).hasMessageContaining("runs backwards");
            assertThatThrownBy(() -> CoreMask.parse("a")).hasMessageContaining("'a' is not a core number");
            assertThatThrownBy(() -> CoreMask.parse("0x0")).hasMessageContaining("selects no core");
            assertThatThrownBy(() -> CoreMask.parse("2000")).hasMessageContaining("above the limit 1023");
            assertThatThrownBy(() -> CoreMask.parse("0x4", 2)).hasMessageContaining("core 2 does not exist on this machine");
        }
    }

    @Test
    @DisplayName("idle=park: a send wakes a parked reactor (park cap 60 s, no poller, each task must run within 10 s)")
    void sendWakesAParkedReactor() throws Exception {
        // A functional check, not a timing one: with a 60 s cap and no poller, nothing but the send's unpark can
        // make the reactor run a task within the 10 s the latch waits.
        ReactorGroup g = ReactorGroup.start(ReactorConfig.builder().mask("0x1").idle(IdleMode.PARK)
                .parkMaxPark(Duration.ofSeconds(60)).conclude());
        try {
            Reactor r = g.reactor(0);
            assertThat(r.group().config().parkMaxParkNanos()).isEqualTo(TimeUnit.SECONDS.toNanos(60));
            for (int i = 0; i < 5; i++) {
                // parked: the loop found nothing to do and sits in LockSupport.parkNanos
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                        .until(() -> r.javaThread().getState() == Thread.State.TIMED_WAITING);
                CountDownLatch ran = new CountDownLatch(1);
                r.send(ran::countDown);
                assertThat(ran.await(10, TimeUnit.SECONDS)).as("send %d woke the parked reactor", i).isTrue();
            }
        } finally {
            g.close(); // the exit request unparks it too
        }
    }

    @Test
    void parkCapIsReadFromHoconAndBounded() {
        com.typesafe.config.Config ref = com.typesafe.config.ConfigFactory.defaultReference();
        assertThat(ReactorConfig.fromConfig(ref).parkMaxParkNanos()).as("default").isEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
        assertThat(ReactorConfig.fromConfig(com.typesafe.config.ConfigFactory.parseString("spindle.reactor.park.max-park = 60s")
                .withFallback(ref)).parkMaxParkNanos()).isEqualTo(TimeUnit.SECONDS.toNanos(60));
        assertThatThrownBy(() -> ReactorConfig.builder().parkMaxPark(Duration.ZERO).conclude())
                .hasMessageContaining("spindle.reactor.park.max-park=PT0S").hasMessageContaining("must be > 0 and at most 10m");
        assertThatThrownBy(() -> ReactorConfig.builder().parkMaxPark(Duration.ofMinutes(11)).conclude())
                .hasMessageContaining("spindle.reactor.park.max-park=PT11M");
        assertThat(ReactorConfig.builder().parkMaxPark(Duration.ofSeconds(60)).conclude().toBuilder().conclude().parkMaxParkNanos())
                .as("toBuilder keeps it").isEqualTo(TimeUnit.SECONDS.toNanos(60));
    }

    @Test
    void threadedReactorsRunTasksAndTimedPollersInEveryIdleMode() throws Exception {
        for (IdleMode mode : IdleMode.values()) {
            ReactorGroup g = ReactorGroup.start(ReactorConfig.builder().mask("0x1").idle(mode).conclude());
            try {
                CountDownLatch ticks = new CountDownLatch(3);
                CountDownLatch task = new CountDownLatch(1);
                AtomicReference<String> thread = new AtomicReference<>();
                g.reactor(0).send(() -> g.reactor(0).registerPoller("tick", () -> {
                    ticks.countDown();
                    return 1;
                }, 1, TimeUnit.MILLISECONDS));
                g.reactor(0).send(() -> {
                    thread.set(Thread.currentThread().getName());
                    task.countDown();
                });
                assertThat(task.await(5, TimeUnit.SECONDS)).as(mode.name()).isTrue();
                assertThat(ticks.await(5, TimeUnit.SECONDS)).as(mode.name()).isTrue();
                assertThat(thread.get()).isEqualTo("reactor_0");
                ReactorStats s = g.reactor(0).stats();
                assertThat(s.loops()).isPositive();
                assertThat(s.tasksRun()).isGreaterThanOrEqualTo(2);
                // the counter is bumped just after the poller returns, so the third run may still be counting
                assertThat(s.pollerRuns()).isGreaterThanOrEqualTo(2);
                CountDownLatch gone = new CountDownLatch(1);
                g.reactor(0).send(() -> {
                    g.reactor(0).pollers().forEach(Poller::unregister);
                    gone.countDown();
                });
                assertThat(gone.await(5, TimeUnit.SECONDS)).isTrue();
            } finally {
                g.close();
            }
        }
    }
}
