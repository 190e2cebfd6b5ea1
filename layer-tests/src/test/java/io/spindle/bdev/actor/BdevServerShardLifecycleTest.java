package io.spindle.bdev.actor;

import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.Bdev;
import io.spindle.backends.BackendHarness;
import io.spindle.bdev.actor.BdevServer.Close;
import io.spindle.bdev.actor.BdevServer.Closed;
import io.spindle.bdev.actor.BdevServer.Command;
import io.spindle.bdev.actor.BdevServer.GetShards;
import io.spindle.bdev.actor.BdevServer.Shard;
import io.spindle.bdev.actor.BdevServer.Shards;
import io.spindle.bdev.actor.BdevServer.Submit;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A shard's close against the messages already in its actor's mailbox, on manual reactors (one task per step),
 * so that each ordering is set up exactly rather than hit by luck: a {@link Submit} queued to a shard behind the
 * server's shutdown task, a {@code Submit} the server forwards to a shard that has just closed, and a server
 * stopped without {@link Close}. In every case each entry is answered exactly once, before the {@code Closed}
 * and before the shard's {@code Terminated}.
 */
@Timeout(60)
class BdevServerShardLifecycleTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-server-shard-lifecycle-test");
    static final Duration T = Duration.ofSeconds(10);
    /** How long a server on a Pekko thread is given to act wrongly before the test steps the reactors again. */
    static final long SETTLE_MS = 300;

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** What the requester saw, in its mailbox's order: an answer, the Closed, or a watched actor's termination. */
    record Seen(long tag, int errno, IoStatus status, boolean closed, ActorRef<?> terminated) {
        boolean answer() {
            return !closed && terminated == null;
        }
    }

    /** A requester: the replyTo of the batches and of Close, watching {@code watched}, logging in arrival order. */
    static Behavior<Object> requester(List<ActorRef<?>> watched, Queue<Seen> log) {
        return Behaviors.setup(ctx -> {
            for (ActorRef<?> r : watched) {
                ctx.watch(r);
            }
            return Behaviors.receive(Object.class)
                    .onMessage(Completions.class, c -> {
                        for (int i = 0; i < c.size(); i++) {
                            log.add(new Seen(c.tag(i), c.errno(i), c.status(i), false, null));
                        }
                        c.releaseAll();
                        return Behaviors.same();
                    })
                    .onMessage(Closed.class, c -> {
                        log.add(new Seen(-1, 0, null, true, null));
                        return Behaviors.same();
                    })
                    .onSignal(Terminated.class, t -> {
                        log.add(new Seen(-1, 0, null, false, t.getRef()));
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    static Submit reads(int n, ActorRef<Object> replyTo) {
        IoBatch b = new IoBatch(n);
        for (int k = 0; k < n; k++) {
            b.read(k * 512L, 512, k);
        }
        return new Submit(b, replyTo.narrow());
    }

    /** The shards of a server on a Pekko thread, without stepping the reactors. */
    static List<Shard> shards(ActorRef<Command> server) {
        TestProbe<Shards> p = kit.createTestProbe(Shards.class);
        server.tell(new GetShards(p.ref()));
        return p.receiveMessage(T).shards();
    }

    /** The shards of a server on a reactor, stepping the reactors until it answered. */
    static List<Shard> shards(BackendHarness h, ActorRef<Command> server) {
        Shards s = h.await(AskPattern.<Command, Shards>ask(server, GetShards::new, T, kit.scheduler()));
        return s.shards();
    }

    static long answers(Queue<Seen> log) {
        return log.stream().filter(Seen::answer).count();
    }

    /** Index in the log of the first entry matching, or -1. */
    static int indexOf(Queue<Seen> log, java.util.function.Predicate<Seen> p) {
        List<Seen> l = new ArrayList<>(log);
        for (int i = 0; i < l.size(); i++) {
            if (p.test(l.get(i))) {
                return i;
            }
        }
        return -1;
    }

    static void settle() {
        try {
            Thread.sleep(SETTLE_MS); // the server runs on a Pekko thread: a window for it to act wrongly (see SETTLE_MS)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    @DisplayName("Close while a Submit waits in a shard's mailbox behind the shutdown task: the shard closes first, the Submit is still "
            + "answered (ESHUTDOWN, each entry once), and only then come Closed and the server's stop")
    void closeWaitsForTheSubmitsQueuedToItsShards() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            ActorRef<Command> server = kit.spawn(BdevServer.create(h.layer, "Malloc0", 16), BdevServer.actorName("Malloc0"));
            Bdev bdev = h.layer.get("Malloc0");
            Shard shard = shards(server).get(0);
            Queue<Seen> log = new ConcurrentLinkedQueue<>();
            ActorRef<Object> requester = kit.spawn(requester(List.of(), log));
            h.poll(); // the open, the shard actor's start and the attach
            TestProbe<Object> watcher = kit.createTestProbe();

            server.tell(new Close(requester.narrow()));
            shards(server); // answered after the Close was handled: the shutdown task is on reactor_0 now
            shard.ref().tell(reads(4, requester)); // its mailbox run is queued behind the shutdown task
            h.group.pollOnce(0); // one task: the shutdown; nothing is outstanding, so the shard closes at once
            settle();
            assertThat(log).as("nothing may be answered or Closed while the Submit is still in the shard's mailbox").isEmpty();

            h.group.pollUntil(() -> log.stream().anyMatch(Seen::closed), T);
            assertThat(answers(log)).isEqualTo(4);
            assertThat(log.stream().filter(Seen::answer)).allMatch(x -> x.errno() == Errno.ESHUTDOWN && x.status() == null);
            assertThat(log.stream().filter(Seen::answer).map(Seen::tag).distinct()).hasSize(4);
            assertThat(indexOf(log, Seen::closed)).as("Closed after every answer").isEqualTo(4);
            watcher.expectTerminated(server, T);
            assertThat(bdev.openDescriptors()).as("the descriptor was closed").isZero();
            kit.stop(requester);
        }
    }

    @Test
    @DisplayName("a Submit the server forwards to a shard that closed on REMOVE before the server heard of it is answered ENODEV, "
            + "not lost with the shard actor's stop")
    void submitForwardedToAJustClosedShardIsAnswered() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64)) {
            Bdev bdev = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            // the server itself on reactor_1: the test decides when it reads its mailbox
            ActorRef<Command> server = kit.spawn(BdevServer.create(h.layer, "Malloc0", 16), BdevServer.actorName("Malloc0"),
                    h.group.reactor(1).dispatcher());
            List<Shard> shards = shards(h, server);
            assertThat(shards).hasSize(2);
            Queue<Seen> log = new ConcurrentLinkedQueue<>();
            ActorRef<Object> requester = kit.spawn(requester(List.of(shards.get(0).ref()), log));
            h.poll();
            assertThat(bdev.openDescriptors()).isEqualTo(2);

            CompletableFuture<Integer> unregistered = h.layer.unregister("Malloc0").toCompletableFuture();
            // step one task at a time until the REMOVEs are sent (the channel walk before it needs both reactors)
            for (int i = 0; i < 10_000 && bdev.status() != Bdev.Status.REMOVING; i++) {
                h.group.pollOnce(i % 2);
            }
            assertThat(bdev.status()).isEqualTo(Bdev.Status.REMOVING);
            assertThat(bdev.openDescriptors()).as("no REMOVE handled yet").isEqualTo(2);
            server.tell(reads(4, requester)); // waits in the server's mailbox, on reactor_1; round-robin picks shard 0
            for (int i = 0; i < 1000 && bdev.openDescriptors() == 2; i++) {
                h.group.pollOnce(0); // reactor_0 only: shard 0 takes its REMOVE and closes; its ShardClosed waits behind the Submit
            }
            assertThat(bdev.openDescriptors()).as("shard 0 closed").isEqualTo(1);
            // reactor_1 only: shard 1 closes too, and the server reads its mailbox: the Submit first (shard 0 is still live
            // in its view, and its actor has not stopped yet: the Stop waits on reactor_0), then the ShardClosed
            h.group.pollUntilIdle(1);
            h.group.pollUntil(() -> answers(log) == 4 && log.stream().anyMatch(x -> x.terminated() != null), T);
            assertThat(log.stream().filter(Seen::answer)).allMatch(x -> x.errno() == Errno.ENODEV);
            assertThat(log.stream().filter(Seen::answer).map(Seen::tag).distinct()).hasSize(4);
            assertThat(h.await(unregistered)).isZero();

            CompletableFuture<Closed> closed = AskPattern.<Command, Closed>ask(server, Close::new, T, kit.scheduler()).toCompletableFuture();
            h.await(closed);
            kit.stop(requester);
        }
    }

    @Test
    @DisplayName("a server stopped without Close: a Submit already in its shard's mailbox is answered, and every answer reaches the "
            + "watching requester before the shard's Terminated")
    void serverStoppedAbruptlyStillAnswersWhatItsShardsHold() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            CompletableFuture<ActorRef<Command>> spawned = new CompletableFuture<>();
            // a parent that stops the server on any message: ActorContext.stop, no Close
            ActorRef<String> parent = kit.spawn(Behaviors.<String>setup(ctx -> {
                ActorRef<Command> s = ctx.spawn(BdevServer.create(h.layer, "Malloc0", 16), BdevServer.actorName("Malloc0"));
                spawned.complete(s);
                return Behaviors.receiveMessage(m -> {
                    ctx.stop(s);
                    return Behaviors.same();
                });
            }));
            ActorRef<Command> server = spawned.join();
            Shard shard = shards(server).get(0);
            Queue<Seen> log = new ConcurrentLinkedQueue<>();
            ActorRef<Object> requester = kit.spawn(requester(List.of(shard.ref()), log));
            h.poll(); // the open, the start, the attach and the requester's watch
            TestProbe<Object> watcher = kit.createTestProbe();

            shard.ref().tell(reads(4, requester)); // queued: its mailbox run waits on reactor_0
            parent.tell("stop");
            watcher.expectTerminated(server, T); // the server does not wait for its shards
            settle();
            h.group.pollUntil(() -> log.stream().anyMatch(x -> x.terminated() != null), T);
            int terminatedAt = indexOf(log, x -> x.terminated() != null);
            assertThat(terminatedAt).as("every answer before the shard's Terminated").isEqualTo(4);
            assertThat(log.stream().filter(Seen::answer).map(Seen::tag).distinct()).hasSize(4);
            assertThat(log.stream().filter(Seen::answer))
                    .allMatch(x -> (x.errno() == 0 && x.status() == IoStatus.SUCCESS) || x.errno() == Errno.ESHUTDOWN);
            kit.stop(requester);
            kit.stop(parent);
        }
    }
}
