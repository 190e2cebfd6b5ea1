package io.spindle.bdev;

import net.openhft.chronicle.core.UnsafeMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The bdev's fields read on every submit are a cache line away from its object header (its lock word). */
class BdevLayoutTest {
    @Test
    @DisplayName("blockSize, numBlocks, acceptedTypes, qos and the other per-submit fields start at least 64 bytes after the object header")
    void hotFieldsAreOffTheLockWordsCacheLine() throws Exception {
        UnsafeMemory u = UnsafeMemory.MEMORY;
        for (String f : List.of("blockSize", "numBlocks", "acceptedTypes", "qos", "nativeWriteZeroes", "nativeCompare",
                "requiredAlignment", "optimalIoBoundary", "maxRwSize", "histogramEnabled", "lockCount")) {
            assertThat(u.objectFieldOffset(Bdev.class.getDeclaredField(f))).as(f).isGreaterThanOrEqualTo(64);
        }
    }
}
