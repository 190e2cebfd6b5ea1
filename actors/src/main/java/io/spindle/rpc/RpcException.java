package io.spindle.rpc;

import io.spindle.runtime.Errno;

/**
 * A JSON-RPC error: the {@code code} and {@code message} of the reply's {@code error} object.
 *
 * <p>Codes are JSON-RPC 2.0's ({@link #PARSE_ERROR}, {@link #INVALID_REQUEST}, {@link #METHOD_NOT_FOUND},
 * {@link #INVALID_PARAMS}, {@link #INTERNAL_ERROR}), SPDK's {@link #INVALID_STATE} ({@code -1}: the method is
 * not allowed in the current {@link io.spindle.rpc.spi.RpcState}), or a negative errno as SPDK's methods use
 * them ({@code -19} ENODEV for an unknown bdev, {@code -17} EEXIST for a name in use, ...): see
 * {@link #errno(int, String)}.
 *
 * <p>An error may carry Spindle's own account of what was wrong ({@link #detail()}: the field and the bound),
 * sent as the error object's {@code data} member, which JSON-RPC 2.0 allows and SPDK's {@code rpc.py} prints
 * with the rest of the error. Immutable; safe to share between threads.
 */
public final class RpcException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Invalid JSON was received. */
    public static final int PARSE_ERROR = -32700;
    /** The JSON is not a valid request object. */
    public static final int INVALID_REQUEST = -32600;
    /** No such method. */
    public static final int METHOD_NOT_FOUND = -32601;
    /** Invalid method parameters. */
    public static final int INVALID_PARAMS = -32602;
    /** Internal error. */
    public static final int INTERNAL_ERROR = -32603;
    /** SPDK's INVALID_STATE: the method may not be called in the current state. */
    public static final int INVALID_STATE = -1;

    private final int code;
    private final String detail;

    /** An error with an explicit code. */
    public RpcException(int code, String message) {
        this(code, message, null);
    }

    /** An error with an explicit code and a {@link #detail()} sent as the error's {@code data}. */
    public RpcException(int code, String message, String detail) {
        super(message, null, false, false);
        this.code = code;
        this.detail = detail;
    }

    /** {@link #INVALID_PARAMS} with {@code "Invalid parameters: " + detail}. */
    public static RpcException invalidParams(String detail) {
        return new RpcException(INVALID_PARAMS, "Invalid parameters: " + detail);
    }

    /**
     * A negative-errno error as SPDK sends them: code {@code -errno} and the errno's description as the message
     * (SPDK's {@code spdk_strerror(-rc)}: "File exists", "No such device", ...); {@code detail}, when not null,
     * goes in the error's {@code data}.
     *
     * @param status an errno status as {@link Errno} defines them ({@link Errno#ENODEV} = -19, ...); the sign is
     *               ignored
     */
    public static RpcException errno(int status, String detail) {
        int code = -Math.abs(status);
        return new RpcException(code, Errno.describe(code), detail);
    }

    /**
     * A negative-errno error whose message is {@code message} itself, for the few places where SPDK sends its
     * own text with an errno code (e.g. {@code bdev_set_qos_limit}'s "No rate limits specified").
     */
    public static RpcException errnoMessage(int status, String message) {
        return new RpcException(-Math.abs(status), message);
    }

    /** What Spindle says was wrong beyond the message (the error's {@code data}), or null. */
    public String detail() {
        return detail;
    }

    /** The JSON-RPC error code. */
    public int code() {
        return code;
    }
}
