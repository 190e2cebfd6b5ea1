package io.spindle.runtime;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A {@link CompletableFuture} that may be waited for only off the reactors: {@link #join()} and the
 * {@link #get()} variants throw {@link BlockingCallOnReactorException} when called on a reactor thread while the
 * future is not complete (a wait that would block the reactor; on a complete future they return as usual). Every
 * dependent stage ({@code thenApply}, {@code whenComplete}, ...) is one too, so
 * {@code spindle.stop().thenApply(...).toCompletableFuture().join()} is refused on a reactor as well.
 *
 * <p>Spindle hands these out wherever a stage completes by reactor or actor work (the app's stop, the bdev
 * layer's register/unregister/resize/QoS/stats, the {@code BdevFacade}'s I/O). Thread-safe, as its parent.
 *
 * @param <T> the value
 */
public class OffReactorFuture<T> extends CompletableFuture<T> {
    /** An incomplete future. */
    public OffReactorFuture() {
    }

    /** Throws when called on a reactor thread; {@code what} names the blocking call in the message. */
    static void refuseOnReactor(String what) {
        Reactor r = Reactor.current();
        if (r != null) {
            throw new BlockingCallOnReactorException(what, r);
        }
    }

    private void checkWait(String what) {
        if (!isDone()) {
            refuseOnReactor(what);
        }
    }

    @Override
    public T join() {
        checkWait("CompletableFuture.join");
        return super.join();
    }

    @Override
    public T get() throws InterruptedException, ExecutionException {
        checkWait("CompletableFuture.get");
        return super.get();
    }

    @Override
    public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
        checkWait("CompletableFuture.get");
        return super.get(timeout, unit);
    }

    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
        return new OffReactorFuture<>();
    }
}
