package io.spindle.bdev;

/**
 * QoS rate limits of a bdev (SPDK's {@code bdev_set_qos_limit}); 0 disables a limit. Use {@link #of} to get
 * SPDK's rounding: IOPS up to a multiple of 1000, MB/s are whole MiB per second.
 *
 * @param rwIosPerSec    read+write I/O per second
 * @param rwMbytesPerSec read+write MiB per second
 * @param rMbytesPerSec  read MiB per second
 * @param wMbytesPerSec  write MiB per second
 */
public record QosLimits(long rwIosPerSec, long rwMbytesPerSec, long rMbytesPerSec, long wMbytesPerSec) {
    /** No limit at all. */
    public static final QosLimits NONE = new QosLimits(0, 0, 0, 0);

    /**
     * Validated limits with SPDK's rounding.
     *
     * @throws IllegalArgumentException naming the negative field
     */
    public static QosLimits of(long rwIosPerSec, long rwMbytesPerSec, long rMbytesPerSec, long wMbytesPerSec) {
        check("rw_ios_per_sec", rwIosPerSec);
        check("rw_mbytes_per_sec", rwMbytesPerSec);
        check("r_mbytes_per_sec", rMbytesPerSec);
        check("w_mbytes_per_sec", wMbytesPerSec);
        long ios = rwIosPerSec == 0 ? 0 : (rwIosPerSec + 999) / 1000 * 1000;
        return new QosLimits(ios, rwMbytesPerSec, rMbytesPerSec, wMbytesPerSec);
    }

    private static void check(String key, long v) {
        if (v < 0 || v > (1L << 40)) {
            throw new IllegalArgumentException(key + "=" + v + ": must be between 0 and 2^40");
        }
    }

    /** Whether any limit is set. */
    public boolean enabled() {
        return rwIosPerSec > 0 || rwMbytesPerSec > 0 || rMbytesPerSec > 0 || wMbytesPerSec > 0;
    }
}
