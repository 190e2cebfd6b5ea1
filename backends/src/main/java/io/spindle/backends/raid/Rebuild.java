package io.spindle.backends.raid;

import io.spindle.backends.Vbdevs;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * The background rebuild of a raid1 base added to an online, degraded raid (SPDK's raid process of type
 * {@code rebuild}), while the raid serves I/O.
 *
 * <p><b>Window by window</b> ({@code process_window_size_kb}, default 1 MiB), on the app thread (reactor 0):
 * <ol>
 *   <li>lock the window: a walk over the raid's channels sets it on each, and each hop continues once the raid
 *       writes in flight there that overlap the window are done; new writes that overlap a locked window wait on their
 *       channel (SPDK quiesces the window's LBA range);</li>
 *   <li>read the window from an operational base (the next one if a read fails) into one buffer, write it to the
 *       target;</li>
 *   <li>move the progress past the window and unlock it (the waiting writes go); pause first when
 *       {@code process_max_bandwidth_mb_sec} is set.</li>
 * </ol>
 * While it runs, every raid write also goes to the target (so no block it already copied can go stale, and one
 * not copied yet is copied after the write completed), and reads never go to it. At the end the target becomes
 * readable on every channel and operational. A target write that fails fails the target; a removed target, or the
 * raid going offline, stops the rebuild (ENODEV).
 *
 * <p><b>Threads.</b> Everything on the app thread, except {@link #onNewChannel} (the new channel's reactor) and
 * {@link #offset()} (any thread: progress for {@code bdev_raid_get_bdevs}).
 */
final class Rebuild {
    private static final Logger LOG = LoggerFactory.getLogger(Rebuild.class);

    final RaidBdev raid;
    final RaidBdev.Slot target;
    final String targetName;
    private final long windowBlocks;
    private final long maxBandwidthMbSec;
    private final Reactor app;
    private volatile long offset;
    private volatile long lockStart = -1;
    private volatile long lockEnd;
    private long len;
    private DmaBuffer buf;
    private IoChannel<BdevChannel> targetCh;
    private final IoChannel<BdevChannel>[] sourceCh;
    private int source;
    private boolean stopped;
    private int stopStatus;
    private boolean finished;
    private Poller pacer;

    @SuppressWarnings("unchecked")
    Rebuild(RaidBdev raid, RaidBdev.Slot target, long windowBlocks, long maxBandwidthMbSec) {
        this.raid = raid;
        this.target = target;
        this.targetName = target.name;
        this.windowBlocks = Math.max(1, windowBlocks);
        this.maxBandwidthMbSec = maxBandwidthMbSec;
        this.app = Vbdevs.appThread(raid.layer);
        this.sourceCh = (IoChannel<BdevChannel>[]) new IoChannel<?>[raid.numSlots];
    }

    /** Blocks copied so far (the progress). Any thread. */
    long offset() {
        return offset;
    }

    void start() {
        LOG.info("raid {}: rebuild of {} (slot {}) starts, {} blocks in windows of {}", raid.name, targetName, target.index, raid.numBlocks, windowBlocks);
        buf = DmaBuffer.allocate(windowBlocks * raid.blockSize, 4096);
        targetCh = target.desc.getIoChannel();
        // every channel writes to the target from now on (a channel created meanwhile attaches it itself)
        raid.walk(ch -> ch.attach(target.index, false), this::nextWindow);
    }

    /** A channel created during the rebuild: it writes to the target already; take the window lock if one is held. */
    void onNewChannel(RaidChannel ch) {
        long s = lockStart;
        if (s >= 0) {
            ch.lockStart = s;
            ch.lockEnd = lockEnd;
        }
    }

    /** Stops the rebuild at its next step with {@code status}. App thread. */
    void stop(int status) {
        if (!stopped) {
            stopped = true;
            stopStatus = status;
            if (pacer != null) {
                pacer.unregister();
                pacer = null;
                nextWindow();
            }
        }
    }

    private void nextWindow() {
        if (stopped) {
            finish(stopStatus);
            return;
        }
        if (offset >= raid.numBlocks) {
            target.rebuilding = false;
            raid.walk(ch -> ch.readable[target.index] = ch.usable(target.index), () -> finish(Errno.OK));
            return;
        }
        len = Math.min(windowBlocks, raid.numBlocks - offset);
        lockStart = offset;
        lockEnd = offset + len;
        long s = offset;
        long e = offset + len;
        raid.walkHops(new FanOuts.ChannelVisitor<Object, RaidChannel, Object>() {
            @Override
            public void visit(FanOuts.ChannelHop<RaidChannel, Object> hop) {
                RaidChannel ch = hop.context();
                ch.lockStart = s;
                ch.lockEnd = e;
                int n = ch.writesOverlapping(s, e);
                if (n == 0) {
                    hop.continueWalk(Errno.OK);
                } else {
                    ch.lockWaitCount = n;
                    ch.lockHop = hop; // continued by the last overlapping write in flight here
                }
            }

            @Override
            public void complete(Object ctx, int status) {
                source = 0;
                readWindow();
            }
        });
    }

    private final IoCallback readDone = (BdevIo io, IoStatus st, Object arg) -> onRead(st);
    private final IoCallback writeDone = (BdevIo io, IoStatus st, Object arg) -> onWrite(st);

    private void readWindow() {
        if (stopped) {
            unlock(false);
            return;
        }
        for (; source < raid.numSlots; source++) {
            RaidBdev.Slot s = raid.slots[source];
            if (s == target || !s.configured || s.removing || s.rebuilding) {
                continue;
            }
            if (sourceCh[source] == null) {
                sourceCh[source] = s.desc.getIoChannel();
                if (sourceCh[source] == null) {
                    continue;
                }
            }
            int rc = s.desc.readBlocks(sourceCh[source], buf, 0, offset, len, readDone, null);
            if (rc == 0) {
                return;
            }
        }
        LOG.error("raid {}: rebuild of {} cannot read blocks [{}, {}) from any base", raid.name, targetName, offset, offset + len);
        stopped = true;
        stopStatus = Errno.EIO;
        unlock(false);
    }

    private void onRead(IoStatus st) {
        if (st != IoStatus.SUCCESS) {
            source++;
            readWindow();
            return;
        }
        if (stopped || !target.configured || target.removing) {
            unlock(false);
            return;
        }
        int rc = target.desc.writeBlocks(targetCh, buf, 0, offset, len, writeDone, null);
        if (rc != 0) {
            onWrite(IoStatus.FAILED);
        }
    }

    private void onWrite(IoStatus st) {
        if (st != IoStatus.SUCCESS) {
            LOG.error("raid {}: rebuild write to {} failed at block {}; failing it", raid.name, targetName, offset);
            stopped = true;
            stopStatus = Errno.EIO;
            unlock(false);
            return;
        }
        unlock(true);
    }

    /** Unlocks the window on every channel (waiting writes go), then paces and goes on, or finishes when stopped. */
    private void unlock(boolean advanced) {
        if (advanced) {
            offset += len;
        }
        lockStart = -1;
        raid.walk(ch -> {
            ch.lockStart = -1;
            int n = ch.lockedWriters.size();
            for (int i = 0; i < n; i++) {
                ch.lockedWriters.poll().dispatch();
            }
        }, () -> {
            if (stopped || maxBandwidthMbSec <= 0) {
                nextWindow();
                return;
            }
            long nanos = len * raid.blockSize * 1_000_000_000L / (maxBandwidthMbSec << 20);
            pacer = app.registerPoller("raid_rebuild_pace_" + raid.name, () -> {
                pacer.unregister();
                pacer = null;
                nextWindow();
                return 1;
            }, Math.max(1, nanos), TimeUnit.NANOSECONDS);
        });
    }

    private void finish(int status) {
        if (finished) {
            return;
        }
        finished = true;
        if (buf != null) {
            buf.close();
            buf = null;
        }
        if (targetCh != null) {
            targetCh.put();
            targetCh = null;
        }
        for (int i = 0; i < sourceCh.length; i++) {
            if (sourceCh[i] != null) {
                sourceCh[i].put();
                sourceCh[i] = null;
            }
        }
        raid.rebuildEnded(this, status);
    }
}
