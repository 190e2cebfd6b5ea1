package io.spindle.runtime;

/**
 * A function a reactor calls on every loop (or every period): SPDK's {@code spdk_poller_fn}.
 *
 * <p>Runs on the reactor that registered it, never concurrently with itself. It must do a bounded amount
 * of work and return how much it did: {@code > 0} means busy (SPDK_POLLER_BUSY), {@code 0} idle. The
 * sum of these counts decides whether a loop iteration is accounted busy or idle and whether the reactor
 * may go idle. An exception thrown here is logged with the poller's name and counted as idle.
 */
@FunctionalInterface
public interface PollerFn {
    /** Does one bounded slice of work; returns the work count, 0 when there was nothing to do. */
    int poll();
}
