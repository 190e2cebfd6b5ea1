package io.spindle.backends.aio;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.backends.IoKit;
import io.spindle.backends.QdLoad;
import io.spindle.backends.TgtHarness;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevHarness;
import io.spindle.bdev.BdevLayer;
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
 * engine's own cases (vectored I/O, flush, more I/O than the ring has entries, a short file, delete under load,
 * engine selection). Skipped, with the reason, where this kernel or architecture has no io_uring.
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
                assertThat(burst(h, io, IoType.WRITE, bufs)).isEqualTo(n);
                for (DmaBuffer b : bufs) {
                    b.fill(0, 4096, (byte) 0);
                }
                assertThat(burst(h, io, IoType.READ, bufs)).isEqualTo(n);
                assertThat(aio.disk("AIO0").ringCompletions.get()).isGreaterThanOrEqualTo(2L * n);
                for (int i = 0; i < n; i++) {
                    assertThat(bufs.get(i).get(0, 4096)).as("block %d", i).isEqualTo(IoKit.pattern(4096, 1000 + i));
                }
            } finally {
                bufs.forEach(DmaBuffer::close);
            }
        }
    }

    /** Submits one I/O per buffer (block i) at once from reactor 0; returns how many completed SUCCESS, each counted once. */
    private static int burst(BdevHarness h, IoKit io, IoType type, List<DmaBuffer> bufs) throws Exception {
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger completions = new AtomicInteger();
        CompletableFuture<Void> all = new CompletableFuture<>();
        io.on(0, () -> {
            var d = h.layer.open("AIO0", true, (e, bd, desc) -> { });
            var ch = d.getIoChannel();
            for (int i = 0; i < bufs.size(); i++) {
                io.spindle.bdev.IoCallback cb = (bio, st, arg) -> {
                    if (st == IoStatus.SUCCESS) {
                        ok.incrementAndGet();
                    }
                    if (completions.incrementAndGet() == bufs.size()) {
                        ch.put();
                        d.close();
                        all.complete(null);
                    }
                };
                int rc = type == IoType.WRITE ? d.writeBlocks(ch, bufs.get(i), 0, i, 1, cb, null) : d.readBlocks(ch, bufs.get(i), 0, i, 1, cb, null);
                assertThat(rc).isZero();
            }
            return null;
        });
        io.await(all);
        h.poll();
        assertThat(completions.get()).isEqualTo(bufs.size());
        return ok.get();
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
