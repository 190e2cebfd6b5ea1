package io.spindle.benchmarks;

import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Cost of one reactor loop iteration with one no-op poller registered: {@link Reactor#pollOnce()} on a
 * manual-mode reactor ({@link ReactorGroup#manual(int) ReactorGroup.manual(1)}) with an empty task queue,
 * one active poller and no timed poller. Target: at most 50 ns per iteration.
 *
 * <p>What one op contains: the manual-mode checks of {@code pollOnce}, setting and restoring the
 * {@code Reactor.current()} thread-local, reading the group's clock (a {@code ManualClock}, one volatile
 * read), busy/idle accounting, one poll of the empty task queue, one call of the poller's function and the
 * loop counters. The threaded loop runs the same package-private {@code runOnce()} without the thread-local
 * set/restore but with {@code System.nanoTime()}, the exit check and the idle strategy; that loop, on its own
 * thread, is measured by {@link ReactorLoopThreadedBench}. This one isolates the iteration's own code.
 *
 * <p>{@code work} is what the poller returns: {@code 0} (idle iteration) or {@code 1} (busy iteration);
 * the two differ only in which accounting counter is bumped.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar ReactorLoopBench} (add {@code -prof gc} for
 * allocation per iteration).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ReactorLoopBench extends SpindleBench {
    /** The poller's return value: 0 = idle iteration, 1 = busy iteration. */
    @Param({"0", "1"})
    public int work;

    private BenchRig rig;
    private Reactor reactor;

    /** A manual reactor ({@link BenchRig#manual()}) with the no-op poller, registered by the first pollOnce. */
    @Setup(Level.Trial)
    public void setUp() {
        rig = BenchRig.manual();
        reactor = rig.reactor();
        final int w = work;
        rig.poller("bench-noop", () -> w);
    }

    /** The poller unregistered, the reactor stepped until idle, closed and checked exited ({@link BenchRig#close()}). */
    @TearDown(Level.Trial)
    public void tearDown() {
        rig.close();
    }

    /** One loop iteration: no task, one active poller. */
    @Benchmark
    public int pollOnce() {
        return reactor.pollOnce();
    }
}
