package io.spindle.backends;

import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A closed-loop load for tests on real reactors: {@code depth} I/O in flight per reactor on one bdev, each slot
 * owning its own region, so a write followed by a read of the same blocks checks the data ({@link Mode#VERIFY}). It
 * keeps going until {@link #stop()} or a REMOVE of the bdev; then every reactor drains its I/O, puts its channel and
 * closes its descriptor, and {@link #drained()} completes. Counts every submit and every completion by status, so a
 * test checks that each accepted I/O completed exactly once.
 */
public final class QdLoad {
    /** What each slot does. */
    public enum Mode {
        /** Random reads. */
        READ,
        /** Random reads and writes, half each. */
        RANDRW,
        /** Write a pattern, read it back, compare; then the next pattern. */
        VERIFY
    }

    private final BdevLayer layer;
    private final String bdev;
    private final Mode mode;
    private final int ioBlocks;
    private final List<Worker> workers = new ArrayList<>();
    /** I/O accepted by submit. */
    public final AtomicLong submitted = new AtomicLong();
    /** Completions by status: SUCCESS, FAILED, ABORTED, other. */
    public final AtomicLong success = new AtomicLong();
    /** FAILED completions. */
    public final AtomicLong failed = new AtomicLong();
    /** ABORTED completions. */
    public final AtomicLong aborted = new AtomicLong();
    /** Other completions (MISCOMPARE...). */
    public final AtomicLong other = new AtomicLong();
    /** Reads whose data differed from what the slot wrote (VERIFY). */
    public final AtomicLong miscompares = new AtomicLong();
    /** Submits refused with an errno other than ENOMEM. */
    public final AtomicLong refused = new AtomicLong();
    /** REMOVE events seen. */
    public final AtomicLong removes = new AtomicLong();
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private final AtomicLong live = new AtomicLong();

    /**
     * Starts {@code depthPerReactor} slots of {@code ioBlocks}-block I/O on each of {@code reactors} (indexes).
     *
     * @throws AssertionError when a reactor cannot open the bdev
     */
    public QdLoad(BdevLayer layer, String bdev, Mode mode, int ioBlocks, int depthPerReactor, int... reactors) {
        this.layer = layer;
        this.bdev = bdev;
        this.mode = mode;
        this.ioBlocks = ioBlocks;
        int slotsTotal = depthPerReactor * reactors.length;
        int base = 0;
        for (int r : reactors) {
            Worker w = new Worker(layer.reactors().reactor(r), depthPerReactor, base, slotsTotal);
            base += depthPerReactor;
            workers.add(w);
        }
        live.set(workers.size());
        List<CompletableFuture<Void>> started = new ArrayList<>();
        for (Worker w : workers) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            w.reactor.send(() -> {
                try {
                    w.start();
                    f.complete(null);
                } catch (Throwable e) {
                    f.completeExceptionally(e);
                }
            });
            started.add(f);
        }
        CompletableFuture.allOf(started.toArray(new CompletableFuture<?>[0])).join();
    }

    /** Completions so far (any status). */
    public long completed() {
        return success.get() + failed.get() + aborted.get() + other.get();
    }

    /** Stops resubmitting everywhere; {@link #drained()} completes once the I/O in flight is back. */
    public void stop() {
        for (Worker w : workers) {
            w.reactor.send(w::stopHere);
        }
    }

    /** Completes when every reactor drained, put its channel and closed its descriptor. */
    public CompletableFuture<Void> drained() {
        return drained;
    }

    private final class Worker implements IoCallback {
        final Reactor reactor;
        final int depth;
        final int slotBase;
        final int slotsTotal;
        BdevDescriptor desc;
        IoChannel<BdevChannel> ch;
        DmaBuffer[] bufs;
        long[] seq;
        boolean[] reading;
        long[] lba;
        io.spindle.bdev.IoWaitEntry[] waits;
        /** Slots holding an I/O (in flight, or waiting for a free one). */
        int busy;
        boolean stopping;
        boolean closed;
        long rnd;

        Worker(Reactor reactor, int depth, int slotBase, int slotsTotal) {
            this.reactor = reactor;
            this.depth = depth;
            this.slotBase = slotBase;
            this.slotsTotal = slotsTotal;
            this.rnd = System.nanoTime() | 1;
        }

        void start() {
            desc = layer.open(bdev, mode != Mode.READ, (e, b, d) -> {
                if (e == BdevEvent.REMOVE) {
                    removes.incrementAndGet();
                    stopHere();
                }
            });
            ch = desc.getIoChannel();
            int bs = desc.bdev().blockSize();
            bufs = new DmaBuffer[depth];
            seq = new long[depth];
            reading = new boolean[depth];
            lba = new long[depth];
            waits = new io.spindle.bdev.IoWaitEntry[depth];
            for (int i = 0; i < depth; i++) {
                bufs[i] = DmaBuffer.allocate((long) ioBlocks * bs);
                int slot = i;
                waits[i] = new io.spindle.bdev.IoWaitEntry(a -> issue(slot), null);
            }
            for (int i = 0; i < depth; i++) {
                busy++;
                next(i);
            }
        }

        private long rand() {
            long x = rnd;
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            rnd = x;
            return x & Long.MAX_VALUE;
        }

        /** Chooses the slot's next I/O and issues it; the slot goes idle when stopping. */
        void next(int i) {
            if (stopping) {
                idle();
                return;
            }
            long units = desc.bdev().numBlocks() / ioBlocks;
            int bs = desc.bdev().blockSize();
            switch (mode) {
                case READ -> {
                    lba[i] = (rand() % units) * ioBlocks;
                    reading[i] = true;
                }
                case RANDRW -> {
                    lba[i] = (rand() % units) * ioBlocks;
                    reading[i] = (rand() & 1) == 0;
                }
                default -> {
                    if (!reading[i]) {
                        long region = Math.max(1, units / slotsTotal);
                        long unit = ((slotBase + i) * region + rand() % region) % units;
                        lba[i] = unit * ioBlocks;
                        seq[i]++;
                        for (long off = 0; off + 8 <= (long) ioBlocks * bs; off += 8) {
                            bufs[i].putLong(off, expected(i, off));
                        }
                    }
                }
            }
            issue(i);
        }

        long expected(int i, long off) {
            return seq[i] * 1_000_003L + off + (slotBase + i) * 7919L;
        }

        void issue(int i) {
            if (stopping) {
                idle();
                return;
            }
            int rc = reading[i] ? desc.readBlocks(ch, bufs[i], 0, lba[i], ioBlocks, this, i)
                    : desc.writeBlocks(ch, bufs[i], 0, lba[i], ioBlocks, this, i);
            if (rc == 0) {
                submitted.incrementAndGet();
            } else if (rc == io.spindle.runtime.Errno.ENOMEM && desc.queueIoWait(ch, waits[i]) == 0) {
                // issued again when an I/O is free
            } else if (rc == io.spindle.runtime.Errno.ENOMEM) {
                reactor.send(() -> issue(i));
            } else {
                refused.incrementAndGet();
                idle();
            }
        }

        @Override
        public void onComplete(BdevIo io, IoStatus status, Object arg) {
            int i = (Integer) arg;
            switch (status) {
                case SUCCESS -> success.incrementAndGet();
                case FAILED -> failed.incrementAndGet();
                case ABORTED -> aborted.incrementAndGet();
                default -> other.incrementAndGet();
            }
            if (mode == Mode.VERIFY) {
                if (status == IoStatus.SUCCESS && reading[i]) {
                    int bs = desc.bdev().blockSize();
                    for (long off = 0; off + 8 <= (long) ioBlocks * bs; off += 8) {
                        if (bufs[i].getLong(off) != expected(i, off)) {
                            miscompares.incrementAndGet();
                            break;
                        }
                    }
                    reading[i] = false;
                } else if (status == IoStatus.SUCCESS) {
                    reading[i] = true; // read back the blocks just written
                } else {
                    reading[i] = false;
                }
            }
            next(i);
        }

        private void idle() {
            busy--;
            maybeClose();
        }

        void stopHere() {
            stopping = true;
            maybeClose();
        }

        void maybeClose() {
            if (!stopping || busy > 0 || closed) {
                return;
            }
            closed = true;
            ch.put();
            desc.close();
            for (DmaBuffer b : bufs) {
                b.close();
            }
            if (live.decrementAndGet() == 0) {
                drained.complete(null);
            }
        }
    }
}
