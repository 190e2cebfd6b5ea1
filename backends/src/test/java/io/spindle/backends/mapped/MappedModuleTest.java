package io.spindle.backends.mapped;

import io.spindle.backends.IoKit;
import io.spindle.backends.Vbdevs;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevHarness;
import io.spindle.bdev.BdevOptions;
import io.spindle.bdev.BdevTestAccess;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.env.HugePages;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The mapped module on manual reactors and real files: create, reopen, sizes beyond 2 GiB, flush, bad input. */
@Timeout(60)
class MappedModuleTest {
    static final ActorTestKit kit = ActorTestKit.create("mapped-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static Throwable cause(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    static BdevHarness harness(MappedModule mm) {
        return new BdevHarness(kit, 2, BdevOptions.defaults(64), mm);
    }

    static MappedModule.Mapping mapping(BdevHarness h, String name) {
        Bdev b = h.layer.get(name);
        return ((MappedModule.Driver) io.spindle.bdev.BdevTestAccess.driver(b)).m;
    }

    @Test
    @DisplayName("a new file is created sparse with num_blocks blocks; what is written is in the file at block * block_size, and reads back on every reactor")
    void createsAFileAndMovesData(@TempDir Path dir) throws Exception {
        MappedModule mm = new MappedModule();
        try (BdevHarness h = harness(mm)) {
            Path f = dir.resolve("m.img");
            Bdev b = h.await(mm.create(h.layer, new MappedModule.Options("Map0", f.toString(), 4096, 256, null)));
            assertThat(Files.size(f)).isEqualTo(256 * 4096);
            assertThat(b.numBlocks()).isEqualTo(256);
            assertThat(b.productName()).isEqualTo("Mapped file");
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(3 * 4096, 4);
            assertThat(io.write("Map0", 7, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("Map0", 7, 3)).isEqualTo(a);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(f), 7 * 4096, 10 * 4096)).isEqualTo(a);
            try (var buf = DmaBuffer.allocate(4096)) {
                assertThat(io.io(1, "Map0", IoType.READ, 8, 1, buf)).isEqualTo(IoStatus.SUCCESS);
                assertThat(buf.get(0, 4096)).isEqualTo(Arrays.copyOfRange(a, 4096, 8192));
            }
            assertThat(io.io(1, "Map0", IoType.UNMAP, 7, 1, null)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.io(0, "Map0", IoType.WRITE_ZEROES, 9, 1, null)).isEqualTo(IoStatus.SUCCESS);
            byte[] back = io.read("Map0", 7, 3);
            assertThat(Arrays.copyOfRange(back, 0, 4096)).isEqualTo(new byte[4096]);
            assertThat(Arrays.copyOfRange(back, 4096, 8192)).isEqualTo(Arrays.copyOfRange(a, 4096, 8192));
            assertThat(Arrays.copyOfRange(back, 8192, 12288)).isEqualTo(new byte[4096]);
        }
    }

    @Test
    @DisplayName("huge pages: advised by default (the process's policy), not with huge_pages=false nor under the policy off;"
            + " driver_specific says which and how much the kernel maps huge; save_config keeps an explicit huge_pages")
    void hugePagesAdvisedByPolicyOrParameter(@TempDir Path dir) throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        MappedModule mm = new MappedModule();
        try (BdevHarness h = harness(mm)) {
            Path f = dir.resolve("huge.img");
            Bdev b = h.await(mm.create(h.layer, new MappedModule.Options("Map0", f.toString(), 4096, 1024, null)));
            MappedModule.Mapping m = mapping(h, "Map0");
            assertThat(m.hugePages).as("Linux: madvise(MADV_HUGEPAGE) accepted, or refused with the errno named")
                    .matches("advised|refused: madvise\\(MADV_HUGEPAGE\\) errno=\\d+ .*");
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(1024 * 4096, 9);
            assertThat(io.write("Map0", 0, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("Map0", 0, 1024)).isEqualTo(a);
            var ds = b.toJson(json).at("/driver_specific/mapped");
            assertThat(ds.get("huge_pages").asText()).isEqualTo(m.hugePages);
            if (m.hugePages.equals("advised")) {
                long pmd = ds.get("huge_pages_mapped_bytes").asLong();
                assertThat(pmd).as("FilePmdMapped of this mapping, read from /proc/self/smaps").isBetween(0L, 1024L * 4096);
                assertThat(Madvise.pmdMappedBytes(m.base)).isBetween(0L, 1024L * 4096);
            }
            assertThat(((MappedModule.Driver) BdevTestAccess.driver(b)).writeConfig(b).at("/params").has("huge_pages"))
                    .as("left to the policy: not written").isFalse();
            assertThat(h.await(mm.delete(h.layer, "Map0"))).isEqualTo(Errno.OK);

            Bdev off = h.await(mm.create(h.layer, new MappedModule.Options("Map1", f.toString(), 4096, 0, null, false)));
            assertThat(mapping(h, "Map1").hugePages).isEqualTo("off (huge_pages=false)");
            var ds1 = off.toJson(json).at("/driver_specific/mapped");
            assertThat(ds1.get("huge_pages").asText()).isEqualTo("off (huge_pages=false)");
            assertThat(ds1.has("huge_pages_mapped_bytes")).isFalse();
            assertThat(((MappedModule.Driver) BdevTestAccess.driver(off)).writeConfig(off).at("/params/huge_pages").asBoolean(true)).isFalse();
            assertThat(io.read("Map1", 0, 1024)).as("same file, same data").isEqualTo(a);
            assertThat(h.await(mm.delete(h.layer, "Map1"))).isEqualTo(Errno.OK);

            HugePages.process().configure(HugePages.Mode.OFF, null);
            try {
                h.await(mm.create(h.layer, new MappedModule.Options("Map2", f.toString(), 4096, 0, null)));
                assertThat(mapping(h, "Map2").hugePages).isEqualTo("off (spindle.memory.huge-pages=off)");
                assertThat(h.await(mm.delete(h.layer, "Map2"))).isEqualTo(Errno.OK);
            } finally {
                HugePages.process().configure(HugePages.Mode.AUTO, null);
            }
        }
    }

    @Test
    @DisplayName("resize is refused (ENOTSUP); a copy checks its range against the mapping: a count the layer got wrong fails the I/O, in-range I/O is unharmed")
    void copyPathFailsIoOutsideTheMapping(@TempDir Path dir) throws Exception {
        MappedModule mm = new MappedModule();
        try (BdevHarness h = harness(mm)) {
            Path f = dir.resolve("r.img");
            Bdev b = h.await(mm.create(h.layer, new MappedModule.Options("Map0", f.toString(), 512, 64, null)));
            assertThat(h.await(h.layer.resize("Map0", 128))).isEqualTo(Errno.ENOTSUP);
            assertThat(h.await(h.layer.resize("Map0", 32))).isEqualTo(Errno.ENOTSUP);
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(1024, 9);
            assertThat(io.write("Map0", 62, a)).isEqualTo(IoStatus.SUCCESS);
            io.on(0, () -> {
                BdevTestAccess.setNumBlocks(b, 128); // a layer bug: the count grows behind the module
                return null;
            });
            try (var buf = DmaBuffer.allocate(2 * 512)) {
                assertThat(io.io(0, "Map0", IoType.READ, 64, 1, buf)).as("read of block 64 of 64").isEqualTo(IoStatus.FAILED);
                assertThat(io.io(0, "Map0", IoType.READ, 63, 2, buf)).as("straddling read").isEqualTo(IoStatus.FAILED);
                assertThat(io.io(0, "Map0", IoType.WRITE, 63, 2, buf)).as("straddling write").isEqualTo(IoStatus.FAILED);
                assertThat(io.io(0, "Map0", IoType.WRITE, 100, 1, buf)).as("write past the end").isEqualTo(IoStatus.FAILED);
            }
            assertThat(io.io(0, "Map0", IoType.WRITE_ZEROES, 60, 8, null)).isEqualTo(IoStatus.FAILED);
            assertThat(io.io(0, "Map0", IoType.UNMAP, 127, 1, null)).isEqualTo(IoStatus.FAILED);
            assertThat(io.read("Map0", 62, 2)).as("the failed I/O touched nothing").isEqualTo(a);
            io.on(0, () -> {
                BdevTestAccess.setNumBlocks(b, 64);
                return null;
            });
            assertThat(Files.size(f)).isEqualTo(64 * 512);
        }
    }

    @Test
    @DisplayName("FLUSH msyncs the dirty regions on the I/O thread and clears them; writes mark the 1 MiB regions they touch")
    void flushSyncsTheDirtyRegions(@TempDir Path dir) throws Exception {
        MappedModule mm = new MappedModule();
        try (BdevHarness h = harness(mm)) {
            Path f = dir.resolve("f.img");
            h.await(mm.create(h.layer, new MappedModule.Options("Map0", f.toString(), 512, 8192, null))); // 4 MiB
            MappedModule.Mapping m = mapping(h, "Map0");
            IoKit io = new IoKit(h.layer);
            assertThat(io.write("Map0", 2047, new byte[1024])).isEqualTo(IoStatus.SUCCESS); // crosses 1 MiB
            assertThat(io.write("Map0", 3 * 2048, new byte[512])).isEqualTo(IoStatus.SUCCESS);
            assertThat(m.dirty[0]).isEqualTo(0b1011L);
            assertThat(io.io(1, "Map0", IoType.FLUSH, 0, 8192, null)).isEqualTo(IoStatus.SUCCESS);
            assertThat(m.dirty[0]).isZero();
            assertThat(io.io(0, "Map0", IoType.FLUSH, 0, 8192, null)).as("nothing dirty").isEqualTo(IoStatus.SUCCESS);
        }
    }

    @Test
    @DisplayName("reopen: an existing file keeps its contents, num_blocks may be left out, and must match the file when given")
    void reopenKeepsContents(@TempDir Path dir) throws Exception {
        MappedModule mm = new MappedModule();
        try (BdevHarness h = harness(mm)) {
            Path f = dir.resolve("r.img");
            h.await(mm.create(h.layer, new MappedModule.Options("Map0", f.toString(), 512, 100, null)));
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(1024, 8);
            assertThat(io.write("Map0", 98, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(h.await(mm.delete(h.layer, "Map0"))).isEqualTo(Errno.OK);
            assertThat(h.await(mm.delete(h.layer, "Map0"))).isEqualTo(Errno.ENODEV);
            Bdev b = h.await(mm.create(h.layer, new MappedModule.Options("Map0", f.toString(), 512, 0, null)));
            assertThat(b.numBlocks()).isEqualTo(100);
            assertThat(io.read("Map0", 98, 2)).isEqualTo(a);
            h.await(mm.delete(h.layer, "Map0"));
            assertThatThrownBy(() -> h.await(mm.create(h.layer, new MappedModule.Options("Map0", f.toString(), 512, 200, null))))
                    .satisfies(t -> {
                        assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EINVAL);
                        assertThat(cause(t)).hasMessageContaining("filename=" + f).hasMessageContaining("num_blocks=200")
                                .hasMessageContaining("differs from the existing file's 51200 bytes");
                    });
            assertThat(Files.size(f)).as("never resized").isEqualTo(51200);
        }
    }

    @Test
    @DisplayName("bad input is one error naming the file: no num_blocks for a new file, a directory, a size that is not a multiple of"
            + " the block size, a bad block size, a name in use")
    void badInput(@TempDir Path dir) throws Exception {
        MappedModule mm = new MappedModule();
        try (BdevHarness h = harness(mm)) {
            Path odd = dir.resolve("odd.img");
            Files.write(odd, new byte[1000]);
            record Case(String file, int bs, long nb, int errno, String text) {
            }
            for (Case c : new Case[] {
                new Case(dir.resolve("new.img").toString(), 512, 0, Errno.EINVAL, "does not exist and num_blocks was not given"),
                new Case(dir.toString(), 512, 10, Errno.EISDIR, "is a directory"),
                new Case(odd.toString(), 512, 0, Errno.EINVAL, "size 1000 bytes is not a multiple of block_size=512"),
                new Case(dir.resolve("x.img").toString(), 1000, 10, Errno.EINVAL, "block_size=1000"),
                new Case(dir.resolve("nodir/x.img").toString(), 512, 10, Errno.ENOENT, "cannot create it"),
            }) {
                assertThatThrownBy(() -> h.await(mm.create(h.layer, new MappedModule.Options("MapX", c.file(), c.bs(), c.nb(), null))))
                        .as(c.file())
                        .satisfies(t -> {
                            assertThat(Vbdevs.errnoOf(t, 0)).as(c.file()).isEqualTo(c.errno());
                            assertThat(cause(t)).hasMessageContaining("filename=" + c.file()).hasMessageContaining(c.text());
                        });
            }
            Path ok = dir.resolve("ok.img");
            h.await(mm.create(h.layer, new MappedModule.Options("Map0", ok.toString(), 512, 10, null)));
            assertThatThrownBy(() -> h.await(mm.create(h.layer, new MappedModule.Options("Map0", dir.resolve("o2.img").toString(), 512, 10, null))))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EEXIST));
            assertThat(h.layer.bdevs()).extracting(Bdev::name).containsExactly("Map0");
        }
    }

    @Test
    @DisplayName("a 3 GiB file: writes across the 2 GiB mark and at the last block read back, also after a reopen")
    void beyondTwoGiB(@TempDir Path dir) throws Exception {
        MappedModule mm = new MappedModule();
        try (BdevHarness h = harness(mm)) {
            Path f = dir.resolve("big.img");
            long blocks = (3L << 30) / 4096;
            h.await(mm.create(h.layer, new MappedModule.Options("Big", f.toString(), 4096, blocks, null)));
            IoKit io = new IoKit(h.layer);
            long mark = (2L << 30) / 4096 - 1; // the block before 2 GiB; the write covers 2 GiB - 4 KiB .. 2 GiB + 4 KiB
            byte[] a = IoKit.pattern(8192, 6);
            byte[] z = IoKit.pattern(4096, 11);
            assertThat(io.write("Big", mark, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.write("Big", blocks - 1, z)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.io(0, "Big", IoType.FLUSH, 0, blocks, null)).isEqualTo(IoStatus.SUCCESS);
            h.await(mm.delete(h.layer, "Big"));
            h.await(mm.create(h.layer, new MappedModule.Options("Big", f.toString(), 4096, 0, null)));
            assertThat(h.layer.get("Big").numBlocks()).isEqualTo(blocks);
            assertThat(io.read("Big", mark, 2)).isEqualTo(a);
            assertThat(io.read("Big", blocks - 1, 1)).isEqualTo(z);
            try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "r")) {
                byte[] tail = new byte[4096];
                r.seek((3L << 30) - 4096);
                r.readFully(tail);
                assertThat(tail).isEqualTo(z);
            }
        }
    }
}
