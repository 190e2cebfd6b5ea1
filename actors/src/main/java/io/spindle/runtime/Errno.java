package io.spindle.runtime;

/**
 * Status codes shared with SPDK: {@code 0} is success, failures are negative errno values, exactly as SPDK
 * reports them in callbacks and JSON-RPC error codes.
 */
public final class Errno {
    /** Success. */
    public static final int OK = 0;
    /** Operation not permitted. */
    public static final int EPERM = -1;
    /** No such file or directory (unknown name). */
    public static final int ENOENT = -2;
    /** I/O error; also the status of a fan-out hop whose function threw. */
    public static final int EIO = -5;
    /** Bad descriptor (write on a read-only descriptor). */
    public static final int EBADF = -9;
    /** Bad address (SPDK: a histogram that was never enabled). */
    public static final int EFAULT = -14;
    /** Out of memory / no resources: retry later. */
    public static final int ENOMEM = -12;
    /** Busy (a second unregister, a claimed bdev). */
    public static final int EBUSY = -16;
    /** Exists already (duplicate name). */
    public static final int EEXIST = -17;
    /** No such device: unregistered or unregistering. */
    public static final int ENODEV = -19;
    /** Invalid argument. */
    public static final int EINVAL = -22;
    /** Permission denied. */
    public static final int EACCES = -13;
    /** Is a directory. */
    public static final int EISDIR = -21;
    /** No space left on device. */
    public static final int ENOSPC = -28;
    /** Read-only file system. */
    public static final int EROFS = -30;
    /** Not supported. */
    public static final int ENOTSUP = -95;
    /** The reactor or the app is shutting down. */
    public static final int ESHUTDOWN = -108;
    /** Already in progress. */
    public static final int EALREADY = -114;
    /** Operation canceled. */
    public static final int ECANCELED = -125;

    private Errno() {
    }

    /** A short name for logs and messages: {@code -19} gives {@code ENODEV}. */
    public static String name(int status) {
        return switch (status) {
            case OK -> "OK";
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EIO -> "EIO";
            case EBADF -> "EBADF";
            case ENOMEM -> "ENOMEM";
            case EFAULT -> "EFAULT";
            case EBUSY -> "EBUSY";
            case EEXIST -> "EEXIST";
            case ENODEV -> "ENODEV";
            case EINVAL -> "EINVAL";
            case EACCES -> "EACCES";
            case EISDIR -> "EISDIR";
            case ENOSPC -> "ENOSPC";
            case EROFS -> "EROFS";
            case ENOTSUP -> "ENOTSUP";
            case ESHUTDOWN -> "ESHUTDOWN";
            case EALREADY -> "EALREADY";
            case ECANCELED -> "ECANCELED";
            default -> "errno(" + status + ")";
        };
    }

    /** The C library's {@code strerror} text for {@code status} (negative or positive), as SPDK's RPC replies use it. */
    public static String describe(int status) {
        return switch (-Math.abs(status)) {
            case OK -> "Success";
            case EPERM -> "Operation not permitted";
            case ENOENT -> "No such file or directory";
            case EIO -> "Input/output error";
            case EBADF -> "Bad file descriptor";
            case ENOMEM -> "Cannot allocate memory";
            case EFAULT -> "Bad address";
            case EBUSY -> "Device or resource busy";
            case EEXIST -> "File exists";
            case ENODEV -> "No such device";
            case EINVAL -> "Invalid argument";
            case EACCES -> "Permission denied";
            case EISDIR -> "Is a directory";
            case ENOSPC -> "No space left on device";
            case EROFS -> "Read-only file system";
            case ENOTSUP -> "Operation not supported";
            case ESHUTDOWN -> "Cannot send after transport endpoint shutdown";
            case EALREADY -> "Operation already in progress";
            case ECANCELED -> "Operation canceled";
            default -> "Unknown error " + Math.abs(status);
        };
    }
}
