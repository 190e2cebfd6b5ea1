package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;

import java.util.ArrayDeque;
import java.util.ArrayList;

/**
 * The LBA range locks of one {@link BdevChannel} and SPDK's emulated compare-and-write
 * ({@code spdk_bdev_comparev_and_writev_blocks} without native support), which is what takes them:
 * <ol>
 * <li>lock the range on the bdev ({@link Bdev#tryLockRange}): it waits behind an overlapping compare_and_write, and
 *     from then on new overlapping caller writes on every channel wait behind it;</li>
 * <li>wait until no overlapping caller write is in flight on any channel (a walk whose hop holds on every channel
 *     where one is, SPDK's {@code io_submitted} check in {@code bdev_lock_lba_range});</li>
 * <li>read the range into a bounce buffer, compare with the caller's compare buffer;</li>
 * <li>write the caller's write buffer if equal;</li>
 * <li>unlock (a walk: every channel resubmits the writes and compare_and_writes that waited), complete: MISCOMPARE
 *     when the data differs, the read's or the write's status when one fails.</li>
 * </ol>
 * The read and the write are child I/O submitted as a caller's read and write are, so they are charged to QoS, split
 * at {@code max_rw_size} and the optimal boundary, and the write is bounced when the caller's buffer is misaligned;
 * like any child they are counted in the stats and carry the caller's argument, so an abort finds them. The stage is
 * the I/O's {@code cawStage} (0 locking, 1 reading, 2 writing, 3 unlocking).
 *
 * <p>This channel's side of the locks is the set of caller writes in flight here (listed at submit by
 * {@link ChannelSubmit}, unlisted at their completion), the writes and compare_and_writes that wait for a range to
 * unlock, and the lock walks held here until the overlapping writes are done.
 *
 * <p>Threading and ownership: made by and owned by its {@link BdevChannel}; used only on the channel's reactor.
 * The lock walks' hops run on every channel's own reactor and touch only that channel's {@code CompareAndWriteLocks}.
 * The bdev's lock table is the bdev's (synchronized there).
 */
final class CompareAndWriteLocks {
    private final BdevChannel ch;
    /** Caller writes that wait for a range locked by a compare_and_write, and compare_and_writes that wait for one. */
    private final ArrayDeque<BdevIo> lockWaiters = new ArrayDeque<>();
    /**
     * Caller writes in flight on this channel (admitted past the lock check, not yet completed), at the slot each
     * holds ({@link BdevIo#wSlot}); null slots are free and listed in {@link #freeSlots}. An array owned by the
     * channel rather than a list through the I/O: listing and unlisting touch only these two arrays (hot in cache),
     * never a neighbouring I/O. Grows (allocates) only past its high-water mark; a lock scans {@code [0, used)}.
     */
    private BdevIo[] writes = new BdevIo[64];
    private int[] freeSlots = new int[64];
    private int freeCount;
    private int used;
    /** Lock walks waiting here for overlapping writes to finish: the hop and the lock's owner, index by index. */
    private final ArrayList<FanOuts.ChannelHop<BdevChannel, Object>> lockHops = new ArrayList<>();
    private final ArrayList<LockWalk> lockHopOwners = new ArrayList<>();
    /** compare_and_writes of this channel that hold their lock and have not issued their write (an abort can end them). */
    private final ArrayList<BdevIo> compareAndWrites = new ArrayList<>();

    CompareAndWriteLocks(BdevChannel ch) {
        this.ch = ch;
    }

    // ------------------------------------------------------------------ caller writes

    /** A caller write that found its range locked: it is submitted again when the range unlocks. */
    void waitForUnlock(BdevIo io) {
        lockWaiters.add(io);
    }

    /** A caller write in flight from now on: a lock taken from now on waits for it. */
    void listWrite(BdevIo io) {
        int i;
        if (freeCount > 0) {
            i = freeSlots[--freeCount];
        } else {
            if (used == writes.length) {
                writes = java.util.Arrays.copyOf(writes, used * 2); // past the high-water mark only
                freeSlots = java.util.Arrays.copyOf(freeSlots, used * 2);
            }
            i = used++;
        }
        writes[i] = io;
        io.wSlot = i;
        io.wListed = true;
    }

    /** A listed caller write completed: the lock walks waiting here for it continue when nothing overlaps any more. */
    void unlistWrite(BdevIo io) {
        io.wListed = false;
        int i = io.wSlot;
        writes[i] = null;
        freeSlots[freeCount++] = i;
        for (int k = lockHops.size() - 1; k >= 0; k--) {
            LockWalk lock = lockHopOwners.get(k);
            if (!writesOverlap(lock.offsetBlocks, lock.numBlocks)) {
                lockHopOwners.remove(k);
                lockHops.remove(k).continueWalk(Errno.OK);
            }
        }
    }

    private boolean writesOverlap(long offsetBlocks, long numBlocks) {
        BdevIo[] ws = writes;
        for (int i = 0, n = used; i < n; i++) {
            BdevIo w = ws[i];
            if (w != null && w.offsetBlocks < offsetBlocks + numBlocks && offsetBlocks < w.offsetBlocks + w.numBlocks) {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------------ compare_and_write

    /**
     * The lock walk of one compare_and_write: on each channel, continue at once, or once the last overlapping
     * caller write in flight there completes. Its visit needs the locked range, never the I/O itself (the walk's
     * context, owned by the originating reactor): the range is copied here before the walk starts and read by the
     * hops through the walk's messages, and stays unchanged until the walk completed. Each pooled I/O makes one the
     * first time it runs a compare_and_write and reuses it after (no allocation per I/O).
     */
    static final class LockWalk implements FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> {
        long offsetBlocks;
        long numBlocks;

        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            CompareAndWriteLocks l = hop.context().locks;
            if (l.writesOverlap(offsetBlocks, numBlocks)) {
                l.lockHops.add(hop); // continued when the last overlapping write completes
                l.lockHopOwners.add(this);
            } else {
                hop.continueWalk(Errno.OK);
            }
        }

        @Override
        public void complete(BdevIo io, int status) {
            io.cawStage = 1;
            io.channel.locks.issue(io);
        }
    }

    /** The unlock walk: every channel resubmits the writes (and compare_and_writes) that waited for a lock. */
    private static final FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> UNLOCK = new FanOuts.ChannelVisitor<>() {
        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            hop.context().locks.releaseLockWaiters();
            hop.continueWalk(Errno.OK);
        }

        @Override
        public void complete(BdevIo io, int status) {
            io.channel.finish(io);
        }
    };

    /** A compare_and_write submitted on this channel (not frozen): lock its range, or wait for it to unlock. */
    void start(BdevIo io) {
        if (!ch.bdev.tryLockRange(io)) {
            lockWaiters.add(io); // an overlapping compare_and_write holds the range: resubmitted when it unlocks
            return;
        }
        io.cawStage = 0;
        io.splitStatus = IoStatus.SUCCESS; // an abort sets ABORTED: the next step then ends it
        compareAndWrites.add(io);
        LockWalk walk = io.cawLock;
        if (walk == null) {
            walk = new LockWalk(); // once per pooled I/O
            io.cawLock = walk;
        }
        walk.offsetBlocks = io.offsetBlocks;
        walk.numBlocks = io.numBlocks;
        ch.mgmt.fanOuts.forEachChannel(ch.bdev.ioDevice, io, walk);
    }

    /**
     * Issues the next child: the read (stage 1) or the write (stage 2); waits for the mgmt's next free I/O when no
     * pooled I/O or bounce buffer is free (then {@link BdevChannel#continueSplit} calls this again).
     */
    void issue(BdevIo io) {
        if (io.splitStatus != IoStatus.SUCCESS) {
            end(io, io.splitStatus); // aborted while it locked or waited
            return;
        }
        BdevMgmt mgmt = ch.mgmt;
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
        child.init(read ? IoType.READ : IoType.WRITE, ch, io.offsetBlocks, io.numBlocks, null, io.cbArg);
        child.parent = io;
        child.addIov(read ? io.bounce.address() : io.cawWriteAddr, io.numBlocks * ch.bdev.blockSize);
        io.childrenOutstanding = 1;
        io.hasChildren = true;
        ch.submit(child);
    }

    /** The read or the write of compare_and_write {@code io} completed. */
    void childDone(BdevIo io, BdevIo child) {
        BdevMgmt mgmt = ch.mgmt;
        IoStatus st = child.status;
        io.childrenOutstanding = 0;
        mgmt.release(child);
        if (io.cawStage == 1 && st == IoStatus.SUCCESS) {
            boolean equal = sameBytes(io.cawCmpAddr, io.bounce.address(), io.numBlocks * ch.bdev.blockSize);
            mgmt.releaseBounce(io.bounce);
            io.bounce = null;
            if (!equal) {
                end(io, IoStatus.MISCOMPARE);
                return;
            }
            io.cawStage = 2;
            issue(io); // ends it ABORTED instead when an abort came during the read
            return;
        }
        end(io, st); // the write's status, or the read's failure
    }

    /** Unlock, let waiting writes go on every channel, then complete the compare_and_write with {@code st}. */
    void end(BdevIo io, IoStatus st) {
        io.cawStage = 3;
        io.completed = true;
        io.status = st;
        compareAndWrites.remove(io);
        if (io.bounce != null) {
            ch.mgmt.releaseBounce(io.bounce);
            io.bounce = null;
        }
        ch.bdev.unlockRange(io);
        ch.mgmt.fanOuts.forEachChannel(ch.bdev.ioDevice, io, UNLOCK);
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
            ch.submit(lockWaiters.poll()); // re-checked: still-locked ranges queue again
        }
    }

    // ------------------------------------------------------------------ abort

    /** Ends ABORTED the writes and compare_and_writes with argument {@code target} that wait for a range to unlock. */
    int abortLockWaiters(Object target) {
        return ch.abortIn(lockWaiters, target);
    }

    /** Ends ABORTED everything that waits for a range to unlock (unregister, reset, destroy); returns how many. */
    int abortAllLockWaiters() {
        return ch.abortAll(lockWaiters);
    }

    /**
     * Marks ABORTED the compare_and_writes with argument {@code target} that hold their lock and have not issued
     * their write: the lock walk or the read ends, then each unlocks instead of writing. Returns how many.
     */
    int abortUnwritten(Object target) {
        int n = 0;
        for (int i = 0; i < compareAndWrites.size(); i++) {
            BdevIo caw = compareAndWrites.get(i);
            if (caw.cbArg == target && caw.splitStatus == IoStatus.SUCCESS) {
                caw.splitStatus = IoStatus.ABORTED; // its lock walk or read ends, then it unlocks instead of writing
                n++;
            }
        }
        return n;
    }

    /** Whether an I/O with argument {@code target} waits for a range or is a compare_and_write not yet writing. */
    boolean holds(Object target) {
        if (ch.holds(lockWaiters, target)) {
            return true;
        }
        for (int i = 0; i < compareAndWrites.size(); i++) {
            if (compareAndWrites.get(i).cbArg == target) {
                return true;
            }
        }
        return false;
    }
}
