package io.spindle.examples.bdevperf;

import io.spindle.app.Spindle;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.actor.BdevFacade;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;

/**
 * {@code --api facade}: the same workloads driven through {@link BdevFacade}'s {@code CompletionStage}s, as
 * plain Java code outside any actor would. It measures what that convenience costs: every I/O is an
 * {@code ask} (a temporary actor and a scheduled timeout), a request and a reply message, a {@code byte[]}
 * copy and a hop to the facade's executor, so this path allocates per I/O by design.
 *
 * <p>Threads: requests are sent from whichever thread completes the previous one (the facade's executor);
 * counters are atomics. Ownership: the job owns its facade and closes it (stopping its server) when drained.
 */
final class BdevPerfFacadeJob {
    final String name;
    private final BdevPerfOptions opts;
    private final BdevFacade facade;
    private final long sizeInIos;
    private final int ioSize;
    private final byte[] writeData;
    private final AtomicLong ios = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong latSum = new AtomicLong();
    private final LongAccumulator latMin = new LongAccumulator(Math::min, Long.MAX_VALUE);
    private final LongAccumulator latMax = new LongAccumulator(Math::max, 0);
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLong seq = new AtomicLong();
    private volatile boolean draining;
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private long startNanos;
    private long endNanos;

    BdevPerfFacadeJob(Spindle spindle, Bdev bdev, BdevPerfOptions opts) {
        this.name = bdev.name();
        this.opts = opts;
        if (opts.ioSize() % bdev.blockSize() != 0) {
            throw new BdevPerfOptions.UsageException("-o " + opts.ioSize() + ": the I/O size must be a multiple of " + bdev.name()
                    + "'s block size " + bdev.blockSize());
        }
        if (opts.ioSize() > Integer.MAX_VALUE / 2) {
            throw new BdevPerfOptions.UsageException("-o " + opts.ioSize() + ": too large for --api facade");
        }
        this.ioSize = (int) opts.ioSize();
        this.sizeInIos = bdev.sizeBytes() / ioSize;
        this.writeData = new byte[ioSize];
        java.util.Arrays.fill(writeData, (byte) 0x5A);
        this.facade = BdevFacade.open(spindle.system(), BdevLayer.of(spindle), bdev.name(), opts.queueDepth(), Duration.ofSeconds(30));
    }

    void start() {
        startNanos = System.nanoTime();
        for (int i = 0; i < opts.queueDepth(); i++) {
            submit();
        }
    }

    private long nextOffset() {
        long n = seq.getAndIncrement();
        if (opts.workload().random()) {
            long r = n * 0x9E3779B97F4A7C15L;
            r ^= r >>> 29;
            return Math.floorMod(r, sizeInIos) * ioSize;
        }
        return (n % sizeInIos) * ioSize;
    }

    private boolean nextIsWrite() {
        return switch (opts.workload()) {
            case WRITE, RANDWRITE -> true;
            case RW, RANDRW -> java.util.concurrent.ThreadLocalRandom.current().nextInt(100) >= opts.rwMixRead();
            default -> false;
        };
    }

    private void submit() {
        if (draining) {
            if (inFlight.get() == 0) {
                drained.complete(null);
            }
            return;
        }
        inFlight.incrementAndGet();
        long t0 = System.nanoTime();
        long off = nextOffset();
        CompletableFuture<?> f = (nextIsWrite() ? facade.write(off, writeData) : facade.read(off, ioSize)).toCompletableFuture();
        f.whenComplete((v, e) -> {
            long lat = System.nanoTime() - t0;
            latSum.addAndGet(lat);
            latMin.accumulate(lat);
            latMax.accumulate(lat);
            if (e == null) {
                ios.incrementAndGet();
            } else {
                failed.incrementAndGet();
            }
            inFlight.decrementAndGet();
            submit();
        });
    }

    BdevPerfJob.Snapshot snapshot() {
        long end = endNanos != 0 ? endNanos : System.nanoTime();
        long min = latMin.get();
        return new BdevPerfJob.Snapshot(ios.get(), ios.get() * ioSize, failed.get(), 0, latSum.get(), min == Long.MAX_VALUE ? 0 : min,
                latMax.get(), end - startNanos, 0, null);
    }

    /** Stops submitting, waits for the in-flight requests, closes the server; returns the final counters. */
    BdevPerfJob.Snapshot drain() throws Exception {
        endNanos = System.nanoTime();
        draining = true;
        if (inFlight.get() == 0) {
            drained.complete(null);
        }
        drained.get(60, TimeUnit.SECONDS);
        BdevPerfJob.Snapshot s = snapshot();
        facade.close().toCompletableFuture().get(60, TimeUnit.SECONDS);
        return s;
    }
}
