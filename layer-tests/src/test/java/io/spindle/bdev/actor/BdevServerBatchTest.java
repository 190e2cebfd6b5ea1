package io.spindle.bdev.actor;

import io.spindle.bdev.actor.BdevServer.Close;
import io.spindle.bdev.actor.BdevServer.Closed;
import io.spindle.bdev.actor.BdevServer.Command;
import io.spindle.bdev.actor.BdevServer.GetShards;
import io.spindle.bdev.actor.BdevServer.Read;
import io.spindle.bdev.actor.BdevServer.ReadCompleted;
import io.spindle.bdev.actor.BdevServer.ReadResult;
import io.spindle.bdev.actor.BdevServer.Refused;
import io.spindle.bdev.actor.BdevServer.Shard;
import io.spindle.bdev.actor.BdevServer.Shards;
import io.spindle.bdev.actor.BdevServer.Submit;
import io.spindle.bdev.actor.BdevServer.Write;
import io.spindle.bdev.actor.BdevServer.WriteResult;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The batched protocol and the shards of {@link BdevServer}: {@link Submit} / {@link IoBatch} in,
 * {@link Completions} out, {@link LentBuffer}s for read data, {@link GetShards} and single requests sent to a
 * shard directly. Two real reactors with Malloc0 (512-byte blocks), driven from test probes in an
 * {@link ActorTestKit} system of its own. Every test ends with the leak check: a lent buffer not released, or
 * released twice into the pool, fails it.
 */
@Timeout(120)
class BdevServerBatchTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-server-batch-test");
    static final Duration T = Duration.ofSeconds(10);

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static ActorRef<Command> server(MallocSpindle s, int maxInFlight) {
        return server(kit, s, maxInFlight);
    }

    /** The helpers below with the actors and probes of another class's kit (each class shuts its own kit down). */
    static ActorRef<Command> server(ActorTestKit kit, MallocSpindle s, int maxInFlight) {
        return kit.spawn(BdevServer.create(s.layer, "Malloc0", maxInFlight), BdevServer.actorName("Malloc0"));
    }

    static List<Shard> shards(ActorRef<Command> server) {
        return shards(kit, server);
    }

    static List<Shard> shards(ActorTestKit kit, ActorRef<Command> server) {
        TestProbe<Shards> p = kit.createTestProbe(Shards.class);
        server.tell(new GetShards(p.ref()));
        Shards s = p.receiveMessage(T);
        assertThat(s.bdevName()).isEqualTo("Malloc0");
        return s.shards();
    }

    static void close(ActorRef<Command> server) {
        close(kit, server);
    }

    static void close(ActorTestKit kit, ActorRef<Command> server) {
        TestProbe<Closed> p = kit.createTestProbe(Closed.class);
        server.tell(new Close(p.ref()));
        assertThat(p.receiveMessage(T)).isEqualTo(new Closed("Malloc0"));
        p.expectTerminated(server, T);
    }

    /** One answered entry, copied out of its Completions. */
    record Entry(long tag, IoType type, long offset, long length, IoStatus status, int errno, String message, byte[] data) {
    }

    /**
     * Receives Completions until {@code n} entries arrived; fails on a tag seen twice; copies the lent data and
     * releases every buffer; then expects silence (no entry answered twice).
     */
    static Map<Long, Entry> collect(TestProbe<Completions> p, int n) {
        Map<Long, Entry> out = collectNow(p, n);
        p.expectNoMessage(Duration.ofMillis(200));
        return out;
    }

    /** {@link #collect} without the silence at the end (the next round's replies would break it). */
    static Map<Long, Entry> collectNow(TestProbe<Completions> p, int n) {
        Map<Long, Entry> out = new HashMap<>();
        int got = 0;
        while (got < n) {
            Completions c = p.receiveMessage(T);
            assertThat(c.size()).isPositive();
            for (int i = 0; i < c.size(); i++) {
                LentBuffer b = c.buffer(i);
                Entry e = new Entry(c.tag(i), c.type(i), c.offset(i), c.length(i), c.status(i), c.errno(i), c.message(i),
                        b == null ? null : b.toArray());
                assertThat(out.put(c.tag(i), e)).as("tag %d answered twice", c.tag(i)).isNull();
                got++;
            }
            c.releaseAll();
        }
        return out;
    }

    @Nested
    @DisplayName("Submit and Completions")
    class SubmitAndCompletions {
        @Test
        @DisplayName("every entry of every batch is answered exactly once, under its tag; writes read back through lent buffers")
        void everyEntryAnsweredOnceByTag() {
            try (MallocSpindle s = new MallocSpindle("batch-once")) {
                ActorRef<Command> server = server(s, 256);
                List<Shard> shards = shards(server);
                assertThat(shards).hasSize(2);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                // 4 batches of 16 writes, 2 per shard, distinct blocks
                for (int b = 0; b < 4; b++) {
                    IoBatch batch = new IoBatch(16);
                    for (int e = 0; e < 16; e++) {
                        int k = b * 16 + e;
                        batch.write(k * 4096L, MallocSpindle.pattern(4096, k), k);
                    }
                    shards.get(b % 2).ref().tell(new Submit(batch, p.ref()));
                }
                Map<Long, Entry> w = collect(p, 64);
                assertThat(w.keySet()).hasSize(64);
                assertThat(w.values()).allMatch(e -> e.status() == IoStatus.SUCCESS && e.errno() == 0 && e.type() == IoType.WRITE
                        && e.data() == null && e.message() == null);
                // read them all back in one batch through the server (forwarded whole to one shard)
                IoBatch rb = new IoBatch(64);
                for (int k = 0; k < 64; k++) {
                    rb.read(k * 4096L, 4096, 1000 + k);
                }
                server.tell(new Submit(rb, p.ref()));
                Map<Long, Entry> r = collect(p, 64);
                for (int k = 0; k < 64; k++) {
                    Entry e = r.get(1000L + k);
                    assertThat(e.status()).isEqualTo(IoStatus.SUCCESS);
                    assertThat(e.offset()).isEqualTo(k * 4096L);
                    assertThat(e.length()).isEqualTo(4096);
                    assertThat(e.data()).isEqualTo(MallocSpindle.pattern(4096, k));
                }
                close(server);
            }
        }

        @Test
        @DisplayName("entries with the caller's buffers: writes from them and reads into them, no copy and no lent buffer; a buffer too small is EINVAL")
        void callerSuppliedBuffers() {
            try (MallocSpindle s = new MallocSpindle("batch-own");
                 io.spindle.bdev.DmaBuffer src = io.spindle.bdev.DmaBuffer.allocate(16 * 4096, 4096);
                 io.spindle.bdev.DmaBuffer dst = io.spindle.bdev.DmaBuffer.allocate(16 * 4096, 4096)) {
                ActorRef<Command> server = server(s, 64);
                List<Shard> shards = shards(server);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                for (int k = 0; k < 16; k++) {
                    src.put(k * 4096L, MallocSpindle.pattern(4096, 40 + k));
                }
                IoBatch w = new IoBatch(16);
                for (int k = 0; k < 16; k++) {
                    w.write(k * 4096L, src, k * 4096L, 4096, k);
                }
                shards.get(0).ref().tell(new Submit(w, p.ref()));
                assertThat(collect(p, 16).values()).allMatch(e -> e.status() == IoStatus.SUCCESS && e.data() == null);
                IoBatch r = new IoBatch(17);
                for (int k = 0; k < 16; k++) {
                    r.read(k * 4096L, dst, (15 - k) * 4096L, 4096, 100 + k);
                }
                r.read(0, dst, 15 * 4096L + 512, 4096, 999); // does not fit in dst
                shards.get(1).ref().tell(new Submit(r, p.ref()));
                Map<Long, Entry> got = collect(p, 17);
                for (int k = 0; k < 16; k++) {
                    assertThat(got.get(100L + k).status()).isEqualTo(IoStatus.SUCCESS);
                    assertThat(got.get(100L + k).data()).as("no lent buffer: the data is in the caller's").isNull();
                    assertThat(dst.get((15 - k) * 4096L, 4096)).isEqualTo(MallocSpindle.pattern(4096, 40 + k));
                }
                assertThat(got.get(999L).errno()).isEqualTo(Errno.EINVAL);
                assertThat(got.get(999L).message()).contains("entry=16").contains("capacity=" + 16 * 4096);
                close(server);
            }
        }

        @Test
        @DisplayName("the entries of one batch that complete in the same reactor loop come back in one Completions message")
        void coalescedPerLoop() {
            try (MallocSpindle s = new MallocSpindle("batch-coalesce")) {
                ActorRef<Command> server = server(s, 256);
                Shard shard = shards(server).get(0);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch b = new IoBatch(32);
                for (int k = 0; k < 32; k++) {
                    b.read(k * 512L, 512, k);
                }
                shard.ref().tell(new Submit(b, p.ref()));
                // malloc copies in submit and the bdev layer completes on the next poll: one loop, one message
                Completions c = p.receiveMessage(T);
                assertThat(c.size()).isEqualTo(32);
                assertThat(c.releaseAll()).isEqualTo(32);
                assertThat(c.releaseAll()).isZero();
                p.expectNoMessage(Duration.ofMillis(200));
                close(server);
            }
        }

        @Test
        @DisplayName("Flush, Unmap and WriteZeroes entries run; zeroed ranges read back as zeroes")
        void otherTypes() {
            try (MallocSpindle s = new MallocSpindle("batch-types")) {
                ActorRef<Command> server = server(s, 64);
                Shard shard = shards(server).get(1);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch w = new IoBatch(1).write(0, MallocSpindle.pattern(16384, 3), 1);
                shard.ref().tell(new Submit(w, p.ref()));
                assertThat(collect(p, 1).get(1L).status()).isEqualTo(IoStatus.SUCCESS);
                IoBatch b = new IoBatch(3).flush(0, MallocSpindle.SIZE, 2).unmap(0, 4096, 3).writeZeroes(8192, 4096, 4);
                shard.ref().tell(new Submit(b, p.ref()));
                Map<Long, Entry> r = collect(p, 3);
                assertThat(r.get(2L).type()).isEqualTo(IoType.FLUSH);
                assertThat(r.get(3L).type()).isEqualTo(IoType.UNMAP);
                assertThat(r.get(4L).type()).isEqualTo(IoType.WRITE_ZEROES);
                assertThat(r.values()).allMatch(e -> e.status() == IoStatus.SUCCESS);
                shard.ref().tell(new Submit(new IoBatch(1).read(0, 16384, 5), p.ref()));
                byte[] expect = MallocSpindle.pattern(16384, 3);
                java.util.Arrays.fill(expect, 0, 4096, (byte) 0);
                java.util.Arrays.fill(expect, 8192, 12288, (byte) 0);
                assertThat(collect(p, 1).get(5L).data()).isEqualTo(expect);
                close(server);
            }
        }

        @Test
        @DisplayName("invalid entries are refused with EINVAL naming the entry, the field, the value and the bound; the valid ones run")
        void invalidEntries() {
            try (MallocSpindle s = new MallocSpindle("batch-inval")) {
                ActorRef<Command> server = server(s, 64);
                Shard shard = shards(server).get(0);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch b = new IoBatch(7)
                        .read(0, 512, 0)
                        .read(100, 512, 1)
                        .read(0, 700, 2)
                        .read(MallocSpindle.SIZE - 512, 1024, 3)
                        .read(0, BdevServer.MAX_TRANSFER + 512, 4)
                        .write(0, new byte[300], 5)
                        .unmap(-512, 512, 6);
                shard.ref().tell(new Submit(b, p.ref()));
                Map<Long, Entry> r = collect(p, 7);
                assertThat(r.get(0L).status()).isEqualTo(IoStatus.SUCCESS);
                assertInvalid(r.get(1L), "entry=1", "offset=100", "block_size=512");
                assertInvalid(r.get(2L), "entry=2", "length=700", "block_size=512");
                assertInvalid(r.get(3L), "entry=3", "length=1024", "size_bytes=" + MallocSpindle.SIZE);
                assertInvalid(r.get(4L), "entry=4", "<= " + BdevServer.MAX_TRANSFER);
                assertInvalid(r.get(5L), "entry=5", "data.length=300");
                assertInvalid(r.get(6L), "unmap", "entry=6", "offset=-512", ">= 0");
                // nothing of the refused entries stayed counted: the whole bound is available
                IoBatch full = new IoBatch(64);
                for (int k = 0; k < 64; k++) {
                    full.read(k * 512L, 512, 100 + k);
                }
                shard.ref().tell(new Submit(full, p.ref()));
                assertThat(collect(p, 64).values()).allMatch(e -> e.status() == IoStatus.SUCCESS);
                close(server);
            }
        }

        void assertInvalid(Entry e, String... parts) {
            assertThat(e.status()).isNull();
            assertThat(e.errno()).isEqualTo(Errno.EINVAL);
            assertThat(e.data()).isNull();
            assertThat(e.message()).contains("bdev=Malloc0").contains(parts);
        }

        @Test
        @DisplayName("a read-only server refuses write entries with EBADF and runs the reads")
        void readOnly() {
            try (MallocSpindle s = new MallocSpindle("batch-ro")) {
                ActorRef<Command> server = kit.spawn(BdevServer.create(s.layer, "Malloc0", 8, false));
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                server.tell(new Submit(new IoBatch(3).write(0, new byte[512], 1).writeZeroes(0, 512, 2).read(0, 512, 3), p.ref()));
                Map<Long, Entry> r = collect(p, 3);
                assertThat(r.get(1L).errno()).isEqualTo(Errno.EBADF);
                assertThat(r.get(1L).message()).contains("read-only");
                assertThat(r.get(2L).errno()).isEqualTo(Errno.EBADF);
                assertThat(r.get(3L).status()).isEqualTo(IoStatus.SUCCESS);
                close(server);
            }
        }

        @Test
        @DisplayName("a Submit seals its batch: adding to it or submitting it again throws; an empty batch cannot be submitted")
        void sealing() {
            IoBatch b = new IoBatch(2).read(0, 512, 1);
            assertThatThrownBy(() -> new Submit(new IoBatch(1), kit.createTestProbe(Completions.class).ref()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("size=0");
            new Submit(b, kit.createTestProbe(Completions.class).ref());
            assertThat(b.isSealed()).isTrue();
            assertThatThrownBy(() -> b.read(512, 512, 2)).isInstanceOf(IllegalStateException.class).hasMessageContaining("sealed");
            assertThatThrownBy(() -> new Submit(b, kit.createTestProbe(Completions.class).ref()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("already submitted");
        }

        @Test
        @DisplayName("IoBatch names its capacity bound; a full batch refuses another entry")
        void capacity() {
            assertThatThrownBy(() -> new IoBatch(0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("capacity=0").hasMessageContaining(String.valueOf(IoBatch.MAX_ENTRIES));
            assertThatThrownBy(() -> new IoBatch(IoBatch.MAX_ENTRIES + 1)).isInstanceOf(IllegalArgumentException.class);
            IoBatch b = new IoBatch(1).read(0, 512, 7);
            assertThat(b.isFull()).isTrue();
            assertThat(b.tag(0)).isEqualTo(7);
            assertThatThrownBy(() -> b.read(512, 512, 8)).isInstanceOf(IllegalStateException.class).hasMessageContaining("capacity=1: full");
            assertThatThrownBy(() -> b.tag(1)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Nested
    @DisplayName("Bounded in-flight under batching")
    class Bound {
        @Test
        @DisplayName("entries past maxInFlight are answered Busy (EBUSY naming max_in_flight) at once, nothing queued; the rest run")
        void busyPastTheBound() {
            try (MallocSpindle s = new MallocSpindle("batch-busy")) {
                ActorRef<Command> server = server(s, 4);
                Shard shard = shards(server).get(0);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch b = new IoBatch(10);
                for (int k = 0; k < 10; k++) {
                    b.read(k * 512L, 512, k);
                }
                shard.ref().tell(new Submit(b, p.ref()));
                Map<Long, Entry> r = collect(p, 10);
                for (long k = 0; k < 4; k++) {
                    assertThat(r.get(k).status()).isEqualTo(IoStatus.SUCCESS);
                }
                for (long k = 4; k < 10; k++) {
                    Entry e = r.get(k);
                    assertThat(e.status()).isNull();
                    assertThat(e.errno()).isEqualTo(Errno.EBUSY);
                    assertThat(e.message()).contains("entry=" + k).contains("max_in_flight=4");
                }
                close(server);
            }
        }

        @Test
        @DisplayName("slots are released just before the Completions is sent: resubmitting after each reply never sees Busy")
        void slotsReleasedBeforeTheReply() {
            try (MallocSpindle s = new MallocSpindle("batch-slots")) {
                ActorRef<Command> server = server(s, 8);
                Shard shard = shards(server).get(1);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                long tag = 0;
                for (int round = 0; round < 50; round++) {
                    IoBatch b = new IoBatch(8);
                    for (int k = 0; k < 8; k++) {
                        b.write((tag % 1024) * 4096L, MallocSpindle.pattern(512, k), tag++);
                    }
                    shard.ref().tell(new Submit(b, p.ref()));
                    assertThat(collectNow(p, 8).values()).allMatch(e -> e.status() == IoStatus.SUCCESS);
                }
                p.expectNoMessage(Duration.ofMillis(200));
                close(server);
            }
        }

        @Test
        @DisplayName("the server and its shards share one bound: slots held by forwarded single requests make a shard's entries Busy")
        void oneBoundForServerAndShards() {
            try (MallocSpindle s = new MallocSpindle("batch-shared-bound")) {
                ActorRef<Command> server = server(s, 2);
                Shard shard0 = shards(server).get(0);
                TestProbe<ReadResult> rp = kit.createTestProbe(ReadResult.class);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                CountDownLatch r0 = s.blockReactor(0);
                CountDownLatch r1 = s.blockReactor(1);
                try {
                    server.tell(new Read(0, 512, rp.ref()));   // forwarded to reactor 0
                    server.tell(new Read(512, 512, rp.ref())); // forwarded to reactor 1
                    server.tell(new Read(1024, 512, rp.ref()));
                    assertThat(rp.receiveMessage(T)).isInstanceOf(BdevServer.Busy.class); // both slots are taken
                    shard0.ref().tell(new Submit(new IoBatch(1).read(2048, 512, 9), p.ref()));
                    r0.countDown(); // reactor 0 runs its forwarded read, then the batch: no slot left (reactor 1 holds one)
                    Completions c = p.receiveMessage(T);
                    assertThat(c.size()).isEqualTo(1);
                    assertThat(c.isBusy(0)).isTrue();
                    assertThat(c.message(0)).contains("max_in_flight=2");
                    assertThat(rp.receiveMessage(T).success()).isTrue();
                } finally {
                    r0.countDown();
                    r1.countDown();
                }
                assertThat(rp.receiveMessage(T).success()).isTrue();
                close(server);
            }
        }

        @Test
        @DisplayName("a burst of batches far past the bound, from several requesters: exactly one answer per entry, only SUCCESS or Busy")
        void burstFromSeveralRequesters() {
            try (MallocSpindle s = new MallocSpindle("batch-burst")) {
                ActorRef<Command> server = server(s, 16);
                List<Shard> shards = shards(server);
                List<TestProbe<Completions>> probes = List.of(kit.createTestProbe(Completions.class), kit.createTestProbe(Completions.class),
                        kit.createTestProbe(Completions.class));
                for (int b = 0; b < 30; b++) {
                    IoBatch batch = new IoBatch(20);
                    for (int e = 0; e < 20; e++) {
                        long tag = b * 20L + e;
                        if (e % 2 == 0) {
                            batch.read((tag % 1024) * 4096L, 4096, tag);
                        } else {
                            batch.write((tag % 1024) * 4096L, MallocSpindle.pattern(4096, (int) tag), tag);
                        }
                    }
                    shards.get(b % 2).ref().tell(new Submit(batch, probes.get(b % 3).ref()));
                }
                int perProbe = 30 / 3 * 20;
                int ok = 0;
                for (TestProbe<Completions> p : probes) {
                    Map<Long, Entry> r = collect(p, perProbe);
                    assertThat(r).hasSize(perProbe);
                    for (Entry e : r.values()) {
                        assertThat(e.status() == IoStatus.SUCCESS || e.errno() == Errno.EBUSY).as(e.toString()).isTrue();
                        ok += e.status() == IoStatus.SUCCESS ? 1 : 0;
                    }
                }
                assertThat(ok).isGreaterThanOrEqualTo(16);
                close(server);
            }
        }

        @Test
        @DisplayName("entries beyond the reactor's bdev I/O pool (ENOMEM) wait on io_wait and all complete, none dropped")
        void ioPoolExhausted() throws Exception {
            try (MallocSpindle s = new MallocSpindle("batch-nomem", 16)) {
                ActorRef<Command> server = server(s, 1000);
                Shard shard = shards(server).get(0);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                IoBatch b = new IoBatch(300);
                for (int k = 0; k < 300; k++) {
                    b.write(k * 4096L % MallocSpindle.SIZE, MallocSpindle.pattern(4096, k), k);
                }
                shard.ref().tell(new Submit(b, p.ref()));
                assertThat(collect(p, 300).values()).allMatch(e -> e.status() == IoStatus.SUCCESS);
                close(server);
            }
        }
    }

    @Nested
    @DisplayName("LentBuffer")
    class Lent {
        /** One successful read of {@code length} bytes at 0 through a shard; the caller owns the returned message's buffer. */
        Completions readOne(Shard shard, TestProbe<Completions> p, int length) {
            shard.ref().tell(new Submit(new IoBatch(1).read(0, length, 1), p.ref()));
            Completions c = p.receiveMessage(T);
            assertThat(c.success(0)).isTrue();
            return c;
        }

        @Test
        @DisplayName("a lent buffer reads the data, and any use after its release throws; a second release throws")
        void useAfterRelease() {
            try (MallocSpindle s = new MallocSpindle("lent-use")) {
                ActorRef<Command> server = server(s, 8);
                TestProbe<WriteResult> wp = kit.createTestProbe(WriteResult.class);
                byte[] data = MallocSpindle.pattern(8192, 11);
                server.tell(new Write(0, data, wp.ref()));
                assertThat(wp.receiveMessage(T).success()).isTrue();
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                LentBuffer b = readOne(shards(server).get(0), p, 8192).buffer(0);
                assertThat(b.length()).isEqualTo(8192);
                assertThat(b.getByte(5)).isEqualTo(data[5]);
                byte[] part = new byte[100];
                b.getBytes(4000, part, 0, 100);
                assertThat(part).isEqualTo(java.util.Arrays.copyOfRange(data, 4000, 4100));
                assertThatThrownBy(() -> b.getBytes(8100, part, 0, 100)).isInstanceOf(IndexOutOfBoundsException.class)
                        .hasMessageContaining("data_length=8192");
                b.release(); // from the test thread: handed back through a task on the shard's reactor
                assertThat(b.isReleased()).isTrue();
                assertThatThrownBy(b::toArray).isInstanceOf(IllegalStateException.class).hasMessageContaining("after release");
                assertThatThrownBy(b::release).isInstanceOf(IllegalStateException.class).hasMessageContaining("already released");
                close(server);
            }
        }

        @Test
        @DisplayName("released buffers are reused: a steady stream of reads keeps the pool's buffer count flat")
        void releasedBuffersAreReused() {
            try (MallocSpindle s = new MallocSpindle("lent-reuse")) {
                ActorRef<Command> server = server(s, 8);
                Shard shard = shards(server).get(0);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                java.util.Set<Long> addresses = new java.util.HashSet<>();
                for (int i = 0; i < 50; i++) {
                    Completions c = readOne(shard, p, 4096);
                    addresses.add(c.buffer(0).address());
                    c.releaseAll();
                }
                // the release is a task queued behind nothing on an idle reactor: at most a couple of buffers in rotation
                assertThat(addresses.size()).isLessThanOrEqualTo(3);
                close(server);
            }
        }

        @Test
        @DisplayName("a buffer held across Close stays readable and is freed when released after Closed")
        void heldAcrossClose() {
            try (MallocSpindle s = new MallocSpindle("lent-close")) {
                ActorRef<Command> server = server(s, 8);
                TestProbe<WriteResult> wp = kit.createTestProbe(WriteResult.class);
                server.tell(new Write(0, MallocSpindle.pattern(4096, 2), wp.ref()));
                assertThat(wp.receiveMessage(T).success()).isTrue();
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                Completions c = readOne(shards(server).get(1), p, 4096);
                close(server);
                assertThat(s.layer.get("Malloc0").openDescriptors()).isZero();
                assertThat(c.buffer(0).toArray()).isEqualTo(MallocSpindle.pattern(4096, 2));
                assertThat(c.releaseAll()).isEqualTo(1); // the pool is closed: the buffer is freed (the leak check agrees)
            }
        }

        @Test
        @DisplayName("a buffer released after Spindle stopped (its reactor exited) is freed on the releasing thread")
        void releasedAfterSpindleStopped() {
            MallocSpindle s = new MallocSpindle("lent-exit");
            Completions c;
            try {
                ActorRef<Command> server = server(s, 8);
                c = readOne(shards(server).get(0), kit.createTestProbe(Completions.class), 4096);
                close(server);
            } finally {
                s.close(); // a clean stop while the buffer is out: it is the requester's, not the reactor's
            }
            assertThat(c.buffer(0).toArray()).hasSize(4096);
            c.buffer(0).release();
        }
    }

    @Nested
    @DisplayName("Shards")
    class ShardRefs {
        @Test
        @DisplayName("GetShards lists one shard per reactor in reactor order; onCurrentReactor finds the one of the calling reactor")
        void oneShardPerReactor() throws Exception {
            try (MallocSpindle s = new MallocSpindle("shards-list")) {
                ActorRef<Command> server = server(s, 8);
                TestProbe<Shards> p = kit.createTestProbe(Shards.class);
                server.tell(new GetShards(p.ref()));
                Shards sh = p.receiveMessage(T);
                assertThat(sh.shards()).extracting(Shard::index).containsExactly(0, 1);
                assertThat(sh.shards()).extracting(Shard::reactor).containsExactlyElementsOf(s.spindle.reactors().reactors());
                assertThat(sh.onCurrentReactor()).isNull(); // the test thread is no reactor
                CompletableFuture<Shard> seen = new CompletableFuture<>();
                s.spindle.reactors().reactor(1).send(() -> seen.complete(sh.onCurrentReactor()));
                assertThat(seen.get(10, TimeUnit.SECONDS)).isEqualTo(sh.shards().get(1));
                close(server);
            }
        }

        @Test
        @DisplayName("single Read and Write sent to a shard are answered as the server answers them, with the same validation")
        void singleRequestsToAShard() {
            try (MallocSpindle s = new MallocSpindle("shards-single")) {
                ActorRef<Command> server = server(s, 8);
                List<Shard> shards = shards(server);
                TestProbe<WriteResult> wp = kit.createTestProbe(WriteResult.class);
                TestProbe<ReadResult> rp = kit.createTestProbe(ReadResult.class);
                shards.get(0).ref().tell(new Write(4096, MallocSpindle.pattern(4096, 6), wp.ref()));
                assertThat(wp.receiveMessage(T)).isEqualTo(new BdevServer.Completed(IoType.WRITE, 4096, 4096, IoStatus.SUCCESS));
                shards.get(1).ref().tell(new Read(4096, 4096, rp.ref()));
                ReadCompleted r = (ReadCompleted) rp.receiveMessage(T);
                assertThat(r.data()).isEqualTo(MallocSpindle.pattern(4096, 6));
                shards.get(1).ref().tell(new Read(100, 512, rp.ref()));
                Refused f = (Refused) rp.receiveMessage(T);
                assertThat(f.errno()).isEqualTo(Errno.EINVAL);
                assertThat(f.message()).contains("bdev=Malloc0").contains("offset=100").contains("block_size=512").doesNotContain("entry=");
                close(server);
            }
        }

        @Test
        @DisplayName("single requests to a shard past the shared bound get Busy at once")
        void singleBusyAtAShard() {
            try (MallocSpindle s = new MallocSpindle("shards-busy")) {
                ActorRef<Command> server = server(s, 1);
                Shard shard1 = shards(server).get(1);
                TestProbe<ReadResult> rp = kit.createTestProbe(ReadResult.class);
                CountDownLatch r0 = s.blockReactor(0);
                try {
                    server.tell(new Read(0, 512, rp.ref())); // the first forwarded request goes to the parked reactor 0: holds the only slot
                    server.tell(new Read(512, 512, rp.ref()));
                    assertThat(rp.receiveMessage(T)).isInstanceOf(BdevServer.Busy.class); // so the server has counted the first
                    shard1.ref().tell(new Read(1024, 512, rp.ref()));
                    ReadResult busy = rp.receiveMessage(T);
                    assertThat(busy).isEqualTo(new BdevServer.Busy(IoType.READ, 1024, 1));
                } finally {
                    r0.countDown();
                }
                ReadResult first = rp.receiveMessage(T);
                assertThat(first.success()).isTrue();
                assertThat(first.offset()).isZero();
                close(server);
            }
        }

        @Test
        @DisplayName("a server for a bdev that does not exist has no shards and refuses batches with ENODEV")
        void noSuchBdev() {
            try (MallocSpindle s = new MallocSpindle("shards-nodev")) {
                ActorRef<Command> server = kit.spawn(BdevServer.create(s.layer, "Nope", 4));
                TestProbe<Shards> sp = kit.createTestProbe(Shards.class);
                server.tell(new GetShards(sp.ref()));
                assertThat(sp.receiveMessage(T).shards()).isEmpty();
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                server.tell(new Submit(new IoBatch(2).read(0, 512, 1).read(512, 512, 2), p.ref()));
                Map<Long, Entry> r = new HashMap<>();
                Completions c = p.receiveMessage(T);
                for (int i = 0; i < c.size(); i++) {
                    r.put(c.tag(i), new Entry(c.tag(i), c.type(i), c.offset(i), c.length(i), c.status(i), c.errno(i), c.message(i), null));
                }
                assertThat(r).hasSize(2);
                assertThat(r.values()).allMatch(e -> e.errno() == Errno.ENODEV && e.message().contains("no such bdev") && e.status() == null);
                TestProbe<Closed> cp = kit.createTestProbe(Closed.class);
                server.tell(new Close(cp.ref()));
                assertThat(cp.receiveMessage(T)).isEqualTo(new Closed("Nope"));
            }
        }
    }

    @Nested
    @DisplayName("Removal and close under batching")
    class Lifecycle {
        /** What a watching requester saw, in its mailbox's order: answers (tag, errno, status) and shard terminations. */
        record Seen(long tag, int errno, IoStatus status, ActorRef<?> terminated) {
        }

        /** A requester stand-in: the replyTo of the batches and the watcher of the shards, logging in arrival order. */
        Behavior<Object> watchingCollector(List<Shard> shards, java.util.Queue<Seen> log) {
            return Behaviors.setup(ctx -> {
                for (Shard sh : shards) {
                    ctx.watch(sh.ref());
                }
                return Behaviors.receive(Object.class)
                        .onMessage(Completions.class, c -> {
                            for (int i = 0; i < c.size(); i++) {
                                log.add(new Seen(c.tag(i), c.errno(i), c.status(i), null));
                            }
                            c.releaseAll();
                            return Behaviors.same();
                        })
                        .onSignal(org.apache.pekko.actor.typed.Terminated.class, t -> {
                            log.add(new Seen(-1, 0, null, t.getRef()));
                            return Behaviors.same();
                        })
                        .build();
            });
        }

        @Test
        @DisplayName("unregister under batched load: each entry answered at most once (SUCCESS, ABORTED or ENODEV), everything sent before "
                + "the unregister answered, nothing after a shard's Terminated; the shards stop, the server refuses")
        void unregisterUnderLoad() throws Exception {
            try (MallocSpindle s = new MallocSpindle("batch-unreg")) {
                ActorRef<Command> server = server(s, 4096);
                List<Shard> shards = shards(server);
                java.util.Queue<Seen> log = new java.util.concurrent.ConcurrentLinkedQueue<>();
                ActorRef<Object> collector = kit.spawn(watchingCollector(shards, log));
                ActorRef<Completions> replies = collector.narrow();
                Map<Long, Integer> shardOf = new HashMap<>();
                long sentBeforeUnregister = 0;
                int n = 0;
                CompletableFuture<Integer> unregistered = null;
                for (int b = 0; b < 40; b++) {
                    IoBatch batch = new IoBatch(16);
                    for (int e = 0; e < 16; e++, n++) {
                        batch.write((n % 512) * 8192L, MallocSpindle.pattern(8192, n), n);
                        shardOf.put((long) n, b % 2);
                    }
                    shards.get(b % 2).ref().tell(new Submit(batch, replies));
                    if (b == 10) {
                        sentBeforeUnregister = n;
                        unregistered = s.layer.unregister("Malloc0").toCompletableFuture();
                    } else if (b > 10) {
                        Thread.sleep(1); // let later batches meet draining, closed and stopped shards
                    }
                }
                assertThat(unregistered.get(10, TimeUnit.SECONDS)).isZero();
                org.awaitility.Awaitility.await().atMost(T).until(() -> log.stream().filter(x -> x.terminated() != null).count() == 2);
                Map<Long, Seen> answered = new HashMap<>();
                java.util.Set<Integer> terminatedShards = new java.util.HashSet<>();
                for (Seen x : log) {
                    if (x.terminated() != null) {
                        terminatedShards.add(x.terminated().equals(shards.get(0).ref()) ? 0 : 1);
                        continue;
                    }
                    assertThat(answered.put(x.tag(), x)).as("tag %d answered twice", x.tag()).isNull();
                    assertThat(terminatedShards).as("tag %d answered after its shard's Terminated", x.tag())
                            .doesNotContain(shardOf.get(x.tag()));
                    String kind = x.status() != null ? x.status().name() : Errno.name(x.errno());
                    assertThat(kind).isIn("SUCCESS", "ABORTED", Errno.name(Errno.ENODEV));
                }
                for (long t = 0; t < sentBeforeUnregister; t++) {
                    assertThat(answered).as("tag %d, sent before the unregister", t).containsKey(t);
                }
                assertThat(shards(server)).isEmpty();
                TestProbe<ReadResult> rp = kit.createTestProbe(ReadResult.class);
                server.tell(new Read(0, 512, rp.ref()));
                assertThat(((Refused) rp.receiveMessage(T)).errno()).isEqualTo(Errno.ENODEV);
                TestProbe<Completions> p2 = kit.createTestProbe(Completions.class);
                server.tell(new Submit(new IoBatch(1).read(0, 512, 1), p2.ref()));
                Completions c = p2.receiveMessage(T);
                assertThat(c.errno(0)).isEqualTo(Errno.ENODEV);
                assertThat(c.message(0)).contains("removed");
                kit.stop(collector, T);
                close(server);
            }
        }

        /**
         * The reactors are parked from just before the Close until everything below was sent: the shards cannot
         * close (their shutdown tasks wait behind the park), so the server cannot have finished closing, and
         * stopped, before the test's last message reaches it; a message to a stopped server is a dead letter, and
         * an unparked close can be done before the sender's next tell when that thread is preempted. The batches
         * sent to the shards after the Close race the shutdown tasks on the reactors' queues: each entry runs or is
         * refused ESHUTDOWN, and all of them are answered before Closed. {@link BdevServerShardLifecycleTest} sets
         * up the orderings one by one.
         */
        @Test
        @DisplayName("Close answers everything sent to the shards before they closed, run or ESHUTDOWN, before Closed is sent; a batch "
                + "sent to the closing server gets ESHUTDOWN; then the server stops")
        void closeAnswersFirst() {
            try (MallocSpindle s = new MallocSpindle("batch-close")) {
                ActorRef<Command> server = server(s, 1024);
                List<Shard> shards = shards(server);
                TestProbe<Object> p = kit.createTestProbe();
                ActorRef<Completions> replies = p.ref().narrow();
                ActorRef<Closed> closed = p.ref().narrow();
                for (int b = 0; b < 8; b++) {
                    shards.get(b % 2).ref().tell(new Submit(reads(b), replies));
                }
                CountDownLatch release = s.blockReactors();
                server.tell(new Close(closed));
                server.tell(new Submit(new IoBatch(1).read(0, 512, 999), replies));
                for (int b = 8; b < 16; b++) {
                    shards.get(b % 2).ref().tell(new Submit(reads(b), replies));
                }
                release.countDown();
                // tag -> errno, everything that arrived before Closed
                Map<Long, Integer> seen = new HashMap<>();
                while (true) {
                    Object m = p.receiveMessage(T);
                    if (m instanceof Closed) {
                        break;
                    }
                    Completions c = (Completions) m;
                    for (int i = 0; i < c.size(); i++) {
                        assertThat(seen.put(c.tag(i), c.errno(i))).as("tag %d answered twice", c.tag(i)).isNull();
                    }
                    c.releaseAll();
                }
                for (long t = 0; t < 16 * 32; t++) {
                    assertThat(seen.get(t)).as("tag %d, answered before Closed", t).isIn(0, Errno.ESHUTDOWN);
                }
                assertThat(seen.get(999L)).isEqualTo(Errno.ESHUTDOWN);
                assertThat(seen).hasSize(16 * 32 + 1);
                p.expectTerminated(server, T);
                p.expectNoMessage(Duration.ofMillis(200));
            }
        }

        /** 32 reads of 4 KiB, tags {@code b * 32} to {@code b * 32 + 31}, at distinct offsets. */
        IoBatch reads(int b) {
            IoBatch batch = new IoBatch(32);
            for (int e = 0; e < 32; e++) {
                batch.read(((b * 32L + e) % 1024) * 4096L, 4096, b * 32L + e);
            }
            return batch;
        }

        @Test
        @DisplayName("Spindle stopped while a server with shards runs: the shards close and stop on their reactors, the stop is clean")
        void spindleStopsUnderTheShards() {
            MallocSpindle s = new MallocSpindle("batch-fini");
            ActorRef<Command> server;
            List<Shard> shards;
            TestProbe<Object> watcher = kit.createTestProbe();
            try {
                server = server(s, 16);
                shards = shards(server);
                TestProbe<Completions> p = kit.createTestProbe(Completions.class);
                shards.get(0).ref().tell(new Submit(new IoBatch(1).read(0, 512, 1), p.ref()));
                p.receiveMessage(T).releaseAll();
            } finally {
                s.close(); // asserts a clean stop
            }
            watcher.expectTerminated(shards.get(0).ref(), T);
            watcher.expectTerminated(shards.get(1).ref(), T);
            close(server);
        }
    }

    /** A requester actor placed on a reactor next to its shard: the intended fast path, end to end. */
    @Nested
    @DisplayName("A requester on a reactor")
    class OnReactor {
        record Go(Shards shards, CompletableFuture<Integer> done) {
        }

        /** Reads the first 64 blocks through its own reactor's shard, releasing each buffer; completes with the count. */
        Behavior<Object> requester() {
            return Behaviors.setup(ctx -> Behaviors.receive(Object.class)
                    .onMessage(Go.class, g -> {
                        Shard mine = g.shards().onCurrentReactor();
                        if (mine == null) {
                            g.done().completeExceptionally(new AssertionError("not on a reactor of the server"));
                            return Behaviors.stopped();
                        }
                        IoBatch b = new IoBatch(64);
                        for (int k = 0; k < 64; k++) {
                            b.read(k * 512L, 512, k);
                        }
                        mine.ref().tell(new Submit(b, ctx.getSelf().narrow()));
                        int[] got = {0};
                        return Behaviors.receive(Object.class).onMessage(Completions.class, c -> {
                            got[0] += c.size();
                            for (int i = 0; i < c.size(); i++) {
                                c.buffer(i).release(); // on the shard's own reactor: straight back to the pool
                            }
                            if (got[0] == 64) {
                                g.done().complete(got[0]);
                                return Behaviors.stopped(); // an actor on a reactor stops before Spindle does
                            }
                            return Behaviors.same();
                        }).build();
                    }).build());
        }

        @Test
        @DisplayName("an actor spawned with reactor.dispatcher() finds its neighbour shard and reads through it")
        void endToEnd() throws Exception {
            try (MallocSpindle s = new MallocSpindle("batch-on-reactor")) {
                ActorRef<Command> server = server(s, 64);
                TestProbe<Shards> sp = kit.createTestProbe(Shards.class);
                server.tell(new GetShards(sp.ref()));
                Shards sh = sp.receiveMessage(T);
                ActorRef<Object> r = kit.spawn(requester(), "requester-on-reactor-1", s.spindle.reactors().reactor(1).dispatcher());
                CompletableFuture<Integer> done = new CompletableFuture<>();
                r.tell(new Go(sh, done));
                assertThat(done.get(10, TimeUnit.SECONDS)).isEqualTo(64);
                kit.createTestProbe().expectTerminated(r, T);
                close(server);
            }
        }
    }
}
