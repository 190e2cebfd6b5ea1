package io.spindle.bdev.io;

/**
 * How an accepted I/O completed: SPDK's {@code enum spdk_bdev_io_status} (module side), with the same codes.
 * Every accepted I/O completes exactly once with one of these (never {@link #PENDING}).
 */
public enum IoStatus {
    /** Done. */
    SUCCESS(1),
    /** Not completed yet (module side only). */
    PENDING(0),
    /** Failed. */
    FAILED(-1),
    /** The module had no resources; the bdev layer retries, the caller never sees this for a normal I/O. */
    NOMEM(-4),
    /** Compare found different data. */
    MISCOMPARE(-5),
    /** Aborted: by a reset, an abort, or the bdev's removal. */
    ABORTED(-7);

    private final int code;

    IoStatus(int code) {
        this.code = code;
    }

    /** SPDK's numeric code. */
    public int code() {
        return code;
    }

    /** Whether the I/O succeeded. */
    public boolean success() {
        return this == SUCCESS;
    }
}
