package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * Per-reactor state of the bdev layer (SPDK's bdev mgmt channel): the pool of {@link BdevIo}, the io_wait
 * queue, the ring of completions deferred out of submit, and the reactor's bounce buffers. The context of
 * the layer's mgmt io_device on one reactor; every bdev channel on that reactor holds a reference to it.
 *
 * <p>Owner: its reactor; nothing here is touched from another thread.
 */
final class BdevMgmt {
    /** Bounce buffers (for emulated compare and misaligned buffers) are this large; bigger I/O is split first. */
    static final int BOUNCE_SIZE = 128 * 1024;

    final BdevLayer layer;
    final Reactor reactor;
    private final BdevIo[] pool;
    private int free;
    private final ArrayDeque<IoWaitEntry> ioWait = new ArrayDeque<>(64);
    private final ArrayDeque<BdevIo> splitWaiters = new ArrayDeque<>(64);
    private final BdevIo[] deferred;
    /**
     * The clock read of the completion (or the batch of deferred completions) whose callbacks run now: completions
     * nested in them and the I/O they submit take it as their time instead of reading the clock again, so a closed
     * loop pays one clock read per I/O, a stacked bdev one for both layers, and a batch of deferred completions one
     * for the batch. It is earlier than those events by the callbacks' own work before them (latencies are measured
     * between such stamps, so a batch's spread shifts both ends alike); it is restored to the outer value when a
     * callback or batch returns, and invalid outside any.
     */
    long stampNanos;
    boolean stampValid;
    /** {@link #clock()}'s reading, the reactor run it was taken in, and how many more I/O may share it. */
    private long clockNanos;
    private long clockRun = -1;
    private int clockShares;
    /** How many submits and completions of one task or poller run share one clock read (see {@link #clock()}). */
    static final int CLOCK_SHARES = 16;
    private int dHead;
    private int dCount;
    int submitDepth;
    private final Poller deferredPoller;
    /** Walks this reactor originates (the reset's freeze and unfreeze). */
    final io.spindle.runtime.FanOuts fanOuts;
    private DmaBuffer zeroes;
    /**
     * Bounce buffers not in use. A buffer is allocated when none is free and fewer than one per pooled I/O exist,
     * and is reused from here, so a steady bounced load allocates nothing. Memory is given back above a bound: once a
     * second ({@link #BOUNCE_TRIM_SECONDS}), the buffers that stayed free the whole time beyond
     * {@code iobuf_large_cache_size} (SPDK's per-thread large-buffer cache, 16 by default) are freed, oldest first; a
     * load that keeps them busy is never trimmed. The rest goes with this reactor's bdev layer ({@link #destroy()}).
     */
    private final ArrayDeque<DmaBuffer> bounceCache = new ArrayDeque<>(16);
    /** Bounce buffers allocated on this reactor (free or in use); at most the I/O pool size. */
    private int bounceAllocated;
    /** How often idle bounce buffers above {@link #bounceKeep} are freed. */
    static final long BOUNCE_TRIM_SECONDS = 1;
    /** Free bounce buffers kept however long they stay unused. */
    private final int bounceKeep;
    /** The fewest bounce buffers free at any moment since the last trim: that many were not needed meanwhile. */
    private int bounceMinFree;
    private final Poller bounceTrimmer;
    /** The public per-reactor buffer cache (SPDK's iobuf small/large caches: 128 and 16 by default). */
    final IoBuf iobuf;

    BdevMgmt(BdevLayer layer, Reactor reactor) {
        this.layer = layer;
        this.reactor = reactor;
        int n = layer.ioPoolSize();
        this.pool = new BdevIo[n];
        for (int i = 0; i < n; i++) {
            pool[i] = new BdevIo(this, layer.moduleSlots());
        }
        this.free = n;
        this.deferred = new BdevIo[Integer.highestOneBit(Math.max(1, n - 1)) << 1]; // power of two >= n: index by mask
        this.deferredPoller = reactor.registerPoller("bdev_deferred_completions", this::runDeferred);
        this.fanOuts = io.spindle.runtime.FanOuts.forReactor(reactor);
        this.iobuf = new IoBuf(reactor, layer.options().iobufSmallCacheSize(), layer.options().iobufLargeCacheSize());
        this.bounceKeep = layer.options().iobufLargeCacheSize();
        this.bounceTrimmer = reactor.registerPoller("bdev_bounce_trim", this::trimBounce, BOUNCE_TRIM_SECONDS, TimeUnit.SECONDS);
    }

    /** Takes a free I/O, or null when the pool is empty (the caller returns ENOMEM). */
    BdevIo alloc() {
        if (free == 0) {
            return null;
        }
        BdevIo io = pool[--free];
        io.inUse = true;
        return io;
    }

    int freeCount() {
        return free;
    }

    void release(BdevIo io) {
        io.reset();
        pool[free++] = io;
        // internal splits first (they hold a parent I/O already), then user waiters, one per free I/O
        while (free > 0 && !splitWaiters.isEmpty()) {
            BdevIo parent = splitWaiters.poll();
            parent.channel.continueSplit(parent);
        }
        while (free > 0 && !ioWait.isEmpty()) {
            IoWaitEntry e = ioWait.poll();
            e.queued = false;
            try {
                e.callback.onIoAvailable(e.arg);
            } catch (Throwable t) {
                BdevLayer.LOG.error("{}: io_wait callback threw", reactor.name(), t);
            }
        }
    }

    int queueIoWait(IoWaitEntry e) {
        if (free > 0) {
            return io.spindle.runtime.Errno.EINVAL; // SPDK: only right after ENOMEM
        }
        if (e.queued) {
            return io.spindle.runtime.Errno.EINVAL;
        }
        e.queued = true;
        ioWait.add(e);
        layer.ioWaits.increment(); // the ENOMEM path only, never a completed submit's
        return 0;
    }

    /**
     * Ends the split parents of {@code ch} with argument {@code target} that wait here for pooled I/O: they issue
     * no more children and complete ABORTED, now when no child is out, else when the last one completes.
     */
    int abortSplitWaiters(BdevChannel ch, Object target) {
        int n = 0;
        for (java.util.Iterator<BdevIo> it = splitWaiters.iterator(); it.hasNext(); ) {
            BdevIo p = it.next();
            if (p.channel == ch && (target == ALL || p.cbArg == target)) {
                it.remove();
                if (p.type == IoType.COMPARE_AND_WRITE) {
                    ch.compareAndWriteEnd(p, IoStatus.ABORTED); // it holds its range lock: unlock, then complete
                    n++;
                    continue;
                }
                p.splitStatus = IoStatus.ABORTED;
                if (p.childrenOutstanding == 0) {
                    p.completed = true;
                    p.status = IoStatus.ABORTED;
                    defer(p);
                }
                n++;
            }
        }
        return n;
    }

    /** For {@link #abortSplitWaiters}: every split parent of the channel (channel destroy, reset freeze). */
    static final Object ALL = new Object();

    boolean hasSplitWaiter(BdevChannel ch, Object target) {
        for (BdevIo p : splitWaiters) {
            if (p.channel == ch && p.cbArg == target) {
                return true;
            }
        }
        return false;
    }

    void waitForSplit(BdevIo parent) {
        splitWaiters.add(parent);
    }

    /** Queues a completion to run on the next loop (a completion from inside submit must not recurse). */
    void defer(BdevIo io) {
        deferred[(dHead + dCount) & (deferred.length - 1)] = io;
        dCount++;
    }

    /** Runs the completions deferred so far, now (not from inside a submit: from a channel's destroy). */
    void runDeferredNow() {
        runDeferred();
    }

    /**
     * The time of a submit or a completion outside any callback (a module poller completing its queue, a task
     * submitting): one {@code System.nanoTime()} (~20-25 ns here; SPDK reads the TSC, a few ns) serves up to
     * {@link #CLOCK_SHARES} of them within one task or poller run of this reactor, and is read again at the next run.
     * A completion late in a module's run is stamped as early as the first one read, at most 15 completions earlier
     * (their callbacks' work, typically 0.1-1 µs each); a module that does its work first and completes after (null,
     * malloc, the remote queue pairs) has no work of its own in between. Reactor thread only.
     */
    long clock() {
        long run = reactor.runSeq();
        if (run != clockRun || --clockShares < 0) {
            clockRun = run;
            clockShares = CLOCK_SHARES - 1;
            clockNanos = System.nanoTime();
        }
        return clockNanos;
    }

    private int runDeferred() {
        int n = dCount;
        if (n == 0) {
            return 0;
        }
        // one clock read for the batch: its completions, and the submits their callbacks make, share it (SPDK reads
        // the TSC per I/O, which costs a few ns; System.nanoTime costs ~20-25 ns here)
        boolean outerValid = stampValid;
        long outerNanos = stampNanos;
        stampNanos = System.nanoTime(); // this poller run's own read: its batch may be long, and is stamped once
        stampValid = true;
        try {
            // only those queued before this run: completions deferred by these callbacks wait for the next loop
            for (int i = 0; i < n; i++) {
                BdevIo io = deferred[dHead];
                deferred[dHead] = null;
                dHead = (dHead + 1) & (deferred.length - 1);
                dCount--;
                io.channel.finish(io);
            }
        } finally {
            stampValid = outerValid;
            stampNanos = outerNanos;
        }
        return n;
    }

    /**
     * Shared resources by module channel (identity): one per module channel the bdev channels of this reactor
     * run over. A null module channel is never shared.
     */
    private final java.util.IdentityHashMap<Object, BdevSharedResource> shared = new java.util.IdentityHashMap<>();

    /** The shared resource of {@code moduleChannel}, made on first use; counted until {@link #releaseSharedResource}. */
    BdevSharedResource sharedResource(Object moduleChannel) {
        BdevSharedResource r = moduleChannel == null ? null : shared.get(moduleChannel);
        if (r == null) {
            r = new BdevSharedResource(this, moduleChannel);
            if (moduleChannel != null) {
                shared.put(moduleChannel, r);
            }
        }
        r.refs++;
        return r;
    }

    /** A bdev channel over {@code r} was destroyed; the last one drops it. */
    void releaseSharedResource(BdevSharedResource r) {
        if (--r.refs == 0) {
            r.stopRetryTimer();
            if (r.moduleChannel != null) {
                shared.remove(r.moduleChannel);
            }
        }
    }

    /** A zero-filled buffer for emulated write_zeroes. */
    DmaBuffer zeroes() {
        if (zeroes == null) {
            zeroes = DmaBuffer.allocate(BOUNCE_SIZE, 4096).fill(0, BOUNCE_SIZE, (byte) 0);
        }
        return zeroes;
    }

    /**
     * A bounce buffer of {@link #BOUNCE_SIZE} bytes, or null when every buffer this reactor may have is in use
     * (one per pooled I/O): the caller then waits for a pooled I/O to be released, which gives a buffer back
     * first (SPDK's iobuf: a request that finds the cache and the pool empty waits for a buffer to be put back).
     * A child holds its buffer with its pooled I/O, so that wait ends as soon as any bounced child completes.
     */
    DmaBuffer takeBounce() {
        DmaBuffer b = bounceCache.poll();
        if (b == null) {
            if (bounceAllocated >= pool.length) {
                return null;
            }
            b = DmaBuffer.allocate(BOUNCE_SIZE, 4096); // grows the cache: once per new high-water mark
            bounceAllocated++;
        }
        if (bounceCache.size() < bounceMinFree) {
            bounceMinFree = bounceCache.size();
        }
        return b;
    }

    /**
     * The trim poller: frees the bounce buffers that stayed free since the last trim, beyond {@link #bounceKeep},
     * least recently used first (the cache is LIFO). Allocates nothing. Returns how many it freed.
     */
    private int trimBounce() {
        int spare = Math.min(bounceMinFree, bounceCache.size() - bounceKeep);
        int freed = 0;
        for (; freed < spare; freed++) {
            bounceCache.pollLast().close();
            bounceAllocated--;
        }
        bounceMinFree = bounceCache.size();
        return freed;
    }

    /** Gives a bounce buffer back to the cache; it stays allocated until {@link #destroy()}. */
    void releaseBounce(DmaBuffer b) {
        bounceCache.push(b); // last in, first out: the most recently used (cache-warm) buffer goes next
    }

    /** Bounce buffers allocated on this reactor so far, free or in use (for tests and diagnostics). */
    int bounceBuffersAllocated() {
        return bounceAllocated;
    }

    /** Destroy on the reactor: unregister the poller, free the buffers. */
    void destroy() {
        // completions still deferred run before the poller goes: none is lost with the channel
        for (int round = 0; dCount != 0 && round < 64; round++) {
            runDeferred();
        }
        deferredPoller.unregister();
        bounceTrimmer.unregister();
        if (iobuf.outstanding() != 0) {
            BdevLayer.LOG.error("{}: {} iobuf buffer(s) never put back", reactor.name(), iobuf.outstanding());
        }
        iobuf.destroy();
        if (zeroes != null) {
            zeroes.close();
            zeroes = null;
        }
        DmaBuffer b;
        while ((b = bounceCache.poll()) != null) {
            b.close();
        }
        if (free != pool.length || dCount != 0) {
            BdevLayer.LOG.error("{}: bdev mgmt channel destroyed with {} I/O still out", reactor.name(), pool.length - free);
        }
    }
}
