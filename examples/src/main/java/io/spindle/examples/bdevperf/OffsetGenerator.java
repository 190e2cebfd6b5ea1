package io.spindle.examples.bdevperf;

import io.spindle.examples.bdevperf.BdevPerfOptions.Workload;

/**
 * Where a job's next I/O goes and whether it is a read or a write, as SPDK's {@code bdevperf_submit_single}
 * chooses: sequential offsets that wrap; for the random workloads a xorshift64 draw reduced to the range, or with
 * {@code -F theta} a zipf draw ({@link Zipf}); with {@code -D} the random draw goes to the first offset at or after
 * it not used yet in this round (then the first from the start), and once every offset was used the map is cleared
 * and the draw itself is taken: no offset repeats until all were used. For {@code rw}/{@code randrw} each I/O is a
 * read with probability {@code rwmixread}%.
 *
 * <p>Not thread-safe: owned by one job, used on its thread. Allocates nothing after construction.
 */
final class OffsetGenerator {
    private final Workload workload;
    private final int rwMixRead;
    /** First I/O index of the range, and the number of I/O slots in it. */
    private final long base;
    private final long sizeInIos;
    private final long ioBytes;
    private final Zipf zipf;
    private final long[] map;
    private long mapUsed;
    private long next;
    private long seed;

    OffsetGenerator(JobParams p, BdevPerfOptions o, long sizeInIos, int blockSize, long seed) {
        this.workload = p.workload();
        this.rwMixRead = p.rwMixRead();
        long ioBlocks = p.ioSize() / blockSize;
        this.base = p.offsetBlocks() / ioBlocks;
        this.sizeInIos = sizeInIos;
        this.ioBytes = p.ioSize();
        this.seed = seed | 1;
        this.zipf = workload.random() && o.zipfTheta() > 0 ? new Zipf(sizeInIos, o.zipfTheta(), seed ^ 0x2545F4914F6CDD1DL) : null;
        this.map = workload.random() && o.randomMap() && zipf == null ? new long[(int) ((sizeInIos + 63) >>> 6)] : null;
    }

    /** The next I/O index within the range, 0..sizeInIos-1. */
    long nextIndex() {
        if (zipf != null) {
            return zipf.next();
        }
        if (workload.random()) {
            long v = below(xorshift(), sizeInIos);
            return map == null ? v : fromMap(v);
        }
        long idx = next;
        next = idx + 1 == sizeInIos ? 0 : idx + 1;
        return idx;
    }

    /** The byte offset of the next I/O on the bdev. */
    long nextOffsetBytes() {
        return (base + nextIndex()) * ioBytes;
    }

    /** The first block of I/O index {@code idx}. */
    long blockOf(long idx, long ioBlocks) {
        return (base + idx) * ioBlocks;
    }

    /** Whether the next I/O of a read/write workload is a write. */
    boolean nextIsWrite() {
        return switch (workload) {
            case READ, RANDREAD -> false;
            case RW, RANDRW -> !(rwMixRead == 100 || (rwMixRead != 0 && below(xorshift(), 100) < rwMixRead));
            default -> true;
        };
    }

    private long fromMap(long v) {
        long c = firstClear(v);
        if (c < 0) {
            c = firstClear(0);
            if (c < 0) {
                java.util.Arrays.fill(map, 0); // every offset was used once: a new round, starting with the draw
                mapUsed = 0;
                c = v;
            }
        }
        map[(int) (c >>> 6)] |= 1L << c;
        mapUsed++;
        return c;
    }

    /** The first index >= {@code from} whose bit is clear, or -1. */
    private long firstClear(long from) {
        int w = (int) (from >>> 6);
        long word = ~map[w] & (-1L << from);
        while (true) {
            if (word != 0) {
                long i = ((long) w << 6) + Long.numberOfTrailingZeros(word);
                return i < sizeInIos ? i : -1;
            }
            if (++w == map.length) {
                return -1;
            }
            word = ~map[w];
        }
    }

    /** Offsets used in the random map's current round (tests). */
    long mapUsed() {
        return mapUsed;
    }

    /**
     * A uniform draw in {@code [0, n)} from the 64 random bits {@code x}, by multiplication instead of division
     * (Lemire's reduction: the top bits of {@code x * n} as a 127-bit product of {@code x}'s top 63 bits and
     * {@code n}). A 64-bit division costs tens of cycles per I/O; this is a multiply and two shifts. For
     * {@code 0 < n < 2^63}; the bias is at most {@code n / 2^63}, as small as the modulo's.
     */
    static long below(long x, long n) {
        long r = x >>> 1;
        return (Math.multiplyHigh(r, n) << 1) | ((r * n) >>> 63);
    }

    private long xorshift() {
        long x = seed;
        x ^= x << 13;
        x ^= x >>> 7;
        x ^= x << 17;
        seed = x;
        return x;
    }
}
