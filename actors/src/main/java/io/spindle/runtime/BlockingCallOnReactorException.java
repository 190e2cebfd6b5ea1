package io.spindle.runtime;

/**
 * Thrown by a call that waits (for reactors, an actor, a stage) when it is made on a reactor thread: waiting there
 * stalls every channel, poller and actor of that reactor, and waits forever when what it waits for needs that very
 * reactor (a stop, a register, an I/O completion). Call it from a thread that is not a reactor, or compose on the
 * {@link java.util.concurrent.CompletionStage} the non-blocking variant returns.
 */
public final class BlockingCallOnReactorException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    BlockingCallOnReactorException(String what, Reactor reactor) {
        super(what + ": a blocking call on reactor=" + reactor.name() + " (thread=" + Thread.currentThread().getName()
                + "): it would stall this reactor and may wait for itself; call it off the reactors, or compose on the CompletionStage");
    }
}
