package io.spindle.benchmarks;

import io.spindle.bdev.DmaBuffer;
import net.openhft.chronicle.core.UnsafeMemory;
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
 * A 4 KiB malloc-bdev read against the bare copy it is made of, in the same run: {@code bareCopy} copies 4 KiB
 * from a pseudo-random 4 KiB-aligned offset of an off-heap region as large as the bdev into a 4 KiB
 * {@link DmaBuffer} (rotating over the same {@code qd} buffers the reads use), with the same random sequence, on the reactor thread (the benchmark thread parked, as
 * for the reads); {@code mallocRead} reads the same way through the bdev
 * layer (closed loop at queue depth {@code qd} on one reactor, see {@link BdevReadRig}). The bdev layer's
 * budget: {@code mallocRead} within 20% of {@code bareCopy}.
 *
 * <p>Both use a region of {@code sizeMiB} so that, as in bdevperf, most copies miss the CPU caches.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar MallocReadBench}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class MallocReadBench extends SpindleBench {
    /** Reads (or copies) per benchmark invocation. */
    public static final int BATCH = 20_000;
    private static final int IO = 4096;

    @Param({"256"})
    public int sizeMiB;

    @Param({"1", "32"})
    public int qd;

    /** The bare-copy baseline's own region and target buffer. */
    @State(Scope.Thread)
    public static class Copy {
        DmaBuffer region;
        DmaBuffer target;
        /** The rig's read buffers (one per queue slot): the copies land where the reads land. */
        long[] targets;
        long blocks;
        long rng = 0x9E3779B97F4A7C15L;
        /** {@value #BATCH} copies from pseudo-random blocks; returns a word of the target so nothing is dead. */
        final java.util.function.LongSupplier copies = this::copyBatch;

        long copyBatch() {
            long base = region.address();
            long[] dst = targets;
            int n = dst.length;
            long r = rng;
            for (int i = 0; i < BATCH; i++) {
                r ^= r << 13;
                r ^= r >>> 7;
                r ^= r << 17;
                long block = (r >>> 1) % blocks;
                UnsafeMemory.MEMORY.copyMemory(base + block * IO, dst[i % n], IO);
            }
            rng = r;
            return target.getLong(0);
        }

        /**
         * Informational, not the budget's baseline: the same copies, but the next source address depends on the
         * last word the previous copy wrote (always 0 here, so the sequence is the same), so a copy cannot start
         * before the previous one has finished, as with one I/O in flight (QD1).
         */
        final java.util.function.LongSupplier serialCopies = this::serialCopyBatch;

        long serialCopyBatch() {
            long base = region.address();
            long[] dst = targets;
            int n = dst.length;
            long r = rng;
            long dep = 0;
            for (int i = 0; i < BATCH; i++) {
                r ^= r << 13;
                r ^= r >>> 7;
                r ^= r << 17;
                long block = ((r >>> 1) + dep) % blocks;
                long to = dst[i % n];
                UnsafeMemory.MEMORY.copyMemory(base + block * IO, to, IO);
                dep = UnsafeMemory.MEMORY.readLong(to + IO - 8) ^ FILL_WORD; // 0, but only once the copy is done
            }
            rng = r;
            return target.getLong(0);
        }

        /** Every long of the region, which is filled with bytes of 1. */
        static final long FILL_WORD = 0x0101010101010101L;

        @Setup(Level.Trial)
        public void setUp(MallocReadBench b) {
            region = DmaBuffer.allocate((long) b.sizeMiB * 1024 * 1024, 4096);
            region.fill(0, region.capacity(), (byte) 1); // touch every page, as the malloc bdev's memory is
            target = DmaBuffer.allocate(IO, 4096);
            blocks = region.capacity() / IO;
            targets = new long[b.qd];
            for (int i = 0; i < b.qd; i++) {
                targets[i] = b.rig.buffer(i).address();
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            region.close();
            target.close();
        }
    }

    BdevReadRig rig;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        rig = new BdevReadRig("malloc", sizeMiB, IO, qd);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        rig.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void mallocRead() {
        rig.run(BATCH);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long bareCopy(Copy c) {
        return rig.runOnReactor(c.copies); // on the reactor thread, as the malloc module's copies are
    }

    /** Informational (not the budget's baseline): {@code bareCopy} with each copy waiting for the previous one. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long bareCopySerial(Copy c) {
        return rig.runOnReactor(c.serialCopies);
    }
}
