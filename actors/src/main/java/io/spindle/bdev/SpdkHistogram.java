package io.spindle.bdev;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;

/**
 * SPDK's histogram layout ({@code include/spdk/histogram_data.h}), so that {@code bdev_get_histogram}'s
 * {@code histogram} field decodes with SPDK's own {@code scripts/histogram.py}.
 *
 * <p>Layout: values (ticks; Spindle's ticks are nanoseconds) fall in ranges by their highest set bit, each
 * range split into {@code 2^granularity} buckets; only ranges {@code min_range..max_range} are kept (values
 * below go to the first bucket, above to the last). The encoded form is the bucket counts as little-endian
 * 64-bit integers, base64. Spindle records latencies in an HdrHistogram per channel and converts the merged one
 * here, each recorded value with its count.
 *
 * <p>Stateless; any thread.
 */
public final class SpdkHistogram {
    /** SPDK's default granularity. */
    public static final int DEFAULT_GRANULARITY = 7;
    /** SPDK's default minimum value, ns. */
    public static final long DEFAULT_MIN_NSEC = 1000;
    /** SPDK's default maximum value, ns. */
    public static final long DEFAULT_MAX_NSEC = 120_000_000_000L;

    /** The options of an enabled histogram. */
    public record Options(int granularity, long minNsec, long maxNsec) {
        /** SPDK's defaults. */
        public static final Options DEFAULT = new Options(DEFAULT_GRANULARITY, DEFAULT_MIN_NSEC, DEFAULT_MAX_NSEC);

        /**
         * Validates.
         *
         * @throws IllegalArgumentException naming the field and the bound
         */
        public Options {
            if (granularity < 1 || granularity > 20) {
                throw new IllegalArgumentException("granularity=" + granularity + ": must be between 1 and 20");
            }
            if (minNsec < 0 || maxNsec <= minNsec) {
                throw new IllegalArgumentException("min_nsec=" + minNsec + " max_nsec=" + maxNsec + ": need 0 <= min_nsec < max_nsec");
            }
        }

        /** The first kept range. */
        public int minRange() {
            return range(granularity, minNsec);
        }

        /** The last kept range. */
        public int maxRange() {
            return range(granularity, maxNsec - 1);
        }
    }

    private SpdkHistogram() {
    }

    static int range(int granularity, long v) {
        int clz = v > 0 ? Long.numberOfLeadingZeros(v) : 64;
        int lsb = 64 - granularity;
        return clz <= lsb ? lsb - clz : 0;
    }

    static int index(int granularity, long v, int range) {
        int shift = range == 0 ? 0 : range - 1;
        return (int) ((v >>> shift) & ((1L << granularity) - 1));
    }

    /** The bucket counts of {@code h} (values in ns) in SPDK's layout. */
    public static long[] buckets(Histogram h, Options o) {
        int g = o.granularity();
        int minR = o.minRange();
        int maxR = o.maxRange();
        long[] b = new long[(maxR - minR + 1) << g];
        if (h == null) {
            return b;
        }
        for (HistogramIterationValue v : h.recordedValues()) {
            long value = v.getValueIteratedTo();
            long count = v.getCountAtValueIteratedTo();
            int r = range(g, value);
            int i;
            if (r < minR) {
                r = minR;
                i = 0;
            } else if (r > maxR) {
                r = maxR;
                i = (1 << g) - 1;
            } else {
                i = index(g, value, r);
            }
            b[((r - minR) << g) + i] += count;
        }
        return b;
    }

    /** {@link #buckets} as SPDK encodes them: little-endian uint64s, base64. */
    public static String encode(long[] buckets) {
        ByteBuffer bb = ByteBuffer.allocate(buckets.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : buckets) {
            bb.putLong(x);
        }
        return Base64.getEncoder().encodeToString(bb.array());
    }
}
