package io.spindle.examples.bdevperf;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link OffsetGenerator#below}: the multiply-shift reduction stays in range and is as uniform as a modulo. */
class OffsetReductionTest {
    @Test
    void everyDrawIsInRangeForSmallHugeAndOddRanges() {
        SplittableRandom rnd = new SplittableRandom(42);
        long[] ns = {1, 2, 3, 7, 100, 65_536, 262_144, (1L << 40) + 7, Long.MAX_VALUE};
        for (long n : ns) {
            for (int i = 0; i < 100_000; i++) {
                long v = OffsetGenerator.below(rnd.nextLong(), n);
                assertThat(v).as("n=%d", n).isBetween(0L, n - 1);
            }
        }
        // the extremes of the 64 random bits map to the ends of the range
        assertThat(OffsetGenerator.below(0L, 1000)).isZero();
        assertThat(OffsetGenerator.below(-1L, 1000)).isEqualTo(999);
    }

    @Test
    void drawsAreUniformOverTheRange() {
        SplittableRandom rnd = new SplittableRandom(7);
        int n = 100;
        int draws = 1_000_000;
        long[] hits = new long[n];
        for (int i = 0; i < draws; i++) {
            hits[(int) OffsetGenerator.below(rnd.nextLong(), n)]++;
        }
        double expect = (double) draws / n;
        double chi2 = 0;
        for (long h : hits) {
            chi2 += (h - expect) * (h - expect) / expect;
        }
        // 99 degrees of freedom: the 99.99th percentile of chi-square is about 157
        assertThat(chi2).isLessThan(157.0);
    }
}
