package io.spindle.benchmarks;

import io.spindle.runtime.IdleMode;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import org.openjdk.jmh.annotations.AuxCounters;
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
import java.util.concurrent.locks.LockSupport;

/**
 * Cost of one iteration of the <em>real</em> threaded reactor loop with one no-op poller: a
 * {@link ReactorGroup#start started} reactor (core mask {@code 0x1}, idle mode {@link IdleMode#BUSY}, not
 * pinned, the system clock) loops on its own thread with an empty task queue, one active poller and no timed
 * poller, and the benchmark thread counts its iterations. Target: at most 50 ns per iteration.
 *
 * <p>Unlike {@link ReactorLoopBench}, which calls the manual-mode {@code pollOnce()} on a {@code ManualClock}
 * from the benchmark thread, this measures what a reactor thread does in production: {@code System.nanoTime()}
 * per iteration, busy/idle accounting, the task-queue poll, the poller call, the loop counters, the exit check
 * and, when the iteration found no work ({@code work = 0}), the idle strategy's {@code Thread.onSpinWait()}.
 *
 * <p><b>How it counts.</b> Each benchmark invocation reads the reactor's loop counter ({@code ReactorStats.loops},
 * written by the reactor with opaque stores), parks the benchmark thread for {@value #WINDOW_MICROS} µs so it
 * does not compete with the reactor for a CPU or its cache line, reads the counter again and adds the
 * difference to {@link Iterations#iterations}, a JMH {@code @AuxCounters(OPERATIONS)} counter. In
 * {@code AverageTime} mode JMH reports that counter as the iteration's time divided by the loops counted: the
 * {@code iterations} line of the output, in ns per loop iteration, is the figure. The primary score is only
 * the length of one window.
 *
 * <p>{@code work} is what the poller returns: {@code 0} (idle iteration, the idle strategy runs) or {@code 1}
 * (busy iteration).
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar ReactorLoopThreadedBench}. Needs two CPUs (the
 * reactor spins on one); on a loaded machine the figure measures the scheduler as well.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ReactorLoopThreadedBench extends SpindleBench {
    /** Length of one counting window. */
    public static final long WINDOW_MICROS = 1_000;

    /** The poller's return value: 0 = idle iteration, 1 = busy iteration. */
    @Param({"0", "1"})
    public int work;

    private BenchRig rig;
    private Reactor reactor;

    /** Loop iterations counted during one JMH iteration; JMH divides the iteration's time by it. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Iterations {
        /** Reactor loop iterations seen in this JMH iteration's windows. */
        public long iterations;

        /** Zeroed before every JMH iteration, so each iteration reports its own windows. */
        @Setup(Level.Iteration)
        public void reset() {
            iterations = 0;
        }
    }

    /** A started busy reactor ({@link BenchRig#threaded()}) with the no-op poller. */
    @Setup(Level.Trial)
    public void setUp() {
        rig = BenchRig.threaded();
        reactor = rig.reactor();
        final int w = work;
        rig.poller("bench-noop", () -> w);
    }

    /** The poller unregistered, the reactor stopped and its thread checked ended ({@link BenchRig#close()}). */
    @TearDown(Level.Trial)
    public void tearDown() {
        rig.close();
    }

    /** One counting window: the reactor's loop iterations while this thread is parked. */
    @Benchmark
    public void loop(Iterations counted) {
        long before = reactor.stats().loops();
        LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(WINDOW_MICROS));
        counted.iterations += reactor.stats().loops() - before;
    }
}
