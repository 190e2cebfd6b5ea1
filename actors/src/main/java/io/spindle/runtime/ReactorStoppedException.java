package io.spindle.runtime;

import java.util.concurrent.RejectedExecutionException;

/**
 * Thrown when a task is sent to a reactor that has exited: a task is never dropped silently.
 * Extends {@link RejectedExecutionException} so Pekko's dispatcher recognises it as a rejection.
 */
public final class ReactorStoppedException extends RejectedExecutionException {
    private static final long serialVersionUID = 1L;

    /** @param message names the reactor and its state */
    public ReactorStoppedException(String message) {
        super(message);
    }
}
