package io.spindle.backends.aio;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * One aio channel's io_uring: reads, writes and flushes of the channel's reactor go to the kernel through an
 * {@link IoUring} of its own, with no I/O thread between (the io_uring engine; UNMAP and WRITE_ZEROES, which need
 * {@code fallocate}, stay on the I/O threads).
 *
 * <p><b>Flow.</b> {@link #start} takes a free slot (the slot number is the SQE's {@code user_data}), fills an SQE
 * from the task ({@code IORING_OP_READ}/{@code WRITE} on the caller's buffer for one iovec, {@code READV}/{@code WRITEV}
 * over the task's preallocated iovec array for several, {@code FSYNC} with {@code IORING_FSYNC_DATASYNC} for FLUSH)
 * and returns; no slot free (as many in flight as the ring has entries) refuses the task, and the channel completes
 * the I/O NOMEM for the layer to retry. The channel's poller runs {@link #poll}: it reaps the CQ (no system call),
 * then hands everything queued since its last run to the kernel with one {@code io_uring_enter}. A short read or
 * write is queued again for the rest (as the thread path loops on {@code pread}); a read that reaches the end of
 * the file, or a negative {@code res}, fails the I/O: the task goes to an I/O thread once, to log the errno (once per
 * bdev) and look whether the device is gone (size 0: hot-remove), and comes back through the channel's inbox.
 *
 * <p><b>Idle strategy.</b> The poller reports as work only what it reaped or submitted, as the project's other
 * device pollers do (the Aeron qpairs), so an idle reactor backs off. So that a completion never waits for a long
 * back-off park, a second, timed poller running the same {@link #poll} every {@value #PACE_MICROS} µs is resumed
 * while this ring has I/O in flight and paused when it has none: the reactor's park is cut at the next timed poller,
 * so with I/O outstanding it parks at most that long (plus the OS's timer slack); with none it parks as usual.
 * With {@code --idle busy} the every-loop poller reaps first and the timed one rarely finds anything.
 *
 * <p><b>Threads and ownership.</b> Everything runs on the channel's reactor: {@link #start}, {@link #poll} and
 * {@link #close}. A task belongs to this queue from {@link #start} until its completion is reaped.
 */
final class UringQueue implements IoUring.Completions {
    private static final Logger LOG = LoggerFactory.getLogger(UringQueue.class);
    /** Period of the pacing poller that bounds reactor parks while I/O is in flight. */
    static final long PACE_MICROS = 50;
    /** Largest byte count one SQE asks for; the kernel's own cap is just under 2 GiB, the rest is a continuation. */
    private static final long MAX_SQE_BYTES = 1L << 30;

    private final AioModule.Channel channel;
    private final IoUring ring;
    private final int fd;
    private final AioTask[] slots;
    private final int[] free;
    private int freeTop;
    private int inFlight;
    /** Completions reaped (statistics; reactor). */
    private long reaped;
    private Poller poller;
    private Poller pacer;
    private boolean pacing;
    private final UnsafeBuffer iov = new UnsafeBuffer(0, 0);

    UringQueue(AioModule.Channel channel, IoUring ring, int fd) {
        this.channel = channel;
        this.ring = ring;
        this.fd = fd;
        int n = ring.entries();
        this.slots = new AioTask[n];
        this.free = new int[n];
        for (int i = 0; i < n; i++) {
            free[i] = n - 1 - i;
        }
        this.freeTop = n;
    }

    /** Registers the pollers on {@code reactor} (the channel's, calling). */
    void startPollers(Reactor reactor, String name) {
        poller = reactor.registerPoller("bdev_aio_uring_" + name, this::poll);
        pacer = reactor.registerPoller("bdev_aio_uring_pace_" + name, this::poll, PACE_MICROS, TimeUnit.MICROSECONDS);
        pacer.pause();
    }

    /** Requests this ring has in flight (reactor). */
    int inFlight() {
        return inFlight;
    }

    /** The ring's entries: the most requests in flight at once. */
    int entries() {
        return ring.entries();
    }

    /** Queues {@code t} (READ, WRITE or FLUSH, prepared); false when every slot is taken (complete it NOMEM). */
    boolean start(AioTask t) {
        if (freeTop == 0) {
            return false;
        }
        int slot = free[--freeTop];
        slots[slot] = t;
        t.slot = slot;
        inFlight++;
        queue(t);
        if (!pacing) {
            pacing = true;
            pacer.resume();
        }
        return true;
    }

    /** Fills the SQE for what is left of {@code t} (all of it at first, the rest after a short transfer). */
    private void queue(AioTask t) {
        if (t.type == IoType.FLUSH) {
            ring.queue(fd, IoUring.IORING_OP_FSYNC, 0, 0, 0, IoUring.IORING_FSYNC_DATASYNC, t.slot);
            return;
        }
        boolean read = t.type == IoType.READ;
        long done = t.done;
        int i = 0;
        while (done >= t.iovLen[i]) { // skip the iovecs already transferred (done < len, so i stays in range)
            done -= t.iovLen[i];
            i++;
        }
        if (i == t.iovCnt - 1) {
            long n = Math.min(t.iovLen[i] - done, MAX_SQE_BYTES);
            ring.queue(fd, read ? IoUring.IORING_OP_READ : IoUring.IORING_OP_WRITE, t.iovAddr[i] + done, (int) n, t.pos + t.done, 0, t.slot);
            return;
        }
        long base = t.iovecs();
        iov.wrap(base, AioTask.IOVEC_BYTES);
        int cnt = 0;
        for (int k = i; k < t.iovCnt; k++, cnt++) {
            long skip = k == i ? done : 0;
            iov.putLong(cnt * 16, t.iovAddr[k] + skip);
            iov.putLong(cnt * 16 + 8, t.iovLen[k] - skip);
        }
        ring.queue(fd, read ? IoUring.IORING_OP_READV : IoUring.IORING_OP_WRITEV, base, cnt, t.pos + t.done, 0, t.slot);
    }

    /**
     * The poller: reaps what completed, then submits what was queued (including I/O the completions' callbacks
     * submitted just now). Returns the work done (reaped + submitted); 0 while I/O is merely outstanding.
     */
    int poll() {
        int n = ring.reap(this);
        if (ring.unsubmitted() > 0) {
            try {
                n += ring.submit();
            } catch (IoUring.UringException e) {
                abandonUnsubmitted(e);
            }
        }
        if (inFlight == 0 && pacing) {
            pacing = false;
            pacer.pause();
        }
        return n;
    }

    /** A completion from the CQ (reactor). */
    @Override
    public void onCompletion(long userData, int res) {
        reaped++;
        AioTask t = slots[(int) userData];
        if (res < 0) {
            int e = -res;
            if (e == LibC.EAGAIN || e == LibC.EINTR) {
                queue(t); // transient: ask again
                return;
            }
            fail(t, e);
            return;
        }
        if (t.type != IoType.FLUSH) {
            t.done += res;
            if (t.done < t.len) {
                if (res == 0) {
                    fail(t, 0); // end of file: the thread path's EOFException
                } else {
                    queue(t); // short transfer: the rest
                }
                return;
            }
        }
        release(t);
        channel.finishFromRing(t, IoStatus.SUCCESS);
    }

    private void release(AioTask t) {
        slots[t.slot] = null;
        free[freeTop++] = t.slot;
        t.slot = -1;
        inFlight--;
    }

    private void fail(AioTask t, int errno) {
        release(t);
        t.errno = errno;
        channel.failFromRing(t);
    }

    /**
     * {@code io_uring_enter} failed for good (not EAGAIN/EBUSY/EINTR: a broken ring): the kernel never saw the
     * queued SQEs, so their I/O fail here, each once.
     */
    private void abandonUnsubmitted(IoUring.UringException e) {
        LOG.error("aio {}: {}; failing the {} I/O not yet submitted", channel.disk.name, e.getMessage(), ring.unsubmitted());
        ring.rewindUnsubmitted(this, e.errno);
    }

    /**
     * Channel destroy: waits (reaping, submitting) until nothing is in flight at the kernel or {@code deadlineNanos}
     * passes; true when drained. Then the pollers are gone; {@link #close} follows.
     */
    boolean drain(long deadlineNanos) {
        stopPollers();
        while (inFlight > 0) {
            if (poll() == 0) {
                if (System.nanoTime() - deadlineNanos > 0) {
                    return false;
                }
                java.util.concurrent.locks.LockSupport.parkNanos(10_000);
            }
        }
        return true;
    }

    private void stopPollers() {
        if (poller != null) {
            poller.unregister();
            pacer.unregister();
            poller = null;
            pacer = null;
            pacing = false;
        }
    }

    /** Completions reaped so far (reactor). */
    long reaped() {
        return reaped;
    }

    /** Unmaps and closes the ring (after {@link #drain}). */
    void close() {
        stopPollers();
        ring.close();
    }
}
