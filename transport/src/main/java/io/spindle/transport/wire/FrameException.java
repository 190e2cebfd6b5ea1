package io.spindle.transport.wire;

/** A received frame that fails validation; the message names the field and the bound ({@code key=value}). */
public final class FrameException extends Exception {
    private static final long serialVersionUID = 1L;

    /** A frame refused for {@code reason}. */
    public FrameException(String reason) {
        super(reason, null, false, false);
    }
}
