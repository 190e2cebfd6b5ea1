package io.spindle.examples.embedded;

import io.spindle.app.Spindle;
import io.spindle.app.SpindleApp;
import io.spindle.app.SpindleConfig;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.IoDeviceActor;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorConfig;
import io.spindle.runtime.ReactorStats;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Spindle's runtime inside your own Pekko app, narrated. Open this file first.
 *
 * <ol>
 *   <li>Your ActorSystem spawns Spindle as an ordinary child ({@link Spindle#create}); it starts one reactor
 *       thread per core of the mask and registers each as a Pekko dispatcher.</li>
 *   <li>A "counter" actor of yours is placed on reactor 1 with {@code reactor.dispatcher()}: it runs on
 *       thread {@code reactor_1} and nowhere else.</li>
 *   <li>That actor registers an io_device whose per-reactor channel context counts events; on each
 *       reactor a poller takes the channel and bumps the count on every loop.</li>
 *   <li>The actor walks the channels with {@code forEachChannel}: each hop runs on the channel's reactor and
 *       replies to the actor, which sums the counts into a context it alone owns.</li>
 *   <li>Teardown in the order Spindle enforces: pollers unregistered and channels put on their own
 *       reactors, then the io_device unregistered (the reply comes once every channel is destroyed), then
 *       Spindle stops (a last round over the reactors reports anything left), then your system.</li>
 * </ol>
 * Run it with {@code ./spindle example embedded};
 * its test, {@code EmbeddedRuntimeExampleTest}, runs the same story. It prints what happens and exits 0, or 1 on
 * an unexpected status.
 */
public final class EmbeddedRuntimeExample {
    private EmbeddedRuntimeExample() {
    }

    /** The channel context: one per (reactor, device), touched only by its reactor. */
    static final class Counter {
        long events;
    }

    /** Messages of the example's actor. */
    sealed interface Cmd permits Walk, Teardown, DeviceGone {
    }

    record Walk(CompletableFuture<Long> result) implements Cmd {
    }

    record Teardown(CompletableFuture<Void> done) implements Cmd {
    }

    record DeviceGone(IoDeviceActor.Unregistered reply) implements Cmd {
    }

    /** The walk's context: owned by the actor, never seen by a reactor. */
    static final class Sum {
        long total;
        final List<String> visited = new ArrayList<>();
    }

    static Behavior<Cmd> counterActor(Spindle spindle) {
        // FanOuts.originator makes this actor an originator of fan-outs: hop replies come back through its mailbox
        // and, when it stops, every walk still in flight releases its context here; nothing to write for either
        return FanOuts.originator(spindle.reactors(), (ctx, fanOuts) -> {
            Reactor home = Reactor.current(); // we run on reactor 1
            System.out.println("[actor] running on " + Thread.currentThread().getName() + " (reactor " + home.name() + ")");
            IoDevice<Counter> device = IoDevice.register(ctx, spindle.reactors(), "event_counter", new ChannelFactory<>() {
                @Override
                public Counter create(IoDevice<Counter> d, Reactor r) {
                    System.out.println("[" + r.name() + "] channel created");
                    return new Counter();
                }

                @Override
                public void destroy(IoDevice<Counter> d, Reactor r, Counter c) {
                    System.out.println("[" + r.name() + "] channel destroyed after " + c.events + " events");
                }
            });
            // one poller per reactor, each registered on its own reactor, holding that reactor's channel
            List<Poller> pollers = new ArrayList<>();
            List<IoChannel<Counter>> channels = new ArrayList<>();
            for (Reactor r : spindle.reactors().reactors()) {
                r.send(() -> {
                    IoChannel<Counter> ch = device.getChannel();
                    if (ch == null) {
                        System.out.println("[" + r.name() + "] no channel: device unregistered");
                        return;
                    }
                    Poller p = r.registerPoller("count_events", () -> {
                        ch.context().events++;
                        return 1;
                    });
                    synchronized (pollers) {
                        pollers.add(p);
                        channels.add(ch);
                    }
                });
            }
            ActorRef<IoDeviceActor.Unregistered> unregistered = ctx.messageAdapter(IoDeviceActor.Unregistered.class, DeviceGone::new);
            java.util.concurrent.atomic.AtomicReference<CompletableFuture<Void>> teardown = new java.util.concurrent.atomic.AtomicReference<>();
            return Behaviors.receive(Cmd.class)
                    .onMessage(Walk.class, m -> {
                        fanOuts.forEachChannel(device, new Sum(), new FanOuts.ChannelVisitor<Sum, Counter, Long>() {
                            @Override
                            public void visit(FanOuts.ChannelHop<Counter, Long> hop) {
                                hop.continueWalk(Errno.OK, hop.context().events); // on the channel's reactor
                            }

                            @Override
                            public void fold(Sum sum, Reactor r, Long events) {
                                sum.total += events; // on the actor
                                sum.visited.add(r.name());
                            }

                            @Override
                            public void complete(Sum sum, int status) {
                                System.out.println("[actor] walk visited " + sum.visited + ", status " + Errno.name(status));
                                m.result().complete(sum.total);
                            }
                        });
                        return Behaviors.same();
                    })
                    .onMessage(Teardown.class, m -> {
                        teardown.set(m.done());
                        // pollers and channels are undone on their own reactors
                        synchronized (pollers) {
                            for (int i = 0; i < pollers.size(); i++) {
                                Poller p = pollers.get(i);
                                IoChannel<Counter> ch = channels.get(i);
                                p.reactor().send(() -> {
                                    p.unregister();
                                    ch.put();
                                });
                            }
                        }
                        device.unregister(unregistered);
                        return Behaviors.same();
                    })
                    .onMessage(DeviceGone.class, m -> {
                        System.out.println("[actor] io_device " + m.reply().device() + " unregistered, status "
                                + Errno.name(m.reply().status()));
                        teardown.get().complete(null);
                        return Behaviors.stopped();
                    })
                    .build();
        });
    }

    /** Runs the example; exits with status 1 on an unexpected result. */
    public static void main(String[] args) throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory(); // initialise logging first: no SLF4J replay warning from Pekko's threads
        int exit = run("0x3");
        System.exit(exit);
    }

    /** The whole story; returns 0 on success. */
    public static int run(String mask) throws Exception {
        CompletableFuture<SpindleApp.StartResult> start = new CompletableFuture<>();
        ActorSystem<Void> system = ActorSystem.create(Behaviors.setup(ctx -> {
            ActorRef<SpindleApp.StartResult> listener = ctx.spawn(Behaviors.receive(SpindleApp.StartResult.class)
                    .onAnyMessage(r -> {
                        start.complete(r);
                        return Behaviors.same();
                    }).build(), "start-listener");
            ctx.spawn(Spindle.create(SpindleConfig.builder().name("embedded-example")
                    .reactor(ReactorConfig.builder().mask(mask).conclude()).conclude(), listener), "spindle");
            return Behaviors.empty();
        }), "my-app");
        try {
            SpindleApp.StartResult r = start.get(30, TimeUnit.SECONDS);
            if (!(r instanceof SpindleApp.Started started)) {
                System.out.println("Spindle did not start: " + ((SpindleApp.StartFailed) r).reason());
                return 1;
            }
            Spindle spindle = started.spindle();
            Reactor last = spindle.reactors().reactor(spindle.reactors().size() - 1);
            ActorRef<Cmd> actor = system.systemActorOf(counterActor(spindle), "counter", last.dispatcher());
            Thread.sleep(200);
            CompletableFuture<Long> total = new CompletableFuture<>();
            actor.tell(new Walk(total));
            long events = total.get(10, TimeUnit.SECONDS);
            System.out.println("[main] events counted on all reactors: " + (events > 0 ? "> 0" : "0 (unexpected)"));
            for (ReactorStats s : spindle.reactorStats().toCompletableFuture().get(10, TimeUnit.SECONDS)) {
                System.out.println("[main] " + s.name() + ": loops>0=" + (s.loops() > 0) + " active pollers=" + s.activePollers()
                        + " channels=" + s.channels());
            }
            CompletableFuture<Void> down = new CompletableFuture<>();
            actor.tell(new Teardown(down));
            down.get(10, TimeUnit.SECONDS);
            SpindleApp.Stopped stopped = spindle.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
            System.out.println("[main] Spindle stopped, clean=" + stopped.clean() + (stopped.leaks().isEmpty() ? "" : " " + stopped.leaks()));
            return events > 0 && stopped.clean() ? 0 : 1;
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
