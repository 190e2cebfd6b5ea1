package io.spindle.examples.bdevperf;

import io.spindle.app.Spindle;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.actor.BdevFacade;
import io.spindle.runtime.Reactor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BiConsumer;

/**
 * {@code --api facade}: the read/write workloads driven through {@link BdevFacade}, as plain Java code would: one
 * facade per bdev, and on each reactor a part of the job ({@link Part}, a row of the table) that keeps its share of
 * {@code -q} outstanding. Each part fills its queue from a task on its reactor, and every completion submits the
 * next I/O from the continuation, which the facade runs on that reactor: nothing crosses threads and no actor
 * message is sent per I/O.
 *
 * <p>{@code --facade stage} (the default) uses the {@code CompletionStage} methods ({@code read(offset, buffer, ...)}
 * and {@code whenComplete} with one reusable consumer per slot: the stages are the only allocation);
 * {@code --facade callback} uses the callback methods, which allocate nothing. Both read into and write from the
 * job's own off-heap buffers, one per slot (the facade's caller-supplied buffers: no copy).
 *
 * <p>Threads: built and closed on bdevperf's main thread; each part's state is touched only on its reactor.
 * Ownership: the job owns the facade (closed once the parts drained) and the parts own their buffers (freed on
 * their reactor when drained).
 */
final class BdevPerfFacadeJob {
    final String name;
    final BdevFacade facade;
    final List<Part> parts = new ArrayList<>();

    BdevPerfFacadeJob(Spindle spindle, Bdev bdev, BdevPerfOptions opts, JobParams p) {
        this.name = bdev.name();
        if (p.ioSize() > Integer.MAX_VALUE / 2) {
            throw new BdevPerfOptions.UsageException("-o " + p.ioSize() + ": too large for --api facade");
        }
        this.facade = BdevFacade.open(BdevLayer.of(spindle), bdev.name(), BdevFacade.Options.defaults().maxInFlight(Math.max(1, p.queueDepth())));
        List<Reactor> rs = spindle.reactors().reactors();
        long sizeInIos = (p.lengthBlocks() != 0 ? p.lengthBlocks() : bdev.numBlocks()) / (p.ioSize() / bdev.blockSize());
        int n = rs.size();
        long seed = 0x5DEECE66DL;
        for (int i = 0; i < n; i++) {
            int depth = p.queueDepth() / n + (i < p.queueDepth() % n ? 1 : 0);
            if (depth == 0) {
                continue;
            }
            parts.add(new Part(this, rs.get(i), opts, p, depth, bdev.blockSize(), sizeInIos, seed += 0x9E3779B97F4A7C15L));
        }
    }

    /** Closes the facade once every part has drained. */
    CompletionStage<Void> close() {
        return facade.close();
    }

    /** The facade job's share of the queue on one reactor: one row of the table. */
    static final class Part implements BdevPerfUnit, BdevFacade.Callback {
        private final BdevPerfFacadeJob job;
        private final Reactor reactor;
        private final BdevPerfOptions opts;
        private final JobParams p;
        private final int depth;
        private final int ioSize;
        private final OffsetGenerator offsets;
        private final boolean callbacks;
        private final CompletableFuture<Void> started = new CompletableFuture<>();
        private final CompletableFuture<BdevPerfJob.Result> done = new CompletableFuture<>();

        // ---- reactor-thread state
        private DmaBuffer[] bufs;
        private long[] submitNanos;
        private Integer[] slotArg;
        private List<BiConsumer<Object, Throwable>> onDone;
        private final JobCounters c = new JobCounters();
        private int outstanding;
        private boolean draining;
        private boolean finished;
        private String status = "finished";
        private String error;

        Part(BdevPerfFacadeJob job, Reactor reactor, BdevPerfOptions opts, JobParams p, int depth, int blockSize, long sizeInIos, long seed) {
            this.job = job;
            this.reactor = reactor;
            this.opts = opts;
            this.p = p;
            this.depth = depth;
            this.ioSize = (int) p.ioSize();
            this.offsets = new OffsetGenerator(p, opts, sizeInIos, blockSize, seed);
            this.callbacks = opts.facadeCompletion() == BdevPerfOptions.FacadeCompletion.CALLBACK;
        }

        /** Allocates the part's buffers on its reactor before the run's start (not counted in the run). */
        @Override
        public CompletableFuture<Void> prepare() {
            CompletableFuture<Void> ready = new CompletableFuture<>();
            reactor.send(() -> {
                try {
                    prepareOnReactor();
                } finally {
                    ready.complete(null);
                }
            });
            return ready;
        }

        @Override
        public void start(long commonStartNanos) {
            reactor.send(() -> startOnReactor(commonStartNanos));
        }

        private void prepareOnReactor() {
            if (bufs != null) {
                return;
            }
            bufs = new DmaBuffer[depth];
            submitNanos = new long[depth];
            slotArg = new Integer[depth];
            onDone = new ArrayList<>(depth);
            for (int i = 0; i < depth; i++) {
                bufs[i] = DmaBuffer.allocate(ioSize, 4096).fill(0, ioSize, (byte) 0x5A);
                slotArg[i] = i;
                int slot = i;
                onDone.add((v, e) -> completed(slot, e == null ? 0 : -1));
            }
        }

        private void startOnReactor(long commonStart) {
            prepareOnReactor();
            c.startNanos = commonStart;
            c.allocStart = BdevPerfJob.allocatedOnThisThread();
            started.complete(null);
            for (int i = 0; i < depth && !draining; i++) {
                submit(i);
            }
            maybeFinish();
        }

        private void submit(int slot) {
            long off = offsets.nextOffsetBytes();
            boolean write = offsets.nextIsWrite();
            submitNanos[slot] = System.nanoTime();
            outstanding++;
            if (callbacks) {
                int rc = write ? job.facade.write(off, bufs[slot], 0, ioSize, this, slotArg[slot])
                        : job.facade.read(off, bufs[slot], 0, ioSize, this, slotArg[slot]);
                if (rc != 0) {
                    outstanding--;
                    fail("submit refused: " + io.spindle.runtime.Errno.name(rc));
                }
            } else {
                CompletionStage<?> st = write ? job.facade.write(off, bufs[slot], 0, ioSize) : job.facade.read(off, bufs[slot], 0, ioSize);
                st.whenComplete(onDone.get(slot));
            }
        }

        @Override
        public void onComplete(int rc, Object arg) {
            completed((Integer) arg, rc);
        }

        private void completed(int slot, int rc) {
            outstanding--;
            c.record(System.nanoTime() - submitNanos[slot], rc == 0);
            if (rc != 0 && !opts.continueOnFailure()) {
                fail("I/O failed");
            }
            if (!draining) {
                submit(slot);
            } else {
                maybeFinish();
            }
        }

        private void fail(String why) {
            if (error == null) {
                error = why;
            }
            drainOnReactor("failed");
        }

        @Override
        public CompletableFuture<Void> started() {
            return started;
        }

        @Override
        public void drain(String st) {
            reactor.send(() -> drainOnReactor(st));
        }

        private void drainOnReactor(String st) {
            if (!draining) {
                draining = true;
                c.endNanos = System.nanoTime();
                c.allocEnd = BdevPerfJob.allocatedOnThisThread();
                status = st;
            } else if ("failed".equals(st)) {
                status = st;
            }
            maybeFinish();
        }

        private void maybeFinish() {
            if (!draining || outstanding > 0 || finished || bufs == null) {
                return;
            }
            finished = true;
            BdevPerfJob.Snapshot s = c.finalSnapshot(ioSize, true);
            for (DmaBuffer b : bufs) {
                b.close();
            }
            done.complete(new BdevPerfJob.Result(this, s, BdevPerf.spdkStatus(status, s.failed(), opts.continueOnFailure(), false), error));
        }

        @Override
        public CompletableFuture<BdevPerfJob.Result> done() {
            return done;
        }

        @Override
        public CompletableFuture<long[]> counters() {
            long[] v = new long[9];
            CompletableFuture<long[]> f = new CompletableFuture<>();
            try {
                reactor.send(() -> {
                    c.copyTo(v, ioSize, true);
                    f.complete(v);
                });
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
            }
            return f;
        }

        @Override
        public Reactor reactor() {
            return reactor;
        }

        @Override
        public long completedOnReactor() {
            return c.completed();
        }

        @Override
        public String name() {
            return job.name;
        }

        @Override
        public String header() {
            return " Job: " + job.name + " (facade API on " + reactor.name() + ", " + (callbacks ? "callbacks" : "CompletionStages")
                    + ", Core Mask 0x" + Long.toHexString(1L << reactor.core()) + ", workload: " + p.workload().flag()
                    + (p.workload().mixed() ? ", percentage: " + p.rwMixRead() : "") + ", depth: " + depth + ", IO size: " + ioSize + ")";
        }

        @Override
        public String coreMask() {
            return "0x" + Long.toHexString(1L << reactor.core());
        }

        @Override
        public long[] verifyRange() {
            return null;
        }

        @Override
        public long startedAtNanos() {
            return c.startNanos;
        }

        @Override
        public JobParams params() {
            return new JobParams(p.name(), p.workload(), depth, p.ioSize(), p.rwMixRead(), p.offsetBlocks(), p.lengthBlocks(), null);
        }
    }
}
