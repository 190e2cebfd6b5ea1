package io.spindle.backends.aio;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.backends.IoKit;
import io.spindle.backends.QdLoad;
import io.spindle.backends.TgtHarness;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevHarness;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevOptions;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoVec;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The aio module's io_uring engine: every case of {@link AioModuleTest} again with {@code engine=uring}, and the
 * engine's own cases (vectored I/O, flush, more I/O than the ring has entries, a channel deeper than the ring cap,
 * a channel whose ring the kernel refuses, a short file, delete under load, engine selection). Skipped, with the reason, where this kernel or architecture has no io_uring.
 */
class AioModuleUringTest extends AioModuleTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    void io_uringWorksHere() {
        String why = AioModule.uringProbe();
        assumeTrue(why == null, () -> "io_uring unavailable: " + why);
    }

    @Override
    AioModule.Engine engine() {
        return AioModule.Engine.URING;
    }

    static String engineOf(Bdev b) {
        return b.toJson(JSON).at("/driver_specific/aio/engine").asText();
    }

    @Test
    @DisplayName("on io_uring, reads and writes of one and of several iovecs round-trip on an O_DIRECT and on a buffered file,"
            + " and flush completes; bdev_get_bdevs says engine io_uring")
    void roundTripsOnDirectAndBufferedFiles(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        try (BdevHarness h = harness(aio)) {
            Path fb = file(dir, "buffered.img", 1 << 20);
            Path fd = file(dir, "direct.img", 1 << 20);
            Bdev bb = h.await(aio.create(h.layer, AioModule.Options.of("AIO0", fb.toString(), 512)));
            Bdev bd = h.await(aio.create(h.layer, AioModule.Options.of("AIO1", fd.toString(), 4096)));
            assertThat(engineOf(bb)).isEqualTo("io_uring");
            assertThat(engineOf(bd)).isEqualTo("io_uring");
            assertThat(bb.toJson(JSON).at("/driver_specific/aio/o_direct").asBoolean()).isFalse();
            boolean direct = bd.toJson(JSON).at("/driver_specific/aio/o_direct").asBoolean();
            IoKit io = new IoKit(h.layer);
            for (String name : List.of("AIO0", "AIO1")) {
                int bs = name.equals("AIO0") ? 512 : 4096;
                Path f = name.equals("AIO0") ? fb : fd;
                byte[] a = IoKit.pattern(4 * bs, name.length() + bs);
                assertThat(io.write(name, 7, a)).as(name).isEqualTo(IoStatus.SUCCESS);
                assertThat(Arrays.copyOfRange(Files.readAllBytes(f), 7 * bs, 11 * bs)).as(name).isEqualTo(a);
                assertThat(io.read(name, 7, 4)).as(name).isEqualTo(a);
                // several iovecs: READV/WRITEV over the task's iovec array
                byte[] b = IoKit.pattern(3 * bs, 77);
                assertThat(vectored(h, io, name, true, 20, bs, b)).as(name).isEqualTo(b);
                assertThat(Arrays.copyOfRange(Files.readAllBytes(f), 20 * bs, 23 * bs)).as(name).isEqualTo(b);
                assertThat(vectored(h, io, name, false, 20, bs, null)).as(name).isEqualTo(b);
                assertThat(io.io(1, name, IoType.FLUSH, 0, 16, null)).as(name).isEqualTo(IoStatus.SUCCESS);
            }
            assertThat(direct || !Files.getFileStore(fd).type().equals("ext4")).isTrue(); // O_DIRECT where the file system has it
            // through the rings, not the I/O threads: 2 bdevs x (write, read, writev, readv, flush) completions at least
            h.poll();
            assertThat(aio.disk("AIO0").ringCompletions.get()).isGreaterThanOrEqualTo(5);
            assertThat(aio.disk("AIO1").ringCompletions.get()).isGreaterThanOrEqualTo(5);
        }
    }

    /** Writes {@code data} (or reads {@code bs * 3} bytes) at {@code lba} as three iovecs of one block; returns what was read or written. */
    private static byte[] vectored(BdevHarness h, IoKit io, String name, boolean write, long lba, int bs, byte[] data) throws Exception {
        try (DmaBuffer b0 = DmaBuffer.allocate(bs, 4096); DmaBuffer b1 = DmaBuffer.allocate(bs, 4096); DmaBuffer b2 = DmaBuffer.allocate(bs, 4096)) {
            DmaBuffer[] bufs = {b0, b1, b2};
            if (write) {
                for (int i = 0; i < 3; i++) {
                    bufs[i].put(0, Arrays.copyOfRange(data, i * bs, (i + 1) * bs));
                }
            }
            IoVec[] v = {new IoVec(b0, 0, bs), new IoVec(b1, 0, bs), new IoVec(b2, 0, bs)};
            CompletableFuture<IoStatus> done = new CompletableFuture<>();
            io.on(0, () -> {
                var d = h.layer.open(name, true, (e, bd, desc) -> { });
                var ch = d.getIoChannel();
                io.spindle.bdev.IoCallback cb = (bio, st, arg) -> {
                    ch.put();
                    d.close();
                    done.complete(st);
                };
                int rc = write ? d.writevBlocks(ch, v, 3, lba, 3, cb, null) : d.readvBlocks(ch, v, 3, lba, 3, cb, null);
                assertThat(rc).isZero();
                return null;
            });
            assertThat(io.await(done)).isEqualTo(IoStatus.SUCCESS);
            byte[] out = new byte[3 * bs];
            for (int i = 0; i < 3; i++) {
                System.arraycopy(bufs[i].get(0, bs), 0, out, i * bs, bs);
            }
            return out;
        }
    }

    @Test
    @DisplayName("with more I/O in flight than the ring has entries, the surplus completes NOMEM, the layer retries it, and every"
            + " write and read completes once with the right data")
    void moreInFlightThanTheRingHolds(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        aio.ringEntries(4);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "many.img", 1 << 20);
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 4096)));
            IoKit io = new IoKit(h.layer);
            int n = 48; // 12 times the ring
            List<DmaBuffer> bufs = new ArrayList<>();
            try {
                for (int i = 0; i < n; i++) {
                    DmaBuffer b = DmaBuffer.allocate(4096, 4096);
                    b.put(0, IoKit.pattern(4096, 1000 + i));
                    bufs.add(b);
                }
                assertThat(burst(h, io, IoType.WRITE, n, bufs::get, i -> 0L, () -> { })).isEqualTo(n);
                for (DmaBuffer b : bufs) {
                    b.fill(0, 4096, (byte) 0);
                }
                assertThat(burst(h, io, IoType.READ, n, bufs::get, i -> 0L, () -> { })).isEqualTo(n);
                assertThat(aio.disk("AIO0").ringCompletions.get()).isGreaterThanOrEqualTo(2L * n);
                for (int i = 0; i < n; i++) {
                    assertThat(bufs.get(i).get(0, 4096)).as("block %d", i).isEqualTo(IoKit.pattern(4096, 1000 + i));
                }
            } finally {
                bufs.forEach(DmaBuffer::close);
            }
        }
    }

    @Test
    @DisplayName("a channel deeper than the 4096-entry ring cap (I/O pool 8192) gets a 4096-entry ring; 4608 writes and reads"
            + " at once: the surplus completes NOMEM at the ring, the layer retries it, every I/O completes once with the right data")
    void aChannelDeeperThanTheRingCapRetriesTheSurplus(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        int n = AioModule.MAX_RING_ENTRIES + 512;
        int bs = 512;
        try (BdevHarness h = new BdevHarness(kit, 1, BdevOptions.defaults(2 * AioModule.MAX_RING_ENTRIES), aio);
             DmaBuffer data = DmaBuffer.allocate((long) n * bs, 4096)) {
            Path f = file(dir, "deep.img", (long) n * bs);
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), bs)));
            IoKit io = new IoKit(h.layer);
            byte[] expected = IoKit.pattern(n * bs, 31);
            data.put(0, expected);
            int[] ringEntries = new int[1];
            // the channel just made, read on its reactor
            Runnable readRing = () -> ringEntries[0] = aio.disk("AIO0").channels.get(0).uring.entries();
            assertThat(burst(h, io, IoType.WRITE, n, i -> data, i -> (long) i * bs, readRing)).isEqualTo(n);
            assertThat(ringEntries[0]).as("the channel's ring is capped").isEqualTo(AioModule.MAX_RING_ENTRIES);
            long refusedByWrites = aio.disk("AIO0").ringFullRefusals.get();
            // the 4097th write finds the ring full: NOMEM; the layer queues what follows behind it and retries as the
            // ring's I/O complete, each retry that finds the ring full again is one more refusal
            assertThat(refusedByWrites).as("NOMEM at the full ring").isPositive();
            assertThat(Files.readAllBytes(f)).isEqualTo(expected);
            data.fill(0, (long) n * bs, (byte) 0);
            assertThat(burst(h, io, IoType.READ, n, i -> data, i -> (long) i * bs, readRing)).isEqualTo(n);
            assertThat(aio.disk("AIO0").ringFullRefusals.get() - refusedByWrites).as("NOMEM at the full ring").isPositive();
            assertThat(data.get(0, n * bs)).isEqualTo(expected);
            assertThat(aio.disk("AIO0").ringCompletions.get()).as("all through the ring").isGreaterThanOrEqualTo(2L * n);
        }
    }

    /**
     * Submits {@code n} one-block I/O at once from reactor 0 on one channel, block i from or into {@code buf(i)} at
     * {@code bufOffset(i)}; {@code onChannel} runs there once the channel is taken. Returns how many completed SUCCESS,
     * failing on a second completion of any.
     */
    private static int burst(BdevHarness h, IoKit io, IoType type, int n, java.util.function.IntFunction<DmaBuffer> buf,
                             java.util.function.IntToLongFunction bufOffset, Runnable onChannel) {
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger completions = new AtomicInteger();
        java.util.concurrent.atomic.AtomicIntegerArray seen = new java.util.concurrent.atomic.AtomicIntegerArray(n);
        CompletableFuture<Void> all = new CompletableFuture<>();
        io.on(0, () -> {
            var d = h.layer.open("AIO0", true, (e, bd, desc) -> { });
            var ch = d.getIoChannel();
            onChannel.run();
            for (int i = 0; i < n; i++) {
                int block = i;
                io.spindle.bdev.IoCallback cb = (bio, st, arg) -> {
                    if (seen.incrementAndGet(block) != 1) {
                        all.completeExceptionally(new AssertionError("block " + block + " completed twice"));
                    }
                    if (st == IoStatus.SUCCESS) {
                        ok.incrementAndGet();
                    }
                    if (completions.incrementAndGet() == n) {
                        ch.put();
                        d.close();
                        all.complete(null);
                    }
                };
                int rc = type == IoType.WRITE ? d.writeBlocks(ch, buf.apply(i), bufOffset.applyAsLong(i), i, 1, cb, null)
                        : d.readBlocks(ch, buf.apply(i), bufOffset.applyAsLong(i), i, 1, cb, null);
                assertThat(rc).isZero();
            }
            return null;
        });
        io.await(all);
        h.poll();
        assertThat(completions.get()).isEqualTo(n);
        return ok.get();
    }

    @Test
    @DisplayName("a channel whose io_uring the kernel refuses (ring entries above IORING_MAX_ENTRIES: EINVAL) runs on the I/O"
            + " threads: its I/O completes once; bdev_get_bdevs says engine mixed, one channel on threads, and why; one WARN per bdev")
    void aChannelWhoseRingCannotBeCreatedFallsBackToThreadsAndSaysSo(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        aio.ringEntriesByReactor(r -> r == 1 ? 2 * IoUring.MAX_ENTRIES : 0); // reactor 1's ring: the kernel says EINVAL
        ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(AioModule.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = new ch.qos.logback.core.read.ListAppender<>();
        lines.start();
        log.addAppender(lines);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "fallback.img", 1 << 20);
            Bdev b = h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 4096)));
            assertThat(engineOf(b)).as("no channel yet").isEqualTo("io_uring");
            IoKit io = new IoKit(h.layer);
            h.poll();
            long ringBefore = aio.disk("AIO0").ringCompletions.get(); // examine's reads, if any
            Object[] on0 = holdChannel(io, h, 0);
            Object[] on1 = holdChannel(io, h, 1);
            var aioInfo = b.toJson(JSON).at("/driver_specific/aio");
            assertThat(aioInfo.get("engine").asText()).isEqualTo("mixed");
            assertThat(aioInfo.get("channels_on_io_uring").asInt()).isEqualTo(1);
            assertThat(aioInfo.get("channels_on_threads").asInt()).isEqualTo(1);
            assertThat(aioInfo.get("io_uring_fallback").asText()).contains("io_uring_setup entries=65536").contains("errno=22").contains("EINVAL");
            byte[] a = IoKit.pattern(2 * 4096, 5);
            AtomicInteger writes = new AtomicInteger();
            assertThat(onHeld(io, on1, IoType.WRITE, 3, a, writes)).isEqualTo(IoStatus.SUCCESS);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(f), 3 * 4096, 5 * 4096)).isEqualTo(a);
            AtomicInteger reads = new AtomicInteger();
            assertThat(io.read("AIO0", 3, 2)).as("read back through reactor 0's ring").isEqualTo(a);
            h.poll();
            assertThat(writes.get()).as("the fallback channel's write completed once").isEqualTo(1);
            assertThat(onHeld(io, on1, IoType.READ, 3, a, reads)).isEqualTo(IoStatus.SUCCESS);
            h.poll();
            assertThat(reads.get()).isEqualTo(1);
            // reactor 1 gives its channel back and takes a new one: the ring is refused again, logged at debug only
            releaseChannel(io, on1);
            assertThat(b.toJson(JSON).at("/driver_specific/aio/engine").asText()).isEqualTo("io_uring");
            on1 = holdChannel(io, h, 1);
            assertThat(b.toJson(JSON).at("/driver_specific/aio/channels_on_threads").asInt()).isEqualTo(1);
            releaseChannel(io, on1);
            releaseChannel(io, on0);
            h.poll();
            // only reactor 0's read reached a ring; the fallback channel's write and read went to the I/O threads
            assertThat(aio.disk("AIO0").ringCompletions.get() - ringBefore).isEqualTo(1);
            long warns = lines.list.stream().filter(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN
                    && e.getFormattedMessage().contains("aio AIO0: the io_uring of the channel on")).count();
            assertThat(warns).as("one WARN for the bdev's two refused rings").isEqualTo(1);
            assertThat(lines.list.stream().filter(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN).map(e -> e.getFormattedMessage())
                    .filter(m -> m.contains("aio AIO0")).findFirst().orElseThrow()).contains("errno=22").contains("EINVAL");
        } finally {
            log.detachAppender(lines);
        }
    }

    @Test
    @DisplayName("a channel whose ring the kernel refuses, under a queue deeper than the I/O threads' queue: the surplus completes"
            + " NOMEM at submit, the layer retries it, every write and read completes once with the right data")
    void aFallbackChannelDeeperThanTheThreadsQueueRetriesTheSurplus(@TempDir Path dir) throws Exception {
        // one I/O thread and a queue of 4 tasks: the reactor submits 256 I/O in one go, far faster than one thread's
        // pwrite/pread drain, so the queue is full for most of them
        AioModule aio = new AioModule(1, engine(), 4);
        aio.ringEntriesByReactor(r -> 2 * IoUring.MAX_ENTRIES); // every channel's ring refused (EINVAL): the I/O threads
        int n = 256;
        int bs = 512;
        try (BdevHarness h = new BdevHarness(kit, 1, BdevOptions.defaults(1024), aio);
             DmaBuffer data = DmaBuffer.allocate((long) n * bs, 4096)) {
            Path f = file(dir, "fallback-deep.img", (long) n * bs);
            Bdev b = h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), bs)));
            IoKit io = new IoKit(h.layer);
            byte[] expected = IoKit.pattern(n * bs, 47);
            data.put(0, expected);
            String[] engine = new String[1];
            Runnable readEngine = () -> engine[0] = engineOf(b);
            assertThat(burst(h, io, IoType.WRITE, n, i -> data, i -> (long) i * bs, readEngine)).isEqualTo(n);
            assertThat(engine[0]).as("the only channel runs on the I/O threads").isEqualTo("threads");
            assertThat(Files.readAllBytes(f)).isEqualTo(expected);
            data.fill(0, (long) n * bs, (byte) 0);
            assertThat(burst(h, io, IoType.READ, n, i -> data, i -> (long) i * bs, () -> { })).isEqualTo(n);
            assertThat(data.get(0, n * bs)).isEqualTo(expected);
            AioModule.Disk disk = aio.disk("AIO0");
            assertThat(disk.ringCompletions.get()).as("nothing through a ring").isZero();
            assertThat(disk.threadsFullRefusals.get()).as("NOMEM at the full I/O threads' queue, retried by the layer").isPositive();
        }
    }

    /** Opens AIO0 on reactor {@code r} and takes its channel: {descriptor, channel}, held until {@link #releaseChannel}. */
    private static Object[] holdChannel(IoKit io, BdevHarness h, int r) {
        return io.on(r, () -> {
            var d = h.layer.open("AIO0", true, (e, bd, desc) -> { });
            return new Object[] {d, d.getIoChannel(), r};
        });
    }

    @SuppressWarnings("unchecked")
    private static void releaseChannel(IoKit io, Object[] held) {
        io.on((Integer) held[2], () -> {
            ((io.spindle.runtime.IoChannel<io.spindle.bdev.BdevChannel>) held[1]).put();
            ((io.spindle.bdev.BdevDescriptor) held[0]).close();
            return null;
        });
    }

    /**
     * One WRITE of {@code data} (or READ, compared with it) at {@code lba} on a held channel, counting its completions
     * in {@code completions}; returns the status.
     */
    @SuppressWarnings("unchecked")
    private static IoStatus onHeld(IoKit io, Object[] held, IoType type, long lba, byte[] data, AtomicInteger completions) {
        int blocks = data.length / 4096;
        try (DmaBuffer buf = DmaBuffer.allocate(data.length, 4096)) {
            if (type == IoType.WRITE) {
                buf.put(0, data);
            }
            CompletableFuture<IoStatus> done = new CompletableFuture<>();
            io.on((Integer) held[2], () -> {
                var d = (io.spindle.bdev.BdevDescriptor) held[0];
                var ch = (io.spindle.runtime.IoChannel<io.spindle.bdev.BdevChannel>) held[1];
                io.spindle.bdev.IoCallback cb = (bio, st, arg) -> {
                    completions.incrementAndGet();
                    done.complete(st);
                };
                int rc = type == IoType.WRITE ? d.writeBlocks(ch, buf, 0, lba, blocks, cb, null) : d.readBlocks(ch, buf, 0, lba, blocks, cb, null);
                assertThat(rc).isZero();
                return null;
            });
            IoStatus st = io.await(done);
            if (type == IoType.READ && st == IoStatus.SUCCESS) {
                assertThat(buf.get(0, data.length)).isEqualTo(data);
            }
            return st;
        }
    }

    @Test
    @DisplayName("a RESET submitted behind 32 reads at the ring completes after them; every read completes once, and the bdev works after")
    void resetBehindIoAtTheRing(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "reset.img", 1 << 20);
            Files.write(f, IoKit.pattern(1 << 20, 8));
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 4096)));
            IoKit io = new IoKit(h.layer);
            int n = 32;
            List<DmaBuffer> bufs = new ArrayList<>();
            AtomicInteger reads = new AtomicInteger();
            AtomicInteger readOk = new AtomicInteger();
            List<String> order = new java.util.concurrent.CopyOnWriteArrayList<>();
            CompletableFuture<IoStatus> reset = new CompletableFuture<>();
            try {
                for (int i = 0; i < n; i++) {
                    bufs.add(DmaBuffer.allocate(4096, 4096));
                }
                io.on(0, () -> {
                    var d = h.layer.open("AIO0", true, (e, bd, desc) -> { });
                    var ch = d.getIoChannel();
                    for (int i = 0; i < n; i++) {
                        int rc = d.readBlocks(ch, bufs.get(i), 0, i, 1, (bio, st, arg) -> {
                            reads.incrementAndGet();
                            if (st == IoStatus.SUCCESS) {
                                readOk.incrementAndGet();
                            }
                            order.add("read");
                        }, null);
                        assertThat(rc).isZero();
                    }
                    assertThat(d.reset(ch, (bio, st, arg) -> {
                        order.add("reset");
                        ch.put();
                        d.close();
                        reset.complete(st);
                    }, null)).isZero();
                    return null;
                });
                // the module's reset looks again for in-flight I/O on a timed poller: move the manual clock while waiting
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!reset.isDone() && System.nanoTime() - until < 0) {
                    h.group.advanceTime(Duration.ofMillis(1));
                    h.poll();
                }
                assertThat(reset.getNow(null)).isEqualTo(IoStatus.SUCCESS);
                h.poll();
                assertThat(reads.get()).isEqualTo(n);
                assertThat(order).hasSize(n + 1).last().isEqualTo("reset");
                for (int i = 0; i < n; i++) {
                    if (readOk.get() == n) {
                        assertThat(bufs.get(i).get(0, 4096)).isEqualTo(Arrays.copyOfRange(IoKit.pattern(1 << 20, 8), i * 4096, (i + 1) * 4096));
                    }
                }
            } finally {
                bufs.forEach(DmaBuffer::close);
            }
            assertThat(io.read("AIO0", 40, 1)).isEqualTo(Arrays.copyOfRange(IoKit.pattern(1 << 20, 8), 40 * 4096, 41 * 4096));
        }
    }

    @Test
    @DisplayName("a read past the end of a file that shrank under the bdev (not to 0) fails once, and the bdev stays")
    void readPastAShrunkFileFails(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "short.img", 64 * 1024);
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 4096)));
            try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                r.setLength(32 * 1024 + 512); // block 8 is partly there, 9.. are gone
            }
            IoKit io = new IoKit(h.layer);
            try (DmaBuffer b = DmaBuffer.allocate(4096, 4096)) {
                assertThat(io.io(0, "AIO0", IoType.READ, 12, 1, b)).isEqualTo(IoStatus.FAILED);
                assertThat(io.io(0, "AIO0", IoType.READ, 8, 1, b)).isEqualTo(IoStatus.FAILED);
                assertThat(io.io(0, "AIO0", IoType.READ, 2, 1, b)).isEqualTo(IoStatus.SUCCESS);
            }
            h.poll();
            assertThat(h.layer.get("AIO0")).isNotNull();
        }
    }

    @Test
    @DisplayName("bdev_aio_delete under QD 64 reads and writes on two reactors, each channel on its own ring: REMOVE, every I/O completes once")
    void deleteUnderLoadCompletesEachIoOnce(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("del.img");
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(8 << 20);
        }
        try (TgtHarness t = new TgtHarness("aio-uring-del")) {
            BdevLayer l = t.layer();
            AioModule aio = l.module(AioModule.class);
            Bdev b = aio.create(l, AioModule.Options.of("AIO0", f.toString(), 4096)).toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertThat(engineOf(b)).isEqualTo("io_uring"); // the default engine (auto) where io_uring works
            QdLoad load = new QdLoad(l, "AIO0", QdLoad.Mode.VERIFY, 1, 32, 0, 1);
            await().atMost(Duration.ofSeconds(30)).until(() -> load.completed() >= 2000 || load.drained().isDone());
            assertThat(aio.delete(l, "AIO0").toCompletableFuture().get(60, TimeUnit.SECONDS)).isEqualTo(Errno.OK);
            await().atMost(Duration.ofSeconds(30)).until(() -> load.drained().isDone());
            assertThat(load.completed()).as("completions == submits").isEqualTo(load.submitted.get());
            assertThat(load.submitted.get()).isGreaterThan(2000);
            assertThat(load.removes.get()).isEqualTo(2);
            assertThat(load.miscompares.get()).isZero();
            assertThat(l.bdevs()).isEmpty();
        }
    }

    @Test
    @DisplayName("the JNA binding reads errno back: close(-1) is EBADF, opening a missing file for the ring is ENOENT naming it")
    void libcErrnoIsReadBack(@TempDir Path dir) {
        assertThat(LibC.close(-1)).isEqualTo(9);
        String missing = dir.resolve("missing.img").toString();
        assertThatThrownBy(() -> IoUring.open(missing, true, false))
                .isInstanceOfSatisfying(IoUring.UringException.class, e -> assertThat(e.errno).isEqualTo(2))
                .hasMessageContaining(missing).hasMessageContaining("errno=2");
    }

    @Test
    @DisplayName("engine selection: threads says threads, uring and auto say io_uring here, in bdev_get_bdevs too; a bad value names the key and the choices")
    void engineSelection(@TempDir Path dir) throws Exception {
        assertThat(new AioModule(1, AioModule.Engine.THREADS).engineName()).isEqualTo("threads");
        assertThat(new AioModule(1, AioModule.Engine.AUTO).engineName()).isEqualTo("io_uring");
        assertThat(new AioModule(1, AioModule.Engine.URING).engineName()).isEqualTo("io_uring");
        assertThat(AioModule.Engine.parse("threads")).isEqualTo(AioModule.Engine.THREADS);
        assertThat(AioModule.Engine.parse(" Uring")).isEqualTo(AioModule.Engine.URING);
        assertThat(AioModule.Engine.parse("auto")).isEqualTo(AioModule.Engine.AUTO);
        assertThatThrownBy(() -> AioModule.Engine.parse("libaio"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("spindle.aio.engine=libaio: must be auto, uring or threads");
        String old = System.getProperty(AioModule.ENGINE_PROPERTY);
        System.setProperty(AioModule.ENGINE_PROPERTY, "threads");
        try {
            assertThat(new AioModule(1).engineName()).isEqualTo("threads");
        } finally {
            if (old == null) {
                System.clearProperty(AioModule.ENGINE_PROPERTY);
            } else {
                System.setProperty(AioModule.ENGINE_PROPERTY, old);
            }
        }
        AioModule threads = new AioModule(1, AioModule.Engine.THREADS);
        try (BdevHarness h = harness(threads)) {
            Bdev b = h.await(threads.create(h.layer, AioModule.Options.of("AIO0", file(dir, "t.img", 64 * 1024).toString(), 512)));
            assertThat(engineOf(b)).isEqualTo("threads");
            IoKit io = new IoKit(h.layer);
            assertThat(io.write("AIO0", 1, IoKit.pattern(512, 4))).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("AIO0", 1, 1)).isEqualTo(IoKit.pattern(512, 4));
        }
    }
}
