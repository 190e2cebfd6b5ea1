package io.spindle.runtime;

/**
 * Why {@link IoDevice#getChannelOrThrow()} could not hand out a channel: the device is unregistered
 * ({@link Errno#ENODEV}), or its {@link ChannelFactory#create} failed, in which case {@link #getCause()} is
 * what the factory threw. SPDK's {@code spdk_get_io_channel} only returns {@code NULL}; this is the Java
 * caller's way to learn why.
 *
 * <p>A factory whose create gets a nested channel with {@code getChannelOrThrow()} may let this exception
 * propagate: the outer getter then sees the inner errno. Immutable; thrown on the getter's reactor.
 */
public final class IoChannelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String device;
    private final int errno;

    IoChannelException(String device, String reactor, int errno, String reason, Throwable cause) {
        super("getChannel io_device=" + device + " reactor=" + reactor + " errno=" + Errno.name(errno) + ": " + reason, cause);
        this.device = device;
        this.errno = errno;
    }

    /** The io_device's name. */
    public String device() {
        return device;
    }

    /**
     * {@link Errno#ENODEV} for an unregistered device; for a failed create, the errno of the factory's
     * exception when that is itself an {@code IoChannelException} (a nested get failed), else {@link Errno#EIO}.
     */
    public int errno() {
        return errno;
    }
}
