package io.spindle.examples.cluster;

import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Write-then-read-back I/O at a fixed depth on one bdev, on one reactor, counting every submission and completion:
 * each slot has at most one I/O in flight, so a completion of an idle slot is a double completion. On REMOVE it
 * submits nothing more and closes its descriptor once its I/O has drained; {@link #stop()} does the same. Counters
 * may be read from any thread while it runs (the totals are final once {@link #done()} completed).
 */
final class IoLoop {
    /** The totals. */
    record Result(long submitted, long completed, long ok, long failed, long miscompares, long doubles, boolean removed) {
    }

    private final BdevLayer layer;
    private final Reactor reactor;
    private final String bdev;
    private final int depth;
    private final CompletableFuture<Result> done = new CompletableFuture<>();
    private volatile boolean stop;
    final AtomicLong okCount = new AtomicLong();
    final AtomicLong failedCount = new AtomicLong();
    private BdevDescriptor desc;
    private IoChannel<BdevChannel> ch;
    private DmaBuffer[] wbuf;
    private DmaBuffer[] rbuf;
    private boolean[] inFlight;
    private boolean[] reading;
    private long[] offset;
    private long submitted;
    private long completed;
    private long miscompares;
    private long doubles;
    private int outstanding;
    private boolean removed;
    private boolean finished;
    private long seq;

    IoLoop(BdevLayer layer, Reactor reactor, String bdev, int depth) {
        this.layer = layer;
        this.reactor = reactor;
        this.bdev = bdev;
        this.depth = depth;
    }

    CompletableFuture<Result> start() {
        reactor.send(this::begin);
        return done;
    }

    CompletableFuture<Result> done() {
        return done;
    }

    void stop() {
        stop = true;
        reactor.send(this::maybeFinish);
    }

    private void begin() {
        try {
            desc = layer.open(bdev, true, (ev, b, d) -> {
                if (ev == BdevEvent.REMOVE) {
                    removed = true;
                    stop = true;
                    maybeFinish();
                }
            });
        } catch (RuntimeException e) {
            done.completeExceptionally(e);
            return;
        }
        ch = desc.getIoChannel();
        wbuf = new DmaBuffer[depth];
        rbuf = new DmaBuffer[depth];
        inFlight = new boolean[depth];
        reading = new boolean[depth];
        offset = new long[depth];
        long region = desc.bdev().numBlocks() / depth;
        for (int i = 0; i < depth; i++) {
            wbuf[i] = DmaBuffer.allocate(desc.bdev().blockSize());
            rbuf[i] = DmaBuffer.allocate(desc.bdev().blockSize());
            offset[i] = i * region;
            next(i);
        }
    }

    private void next(int i) {
        if (stop) {
            maybeFinish();
            return;
        }
        if (!reading[i]) {
            offset[i]++;
            long tag = ++seq;
            for (int b = 0; b < wbuf[i].capacity(); b += 8) {
                wbuf[i].putLong(b, tag * 31 + b);
            }
        }
        submit(i);
    }

    private void submit(int i) {
        long region = desc.bdev().numBlocks() / depth;
        long lba = i * region + offset[i] % region;
        int rc = reading[i] ? desc.readBlocks(ch, rbuf[i], 0, lba, 1, this::onDone, i)
                : desc.writeBlocks(ch, wbuf[i], 0, lba, 1, this::onDone, i);
        if (rc == Errno.ENOMEM) {
            reactor.send(() -> submit(i));
            return;
        }
        if (rc != 0) {
            stop = true; // e.g. the descriptor is going
            maybeFinish();
            return;
        }
        inFlight[i] = true;
        submitted++;
        outstanding++;
    }

    private void onDone(BdevIo io, IoStatus st, Object arg) {
        int i = (Integer) arg;
        completed++;
        if (!inFlight[i]) {
            doubles++;
            return;
        }
        inFlight[i] = false;
        outstanding--;
        if (st == IoStatus.SUCCESS) {
            okCount.incrementAndGet();
            if (reading[i]) {
                for (int b = 0; b < rbuf[i].capacity(); b += 8) {
                    if (rbuf[i].getLong(b) != wbuf[i].getLong(b)) {
                        miscompares++;
                        break;
                    }
                }
            }
            reading[i] = !reading[i];
        } else {
            failedCount.incrementAndGet();
            reading[i] = false;
        }
        next(i);
    }

    private void maybeFinish() {
        if (finished || outstanding > 0 || !stop || desc == null) {
            return;
        }
        finished = true;
        for (int i = 0; i < depth; i++) {
            wbuf[i].close();
            rbuf[i].close();
        }
        ch.put();
        desc.close();
        done.complete(new Result(submitted, completed, okCount.get(), failedCount.get(), miscompares, doubles, removed));
    }
}
