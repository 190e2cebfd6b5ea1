package io.spindle.bdev;

import io.spindle.runtime.Errno;

/** A control-plane request on bdevs failed (open, register, claim); carries SPDK's negative errno. */
public final class BdevException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    /** @param errno negative errno, e.g. {@link Errno#ENODEV} */
    public BdevException(int errno, String message) {
        super(message + " (" + Errno.name(errno) + ")");
        this.errno = errno;
    }

    /** The negative errno. */
    public int errno() {
        return errno;
    }
}
