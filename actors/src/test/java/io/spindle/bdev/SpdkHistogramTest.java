package io.spindle.bdev;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPDK's histogram layout, checked the way SPDK's {@code spdk_histogram_data_iterate} reads it: bucket j of
 * range r (stored at ((r - min_range) << g) + j) ends at 2^(r+g-1) + (j+1)·2^(r-1) (r > 0) and starts where
 * the previous bucket ended. Every recorded value must land in the bucket whose range holds it.
 * ({@code scripts/histogram.py} uses the same formula except for the first kept range, which it labels as if
 * min_range were 0: its quirk, not a different layout.)
 */
class SpdkHistogramTest {
    private static long end(int i, int j, int g, int min) {
        int r = i + min;
        return r > 0 ? (1L << (r + g - 1)) + ((long) (j + 1) << (r - 1)) : j + 1;
    }

    @Test
    @DisplayName("each value lands in the bucket histogram.py says covers it; the counts sum to the samples")
    void layoutMatchesHistogramPy() {
        SpdkHistogram.Options o = SpdkHistogram.Options.DEFAULT;
        int g = o.granularity();
        int min = o.minRange();
        Random r = new Random(7);
        for (int round = 0; round < 200; round++) {
            long v = 1000 + (long) Math.exp(r.nextDouble() * Math.log(1e9)); // 1 us .. 1 s, log-spread
            Histogram h = new Histogram(3600L * 1_000_000_000L, 3);
            h.recordValue(v);
            long exact = h.highestEquivalentValue(v); // what HdrHistogram reports for v
            byte[] raw = Base64.getDecoder().decode(SpdkHistogram.encode(SpdkHistogram.buckets(h, o)));
            ByteBuffer bb = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            long prevEnd = 0;
            boolean found = false;
            for (int i = 0; i <= o.maxRange() - min; i++) {
                for (int j = 0; j < 1 << g; j++) {
                    long count = bb.getLong();
                    long e = end(i, j, g, min);
                    if (count > 0) {
                        assertThat(count).isEqualTo(1);
                        assertThat(exact).as("value %d in [%d, %d)", exact, prevEnd, e).isGreaterThanOrEqualTo(prevEnd).isLessThan(e);
                        found = true;
                    }
                    prevEnd = e;
                }
            }
            assertThat(found).as("value " + v + " counted").isTrue();
        }
    }

    @Test
    @DisplayName("values below min_nsec go to the first bucket, above max_nsec to the last")
    void clamps() {
        SpdkHistogram.Options o = new SpdkHistogram.Options(4, 1000, 100_000);
        Histogram h = new Histogram(3600L * 1_000_000_000L, 3);
        h.recordValueWithCount(10, 3);
        h.recordValueWithCount(10_000_000, 2);
        long[] b = SpdkHistogram.buckets(h, o);
        assertThat(b[0]).isEqualTo(3);
        assertThat(b[b.length - 1]).isEqualTo(2);
        assertThat(b.length).isEqualTo((o.maxRange() - o.minRange() + 1) << 4);
    }
}
