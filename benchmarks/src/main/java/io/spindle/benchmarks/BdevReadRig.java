package io.spindle.benchmarks;

import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;

import java.lang.management.ManagementFactory;

/**
 * A one-reactor Spindle with one bdev open for reading, driven by a closed loop that runs entirely on the
 * reactor thread: {@link #run(long)} asks the reactor to complete {@code n} reads at queue depth {@code qd}
 * (each completion submits the next read at a new pseudo-random block) and waits for the last one. The
 * benchmark thread only starts a batch and spins until it ends, so a batch of thousands of I/Os carries one
 * cross-thread hand-off. The benchmark thread parks while a batch runs (a spinning waiter measurably slows
 * the reactor on this 2-vCPU machine kind), and the reactor unparks it when the batch ends.
 *
 * <p>Allocation is measured where the data path runs: {@link #reactorAllocatedBytes()} reads the reactor
 * thread's allocation counter ({@code com.sun.management.ThreadMXBean}); JMH's {@code -prof gc} adds every
 * thread, including JMH's own.
 *
 * <p>The Spindle, its one busy reactor and the bdev ({@value BenchRig#BDEV}, null or malloc) are a
 * {@link BenchRig#bdev} rig's, the start-up and teardown every benchmark here shares; this class adds the
 * descriptor, the channel, the buffers and the closed loop.
 *
 * <p>Threads: the constructor and {@link #close()} on the benchmark thread; everything else the loop does
 * runs on the reactor. Ownership: this rig owns its {@link BenchRig}, the descriptor, the channel and the
 * buffers, and releases them in {@link #close()} (the descriptor, channel and buffers on the reactor, then the
 * {@link BenchRig}).
 */
final class BdevReadRig implements AutoCloseable, IoCallback {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private final boolean write;
    private final BenchRig rig;
    private final Reactor reactor;
    private final long numBlocks;
    private final int ioBlocks;
    private final int qd;
    private final DmaBuffer[] buffers;
    private final Integer[] slots;
    private BdevDescriptor desc;
    private IoChannel<BdevChannel> ch;
    private long reactorThreadId;

    // reactor-thread state of the closed loop
    private long toSubmit;
    private int inFlight;
    private long rng = 0x9E3779B97F4A7C15L;
    private final long ioCount;
    private int failures;
    private final Runnable startBatch = this::startBatch;
    private long batch;
    // written by the reactor when a batch ends, read by the benchmark thread
    private volatile long batchesDone;
    private volatile Thread waiter;

    /**
     * @param backend  {@code null} or {@code malloc}
     * @param sizeMiB  bdev size
     * @param ioBytes  bytes per read (a multiple of 4096)
     * @param qd       reads kept in flight
     */
    BdevReadRig(String backend, int sizeMiB, int ioBytes, int qd) {
        this(backend, sizeMiB, ioBytes, qd, false);
    }

    /** The same loop of writes instead of reads when {@code write} (the bdev opened writable; each slot's buffer is written). */
    BdevReadRig(String backend, int sizeMiB, int ioBytes, int qd, boolean write) {
        this.write = write;
        int blockSize = 4096;
        this.numBlocks = (long) sizeMiB * 1024 * 1024 / blockSize;
        this.ioBlocks = ioBytes / blockSize;
        this.qd = qd;
        this.ioCount = numBlocks / ioBlocks;
        rig = BenchRig.bdev(backend, numBlocks, blockSize);
        reactor = rig.reactor();
        buffers = new DmaBuffer[qd];
        slots = new Integer[qd];
        for (int i = 0; i < qd; i++) {
            slots[i] = Integer.valueOf(i); // boxed once here, passed as the I/O's arg
        }
        BdevLayer layer = rig.layer();
        rig.onReactor(() -> {
            reactorThreadId = Thread.currentThread().getId();
            desc = layer.open(BenchRig.BDEV, write, (event, bdev, d) -> {
            });
            ch = desc.getIoChannel();
            for (int i = 0; i < qd; i++) {
                buffers[i] = DmaBuffer.allocate(ioBytes, 4096);
            }
        });
        if (ch == null) {
            throw new IllegalStateException("no channel for bdev=" + BenchRig.BDEV);
        }
    }

    /** Completes {@code n} reads on the reactor; returns when the last one completed. */
    void run(long n) {
        long target = batchesDone + 1;
        toSubmit = n; // published to the reactor by the queue hand-off in send
        waiter = Thread.currentThread();
        reactor.send(startBatch);
        while (batchesDone < target) {
            java.util.concurrent.locks.LockSupport.park(this); // parked, not spinning: the reactor keeps its core
        }
        if (failures != 0) {
            throw new IllegalStateException(failures + " reads failed");
        }
    }

    /**
     * Runs {@code work} on the reactor thread, under the same conditions as {@link #run(long)} (the benchmark
     * thread parked meanwhile), and returns its result: for baselines measured where the I/O path runs.
     */
    long runOnReactor(java.util.function.LongSupplier work) {
        long target = batchesDone + 1;
        waiter = Thread.currentThread();
        long[] result = new long[1];
        reactor.send(() -> {
            result[0] = work.getAsLong();
            batchesDone = ++batch;
            java.util.concurrent.locks.LockSupport.unpark(waiter);
        });
        while (batchesDone < target) {
            java.util.concurrent.locks.LockSupport.park(this);
        }
        return result[0];
    }

    /** On the reactor: fill the queue. */
    private void startBatch() {
        batch++;
        for (int i = 0; i < qd && toSubmit > 0; i++) {
            submit(i);
        }
    }

    private void submit(int slot) {
        toSubmit--;
        rng ^= rng << 13;
        rng ^= rng >>> 7;
        rng ^= rng << 17;
        long block = ((rng >>> 1) % ioCount) * ioBlocks;
        int rc = write ? desc.writeBlocks(ch, buffers[slot], 0, block, ioBlocks, this, slots[slot])
                : desc.readBlocks(ch, buffers[slot], 0, block, ioBlocks, this, slots[slot]);
        if (rc != 0) {
            throw new IllegalStateException((write ? "write" : "read") + " refused: " + Errno.name(rc));
        }
        inFlight++;
    }

    @Override
    public void onComplete(BdevIo io, IoStatus status, Object arg) {
        inFlight--;
        if (status != IoStatus.SUCCESS) {
            failures++;
        }
        if (toSubmit > 0) {
            submit((Integer) arg);
        } else if (inFlight == 0) {
            batchesDone = batch;
            java.util.concurrent.locks.LockSupport.unpark(waiter);
        }
    }

    /** Bytes allocated so far by the reactor thread. */
    long reactorAllocatedBytes() {
        return THREADS.getThreadAllocatedBytes(reactorThreadId);
    }

    /** A DMA buffer of the rig's size, for baselines that copy into the same kind of memory. */
    DmaBuffer buffer(int i) {
        return buffers[i];
    }

    @Override
    public void close() {
        try {
            rig.onReactor(() -> {
                ch.put();
                desc.close();
                for (DmaBuffer b : buffers) {
                    b.close();
                }
            });
        } finally {
            rig.close();
        }
    }
}
