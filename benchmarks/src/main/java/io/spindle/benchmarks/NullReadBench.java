package io.spindle.benchmarks;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * A null-bdev 4 KiB read submitted and completed on one reactor, through the whole bdev layer (descriptor,
 * channel, pooled {@code BdevIo}, per-channel stats, the null module's completion poller): the figure behind
 * the bdev layer's budget of at most 150 ns and 0 bytes allocated per I/O.
 *
 * <p>Each invocation is {@value #BATCH} reads run by a closed loop on the reactor at queue depth
 * {@code qd} (see {@link BdevReadRig}); the score is per read. The auxiliary counter
 * {@code reactorBytesPerIo} is the reactor thread's own allocation divided by the reads it completed.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar NullReadBench}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class NullReadBench extends SpindleBench {
    /** Reads per benchmark invocation. */
    public static final int BATCH = 100_000;

    @Param({"1", "128"})
    public int qd;

    private BdevReadRig rig;

    /** Reactor-thread allocation over the iteration, per read; reported next to the score. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Alloc {
        public double reactorBytesPerIo;
        long bytesAtStart;
        long ios;

        @Setup(Level.Iteration)
        public void reset() {
            ios = 0;
            bytesAtStart = -1;
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        rig = new BdevReadRig("null", 1024, 4096, qd);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        rig.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void read(Alloc a) {
        if (a.bytesAtStart < 0) {
            a.bytesAtStart = rig.reactorAllocatedBytes();
        }
        rig.run(BATCH);
        a.ios += BATCH;
        a.reactorBytesPerIo = (double) (rig.reactorAllocatedBytes() - a.bytesAtStart) / a.ios;
    }
}
