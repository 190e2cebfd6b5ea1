package io.spindle.runtime;

/**
 * A registered poller: SPDK's {@code spdk_poller}. Created by {@link Reactor#registerPoller} on the
 * reactor that will run it.
 *
 * <p><b>Thread:</b> every method must be called on the owning reactor (the thread currently polling it);
 * any other caller gets an {@link IllegalStateException}. {@link #unregister()}, {@link #pause()} and
 * {@link #resume()} are safe from inside the poller's own function and from other pollers, and all three
 * are idempotent. After {@link #unregister()} returns the function is never called again.
 */
public final class Poller {
    /** Life-cycle states, as {@code thread_get_pollers} reports them. */
    public enum State {
        /** Registered and running every loop or period. */
        ACTIVE,
        /** Paused: kept registered but not run until resumed. */
        PAUSED,
        /** Unregistered: never runs again. */
        UNREGISTERED
    }

    final Reactor reactor;
    final String name;
    final PollerFn fn;
    final long periodNanos;
    State state = State.ACTIVE;
    boolean running;
    boolean pausePending;
    long nextRun;
    long seq;
    long runCount;
    long busyCount;
    long id;

    Poller(Reactor reactor, String name, PollerFn fn, long periodNanos) {
        this.reactor = reactor;
        this.name = name;
        this.fn = fn;
        this.periodNanos = periodNanos;
    }

    /** The poller's id, unique on its reactor (SPDK's {@code spdk_poller_get_id}); assigned at registration. */
    public long id() {
        return id;
    }

    /** Stops the poller for good; its memory is reclaimed on a later loop. No-op when already unregistered. */
    public void unregister() {
        reactor.checkOwner("poller.unregister poller=", name);
        reactor.unregisterPoller(this);
    }

    /**
     * Pauses the poller: it no longer runs from its next scheduled run on, until {@link #resume()}.
     * Idempotent; no-op on an unregistered poller.
     */
    public void pause() {
        reactor.checkOwner("poller.pause poller=", name);
        reactor.pausePoller(this);
    }

    /** Resumes a paused poller (a timed one is re-armed at now + period). Idempotent. */
    public void resume() {
        reactor.checkOwner("poller.resume poller=", name);
        reactor.resumePoller(this);
    }

    /** The poller's name (unique names are not required). */
    public String name() {
        return name;
    }

    /** The current state; {@link State#PAUSED} once a requested pause has taken effect. Owner thread only. */
    public State state() {
        reactor.checkOwner("poller.state poller=", name);
        return pausePending ? State.PAUSED : state;
    }

    /** The period in nanoseconds; 0 for a poller that runs on every loop. */
    public long periodNanos() {
        return periodNanos;
    }

    /** How many times the function ran. Owner thread only. */
    public long runCount() {
        reactor.checkOwner("poller.runCount poller=", name);
        return runCount;
    }

    /** How many runs returned a positive work count. Owner thread only. */
    public long busyCount() {
        reactor.checkOwner("poller.busyCount poller=", name);
        return busyCount;
    }

    /** The reactor that runs this poller. */
    public Reactor reactor() {
        return reactor;
    }

    @Override
    public String toString() {
        return "Poller[" + name + "@" + reactor.name() + (periodNanos > 0 ? ", period=" + periodNanos + "ns" : "") + "]";
    }
}
