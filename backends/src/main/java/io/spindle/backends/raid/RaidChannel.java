package io.spindle.backends.raid;

import io.spindle.bdev.BdevChannel;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;

import java.util.ArrayDeque;

/**
 * A raid bdev's module channel on one reactor (SPDK's {@code struct raid_bdev_io_channel}): this reactor's channel of
 * every base in use, the raid1 read-balancing counters, and the rebuild's window lock.
 *
 * <p><b>Slots.</b> {@link #base}{@code [i]} is the channel of slot {@code i}, or null when the slot has no base here
 * (missing, removed, or its channel was given back). {@link #readable}{@code [i]} is false for a rebuild target.
 * When a slot is dropped while base I/O is still out on it, its channel is put by the last completion
 * ({@link #dropping}), so no base channel goes while I/O is on it.
 *
 * <p><b>Owner:</b> its reactor; every field is touched only there (walks from the app thread run their visits
 * here).
 */
final class RaidChannel {
    final RaidBdev raid;
    final Reactor reactor;
    final IoChannel<BdevChannel>[] base;
    final boolean[] readable;
    final boolean[] dropping;
    final int[] outstanding;
    /** raid1: blocks of reads outstanding per slot (SPDK's {@code read_blocks_outstanding}). */
    final long[] readBlocks;
    /** Raid-level writes in flight on this channel: an intrusive list (a rebuild window waits for those it overlaps). */
    RaidIo writesHead;
    /** In-flight writes overlapping the window a lock walk waits for here. */
    int lockWaitCount;
    /** The rebuild's locked window on this channel, or {@code lockStart < 0}. */
    long lockStart = -1;
    long lockEnd;
    /** Writes that overlap the locked window, resubmitted at the unlock. */
    final ArrayDeque<RaidIo> lockedWriters = new ArrayDeque<>();
    /** A lock walk's hop waiting for the writes overlapping its window to end ({@link #lockWaitCount}). */
    FanOuts.ChannelHop<RaidChannel, Object> lockHop;
    boolean destroyed;

    @SuppressWarnings("unchecked")
    RaidChannel(RaidBdev raid, Reactor reactor, int slots) {
        this.raid = raid;
        this.reactor = reactor;
        this.base = (IoChannel<BdevChannel>[]) new IoChannel<?>[slots];
        this.readable = new boolean[slots];
        this.dropping = new boolean[slots];
        this.outstanding = new int[slots];
        this.readBlocks = new long[slots];
    }

    /** Takes this reactor's channel of slot {@code i} (writes go to it; reads only when {@code canRead}). */
    void attach(int i, boolean canRead) {
        if (base[i] == null) {
            IoChannel<BdevChannel> ch = raid.slots[i].desc.getIoChannel();
            if (ch == null) {
                return; // the base is going away: treated as missing here
            }
            base[i] = ch;
            raid.slots[i].holders.incrementAndGet();
        }
        dropping[i] = false;
        readable[i] = canRead;
    }

    /** Drops slot {@code i}: no new I/O; its channel is put now, or by its last outstanding completion. */
    void drop(int i) {
        readable[i] = false;
        if (base[i] == null) {
            return;
        }
        if (outstanding[i] == 0) {
            putSlot(i);
        } else {
            dropping[i] = true;
        }
    }

    /** Whether slot {@code i} takes new I/O here. */
    boolean usable(int i) {
        return base[i] != null && !dropping[i];
    }

    /** A base I/O of slot {@code i} completed: count it, and put a dropped slot's channel after its last one. */
    void baseDone(int i) {
        if (--outstanding[i] == 0 && dropping[i]) {
            putSlot(i);
        }
    }

    private void putSlot(int i) {
        IoChannel<BdevChannel> ch = base[i];
        base[i] = null;
        dropping[i] = false;
        ch.put();
        raid.slotReleasedOnChannel(i);
    }

    /** Channel destroy: every base channel is put (I/O is done by then; the layer guarantees it). */
    void destroy() {
        destroyed = true;
        while (!lockedWriters.isEmpty()) {
            RaidIo w = lockedWriters.poll();
            w.abort();
        }
        if (lockHop != null) {
            FanOuts.ChannelHop<RaidChannel, Object> h = lockHop;
            lockHop = null;
            h.continueWalk(0);
        }
        for (int i = 0; i < base.length; i++) {
            if (base[i] != null) {
                putSlot(i);
            }
        }
    }

    /** A write may start unless it overlaps the locked window (then it waits for the unlock). */
    boolean writeMayStart(long offset, long n) {
        return lockStart < 0 || offset + n <= lockStart || offset >= lockEnd;
    }

    /** A raid-level write starts: listed until it ends. */
    void writeStarted(RaidIo w) {
        w.wPrev = null;
        w.wNext = writesHead;
        if (writesHead != null) {
            writesHead.wPrev = w;
        }
        writesHead = w;
    }

    /** A raid-level write ended: unlisted; a lock walk waiting for the writes overlapping its window may continue. */
    void writeEnded(RaidIo w, long offset, long n) {
        if (w.wPrev != null) {
            w.wPrev.wNext = w.wNext;
        } else {
            writesHead = w.wNext;
        }
        if (w.wNext != null) {
            w.wNext.wPrev = w.wPrev;
        }
        w.wPrev = null;
        w.wNext = null;
        if (lockHop != null && offset < lockEnd && lockStart < offset + n && --lockWaitCount == 0) {
            FanOuts.ChannelHop<RaidChannel, Object> h = lockHop;
            lockHop = null;
            h.continueWalk(0);
        }
    }

    /** Writes in flight that overlap {@code [s, e)}. */
    int writesOverlapping(long s, long e) {
        int n = 0;
        for (RaidIo w = writesHead; w != null; w = w.wNext) {
            if (w.wOffset < e && s < w.wOffset + w.wBlocks) {
                n++;
            }
        }
        return n;
    }
}
