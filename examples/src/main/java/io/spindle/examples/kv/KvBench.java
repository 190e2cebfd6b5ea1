package io.spindle.examples.kv;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * {@code ./spindle kv bench}: a closed loop of {@code depth} outstanding requests against an open {@link KvStore},
 * 90% gets and 10% puts (by default) over {@code keys} keys of {@code valueSize}-byte values, for {@code seconds}.
 * Each request's latency (from the call to its completion) goes into an HdrHistogram {@link Recorder}.
 *
 * <p><b>Threads.</b> The loops start on the calling thread; each next request is issued from the previous one's
 * completion, on the reactor of the shard that completed it (a {@code tell} to the next key's shard: never a
 * blocking call). The calling thread waits for the loops to drain.
 */
public final class KvBench {
    /** The bench's figures. */
    public record Result(long ops, long gets, long puts, long errors, double seconds, Histogram all, Histogram getLat, Histogram putLat) {
        /** Requests completed per second. */
        public double opsPerSecond() {
            return ops / seconds;
        }
    }

    private KvBench() {
    }

    /** Puts every key once (so gets find values), then runs the mix; returns the figures. */
    public static Result run(KvStore kv, int keys, int valueSize, int depth, double readFraction, double seconds) throws Exception {
        String[] names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = String.format("key-%08d", i);
        }
        byte[] value = new byte[valueSize]; // one array lent to every put: never modified
        ThreadLocalRandom.current().nextBytes(value);
        // fill, depth at a time
        for (int i = 0; i < keys; i += depth) {
            CompletableFuture<?>[] batch = new CompletableFuture<?>[Math.min(depth, keys - i)];
            for (int j = 0; j < batch.length; j++) {
                batch[j] = kv.put(names[i + j], value).toCompletableFuture();
            }
            CompletableFuture.allOf(batch).get(120, TimeUnit.SECONDS);
        }
        Recorder getRec = new Recorder(3);
        Recorder putRec = new Recorder(3);
        LongAdder gets = new LongAdder();
        LongAdder puts = new LongAdder();
        LongAdder errors = new LongAdder();
        AtomicInteger live = new AtomicInteger(depth);
        CompletableFuture<Void> drained = new CompletableFuture<>();
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        getRec.reset();
        putRec.reset();
        for (int i = 0; i < depth; i++) {
            new Loop(kv, names, value, readFraction, end, getRec, putRec, gets, puts, errors, live, drained).next();
        }
        drained.get((long) seconds + 120, TimeUnit.SECONDS);
        double took = (System.nanoTime() - start) / 1e9;
        Histogram g = getRec.getIntervalHistogram();
        Histogram p = putRec.getIntervalHistogram();
        Histogram all = g.copy();
        all.add(p);
        return new Result(gets.sum() + puts.sum(), gets.sum(), puts.sum(), errors.sum(), took, all, g, p);
    }

    /** One closed loop: issues its next request from the previous one's completion. */
    private static final class Loop {
        final KvStore kv;
        final String[] names;
        final byte[] value;
        final double readFraction;
        final long end;
        final Recorder getRec;
        final Recorder putRec;
        final LongAdder gets;
        final LongAdder puts;
        final LongAdder errors;
        final AtomicInteger live;
        final CompletableFuture<Void> drained;

        Loop(KvStore kv, String[] names, byte[] value, double readFraction, long end, Recorder getRec, Recorder putRec,
             LongAdder gets, LongAdder puts, LongAdder errors, AtomicInteger live, CompletableFuture<Void> drained) {
            this.kv = kv;
            this.names = names;
            this.value = value;
            this.readFraction = readFraction;
            this.end = end;
            this.getRec = getRec;
            this.putRec = putRec;
            this.gets = gets;
            this.puts = puts;
            this.errors = errors;
            this.live = live;
            this.drained = drained;
        }

        void next() {
            long t0 = System.nanoTime();
            if (t0 >= end) {
                if (live.decrementAndGet() == 0) {
                    drained.complete(null);
                }
                return;
            }
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            String key = names[rnd.nextInt(names.length)];
            if (rnd.nextDouble() < readFraction) {
                kv.get(key).whenComplete((v, e) -> {
                    if (e != null || v == null) {
                        errors.increment();
                    }
                    getRec.recordValue(System.nanoTime() - t0);
                    gets.increment();
                    next();
                });
            } else {
                kv.put(key, value).whenComplete((v, e) -> {
                    if (e != null) {
                        errors.increment();
                    }
                    putRec.recordValue(System.nanoTime() - t0);
                    puts.increment();
                    next();
                });
            }
        }
    }

    /** The report's lines. */
    static List<String> format(Result r, KvStore kv, int valueSize, int depth) {
        return List.of(
                String.format("kv bench: %s, %d shards, mask %s, %d-byte values, depth %d, %.1f s",
                        kv.options().malloc() ? "malloc" : "mapped " + kv.options().file(), kv.shardCount(),
                        kv.options().reactorMask(), valueSize, depth, r.seconds()),
                String.format("ops/s %.0f (gets %d, puts %d, errors %d)", r.opsPerSecond(), r.gets(), r.puts(), r.errors()),
                line("all", r.all()), line("get", r.getLat()), line("put", r.putLat()));
    }

    private static String line(String what, Histogram h) {
        if (h.getTotalCount() == 0) {
            return String.format("%-4s latency: no samples", what);
        }
        return String.format("%-4s latency us: p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f", what,
                h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3,
                h.getMaxValue() / 1e3);
    }
}
