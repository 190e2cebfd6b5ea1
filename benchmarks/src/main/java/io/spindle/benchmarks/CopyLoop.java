package io.spindle.benchmarks;

import io.spindle.bdev.DmaBuffer;
import net.openhft.chronicle.core.UnsafeMemory;

import java.util.Locale;

/**
 * The bare 128 KiB copy loop that {@code malloc 128 KiB read QD32} is measured against (issue 17: "at the machine's
 * memory bandwidth, with the bare-copy figure beside it"): one thread copying with the same {@code Unsafe.copyMemory}
 * the malloc bdev uses, with nothing else around it. Two loops, each for {@code -t} seconds:
 * <ul>
 *   <li>{@code stream}: what the bdevperf run copies: the next 128 KiB of a 256 MiB region (as large as bdevperf's
 *       Malloc0, every page touched) into one of 32 rotating 128 KiB buffers (the 32 tasks' buffers of QD32),
 *       wrapping at the end; the source streams from memory, as the bdev's reads do;</li>
 *   <li>{@code cached}: between two 128 KiB regions, again and again: both stay in the CPU's caches (the ceiling of a
 *       copy, not of a read from memory).</li>
 * </ul>
 * Memory comes from {@link DmaBuffer} (huge pages when the machine has them, as the malloc bdev's and bdevperf's).
 * Output: one line per loop, {@code Total <loop> : <copies/s> copies/s <GiB/s> GiB/s}, which
 * {@code benchmarks/compare-spdk.sh} parses.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar io.spindle.benchmarks.CopyLoop [-t seconds] [stream|cached]...}
 * (with the JVM flags of {@code pom.xml}'s {@code spindle.jvm.flags}). Single-threaded; a program, not a test.
 */
public final class CopyLoop {
    private static final int IO = 128 * 1024;
    private static final long REGION = 256L << 20;
    private static final int BUFFERS = 32;
    private static final UnsafeMemory MEM = UnsafeMemory.MEMORY;

    private CopyLoop() {
    }

    public static void main(String[] args) {
        int seconds = 5;
        java.util.List<String> loops = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "-t" -> {
                    if (i + 1 >= args.length) {
                        throw new IllegalArgumentException("-t: needs a value in seconds");
                    }
                    seconds = Integer.parseInt(args[++i]);
                    if (seconds < 1 || seconds > 3600) {
                        throw new IllegalArgumentException("-t " + seconds + ": must be 1..3600");
                    }
                }
                case "stream", "cached" -> loops.add(args[i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + " (usage: CopyLoop [-t seconds] [stream|cached]...)");
            }
        }
        if (loops.isEmpty()) {
            loops = java.util.List.of("stream", "cached");
        }
        for (String loop : loops) {
            double perSecond = loop.equals("stream") ? stream(seconds) : cached(seconds);
            System.out.printf(Locale.ROOT, "Total %s : %.2f copies/s %.2f GiB/s (%s)%n", loop, perSecond, perSecond * IO / (1L << 30),
                    loop.equals("stream") ? "128 KiB from a 256 MiB region into 32 buffers, " + backing()
                            : "128 KiB between two 128 KiB regions, " + backing());
        }
    }

    private static String backing() {
        try (DmaBuffer b = DmaBuffer.allocate(4096, 4096)) {
            return b.backing();
        }
    }

    private static double stream(int seconds) {
        try (DmaBuffer src = DmaBuffer.allocate(REGION, 4096)) {
            src.fill(0, REGION, (byte) 1); // every page touched, as a malloc bdev's memory is
            DmaBuffer[] dst = new DmaBuffer[BUFFERS];
            try {
                long[] to = new long[BUFFERS];
                for (int i = 0; i < BUFFERS; i++) {
                    dst[i] = DmaBuffer.allocate(IO, 4096);
                    to[i] = dst[i].address();
                }
                long base = src.address();
                long slots = REGION / IO;
                return timed(seconds, (n, k) -> {
                    for (long i = 0; i < n; i++, k++) {
                        MEM.copyMemory(base + (k % slots) * IO, to[(int) (k % BUFFERS)], IO);
                    }
                    return k;
                });
            } finally {
                for (DmaBuffer b : dst) {
                    if (b != null) {
                        b.close();
                    }
                }
            }
        }
    }

    private static double cached(int seconds) {
        try (DmaBuffer a = DmaBuffer.allocate(IO, 4096); DmaBuffer b = DmaBuffer.allocate(IO, 4096)) {
            a.fill(0, IO, (byte) 1);
            long from = a.address();
            long to = b.address();
            return timed(seconds, (n, k) -> {
                for (long i = 0; i < n; i++, k++) {
                    MEM.copyMemory(from, to, IO);
                }
                return k;
            });
        }
    }

    private interface Batch {
        /** Runs {@code n} copies starting at copy number {@code k}; returns the next copy number. */
        long run(long n, long k);
    }

    /** Copies per second over {@code seconds}, after a one-second warm-up (the JIT compiles the loop). */
    private static double timed(int seconds, Batch batch) {
        long k = 0;
        long warmEnd = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < warmEnd) {
            k = batch.run(256, k);
        }
        long start = System.nanoTime();
        long end = start + seconds * 1_000_000_000L;
        long copies = 0;
        long now;
        do {
            k = batch.run(256, k);
            copies += 256;
            now = System.nanoTime();
        } while (now < end);
        return copies * 1e9 / (now - start);
    }
}
