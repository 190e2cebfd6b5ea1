package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.ModuleIo;

/**
 * One I/O: SPDK's {@code spdk_bdev_io}. Preallocated in a per-reactor pool and reused, so the data path
 * allocates nothing.
 *
 * <p><b>Ownership and thread:</b> it belongs to the bdev layer of its reactor. The submitter sees it only in
 * its {@link IoCallback} and must not keep it after that returns; the module sees it as a {@link ModuleIo}
 * between submit and {@link #complete}.
 */
public final class BdevIo implements ModuleIo {
    /** Most data segments one I/O carries; longer vectors are refused with EINVAL. */
    public static final int MAX_IOV = 32;

    final BdevMgmt home;
    final Object[] moduleContexts;
    /**
     * The first segment, inline: most I/O carry one, and keeping it in this object's own lines saves the two array
     * lines a cache-cold I/O would otherwise miss on (the per-I/O metadata competes with the data copies for cache).
     */
    long iov0Addr;
    long iov0Len;
    /** Segments 1 and up (index 0 unused: the first is {@link #iov0Addr}/{@link #iov0Len}). */
    final long[] iovAddr = new long[MAX_IOV];
    final long[] iovLen = new long[MAX_IOV];
    int iovCnt;
    IoType type;
    Bdev bdev;
    BdevChannel channel;
    long offsetBlocks;
    long numBlocks;
    IoCallback cb;
    Object cbArg;
    IoStatus status = IoStatus.PENDING;
    long submitNanos;
    long latencyNanos;
    boolean inUse;
    boolean completed;

    // ---- split / emulation state (parent side) ----
    BdevIo parent;
    long splitNext;
    long splitRemaining;
    int splitIov;
    long splitIovOff;
    int childrenOutstanding;
    IoStatus splitStatus;
    /** Bounce buffer for emulated compare (from the reactor's cache). */
    DmaBuffer bounce;
    /** For ABORT: the callback argument of the I/O to abort. */
    Object abortTarget;
    /** For ABORT sent on to the module: how many I/O the layer aborted itself (then the abort succeeded). */
    int abortedInLayer;
    /** For RESET: 0 freezing, 1 at the module, 2 unfreezing. */
    int resetStage;
    /** For RESET with a drain timeout: the reactor-clock time at which it stops waiting and resets the module. */
    long resetDrainDeadline;
    /**
     * A reset's own reference on the channel it was submitted on (SPDK's {@code u.reset.ch_ref}): taken at submit,
     * put once the caller's callback ran, so the channel outlives the reset even when its holder puts it meanwhile.
     */
    io.spindle.runtime.IoChannel<BdevChannel> resetChannelRef;
    /** The caller's buffers are misaligned for the bdev: children run on bounce buffers. */
    boolean bounceMode;
    /** Issued a child (split, emulation): its children are counted in the stats, it is not. */
    boolean hasChildren;
    /** Admitted by QoS (a parent is charged once, its children never). */
    boolean qosAdmitted;
    /** compare_and_write: 0 locking, 1 reading, 2 writing, 3 unlocking. */
    int cawStage;
    /** compare_and_write: this pooled I/O's lock walk, made the first time it runs one, then reused. */
    CompareAndWriteLocks.LockWalk cawLock;
    /** compare_and_write: the compare and the write buffers. */
    long cawCmpAddr;
    long cawWriteAddr;
    /** Where this write sits in its channel's set of caller writes in flight (range locks: {@link CompareAndWriteLocks}). */
    int wSlot;
    boolean wListed;

    /**
     * A pooled I/O of {@code home}'s reactor, built with the pool (the reactor's first bdev channel), on that
     * reactor. Each module's per-I/O context is created here, once, from {@link io.spindle.bdev.spi.BdevModule#newIoContext()}
     * (SPDK's {@code get_ctx_size} space appended to every {@code spdk_bdev_io}), so the I/O path never allocates one.
     *
     * @throws IllegalStateException when a module's {@code newIoContext} throws (the pool, hence the channel, is not built)
     */
    BdevIo(BdevMgmt home, int moduleSlots) {
        this.home = home;
        this.moduleContexts = new Object[moduleSlots];
        java.util.List<io.spindle.bdev.spi.BdevModule> mods = home.layer.modules();
        for (int i = 0; i < mods.size(); i++) {
            try {
                moduleContexts[i] = mods.get(i).newIoContext();
            } catch (RuntimeException e) {
                throw new IllegalStateException("bdev module=" + mods.get(i).name() + ": newIoContext threw while building the I/O pool of "
                        + home.reactor.name(), e);
            }
        }
    }

    void reset() {
        iovCnt = 0;
        type = null;
        bdev = null;
        channel = null;
        cb = null;
        cbArg = null;
        status = IoStatus.PENDING;
        completed = false;
        parent = null;
        abortTarget = null;
        abortedInLayer = 0;
        resetStage = 0;
        resetChannelRef = null;
        bounceMode = false;
        qosAdmitted = false;
        hasChildren = false;
        cawStage = 0;
        childrenOutstanding = 0;
        splitStatus = null;
        inUse = false;
        if (bounce != null) {
            home.releaseBounce(bounce);
            bounce = null;
        }
    }

    void init(IoType t, BdevChannel ch, long offset, long blocks, IoCallback callback, Object arg) {
        this.type = t;
        this.bdev = ch.bdev;
        this.channel = ch;
        this.offsetBlocks = offset;
        this.numBlocks = blocks;
        this.cb = callback;
        this.cbArg = arg;
        this.status = IoStatus.PENDING;
        this.completed = false;
        this.iovCnt = 0;
    }

    void addIov(long address, long length) {
        int c = iovCnt;
        if (c == 0) {
            iov0Addr = address;
            iov0Len = length;
        } else {
            iovAddr[c] = address;
            iovLen[c] = length;
        }
        iovCnt = c + 1;
    }

    // ------------------------------------------------------------------ consumer view

    /** The type the caller submitted. */
    @Override
    public IoType type() {
        return type;
    }

    /**
     * For an ABORT I/O (module side): the callback argument that identifies the I/O to abort, as the
     * submitter gave it to {@link BdevDescriptor#abort}.
     */
    @Override
    public Object abortTarget() {
        return abortTarget;
    }

    @Override
    public boolean isAbortedBy(Object target) {
        return target != null && cbArg == target;
    }

    /** The status (meaningful in the completion callback). */
    public IoStatus status() {
        return status;
    }

    /**
     * Nanoseconds from submit to completion, as the layer measured it for its stats; valid inside the
     * completion callback (SPDK's {@code spdk_bdev_io_get_submit_tsc} subtracted from now), so callers that
     * keep their own latency figures need no clock read of their own.
     */
    public long latencyNanos() {
        return latencyNanos;
    }

    @Override
    public Bdev bdev() {
        return bdev;
    }

    @Override
    public long offsetBlocks() {
        return offsetBlocks;
    }

    @Override
    public long numBlocks() {
        return numBlocks;
    }

    // ------------------------------------------------------------------ module view

    @Override
    public int iovCount() {
        return iovCnt;
    }

    @Override
    public long iovAddress(int i) {
        return i == 0 ? iov0Addr : iovAddr[i];
    }

    @Override
    public long iovLength(int i) {
        return i == 0 ? iov0Len : iovLen[i];
    }

    /** The context preallocated for the bdev's module with this pooled I/O (null when it declares none). */
    @Override
    public Object moduleContext() {
        return moduleContexts[bdev.moduleSlot];
    }

    /**
     * Completes the I/O (module side). Exactly once; a second call is a bug and throws.
     *
     * @throws IllegalStateException on a second completion, a PENDING status, or off the I/O's reactor
     */
    @Override
    public void complete(IoStatus st) {
        if (completed) {
            throw new IllegalStateException("BdevIo completed twice: bdev=" + (bdev == null ? "?" : bdev.name()) + " type=" + type
                    + " offset_blocks=" + offsetBlocks);
        }
        if (st == IoStatus.PENDING || st == null) {
            throw new IllegalArgumentException("BdevIo.complete status=" + st + ": must be a final status");
        }
        home.reactor.assertCurrent("BdevIo.complete bdev=", bdev.name());
        channel.onModuleComplete(this, st);
    }

    @Override
    public String toString() {
        return "BdevIo[" + type + " " + (bdev == null ? "-" : bdev.name()) + " off=" + offsetBlocks + " n=" + numBlocks + "]";
    }
}
