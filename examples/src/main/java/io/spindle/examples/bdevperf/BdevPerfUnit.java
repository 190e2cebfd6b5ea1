package io.spindle.examples.bdevperf;

import io.spindle.runtime.Reactor;

import java.util.concurrent.CompletableFuture;

/**
 * One row of bdevperf's table: a unit that keeps I/O outstanding on one thread (a direct job on its reactor, a
 * facade job's part on one reactor, an actor requester) and is sampled, drained and reported the same way
 * whatever the API.
 *
 * <p>Threads: {@link #start}, {@link #drain}, {@link #counters} are called on bdevperf's main thread and reach
 * the unit by a task or a message; {@link #completedOnReactor()} is called on {@link #reactor()} only.
 */
interface BdevPerfUnit {
    /**
     * Sets the unit up before the run's start (opens, takes channels, allocates its buffers), as SPDK's bdevperf
     * constructs its jobs before it takes {@code g_start_tsc}; completes when done. A failure is reported through
     * {@link #started()} (exceptionally) and {@link #done()}, not through this future. Called once, before
     * {@link #start}; a unit that needs nothing returns a completed future.
     */
    default CompletableFuture<Void> prepare() {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * Starts the unit (set up first if {@link #prepare} was not called); its runtime is counted from
     * {@code commonStartNanos}, the run's one start time.
     */
    void start(long commonStartNanos);

    /** Completes when the unit runs (or failed to start, exceptionally, with the reason). */
    CompletableFuture<Void> started();

    /** Stops submitting with the given status; the unit finishes when its I/O in flight completed. Any thread. */
    void drain(String status);

    /** Completes once the unit has drained and released what it held. */
    CompletableFuture<BdevPerfJob.Result> done();

    /** The counters now, as 9 longs ({@link BdevPerfJob#snapshotOf}), read on the unit's thread; allocates nothing there. */
    CompletableFuture<long[]> counters();

    /** The reactor the unit runs on and whose allocation it may be charged with, or null (a Pekko thread). */
    Reactor reactor();

    /** I/O completed so far (successful or failed); on {@link #reactor()} only. */
    long completedOnReactor();

    /** The table's device name. */
    String name();

    /** SPDK's job header line(s). */
    String header();

    /** The core mask in the output, {@code 0x1}. */
    String coreMask();

    /** Verify/reset: SPDK's {ios_base, size_in_ios} of the verified range (in I/O units); else null. */
    long[] verifyRange();

    /** What the unit runs (its own share of the queue depth). */
    JobParams params();

    /** The start its runtime is counted from (the run's common start once started; 0 before). Its own thread only. */
    long startedAtNanos();
}
