package io.spindle.env;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.spindle.bdev.DmaBuffer;
import net.openhft.chronicle.core.UnsafeMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Huge pages from hugetlbfs: mapping, unmapping once, the kernel's reservation at mmap, the fallback with its one log
 * line, and the DMA slabs. The huge-specific cases run only where a hugetlbfs mount has free pages (assumptions); the
 * fallback cases run everywhere.
 */
class HugePagesTest {
    private static final UnsafeMemory MEM = UnsafeMemory.MEMORY;

    @AfterEach
    void restoreProcessPolicy() {
        HugePages.process().configure(HugePages.Mode.AUTO, null);
    }

    /** This process's faulted-in huge page memory ({@code HugetlbPages} in /proc/self/status), in bytes; -1 if unknown. */
    static long processHugetlbBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("HugetlbPages:")) {
                return Long.parseLong(line.substring(13).trim().split("\\s+")[0]) * 1024;
            }
        }
        return -1;
    }

    static HugePages.Mount usableMount(HugePages hp) {
        HugePages.Mount m = hp.mount();
        assumeTrue(m != null, () -> "no hugetlbfs mount: " + hp.whyUnavailable());
        assumeTrue(hp.freePages(m.pageSize()) >= 4, "fewer than 4 free huge pages");
        return m;
    }

    private static ListAppender<ILoggingEvent> capture() {
        ListAppender<ILoggingEvent> a = new ListAppender<>();
        a.start();
        ((Logger) LoggerFactory.getLogger(HugePages.class)).addAppender(a);
        return a;
    }

    private static void release(ListAppender<ILoggingEvent> a) {
        ((Logger) LoggerFactory.getLogger(HugePages.class)).detachAppender(a);
    }

    @Nested
    @DisplayName("on a hugetlbfs mount")
    class OnHugetlbfs {
        @Test
        void mapsARegionOfHugePagesThatHoldsDataAndGivesThePagesBackAtClose() throws IOException {
            HugePages hp = HugePages.process();
            HugePages.Mount m = usableMount(hp);
            long before = processHugetlbBytes();
            HugeRegion r = hp.map(3 * m.pageSize() - 100, "test region");
            assertThat(r).isNotNull();
            assertThat(r.size()).isEqualTo(3 * m.pageSize()); // rounded up to the page size
            assertThat(r.address() % m.pageSize()).isZero();
            assertThat(hp.liveRegions()).containsKey(r);
            for (long off = 0; off < r.size(); off += 4096) {
                assertThat(MEM.readLong(r.address() + off)).isZero(); // fresh pages read as zero
                MEM.writeLong(r.address() + off, off ^ 0x5A5A5A5AL);
            }
            for (long off = 0; off < r.size(); off += 4096) {
                assertThat(MEM.readLong(r.address() + off)).isEqualTo(off ^ 0x5A5A5A5AL);
            }
            assertThat(processHugetlbBytes() - before).isEqualTo(r.size()); // really huge pages, faulted into this process
            r.close();
            r.close(); // idempotent: unmapped exactly once
            assertThat(r.isClosed()).isTrue();
            assertThat(hp.liveRegions()).doesNotContainKey(r);
            assertThat(processHugetlbBytes()).isEqualTo(before);
        }

        @Test
        void leavesNoFileOnTheMount() throws IOException {
            HugePages hp = HugePages.process();
            HugePages.Mount m = usableMount(hp);
            try (HugeRegion r = hp.map(m.pageSize(), "test region")) {
                assertThat(r).isNotNull();
                String mine = "spindle." + ProcessHandle.current().pid() + ".";
                try (Stream<Path> files = Files.list(m.dir())) {
                    assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(mine))).isEmpty();
                }
            }
        }

        @Test
        @DisplayName("the kernel reserves a shared hugetlbfs mapping's pages at mmap: more pages than exist fail there (ENOMEM), never later with SIGBUS")
        void mappingMorePagesThanAreFreeFailsAtMapTime() {
            HugePages hp = HugePages.process();
            HugePages.Mount m = usableMount(hp);
            long free = hp.freePages(m.pageSize());
            assertThatThrownBy(() -> hp.mapUnchecked(m, (free + 1) * m.pageSize(), "too big"))
                    .satisfies(e -> assertThat(e).isInstanceOfAny(IOException.class, OutOfMemoryError.class))
                    .hasMessageContaining("Map failed");
            assertThat(hp.liveRegions().values()).doesNotContain("too big");
        }

        @Test
        void smallDmaBuffersShareOneSlabAndALargeOneHasItsOwnRegion() {
            HugePages.Mount m = usableMount(HugePages.process());
            DmaSlabs.process().trim();
            try (DmaBuffer a = DmaBuffer.allocate(4096, 4096); DmaBuffer b = DmaBuffer.allocate(8192, 4096);
                 DmaBuffer big = DmaBuffer.allocate(m.pageSize() + 4096, 4096)) {
                assertThat(a.backing()).isEqualTo("hugetlbfs " + HugePages.sizeName(m.pageSize()));
                assertThat(b.address() / m.pageSize()).isEqualTo(a.address() / m.pageSize()); // one slab for both
                assertThat(b.address()).isGreaterThanOrEqualTo(a.address() + 4096);
                assertThat(big.backing()).startsWith("hugetlbfs");
                assertThat(HugePages.process().liveRegions().values()).contains("DMA buffer slabs", "a DMA buffer of " + (m.pageSize() + 4096) + " bytes");
                a.put(0, new byte[] {1, 2, 3});
                assertThat(a.get(0, 3)).containsExactly(1, 2, 3);
                assertThat(b.getLong(8184)).isZero();
            }
            // the big buffer's region is unmapped; the slab is kept, empty, as the arena's one idle slab
            assertThat(HugePages.process().liveRegions().values()).doesNotContain("a DMA buffer of " + (m.pageSize() + 4096) + " bytes");
            assertThat(DmaSlabs.process().idleSlab()).isNotNull();
            DmaSlabs.process().trim();
            assertThat(DmaSlabs.process().idleSlab()).isNull();
        }

        @Test
        void aSlabFullOfBuffersIsUnmappedWhenItsLastBufferCloses() {
            HugePages.Mount m = usableMount(HugePages.process());
            DmaSlabs.process().trim();
            DmaBuffer first = DmaBuffer.allocate(m.pageSize() / 2, 4096);
            DmaBuffer second = DmaBuffer.allocate(m.pageSize() / 2 + 4096, 4096); // does not fit: a second slab
            assertThat(second.address() / m.pageSize()).isNotEqualTo(first.address() / m.pageSize());
            long slabs = HugePages.process().liveRegions().values().stream().filter("DMA buffer slabs"::equals).count();
            first.close();
            assertThat(HugePages.process().liveRegions().values().stream().filter("DMA buffer slabs"::equals).count()).isEqualTo(slabs - 1);
            second.close();
            DmaSlabs.process().trim();
        }
    }

    @Nested
    @DisplayName("falling back to normal pages")
    class Fallback {
        @Test
        void aDirectoryNotOnHugetlbfsFallsBackWithOneLogLinePerProcessSayingWhy(@TempDir Path dir) {
            HugePages hp = new HugePages(Path.of("/proc/mounts"), Path.of("/sys/kernel/mm/hugepages"));
            hp.configure(HugePages.Mode.AUTO, dir);
            ListAppender<ILoggingEvent> log = capture();
            try {
                assertThat(hp.map(1 << 20, "first")).isNull();
                hp.configure(HugePages.Mode.AUTO, dir); // the same policy again, as each app start does: still one line
                assertThat(hp.map(1 << 20, "second")).isNull();
                List<String> info = log.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.INFO))
                        .map(ILoggingEvent::getFormattedMessage).toList();
                assertThat(info).hasSize(1);
                assertThat(info.get(0)).contains("not used for first", "spindle.memory.huge-dir=" + dir, "is not on a hugetlbfs mount", "normal pages");
            } finally {
                release(log);
            }
        }

        @Test
        void aMountWithNoFreePagesFallsBackSayingSo(@TempDir Path sys) throws IOException {
            HugePages real = HugePages.process();
            HugePages.Mount m = real.mount();
            assumeTrue(m != null, "no hugetlbfs mount to point at");
            Path d = Files.createDirectories(sys.resolve("hugepages-" + m.pageSize() / 1024 + "kB"));
            Files.writeString(d.resolve("free_hugepages"), "0\n");
            Files.writeString(d.resolve("resv_hugepages"), "0\n");
            HugePages hp = new HugePages(Path.of("/proc/mounts"), sys);
            hp.configure(HugePages.Mode.AUTO, m.dir());
            ListAppender<ILoggingEvent> log = capture();
            try {
                assertThat(hp.map(m.pageSize(), "malloc bdev X")).isNull();
                assertThat(log.list).singleElement().satisfies(e -> assertThat(e.getFormattedMessage())
                        .contains("not used for malloc bdev X", "needs 1 pages of " + HugePages.sizeName(m.pageSize()) + ", 0 free"));
            } finally {
                release(log);
            }
        }

        @Test
        void noHugetlbfsMountFallsBack(@TempDir Path tmp) throws IOException {
            Path mounts = Files.writeString(tmp.resolve("mounts"), "/dev/sda1 / ext4 rw,relatime 0 0\n");
            HugePages hp = new HugePages(mounts, tmp);
            hp.configure(HugePages.Mode.AUTO, null);
            assertThat(hp.mount()).isNull();
            assertThat(hp.whyUnavailable()).isEqualTo("no hugetlbfs mount in " + mounts);
            assertThat(hp.map(4096, "x")).isNull();
        }

        @Test
        void policyOnWithoutAMountFailsTheConfigureNamingTheKeyAndWhy(@TempDir Path tmp) throws IOException {
            Path mounts = Files.writeString(tmp.resolve("mounts"), "/dev/sda1 / ext4 rw 0 0\n");
            HugePages hp = new HugePages(mounts, tmp);
            assertThatThrownBy(() -> hp.configure(HugePages.Mode.ON, null)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("spindle.memory.huge-pages=on: no huge pages: no hugetlbfs mount in " + mounts);
        }

        @Test
        void policyOffGivesNormalPagesWithoutALogLine() {
            HugePages.process().configure(HugePages.Mode.OFF, null);
            ListAppender<ILoggingEvent> log = capture();
            try (DmaBuffer b = DmaBuffer.allocate(4096, 4096)) {
                assertThat(b.backing()).isEqualTo("4KiB pages");
                assertThat(log.list).isEmpty();
            } finally {
                release(log);
            }
        }

        @Test
        void parsesThePageSizeFromTheMountOptions(@TempDir Path tmp) throws IOException {
            Path mounts = Files.writeString(tmp.resolve("mounts"), "nodev /mnt/huge\\040one hugetlbfs rw,relatime,pagesize=1G 0 0\n");
            HugePages hp = new HugePages(mounts, tmp);
            hp.configure(HugePages.Mode.AUTO, null);
            assertThat(hp.mount()).isEqualTo(new HugePages.Mount(Path.of("/mnt/huge one"), 1L << 30));
            assertThat(hp.mount().describe()).isEqualTo("hugetlbfs 1GiB");
        }

        @Test
        void aBadPolicyValueNamesTheKeyAndTheAllowedValues() {
            assertThatThrownBy(() -> HugePages.Mode.parse("spindle.memory.huge-pages", "maybe"))
                    .hasMessage("spindle.memory.huge-pages=maybe: allowed: auto, on, off");
        }
    }
}
