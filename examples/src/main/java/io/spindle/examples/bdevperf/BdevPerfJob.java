package io.spindle.examples.bdevperf;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.IoWaitEntry;
import io.spindle.bdev.io.IoStatus;
import io.spindle.examples.bdevperf.BdevPerfOptions.Workload;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;

import java.io.PrintStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One bdevperf job: a bdev (or an LBA range of it, with {@code -C}) driven at a fixed queue depth from one
 * reactor, SPDK's {@code struct bdevperf_job}.
 *
 * <p>Threads: built on the main thread, then everything — open, submit, completion, drain, close — runs on
 * {@link #reactor}. The main thread talks to it only with messages ({@link #start}, {@link #drain},
 * {@link #snapshot}); results come back in {@link CompletableFuture}s, so no counter is shared between
 * threads. Per I/O the job allocates nothing: tasks, buffers and the callback are made once at start.
 *
 * <p>Ownership: the job owns its descriptor, channel and buffers and releases them on its reactor when it
 * has drained ({@link #done()} completes after that).
 */
final class BdevPerfJob implements IoCallback, BdevPerfUnit {
    /** A reset is submitted this often on each job of the {@code reset} workload, as SPDK's bdevperf. */
    static final long RESET_PERIOD_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** One queue slot: a buffer and what is in flight from it. */
    static final class Task {
        final int index;
        DmaBuffer buf;
        DmaBuffer verifyBuf;
        long offsetBlocks;
        boolean writePhase;
        /** verify/reset: the write's latency, added to the read-back's (SPDK counts both in the job's latency). */
        long writeLatency;
        boolean inFlight;
        boolean timedOut;
        long submitLoopNanos;
        final IoWaitEntry wait;

        Task(int index, BdevPerfJob job) {
            this.index = index;
            this.wait = new IoWaitEntry(arg -> job.resubmit((Task) arg), this);
        }
    }

    /**
     * Counters of a job at one moment; {@code latency} (ns, a copy owned by the receiver) only in a final
     * snapshot of a job that records one, else null.
     */
    record Snapshot(long ios, long bytes, long failed, long timedOut, long latencySumNanos, long latencyMinNanos,
                    long latencyMaxNanos, long elapsedNanos, long reactorAllocatedBytes, org.HdrHistogram.Histogram latency) {
    }

    /** The largest latency a job's histogram tracks (longer ones are recorded as this). */
    static final long HISTOGRAM_MAX_NANOS = TimeUnit.HOURS.toNanos(1);

    /**
     * A latency histogram as the jobs record them: ns, 2 significant digits, which is 128 buckets per power of two
     * (a value's bucket is within 1/128 of it), SPDK's own bdevperf precision ({@code SPDK_HISTOGRAM_BUCKET_SHIFT_DEFAULT}
     * 7). Recording allocates nothing. Three digits (2048 per power of two) made each job's counts array 270 KB and
     * spread the recording of one run's latencies (two to four powers of two) over 16-32 KB, as much as the core's L1
     * data cache, which the I/O path shares; two digits keep it to 2-4 KB.
     */
    static org.HdrHistogram.Histogram newHistogram() {
        return new org.HdrHistogram.Histogram(HISTOGRAM_MAX_NANOS, 2);
    }

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();

    /** The final outcome: counters plus SPDK's status ({@code finished}, {@code failed}, {@code terminated}). */
    record Result(BdevPerfUnit job, Snapshot counters, String status, String error) {
    }

    final String name;
    final String bdevName;
    final Reactor reactor;
    final int core;
    final BdevPerfOptions opts;
    /** What this job runs: the command line's, or its job file section's. */
    final JobParams p;
    /** The core mask in the output. */
    private final String coreMask;
    private final BdevLayer layer;
    private final PrintStream out;
    /** SPDK's ios_base and size_in_ios: first I/O index and number of I/O of this job's range. */
    private long iosBase;
    private long sizeInIos;
    private OffsetGenerator gen;

    // ---- reactor-thread state
    private BdevDescriptor desc;
    private IoChannel<BdevChannel> ch;
    private Bdev bdev;
    private Task[] tasks;
    private int ioBlocks;
    private long nextSeq;
    private final long seed;
    private long[] outstanding; // verify: offsets in flight (no two I/O overlap)
    private boolean compare;
    private int inFlight;
    private boolean draining;
    private boolean finished;
    private String endStatus = "finished";
    private String error;
    private long startNanos;
    private long endNanos;
    private long allocStart = -1;
    private long allocEnd = -1;
    private long writeSeq;
    private Poller timeoutPoller;
    private Poller resetPoller;
    private boolean resetInFlight;
    private final IoCallback resetDone = (io, status, arg) -> resetInFlight = false;
    private final IoCallback abortDone = (io, status, arg) -> {
    };

    // ---- counters (reactor thread only)
    private long ios;
    private long bytes;
    private long failed;
    private long timedOutCount;
    private long latSum;
    private long latMin = Long.MAX_VALUE;
    /** Every I/O's latency; written on the reactor only, allocated once at job creation. */
    private final org.HdrHistogram.Histogram latency = newHistogram();
    private long latMax;

    private final CompletableFuture<Void> started = new CompletableFuture<>();
    /** Completed once the set-up ran (on the reactor, which is also the only thread that tests it). */
    private final CompletableFuture<Void> prepared = new CompletableFuture<>();
    private final CompletableFuture<Result> done = new CompletableFuture<>();

    BdevPerfJob(JobParams p, String bdevName, Reactor reactor, int core, String coreMask, BdevPerfOptions opts, BdevLayer layer,
                PrintStream out, long seed) {
        this.name = bdevName;
        this.bdevName = bdevName;
        this.p = p;
        this.reactor = reactor;
        this.core = core;
        this.coreMask = coreMask;
        this.opts = opts;
        this.layer = layer;
        this.out = out;
        this.seed = seed;
    }

    @Override
    public CompletableFuture<Void> started() {
        return started;
    }

    @Override
    public CompletableFuture<Result> done() {
        return done;
    }

    /**
     * Opens the bdev, takes the channel and allocates the tasks' buffers, on the reactor, before the run's start (as
     * SPDK's bdevperf constructs its jobs before it takes {@code g_start_tsc}): none of that, nor the first off-heap
     * allocation's one-time set-up in the process, is counted in the run. A failure completes {@link #started()}
     * exceptionally, as before.
     */
    @Override
    public CompletableFuture<Void> prepare() {
        reactor.send(this::prepareOnReactor);
        return prepared;
    }

    /** Fills the queue, on the reactor; the runtime counts from {@code commonStart}. Prepares first if not yet. */
    @Override
    public void start(long commonStart) {
        reactor.send(() -> startOnReactor(commonStart));
    }

    private void prepareOnReactor() {
        if (prepared.isDone()) {
            return;
        }
        try {
            setUpOnReactor();
        } finally {
            prepared.complete(null); // a failure is reported through started() and done()
        }
    }

    private void startOnReactor(long commonStart) {
        prepareOnReactor();
        if (finished || tasks == null) {
            return; // failed to set up, or drained (a signal, a removed bdev) before the start
        }
        if (p.workload() == Workload.RESET) {
            resetPoller = reactor.registerPoller("bdevperf_reset_" + name, this::submitReset, RESET_PERIOD_NANOS, TimeUnit.NANOSECONDS);
        }
        startNanos = commonStart; // SPDK's g_start_tsc: every job's runtime counts from the run's one start
        allocStart = THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
        started.complete(null);
        for (Task t : tasks) {
            if (draining) {
                break;
            }
            submit(t);
        }
        if (inFlight == 0 && draining) {
            finish();
        }
    }

    private void setUpOnReactor() {
        try {
            desc = layer.open(bdevName, p.workload().writes(), (event, b, d) -> {
                if (event == BdevEvent.REMOVE) {
                    out.println("Job " + name + ": bdev " + bdevName + " removed; draining");
                    drainOnReactor("finished"); // SPDK: a removed bdev ends its job; terminated is for a shutdown
                }
            });
        } catch (BdevException e) {
            fail("cannot open bdev " + bdevName + ": " + e.getMessage());
            return;
        }
        bdev = desc.bdev();
        int bs = bdev.blockSize();
        if (p.ioSize() % bs != 0) {
            fail("-o " + p.ioSize() + ": the I/O size must be a multiple of " + bdevName + "'s block size " + bs);
            return;
        }
        ioBlocks = (int) (p.ioSize() / bs);
        // SPDK: a length selects offset..offset+length (in blocks, counted in whole I/O); else the whole bdev
        long rangeBlocks = p.lengthBlocks() != 0 ? p.lengthBlocks() : bdev.numBlocks();
        iosBase = p.lengthBlocks() != 0 ? p.offsetBlocks() / ioBlocks : 0;
        sizeInIos = rangeBlocks / ioBlocks;
        if (sizeInIos == 0) {
            fail("-o " + p.ioSize() + ": larger than the job's range of " + rangeBlocks * bs + " bytes on " + bdevName);
            return;
        }
        if ((iosBase + sizeInIos) * ioBlocks > bdev.numBlocks()) {
            fail("offset " + p.offsetBlocks() + " length " + p.lengthBlocks() + ": beyond " + bdevName + "'s " + bdev.numBlocks() + " blocks");
            return;
        }
        gen = new OffsetGenerator(p.lengthBlocks() != 0 ? p : p.range(0, 0), opts, sizeInIos, bs, seed);
        ch = desc.getIoChannel();
        if (ch == null) {
            fail("no I/O channel for " + bdevName + " on " + reactor.name());
            return;
        }
        Workload w = p.workload();
        int qd = p.queueDepth();
        if (w.verifies()) {
            qd = (int) Math.min(qd, sizeInIos); // SPDK: never more slots than distinct offsets
            outstanding = new long[(int) ((sizeInIos + 63) >>> 6)];
            compare = bdev.retainsData();
            if (!compare) {
                out.println("Job " + name + ": " + bdevName + " (" + bdev.module().name()
                        + ") does not store data; verify writes and reads back but skips the compare");
            }
        }
        int align = Math.max(bdev.requiredAlignment(), 4096);
        boolean dataOps = w != Workload.UNMAP && w != Workload.FLUSH && w != Workload.WRITE_ZEROES;
        tasks = new Task[qd];
        for (int i = 0; i < qd; i++) {
            Task t = new Task(i, this);
            if (dataOps) {
                t.buf = DmaBuffer.allocate(p.ioSize(), align);
                if (w.verifies()) {
                    t.verifyBuf = DmaBuffer.allocate(p.ioSize(), align);
                } else if (w.writes()) {
                    t.buf.fill(0, p.ioSize(), (byte) (0xA5 ^ i));
                }
            }
            tasks[i] = t;
        }
        if (opts.timeoutSeconds() > 0) {
            timeoutPoller = reactor.registerPoller("bdevperf_timeout_" + name, this::checkTimeouts, 100, TimeUnit.MILLISECONDS);
        }
    }

    private void fail(String why) {
        error = why;
        endStatus = "failed";
        started.completeExceptionally(new IllegalStateException(why));
        finished = true;
        release();
        done.complete(new Result(this, snapshotNow(), endStatus, error));
    }

    // ------------------------------------------------------------------ submit

    private long nextOffsetIndex() {
        if (outstanding == null) {
            return gen.nextIndex();
        }
        long idx = nextSeq;
        if (outstanding != null) {
            while ((outstanding[(int) (idx >>> 6)] & (1L << idx)) != 0) {
                idx = idx + 1 == sizeInIos ? 0 : idx + 1;
            }
            outstanding[(int) (idx >>> 6)] |= 1L << idx;
        }
        nextSeq = idx + 1 == sizeInIos ? 0 : idx + 1;
        return idx;
    }

    private void submit(Task t) {
        long idx = nextOffsetIndex();
        t.offsetBlocks = (iosBase + idx) * ioBlocks;
        t.timedOut = false;
        t.submitLoopNanos = reactor.now();
        Workload w = p.workload();
        switch (w) {
            case READ, RANDREAD, WRITE, RANDWRITE, RW, RANDRW -> {
                t.writePhase = gen.nextIsWrite();
                if (t.writePhase && opts.uniqueWrites()) {
                    fillPattern(t, true);
                }
            }
            case VERIFY, RESET -> {
                t.writePhase = true;
                fillPattern(t, opts.uniqueWrites());
            }
            default -> {
            }
        }
        t.inFlight = true;
        inFlight++;
        issue(t);
    }

    /** Submits the task's current step; ENOMEM waits for a free I/O (SPDK's io_wait), anything else drains. */
    private void issue(Task t) {
        int rc;
        switch (p.workload()) {
            case UNMAP -> rc = desc.unmapBlocks(ch, t.offsetBlocks, ioBlocks, this, t);
            case FLUSH -> rc = desc.flushBlocks(ch, t.offsetBlocks, ioBlocks, this, t);
            case WRITE_ZEROES -> rc = desc.writeZeroesBlocks(ch, t.offsetBlocks, ioBlocks, this, t);
            case VERIFY, RESET -> rc = t.writePhase
                    ? desc.writeBlocks(ch, t.buf, 0, t.offsetBlocks, ioBlocks, this, t)
                    : desc.readBlocks(ch, t.verifyBuf, 0, t.offsetBlocks, ioBlocks, this, t);
            default -> rc = t.writePhase
                    ? desc.writeBlocks(ch, t.buf, 0, t.offsetBlocks, ioBlocks, this, t)
                    : desc.readBlocks(ch, t.buf, 0, t.offsetBlocks, ioBlocks, this, t);
        }
        if (rc == Errno.ENOMEM) {
            if (desc.queueIoWait(ch, t.wait) == 0) {
                return;
            }
            rc = Errno.ENOMEM;
        }
        if (rc != 0) {
            out.println("Job " + name + ": failed to submit I/O at offset_blocks " + t.offsetBlocks + ": " + Errno.name(rc));
            taskEnded(t);
            error = "submit failed: " + Errno.name(rc);
            drainOnReactor("failed");
        }
    }

    private void resubmit(Task t) {
        issue(t);
    }

    // ------------------------------------------------------------------ completion

    @Override
    public void onComplete(BdevIo io, IoStatus status, Object arg) {
        Task t = (Task) arg;
        if (status == IoStatus.SUCCESS && t.writePhase && p.workload().verifies()) {
            t.writePhase = false; // write done: read it back into the second buffer
            t.writeLatency = io.latencyNanos();
            issue(t);
            return;
        }
        long lat = io.latencyNanos();
        if (!t.writePhase && p.workload().verifies()) {
            lat += t.writeLatency; // one verify I/O is the write and its read-back, as SPDK's histogram counts it
            t.writeLatency = 0;
        }
        latency.recordValue(Math.min(lat, HISTOGRAM_MAX_NANOS));
        latSum += lat;
        if (lat < latMin) {
            latMin = lat;
        }
        if (lat > latMax) {
            latMax = lat;
        }
        if (status == IoStatus.SUCCESS) {
            if (compare && !t.writePhase && !verify(t)) {
                failed++;
                taskEnded(t);
                error = "data miscompare";
                drainOnReactor("failed");
                return;
            }
            ios++;
            bytes += p.ioSize();
        } else {
            failed++;
            if (p.workload() != Workload.RESET && !opts.continueOnFailure()) {
                out.println("task offset: " + t.offsetBlocks + " on job bdev=" + bdevName + " fails (" + status + ")");
                taskEnded(t);
                error = "I/O failed: " + status;
                drainOnReactor("failed");
                return;
            }
        }
        taskEnded(t);
        if (!draining) {
            submit(t);
        } else if (inFlight == 0) {
            finish();
        }
    }

    private void taskEnded(Task t) {
        t.inFlight = false;
        inFlight--;
        if (outstanding != null) {
            long idx = t.offsetBlocks / ioBlocks - iosBase;
            outstanding[(int) (idx >>> 6)] &= ~(1L << idx);
        }
    }

    // ------------------------------------------------------------------ verify

    /**
     * SPDK's {@code generate_data}: without {@code unique}, each 32-bit word is the block's index within the I/O plus
     * the word's byte offset in the block (the same data for every write); with {@code unique} ({@code -U}), each
     * 64-bit word is a per-job write counter in its high half and that sum in its low half, so no two writes carry
     * the same data.
     */
    private void fillPattern(Task t, boolean unique) {
        fillPattern(t.buf, bdev.blockSize(), ioBlocks, unique ? writeSeq++ : 0, unique);
    }

    /** {@link #fillPattern(Task, boolean)} into {@code b}: {@code ioBlocks} blocks, {@code count} the write counter. */
    static void fillPattern(DmaBuffer b, int bs, int ioBlocks, long count, boolean unique) {
        if (unique) {
            long hi = (count & 0xFFFFFFFFL) << 32;
            for (int blk = 0; blk < ioBlocks; blk++) {
                long base = (long) blk * bs;
                for (int off = 0; off < bs; off += 8) {
                    b.putLong(base + off, hi | ((blk + off) & 0xFFFFFFFFL));
                }
            }
            return;
        }
        for (int blk = 0; blk < ioBlocks; blk++) {
            long base = (long) blk * bs;
            for (int off = 0; off < bs; off += 8) {
                // two little-endian 32-bit words: blk + off, then blk + off + 4
                b.putLong(base + off, ((long) (blk + off + 4) << 32) | ((blk + off) & 0xFFFFFFFFL));
            }
        }
    }

    private boolean verify(Task t) {
        long n = p.ioSize();
        DmaBuffer a = t.buf;
        DmaBuffer b = t.verifyBuf;
        for (long off = 0; off < n; off += 8) {
            if (a.getLong(off) != b.getLong(off)) {
                long lba = t.offsetBlocks + off / bdev.blockSize();
                out.println("Buffer mismatch! Target: " + name + " Disk Offset: " + lba);
                return false;
            }
        }
        return true;
    }

    // ------------------------------------------------------------------ timeouts and resets

    private int checkTimeouts() {
        long limit = TimeUnit.SECONDS.toNanos(opts.timeoutSeconds());
        long now = reactor.now();
        int n = 0;
        for (Task t : tasks) {
            if (t.inFlight && !t.timedOut && now - t.submitLoopNanos > limit) {
                t.timedOut = true;
                timedOutCount++;
                n++;
                if (opts.abortOnTimeout()) {
                    desc.abort(ch, t, abortDone, null);
                }
            }
        }
        return n;
    }

    private int submitReset() {
        if (resetInFlight || draining) {
            return 0;
        }
        if (desc.reset(ch, resetDone, null) == 0) {
            resetInFlight = true;
        }
        return 1;
    }

    // ------------------------------------------------------------------ drain and results

    /** Stops submitting; the job finishes when its in-flight I/O completed. Any thread. */
    @Override
    public void drain(String status) {
        reactor.send(() -> drainOnReactor(status));
    }

    private void drainOnReactor(String status) {
        if (finished) {
            return;
        }
        if (!draining) {
            draining = true;
            endNanos = System.nanoTime();
            if (allocStart >= 0) {
                allocEnd = THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
            }
            if (!"finished".equals(endStatus)) {
                status = endStatus;
            }
            endStatus = status;
        } else if ("failed".equals(status)) {
            endStatus = status;
        }
        if (inFlight == 0 && !resetInFlight && tasks != null) {
            finish();
        }
    }

    private void finish() {
        if (finished) {
            return;
        }
        if (resetInFlight) {
            reactor.send(this::finish); // let the reset complete first
            return;
        }
        finished = true;
        if (endNanos == 0) {
            endNanos = System.nanoTime();
        }
        Snapshot c = snapshotNow();
        Snapshot s = new Snapshot(c.ios(), c.bytes(), c.failed(), c.timedOut(), c.latencySumNanos(), c.latencyMinNanos(),
                c.latencyMaxNanos(), c.elapsedNanos(), c.reactorAllocatedBytes(), latency.copy());
        release();
        started.complete(null);
        done.complete(new Result(this, s, BdevPerf.spdkStatus(endStatus, s.failed(), opts.continueOnFailure(), p.workload() == Workload.RESET),
                error));
    }

    private void release() {
        if (timeoutPoller != null) {
            timeoutPoller.unregister();
        }
        if (resetPoller != null) {
            resetPoller.unregister();
        }
        if (ch != null) {
            ch.put();
            ch = null;
        }
        if (desc != null) {
            desc.close();
        }
        if (tasks != null) {
            for (Task t : tasks) {
                if (t.buf != null) {
                    t.buf.close();
                }
                if (t.verifyBuf != null) {
                    t.verifyBuf.close();
                }
            }
        }
    }

    private Snapshot snapshotNow() {
        long end = endNanos != 0 ? endNanos : System.nanoTime();
        long alloc = allocStart < 0 ? 0
                : (allocEnd >= 0 ? allocEnd : THREADS.getThreadAllocatedBytes(Thread.currentThread().getId())) - allocStart;
        return new Snapshot(ios, bytes, failed, timedOutCount, latSum, latMin == Long.MAX_VALUE ? 0 : latMin, latMax,
                startNanos == 0 ? 0 : end - startNanos, alloc, null);
    }

    @Override
    public long completedOnReactor() {
        return ios + failed;
    }

    @Override
    public Reactor reactor() {
        return reactor;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String coreMask() {
        return coreMask;
    }

    @Override
    public long startedAtNanos() {
        return startNanos;
    }

    @Override
    public JobParams params() {
        int qd = tasks != null ? tasks.length : p.queueDepth();
        return new JobParams(p.name(), p.workload(), qd, p.ioSize(), p.rwMixRead(), p.offsetBlocks(), p.lengthBlocks(), p.cpumask());
    }

    @Override
    public long[] verifyRange() {
        return p.workload().verifies() ? new long[] {iosBase, sizeInIos} : null;
    }

    /** CPU time of the calling thread, ns; no allocation. */
    static long cpuOfThisThread() {
        return THREADS.getCurrentThreadCpuTime();
    }

    /** Bytes the calling thread has allocated since it started (HotSpot's per-thread TLAB accounting); no allocation. */
    static long allocatedOnThisThread() {
        return THREADS.getCurrentThreadAllocatedBytes();
    }

    /**
     * The job's counters now, read on its reactor, as an array for {@link #snapshotOf}. Any thread. The task
     * copies the counters into an array made here and the caller builds the snapshot on its own thread, so the
     * periodic progress line allocates nothing on the reactor (it would count in the steady-state figure).
     */
    @Override
    public CompletableFuture<long[]> counters() {
        long[] v = new long[9];
        CompletableFuture<long[]> f = new CompletableFuture<>();
        try {
            reactor.send(() -> {
                long end = endNanos != 0 ? endNanos : System.nanoTime();
                v[0] = ios;
                v[1] = bytes;
                v[2] = failed;
                v[3] = timedOutCount;
                v[4] = latSum;
                v[5] = latMin == Long.MAX_VALUE ? 0 : latMin;
                v[6] = latMax;
                v[7] = startNanos == 0 ? 0 : end - startNanos;
                v[8] = allocStart < 0 ? 0 : (allocEnd >= 0 ? allocEnd : allocatedOnThisThread()) - allocStart;
                f.complete(v);
            });
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        }
        return f;
    }

    /** The snapshot of an array from {@link #counters()}. */
    static Snapshot snapshotOf(long[] a) {
        return new Snapshot(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], null);
    }

    /** SPDK's job header line. */
    @Override
    public String header() {
        StringBuilder b = new StringBuilder(" Job: ").append(name).append(" (Core Mask ").append(coreMask)
                .append(", workload: ").append(p.workload().flag());
        if (p.workload().mixed()) {
            b.append(", percentage: ").append(p.rwMixRead());
        }
        b.append(", depth: ").append(tasks != null ? tasks.length : p.queueDepth()).append(", IO size: ").append(p.ioSize()).append(')');
        if (p.workload().verifies()) {
            b.append("\n\t Verification LBA range: start 0x").append(Long.toHexString(iosBase)).append(" length 0x")
                    .append(Long.toHexString(sizeInIos));
        }
        return b.toString();
    }
}
