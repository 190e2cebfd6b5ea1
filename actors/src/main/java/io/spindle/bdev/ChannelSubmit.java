package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Poller;

import java.util.ArrayDeque;

/**
 * The I/O path of one {@link BdevChannel}, both ways: admission of an accepted I/O (a frozen or destroyed channel
 * refuses it ABORTED, a caller write waits behind a compare_and_write's range lock, QoS charges it or queues it for
 * the next slice), routing to the other collaborators (reset, compare_and_write, split, bounce and emulation),
 * dispatch to the module behind the shared NOMEM queue, and the way back: the module's completion, the stats, the
 * clock stamp and the caller's callback.
 *
 * <p>This is the hot path: one {@code submit} and one {@code finish} per I/O, allocation-free, every call on it
 * to a final class through a final field (no interface dispatch besides the module's own {@code submit} and the
 * caller's callback), so the JIT inlines the chain. The rare branches call out to {@link ChannelReset},
 * {@link CompareAndWriteLocks} and {@link SplitAndBounce}.
 *
 * <p>Clock: one {@code System.nanoTime()} per batch of deferred completions, and for completions straight from a
 * module's poller one per {@link BdevMgmt#CLOCK_SHARES} of them ({@link BdevMgmt#clock()}). Inside a callback
 * ({@link BdevMgmt#stampValid}) a submit takes the completion's stamp and a nested completion reuses it; the stamp
 * is restored to the outer value when the callback returns.
 *
 * <p>Threading and ownership: made by and owned by its {@link BdevChannel}, which holds the counters and flags it
 * updates; used only on the channel's reactor. It owns the QoS queue and this channel's QoS credit.
 */
final class ChannelSubmit {
    private final BdevChannel ch;
    private final Bdev bdev;
    private final BdevMgmt mgmt;
    private final BdevSharedResource shared;

    /** I/O waiting for the next QoS slice, in order; the head is tried first. */
    private final ArrayDeque<BdevIo> qosQueue = new ArrayDeque<>(64);
    /** This channel's share of the current QoS slice (see {@link Qos}): charged here, on this reactor, per I/O. */
    private final Qos.Credit qosCredit = new Qos.Credit();
    /** Submits what waits for QoS once a new slice began, on this reactor; registered with the first I/O that waits. */
    private Poller qosPoller;
    /** The slice whose budget the queue head was last tried against (-1: QoS off). */
    private long qosTriedEpoch = Long.MIN_VALUE;

    /** Made by {@code ch}'s constructor once its bdev, mgmt and shared resource are set. */
    ChannelSubmit(BdevChannel ch) {
        this.ch = ch;
        this.bdev = ch.bdev;
        this.mgmt = ch.mgmt;
        this.shared = ch.shared;
    }

    // ------------------------------------------------------------------ submit

    /**
     * Entry point for an accepted I/O (validated by the descriptor). A read or write on a running channel of a bdev
     * with no QoS, no range lock, no alignment or boundary to honour goes straight to {@link #dispatch}; everything
     * else takes {@link #submitChecked}, which decides the same for those. Kept small (under the JIT's 325-byte
     * limit for hot methods) so it is inlined into the descriptor's submit.
     */
    void submit(BdevIo io) {
        BdevMgmt m = mgmt;
        // inside a completion callback (or a batch of them) the I/O takes the completion's timestamp: one clock read
        // serves the completion and the resubmit it makes, and every nested completion and submit inside it
        io.submitNanos = m.stampValid ? m.stampNanos : m.clock();
        IoType t = io.type;
        BdevChannel c = ch;
        Bdev b = bdev;
        if ((t == IoType.READ || t == IoType.WRITE) && !c.frozen && !c.destroyed && b.qos == null && b.lockCount == 0
                && b.requiredAlignment <= 1 && !SplitAndBounce.needsSplit(b, io.offsetBlocks, io.numBlocks)) {
            if (t == IoType.WRITE && io.parent == null && !io.wListed) {
                c.locks.listWrite(io); // in flight from here: a range lock taken from now on waits for it
            }
            dispatch(io);
            return;
        }
        submitChecked(io, t);
    }

    /** Every other I/O: admission in full (reset, freeze, compare_and_write, range locks, abort, emulation, QoS, split). */
    private void submitChecked(BdevIo io, IoType t) {
        BdevMgmt m = mgmt;
        if (t == IoType.RESET) {
            ch.resets.start(io); // a reset is never refused by a freeze: it queues behind the one in progress
            return;
        }
        BdevChannel c = ch;
        if (c.frozen || c.destroyed) {
            io.completed = true;
            io.status = IoStatus.ABORTED;
            m.defer(io);
            return;
        }
        if (t == IoType.COMPARE_AND_WRITE) {
            c.locks.start(io);
            return;
        }
        Bdev b = bdev;
        if (t.writes() && io.parent == null && !io.wListed) {
            // a write of the caller's: it waits while a compare_and_write holds an overlapping range, else it is in
            // flight from here to its completion, and a lock taken from now on waits for it (SPDK's io_submitted
            // check in bdev_lock_lba_range). A compare_and_write's own write is its child: it passes the lock.
            if (b.lockCount > 0 && b.lockedAgainst(io.offsetBlocks, io.numBlocks, io)) {
                c.locks.waitForUnlock(io); // resubmitted when the range unlocks
                return;
            }
            c.locks.listWrite(io);
        }
        if (t == IoType.ABORT) {
            c.abort(io);
            return;
        }
        if (t == IoType.WRITE_ZEROES && !b.nativeWriteZeroes) {
            c.splits.start(io); // emulated: writes of a shared zero buffer
            return;
        }
        if (t == IoType.COMPARE && !b.nativeCompare) {
            c.splits.start(io); // emulated: read into a bounce buffer, then compare
            return;
        }
        if (t == IoType.READ || t == IoType.WRITE) {
            Qos q = b.qos;
            if (q != null && !io.qosAdmitted) {
                if (!qosQueue.isEmpty() || !q.tryAdmit(qosCredit, t, io.numBlocks * b.blockSize)) {
                    queueForQos(io); // waits for the next 1 ms timeslice
                    return;
                }
                io.qosAdmitted = true;
            }
            if (b.requiredAlignment > 1 && SplitAndBounce.misaligned(io, b.requiredAlignment)) {
                io.bounceMode = true;
                c.splits.start(io);
                return;
            }
            if (SplitAndBounce.needsSplit(b, io.offsetBlocks, io.numBlocks)) {
                c.splits.start(io);
                return;
            }
        }
        dispatch(io);
    }

    // ------------------------------------------------------------------ QoS (SPDK 3.6)

    private void queueForQos(BdevIo io) {
        qosQueue.add(io);
        if (qosPoller == null) {
            // each channel watches for a new slice itself: the owner's refill sends nothing to the channels
            qosPoller = ch.reactor.registerPoller("bdev_qos_drain_" + bdev.name(), this::pollQos);
        }
    }

    /**
     * Every loop: when I/O waits and a new slice began since it was last tried (the owner's refill moved the slice
     * number), or QoS was turned off, submits what the budget admits. Only a refill adds to the pool, so trying
     * again within a slice could admit nothing more. A volatile read and a compare when there is nothing to do.
     */
    private int pollQos() {
        if (qosQueue.isEmpty()) {
            return 0;
        }
        Qos q = bdev.qos;
        long e = q == null ? -1 : q.epoch();
        if (e == qosTriedEpoch && q != null) {
            return 0;
        }
        qosTriedEpoch = e;
        return drainQos();
    }

    /**
     * Every slice (its poller) and when the limits change (the bdev actor's walk): submits what the budget now
     * admits, everything when QoS was turned off. Returns how many it submitted.
     */
    int drainQos() {
        Qos q = bdev.qos;
        int n = 0;
        while (!qosQueue.isEmpty()) {
            BdevIo io = qosQueue.peekFirst();
            if (q != null && !q.tryAdmit(qosCredit, io.type, io.numBlocks * bdev.blockSize)) {
                break;
            }
            qosQueue.pollFirst();
            io.qosAdmitted = true;
            submit(io);
            n++;
        }
        return n;
    }

    /**
     * An emulation's child (a write of zeroes, a read to compare) is a read or write the module does: it is charged to
     * QoS as one, waiting in the QoS queue (in order, behind what waits there) when the slice's budget is spent.
     */
    void dispatchCharged(BdevIo child) {
        Qos q = bdev.qos;
        if (q != null && (!qosQueue.isEmpty() || !q.tryAdmit(qosCredit, child.type, child.numBlocks * bdev.blockSize))) {
            queueForQos(child); // drainQos submits it (admitted) through submit, which dispatches a child as is
            return;
        }
        child.qosAdmitted = true;
        dispatch(child);
    }

    /** Ends ABORTED what waits for QoS with argument {@code target}; returns how many. */
    int abortQosWaiters(Object target) {
        return ch.abortIn(qosQueue, target);
    }

    /** Ends ABORTED everything that waits for QoS (unregister, reset, destroy); returns how many. */
    int abortAllQosWaiters() {
        return ch.abortAll(qosQueue);
    }

    /** Whether an I/O with argument {@code target} waits for QoS. */
    boolean qosHolds(Object target) {
        return ch.holds(qosQueue, target);
    }

    /** The channel is destroyed: its QoS poller goes (what waited is aborted by the channel). */
    void destroy() {
        if (qosPoller != null) {
            qosPoller.unregister();
            qosPoller = null;
        }
    }

    // ------------------------------------------------------------------ dispatch

    /** Hands {@code io} to the module, or queues it behind the I/O waiting for module resources. */
    void dispatch(BdevIo io) {
        BdevSharedResource r = shared;
        if (!r.nomemQueue.isEmpty()) {
            r.nomemQueue.addLast(io); // keep order behind I/O waiting on module resources; not outstanding yet
            return;
        }
        ch.ioOutstanding++;
        r.ioOutstanding++;
        submitToModule(io);
    }

    /** To the module now, counted outstanding: a NOMEM retry from the shared resource, or a reset's module stage. */
    void toModule(BdevIo io) {
        ch.ioOutstanding++;
        shared.ioOutstanding++;
        submitToModule(io);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void submitToModule(BdevIo io) {
        BdevMgmt m = mgmt;
        m.submitDepth++;
        try {
            ((io.spindle.bdev.spi.BdevDriver) bdev.driver).submit(io, ch.moduleChannel);
        } catch (Throwable e) {
            BdevLayer.LOG.error("bdev={}: module submit threw for {}; completing FAILED", bdev.name(), io, e);
            if (!io.completed) {
                onModuleComplete(io, IoStatus.FAILED);
            }
        } finally {
            m.submitDepth--;
        }
    }

    // ------------------------------------------------------------------ completion

    /** The module completed {@code io}: NOMEM requeues it, anything else completes it (deferred inside a submit). */
    void onModuleComplete(BdevIo io, IoStatus st) {
        ch.ioOutstanding--;
        BdevSharedResource r = shared;
        r.ioOutstanding--;
        if (st == IoStatus.NOMEM) {
            io.completed = false;
            r.onNomem(io); // requeued at the head of the shared queue
            return;
        }
        io.completed = true;
        io.status = st;
        finishOrDefer(io);
        r.afterCompletion();
    }

    /** A completed {@code io} (status set) finishes now, or on the next loop when a submit is on the stack. */
    void finishOrDefer(BdevIo io) {
        if (mgmt.submitDepth > 0) {
            mgmt.defer(io);
        } else {
            finish(io);
        }
    }

    /** Runs the caller's completion and returns the I/O to the pool; child I/O report to their parent. */
    void finish(BdevIo io) {
        if (io.resetStage == 1) {
            ch.resets.unfreezeAndComplete(io);
            return;
        }
        if (io.abortedInLayer > 0 && io.status == IoStatus.FAILED) {
            io.status = IoStatus.SUCCESS; // an ABORT: the module found nothing more, but the layer aborted some
        }
        BdevMgmt m = mgmt;
        long now = m.stampValid ? m.stampNanos : m.clock(); // a nested or batched completion shares the clock read
        long lat = now - io.submitNanos;
        BdevChannel c = ch;
        if (!io.hasChildren) {
            // SPDK's bdev_io_update_io_stat: every I/O that went to the module (a split's or an emulation's children
            // included, each as the type it went as) counts; a parent's figures are its children's
            c.stats.record(io.type, io.status, io.numBlocks * bdev.blockSize, lat);
            if (c.destroyed) {
                mergeLateStats(c);
            }
        }
        BdevIo parent = io.parent;
        if (parent != null) {
            childDone(c, parent, io);
            return;
        }
        if (io.wListed) {
            c.locks.unlistWrite(io); // a compare_and_write waiting for this write may take its lock now
        }
        io.latencyNanos = lat;
        if (bdev.histogramEnabled) {
            c.recordHistogram(lat);
        }
        callBack(m, io, now);
    }

    /** Completed after the channel's stats were merged into the bdev's: merge on its own. */
    private void mergeLateStats(BdevChannel c) {
        bdev.mergeStats(c.stats);
        c.stats.reset(IoStats.ResetMode.ALL);
    }

    private static void childDone(BdevChannel c, BdevIo parent, BdevIo io) {
        if (parent.type == IoType.COMPARE_AND_WRITE) {
            c.locks.childDone(parent, io);
        } else {
            c.splits.childDone(parent, io);
        }
    }

    /**
     * The caller's callback, with the completion's timestamp valid for the submits it makes, then the I/O back to
     * the pool. A callback that throws is logged; the I/O is released all the same.
     */
    private void callBack(BdevMgmt m, BdevIo io, long now) {
        boolean outerValid = m.stampValid;
        long outerNanos = m.stampNanos;
        m.stampNanos = now;
        m.stampValid = true;
        try {
            io.cb.onComplete(io, io.status, io.cbArg);
        } catch (Throwable e) {
            BdevLayer.LOG.error("bdev={}: completion callback threw for {}", bdev.name(), io, e);
        } finally {
            m.stampValid = outerValid; // a nested completion hands the outer one's timestamp back
            m.stampNanos = outerNanos;
            m.release(io);
        }
    }
}
