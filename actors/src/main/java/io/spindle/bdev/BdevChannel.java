package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * A bdev's channel context on one reactor (SPDK's {@code spdk_bdev_channel}): the module's channel, the
 * reactor's {@link BdevMgmt}, outstanding-I/O accounting, the {@link BdevSharedResource} (NOMEM retry queue) of its
 * module channel, the frozen and destroyed flags, and the channel's stats.
 * Obtain it through {@link BdevDescriptor#getIoChannel()}, which returns the runtime {@link IoChannel} that
 * wraps it; {@code put()} that channel when done.
 *
 * <p>It is the coordinator of four package-private collaborators, each about one thing and each made with the
 * channel and owned by it: {@link ChannelSubmit} (admission, QoS, dispatch to the module, completion: the hot
 * path), {@link ChannelReset} (the reset state machine), {@link CompareAndWriteLocks} (LBA range locks and
 * emulated compare_and_write) and {@link SplitAndBounce} (split, bounce buffers, emulated write_zeroes and
 * compare). The channel keeps the state they share and the entry points the rest of the layer calls; what spans
 * them (abort, channel destroy) is here.
 *
 * <p>Owner: its reactor; the collaborators run only there too.
 */
public final class BdevChannel {
    final Bdev bdev;
    final Reactor reactor;
    final Object moduleChannel;
    final IoChannel<BdevMgmt> mgmtChannel;
    final BdevMgmt mgmt;
    /** I/O of this channel at the module (the reset's drain check reads it). */
    int ioOutstanding;
    /** A reset is in progress: new I/O completes ABORTED. */
    boolean frozen;
    /** Destroyed ({@link #destroy()}): new I/O completes ABORTED; late completions merge their stats at once. */
    boolean destroyed;
    /** The NOMEM queue and outstanding count shared with the bdev channels over the same module channel. */
    final BdevSharedResource shared;
    final IoStats stats = new IoStats();
    /** This channel's latency histogram, made with the first I/O recorded while histograms are on. */
    org.HdrHistogram.Histogram histogram;

    /** Submit, QoS, dispatch and completion: the I/O path. */
    final ChannelSubmit submits;
    /** The reset state machine of resets submitted on this channel. */
    final ChannelReset resets;
    /** LBA range locks and emulated compare_and_write. */
    final CompareAndWriteLocks locks;
    /** Split, bounce and emulated write_zeroes and compare. */
    final SplitAndBounce splits;

    BdevChannel(Bdev bdev, Reactor reactor, Object moduleChannel, IoChannel<BdevMgmt> mgmtChannel) {
        this.bdev = bdev;
        this.reactor = reactor;
        this.moduleChannel = moduleChannel;
        this.mgmtChannel = mgmtChannel;
        this.mgmt = mgmtChannel.context();
        this.shared = mgmt.sharedResource(moduleChannel);
        // after the fields above: ChannelSubmit keeps its own final copies of bdev, mgmt and shared
        this.submits = new ChannelSubmit(this);
        this.resets = new ChannelReset(this);
        this.locks = new CompareAndWriteLocks(this);
        this.splits = new SplitAndBounce(this);
    }

    /** The bdev. */
    public Bdev bdev() {
        return bdev;
    }

    /** The reactor. */
    public Reactor reactor() {
        return reactor;
    }

    /** I/O submitted to the module and not completed. Owner reactor. */
    public int ioOutstanding() {
        return ioOutstanding;
    }

    /** A copy of this channel's stats. Owner reactor. */
    public IoStats stats() {
        return stats.copy();
    }

    // ------------------------------------------------------------------ entry points of the layer (this reactor)

    /** Entry point for an accepted I/O (validated by the descriptor). */
    void submit(BdevIo io) {
        submits.submit(io);
    }

    /** A NOMEM retry from the shared resource: to the module again, outstanding again. */
    void resubmitToModule(BdevIo io) {
        submits.toModule(io);
    }

    /** The module completed {@code io} ({@link BdevIo#complete}). */
    void onModuleComplete(BdevIo io, IoStatus st) {
        submits.onModuleComplete(io, st);
    }

    /** Runs the caller's completion and returns the I/O to the pool; child I/O report to their parent. */
    void finish(BdevIo io) {
        submits.finish(io);
    }

    /**
     * On this reactor, every QoS slice (its poller) and when the limits change (the bdev actor's walk): submits what
     * the budget now admits, everything when QoS was turned off. Returns how many it submitted.
     */
    int drainQos() {
        return submits.drainQos();
    }

    /**
     * A parent that waited in the mgmt's split queue has a free pooled I/O again: a compare_and_write issues its
     * next child, a split, bounced or emulated I/O its next children.
     */
    void continueSplit(BdevIo parent) {
        if (parent.type == IoType.COMPARE_AND_WRITE) {
            locks.issue(parent); // it waited for a pooled I/O or a bounce buffer
            return;
        }
        splits.resume(parent);
    }

    /** Unlocks and completes compare_and_write {@code io} with {@code st} (an abort of it while it waited in the split queue). */
    void compareAndWriteEnd(BdevIo io, IoStatus st) {
        locks.end(io, st);
    }

    void recordHistogram(long latencyNanos) {
        org.HdrHistogram.Histogram h = histogram;
        if (h == null) {
            h = new org.HdrHistogram.Histogram(java.util.concurrent.TimeUnit.SECONDS.toNanos(60), 3); // once per channel
            histogram = h;
        }
        h.recordValue(Math.min(latencyNanos, h.getHighestTrackableValue()));
    }

    // ------------------------------------------------------------------ abort (SPDK spdk_bdev_abort)

    /**
     * Aborts the I/O with the target argument still queued in this channel (waiting for a range lock, for QoS,
     * for module resources, or a split parent waiting for pooled I/O), ends the compare_and_writes with that
     * argument that have not issued their write yet (unlocked, ABORTED, nothing written), then, when the module
     * has ABORT, asks it for those it holds. The children of a split I/O or a compare_and_write carry their
     * parent's argument: aborting one ends the parent, which issues no more children and completes ABORTED once
     * its outstanding children are done. The abort completes SUCCESS when anything was aborted here or by the
     * module, else as the module answered.
     */
    void abort(BdevIo abort) {
        Object target = abort.abortTarget;
        int n = locks.abortLockWaiters(target) + submits.abortQosWaiters(target) + abortIn(shared.nomemQueue, target)
                + mgmt.abortSplitWaiters(this, target) + locks.abortUnwritten(target);
        if (n > 0 && !bdev.nativeIoTypes().contains(IoType.ABORT)) {
            abort.completed = true;
            abort.status = IoStatus.SUCCESS;
            mgmt.defer(abort);
            return;
        }
        abort.abortedInLayer = n; // the module may find nothing more: the abort still succeeded
        submits.dispatch(abort);
    }

    /** Whether an I/O with this argument waits in this channel's layer queues (an abort can end it here). */
    boolean hasQueued(Object target) {
        return locks.holds(target) || submits.qosHolds(target) || holds(shared.nomemQueue, target)
                || mgmt.hasSplitWaiter(this, target);
    }

    /** Aborts I/O queued in the layer on this channel (unregister, reset, destroy); returns how many. */
    int abortQueued() {
        int n = locks.abortAllLockWaiters() + submits.abortAllQosWaiters();
        for (Iterator<BdevIo> it = shared.nomemQueue.iterator(); it.hasNext(); ) {
            BdevIo io = it.next();
            if (io.channel == this) { // only this channel's: others over the same module channel stay queued
                it.remove();
                io.completed = true;
                io.status = IoStatus.ABORTED;
                mgmt.defer(io);
                n++;
            }
        }
        return n + mgmt.abortSplitWaiters(this, BdevMgmt.ALL);
    }

    /**
     * Ends ABORTED this channel's I/O with argument {@code target} in {@code queue} (one of the collaborators' queues,
     * or the shared NOMEM queue, which may hold other bdev channels' I/O); a child's parent issues no more children.
     */
    int abortIn(ArrayDeque<BdevIo> queue, Object target) {
        int n = 0;
        for (Iterator<BdevIo> it = queue.iterator(); it.hasNext(); ) {
            BdevIo q = it.next();
            if (q.cbArg == target && q.channel == this) { // the NOMEM queue may hold other bdev channels' I/O
                it.remove();
                if (q.parent != null && q.parent.splitStatus == IoStatus.SUCCESS) {
                    q.parent.splitStatus = IoStatus.ABORTED;
                }
                q.completed = true;
                q.status = IoStatus.ABORTED;
                mgmt.defer(q);
                n++;
            }
        }
        return n;
    }

    /** Ends ABORTED everything in {@code queue}, a queue of this channel's own; returns how many. */
    int abortAll(ArrayDeque<BdevIo> queue) {
        int n = 0;
        while (!queue.isEmpty()) {
            BdevIo io = queue.pollFirst();
            io.completed = true;
            io.status = IoStatus.ABORTED;
            mgmt.defer(io);
            n++;
        }
        return n;
    }

    /** Whether {@code queue} holds an I/O of this channel with argument {@code target}. */
    boolean holds(ArrayDeque<BdevIo> queue, Object target) {
        for (BdevIo q : queue) {
            if (q.cbArg == target && q.channel == this) {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------------ destroy

    /**
     * On channel destroy (on the channel's reactor, after the module channel was destroyed): the channel refuses
     * new I/O (ABORTED, as a frozen one does), I/O still queued in the layer (range lock, QoS, module NOMEM)
     * completes ABORTED, as in SPDK's {@code bdev_channel_destroy}, and every completion deferred so far on this
     * reactor runs now, so that they count in the stats merged into the bdev here. Every accepted I/O still
     * completes exactly once.
     */
    void destroy() {
        destroyed = true;
        submits.destroy();
        resets.destroy(); // this channel's reset waiting for I/O to drain ends ABORTED
        abortQueued();
        mgmt.runDeferredNow();
        if (histogram != null) {
            bdev.mergeHistogram(histogram);
        }
        mgmt.releaseSharedResource(shared);
        bdev.mergeStats(stats);
        stats.reset(IoStats.ResetMode.ALL); // what completes after this (resubmits refused ABORTED) merges on its own
    }
}
