package io.spindle.bdev.actor;

import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;

/**
 * A {@link BdevFacade} request did not succeed: it carries the server's {@link BdevServer.Reply} and the errno
 * that sums it up. The stage's exception is this one itself (not wrapped), unless a later stage wraps it.
 *
 * <ul>
 *   <li>{@link BdevServer.Refused}: its errno (EINVAL, EBADF, ENOTSUP, ENODEV, EPERM, ESHUTDOWN) and
 *       message;</li>
 *   <li>{@link BdevServer.Busy}: {@link Errno#EBUSY}; retry later;</li>
 *   <li>{@link BdevServer.ReadCompleted} / {@link BdevServer.Completed} with a status other than SUCCESS:
 *       {@link Errno#EIO}, and {@link #status()} says which.</li>
 * </ul>
 */
public final class BdevReplyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient BdevServer.Reply reply;
    private final int errno;
    private final IoStatus status;

    /** @param reply a reply whose {@code success()} is false */
    public BdevReplyException(BdevServer.Reply reply) {
        super(describe(reply));
        this.reply = reply;
        this.errno = errnoOf(reply);
        this.status = statusOf(reply);
    }

    /** The server's reply (null after Java deserialization). */
    public BdevServer.Reply reply() {
        return reply;
    }

    /** The negative errno: the refusal's, EBUSY for Busy, EIO for an I/O that completed without success. */
    public int errno() {
        return errno;
    }

    /** The I/O status when the I/O ran and did not succeed; null when it never reached the bdev. */
    public IoStatus status() {
        return status;
    }

    private static int errnoOf(BdevServer.Reply r) {
        if (r instanceof BdevServer.Refused f) {
            return f.errno();
        }
        if (r instanceof BdevServer.Busy) {
            return Errno.EBUSY;
        }
        return Errno.EIO;
    }

    private static IoStatus statusOf(BdevServer.Reply r) {
        if (r instanceof BdevServer.ReadCompleted c) {
            return c.status();
        }
        if (r instanceof BdevServer.Completed c) {
            return c.status();
        }
        return null;
    }

    private static String describe(BdevServer.Reply r) {
        String what = r.type().rpcName() + " offset=" + r.offset();
        if (r instanceof BdevServer.Refused f) {
            return f.message() + " (" + Errno.name(f.errno()) + ")";
        }
        if (r instanceof BdevServer.Busy b) {
            return what + ": busy, max_in_flight=" + b.maxInFlight() + " requests outstanding (EBUSY)";
        }
        return what + ": completed with status=" + statusOf(r) + " (EIO)";
    }
}
