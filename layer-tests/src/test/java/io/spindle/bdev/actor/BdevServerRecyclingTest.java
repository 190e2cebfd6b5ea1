package io.spindle.bdev.actor;

import io.spindle.bdev.actor.BdevServer.Command;
import io.spindle.bdev.actor.BdevServer.Shard;
import io.spindle.bdev.actor.BdevServer.Submit;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static io.spindle.bdev.actor.BdevServerBatchTest.T;
import static io.spindle.bdev.actor.BdevServerBatchTest.close;
import static io.spindle.bdev.actor.BdevServerBatchTest.collect;
import static io.spindle.bdev.actor.BdevServerBatchTest.server;
import static io.spindle.bdev.actor.BdevServerBatchTest.shards;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Recycling in the batched protocol: an {@link IoBatch} reset and submitted again once the server has taken it,
 * a {@link Completions} handed back to its shard with {@link Completions#recycle()}, the allocation that this
 * saves (none per I/O on the reactor in steady state), and the misuse that the rules detect. Two real reactors
 * with Malloc0, the leak check after each test.
 */
@Timeout(180)
class BdevServerRecyclingTest {
    /** This class's own kit: BdevServerBatchTest's is shut down when that class ends, whatever order the classes run in. */
    static final ActorTestKit kit = ActorTestKit.create("bdev-server-recycling-test");

    @AfterAll
    static void stopKit() {
        kit.shutdownTestKit();
    }

    // ------------------------------------------------------------------ allocation

    /** Drive a closed loop of {@code rounds} batches of {@code batch} reads to the shard on the requester's reactor. */
    record Go(Shard shard, int batch, int warmup, int measured, boolean recycle, CompletableFuture<long[]> done) {
    }

    /**
     * A requester on a reactor: one batch outstanding at a time; every entry checked to be answered exactly once
     * and successfully; the reactor thread's allocated bytes between the end of the warm-up and the last round.
     */
    static final class Loop extends AbstractBehavior<Object> {
        private static final com.sun.management.ThreadMXBean THREADS =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        private Go go;
        private IoBatch b;
        private int[] seenInRound;
        private int round;
        private int answered;
        private long startBytes;
        private long messages;
        private long failures;

        Loop(ActorContext<Object> ctx) {
            super(ctx);
        }

        @Override
        public Receive<Object> createReceive() {
            return newReceiveBuilder().onMessage(Go.class, this::onGo).onMessage(Completions.class, this::onCompletions).build();
        }

        private Behavior<Object> onGo(Go g) {
            go = g;
            seenInRound = new int[g.batch()];
            java.util.Arrays.fill(seenInRound, -1);
            b = new IoBatch(g.batch());
            submit();
            return Behaviors.same();
        }

        private void submit() {
            if (b.isSealed()) {
                b = go.recycle() ? b.reset() : new IoBatch(go.batch());
            }
            int n = go.batch();
            for (int k = 0; k < n; k++) {
                b.read(((long) round * n + k) % MallocSpindle.BLOCKS * MallocSpindle.BLOCK, MallocSpindle.BLOCK, k);
            }
            go.shard().ref().tell(new Submit(b, getContext().getSelf().narrow()));
        }

        private Behavior<Object> onCompletions(Completions c) {
            messages++;
            int n = c.size();
            for (int i = 0; i < n; i++) {
                int k = (int) c.tag(i);
                if (seenInRound[k] == round || !c.success(i)) {
                    failures++; // answered twice in one round, or failed
                }
                seenInRound[k] = round;
            }
            c.releaseAll();
            if (go.recycle()) {
                c.recycle();
            }
            answered += n;
            if (answered < go.batch()) {
                return Behaviors.same();
            }
            answered = 0;
            round++;
            if (round == go.warmup()) {
                startBytes = THREADS.getCurrentThreadAllocatedBytes();
                messages = 0;
            } else if (round == go.warmup() + go.measured()) {
                long bytes = THREADS.getCurrentThreadAllocatedBytes() - startBytes;
                go.done().complete(new long[]{bytes, go.measured(), messages, failures});
                return Behaviors.stopped(); // an actor on a reactor stops before Spindle does
            }
            submit();
            return Behaviors.same();
        }
    }

    /** Bytes allocated on the reactor thread per round (one batch and its answers), after a warm-up. */
    static double bytesPerRound(MallocSpindle s, Shard shard, int batch, boolean recycle) throws Exception {
        ActorRef<Object> r = kit.spawn(Behaviors.setup(Loop::new), "loop-" + batch + "-" + recycle, shard.reactor().dispatcher());
        CompletableFuture<long[]> done = new CompletableFuture<>();
        int warmup = 20_000;
        int measured = 5_000;
        r.tell(new Go(shard, batch, warmup, measured, recycle, done));
        long[] res = done.get(150, TimeUnit.SECONDS);
        kit.createTestProbe().expectTerminated(r, T);
        assertThat(res[3]).as("entries answered twice or failed").isZero();
        assertThat(res[2]).as("Completions messages").isGreaterThanOrEqualTo(measured);
        return (double) res[0] / res[1];
    }

    @Nested
    @DisplayName("allocation")
    class Allocation {
        @Test
        @DisplayName("a requester that resets its batch and recycles the replies allocates nothing per I/O on the reactor in steady state")
        void recycledProtocolAllocatesNothingPerIo() throws Exception {
            try (MallocSpindle s = new MallocSpindle("recycle-alloc")) {
                ActorRef<Command> server = server(kit, s, 256);
                Shard shard = shards(kit, server).get(0);
                double small = bytesPerRound(s, shard, 4, true);
                double large = bytesPerRound(s, shard, 64, true);
                // per round: the same two messages (Submit, Completions) whatever the batch size; what grows with
                // the batch is what is allocated per I/O
                double perIo = (large - small) / (64 - 4);
                System.out.printf("recycled: %.1f B per round at 4 entries, %.1f B at 64: %.3f B per I/O%n", small, large, perIo);
                assertThat(perIo).as("bytes per additional I/O (%.1f B/round at 4, %.1f at 64)", small, large).isLessThan(0.5);
                close(kit, server);
            }
        }

        @Test
        @DisplayName("the same loop with a new batch per submit and no recycling allocates per I/O (the measurement sees it)")
        void singleUseProtocolAllocatesPerIo() throws Exception {
            try (MallocSpindle s = new MallocSpindle("single-use-alloc")) {
                ActorRef<Command> server = server(kit, s, 256);
                Shard shard = shards(kit, server).get(0);
                double small = bytesPerRound(s, shard, 4, false);
                double large = bytesPerRound(s, shard, 64, false);
                double perIo = (large - small) / (64 - 4);
                System.out.printf("single use: %.1f B per round at 4 entries, %.1f B at 64: %.3f B per I/O%n", small, large, perIo);
                assertThat(perIo).as("the batch's and the reply's columns grow with the batch").isGreaterThan(8);
                close(kit, server);
            }
        }
    }

    // ------------------------------------------------------------------ IoBatch rules

    @Nested
    @DisplayName("IoBatch reuse")
    class BatchReuse {
        @Test
        @DisplayName("reset() before the server has taken the batch throws IllegalStateException; after an answer it empties the batch for the next submit")
        void resetOnlyOnceTaken() throws Exception {
            try (MallocSpindle s = new MallocSpindle("recycle-reset")) {
                ActorRef<Command> server = server(kit, s, 64);
                Shard shard = shards(kit, server).get(0);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch b = new IoBatch(8);
                assertThat(b.reset()).as("a batch never submitted may be reset").isSameAs(b);
                b.write(0, MallocSpindle.pattern(512, 1), 0).write(512, MallocSpindle.pattern(512, 2), 1);
                CountDownLatch release = s.blockReactors(); // the shard cannot take it yet
                try {
                    shard.ref().tell(new Submit(b, p.ref()));
                    assertThat(b.isTaken()).isFalse();
                    assertThatThrownBy(b::reset).isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining("not yet taken by the server").hasMessageContaining("size=2");
                    assertThatThrownBy(() -> new Submit(b, p.ref())).isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining("already submitted");
                    assertThatThrownBy(() -> b.read(0, 512, 9)).isInstanceOf(IllegalStateException.class).hasMessageContaining("sealed");
                } finally {
                    release.countDown();
                }
                Map<Long, BdevServerBatchTest.Entry> w = collect(p, 2);
                assertThat(w.values()).allMatch(e -> e.status() == IoStatus.SUCCESS);
                assertThat(b.isTaken()).isTrue();
                assertThat(b.reset()).isSameAs(b);
                assertThat(b.size()).isZero();
                assertThat(b.isSealed()).isFalse();
                assertThat(b.capacity()).isEqualTo(8);
                b.read(0, 512, 10).read(512, 512, 11);
                shard.ref().tell(new Submit(b, p.ref()));
                Map<Long, BdevServerBatchTest.Entry> r = collect(p, 2);
                assertThat(r.get(10L).data()).isEqualTo(MallocSpindle.pattern(512, 1));
                assertThat(r.get(11L).data()).isEqualTo(MallocSpindle.pattern(512, 2));
                close(kit, server);
            }
        }

        @Test
        @DisplayName("a Submit told a second time is answered with each entry refused EINVAL, naming the reuse; the first telling's answers are unaffected")
        void submitToldTwiceIsRefused() {
            try (MallocSpindle s = new MallocSpindle("recycle-twice")) {
                ActorRef<Command> server = server(kit, s, 64);
                Shard shard = shards(kit, server).get(0);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch b = new IoBatch(4);
                for (int k = 0; k < 4; k++) {
                    b.read(k * 512L, 512, k);
                }
                Submit sub = new Submit(b, p.ref());
                shard.ref().tell(sub);
                assertThat(collect(p, 4).values()).allMatch(e -> e.status() == IoStatus.SUCCESS);
                shard.ref().tell(sub); // the same Submit again: a sender bug
                Map<Long, BdevServerBatchTest.Entry> again = collect(p, 4);
                assertThat(again.values()).allMatch(e -> e.errno() == Errno.EINVAL && e.status() == null
                        && e.message().contains("this Submit was told before"));
                close(kit, server);
            }
        }
    }

    // ------------------------------------------------------------------ Completions rules

    @Nested
    @DisplayName("Completions recycling")
    class CompletionsRecycling {
        @Test
        @DisplayName("a recycled Completions throws IllegalStateException on every use, and the shard fills the same object again for its next reply")
        void useAfterRecycleThrowsAndTheObjectIsReused() {
            try (MallocSpindle s = new MallocSpindle("recycle-completions")) {
                ActorRef<Command> server = server(kit, s, 64);
                Shard shard = shards(kit, server).get(0);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch b = new IoBatch(4);
                for (int k = 0; k < 4; k++) {
                    b.read(k * 512L, 512, k);
                }
                shard.ref().tell(new Submit(b, p.ref()));
                Completions c = p.receiveMessage(T);
                assertThat(c.size()).as("one loop, one message").isEqualTo(4);
                int gen = c.generation();
                assertThat(c.releaseAll()).isEqualTo(4);
                assertThat(c.isRecycled()).isFalse();
                c.recycle(); // from the test thread: back to the shard through a task on its reactor
                assertThat(c.isRecycled()).isTrue();
                assertThatThrownBy(c::size).isInstanceOf(IllegalStateException.class).hasMessageContaining("used after recycle()");
                assertThatThrownBy(() -> c.tag(0)).isInstanceOf(IllegalStateException.class).hasMessageContaining("used after recycle()");
                assertThatThrownBy(() -> c.buffer(0)).isInstanceOf(IllegalStateException.class);
                assertThatThrownBy(c::releaseAll).isInstanceOf(IllegalStateException.class);
                assertThatThrownBy(c::recycle).isInstanceOf(IllegalStateException.class).hasMessageContaining("already recycled");
                assertThat(c.toString()).isEqualTo("Completions[recycled]");

                shard.ref().tell(new Submit(b.reset().read(4096, 512, 7), p.ref()));
                Completions next = p.receiveMessage(T);
                assertThat(next).as("the recycled object, filled again").isSameAs(c);
                assertThat(next.generation()).isEqualTo(gen + 1);
                assertThat(next.size()).isEqualTo(1);
                assertThat(next.tag(0)).isEqualTo(7);
                assertThat(next.success(0)).isTrue();
                next.releaseAll();
                next.recycle();
                close(kit, server);
            }
        }

        @Test
        @DisplayName("lent buffers outlive their recycled Completions: readable after recycle(), and released after it")
        void lentBuffersOutliveTheMessage() {
            try (MallocSpindle s = new MallocSpindle("recycle-lent")) {
                ActorRef<Command> server = server(kit, s, 64);
                Shard shard = shards(kit, server).get(1);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch w = new IoBatch(1).write(0, MallocSpindle.pattern(512, 5), 0);
                shard.ref().tell(new Submit(w, p.ref()));
                collect(p, 1);
                shard.ref().tell(new Submit(w.reset().read(0, 512, 1), p.ref()));
                Completions c = p.receiveMessage(T);
                LentBuffer buf = c.buffer(0);
                c.recycle();
                assertThat(buf.isReleased()).as("recycle() does not release the lent buffers").isFalse();
                assertThat(buf.toArray()).isEqualTo(MallocSpindle.pattern(512, 5));
                buf.release();
                close(kit, server);
            }
        }

        @Test
        @DisplayName("releaseAll() leaves alone a buffer released on its own and since lent to another reply")
        void releaseAllDoesNotReleaseABufferLentAgain() {
            try (MallocSpindle s = new MallocSpindle("recycle-relent")) {
                ActorRef<Command> server = server(kit, s, 64);
                Shard shard = shards(kit, server).get(0);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch w = new IoBatch(1).write(0, MallocSpindle.pattern(512, 9), 0);
                shard.ref().tell(new Submit(w, p.ref()));
                collect(p, 1);
                shard.ref().tell(new Submit(new IoBatch(1).read(0, 512, 1), p.ref()));
                Completions first = p.receiveMessage(T);
                LentBuffer buf = first.buffer(0);
                buf.release(); // on its own: one task back to the shard, queued before the next Submit reaches it
                shard.ref().tell(new Submit(new IoBatch(1).read(0, 512, 2), p.ref()));
                Completions second = p.receiveMessage(T);
                assertThat(second.buffer(0)).as("the pool lends the same buffer again (its free list is LIFO)").isSameAs(buf);
                assertThat(first.releaseAll()).as("the first reply's lending of it was released already").isZero();
                assertThat(buf.isReleased()).as("the second reply still holds it").isFalse();
                assertThat(second.buffer(0).toArray()).isEqualTo(MallocSpindle.pattern(512, 9));
                assertThat(second.releaseAll()).isEqualTo(1);
                close(kit, server);
            }
        }

        @Test
        @DisplayName("a Completions the server built itself (no shard to take the batch) may be recycled too: it is simply dropped")
        void serverBuiltRepliesRecycleToNothing() throws Exception {
            try (MallocSpindle s = new MallocSpindle("recycle-server-built")) {
                ActorRef<Command> server = server(kit, s, 64);
                shards(kit, server);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                TestProbe<BdevServer.Closed> closed = kit.createTestProbe(BdevServer.Closed.class);
                IoBatch b = new IoBatch(2).read(0, 512, 0).read(512, 512, 1);
                CountDownLatch release = s.blockReactors(); // the shards cannot close: the server stays closing
                Completions c;
                try {
                    server.tell(new BdevServer.Close(closed.ref()));
                    server.tell(new Submit(b, p.ref())); // after the Close in its mailbox: it answers every entry itself
                    c = p.receiveMessage(T);
                } finally {
                    release.countDown();
                }
                assertThat(c.size()).isEqualTo(2);
                assertThat(c.errno(0)).isEqualTo(Errno.ESHUTDOWN);
                assertThat(c.message(1)).contains("entry=1").contains("closing");
                assertThat(b.isTaken()).isTrue();
                c.recycle();
                assertThatThrownBy(() -> c.tag(0)).isInstanceOf(IllegalStateException.class);
                assertThat(b.reset().size()).isZero();
                closed.receiveMessage(T);
            }
        }
    }
}
