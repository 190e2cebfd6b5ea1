package io.spindle.bdev.actor;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.actor.BdevServer.Busy;
import io.spindle.bdev.actor.BdevServer.Close;
import io.spindle.bdev.actor.BdevServer.Closed;
import io.spindle.bdev.actor.BdevServer.Command;
import io.spindle.bdev.actor.BdevServer.Completed;
import io.spindle.bdev.actor.BdevServer.Flush;
import io.spindle.bdev.actor.BdevServer.Read;
import io.spindle.bdev.actor.BdevServer.ReadCompleted;
import io.spindle.bdev.actor.BdevServer.ReadResult;
import io.spindle.bdev.actor.BdevServer.Refused;
import io.spindle.bdev.actor.BdevServer.Reply;
import io.spindle.bdev.actor.BdevServer.Unmap;
import io.spindle.bdev.actor.BdevServer.Write;
import io.spindle.bdev.actor.BdevServer.WriteResult;
import io.spindle.bdev.actor.BdevServer.WriteZeroes;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link BdevServer} on two real reactors with Malloc0, driven by messages from test probes in an
 * {@link ActorTestKit} system of its own (not Spindle's).
 */
@Timeout(120)
class BdevServerTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-server-test");
    static final Duration T = Duration.ofSeconds(10);

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static ActorRef<Command> server(MallocSpindle s, int maxInFlight) {
        return kit.spawn(BdevServer.create(s.layer, "Malloc0", maxInFlight), BdevServer.actorName("Malloc0"));
    }

    /** The shards of a server (one per reactor), to send requests to a reactor's mailbox directly. */
    static List<BdevServer.Shard> shards(ActorRef<Command> server) {
        TestProbe<BdevServer.Shards> p = kit.createTestProbe(BdevServer.Shards.class);
        server.tell(new BdevServer.GetShards(p.ref()));
        return p.receiveMessage(T).shards();
    }

    /** Close, await Closed and the server's termination. */
    static void close(ActorRef<Command> server) {
        TestProbe<Closed> p = kit.createTestProbe(Closed.class);
        server.tell(new Close(p.ref()));
        assertThat(p.receiveMessage(T)).isEqualTo(new Closed("Malloc0"));
        p.expectTerminated(server, T);
    }

    static Completed write(ActorRef<Command> server, long offset, byte[] data) {
        TestProbe<WriteResult> p = kit.createTestProbe(WriteResult.class);
        server.tell(new Write(offset, data, p.ref()));
        return (Completed) p.receiveMessage(T);
    }

    static ReadCompleted read(ActorRef<Command> server, long offset, int length) {
        TestProbe<ReadResult> p = kit.createTestProbe(ReadResult.class);
        server.tell(new Read(offset, length, p.ref()));
        return (ReadCompleted) p.receiveMessage(T);
    }

    static Refused refusedRead(ActorRef<Command> server, long offset, int length) {
        TestProbe<ReadResult> p = kit.createTestProbe(ReadResult.class);
        server.tell(new Read(offset, length, p.ref()));
        return (Refused) p.receiveMessage(T);
    }

    static Refused refusedWrite(ActorRef<Command> server, Command request, TestProbe<WriteResult> p) {
        server.tell(request);
        return (Refused) p.receiveMessage(T);
    }

    @Nested
    @DisplayName("Read and Write")
    class ReadWrite {
        @Test
        @DisplayName("what is written through messages reads back, on both reactors (round-robin)")
        void writeThenReadBack() {
            try (MallocSpindle s = new MallocSpindle("srv-rw")) {
                ActorRef<Command> server = server(s, 16);
                for (int i = 0; i < 8; i++) {
                    Completed c = write(server, i * 8192L, MallocSpindle.pattern(4096, i));
                    assertThat(c).isEqualTo(new Completed(IoType.WRITE, i * 8192L, 4096, IoStatus.SUCCESS));
                    assertThat(c.success()).isTrue();
                }
                for (int i = 0; i < 8; i++) {
                    ReadCompleted r = read(server, i * 8192L, 4096);
                    assertThat(r.status()).isEqualTo(IoStatus.SUCCESS);
                    assertThat(r.offset()).isEqualTo(i * 8192L);
                    assertThat(r.data()).isEqualTo(MallocSpindle.pattern(4096, i));
                }
                close(server);
            }
        }

        @Test
        @DisplayName("transfers of every size class and beyond 128 KiB (temporary buffer) round-trip; each reply owns its array")
        void sizes() {
            try (MallocSpindle s = new MallocSpindle("srv-sizes")) {
                ActorRef<Command> server = server(s, 16);
                int[] lengths = {512, 4096, 12288, 65536, 131072, 131072 + 512, 1 << 20};
                for (int n = 0; n < lengths.length; n++) {
                    byte[] data = MallocSpindle.pattern(lengths[n], n + 100);
                    assertThat(write(server, 1L << 20, data).status()).isEqualTo(IoStatus.SUCCESS);
                    ReadCompleted a = read(server, 1L << 20, lengths[n]);
                    ReadCompleted b = read(server, 1L << 20, lengths[n]);
                    assertThat(a.data()).isEqualTo(data);
                    assertThat(b.data()).isEqualTo(data).isNotSameAs(a.data());
                    a.data()[0] ^= 1; // the receiver owns it: changing it touches nothing else
                    assertThat(read(server, 1L << 20, lengths[n]).data()).isEqualTo(data);
                }
                close(server);
            }
        }

        @Test
        @DisplayName("Flush succeeds; after WriteZeroes and after Unmap (malloc zeroes) the range reads back as zeroes")
        void flushUnmapWriteZeroes() {
            try (MallocSpindle s = new MallocSpindle("srv-fuz")) {
                ActorRef<Command> server = server(s, 16);
                TestProbe<WriteResult> p = kit.createTestProbe(WriteResult.class);
                write(server, 0, MallocSpindle.pattern(65536, 1));

                server.tell(new Flush(0, MallocSpindle.SIZE, p.ref()));
                assertThat(p.receiveMessage(T)).isEqualTo(new Completed(IoType.FLUSH, 0, MallocSpindle.SIZE, IoStatus.SUCCESS));

                server.tell(new WriteZeroes(4096, 8192, p.ref()));
                assertThat(p.receiveMessage(T)).isEqualTo(new Completed(IoType.WRITE_ZEROES, 4096, 8192, IoStatus.SUCCESS));
                byte[] expect = MallocSpindle.pattern(65536, 1);
                java.util.Arrays.fill(expect, 4096, 4096 + 8192, (byte) 0);
                assertThat(read(server, 0, 65536).data()).isEqualTo(expect);

                server.tell(new Unmap(32768, 16384, p.ref()));
                assertThat(p.receiveMessage(T)).isEqualTo(new Completed(IoType.UNMAP, 32768, 16384, IoStatus.SUCCESS));
                java.util.Arrays.fill(expect, 32768, 32768 + 16384, (byte) 0);
                assertThat(read(server, 0, 65536).data()).isEqualTo(expect);
                close(server);
            }
        }

        @Test
        @DisplayName("a read-only server reads, and refuses write-type requests with EBADF")
        void readOnly() {
            try (MallocSpindle s = new MallocSpindle("srv-ro")) {
                ActorRef<Command> server = kit.spawn(BdevServer.create(s.layer, "Malloc0", 4, false));
                TestProbe<WriteResult> p = kit.createTestProbe(WriteResult.class);
                Refused r = refusedWrite(server, new Write(0, new byte[512], p.ref()), p);
                assertThat(r.errno()).isEqualTo(Errno.EBADF);
                assertThat(r.message()).contains("read-only");
                assertThat(refusedWrite(server, new WriteZeroes(0, 512, p.ref()), p).errno()).isEqualTo(Errno.EBADF);
                assertThat(read(server, 0, 512).status()).isEqualTo(IoStatus.SUCCESS);
                close(server);
            }
        }
    }

    @Nested
    @DisplayName("Refused requests")
    class Refusals {
        @Test
        @DisplayName("out-of-range and unaligned requests get EINVAL naming the field, the value and the bound")
        void invalid() {
            try (MallocSpindle s = new MallocSpindle("srv-inval")) {
                ActorRef<Command> server = server(s, 4);
                assertInvalid(refusedRead(server, 100, 512), "offset=100", "block_size=512");
                assertInvalid(refusedRead(server, -512, 512), "offset=-512", ">= 0");
                assertInvalid(refusedRead(server, 0, 100), "length=100", "block_size=512");
                assertInvalid(refusedRead(server, 0, 0), "length=0", "> 0");
                assertInvalid(refusedRead(server, MallocSpindle.SIZE - 512, 1024), "offset=" + (MallocSpindle.SIZE - 512), "length=1024",
                        "size_bytes=" + MallocSpindle.SIZE);
                assertInvalid(refusedRead(server, MallocSpindle.SIZE, 512), "offset=" + MallocSpindle.SIZE, "size_bytes=");
                assertInvalid(refusedRead(server, 0, BdevServer.MAX_TRANSFER + 512), "length=" + (BdevServer.MAX_TRANSFER + 512),
                        "<= " + BdevServer.MAX_TRANSFER);
                TestProbe<WriteResult> p = kit.createTestProbe(WriteResult.class);
                assertInvalid(refusedWrite(server, new Write(0, new byte[700], p.ref()), p), "data.length=700", "block_size=512");
                assertInvalid(refusedWrite(server, new Flush(0, MallocSpindle.SIZE + 512, p.ref()), p), "flush", "size_bytes=");
                assertInvalid(refusedWrite(server, new Unmap(256, 512, p.ref()), p), "unmap", "offset=256");
                assertInvalid(refusedWrite(server, new WriteZeroes(0, -512, p.ref()), p), "write_zeroes", "length=-512");
                // nothing was counted: the full bound is still available
                assertThat(read(server, 0, 512).status()).isEqualTo(IoStatus.SUCCESS);
                close(server);
            }
        }

        void assertInvalid(Refused r, String... parts) {
            assertThat(r.errno()).isEqualTo(Errno.EINVAL);
            assertThat(r.success()).isFalse();
            assertThat(r.message()).contains("bdev=Malloc0").contains(parts);
        }

        @Test
        @DisplayName("a server for a bdev that does not exist answers ENODEV and closes at once")
        void noSuchBdev() {
            try (MallocSpindle s = new MallocSpindle("srv-nodev")) {
                ActorRef<Command> server = kit.spawn(BdevServer.create(s.layer, "Nope", 4));
                Refused r = refusedRead(server, 0, 512);
                assertThat(r.errno()).isEqualTo(Errno.ENODEV);
                assertThat(r.message()).contains("bdev=Nope").contains("no such bdev");
                TestProbe<Closed> p = kit.createTestProbe(Closed.class);
                server.tell(new Close(p.ref()));
                assertThat(p.receiveMessage(T)).isEqualTo(new Closed("Nope"));
                p.expectTerminated(server, T);
            }
        }
    }

    @Nested
    @DisplayName("Bounded in-flight")
    class InFlight {
        @Test
        @DisplayName("past maxInFlight a request gets Busy(maxInFlight) at once, never queued; every request gets exactly one reply")
        void busyPastTheBound() throws Exception {
            try (MallocSpindle s = new MallocSpindle("srv-busy")) {
                ActorRef<Command> server = server(s, 2);
                assertThat(read(server, 0, 512).success()).isTrue(); // shards open
                CountDownLatch release = s.blockReactors();
                // one probe for every reply and the Closed (see ioPoolExhausted): "no other reply" is then an ordering
                TestProbe<Object> p = kit.createTestProbe(Object.class);
                try {
                    for (int i = 0; i < 20; i++) {
                        server.tell(new Read(i * 512L, 512, p.ref().narrow()));
                    }
                    // the reactors are parked: the two accepted reads cannot complete, the other 18 are answered Busy now
                    for (int i = 0; i < 18; i++) {
                        Object r = p.receiveMessage(T);
                        assertThat(r).isInstanceOf(Busy.class);
                        assertThat(((Busy) r).maxInFlight()).isEqualTo(2);
                        assertThat(((Busy) r).offset()).isGreaterThanOrEqualTo(1024);
                    }
                    // a marker: the server answers in order, so anything else it sent for the 20 would come first
                    server.tell(new Read(20 * 512L, 512, p.ref().narrow()));
                    assertThat(p.receiveMessage(T)).as("the marker, and nothing before it").isInstanceOfSatisfying(Busy.class,
                            b -> assertThat(b.offset()).isEqualTo(20 * 512L));
                } finally {
                    release.countDown();
                }
                List<Object> done = List.of(p.receiveMessage(T), p.receiveMessage(T));
                assertThat(done).allMatch(r -> r instanceof ReadCompleted c && c.success());
                assertThat(done).extracting(r -> ((Reply) r).offset()).containsExactlyInAnyOrder(0L, 512L);
                // the slots were released before the replies: the next request is accepted
                assertThat(read(server, 0, 512).success()).isTrue();
                server.tell(new Close(p.ref().narrow()));
                assertThat(p.receiveMessage(T)).as("no reply after the two completions").isEqualTo(new Closed("Malloc0"));
            }
        }

        @Test
        @DisplayName("a burst of 2000 mixed requests with maxInFlight=8: exactly one reply each, only SUCCESS or Busy")
        void burst() {
            try (MallocSpindle s = new MallocSpindle("srv-burst")) {
                ActorRef<Command> server = server(s, 8);
                TestProbe<Object> p = kit.createTestProbe(Object.class); // replies and then Closed: see ioPoolExhausted
                int n = 2000;
                for (int i = 0; i < n; i++) {
                    long off = (i % 1024) * 4096L;
                    if (i % 2 == 0) {
                        server.tell(new Read(off, 4096, p.ref().narrow()));
                    } else {
                        server.tell(new Write(off, MallocSpindle.pattern(4096, i), p.ref().narrow()));
                    }
                }
                Map<String, Integer> kinds = new HashMap<>();
                for (int i = 0; i < n; i++) {
                    count(kinds, (Reply) p.receiveMessage(T));
                }
                server.tell(new Close(p.ref().narrow()));
                assertThat(p.receiveMessage(T)).as("exactly one reply each: nothing between the 2000th and Closed")
                        .isEqualTo(new Closed("Malloc0"));
                assertThat(kinds.keySet()).isSubsetOf("ok", "busy");
                assertThat(kinds.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(n);
                assertThat(kinds.get("ok")).isGreaterThanOrEqualTo(8);
            }
        }

        void count(Map<String, Integer> kinds, Reply r) {
            kinds.merge(r.success() ? "ok" : r instanceof Busy ? "busy" : r.toString(), 1, Integer::sum);
        }

        @Test
        @DisplayName("requests beyond the reactor's bdev I/O pool (ENOMEM) wait on io_wait and all complete, exactly once each")
        void ioPoolExhausted() {
            try (MallocSpindle s = new MallocSpindle("srv-nomem", 16)) {
                int n = 400;
                ActorRef<Command> server = server(s, n);
                assertThat(read(server, 0, 512).success()).isTrue();
                List<BdevServer.Shard> shards = shards(server);
                // one probe for the replies and the Closed: everything a shard answers is enqueued before it stops,
                // and Closed comes after every shard stopped, so a duplicate reply would arrive before Closed
                TestProbe<Object> p = kit.createTestProbe(Object.class);
                long waitsBefore = s.layer.ioWaits();
                // park the reactors, then put 200 requests in each reactor's shard mailbox (a tell enqueues before it
                // returns): released, each reactor meets 200 requests against 16 bdev I/O: its mailbox runs (16 requests each, rescheduled within
                // the same reactor loop, before the malloc poller completes anything) exhaust the pool, so ENOMEM is certain
                CountDownLatch release = s.blockReactors();
                try {
                    for (int i = 0; i < n; i++) {
                        shards.get(i % shards.size()).ref().tell(new Write(i * 4096L % MallocSpindle.SIZE, MallocSpindle.pattern(4096, i),
                                p.ref().narrow()));
                    }
                } finally {
                    release.countDown();
                }
                for (int i = 0; i < n; i++) {
                    assertThat(p.receiveMessage(T)).isInstanceOfSatisfying(WriteResult.class, r -> assertThat(r.success()).isTrue());
                }
                assertThat(s.layer.ioWaits() - waitsBefore).as("io_wait entries queued after ENOMEM: at least one per reactor")
                        .isGreaterThanOrEqualTo(shards.size());
                assertThat(read(server, 399 * 4096L, 4096).data()).isEqualTo(MallocSpindle.pattern(4096, 399));
                server.tell(new Close(p.ref().narrow()));
                assertThat(p.receiveMessage(T)).as("no reply after the 400").isEqualTo(new Closed("Malloc0"));
            }
        }
    }

    @Nested
    @DisplayName("Several servers")
    class Several {
        @Test
        @DisplayName("three servers on one bdev share each reactor's exhausted I/O pool (several io_wait waiters): all requests complete, exactly once")
        void sharedPool() {
            try (MallocSpindle s = new MallocSpindle("srv-shared", 16)) {
                int n = 300;
                List<ActorRef<Command>> servers = List.of(server(s, n), server(s, n), server(s, n));
                List<List<BdevServer.Shard>> shards = new ArrayList<>();
                for (ActorRef<Command> server : servers) {
                    assertThat(read(server, 0, 512).success()).isTrue();
                    shards.add(shards(server));
                }
                TestProbe<Object> p = kit.createTestProbe(Object.class);
                long waitsBefore = s.layer.ioWaits();
                CountDownLatch release = s.blockReactors();
                try {
                    for (int i = 0; i < n; i++) {
                        for (List<BdevServer.Shard> sh : shards) {
                            sh.get(i % sh.size()).ref().tell(new Write((i % 1024) * 4096L, MallocSpindle.pattern(4096, i), p.ref().narrow()));
                        }
                    }
                } finally {
                    release.countDown();
                }
                for (int i = 0; i < 3 * n; i++) {
                    assertThat(p.receiveMessage(T)).isInstanceOfSatisfying(WriteResult.class, r -> assertThat(r.success()).isTrue());
                }
                // on each reactor the first shard to run takes the 16 I/O, and every shard then meets ENOMEM and queues
                assertThat(s.layer.ioWaits() - waitsBefore).as("several io_wait waiters on each reactor")
                        .isGreaterThanOrEqualTo(3L * s.spindle.reactors().size());
                for (ActorRef<Command> server : servers) {
                    server.tell(new Close(p.ref().narrow()));
                    assertThat(p.receiveMessage(T)).as("no reply after the 900").isEqualTo(new Closed("Malloc0"));
                }
            }
        }
    }

    @Nested
    @DisplayName("Removal and shutdown")
    class Lifecycle {
        @Test
        @DisplayName("unregister of Malloc0 while the server runs completes (the server closes on REMOVE); later requests get ENODEV")
        void unregisterWhileServing() throws Exception {
            try (MallocSpindle s = new MallocSpindle("srv-unreg")) {
                ActorRef<Command> server = server(s, 16);
                assertThat(write(server, 0, MallocSpindle.pattern(4096, 3)).success()).isTrue();
                assertThat(read(server, 0, 4096).success()).isTrue(); // both reactors have opened by now
                Bdev bdev = s.layer.get("Malloc0");
                assertThat(bdev.openDescriptors()).isEqualTo(2);
                int st = s.layer.unregister("Malloc0").toCompletableFuture().get(10, TimeUnit.SECONDS);
                assertThat(st).isZero();
                assertThat(bdev.status()).isEqualTo(Bdev.Status.REMOVED);
                for (int i = 0; i < 4; i++) {
                    Refused r = refusedRead(server, 0, 512);
                    assertThat(r.errno()).isEqualTo(Errno.ENODEV);
                    assertThat(r.message()).contains("bdev=Malloc0").contains("removed");
                }
                close(server);
            }
        }

        @Test
        @DisplayName("unregister under load: every request gets exactly one reply (SUCCESS, ABORTED or ENODEV) and the unregister completes")
        void unregisterUnderLoad() throws Exception {
            try (MallocSpindle s = new MallocSpindle("srv-unreg-load")) {
                int n = 600;
                ActorRef<Command> server = server(s, n);
                assertThat(read(server, 0, 512).success()).isTrue();
                TestProbe<Object> p = kit.createTestProbe(Object.class); // replies and then Closed: see ioPoolExhausted
                java.util.concurrent.CompletableFuture<Integer> unregistered = null;
                for (int i = 0; i < n; i++) {
                    server.tell(new Write((i % 512) * 8192L, MallocSpindle.pattern(8192, i), p.ref().narrow()));
                    if (i == n / 3) {
                        unregistered = s.layer.unregister("Malloc0").toCompletableFuture();
                    }
                }
                Map<String, Integer> kinds = new HashMap<>();
                for (int i = 0; i < n; i++) {
                    Object r = p.receiveMessage(T);
                    String k = r instanceof Completed c ? c.status().name()
                            : r instanceof Refused f ? Errno.name(f.errno()) : r.toString();
                    kinds.merge(k, 1, Integer::sum);
                }
                assertThat(kinds.keySet()).isSubsetOf("SUCCESS", "ABORTED", Errno.name(Errno.ENODEV));
                assertThat(unregistered.get(10, TimeUnit.SECONDS)).isZero();
                assertThat(refusedRead(server, 0, 512).errno()).isEqualTo(Errno.ENODEV);
                server.tell(new Close(p.ref().narrow()));
                assertThat(p.receiveMessage(T)).as("exactly one reply each: nothing between the last and Closed")
                        .isEqualTo(new Closed("Malloc0"));
            }
        }

        @Test
        @DisplayName("Spindle stopped while a server runs: the bdev fini's REMOVE closes its descriptors, the stop is clean, the server then refuses")
        void spindleStopsUnderTheServer() {
            MallocSpindle s = new MallocSpindle("srv-fini");
            ActorRef<Command> server;
            try {
                server = server(s, 16);
                assertThat(write(server, 0, MallocSpindle.pattern(4096, 9)).success()).isTrue();
                assertThat(read(server, 0, 4096).success()).isTrue();
            } finally {
                s.close(); // asserts a clean stop: the server's descriptors and channels were released on REMOVE
            }
            assertThat(refusedRead(server, 0, 512).errno()).isIn(Errno.ENODEV, Errno.ESHUTDOWN);
            close(server);
        }

        @Test
        @DisplayName("Close lets accepted requests complete, refuses later ones with ESHUTDOWN, replies Closed and stops")
        void closeDrains() {
            try (MallocSpindle s = new MallocSpindle("srv-close")) {
                ActorRef<Command> server = server(s, 64);
                TestProbe<WriteResult> p = kit.createTestProbe(WriteResult.class);
                TestProbe<Closed> cp = kit.createTestProbe(Closed.class);
                for (int i = 0; i < 32; i++) {
                    server.tell(new Write(i * 4096L, MallocSpindle.pattern(4096, i), p.ref()));
                }
                server.tell(new Close(cp.ref()));
                server.tell(new Write(0, new byte[512], p.ref()));
                int ok = 0;
                for (int i = 0; i < 33; i++) {
                    WriteResult r = p.receiveMessage(T);
                    if (r.success()) {
                        ok++;
                    } else {
                        assertThat(((Refused) r).errno()).isEqualTo(Errno.ESHUTDOWN);
                    }
                }
                assertThat(ok).isEqualTo(32);
                assertThat(cp.receiveMessage(T)).isEqualTo(new Closed("Malloc0"));
                cp.expectTerminated(server, T);
                assertThat(s.layer.get("Malloc0").openDescriptors()).isZero();
            }
        }

        @Test
        @DisplayName("a server stopped abruptly with I/O in flight releases everything on the reactors (PostStop); Spindle stops clean")
        void stopReleases() throws Exception {
            try (MallocSpindle s = new MallocSpindle("srv-stop")) {
                ActorRef<Command> server = server(s, 64);
                TestProbe<ReadResult> p = kit.createTestProbe(ReadResult.class);
                assertThat(read(server, 0, 512).success()).isTrue();
                for (int i = 0; i < 64; i++) {
                    server.tell(new Read(i * 65536L % MallocSpindle.SIZE, 65536, p.ref()));
                }
                kit.stop(server, T);
                org.awaitility.Awaitility.await().atMost(T).until(() -> s.layer.get("Malloc0").openDescriptors() == 0);
            }
        }
    }
}
