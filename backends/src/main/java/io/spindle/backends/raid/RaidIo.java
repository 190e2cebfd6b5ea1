package io.spindle.backends.raid;

import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.IoWaitEntry;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;

/**
 * One raid I/O (SPDK's {@code struct raid_bdev_io}): made once per pooled I/O by the raid module's
 * {@code newIoContext}, so no I/O allocates. It fans the I/O out to the bases as the level says and completes it once.
 *
 * <p><b>Statuses, as SPDK's {@code raid_bdev_io_complete_part}.</b> A fan-out counts its parts down; a part whose status
 * differs from the default sets the I/O's status. raid0 and concat start at SUCCESS (any failed part fails the I/O);
 * raid1 writes and null-payload I/O start at FAILED (any part that succeeds makes the I/O succeed; each base that
 * failed is failed out of the raid).
 *
 * <p><b>raid1 reads</b> go to the readable base with the fewest read blocks outstanding on this channel. On an error
 * the other bases are tried in order; the first that succeeds has its data written back to the base that failed
 * (SUCCESS even if that write fails, which fails the base); if every base fails, FAILED and the first base is failed.
 *
 * <p>Owner: the I/O's reactor, between submit and completion.
 */
final class RaidIo {
    private static final int READ_FIRST = 0;
    private static final int READ_OTHER = 1;
    private static final int REWRITE = 2;
    private static final int FANOUT = 3;

    ModuleIo io;
    RaidChannel ch;
    RaidBdev raid;
    int remaining;
    IoStatus status;
    IoStatus defaultStatus;
    /** Fan-out: the next slot to submit to. */
    int next;
    /** The slot of a single-base I/O: raid0/concat's read or write, raid1's first read (and its rewrite target). */
    int readSlot;
    int phase;
    boolean isWrite;
    /** Listed in the channel's writes in flight (dispatched, not waiting for a rebuild window). */
    private boolean counted;
    RaidIo wPrev;
    RaidIo wNext;
    long wOffset;
    long wBlocks;
    private final IoWaitEntry wait = new IoWaitEntry(arg -> ((RaidIo) arg).resume(), this);

    // ------------------------------------------------------------------ entry

    void start(ModuleIo io, RaidChannel ch) {
        this.io = io;
        this.ch = ch;
        this.raid = ch.raid;
        this.next = 0;
        this.phase = FANOUT;
        this.isWrite = false;
        this.counted = false;
        IoType t = io.type();
        if (raid.level == RaidLevel.RAID1 && (t == IoType.WRITE || t == IoType.UNMAP || t == IoType.FLUSH)) {
            isWrite = t != IoType.FLUSH;
            if (isWrite && !ch.writeMayStart(io.offsetBlocks(), io.numBlocks())) {
                ch.lockedWriters.add(this); // the rebuild holds this range: resubmitted at its unlock
                return;
            }
        }
        dispatch();
    }

    /** Starts (or, after a rebuild window unlock, restarts) the I/O. */
    void dispatch() {
        IoType t = io.type();
        if (isWrite) {
            wOffset = io.offsetBlocks();
            wBlocks = io.numBlocks();
            ch.writeStarted(this);
            counted = true;
        }
        if (t == IoType.RESET) {
            fanOutReset();
            return;
        }
        switch (raid.level) {
            case RAID0, CONCAT -> {
                if (t == IoType.READ || t == IoType.WRITE) {
                    stripedRw();
                } else {
                    stripedNullPayload();
                }
            }
            default -> {
                if (t == IoType.READ) {
                    raid1Read();
                } else {
                    raid1FanOut();
                }
            }
        }
    }

    /** A writer waiting for a rebuild window ends without running (its channel is going away). */
    void abort() {
        complete(IoStatus.ABORTED);
    }

    /** Continues a fan-out after a base had no free I/O (SPDK's {@code raid_bdev_queue_io_wait}). */
    private void resume() {
        if (phase == FANOUT) {
            if (raid.level == RaidLevel.RAID1) {
                raid1FanOut();
            } else {
                stripedNullPayload();
            }
        } else if (phase == READ_FIRST) {
            raid1Read();
        } else if (phase == READ_OTHER) {
            readOther();
        } else {
            rewrite();
        }
    }

    private boolean waitForIo(int slot) {
        BdevDescriptor d = raid.slots[slot].desc;
        return d != null && d.queueIoWait(ch.base[slot], wait) == 0;
    }

    // ------------------------------------------------------------------ raid0 / concat

    /** Read/write within one strip (the layer splits at strips): one base I/O. */
    private void stripedRw() {
        long off = io.offsetBlocks();
        int slot;
        long baseOff;
        if (raid.level == RaidLevel.RAID0) {
            RaidBdev r = raid;
            long sb = r.stripBlocks;
            int ss = r.stripShift;
            long strip = ss >= 0 ? off >>> ss : off / sb;
            long within = off - (ss >= 0 ? strip << ss : strip * sb);
            int n = r.numSlots;
            long row = r.slotShift >= 0 ? strip >>> r.slotShift : strip / n;
            slot = (int) (strip - row * n);
            baseOff = (ss >= 0 ? row << ss : row * sb) + within;
        } else {
            slot = raid.concatSlot(off);
            baseOff = off - raid.concatStart[slot];
        }
        if (!ch.usable(slot)) {
            complete(IoStatus.FAILED);
            return;
        }
        readSlot = slot; // the completion's slot, without a search
        int rc = raid.slots[slot].desc.forward(ch.base[slot], io.type(), io, baseOff, SINGLE_DONE, this);
        if (rc == 0) {
            ch.outstanding[slot]++;
        } else {
            complete(rc == Errno.ENOMEM ? IoStatus.NOMEM : IoStatus.FAILED);
        }
    }

    private static final IoCallback SINGLE_DONE = (BdevIo b, IoStatus st, Object arg) -> {
        RaidIo r = (RaidIo) arg;
        r.ch.baseDone(r.readSlot);
        r.complete(st);
    };

    /** UNMAP/FLUSH over several strips or bases: SPDK's {@code raid0_submit_null_payload_request} / concat's. */
    private void stripedNullPayload() {
        if (next == 0) {
            defaultStatus = IoStatus.SUCCESS;
            status = IoStatus.SUCCESS;
            remaining = raid.numSlots;
        }
        for (; next < raid.numSlots; next++) {
            int slot = next;
            long[] range = raid.baseRange(slot, io.offsetBlocks(), io.numBlocks());
            if (range == null) {
                part(IoStatus.SUCCESS); // not involved
                continue;
            }
            if (!ch.usable(slot)) {
                part(IoStatus.FAILED);
                continue;
            }
            BdevDescriptor d = raid.slots[slot].desc;
            int rc = io.type() == IoType.UNMAP ? d.unmapBlocks(ch.base[slot], range[0], range[1], PART_DONE, this)
                    : io.type() == IoType.FLUSH ? d.flushBlocks(ch.base[slot], range[0], range[1], PART_DONE, this)
                    : d.writeZeroesBlocks(ch.base[slot], range[0], range[1], PART_DONE, this);
            if (rc == Errno.ENOMEM && waitForIo(slot)) {
                return; // resumed at this slot
            }
            if (rc != 0) {
                part(IoStatus.FAILED);
                continue;
            }
            ch.outstanding[slot]++;
        }
    }

    // ------------------------------------------------------------------ raid1

    /** Writes, unmaps and flushes to every usable base (SPDK's raid1 write and null-payload requests). */
    private void raid1FanOut() {
        if (next == 0) {
            defaultStatus = IoStatus.FAILED;
            status = IoStatus.FAILED;
            remaining = raid.numSlots;
        }
        for (; next < raid.numSlots; next++) {
            int slot = next;
            if (!ch.usable(slot)) {
                part(IoStatus.FAILED); // a missing slot counts as a failed part
                continue;
            }
            BdevDescriptor d = raid.slots[slot].desc;
            IoType t = io.type();
            int rc = t == IoType.WRITE ? d.forward(ch.base[slot], IoType.WRITE, io, io.offsetBlocks(), WRITE_DONE, this)
                    : t == IoType.UNMAP ? d.unmapBlocks(ch.base[slot], io.offsetBlocks(), io.numBlocks(), WRITE_DONE, this)
                    : d.flushBlocks(ch.base[slot], io.offsetBlocks(), io.numBlocks(), WRITE_DONE, this);
            if (rc == Errno.ENOMEM && waitForIo(slot)) {
                return;
            }
            if (rc != 0) {
                part(IoStatus.FAILED);
                continue;
            }
            ch.outstanding[slot]++;
        }
    }

    private static final IoCallback WRITE_DONE = (BdevIo b, IoStatus st, Object arg) -> {
        RaidIo r = (RaidIo) arg;
        int slot = r.raid.slotOf(b.bdev());
        if (slot >= 0) {
            r.ch.baseDone(slot);
            if (st != IoStatus.SUCCESS && st != IoStatus.ABORTED) {
                r.raid.failBase(slot);
            }
        }
        r.part(st);
    };

    /** The readable base with the fewest read blocks outstanding on this channel (SPDK's read balancing). */
    static int pickReadSlot(RaidChannel ch) {
        long min = Long.MAX_VALUE;
        int idx = -1;
        for (int i = 0; i < ch.base.length; i++) {
            if (ch.readable[i] && ch.usable(i) && ch.readBlocks[i] < min) {
                min = ch.readBlocks[i];
                idx = i;
            }
        }
        return idx;
    }

    private void raid1Read() {
        phase = READ_FIRST;
        int slot = pickReadSlot(ch);
        if (slot < 0) {
            complete(IoStatus.FAILED);
            return;
        }
        int rc = raid.slots[slot].desc.forward(ch.base[slot], IoType.READ, io, io.offsetBlocks(), READ_DONE, this);
        if (rc == Errno.ENOMEM) {
            complete(IoStatus.NOMEM); // nothing submitted yet: the layer retries the whole read
            return;
        }
        if (rc != 0) {
            readSlot = slot;
            next = 0;
            phase = READ_OTHER;
            readOther();
            return;
        }
        readSlot = slot;
        ch.outstanding[slot]++;
        ch.readBlocks[slot] += io.numBlocks();
    }

    private static final IoCallback READ_DONE = (BdevIo b, IoStatus st, Object arg) -> {
        RaidIo r = (RaidIo) arg;
        r.ch.baseDone(r.readSlot);
        r.ch.readBlocks[r.readSlot] -= r.io.numBlocks();
        if (st == IoStatus.SUCCESS || st == IoStatus.ABORTED) {
            r.complete(st);
            return;
        }
        r.next = 0;
        r.phase = READ_OTHER;
        r.readOther();
    };

    /** Tries the other readable bases in order (SPDK's {@code raid1_read_other_base_bdev}). */
    private void readOther() {
        for (; next < raid.numSlots; next++) {
            int slot = next;
            if (slot == readSlot || !ch.readable[slot] || !ch.usable(slot)) {
                continue;
            }
            int rc = raid.slots[slot].desc.forward(ch.base[slot], IoType.READ, io, io.offsetBlocks(), READ_OTHER_DONE, this);
            if (rc == Errno.ENOMEM && waitForIo(slot)) {
                return;
            }
            if (rc != 0) {
                continue;
            }
            ch.outstanding[slot]++;
            return;
        }
        raid.failBase(readSlot); // no base could serve it
        complete(IoStatus.FAILED);
    }

    private static final IoCallback READ_OTHER_DONE = (BdevIo b, IoStatus st, Object arg) -> {
        RaidIo r = (RaidIo) arg;
        r.ch.baseDone(r.next);
        if (st != IoStatus.SUCCESS) {
            r.next++;
            r.readOther();
            return;
        }
        r.phase = REWRITE;
        r.rewrite();
    };

    /** Writes the data read from another base back to the base that failed the read (SPDK's correct_read_error). */
    private void rewrite() {
        int slot = readSlot;
        if (!ch.usable(slot)) {
            complete(IoStatus.SUCCESS);
            return;
        }
        int rc = raid.slots[slot].desc.forward(ch.base[slot], IoType.WRITE, io, io.offsetBlocks(), REWRITE_DONE, this);
        if (rc == Errno.ENOMEM && waitForIo(slot)) {
            return;
        }
        if (rc != 0) {
            raid.failBase(slot);
            complete(IoStatus.SUCCESS);
            return;
        }
        ch.outstanding[slot]++;
    }

    private static final IoCallback REWRITE_DONE = (BdevIo b, IoStatus st, Object arg) -> {
        RaidIo r = (RaidIo) arg;
        r.ch.baseDone(r.readSlot);
        if (st != IoStatus.SUCCESS) {
            r.raid.failBase(r.readSlot); // the rewrite failed: the base goes, the read still succeeded
        }
        r.complete(IoStatus.SUCCESS);
    };

    // ------------------------------------------------------------------ reset

    private void fanOutReset() {
        defaultStatus = IoStatus.SUCCESS;
        status = IoStatus.SUCCESS;
        remaining = raid.numSlots;
        for (int slot = 0; slot < raid.numSlots; slot++) {
            if (!ch.usable(slot)) {
                part(IoStatus.SUCCESS);
                continue;
            }
            IoChannel<BdevChannel> bch = ch.base[slot];
            int rc = raid.slots[slot].desc.reset(bch, PART_DONE, this);
            if (rc != 0) {
                part(IoStatus.FAILED);
                continue;
            }
            ch.outstanding[slot]++;
        }
    }

    private static final IoCallback PART_DONE = (BdevIo b, IoStatus st, Object arg) -> {
        RaidIo r = (RaidIo) arg;
        int slot = r.raid.slotOf(b.bdev());
        if (slot >= 0) {
            r.ch.baseDone(slot);
        }
        r.part(st);
    };

    // ------------------------------------------------------------------ completion

    /** SPDK's {@code raid_bdev_io_complete_part}. */
    void part(IoStatus st) {
        if (st != defaultStatus) {
            status = st;
        }
        if (--remaining == 0) {
            complete(status);
        }
    }

    private void complete(IoStatus st) {
        ModuleIo m = io;
        RaidChannel c = ch;
        boolean wasCounted = counted;
        io = null;
        ch = null;
        raid = null;
        counted = false;
        m.complete(st);
        if (wasCounted) {
            c.writeEnded(this, wOffset, wBlocks); // after NOMEM too: the layer resubmits it as a new write
        }
    }
}
