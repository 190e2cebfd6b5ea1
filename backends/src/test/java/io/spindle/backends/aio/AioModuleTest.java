package io.spindle.backends.aio;

import io.spindle.backends.IoKit;
import io.spindle.backends.Vbdevs;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevHarness;
import io.spindle.bdev.BdevOptions;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The aio module on manual reactors and real I/O threads, on real files: the scenarios of SPDK's shell tests for
 * {@code bdev_aio_*} ({@code blockdev.sh}'s {@code bdev_aio_create <file> AIO0 2048}; {@code bdev_aio_rescan} after
 * the file grows, as {@code blobstore_grow} does; SPDK has no unit test for aio).
 */
@Timeout(60)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AioModuleTest {
    final ActorTestKit kit = ActorTestKit.create("aio-test");

    @AfterAll
    void stop() {
        kit.shutdownTestKit();
    }

    /** The engine these cases run on; {@link AioModuleUringTest} runs them all again on io_uring. */
    AioModule.Engine engine() {
        return AioModule.Engine.THREADS;
    }

    AioModule module(int threads) {
        return new AioModule(threads, engine());
    }

    static Throwable cause(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    static Path file(Path dir, String name, long size) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    BdevHarness harness(AioModule aio) {
        return new BdevHarness(kit, 2, BdevOptions.defaults(64), aio);
    }

    @Test
    @DisplayName("a 512-byte-block bdev is buffered, a 4096-byte one uses O_DIRECT (on a file system that has it); both move data"
            + " to and from the file, on every reactor, and say which in driver_specific")
    void readsAndWritesTheFileBufferedAndDirect(@TempDir Path dir) throws Exception {
        AioModule aio = module(2);
        try (BdevHarness h = harness(aio)) {
            Path f1 = file(dir, "buffered.img", 1 << 20);
            Path f2 = file(dir, "direct.img", 1 << 20);
            Bdev b1 = h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f1.toString(), 512)));
            Bdev b2 = h.await(aio.create(h.layer, AioModule.Options.of("AIO1", f2.toString(), 4096)));
            assertThat(b1.numBlocks()).isEqualTo(2048);
            assertThat(b2.numBlocks()).isEqualTo(256);
            assertThat(b1.writeCache()).isTrue();
            var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
            assertThat(b1.toJson(mapper).at("/driver_specific/aio/o_direct").asBoolean()).isFalse();
            String engine = engine() == AioModule.Engine.THREADS ? "threads" : "io_uring";
            assertThat(b1.toJson(mapper).at("/driver_specific/aio/engine").asText()).isEqualTo(engine);
            assertThat(b2.toJson(mapper).at("/driver_specific/aio/engine").asText()).isEqualTo(engine);
            boolean direct = b2.toJson(mapper).at("/driver_specific/aio/o_direct").asBoolean();
            assertThat(b1.toJson(mapper).at("/driver_specific/aio/filename").asText()).isEqualTo(f1.toString());
            assertThat(b2.requiredAlignment()).isEqualTo(direct ? 4096 : 1);
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(8192, 5);
            assertThat(io.write("AIO0", 8, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.write("AIO1", 3, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("AIO0", 8, 16)).isEqualTo(a);
            assertThat(io.read("AIO1", 3, 2)).isEqualTo(a);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(f1), 8 * 512, 8 * 512 + 8192)).isEqualTo(a);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(f2), 3 * 4096, 3 * 4096 + 8192)).isEqualTo(a);
            try (DmaBuffer b = DmaBuffer.allocate(4096)) {
                assertThat(io.io(1, "AIO1", IoType.READ, 3, 1, b)).isEqualTo(IoStatus.SUCCESS);
                assertThat(b.get(0, 4096)).isEqualTo(Arrays.copyOf(a, 4096));
            }
            assertThat(io.io(1, "AIO1", IoType.FLUSH, 0, 256, null)).isEqualTo(IoStatus.SUCCESS);
        }
    }

    @Test
    @DisplayName("misaligned caller buffers on an O_DIRECT bdev are bounced by the layer and still land right")
    void misalignedBuffersOnDirect(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "d.img", 256 * 1024);
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 4096)));
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(4096, 9);
            try (DmaBuffer b = DmaBuffer.allocate(8192, 4096)) {
                b.put(512, a); // 512 bytes into a 4096-aligned buffer: misaligned for O_DIRECT
                var done = new java.util.concurrent.CompletableFuture<IoStatus>();
                io.on(0, () -> {
                    var d = h.layer.open("AIO0", true, (e, bd, desc) -> { });
                    var ch = d.getIoChannel();
                    int rc = d.writeBlocks(ch, b, 512, 5, 1, (bio, st, arg) -> {
                        ch.put();
                        d.close();
                        done.complete(st);
                    }, null);
                    assertThat(rc).isZero();
                    return null;
                });
                assertThat(io.await(done)).isEqualTo(IoStatus.SUCCESS);
            }
            assertThat(io.read("AIO0", 5, 1)).isEqualTo(a);
        }
    }

    @Test
    @DisplayName("without raw pread/pwrite (a JDK whose natives cannot be bound) I/O copies through each thread's bounce buffer and is the same")
    void bounceFallback(@TempDir Path dir) throws Exception {
        AioModule aio = module(2);
        aio.allowRawIo(false);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "f.img", 1 << 20);
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 4096)));
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(3 * 4096, 1);
            assertThat(io.write("AIO0", 10, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("AIO0", 10, 3)).isEqualTo(a);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(f), 10 * 4096, 13 * 4096)).isEqualTo(a);
        }
    }

    @Test
    @DisplayName("unmap and write_zeroes read back as zeroes: by punching a hole, and by writing zeroes where holes cannot be punched")
    void unmapAndWriteZeroes(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "z.img", 1 << 20);
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 4096)));
            IoKit io = new IoKit(h.layer);
            byte[] ones = new byte[8 * 4096];
            Arrays.fill(ones, (byte) 0x5a);
            assertThat(io.write("AIO0", 0, ones)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.io(0, "AIO0", IoType.UNMAP, 1, 2, null)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.io(1, "AIO0", IoType.WRITE_ZEROES, 4, 1, null)).isEqualTo(IoStatus.SUCCESS);
            byte[] back = io.read("AIO0", 0, 8);
            for (int blk = 0; blk < 8; blk++) {
                byte want = blk == 1 || blk == 2 || blk == 4 ? 0 : (byte) 0x5a;
                for (int i = 0; i < 4096; i++) {
                    assertThat(back[blk * 4096 + i]).as("block %d byte %d", blk, i).isEqualTo(want);
                }
            }
            // the same with hole punching off, as on a file system without it
            aio.disk("AIO0").noPunchHole = true;
            assertThat(io.io(0, "AIO0", IoType.WRITE_ZEROES, 6, 2, null)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("AIO0", 6, 2)).isEqualTo(new byte[8192]);
            assertThat(io.read("AIO0", 5, 1)[0]).isEqualTo((byte) 0x5a);
        }
    }

    @Test
    @DisplayName("each bad file gets one error naming it: missing (ENOENT), a directory (EISDIR), size not a multiple of the block size,"
            + " empty, no block size for a regular file, bad block sizes (EINVAL), no permission (EACCES), a name in use (EEXIST)")
    void badFilesAreRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        try (BdevHarness h = harness(aio)) {
            Path ok = file(dir, "ok.img", 64 * 1024);
            Path odd = file(dir, "odd.img", 1000);
            Path empty = file(dir, "empty.img", 0);
            record Case(String file, int bs, int errno, String text) {
            }
            List<Case> cases = new ArrayList<>(List.of(
                    new Case(dir.resolve("missing.img").toString(), 512, Errno.ENOENT, "no such file"),
                    new Case(dir.toString(), 512, Errno.EISDIR, "is a directory"),
                    new Case(odd.toString(), 512, Errno.EINVAL, "size 1000 bytes is not a multiple of block_size=512"),
                    new Case(empty.toString(), 512, Errno.EINVAL, "empty"),
                    new Case(ok.toString(), 0, Errno.EINVAL, "block_size cannot be detected for a regular file"),
                    new Case(ok.toString(), 256, Errno.EINVAL, "block_size=256: must be a power of two >= 512"),
                    new Case(ok.toString(), 1536, Errno.EINVAL, "block_size=1536")));
            Path denied = noPermissionFile(dir);
            if (denied != null) {
                cases.add(new Case(denied.toString(), 512, Errno.EACCES, "permission denied"));
            }
            for (Case c : cases) {
                assertThatThrownBy(() -> h.await(aio.create(h.layer, AioModule.Options.of("AIOx", c.file(), c.bs()))))
                        .as(c.file())
                        .satisfies(t -> {
                            assertThat(Vbdevs.errnoOf(t, 0)).as(c.file()).isEqualTo(c.errno());
                            assertThat(cause(t)).hasMessageContaining("filename=" + c.file()).hasMessageContaining(c.text());
                        });
            }
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", ok.toString(), 512)));
            assertThatThrownBy(() -> h.await(aio.create(h.layer, AioModule.Options.of("AIO0", ok.toString(), 512))))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EEXIST));
            assertThat(h.layer.bdevs()).extracting(Bdev::name).containsExactly("AIO0");
        }
    }

    /**
     * A regular file that this process cannot open read-write: a mode-000 file for an ordinary user; for root, who
     * may open any ordinary file, a sysfs attribute (a regular file root cannot open for writing), or null.
     */
    static Path noPermissionFile(Path dir) throws Exception {
        if (!"root".equals(System.getProperty("user.name"))) {
            Path p = file(dir, "denied.img", 4096);
            Files.setPosixFilePermissions(p, java.util.Set.of());
            return p;
        }
        Path sys = Path.of("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
        return Files.isRegularFile(sys) ? sys : null;
    }

    @Test
    @DisplayName("a readonly bdev reads; its writes complete FAILED, as SPDK's; unmap and write_zeroes are not offered")
    void readonlyBdev(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "ro.img", 64 * 1024);
            Files.write(f, IoKit.pattern(64 * 1024, 3));
            Bdev b = h.await(aio.create(h.layer, new AioModule.Options("AIO0", f.toString(), 512, true, false, null)));
            IoKit io = new IoKit(h.layer);
            assertThat(io.read("AIO0", 0, 2)).isEqualTo(Arrays.copyOf(IoKit.pattern(64 * 1024, 3), 1024));
            assertThat(io.write("AIO0", 0, new byte[512])).isEqualTo(IoStatus.FAILED);
            assertThat(b.supports(IoType.UNMAP)).isFalse();
            assertThat(Files.readAllBytes(f)).isEqualTo(IoKit.pattern(64 * 1024, 3));
        }
    }

    @Test
    @DisplayName("bdev_aio_rescan: a grown file grows the bdev and open descriptors get RESIZE; a resize past the file is -22; a file truncated to 0 deletes the bdev")
    void rescan(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "g.img", 64 * 1024);
            Bdev b = h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 4096)));
            List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
            var d = h.on(1, () -> h.layer.open("AIO0", false, (e, bd, desc) -> {
                events.add(e.name() + ":" + bd.numBlocks());
                if (e == io.spindle.bdev.BdevEvent.REMOVE) {
                    desc.close();
                }
            }));
            assertThat(h.await(aio.rescan(h.layer, "AIO0"))).isEqualTo(Errno.OK);
            assertThat(events).isEmpty();
            try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                r.setLength(128 * 1024);
            }
            assertThat(h.await(aio.rescan(h.layer, "AIO0"))).isEqualTo(Errno.OK);
            h.poll();
            assertThat(b.numBlocks()).isEqualTo(32);
            assertThat(events).containsExactly("RESIZE:32");
            // the resize capability: nothing past what the file held when last measured
            assertThat(h.await(h.layer.resize("AIO0", 33))).isEqualTo(Errno.EINVAL);
            assertThat(h.await(h.layer.resize("AIO0", 1L << 40))).isEqualTo(Errno.EINVAL);
            assertThat(b.numBlocks()).isEqualTo(32);
            assertThat(events).containsExactly("RESIZE:32");
            try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                r.setLength(0);
            }
            assertThat(h.await(aio.rescan(h.layer, "AIO0"))).isEqualTo(Errno.OK);
            h.group.pollUntil(() -> h.layer.get("AIO0") == null, java.time.Duration.ofSeconds(10));
            assertThat(events).containsExactly("RESIZE:32", "REMOVE:32");
            assertThat(d.isClosed()).isTrue();
            assertThat(h.await(aio.rescan(h.layer, "AIO0"))).isEqualTo(Errno.ENODEV);
        }
    }

    @Test
    @DisplayName("a read past a file that was truncated to 0 under the bdev fails, and the bdev is hot-removed once (SPDK's detection)")
    void ioOnARemovedDeviceHotRemoves(@TempDir Path dir) throws Exception {
        AioModule aio = module(1);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "gone.img", 64 * 1024);
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 512)));
            try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                r.setLength(0);
            }
            IoKit io = new IoKit(h.layer);
            try (DmaBuffer b = DmaBuffer.allocate(512)) {
                assertThat(io.io(0, "AIO0", IoType.READ, 3, 1, b)).isEqualTo(IoStatus.FAILED);
            }
            h.group.pollUntil(() -> h.layer.bdevs().isEmpty(), java.time.Duration.ofSeconds(10));
            assertThat(h.layer.get("AIO0")).isNull();
        }
    }

    @Test
    @DisplayName("RESET completes once the I/O at the I/O threads came back; the bdev keeps working after it")
    void resetWaitsForInFlight(@TempDir Path dir) throws Exception {
        AioModule aio = module(2);
        try (BdevHarness h = harness(aio)) {
            Path f = file(dir, "r.img", 1 << 20);
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 4096)));
            IoKit io = new IoKit(h.layer);
            assertThat(io.io(1, "AIO0", IoType.RESET, 0, 0, null)).isEqualTo(IoStatus.SUCCESS);
            byte[] a = IoKit.pattern(4096, 2);
            assertThat(io.write("AIO0", 1, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("AIO0", 1, 1)).isEqualTo(a);
        }
    }

    @Test
    @DisplayName("the I/O threads start with the first aio bdev and stop with the last one")
    void threadsLiveWithTheBdevs(@TempDir Path dir) throws Exception {
        AioModule aio = module(3);
        try (BdevHarness h = harness(aio)) {
            assertThat(aioThreads()).isZero();
            Path f = file(dir, "t.img", 64 * 1024);
            h.await(aio.create(h.layer, AioModule.Options.of("AIO0", f.toString(), 512)));
            assertThat(aioThreads()).isEqualTo(3);
            assertThat(h.await(aio.delete(h.layer, "AIO0"))).isEqualTo(Errno.OK);
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> aioThreads() == 0);
            assertThat(h.await(aio.delete(h.layer, "AIO0"))).isEqualTo(Errno.ENODEV);
        }
    }

    static long aioThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.isAlive() && t.getName().startsWith("spindle-aio-")).count();
    }
}
