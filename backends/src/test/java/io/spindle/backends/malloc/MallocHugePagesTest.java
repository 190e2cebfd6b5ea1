package io.spindle.backends.malloc;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.backends.BackendHarness;
import io.spindle.backends.IoKit;
import io.spindle.backends.Vbdevs;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevOptions;
import io.spindle.bdev.io.IoStatus;
import io.spindle.env.HugePages;
import io.spindle.env.HugeRegion;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A malloc bdev's memory on huge pages (hugetlbfs) when the process's policy allows and the machine has them, on
 * normal pages otherwise, and what {@code bdev_get_bdevs} says about it. The huge-page cases are skipped on a machine
 * without a hugetlbfs mount with free pages; the fallback cases run everywhere.
 */
@Timeout(60)
class MallocHugePagesTest {
    static final ActorTestKit kit = ActorTestKit.create("malloc-huge-test");
    static final ObjectMapper JSON = new ObjectMapper();

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @AfterEach
    void restorePolicy() {
        HugePages.process().configure(HugePages.Mode.AUTO, null);
    }

    static long processHugetlbBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("HugetlbPages:")) {
                return Long.parseLong(line.substring(13).trim().split("\\s+")[0]) * 1024;
            }
        }
        return -1;
    }

    static HugePages.Mount usableMount(long pages) {
        HugePages hp = HugePages.process();
        HugePages.Mount m = hp.mount();
        assumeTrue(m != null, () -> "no hugetlbfs mount: " + hp.whyUnavailable());
        assumeTrue(hp.freePages(m.pageSize()) >= pages, () -> "fewer than " + pages + " free huge pages");
        return m;
    }

    static String memory(Bdev b) {
        return b.toJson(JSON).path("driver_specific").path("malloc").path("memory").asText();
    }

    static HugeRegion regionOf(String bdev) {
        for (Map.Entry<HugeRegion, String> e : HugePages.process().liveRegions().entrySet()) {
            if (e.getValue().equals("malloc bdev " + bdev)) {
                return e.getKey();
            }
        }
        return null;
    }

    @Test
    @DisplayName("on a machine with huge pages a malloc bdev's memory is one hugetlbfs region: data round-trips, bdev_get_bdevs says"
            + " \"hugetlbfs 2MiB\", and delete unmaps it (the process's huge pages drop by its size)")
    void mallocBdevOnHugePages() throws IOException {
        HugePages.Mount m = usableMount(8);
        try (BackendHarness h = new BackendHarness(kit, 2, BdevOptions.defaults(64))) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("HugeM", 1024, 4096))); // 4 MiB
            HugeRegion r = regionOf("HugeM");
            assertThat(r).isNotNull();
            assertThat(r.size()).isEqualTo(4L << 20);
            assertThat(memory(b)).isEqualTo(m.describe()).isEqualTo("hugetlbfs " + HugePages.sizeName(m.pageSize()));
            IoKit io = new IoKit(h.layer);
            assertThat(io.read("HugeM", 1000, 1)).containsOnly(0); // zeroed at create
            byte[] a = IoKit.pattern(8192, 7);
            byte[] z = IoKit.pattern(4096, 9);
            assertThat(io.write("HugeM", 0, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.write("HugeM", 1023, z)).isEqualTo(IoStatus.SUCCESS); // the last block, in the second huge page
            assertThat(io.read("HugeM", 0, 2)).isEqualTo(a);
            assertThat(io.read("HugeM", 1023, 1)).isEqualTo(z);

            long mapped = processHugetlbBytes();
            assertThat(h.await(h.malloc.delete(h.layer, "HugeM"))).isEqualTo(Errno.OK);
            assertThat(r.isClosed()).isTrue();
            assertThat(regionOf("HugeM")).isNull();
            assertThat(mapped - processHugetlbBytes()).isEqualTo(4L << 20);
        }
    }

    @Test
    void withHugePagesOffAMallocBdevIsOnNormalPagesAndSaysSo() {
        HugePages.process().configure(HugePages.Mode.OFF, null);
        try (BackendHarness h = new BackendHarness(kit, 2, BdevOptions.defaults(64))) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("SmallM", 256, 4096)));
            assertThat(memory(b)).isEqualTo("4KiB pages");
            assertThat(regionOf("SmallM")).isNull();
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(4096, 3);
            assertThat(io.write("SmallM", 5, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("SmallM", 5, 1)).isEqualTo(a);
        }
    }

    @Test
    void aHugeDirNotOnHugetlbfsFallsBackToNormalPages(@TempDir Path dir) {
        HugePages.process().configure(HugePages.Mode.AUTO, dir);
        try (BackendHarness h = new BackendHarness(kit, 1, BdevOptions.defaults(64))) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("FallbackM", 256, 4096)));
            assertThat(memory(b)).isEqualTo("4KiB pages");
        }
    }

    @Test
    @DisplayName("with huge-pages=on a malloc create that cannot get its pages fails ENOMEM naming the key, and allocates nothing")
    void policyOnWithTooFewFreePagesFailsTheCreate() {
        HugePages.Mount m = usableMount(1);
        HugePages.process().configure(HugePages.Mode.ON, null);
        long free = HugePages.process().freePages(m.pageSize());
        long blocks = (free + 1) * (m.pageSize() / 4096);
        try (BackendHarness h = new BackendHarness(kit, 1, BdevOptions.defaults(64))) {
            assertThatThrownBy(() -> h.await(h.malloc.create(h.layer, MallocModule.Options.of("TooBig", blocks, 4096))))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.ENOMEM))
                    .hasMessageContaining("spindle.memory.huge-pages=on");
            assertThat(h.layer.get("TooBig")).isNull();
        }
    }
}
