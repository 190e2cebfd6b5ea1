package io.spindle.examples.bdevperf;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.bdev.BdevLayer;
import io.spindle.env.HugePages;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** bdevperf's {@code --huge} / {@code --no-huge}: parsed into the policy, and the Malloc0 of a run on the memory they ask for. */
class BdevPerfHugePagesTest {
    @AfterEach
    void restorePolicy() {
        HugePages.process().configure(HugePages.Mode.AUTO, null);
    }

    @Test
    void theFlagsSetThePolicyAndOnlyOneMayBeGiven() {
        assertThat(BdevPerfOptions.parse("-w", "read", "-t", "1").huge()).isEqualTo(HugePages.Mode.AUTO);
        assertThat(BdevPerfOptions.parse("-w", "read", "-t", "1", "--huge").huge()).isEqualTo(HugePages.Mode.ON);
        assertThat(BdevPerfOptions.parse("-w", "read", "-t", "1", "--no-huge").huge()).isEqualTo(HugePages.Mode.OFF);
        assertThatThrownBy(() -> BdevPerfOptions.parse("-w", "read", "-t", "1", "--huge", "--no-huge"))
                .isInstanceOf(BdevPerfOptions.UsageException.class).hasMessage("--huge, --no-huge: give one of them");
        assertThat(BdevPerfOptions.usage()).contains("--huge", "--no-huge");
    }

    @Test
    @DisplayName("--huge without huge pages (huge-dir not on hugetlbfs): the start fails up front with one line naming the flag and why")
    void hugeWithoutHugePagesFailsUpFront(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        com.typesafe.config.Config c = com.typesafe.config.ConfigFactory.parseString("spindle.memory.huge-dir = \"" + dir + "\"");
        assertThatThrownBy(() -> BdevPerf.requireHugePages(HugePages.Mode.ON, c)).isInstanceOf(io.spindle.app.SpindleStartException.class)
                .hasMessageStartingWith("--huge: spindle.memory.huge-pages=on: no huge pages: spindle.memory.huge-dir=" + dir
                        + " is not on a hugetlbfs mount");
        BdevPerf.requireHugePages(HugePages.Mode.AUTO, c); // auto and off check nothing up front
    }

    /** Runs 1 s of 4 KiB randwrite on the embedded Malloc0 and returns what bdev_get_bdevs says backs it. */
    private static String mallocMemoryOfARun(String... flags) throws Exception {
        String[] args = new String[6 + flags.length];
        System.arraycopy(new String[] {"-q", "8", "-w", "randwrite", "-t", "1"}, 0, args, 0, 6);
        System.arraycopy(flags, 0, args, 6, flags.length);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BdevPerf perf = new BdevPerf(BdevPerfOptions.parse(args), new PrintStream(buf, true, StandardCharsets.UTF_8));
        AtomicReference<String> memory = new AtomicReference<>();
        perf.duringRun = spindle -> memory.set(BdevLayer.of(spindle).get("Malloc0").toJson(new ObjectMapper())
                .path("driver_specific").path("malloc").path("memory").asText());
        int rc = perf.execute();
        assertEquals(0, rc, buf.toString(StandardCharsets.UTF_8));
        return memory.get();
    }

    @Test
    @Timeout(60)
    @DisplayName("--huge: Malloc0 on hugetlbfs (where the machine has huge pages)")
    void hugePutsMalloc0OnHugePages() throws Exception {
        HugePages.Mount m = HugePages.process().mount();
        assumeTrue(m != null && HugePages.process().freePages(m.pageSize()) * m.pageSize() >= (300L << 20), "no 300 MiB of free huge pages");
        assertThat(mallocMemoryOfARun("--huge")).isEqualTo(m.describe());
    }

    @Test
    @Timeout(60)
    @DisplayName("--no-huge: Malloc0 on normal pages")
    void noHugePutsMalloc0OnNormalPages() throws Exception {
        assertThat(mallocMemoryOfARun("--no-huge")).isEqualTo("4KiB pages");
    }
}
