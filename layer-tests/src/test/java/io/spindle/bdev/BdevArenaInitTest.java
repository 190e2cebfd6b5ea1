package io.spindle.bdev;

import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleConfig;
import io.spindle.env.DmaSlabs;
import io.spindle.env.HugePages;
import io.spindle.runtime.ReactorConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The bdev subsystem maps the DMA arena's first slab at init, as SPDK's env maps its memory before the reactors run
 * I/O: the first huge-page mapping loads a native binding (a few hundred ms), which must not stall the first reactor
 * that allocates. Runs where a hugetlbfs mount has free pages.
 */
class BdevArenaInitTest {
    @Test
    @Timeout(60)
    @DisplayName("with huge pages, the arena's slab is mapped once the bdev subsystem has started, before any bdev or buffer")
    void arenaMappedAtInit() {
        HugePages hp = HugePages.process();
        HugePages.Mount m = hp.mount();
        assumeTrue(m != null && hp.freePages(m.pageSize()) >= 4, () -> "no hugetlbfs mount with free pages: " + hp.whyUnavailable());
        DmaSlabs.process().trim();
        assumeTrue(DmaSlabs.process().idleSlab() == null && !hp.liveRegions().containsValue("DMA buffer slabs"),
                "a DMA buffer of another test in this JVM still holds a slab");
        Spindle s = Spindle.start(SpindleConfig.builder(ConfigFactory.parseString("pekko.loglevel = WARNING")).name("arena-init")
                .reactor(ReactorConfig.builder().mask("0x1").conclude())
                .subsystem(new BdevSubsystem()).conclude());
        try {
            assertThat(BdevLayer.of(s).bdevs()).isEmpty();
            assertThat(hp.liveRegions().values()).contains("DMA buffer slabs");
        } finally {
            s.stopAndWait();
        }
    }
}
