package io.spindle.transport.wire;

/** The frame types of the wire protocol ({@link FrameDescriptor}); the code is the header's Type byte. */
public enum FrameType {
    /** Host → target admin stream: open a controller (admin queue). */
    CONNECT(1),
    /** Target → host: the controller's answer (status, namespaces, limits). */
    CONNECT_RESPONSE(2),
    /** Target → host: prove the shared key (nonce and the target's proof). */
    AUTH_CHALLENGE(3),
    /** Host → target: the host's proof. */
    AUTH_RESPONSE(4),
    /** Host → target admin stream: open an I/O queue pair. */
    CONNECT_IO(5),
    /** Target → host: the I/O queue pair's stream. */
    CONNECT_IO_RESPONSE(6),
    /** Host → target I/O stream: a command capsule. */
    COMMAND(7),
    /** Target → host I/O stream: a completion. */
    COMPLETION(8),
    /** Either direction on an I/O stream: a chunk of a command's data. */
    DATA(9),
    /** Either direction on the admin streams: liveness. */
    KEEP_ALIVE(10),
    /** Either direction: the controller or queue pair is closed. */
    DISCONNECT(11),
    /** Target → host admin: an asynchronous event (namespace removed, frame discarded). */
    ASYNC_EVENT(12);

    private static final FrameType[] BY_CODE = new FrameType[16];

    static {
        for (FrameType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;

    FrameType(int code) {
        this.code = code;
    }

    /** The Type byte. */
    public int code() {
        return code;
    }

    /** The type with {@code code}, or null for an unknown code. */
    public static FrameType of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
