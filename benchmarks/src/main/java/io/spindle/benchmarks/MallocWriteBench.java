package io.spindle.benchmarks;

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
 * 4 KiB writes to a malloc bdev through the bdev layer, closed loop at queue depth {@code qd} on one reactor
 * ({@link BdevReadRig} in write mode): the write path's own costs (a caller write is tracked for range locks from
 * submit to completion) on top of the copy into the bdev's memory. Pseudo-random blocks over {@code sizeMiB}, so
 * most copies miss the CPU caches, as in bdevperf's randwrite.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar MallocWriteBench}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class MallocWriteBench extends SpindleBench {
    /** Writes per benchmark invocation. */
    public static final int BATCH = 20_000;

    @Param({"256"})
    public int sizeMiB;

    @Param({"1", "128"})
    public int qd;

    BdevReadRig rig;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        rig = new BdevReadRig("malloc", sizeMiB, 4096, qd, true);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        rig.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void mallocWrite() {
        rig.run(BATCH);
    }
}
