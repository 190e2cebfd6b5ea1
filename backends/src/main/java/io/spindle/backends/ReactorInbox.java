package io.spindle.backends;

import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Hands results from other threads (I/O threads) back to one reactor without a message per result and without
 * allocating: a bounded lock-free queue the reactor drains from a poller, and an unpark of the reactor's thread once
 * per batch, so a reactor parked by its idle strategy wakes at once.
 *
 * <p>Why not {@link Reactor#send}: it queues a {@code Runnable} on a linked queue (one node per message), and a
 * message per completion is the shape the data path avoids. Why the unpark is safe: the reactor's idle park returns
 * early on it (or right away, when it came before the park), and a spurious wake-up only costs the reactor one
 * idle loop.
 *
 * <p><b>Threads.</b> {@link #offer} from any thread; {@link #drain} on the owner reactor only (its poller).
 *
 * @param <T> the result type
 */
public final class ReactorInbox<T> {
    private final Reactor reactor;
    private final ManyToOneConcurrentArrayQueue<T> queue;
    private final AtomicBoolean wakePending = new AtomicBoolean();
    private final Consumer<T> handler;
    private Poller poller;

    /**
     * An inbox of {@code capacity} results (at least the most that can be outstanding at once) handled by
     * {@code handler} on {@code reactor}.
     */
    public ReactorInbox(Reactor reactor, int capacity, Consumer<T> handler) {
        this.reactor = reactor;
        this.queue = new ManyToOneConcurrentArrayQueue<>(capacity);
        this.handler = handler;
    }

    /** Registers the draining poller; on the owner reactor. */
    public ReactorInbox<T> start(String pollerName) {
        poller = reactor.registerPoller(pollerName, this::drain);
        return this;
    }

    /** Unregisters the poller; on the owner reactor. What is still queued can be drained with {@link #drain}. */
    public void stop() {
        if (poller != null) {
            poller.unregister();
            poller = null;
        }
    }

    /** Queues {@code t} for the reactor and wakes it (once per batch). Any thread; no allocation. */
    public void offer(T t) {
        while (!queue.offer(t)) {
            Thread.onSpinWait(); // capacity covers everything outstanding: not reached in practice
        }
        if (!wakePending.get() && wakePending.compareAndSet(false, true)) {
            Thread th = reactor.javaThread();
            if (th != null) {
                LockSupport.unpark(th);
            }
        }
    }

    /** Hands every queued result to the handler; owner reactor. Returns how many (the poller's work count). */
    public int drain() {
        if (wakePending.get()) {
            wakePending.set(false); // before draining: a result queued after the last poll below wakes us again
        }
        int n = 0;
        T t;
        while ((t = queue.poll()) != null) {
            n++;
            handler.accept(t);
        }
        return n;
    }
}
