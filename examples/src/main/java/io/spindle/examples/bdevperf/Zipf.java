package io.spindle.examples.bdevperf;

/**
 * Zipf-distributed I/O indexes for {@code -F theta}: index {@code i} of {@code range} is drawn with probability
 * proportional to {@code 1/(i+1)^theta}, by the inverse-CDF approximation of Gray et al., "Quickly Generating
 * Billion-Record Synthetic Databases" (SIGMOD 1994), which SPDK's {@code spdk_zipf} and fio also use. The
 * normalisation constant zeta(range) is summed exactly over the first 10 M terms and by the trapezoid rule in
 * steps of 1 M beyond, so a large bdev costs a bounded start-up.
 *
 * <p>Not thread-safe: one job's. {@link #next()} allocates nothing.
 */
final class Zipf {
    private static final long EXACT = 10_000_000L;
    private static final long STEP = 1_000_000L;
    private final long range;
    private final double theta;
    private final double alpha;
    private final double zetaN;
    private final double eta;
    private final double oneLimit;
    private long seed;

    /**
     * @param range number of indexes, >= 1
     * @param theta skew, > 0 and not 1 (the approximation divides by 1 - theta)
     */
    Zipf(long range, double theta, long seed) {
        if (range < 1) {
            throw new IllegalArgumentException("zipf range=" + range + ": must be >= 1");
        }
        if (!(theta > 0) || theta == 1.0 || Double.isInfinite(theta)) {
            throw new IllegalArgumentException("zipf theta=" + theta + ": must be > 0 and != 1");
        }
        this.range = range;
        this.theta = theta;
        this.alpha = 1.0 / (1.0 - theta);
        this.zetaN = zeta(range, theta);
        this.eta = (1.0 - Math.pow(2.0 / range, 1.0 - theta)) / (1.0 - zeta(2, theta) / zetaN);
        this.oneLimit = 1.0 + Math.pow(0.5, theta);
        this.seed = seed | 1;
    }

    static double zeta(long n, double theta) {
        double z = 0;
        long exact = Math.min(EXACT, n);
        long i = 0;
        for (; i < exact; i++) {
            z += Math.pow(1.0 / (i + 1), theta);
        }
        while (i < n) {
            long k = Math.min(STEP, n - i);
            z += (Math.pow(1.0 / (i + 1), theta) + Math.pow(1.0 / (i + k + 1), theta)) * k / 2;
            i += k;
        }
        return z;
    }

    /** The next index, 0..range-1. */
    long next() {
        long x = seed;
        x ^= x << 13;
        x ^= x >>> 7;
        x ^= x << 17;
        seed = x;
        double u = (x >>> 11) * 0x1.0p-53; // uniform in [0, 1)
        double uz = u * zetaN;
        if (uz < 1.0) {
            return 0;
        }
        if (uz < oneLimit) {
            return Math.min(1, range - 1);
        }
        long v = (long) (range * Math.pow(eta * u - eta + 1.0, alpha));
        return Long.remainderUnsigned(v, range);
    }
}
