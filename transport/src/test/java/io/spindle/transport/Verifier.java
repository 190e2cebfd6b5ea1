package io.spindle.transport;

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
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A verify job on one reactor (bdevperf's {@code verify} in miniature): {@code qd} slots, each owning a disjoint
 * region of the bdev, write a fresh pattern at a random offset of its region, read it back, compare; until
 * {@code ops} writes completed or {@link #stop()}. Counts completions per status, miscompares, and any I/O that
 * completed twice; closes its descriptor on REMOVE once its I/O has drained.
 */
final class Verifier {
    record Result(long writes, long reads, long miscompares, long failed, long doubleCompletions, long submitted, long completed,
                  boolean removed, String firstFailure) {
    }

    private final BdevLayer layer;
    private final Reactor reactor;
    private final String bdev;
    private final int qd;
    private final int ioSize;
    private final long ops;
    private final CompletableFuture<Result> done = new CompletableFuture<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private BdevDescriptor desc;
    private IoChannel<BdevChannel> ch;
    private Slot[] slots;
    private long writes;
    private long reads;
    private long miscompares;
    private long failed;
    private long doubles;
    private long submitted;
    private long completed;
    private int outstanding;
    private boolean removed;
    private boolean finished;
    private String firstFailure;

    private final class Slot {
        final int index;
        final DmaBuffer wbuf;
        final DmaBuffer rbuf;
        final long regionStart;
        final long regionBlocks;
        long offsetBlocks;
        boolean inFlight;

        Slot(int index, long regionStart, long regionBlocks) {
            this.index = index;
            this.wbuf = DmaBuffer.allocate(ioSize);
            this.rbuf = DmaBuffer.allocate(ioSize);
            this.regionStart = regionStart;
            this.regionBlocks = regionBlocks;
        }
    }

    private int part;
    private int parts = 1;

    /** Uses only part {@code part} of {@code parts} equal parts of the bdev (so verifiers on several reactors do not overlap). */
    Verifier part(int part, int parts) {
        this.part = part;
        this.parts = parts;
        return this;
    }

    Verifier(BdevLayer layer, Reactor reactor, String bdev, int qd, int ioSize, long ops) {
        this.layer = layer;
        this.reactor = reactor;
        this.bdev = bdev;
        this.qd = qd;
        this.ioSize = ioSize;
        this.ops = ops;
    }

    CompletableFuture<Result> start() {
        reactor.send(this::begin);
        return done;
    }

    void stop() {
        stop.set(true);
    }

    private void begin() {
        try {
            desc = layer.open(bdev, true, (ev, b, d) -> {
                if (ev == BdevEvent.REMOVE) {
                    removed = true;
                    stop.set(true);
                    maybeFinish();
                }
            });
        } catch (RuntimeException e) {
            done.completeExceptionally(e);
            return;
        }
        ch = desc.getIoChannel();
        int bs = desc.bdev().blockSize();
        long blocks = desc.bdev().numBlocks() / parts;
        long base = blocks * part;
        long region = blocks / qd;
        slots = new Slot[qd];
        for (int i = 0; i < qd; i++) {
            slots[i] = new Slot(i, base + i * region, region);
        }
        if (region * bs < ioSize) {
            throw new IllegalStateException("bdev too small");
        }
        for (Slot s : slots) {
            write(s);
        }
    }

    private void write(Slot s) {
        if (stop.get() || writes >= ops) {
            maybeFinish();
            return;
        }
        int bs = desc.bdev().blockSize();
        long n = ioSize / bs;
        s.offsetBlocks = s.regionStart + ThreadLocalRandom.current().nextLong(s.regionBlocks - n + 1);
        long seed = ThreadLocalRandom.current().nextLong();
        for (int i = 0; i < ioSize; i += 8) {
            s.wbuf.putLong(i, seed ^ (s.offsetBlocks * 31 + i));
        }
        submit(s, true);
    }

    private void submit(Slot s, boolean isWrite) {
        int bs = desc.bdev().blockSize();
        long n = ioSize / bs;
        int rc = isWrite ? desc.writeBlocks(ch, s.wbuf, 0, s.offsetBlocks, n, this::onWrite, s)
                : desc.readBlocks(ch, s.rbuf, 0, s.offsetBlocks, n, this::onRead, s);
        if (rc == Errno.ENOMEM) {
            reactor.send(() -> submit(s, isWrite));
            return;
        }
        if (rc != 0) {
            failed++;
            firstFailure = firstFailure != null ? firstFailure : "submit rc=" + rc;
            maybeFinish();
            return;
        }
        s.inFlight = true;
        submitted++;
        outstanding++;
    }

    private boolean complete(Slot s) {
        completed++;
        outstanding--;
        if (!s.inFlight) {
            doubles++;
            return false;
        }
        s.inFlight = false;
        return true;
    }

    private void onWrite(BdevIo io, IoStatus st, Object arg) {
        Slot s = (Slot) arg;
        if (!complete(s)) {
            return;
        }
        if (st != IoStatus.SUCCESS) {
            failed++;
            firstFailure = firstFailure != null ? firstFailure : "write " + st;
            write(s);
            return;
        }
        writes++;
        if (stop.get()) {
            maybeFinish();
            return;
        }
        submit(s, false);
    }

    private void onRead(BdevIo io, IoStatus st, Object arg) {
        Slot s = (Slot) arg;
        if (!complete(s)) {
            return;
        }
        if (st != IoStatus.SUCCESS) {
            failed++;
            firstFailure = firstFailure != null ? firstFailure : "read " + st;
        } else {
            reads++;
            for (int i = 0; i < ioSize; i += 8) {
                if (s.rbuf.getLong(i) != s.wbuf.getLong(i)) {
                    miscompares++;
                    break;
                }
            }
        }
        if (writes >= ops) {
            stop.set(true);
        }
        write(s);
    }

    private void maybeFinish() {
        if (finished || outstanding > 0 || !(stop.get() || writes >= ops)) {
            return;
        }
        finished = true;
        for (Slot s : slots) {
            s.wbuf.close();
            s.rbuf.close();
        }
        ch.put();
        desc.close();
        done.complete(new Result(writes, reads, miscompares, failed, doubles, submitted, completed, removed, firstFailure));
    }
}
