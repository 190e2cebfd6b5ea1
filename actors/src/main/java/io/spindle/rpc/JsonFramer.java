package io.spindle.rpc;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Splits a byte stream into top-level JSON values, as SPDK's server reads requests: values are concatenated
 * with optional whitespace between them and no other framing. It only tracks nesting and strings; the value
 * itself is parsed by Jackson once complete (a malformed value is then a parse error).
 *
 * <p><b>Bounds.</b> A value is buffered up to {@code maxBytes}. A longer one is not buffered: the framer keeps
 * scanning it (in constant memory) and, when it ends, reports {@link Sink#tooLarge(long)} with its size, then
 * goes on with the next value, so one oversized request costs its sender an error reply, not the connection.
 *
 * <p>Top-level scalars ({@code 12}, {@code true}, {@code "x"}) are framed too (a number or literal ends at
 * whitespace or a structural character) so that the server can answer them with -32600.
 *
 * <p>Not thread-safe: owned by one connection on the RPC I/O thread.
 */
final class JsonFramer {
    /** Receives complete values. */
    interface Sink {
        /**
         * A complete value in {@code buf[0, len)}; the array is reused after the call returns.
         *
         * @return false to stop feeding (flow control): {@link #feed} returns with the rest of the input unread
         */
        boolean value(byte[] buf, int len);

        /** A value of {@code size} bytes exceeded the bound and was skipped. */
        void tooLarge(long size);
    }

    private final int maxBytes;
    private byte[] buf = new byte[4096];
    private int len;
    private long size;      // bytes of the current value, counted also while discarding
    private boolean inValue;
    private boolean discarding;
    private int depth;
    private boolean inString;
    private boolean escape;
    private boolean bareToken; // a top-level number or literal

    JsonFramer(int maxBytes) {
        this.maxBytes = maxBytes;
    }

    /** Whether part of a value has been read (a client closing now closes mid-request). */
    boolean midValue() {
        return inValue;
    }

    /**
     * Consumes bytes from {@code in} (position to limit) and reports each complete value.
     *
     * @return false when the sink asked to stop; the unread bytes stay in {@code in}
     */
    boolean feed(ByteBuffer in, Sink sink) {
        while (in.hasRemaining()) {
            byte b = in.get();
            if (!inValue) {
                if (b == ' ' || b == '\t' || b == '\n' || b == '\r') {
                    continue;
                }
                start(b);
                if (!bareToken) {
                    continue;
                }
                // a bare token may be one byte long only if terminated; fall through to look for its end later
                continue;
            }
            if (bareToken) {
                if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '{' || b == '[' || b == '}' || b == ']'
                        || b == '"' || b == ',' || b == ':') {
                    in.position(in.position() - 1); // the terminator belongs to what follows
                    if (!complete(sink)) {
                        return false;
                    }
                    continue;
                }
                append(b);
                continue;
            }
            append(b);
            if (inString) {
                if (escape) {
                    escape = false;
                } else if (b == '\\') {
                    escape = true;
                } else if (b == '"') {
                    inString = false;
                    if (depth == 0 && !complete(sink)) {
                        return false;
                    }
                }
                continue;
            }
            if (b == '"') {
                inString = true;
            } else if (b == '{' || b == '[') {
                depth++;
            } else if (b == '}' || b == ']') {
                depth--;
                if (depth <= 0 && !complete(sink)) {
                    return false;
                }
            }
        }
        return true;
    }

    private void start(byte b) {
        inValue = true;
        discarding = false;
        len = 0;
        size = 0;
        depth = 0;
        inString = false;
        escape = false;
        bareToken = false;
        append(b);
        if (b == '{' || b == '[') {
            depth = 1;
        } else if (b == '"') {
            inString = true;
        } else {
            bareToken = true;
        }
    }

    private void append(byte b) {
        size++;
        if (discarding) {
            return;
        }
        if (size > maxBytes) {
            discarding = true;
            buf = new byte[4096]; // do not keep a buffer grown for the oversized value
            len = 0;
            return;
        }
        if (len == buf.length) {
            buf = Arrays.copyOf(buf, (int) Math.min((long) maxBytes, (long) buf.length * 2));
        }
        buf[len++] = b;
    }

    private boolean complete(Sink sink) {
        inValue = false;
        bareToken = false;
        if (discarding) {
            discarding = false;
            sink.tooLarge(size);
            return true;
        }
        boolean go = sink.value(buf, len);
        if (buf.length > 64 * 1024) {
            buf = new byte[4096]; // a large request does not pin its buffer for the connection's life
        }
        len = 0;
        return go;
    }
}
