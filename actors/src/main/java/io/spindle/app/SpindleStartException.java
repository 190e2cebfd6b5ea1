package io.spindle.app;

/** Spindle could not start: a bad configuration, a failed subsystem init, or a start timeout. */
public final class SpindleStartException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what failed, naming the subsystem or key */
    public SpindleStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
