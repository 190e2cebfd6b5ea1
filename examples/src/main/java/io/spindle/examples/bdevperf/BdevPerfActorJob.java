package io.spindle.examples.bdevperf;

import io.spindle.app.Spindle;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.actor.BdevServer;
import io.spindle.bdev.actor.Completions;
import io.spindle.bdev.actor.IoBatch;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.ExtensibleBehavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.Signal;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code --api actor}: the same workloads driven through the typed actor protocol of {@link BdevServer}, by
 * real actors that keep the queue depth outstanding, as an ordinary actor elsewhere in the ActorSystem would.
 * It measures what that path costs against the direct one.
 *
 * <p>One job per bdev. It spawns a {@link BdevServer} (bound: the queue depth), asks it for its shards and
 * spawns {@link Requester} actors that talk to the shards directly (no server hop):
 * <ul>
 *   <li>{@code --actor-on reactor} (the default): one requester per reactor, placed on that reactor's
 *       dispatcher, sending to the shard on the same reactor; the queue depth is split between them. A
 *       request and its reply never leave the reactor thread, and with {@code --idle busy} nothing needs a
 *       Pekko dispatcher thread.</li>
 *   <li>{@code --actor-on pekko}: one requester on Pekko's default dispatcher, sending to every shard (slot
 *       {@code i} to shard {@code i % shards}): every message crosses threads.</li>
 * </ul>
 * With {@code --actor-batch n} (default 64) each requester sends {@link BdevServer.Submit} batches of up to
 * {@code n} entries and gets coalesced {@link Completions}; read data is lent and released (no copy). With
 * {@code --actor-batch 0} it sends one {@link BdevServer.Read}/{@link BdevServer.Write} message per I/O and
 * gets one reply each, with the data copied into a fresh {@code byte[]}: the plain protocol.
 *
 * <p>Threads: set up and drained from bdevperf's main thread (asks); everything else inside the requesters.
 * Ownership: the job owns its server and requesters and closes them when drained.
 */
final class BdevPerfActorJob {
    /** {@code --actor-on}: where the requester actors run. */
    enum Placement {
        /** One requester per reactor, on that reactor's dispatcher, talking to that reactor's shard. */
        REACTOR,
        /** One requester on Pekko's default dispatcher, talking to every shard. */
        PEKKO
    }

    private static final Duration T = Duration.ofSeconds(30);

    /**
     * A requester's end: its counters, and whether it ended because its shards stopped (the bdev was removed or
     * its server closed) rather than at bdevperf's stop.
     *
     * @param dropped I/O that never ran because the shard was closing or gone (ENODEV, ESHUTDOWN, or sent to a
     *                shard that had stopped); not counted as failed
     */
    record Outcome(BdevPerfJob.Snapshot counters, boolean terminated, long dropped, String status) {
    }

    final String name;
    private final BdevPerfOptions opts;
    private final ActorSystem<?> system;
    private final ActorRef<BdevServer.Command> server;
    private final List<ActorRef<Requester.Msg>> requesters = new ArrayList<>();
    private final List<CompletableFuture<Outcome>> done = new ArrayList<>();
    private final List<String> headers = new ArrayList<>();
    private final List<String> names = new ArrayList<>();
    private final List<JobCounters> counters = new ArrayList<>();
    private final List<io.spindle.runtime.Reactor> reactors = new ArrayList<>();
    private final List<Integer> depths = new ArrayList<>();
    /** Per requester, its LBA range in blocks ({@code {offset, length}}; {@code {0, 0}}: the whole bdev). */
    private final List<long[]> ranges = new ArrayList<>();
    final List<Unit> units = new ArrayList<>();

    BdevPerfActorJob(Spindle spindle, Bdev bdev, BdevPerfOptions opts) throws Exception {
        this.name = bdev.name();
        this.opts = opts;
        this.system = spindle.system();
        if (opts.ioSize() % bdev.blockSize() != 0) {
            throw new BdevPerfOptions.UsageException("-o " + opts.ioSize() + ": the I/O size must be a multiple of " + bdev.name()
                    + "'s block size " + bdev.blockSize());
        }
        if (opts.ioSize() > BdevServer.MAX_TRANSFER) {
            throw new BdevPerfOptions.UsageException("-o " + opts.ioSize() + ": too large for --api actor (at most " + BdevServer.MAX_TRANSFER + ")");
        }
        long sizeInIos = bdev.sizeBytes() / opts.ioSize();
        if (opts.actorBatch() == 0 && sizeInIos < opts.queueDepth()) {
            throw new BdevPerfOptions.UsageException("--actor-batch 0 -q " + opts.queueDepth() + ": " + name + " holds only " + sizeInIos
                    + " I/O of -o " + opts.ioSize() + "; single messages need at least one per queue slot");
        }
        // -C: every reactor's requester keeps -q outstanding on its share of the LBA range (SPDK's -C: a job per core
        // per bdev, the range split between them); without it -q is split between the requesters
        boolean everyCore = opts.everyCoreEveryBdev() && opts.actorOn() == Placement.REACTOR;
        int reactorCount = spindle.reactors().size();
        this.server = system.systemActorOf(BdevServer.create(BdevLayer.of(spindle), bdev.name(),
                        everyCore ? Math.multiplyExact(opts.queueDepth(), reactorCount) : opts.queueDepth()),
                BdevServer.actorName(bdev.name()), Props.empty());
        BdevServer.Shards shards = AskPattern.<BdevServer.Command, BdevServer.Shards>ask(server, BdevServer.GetShards::new, T,
                system.scheduler()).toCompletableFuture().get(30, TimeUnit.SECONDS);
        List<BdevServer.Shard> list = shards.shards();
        if (list.isEmpty()) {
            throw new IllegalStateException("bdev server bdev=" + name + ": no shards (no reactor running)");
        }
        String batch = opts.actorBatch() == 0 ? "single messages" : "batch <= " + opts.actorBatch();
        if (opts.actorOn() == Placement.REACTOR) {
            int n = list.size();
            long per = sizeInIos / n;
            for (int i = 0; i < n; i++) {
                BdevServer.Shard s = list.get(i);
                int depth = everyCore ? opts.queueDepth() : opts.queueDepth() / n + (i < opts.queueDepth() % n ? 1 : 0);
                if (depth == 0) {
                    continue;
                }
                long firstIo = everyCore ? per * i : 0;
                long ios = everyCore ? (i == n - 1 ? sizeInIos - per * i : per) : sizeInIos;
                if (ios == 0 || (opts.actorBatch() == 0 && ios < depth)) {
                    throw new BdevPerfOptions.UsageException("-C -q " + opts.queueDepth() + " -o " + opts.ioSize() + ": " + name + "'s share on each of "
                            + n + " reactors holds " + ios + " I/O of that size; " + (ios == 0 ? "at least 1" : "single messages (--actor-batch 0) need at least one per queue slot"));
                }
                List<ActorRef<BdevServer.ShardCommand>> one = List.of(s.ref());
                CompletableFuture<Outcome> f = new CompletableFuture<>();
                done.add(f);
                JobCounters c = new JobCounters();
                counters.add(c);
                reactors.add(s.reactor());
                depths.add(depth);
                long[] range = {firstIo * opts.ioSize() / bdev.blockSize(), ios * opts.ioSize() / bdev.blockSize()}; // in blocks
                ranges.add(range);
                requesters.add(system.systemActorOf(Requester.create(opts, one, depth, firstIo, ios, 0x5DEECE66DL * (i + 1), true, f, c),
                        "bdevperf-requester-" + s.reactor().name() + "-" + Integer.toHexString(System.identityHashCode(this)),
                        s.reactor().dispatcher()).<Requester.Msg>narrow());
                headers.add(" Job: " + name + " (actor API on " + s.reactor().name() + " -> its shard, workload: " + opts.workload().flag()
                        + ", depth: " + depth + ", " + batch + ", IO size: " + opts.ioSize() + (everyCore ? ", LBA range " + range[0] + " + " + range[1]
                        + " blocks" : "") + ")");
                names.add(name);
            }
        } else {
            List<ActorRef<BdevServer.ShardCommand>> all = new ArrayList<>();
            for (BdevServer.Shard s : list) {
                all.add(s.ref());
            }
            CompletableFuture<Outcome> f = new CompletableFuture<>();
            done.add(f);
            JobCounters c = new JobCounters();
            counters.add(c);
            reactors.add(null);
            depths.add(opts.queueDepth());
            ranges.add(new long[] {0, 0});
            requesters.add(system.systemActorOf(Requester.create(opts, all, opts.queueDepth(), 0, sizeInIos, 0x5DEECE66DL, false, f, c),
                    "bdevperf-requester-" + Integer.toHexString(System.identityHashCode(this)), Props.empty()).<Requester.Msg>narrow());
            headers.add(" Job: " + name + " (actor API on Pekko's default dispatcher -> " + list.size() + " shards, workload: "
                    + opts.workload().flag() + ", depth: " + opts.queueDepth() + ", " + batch + ", IO size: " + opts.ioSize() + ")");
            names.add(name);
        }
        for (int i = 0; i < requesters.size(); i++) {
            units.add(new Unit(i));
        }
    }

    /** Closes the server once every requester has ended. */
    java.util.concurrent.CompletionStage<BdevServer.Closed> close() {
        return AskPattern.<BdevServer.Command, BdevServer.Closed>ask(server, BdevServer.Close::new, T, system.scheduler());
    }

    /** One requester as a row of the table. */
    final class Unit implements BdevPerfUnit {
        private final int i;
        private final CompletableFuture<Void> started = new CompletableFuture<>();
        private final CompletableFuture<BdevPerfJob.Result> result;

        Unit(int i) {
            this.i = i;
            this.result = done.get(i).thenApply(o -> {
                if (o.terminated()) {
                    notes.add(" Job " + name + " (requester " + i + "): ended early, its shards stopped (the bdev was removed); " + o.dropped()
                            + " I/O not run");
                }
                return new BdevPerfJob.Result(this, o.counters(), BdevPerf.spdkStatus(o.status(), o.counters().failed(), opts.continueOnFailure(),
                        false), null);
            });
        }

        /** The requester allocates its own buffers ({@code --actor-buffers own}) before the run's start. */
        @Override
        public CompletableFuture<Void> prepare() {
            CompletableFuture<Void> ready = new CompletableFuture<>();
            done.get(i).whenComplete((o, e) -> ready.complete(null)); // a requester that already stopped never answers
            requesters.get(i).tell(new Requester.Prepare(ready));
            return ready;
        }

        @Override
        public void start(long commonStartNanos) {
            requesters.get(i).tell(new Requester.Start(commonStartNanos));
            started.complete(null);
        }

        @Override
        public CompletableFuture<Void> started() {
            return started;
        }

        @Override
        public void drain(String status) {
            requesters.get(i).tell(new Requester.Stop(status)); // a dead letter when the requester already finished
        }

        @Override
        public CompletableFuture<BdevPerfJob.Result> done() {
            return result;
        }

        @Override
        public CompletableFuture<long[]> counters() {
            CompletableFuture<long[]> f = new CompletableFuture<>();
            if (result.isDone()) {
                long[] v = new long[9];
                BdevPerfJob.Snapshot s = result.join().counters();
                v[0] = s.ios();
                v[1] = s.bytes();
                v[2] = s.failed();
                v[4] = s.latencySumNanos();
                v[5] = s.latencyMinNanos();
                v[6] = s.latencyMaxNanos();
                v[7] = s.elapsedNanos();
                v[8] = s.reactorAllocatedBytes();
                f.complete(v);
            } else {
                requesters.get(i).tell(new Requester.Sample(new long[9], f));
            }
            return f;
        }

        @Override
        public io.spindle.runtime.Reactor reactor() {
            return reactors.get(i);
        }

        @Override
        public long completedOnReactor() {
            return counters.get(i).completed();
        }

        @Override
        public String name() {
            return names.get(i);
        }

        @Override
        public String header() {
            return headers.get(i);
        }

        @Override
        public String coreMask() {
            io.spindle.runtime.Reactor r = reactors.get(i);
            return r == null ? "pekko" : "0x" + Long.toHexString(1L << r.core());
        }

        @Override
        public long[] verifyRange() {
            return null;
        }

        @Override
        public long startedAtNanos() {
            return counters.get(i).startNanos;
        }

        @Override
        public JobParams params() {
            return new JobParams(name, opts.workload(), depths.get(i), opts.ioSize(), opts.rwMixRead(), ranges.get(i)[0], ranges.get(i)[1], null);
        }
    }

    /** Lines to print after the table (requesters whose shards stopped). */
    final List<String> notes = java.util.Collections.synchronizedList(new ArrayList<>());

    /**
     * An actor that keeps {@code depth} I/O outstanding on its shards through the actor protocol. Slot
     * {@code s} (the tag) always goes to shard {@code s % shards}; a batched reply frees slots of one shard, and
     * they are resubmitted to it in one batch. One clock read per message for the latency.
     *
     * <p>Thread: its dispatcher (a reactor's, or Pekko's default). Owns its counters; bdevperf reads them only
     * through {@link Stop}'s future.
     */
    static final class Requester extends ExtensibleBehavior<Object> {
        /** The requester's protocol. */
        interface Msg {
        }

        /** Allocate the buffers before the run's start; complete {@code ready} when done. */
        record Prepare(CompletableFuture<Void> ready) implements Msg {
        }

        /** Fill the queue; the runtime counts from the run's common start. */
        record Start(long commonStartNanos) implements Msg {
        }

        /** Stop submitting; once nothing is outstanding, complete the job's future with the counters and stop. */
        record Stop(String status) implements Msg {
        }

        /** Copy the counters into {@code into} and complete {@code reply} with it (the progress line). */
        record Sample(long[] into, CompletableFuture<long[]> reply) implements Msg {
        }

        /** A shard's actor terminated (its shard closed: the bdev was removed, or the server closed). */
        private record ShardGone(int shard) implements Msg {
        }

        private record GotRead(BdevServer.ReadResult r) implements Msg {
        }

        private record GotWrite(BdevServer.WriteResult r) implements Msg {
        }

        private static final com.sun.management.ThreadMXBean THREADS =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();

        private final BdevPerfOptions opts;
        private final List<ActorRef<BdevServer.ShardCommand>> shards;
        private final int nShards;
        private final int depth;
        private final int ioSize;
        /** The requester's range, in I/O of {@code -o}: the first one and how many (the bdev's, or its share with -C). */
        private final long firstIo;
        private final long sizeInIos;
        private final int batchMax;
        private final boolean measureThread;
        private final byte[] writeData;
        private final long[] t0;
        private final ActorRef<Completions> completions;
        private final ActorRef<BdevServer.ReadResult> readReplies;
        private final ActorRef<BdevServer.WriteResult> writeReplies;
        /** Slots freed by the current reply, per shard, waiting to be resubmitted. */
        private final int[][] freed;
        /** Per shard, the batches submitted to it, oldest first, for {@link #batch} to reuse. */
        private final BatchRing[] sentBatches;

        /** The batches submitted to one shard, oldest first (a fixed ring: no allocation per batch). */
        private static final class BatchRing {
            final IoBatch[] ring;
            int head;
            int count;

            BatchRing(int capacity) {
                ring = new IoBatch[capacity];
            }
        }
        private final int[] freedCount;
        /** Draws of a random workload so far (the random offset's input). */
        private long seq;
        /** The next index of a sequential workload (wraps at the bdev's end). */
        private long nextSeq;
        private long rnd;
        /** The workload's shape, read once (not a switch per I/O). */
        private final boolean random;
        private final boolean mixed;
        private final boolean allWrites;
        private int outstanding;
        private long dropped;
        /** Counters, also read by tasks on this requester's reactor (the steady-state marks). */
        private final JobCounters c;
        private String status = "finished";
        private final int[] outstandingOn;
        /** {@code --actor-buffers own}: each slot's off-heap buffer, lent to the shard with its entry; null for pooled. */
        private io.spindle.bdev.DmaBuffer[] own;
        private final boolean[] gone;
        private int goneCount;
        private boolean stopping;
        private final CompletableFuture<Outcome> done;

        private Requester(ActorContext<Object> ctx, BdevPerfOptions opts, List<ActorRef<BdevServer.ShardCommand>> shards, int depth,
                          long firstIo, long sizeInIos, long seed, boolean measureThread, CompletableFuture<Outcome> done, JobCounters c) {
            this.c = c;
            this.opts = opts;
            this.shards = shards;
            this.nShards = shards.size();
            this.depth = depth;
            this.ioSize = (int) opts.ioSize();
            this.firstIo = firstIo;
            this.sizeInIos = sizeInIos;
            this.batchMax = opts.actorBatch();
            this.measureThread = measureThread;
            this.rnd = seed;
            BdevPerfOptions.Workload w = opts.workload();
            this.random = w.random();
            this.mixed = w.mixed();
            this.allWrites = w == BdevPerfOptions.Workload.WRITE || w == BdevPerfOptions.Workload.RANDWRITE;
            this.writeData = new byte[ioSize];
            // own = per-slot buffers when --actor-buffers own (made at Start, on this actor's thread)
            Arrays.fill(writeData, (byte) 0x5A);
            this.t0 = new long[depth];
            // Completions straight to this actor (its protocol is Object): no adapter wrapper per reply
            this.completions = ctx.getSelf().narrow();
            this.readReplies = ctx.messageAdapter(BdevServer.ReadResult.class, GotRead::new);
            this.writeReplies = ctx.messageAdapter(BdevServer.WriteResult.class, GotWrite::new);
            this.freed = new int[nShards][depth / nShards + 1];
            this.freedCount = new int[nShards];
            this.sentBatches = new BatchRing[nShards];
            for (int i = 0; i < nShards; i++) {
                sentBatches[i] = new BatchRing(depth + 1); // at most one batch per outstanding I/O
            }
            this.outstandingOn = new int[nShards];
            this.gone = new boolean[nShards];
            this.done = done;
            for (int i = 0; i < nShards; i++) {
                ctx.watchWith(shards.get(i), new ShardGone(i));
            }
        }

        static Behavior<Object> create(BdevPerfOptions opts, List<ActorRef<BdevServer.ShardCommand>> shards, int depth, long firstIo,
                                    long sizeInIos, long seed, boolean measureThread, CompletableFuture<Outcome> done, JobCounters c) {
            return Behaviors.setup(ctx -> new Requester(ctx, opts, shards, depth, firstIo, sizeInIos, seed, measureThread, done, c));
        }

        /**
         * A plain {@link ExtensibleBehavior}, as the shard's: the replies are tested first with one type check, with
         * no receive builder's case list to walk per message (and less code for the JIT to compile at the start).
         */
        @Override
        public Behavior<Object> receive(TypedActorContext<Object> ctx, Object msg) {
            if (msg instanceof Completions m) {
                return onCompletions(m);
            } else if (msg instanceof GotRead m) {
                return onSingle(m.r());
            } else if (msg instanceof GotWrite m) {
                return onSingle(m.r());
            } else if (msg instanceof Start m) {
                return onStart(m);
            } else if (msg instanceof Prepare m) {
                allocateOwn();
                m.ready().complete(null);
                return Behaviors.same();
            } else if (msg instanceof Stop m) {
                return onStop(m);
            } else if (msg instanceof Sample m) {
                return onSample(m);
            } else if (msg instanceof ShardGone m) {
                return onShardGone(m);
            }
            return Behaviors.unhandled();
        }

        @Override
        public Behavior<Object> receiveSignal(TypedActorContext<Object> ctx, Signal signal) {
            return Behaviors.same();
        }

        /** {@code --actor-buffers own}: each slot's buffer, once (at Prepare, or at Start without one). */
        private void allocateOwn() {
            if (own == null && !stopping && opts.actorBuffers() == BdevPerfOptions.ActorBuffers.OWN && batchMax > 0) {
                own = new io.spindle.bdev.DmaBuffer[depth];
                for (int i = 0; i < depth; i++) {
                    own[i] = io.spindle.bdev.DmaBuffer.allocate(ioSize, 4096).fill(0, ioSize, (byte) 0x5A);
                }
            }
        }

        private Behavior<Object> onStart(Start m) {
            allocateOwn();
            c.startNanos = m.commonStartNanos();
            if (measureThread) {
                c.allocStart = THREADS.getCurrentThreadAllocatedBytes();
            }
            for (int slot = 0; slot < depth; slot++) {
                freed[slot % nShards][freedCount[slot % nShards]++] = slot;
            }
            resubmit(System.nanoTime());
            return Behaviors.same(); // not this: a new behavior object per message costs an interceptor re-wrap
        }

        private Behavior<Object> onSample(Sample m) {
            c.copyTo(m.into(), ioSize, measureThread);
            m.reply().complete(m.into());
            return Behaviors.same(); // not this: a new behavior object per message costs an interceptor re-wrap
        }

        private Behavior<Object> onCompletions(Completions c) {
            long now = System.nanoTime();
            int n = c.size();
            int sh = nShards == 1 ? 0 : (int) c.tag(0) % nShards; // one message: one shard's entries
            int[] fr = freed[sh];
            int k = freedCount[sh];
            for (int i = 0; i < n; i++) {
                int slot = (int) c.tag(i);
                int errno = c.errno(i);
                if (errno == Errno.ENODEV || errno == Errno.ESHUTDOWN) {
                    dropped++; // the bdev is going away: not an I/O failure
                } else {
                    account(now - t0[slot], errno == 0 && c.success(i));
                }
                fr[k++] = slot;
            }
            freedCount[sh] = k;
            c.releaseAll(); // the lent read buffers go back to the shard (at once when on its reactor)
            outstandingOn[sh] -= n;
            c.recycle(); // read in full: back to the shard for its next reply (no new Completions per reply)
            outstanding -= n;
            return next(now);
        }

        private Behavior<Object> onSingle(BdevServer.Reply r) {
            long now = System.nanoTime();
            // single replies carry no tag: the slot is encoded in the offset (block index mod depth)
            int slot = (int) ((r.offset() / ioSize - firstIo) % depth);
            if (r instanceof BdevServer.Refused f && (f.errno() == Errno.ENODEV || f.errno() == Errno.ESHUTDOWN)) {
                dropped++; // the bdev is going away: not an I/O failure
            } else {
                account(now - t0[slot], r.success());
            }
            freed[slot % nShards][freedCount[slot % nShards]++] = slot;
            outstanding--;
            outstandingOn[slot % nShards]--;
            return next(now);
        }

        private void account(long lat, boolean ok) {
            c.record(lat, ok);
        }

        private Behavior<Object> next(long now) {
            if (!stopping) {
                resubmit(now);
                return Behaviors.same(); // not this: a new behavior object per message costs an interceptor re-wrap
            }
            return outstanding == 0 ? finish() : Behaviors.same();
        }

        private Behavior<Object> onShardGone(ShardGone m) {
            int s = m.shard();
            gone[s] = true;
            goneCount++;
            // what was sent to it after it closed went to dead letters: those I/O never ran
            dropped += outstandingOn[s];
            outstanding -= outstandingOn[s];
            outstandingOn[s] = 0;
            freedCount[s] = 0;
            if (goneCount == nShards && !stopping) {
                stopping = true;
                c.endNanos = System.nanoTime();
                if (measureThread) {
                    c.allocEnd = THREADS.getCurrentThreadAllocatedBytes();
                }
            }
            return stopping && outstanding == 0 ? finish() : Behaviors.same();
        }

        private void resubmit(long now) {
            for (int s = 0; s < nShards; s++) {
                int k = freedCount[s];
                if (k == 0 || gone[s]) {
                    continue;
                }
                int[] slots = freed[s];
                ActorRef<BdevServer.ShardCommand> shard = shards.get(s);
                if (batchMax == 0) {
                    for (int j = 0; j < k; j++) {
                        int slot = slots[j];
                        t0[slot] = now;
                        long off = singleOffset(slot);
                        if (nextIsWrite()) {
                            shard.tell(new BdevServer.Write(off, writeData, writeReplies));
                        } else {
                            shard.tell(new BdevServer.Read(off, ioSize, readReplies));
                        }
                    }
                } else {
                    for (int j = 0; j < k; ) {
                        int m = Math.min(batchMax, k - j);
                        IoBatch b = batch(s);
                        for (int e = 0; e < m; e++, j++) {
                            int slot = slots[j];
                            t0[slot] = now;
                            long off = nextOffset();
                            if (nextIsWrite()) {
                                if (own != null) {
                                    b.write(off, own[slot], 0, ioSize, slot);
                                } else {
                                    b.write(off, writeData, slot);
                                }
                            } else {
                                if (own != null) {
                                    b.read(off, own[slot], 0, ioSize, slot);
                                } else {
                                    b.read(off, ioSize, slot);
                                }
                            }
                        }
                        shard.tell(new BdevServer.Submit(b, completions));
                    }
                }
                outstanding += k;
                outstandingOn[s] += k;
                freedCount[s] = 0;
            }
        }

        /**
         * A batch to fill for shard {@code s}: its oldest submitted one when the shard has taken it (it has, once a
         * reply to any of its entries came back), reset; else a new one, kept for reuse. A shard takes one sender's
         * batches in the order sent, so the oldest is the one to look at.
         */
        private IoBatch batch(int s) {
            BatchRing q = sentBatches[s];
            IoBatch b = q.count == 0 ? null : q.ring[q.head];
            if (b != null && (b.isTaken() || q.count == q.ring.length)) {
                // the oldest is taken (or the ring is full: then it has been waiting in a dead shard's mailbox, and
                // is dropped for a new one below; a live shard has taken it, with depth + 1 slots)
                q.ring[q.head] = null;
                q.head = (q.head + 1) % q.ring.length;
                q.count--;
                b = b.isTaken() ? b.reset() : new IoBatch(batchMax);
            } else {
                b = new IoBatch(batchMax);
            }
            q.ring[(q.head + q.count) % q.ring.length] = b;
            q.count++;
            return b;
        }

        private long nextOffset() {
            if (random) {
                long r = seq++ * 0x9E3779B97F4A7C15L + rnd;
                r ^= r >>> 29;
                return (firstIo + OffsetGenerator.below(r, sizeInIos)) * ioSize; // a multiply, not a 64-bit division per I/O
            }
            long i = nextSeq;
            nextSeq = i + 1 == sizeInIos ? 0 : i + 1;
            return (firstIo + i) * ioSize;
        }

        /** An offset whose block index is congruent to {@code slot} modulo the depth (single replies carry no tag). */
        private long singleOffset(int slot) {
            long rows = Math.max(1, sizeInIos / depth);
            long row = (nextOffset() / ioSize - firstIo) % rows;
            long block = row * depth + slot;
            return (firstIo + (block < sizeInIos ? block : slot)) * ioSize;
        }

        private boolean nextIsWrite() {
            return mixed ? java.util.concurrent.ThreadLocalRandom.current().nextInt(100) >= opts.rwMixRead() : allWrites;
        }

        private Behavior<Object> onStop(Stop m) {
            if (!stopping) {
                stopping = true;
                status = m.status();
                c.endNanos = System.nanoTime();
                if (measureThread) {
                    c.allocEnd = THREADS.getCurrentThreadAllocatedBytes();
                }
            }
            return outstanding == 0 ? finish() : Behaviors.same();
        }

        /** Completes the job's future and stops: an actor on a reactor must be gone before Spindle stops. */
        private Behavior<Object> finish() {
            if (own != null) {
                for (io.spindle.bdev.DmaBuffer b : own) {
                    b.close(); // every entry was answered: the server holds none of them
                }
                own = null;
            }
            done.complete(new Outcome(c.finalSnapshot(ioSize, measureThread), goneCount == nShards, dropped, status));
            return Behaviors.stopped();
        }
    }
}
