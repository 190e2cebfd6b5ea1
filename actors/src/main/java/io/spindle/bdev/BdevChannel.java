package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * A bdev's channel context on one reactor (SPDK's {@code spdk_bdev_channel}): the module's channel, the
 * reactor's {@link BdevMgmt}, outstanding-I/O accounting, the {@link BdevSharedResource} (NOMEM retry queue) of its
 * module channel, the QoS and range-lock queues, and the channel's stats.
 * Obtain it through {@link BdevDescriptor#getIoChannel()}, which returns the runtime {@link IoChannel} that
 * wraps it; {@code put()} that channel when done.
 *
 * <p>Owner: its reactor.
 */
public final class BdevChannel {
    final Bdev bdev;
    final Reactor reactor;
    final Object moduleChannel;
    final IoChannel<BdevMgmt> mgmtChannel;
    final BdevMgmt mgmt;
    int ioOutstanding;
    /** A reset is in progress: new I/O completes ABORTED. */
    boolean frozen;
    /** Destroyed ({@link #destroy()}): new I/O completes ABORTED; late completions merge their stats at once. */
    private boolean destroyed;
    /** The NOMEM queue and outstanding count shared with the bdev channels over the same module channel. */
    final BdevSharedResource shared;
    final IoStats stats = new IoStats();

    BdevChannel(Bdev bdev, Reactor reactor, Object moduleChannel, IoChannel<BdevMgmt> mgmtChannel) {
        this.bdev = bdev;
        this.reactor = reactor;
        this.moduleChannel = moduleChannel;
        this.mgmtChannel = mgmtChannel;
        this.mgmt = mgmtChannel.context();
        this.shared = mgmt.sharedResource(moduleChannel);
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

    // ------------------------------------------------------------------ submit

    /** Entry point for an accepted I/O (validated by the descriptor). */
    void submit(BdevIo io) {
        BdevMgmt m = mgmt;
        // inside a completion callback (or a batch of them) the I/O takes the completion's timestamp: one clock read
        // serves the completion and the resubmit it makes, and every nested completion and submit inside it
        io.submitNanos = m.stampValid ? m.stampNanos : System.nanoTime();
        IoType t = io.type;
        if (t == IoType.RESET) {
            startReset(io); // a reset is never refused by a freeze: it queues behind the one in progress
            return;
        }
        if (frozen || destroyed) {
            io.completed = true;
            io.status = IoStatus.ABORTED;
            mgmt.defer(io);
            return;
        }
        if (t == IoType.COMPARE_AND_WRITE) {
            startCompareAndWrite(io);
            return;
        }
        if (t.writes() && io.parent == null && !io.wListed) {
            // a write of the caller's: it waits while a compare_and_write holds an overlapping range, else it is in
            // flight from here to its completion, and a lock taken from now on waits for it (SPDK's io_submitted
            // check in bdev_lock_lba_range). A compare_and_write's own write is its child: it passes the lock.
            if (bdev.lockCount > 0 && bdev.lockedAgainst(io.offsetBlocks, io.numBlocks, io)) {
                lockWaiters.add(io); // resubmitted when the range unlocks
                return;
            }
            listWrite(io);
        }
        if (t == IoType.ABORT) {
            abortIo(io);
            return;
        }
        if (t == IoType.WRITE_ZEROES && !bdev.nativeWriteZeroes) {
            startSplit(io); // emulated: writes of a shared zero buffer
            return;
        }
        if (t == IoType.COMPARE && !bdev.nativeCompare) {
            startSplit(io); // emulated: read into a bounce buffer, then compare
            return;
        }
        if (t == IoType.READ || t == IoType.WRITE) {
            Qos q = bdev.qos;
            if (q != null && !io.qosAdmitted) {
                if (!qosQueue.isEmpty() || !q.tryAdmit(qosCredit, t, io.numBlocks * bdev.blockSize)) {
                    queueForQos(io); // waits for the next 1 ms timeslice
                    return;
                }
                io.qosAdmitted = true;
            }
            if (bdev.requiredAlignment > 1 && misaligned(io, bdev.requiredAlignment)) {
                io.bounceMode = true;
                startSplit(io);
                return;
            }
            if (needsSplit(io.offsetBlocks, io.numBlocks)) {
                startSplit(io);
                return;
            }
        }
        dispatch(io);
    }

    private static boolean misaligned(BdevIo io, int align) {
        long mask = align - 1;
        for (int i = 0; i < io.iovCnt; i++) {
            if ((io.iovAddr[i] & mask) != 0 || (io.iovLen[i] & mask) != 0) {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------------ QoS (SPDK 3.6)

    private final ArrayDeque<BdevIo> qosQueue = new ArrayDeque<>(64);
    /** This channel's share of the current QoS slice (see {@link Qos}): charged here, on this reactor, per I/O. */
    private final Qos.Credit qosCredit = new Qos.Credit();
    /** Submits what waits for QoS once a new slice began, on this reactor; registered with the first I/O that waits. */
    private io.spindle.runtime.Poller qosPoller;
    /** The slice whose budget the queue head was last tried against (-1: QoS off). */
    private long qosTriedEpoch = Long.MIN_VALUE;

    private void queueForQos(BdevIo io) {
        qosQueue.add(io);
        if (qosPoller == null) {
            // each channel watches for a new slice itself: the owner's refill sends nothing to the channels
            qosPoller = reactor.registerPoller("bdev_qos_drain_" + bdev.name(), this::pollQos);
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
     * On this reactor, every slice (its poller) and when the limits change (the bdev actor's walk): submits what the
     * budget now admits, everything when QoS was turned off. Returns how many it submitted.
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

    private boolean needsSplit(long offset, long n) {
        long b = bdev.optimalIoBoundary;
        if (b > 0 && offset / b != (offset + n - 1) / b) {
            return true;
        }
        return bdev.maxRwSize > 0 && n > bdev.maxRwSize;
    }

    /** Hands {@code io} to the module. */
    void dispatch(BdevIo io) {
        BdevSharedResource r = shared;
        if (!r.nomemQueue.isEmpty()) {
            r.nomemQueue.addLast(io); // keep order behind I/O waiting on module resources; not outstanding yet
            return;
        }
        ioOutstanding++;
        r.ioOutstanding++;
        submitToModule(io);
    }

    /** A NOMEM retry from the shared resource: to the module again, outstanding again. */
    void resubmitToModule(BdevIo io) {
        ioOutstanding++;
        shared.ioOutstanding++;
        submitToModule(io);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void submitToModule(BdevIo io) {
        mgmt.submitDepth++;
        try {
            ((io.spindle.bdev.spi.BdevDriver) bdev.driver).submit(io, moduleChannel);
        } catch (Throwable e) {
            BdevLayer.LOG.error("bdev={}: module submit threw for {}; completing FAILED", bdev.name(), io, e);
            if (!io.completed) {
                onModuleComplete(io, IoStatus.FAILED);
            }
        } finally {
            mgmt.submitDepth--;
        }
    }

    // ------------------------------------------------------------------ completion

    void onModuleComplete(BdevIo io, IoStatus st) {
        ioOutstanding--;
        BdevSharedResource r = shared;
        r.ioOutstanding--;
        if (st == IoStatus.NOMEM) {
            io.completed = false;
            r.onNomem(io); // requeued at the head of the shared queue
            return;
        }
        io.completed = true;
        io.status = st;
        if (mgmt.submitDepth > 0) {
            mgmt.defer(io);
        } else {
            finish(io);
        }
        r.afterCompletion();
    }

    /** Runs the caller's completion and returns the I/O to the pool; child I/O report to their parent. */
    void finish(BdevIo io) {
        if (io.resetStage == 1) {
            unfreezeAndComplete(io);
            return;
        }
        if (io.abortedInLayer > 0 && io.status == IoStatus.FAILED) {
            io.status = IoStatus.SUCCESS; // an ABORT: the module found nothing more, but the layer aborted some
        }
        BdevMgmt m = mgmt;
        long now = m.stampValid ? m.stampNanos : System.nanoTime(); // a nested or batched completion shares the clock read
        long lat = now - io.submitNanos;
        if (!io.hasChildren) {
            // SPDK's bdev_io_update_io_stat: every I/O that went to the module (a split's or an emulation's children
            // included, each as the type it went as) counts; a parent's figures are its children's
            stats.record(io.type, io.status, io.numBlocks * bdev.blockSize, lat);
            if (destroyed) {
                bdev.mergeStats(stats); // completed after the channel's stats were merged: merge on its own
                stats.reset(IoStats.ResetMode.ALL);
            }
        }
        BdevIo parent = io.parent;
        if (parent != null) {
            if (parent.type == IoType.COMPARE_AND_WRITE) {
                compareAndWriteChildDone(parent, io);
            } else {
                childDone(parent, io);
            }
            return;
        }
        if (io.wListed) {
            unlistWrite(io); // a compare_and_write waiting for this write may take its lock now
        }
        io.latencyNanos = lat;
        if (bdev.histogramEnabled) {
            recordHistogram(lat);
        }
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

    // ------------------------------------------------------------------ reset (SPDK spdk_bdev_reset)

    /** How often a reset with a drain timeout looks again for outstanding I/O (SPDK looks every second). */
    static final long RESET_DRAIN_CHECK_MILLIS = 10;

    /** The reset of this channel waiting for outstanding I/O to drain, and the timer that looks again; or null. */
    private BdevIo resetDraining;
    private Poller resetDrainTimer;

    /**
     * A reset, as SPDK's {@code bdev_start_reset}: (1) freeze every channel of the bdev with a walk originated on
     * this reactor, aborting what the layer queues there (I/O submitted to a frozen channel completes ABORTED);
     * (2) when the bdev has a {@link Bdev#resetIoDrainTimeout() reset_io_drain_timeout}, wait until no channel has
     * I/O at the module, looking every {@link #RESET_DRAIN_CHECK_MILLIS} ms: if they drain in time the module is
     * not reset at all, else it is reset when the timeout expires; with 0 the module is reset at once, as SPDK
     * does; (3) the module's RESET; (4) unfreeze every channel; (5) the caller's completion. A reset submitted
     * while another is in progress waits for it. The walks' visitors are shared and stateless: the reset I/O is
     * the walk's context, so a reset allocates no visitor.
     */
    private void startReset(BdevIo reset) {
        if (!bdev.beginReset(reset)) {
            return; // queued behind the reset in progress; started by its end
        }
        runReset(reset);
    }

    private void runReset(BdevIo reset) {
        mgmt.fanOuts.forEachChannel(bdev.ioDevice, reset, RESET_FREEZE);
    }

    private static final FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> RESET_FREEZE = new FanOuts.ChannelVisitor<>() {
        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            BdevChannel c = hop.context();
            c.frozen = true;
            c.abortQueued();
            hop.continueWalk(Errno.OK);
        }

        @Override
        public void complete(BdevIo reset, int status) {
            reset.channel.afterResetFreeze(reset);
        }
    };

    /** Every channel is frozen: drain first (a drain timeout is set), or reset the module now. */
    private void afterResetFreeze(BdevIo reset) {
        int timeout = bdev.resetIoDrainTimeout;
        if (timeout == 0 || destroyed) {
            submitResetToModule(reset);
            return;
        }
        reset.resetDrainDeadline = reactor.now() + TimeUnit.SECONDS.toNanos(timeout);
        mgmt.fanOuts.forEachChannel(bdev.ioDevice, reset, RESET_CHECK_OUTSTANDING);
    }

    /** SPDK's {@code bdev_reset_check_outstanding_io}: the first channel with I/O at the module ends the walk with EBUSY. */
    private static final FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> RESET_CHECK_OUTSTANDING = new FanOuts.ChannelVisitor<>() {
        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            hop.continueWalk(hop.context().ioOutstanding > 0 ? Errno.EBUSY : Errno.OK);
        }

        @Override
        public void complete(BdevIo reset, int status) {
            reset.channel.afterResetDrainCheck(reset, status);
        }
    };

    private void afterResetDrainCheck(BdevIo reset, int status) {
        if (status == Errno.OK) {
            // drained within the timeout: SPDK skips the module reset and completes the reset SUCCESS
            reset.completed = true;
            reset.status = IoStatus.SUCCESS;
            unfreezeAndComplete(reset);
        } else if (status == Errno.EBUSY && reactor.now() - reset.resetDrainDeadline < 0 && !destroyed) {
            resetDraining = reset;
            resetDrainTimer = reactor.registerPoller("bdev_reset_drain_" + bdev.name(), this::onResetDrainTimer,
                    RESET_DRAIN_CHECK_MILLIS, TimeUnit.MILLISECONDS);
        } else {
            submitResetToModule(reset); // the timeout passed with I/O still out (or a reactor is gone): reset the device
        }
    }

    private int onResetDrainTimer() {
        resetDrainTimer.unregister();
        resetDrainTimer = null;
        BdevIo reset = resetDraining;
        resetDraining = null;
        mgmt.fanOuts.forEachChannel(bdev.ioDevice, reset, RESET_CHECK_OUTSTANDING);
        return 1;
    }

    private void submitResetToModule(BdevIo reset) {
        if (destroyed) {
            // this channel's module channel is gone: nothing to reset through; end the reset, unfreeze the others
            reset.completed = true;
            reset.status = IoStatus.ABORTED;
            unfreezeAndComplete(reset);
            return;
        }
        reset.type = IoType.RESET;
        ioOutstanding++;
        shared.ioOutstanding++;
        // the module's RESET completion lands in onModuleComplete -> finish -> unfreezeAndComplete
        reset.resetStage = 1;
        submitToModule(reset);
    }

    /** The reset is done (by the module, or drained without it): unfreeze every channel, then complete to the caller. */
    private void unfreezeAndComplete(BdevIo reset) {
        reset.resetStage = 2;
        mgmt.fanOuts.forEachChannel(bdev.ioDevice, reset, RESET_UNFREEZE);
    }

    private static final FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> RESET_UNFREEZE = new FanOuts.ChannelVisitor<>() {
        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            hop.context().frozen = false;
            hop.continueWalk(Errno.OK);
        }

        @Override
        public void complete(BdevIo reset, int status) {
            BdevChannel ch = reset.channel;
            BdevIo next = ch.bdev.endReset();
            io.spindle.runtime.IoChannel<BdevChannel> ref = reset.resetChannelRef;
            ch.finish(reset);
            if (ref != null) {
                ref.put(); // after the callback: the channel may be destroyed now (a message on this reactor)
            }
            if (next != null) {
                next.channel.reactor.send(() -> next.channel.runReset(next));
            }
        }
    };

    // ------------------------------------------------------------------ compare_and_write (LBA range lock)

    /** Caller writes that wait for a range locked by a compare_and_write, and compare_and_writes that wait for one. */
    private final ArrayDeque<BdevIo> lockWaiters = new ArrayDeque<>();
    /** Caller writes in flight on this channel (admitted past the lock check, not yet completed); intrusive. */
    private BdevIo writesHead;
    /** Lock walks waiting here for overlapping writes to finish: the hop and the lock's owner, index by index. */
    private final java.util.ArrayList<FanOuts.ChannelHop<BdevChannel, Object>> lockHops = new java.util.ArrayList<>();
    private final java.util.ArrayList<CompareAndWriteLock> lockHopOwners = new java.util.ArrayList<>();
    /** compare_and_writes of this channel that hold their lock and have not issued their write (an abort can end them). */
    private final java.util.ArrayList<BdevIo> compareAndWrites = new java.util.ArrayList<>();

    private void listWrite(BdevIo io) {
        io.wListed = true;
        io.wPrev = null;
        io.wNext = writesHead;
        if (writesHead != null) {
            writesHead.wPrev = io;
        }
        writesHead = io;
    }

    private void unlistWrite(BdevIo io) {
        io.wListed = false;
        if (io.wPrev != null) {
            io.wPrev.wNext = io.wNext;
        } else {
            writesHead = io.wNext;
        }
        if (io.wNext != null) {
            io.wNext.wPrev = io.wPrev;
        }
        io.wPrev = null;
        io.wNext = null;
        for (int i = lockHops.size() - 1; i >= 0; i--) {
            CompareAndWriteLock lock = lockHopOwners.get(i);
            if (!writesOverlap(lock.offsetBlocks, lock.numBlocks)) {
                lockHopOwners.remove(i);
                lockHops.remove(i).continueWalk(Errno.OK);
            }
        }
    }

    private boolean writesOverlap(long offsetBlocks, long numBlocks) {
        for (BdevIo w = writesHead; w != null; w = w.wNext) {
            if (w.offsetBlocks < offsetBlocks + numBlocks && offsetBlocks < w.offsetBlocks + w.numBlocks) {
                return true;
            }
        }
        return false;
    }

    /**
     * The lock walk of one compare_and_write: on each channel, continue at once, or once the last overlapping
     * caller write in flight there completes. Its visit needs the locked range, never the I/O itself (the walk's
     * context, owned by the originating reactor): the range is copied here before the walk starts and read by the
     * hops through the walk's messages, and stays unchanged until the walk completed. Each pooled I/O makes one the
     * first time it runs a compare_and_write and reuses it after (no allocation per I/O).
     */
    static final class CompareAndWriteLock implements FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> {
        long offsetBlocks;
        long numBlocks;

        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            BdevChannel c = hop.context();
            if (c.writesOverlap(offsetBlocks, numBlocks)) {
                c.lockHops.add(hop); // continued when the last overlapping write completes
                c.lockHopOwners.add(this);
            } else {
                hop.continueWalk(Errno.OK);
            }
        }

        @Override
        public void complete(BdevIo io, int status) {
            io.cawStage = 1;
            io.channel.compareAndWriteIssue(io);
        }
    }

    /** The unlock walk: every channel resubmits the writes (and compare_and_writes) that waited for a lock. */
    private static final FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> COMPARE_AND_WRITE_UNLOCK = new FanOuts.ChannelVisitor<>() {
        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            hop.context().releaseLockWaiters();
            hop.continueWalk(Errno.OK);
        }

        @Override
        public void complete(BdevIo io, int status) {
            io.channel.finish(io);
        }
    };

    /**
     * SPDK's emulated compare-and-write ({@code spdk_bdev_comparev_and_writev_blocks} without native support):
     * lock the range on the bdev (it waits behind an overlapping compare_and_write; new overlapping caller writes on
     * every channel wait behind it), wait until no overlapping caller write is in flight on any channel, read the
     * range into a bounce buffer, compare with the caller's compare buffer, write the caller's write buffer if
     * equal, unlock (waiting writes go), complete: MISCOMPARE when the data differs, the read's or the write's
     * status when one fails. The read and the write are child I/O submitted as a caller's read and write are, so
     * they are charged to QoS, split at {@code max_rw_size} and the optimal boundary, and the write is bounced
     * when the caller's buffer is misaligned; like any child they are counted in the stats and carry the
     * caller's argument, so an abort finds them.
     */
    private void startCompareAndWrite(BdevIo io) {
        if (!bdev.tryLockRange(io)) {
            lockWaiters.add(io); // an overlapping compare_and_write holds the range: resubmitted when it unlocks
            return;
        }
        io.cawStage = 0;
        io.splitStatus = IoStatus.SUCCESS; // an abort sets ABORTED: the next step then ends it
        compareAndWrites.add(io);
        CompareAndWriteLock walk = io.cawLock;
        if (walk == null) {
            walk = new CompareAndWriteLock(); // once per pooled I/O
            io.cawLock = walk;
        }
        walk.offsetBlocks = io.offsetBlocks;
        walk.numBlocks = io.numBlocks;
        mgmt.fanOuts.forEachChannel(bdev.ioDevice, io, walk);
    }

    /** Issues the next child: the read (stage 1) or the write (stage 2); waits when no pooled I/O or bounce buffer is free. */
    void compareAndWriteIssue(BdevIo io) {
        if (io.splitStatus != IoStatus.SUCCESS) {
            compareAndWriteEnd(io, io.splitStatus); // aborted while it locked or waited
            return;
        }
        boolean read = io.cawStage == 1;
        if (read && io.bounce == null) {
            DmaBuffer b = mgmt.takeBounce();
            if (b == null) {
                mgmt.waitForSplit(io);
                return;
            }
            io.bounce = b;
        }
        BdevIo child = mgmt.alloc();
        if (child == null) {
            mgmt.waitForSplit(io);
            return;
        }
        if (!read) {
            compareAndWrites.remove(io); // from here the write is at the module's or the layer's queues, as any child
        }
        child.init(read ? IoType.READ : IoType.WRITE, this, io.offsetBlocks, io.numBlocks, null, io.cbArg);
        child.parent = io;
        child.addIov(read ? io.bounce.address() : io.cawWriteAddr, io.numBlocks * bdev.blockSize);
        io.childrenOutstanding = 1;
        io.hasChildren = true;
        submit(child);
    }

    private void compareAndWriteChildDone(BdevIo io, BdevIo child) {
        IoStatus st = child.status;
        io.childrenOutstanding = 0;
        mgmt.release(child);
        if (io.cawStage == 1 && st == IoStatus.SUCCESS) {
            boolean equal = sameBytes(io.cawCmpAddr, io.bounce.address(), io.numBlocks * bdev.blockSize);
            mgmt.releaseBounce(io.bounce);
            io.bounce = null;
            if (!equal) {
                compareAndWriteEnd(io, IoStatus.MISCOMPARE);
                return;
            }
            io.cawStage = 2;
            compareAndWriteIssue(io); // ends it ABORTED instead when an abort came during the read
            return;
        }
        compareAndWriteEnd(io, st); // the write's status, or the read's failure
    }

    /** Unlock, let waiting writes go on every channel, then complete the compare_and_write with {@code st}. */
    void compareAndWriteEnd(BdevIo io, IoStatus st) {
        io.cawStage = 3;
        io.completed = true;
        io.status = st;
        compareAndWrites.remove(io);
        if (io.bounce != null) {
            mgmt.releaseBounce(io.bounce);
            io.bounce = null;
        }
        bdev.unlockRange(io);
        mgmt.fanOuts.forEachChannel(bdev.ioDevice, io, COMPARE_AND_WRITE_UNLOCK);
    }

    private static boolean sameBytes(long a, long b, long len) {
        net.openhft.chronicle.core.UnsafeMemory mem = net.openhft.chronicle.core.UnsafeMemory.MEMORY;
        long i = 0;
        for (; i + 8 <= len; i += 8) {
            if (mem.readLong(a + i) != mem.readLong(b + i)) {
                return false;
            }
        }
        for (; i < len; i++) {
            if (mem.readByte(a + i) != mem.readByte(b + i)) {
                return false;
            }
        }
        return true;
    }

    private void releaseLockWaiters() {
        int n = lockWaiters.size();
        for (int i = 0; i < n; i++) {
            submit(lockWaiters.poll()); // re-checked: still-locked ranges queue again
        }
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
    private void abortIo(BdevIo abort) {
        Object target = abort.abortTarget;
        int n = abortIn(lockWaiters, target) + abortIn(qosQueue, target) + abortIn(shared.nomemQueue, target)
                + mgmt.abortSplitWaiters(this, target);
        for (int i = 0; i < compareAndWrites.size(); i++) {
            BdevIo caw = compareAndWrites.get(i);
            if (caw.cbArg == target && caw.splitStatus == IoStatus.SUCCESS) {
                caw.splitStatus = IoStatus.ABORTED; // its lock walk or read ends, then it unlocks instead of writing
                n++;
            }
        }
        if (n > 0 && !bdev.nativeIoTypes().contains(IoType.ABORT)) {
            abort.completed = true;
            abort.status = IoStatus.SUCCESS;
            mgmt.defer(abort);
            return;
        }
        abort.abortedInLayer = n; // the module may find nothing more: the abort still succeeded
        dispatch(abort);
    }

    private int abortIn(ArrayDeque<BdevIo> queue, Object target) {
        int n = 0;
        for (java.util.Iterator<BdevIo> it = queue.iterator(); it.hasNext(); ) {
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

    /** Whether an I/O with this argument waits in this channel's layer queues (an abort can end it here). */
    boolean hasQueued(Object target) {
        if (contains(lockWaiters, target) || contains(qosQueue, target) || contains(shared.nomemQueue, target)
                || mgmt.hasSplitWaiter(this, target)) {
            return true;
        }
        for (int i = 0; i < compareAndWrites.size(); i++) {
            if (compareAndWrites.get(i).cbArg == target) {
                return true;
            }
        }
        return false;
    }

    private boolean contains(ArrayDeque<BdevIo> queue, Object target) {
        for (BdevIo q : queue) {
            if (q.cbArg == target && q.channel == this) {
                return true;
            }
        }
        return false;
    }

    /** Aborts I/O queued for module resources (unregister, reset). */
    int abortQueued() {
        int n = 0;
        while (!lockWaiters.isEmpty()) {
            BdevIo io = lockWaiters.pollFirst();
            io.completed = true;
            io.status = IoStatus.ABORTED;
            mgmt.defer(io);
            n++;
        }
        while (!qosQueue.isEmpty()) {
            BdevIo io = qosQueue.pollFirst();
            io.completed = true;
            io.status = IoStatus.ABORTED;
            mgmt.defer(io);
            n++;
        }
        for (java.util.Iterator<BdevIo> it = shared.nomemQueue.iterator(); it.hasNext(); ) {
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

    // ------------------------------------------------------------------ split and emulation

    private void startSplit(BdevIo parent) {
        parent.splitNext = parent.offsetBlocks;
        parent.splitRemaining = parent.numBlocks;
        parent.splitIov = 0;
        parent.splitIovOff = 0;
        parent.childrenOutstanding = 0;
        parent.splitStatus = IoStatus.SUCCESS;
        continueSplit(parent);
    }

    /** Issues children until the range is covered or the pool runs dry (then resumes when an I/O frees). */
    void continueSplit(BdevIo parent) {
        if (parent.type == IoType.COMPARE_AND_WRITE) {
            compareAndWriteIssue(parent); // it waited for a pooled I/O or a bounce buffer
            return;
        }
        int bs = bdev.blockSize;
        long now = System.nanoTime(); // the children's submit time: each is timed and counted on its own, as SPDK's
        while (parent.splitRemaining > 0 && parent.splitStatus == IoStatus.SUCCESS) {
            long n = childBlocks(parent);
            BdevIo child = mgmt.alloc();
            if (child == null) {
                mgmt.waitForSplit(parent);
                return;
            }
            child.init(parent.type, this, parent.splitNext, n, null, parent.cbArg); // the argument an abort matches
            child.parent = parent;
            child.submitNanos = now;
            switch (parent.type) {
                case WRITE_ZEROES -> {
                    child.type = IoType.WRITE;
                    child.addIov(mgmt.zeroes().address(), n * bs);
                }
                case COMPARE -> {
                    DmaBuffer b = mgmt.takeBounce();
                    if (b == null) {
                        mgmt.release(child);
                        mgmt.waitForSplit(parent);
                        return;
                    }
                    child.type = IoType.READ;
                    child.bounce = b;
                    child.addIov(b.address(), n * bs);
                    child.splitIov = parent.splitIov;
                    child.splitIovOff = parent.splitIovOff;
                    advanceIov(parent, n * bs);
                }
                default -> {
                    if (parent.bounceMode) {
                        DmaBuffer b = mgmt.takeBounce();
                        if (b == null) {
                            mgmt.release(child);
                            mgmt.waitForSplit(parent);
                            return;
                        }
                        child.bounce = b;
                        child.addIov(b.address(), n * bs);
                        child.splitIov = parent.splitIov;
                        child.splitIovOff = parent.splitIovOff;
                        if (parent.type == IoType.WRITE) {
                            copyBetween(parent, child.splitIov, child.splitIovOff, b.address(), n * bs, true);
                        }
                        advanceIov(parent, n * bs);
                        break;
                    }
                    if (!copyIovs(parent, child, n * bs)) {
                        mgmt.release(child);
                        parent.splitStatus = IoStatus.FAILED;
                        break;
                    }
                }
            }
            if (parent.splitStatus != IoStatus.SUCCESS) {
                break;
            }
            parent.splitNext += n;
            parent.splitRemaining -= n;
            parent.childrenOutstanding++;
            parent.hasChildren = true;
            if (child.type == IoType.READ || child.type == IoType.WRITE) {
                if (needsSplit(child.offsetBlocks, child.numBlocks) && parent.type != IoType.READ && parent.type != IoType.WRITE) {
                    // emulation children already respect the limits by construction (see childBlocks)
                    BdevLayer.LOG.debug("child beyond limits {}", child);
                }
            }
            if (parent.type == IoType.WRITE_ZEROES || parent.type == IoType.COMPARE) {
                dispatchEmulated(child);
            } else {
                dispatch(child); // a read's or write's slice: QoS charged the parent as a whole
            }
        }
        if (parent.childrenOutstanding == 0 && (parent.splitRemaining == 0 || parent.splitStatus != IoStatus.SUCCESS)) {
            completeParent(parent);
        }
    }

    /**
     * An emulation's child (a write of zeroes, a read to compare) is a read or write the module does: it is charged to
     * QoS as one, waiting in the QoS queue (in order, behind what waits there) when the slice's budget is spent.
     */
    private void dispatchEmulated(BdevIo child) {
        Qos q = bdev.qos;
        if (q != null && (!qosQueue.isEmpty() || !q.tryAdmit(qosCredit, child.type, child.numBlocks * bdev.blockSize))) {
            queueForQos(child); // drainQos submits it (admitted) through submit, which dispatches a child as is
            return;
        }
        child.qosAdmitted = true;
        dispatch(child);
    }

    private long childBlocks(BdevIo parent) {
        long n = parent.splitRemaining;
        long b = bdev.optimalIoBoundary;
        if (b > 0) {
            n = Math.min(n, b - parent.splitNext % b);
        }
        if (bdev.maxRwSize > 0) {
            n = Math.min(n, bdev.maxRwSize);
        }
        if (parent.type == IoType.WRITE_ZEROES || parent.type == IoType.COMPARE || parent.bounceMode) {
            n = Math.min(n, BdevMgmt.BOUNCE_SIZE / bdev.blockSize);
        }
        return Math.max(1, n);
    }

    /** Copies the next {@code bytes} of the parent's vector into the child's. */
    private static boolean copyIovs(BdevIo parent, BdevIo child, long bytes) {
        while (bytes > 0) {
            if (child.iovCnt == BdevIo.MAX_IOV || parent.splitIov >= parent.iovCnt) {
                return false;
            }
            long avail = parent.iovLen[parent.splitIov] - parent.splitIovOff;
            long take = Math.min(avail, bytes);
            child.addIov(parent.iovAddr[parent.splitIov] + parent.splitIovOff, take);
            bytes -= take;
            advanceIov(parent, take);
        }
        return true;
    }

    private static void advanceIov(BdevIo parent, long bytes) {
        while (bytes > 0 && parent.splitIov < parent.iovCnt) {
            long avail = parent.iovLen[parent.splitIov] - parent.splitIovOff;
            long take = Math.min(avail, bytes);
            parent.splitIovOff += take;
            bytes -= take;
            if (parent.splitIovOff == parent.iovLen[parent.splitIov]) {
                parent.splitIov++;
                parent.splitIovOff = 0;
            }
        }
    }

    private void childDone(BdevIo parent, BdevIo child) {
        IoStatus st = child.status;
        if (st == IoStatus.SUCCESS && parent.bounceMode && parent.type == IoType.READ) {
            copyBetween(parent, child.splitIov, child.splitIovOff, child.bounce.address(), child.numBlocks * bdev.blockSize, false);
        }
        if (st == IoStatus.SUCCESS && parent.type == IoType.COMPARE && !compareEqual(parent, child)) {
            st = IoStatus.MISCOMPARE;
        }
        if (st != IoStatus.SUCCESS && parent.splitStatus == IoStatus.SUCCESS) {
            parent.splitStatus = st;
        }
        parent.childrenOutstanding--;
        mgmt.release(child);
        if (parent.childrenOutstanding == 0 && (parent.splitRemaining == 0 || parent.splitStatus != IoStatus.SUCCESS)) {
            completeParent(parent);
        }
    }

    /** Compares the child's bounce buffer with the parent's caller buffers at the child's vector position. */
    private static boolean compareEqual(BdevIo parent, BdevIo child) {
        long remaining = child.numBlocks * child.bdev.blockSize;
        long src = child.bounce.address();
        int iov = child.splitIov;
        long off = child.splitIovOff;
        net.openhft.chronicle.core.UnsafeMemory mem = net.openhft.chronicle.core.UnsafeMemory.MEMORY;
        while (remaining > 0) {
            long take = Math.min(parent.iovLen[iov] - off, remaining);
            long a = parent.iovAddr[iov] + off;
            long i = 0;
            for (; i + 8 <= take; i += 8) {
                if (mem.readLong(a + i) != mem.readLong(src + i)) {
                    return false;
                }
            }
            for (; i < take; i++) {
                if (mem.readByte(a + i) != mem.readByte(src + i)) {
                    return false;
                }
            }
            src += take;
            remaining -= take;
            off += take;
            if (off == parent.iovLen[iov]) {
                iov++;
                off = 0;
            }
        }
        return true;
    }

    /** Copies {@code len} bytes between the parent's vector (from position iov/off) and {@code flat}. */
    private static void copyBetween(BdevIo parent, int iov, long off, long flat, long len, boolean toFlat) {
        net.openhft.chronicle.core.UnsafeMemory mem = net.openhft.chronicle.core.UnsafeMemory.MEMORY;
        while (len > 0) {
            long take = Math.min(parent.iovLen[iov] - off, len);
            long a = parent.iovAddr[iov] + off;
            if (toFlat) {
                mem.copyMemory(a, flat, take);
            } else {
                mem.copyMemory(flat, a, take);
            }
            flat += take;
            len -= take;
            off += take;
            if (off == parent.iovLen[iov]) {
                iov++;
                off = 0;
            }
        }
    }

    private void completeParent(BdevIo parent) {
        parent.completed = true;
        parent.status = parent.splitStatus;
        if (mgmt.submitDepth > 0) {
            mgmt.defer(parent);
        } else {
            finish(parent);
        }
    }

    org.HdrHistogram.Histogram histogram;

    private void recordHistogram(long latencyNanos) {
        org.HdrHistogram.Histogram h = histogram;
        if (h == null) {
            h = new org.HdrHistogram.Histogram(java.util.concurrent.TimeUnit.SECONDS.toNanos(60), 3); // once per channel
            histogram = h;
        }
        h.recordValue(Math.min(latencyNanos, h.getHighestTrackableValue()));
    }

    /**
     * On channel destroy (on the channel's reactor, after the module channel was destroyed): the channel refuses
     * new I/O (ABORTED, as a frozen one does), I/O still queued in the layer (range lock, QoS, module NOMEM)
     * completes ABORTED, as in SPDK's {@code bdev_channel_destroy}, and every completion deferred so far on this
     * reactor runs now, so that they count in the stats merged into the bdev here. Every accepted I/O still
     * completes exactly once.
     */
    void destroy() {
        destroyed = true;
        if (qosPoller != null) {
            qosPoller.unregister();
            qosPoller = null;
        }
        if (resetDraining != null) {
            // this channel's reset waits for I/O to drain, and its module channel is gone: end the reset ABORTED
            // (the other channels are unfrozen by the walk that completes it)
            resetDrainTimer.unregister();
            resetDrainTimer = null;
            BdevIo r = resetDraining;
            resetDraining = null;
            r.completed = true;
            r.status = IoStatus.ABORTED;
            unfreezeAndComplete(r);
        }
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
