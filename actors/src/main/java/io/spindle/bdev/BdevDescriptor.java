package io.spindle.bdev;

import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.Reactor;

/**
 * An open handle on a bdev, bound to the reactor that opened it: SPDK's {@code spdk_bdev_desc}.
 *
 * <p><b>I/O.</b> Submit on a reactor, with that reactor's channel from {@link #getIoChannel()}. Each call
 * returns {@code 0} when the I/O was accepted (its {@link IoCallback} will run exactly once, on this reactor,
 * never inside the call) or a negative errno with no callback:
 * {@link Errno#EINVAL} (range beyond the bdev, length or offset not a multiple of the block size, buffer too
 * small, too many segments, wrong channel), {@link Errno#EBADF} (a write-type I/O on a read-only or closed
 * descriptor), {@link Errno#ENOTSUP} (type not supported), {@link Errno#ENOMEM} (this reactor's I/O pool is
 * empty: queue an {@link IoWaitEntry} with {@link #queueIoWait} and resubmit from its callback).
 *
 * <p><b>Threads.</b> {@link #close()} only on the opening reactor. I/O on any reactor of the group with that
 * reactor's channel. Events arrive on the opening reactor.
 */
public final class BdevDescriptor {
    final Bdev bdev;
    final Reactor reactor;
    volatile boolean writable;
    private final BdevEventHandler handler;
    volatile boolean closed;

    BdevDescriptor(Bdev bdev, Reactor reactor, boolean writable, BdevEventHandler handler) {
        this.bdev = bdev;
        this.reactor = reactor;
        this.writable = writable;
        this.handler = handler;
    }

    /** The bdev. */
    public Bdev bdev() {
        return bdev;
    }

    /** The reactor that opened this descriptor. */
    public Reactor reactor() {
        return reactor;
    }

    /** Whether writes are allowed (a claim may upgrade a read-only descriptor). */
    public boolean isWritable() {
        return writable;
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * This reactor's channel of the bdev (SPDK's {@code spdk_bdev_get_io_channel}); call on a reactor. The
     * first get on a reactor creates the channel; later ones only take a reference.
     *
     * @return the channel, or null when the bdev is going away or the module's channel create failed
     */
    public IoChannel<BdevChannel> getIoChannel() {
        if (closed) {
            return null;
        }
        return bdev.ioDevice.getChannel();
    }

    /**
     * Closes the descriptor; on the opening reactor. Releases v2 claims taken through it; if the bdev is being
     * unregistered and this was the last descriptor, the unregister proceeds. Events not yet delivered are
     * dropped.
     *
     * @throws IllegalStateException on another thread, or when already closed
     */
    public void close() {
        reactor.assertCurrent("bdev_close bdev=", bdev.name());
        if (closed) {
            throw new IllegalStateException("bdev_close bdev=" + bdev.name() + ": descriptor already closed");
        }
        closed = true;
        if (bdev.close(this)) {
            bdev.actor.tell(BdevActor.AllDescriptorsClosed.INSTANCE);
        }
    }

    void deliver(BdevEvent event) {
        if (closed) {
            return; // in flight at close: dropped
        }
        try {
            handler.onEvent(event, bdev, this);
        } catch (Throwable e) {
            BdevLayer.LOG.error("bdev={}: event handler threw on {}", bdev.name(), event, e);
        }
    }

    // ------------------------------------------------------------------ I/O

    /** Reads {@code length} bytes at byte {@code offset} into {@code buf} at {@code bufOffset}. */
    public int read(IoChannel<BdevChannel> ch, DmaBuffer buf, long bufOffset, long offset, long length, IoCallback cb, Object arg) {
        return bytesIo(IoType.READ, ch, buf, bufOffset, offset, length, cb, arg);
    }

    /** Reads {@code numBlocks} blocks at {@code offsetBlocks}. */
    public int readBlocks(IoChannel<BdevChannel> ch, DmaBuffer buf, long bufOffset, long offsetBlocks, long numBlocks, IoCallback cb,
                          Object arg) {
        return blocksIo(IoType.READ, ch, buf, bufOffset, offsetBlocks, numBlocks, cb, arg);
    }

    /** Writes {@code length} bytes at byte {@code offset} from {@code buf} at {@code bufOffset}. */
    public int write(IoChannel<BdevChannel> ch, DmaBuffer buf, long bufOffset, long offset, long length, IoCallback cb, Object arg) {
        return bytesIo(IoType.WRITE, ch, buf, bufOffset, offset, length, cb, arg);
    }

    /** Writes {@code numBlocks} blocks at {@code offsetBlocks}. */
    public int writeBlocks(IoChannel<BdevChannel> ch, DmaBuffer buf, long bufOffset, long offsetBlocks, long numBlocks, IoCallback cb,
                           Object arg) {
        return blocksIo(IoType.WRITE, ch, buf, bufOffset, offsetBlocks, numBlocks, cb, arg);
    }

    /** Compares {@code numBlocks} blocks with {@code buf} (MISCOMPARE when they differ). */
    public int compareBlocks(IoChannel<BdevChannel> ch, DmaBuffer buf, long bufOffset, long offsetBlocks, long numBlocks, IoCallback cb,
                             Object arg) {
        return blocksIo(IoType.COMPARE, ch, buf, bufOffset, offsetBlocks, numBlocks, cb, arg);
    }

    /**
     * Compares {@code numBlocks} blocks with {@code cmp} and, only if equal, writes {@code write} there, atomically
     * with respect to other writes of the range and other compare_and_writes overlapping it (SPDK's
     * {@code spdk_bdev_comparev_and_writev_blocks}, emulated under an LBA range lock). Completes MISCOMPARE (nothing
     * written) when the data differs. Its read and write are submitted as a caller's read and write are (QoS,
     * split, bounce of a misaligned {@code write}). At most 128 KiB (the read's bounce buffer); EINVAL beyond.
     */
    public int compareAndWriteBlocks(IoChannel<BdevChannel> ch, DmaBuffer cmp, long cmpOffset, DmaBuffer write, long writeOffset,
                                     long offsetBlocks, long numBlocks, IoCallback cb, Object arg) {
        BdevChannel bc = channelOf(ch);
        int rc = check(IoType.COMPARE_AND_WRITE, bc, offsetBlocks, numBlocks);
        if (rc != 0) {
            return rc;
        }
        long len = numBlocks * bdev.blockSize;
        if (cb == null || cmp == null || write == null || len > BdevMgmt.BOUNCE_SIZE || cmpOffset < 0 || writeOffset < 0
                || cmpOffset + len > cmp.capacity() || writeOffset + len > write.capacity()) {
            return Errno.EINVAL;
        }
        BdevIo io = take(bc);
        if (io == null) {
            return Errno.ENOMEM;
        }
        io.init(IoType.COMPARE_AND_WRITE, bc, offsetBlocks, numBlocks, cb, arg);
        io.cawCmpAddr = cmp.address() + cmpOffset;
        io.cawWriteAddr = write.address() + writeOffset;
        bc.submit(io);
        return 0;
    }

    /** Reads into a vector of buffers; {@code iovs[0..iovcnt)} must add up to {@code numBlocks} blocks. */
    public int readvBlocks(IoChannel<BdevChannel> ch, IoVec[] iovs, int iovcnt, long offsetBlocks, long numBlocks, IoCallback cb,
                           Object arg) {
        return vectorIo(IoType.READ, ch, iovs, iovcnt, offsetBlocks, numBlocks, cb, arg);
    }

    /** Writes from a vector of buffers. */
    public int writevBlocks(IoChannel<BdevChannel> ch, IoVec[] iovs, int iovcnt, long offsetBlocks, long numBlocks, IoCallback cb,
                            Object arg) {
        return vectorIo(IoType.WRITE, ch, iovs, iovcnt, offsetBlocks, numBlocks, cb, arg);
    }

    /** Byte-addressed vector read. */
    public int readv(IoChannel<BdevChannel> ch, IoVec[] iovs, int iovcnt, long offset, long length, IoCallback cb, Object arg) {
        int bs = bdev.blockSize;
        if (offset % bs != 0 || length % bs != 0) {
            return Errno.EINVAL;
        }
        return vectorIo(IoType.READ, ch, iovs, iovcnt, offset / bs, length / bs, cb, arg);
    }

    /** Byte-addressed vector write. */
    public int writev(IoChannel<BdevChannel> ch, IoVec[] iovs, int iovcnt, long offset, long length, IoCallback cb, Object arg) {
        int bs = bdev.blockSize;
        if (offset % bs != 0 || length % bs != 0) {
            return Errno.EINVAL;
        }
        return vectorIo(IoType.WRITE, ch, iovs, iovcnt, offset / bs, length / bs, cb, arg);
    }

    /** Writes zeroes to {@code numBlocks} blocks (emulated with writes when the module lacks it). */
    public int writeZeroesBlocks(IoChannel<BdevChannel> ch, long offsetBlocks, long numBlocks, IoCallback cb, Object arg) {
        return rangeIo(IoType.WRITE_ZEROES, ch, offsetBlocks, numBlocks, cb, arg);
    }

    /** Byte-addressed write_zeroes. */
    public int writeZeroes(IoChannel<BdevChannel> ch, long offset, long length, IoCallback cb, Object arg) {
        int bs = bdev.blockSize;
        if (offset % bs != 0 || length % bs != 0) {
            return Errno.EINVAL;
        }
        return rangeIo(IoType.WRITE_ZEROES, ch, offset / bs, length / bs, cb, arg);
    }

    /** Unmaps {@code numBlocks} blocks. */
    public int unmapBlocks(IoChannel<BdevChannel> ch, long offsetBlocks, long numBlocks, IoCallback cb, Object arg) {
        return rangeIo(IoType.UNMAP, ch, offsetBlocks, numBlocks, cb, arg);
    }

    /** Byte-addressed unmap. */
    public int unmap(IoChannel<BdevChannel> ch, long offset, long length, IoCallback cb, Object arg) {
        int bs = bdev.blockSize;
        if (offset % bs != 0 || length % bs != 0) {
            return Errno.EINVAL;
        }
        return rangeIo(IoType.UNMAP, ch, offset / bs, length / bs, cb, arg);
    }

    /** Byte-addressed flush. */
    public int flush(IoChannel<BdevChannel> ch, long offset, long length, IoCallback cb, Object arg) {
        int bs = bdev.blockSize;
        if (offset % bs != 0 || length % bs != 0) {
            return Errno.EINVAL;
        }
        return rangeIo(IoType.FLUSH, ch, offset / bs, length / bs, cb, arg);
    }

    /** Flushes {@code numBlocks} blocks. */
    public int flushBlocks(IoChannel<BdevChannel> ch, long offsetBlocks, long numBlocks, IoCallback cb, Object arg) {
        return rangeIo(IoType.FLUSH, ch, offsetBlocks, numBlocks, cb, arg);
    }

    /**
     * Resets the bdev (SPDK's {@code spdk_bdev_reset}): every channel is frozen (new I/O completes ABORTED,
     * I/O queued in the layer is aborted); when the bdev has a {@link Bdev#resetIoDrainTimeout()} the reset
     * waits up to that many seconds for the I/O at the module to complete, and completes SUCCESS without
     * resetting the module if it does; otherwise (or with 0) the module resets; every channel is unfrozen, then
     * {@code cb} runs. Concurrent resets run one after the other. ENOTSUP when the module has no reset.
     */
    public int reset(IoChannel<BdevChannel> ch, IoCallback cb, Object arg) {
        BdevChannel bc = channelOf(ch);
        if (bc == null || cb == null) {
            return Errno.EINVAL;
        }
        if (closed) {
            return Errno.EBADF;
        }
        if (!bdev.supports(IoType.RESET)) {
            return Errno.ENOTSUP;
        }
        BdevIo io = take(bc);
        if (io == null) {
            return Errno.ENOMEM;
        }
        io.init(IoType.RESET, bc, 0, bdev.numBlocks(), cb, arg);
        ch.ref(); // the reset holds the channel for its whole life: a put by the caller meanwhile cannot destroy it
        io.resetChannelRef = ch;
        bc.submit(io);
        return 0;
    }

    /**
     * Aborts the I/O submitted on this channel with callback argument {@code target} (SPDK's
     * {@code spdk_bdev_abort}): it completes ABORTED if it was still queued in the layer (for QoS, a range lock,
     * module resources, pooled I/O of a split), was a compare_and_write that had not issued its write, or the
     * module could abort it; a split I/O completes ABORTED once, after its children still at the module. The abort
     * itself completes SUCCESS, or FAILED when nothing was aborted. ENOTSUP when the module has no abort and
     * nothing can be aborted in the layer (SPDK answers ENOTSUP whenever the module has no abort).
     */
    public int abort(IoChannel<BdevChannel> ch, Object target, IoCallback cb, Object arg) {
        BdevChannel bc = channelOf(ch);
        if (bc == null || cb == null || target == null) {
            return Errno.EINVAL;
        }
        if (closed) {
            return Errno.EBADF;
        }
        BdevIo io = take(bc);
        if (io == null) {
            return Errno.ENOMEM;
        }
        io.init(IoType.ABORT, bc, 0, 1, cb, arg);
        io.abortTarget = target;
        if (!bdev.supports(IoType.ABORT) && !bc.hasQueued(target)) {
            bc.mgmt.release(io);
            return Errno.ENOTSUP;
        }
        bc.submit(io);
        return 0;
    }

    /**
     * Submits an I/O on this descriptor that carries the data vector of {@code from}, an I/O a module received
     * for its own bdev: what SPDK's virtual bdevs do when they pass {@code bdev_io->u.bdev.iovs} on to
     * {@code spdk_bdev_readv_blocks} of their base. For stacked modules (passthru, split, raid, ...); call it on
     * the reactor {@code from} was submitted on, between its submit and its completion.
     *
     * <p>{@code type} may differ from {@code from}'s (raid1 writes the data of a read back to a failed base). The
     * range is {@code from.numBlocks()} blocks at {@code offsetBlocks} of this descriptor's bdev. READ, WRITE and
     * COMPARE move the data through {@code from}'s segments, which must add up to exactly that many blocks of this
     * bdev; UNMAP, WRITE_ZEROES and FLUSH carry no data. The segments are read during this call only; the memory
     * they point to must stay valid until {@code cb} runs (it is {@code from}'s, which the module completes
     * after). Returns, completes and fails exactly as the other submit methods do; RESET goes through
     * {@link #reset}.
     *
     * @return 0, or EINVAL (unsupported {@code type}, a range beyond the bdev, segments that do not add up, no
     *         callback), EBADF, ENOTSUP, ENOMEM as the other submit methods
     */
    public int forward(IoChannel<BdevChannel> ch, IoType type, io.spindle.bdev.spi.ModuleIo from, long offsetBlocks, IoCallback cb,
                       Object arg) {
        if (type == null || from == null) {
            return Errno.EINVAL;
        }
        if (type == IoType.READ || type == IoType.WRITE || type == IoType.COMPARE) {
            return forwardData(ch, type, from, offsetBlocks, cb, arg); // the stacked data path: kept small to inline
        }
        return switch (type) {
            case UNMAP, WRITE_ZEROES, FLUSH -> rangeIo(type, ch, offsetBlocks, from.numBlocks(), cb, arg);
            default -> Errno.EINVAL;
        };
    }

    /** {@link #forward} of a READ, WRITE or COMPARE: {@code from}'s segments, validated, carried by a new I/O. */
    private int forwardData(IoChannel<BdevChannel> ch, IoType type, io.spindle.bdev.spi.ModuleIo from, long offsetBlocks, IoCallback cb,
                            Object arg) {
        long numBlocks = from.numBlocks();
        BdevChannel bc = channelOf(ch);
        int rc = check(type, bc, offsetBlocks, numBlocks);
        if (rc != 0) {
            return rc;
        }
        int n = from.iovCount();
        if (cb == null || n <= 0 || n > BdevIo.MAX_IOV) {
            return Errno.EINVAL;
        }
        long total = 0;
        for (int i = 0; i < n; i++) {
            long len = from.iovLength(i);
            if (len <= 0) {
                return Errno.EINVAL;
            }
            total += len;
        }
        if (total != numBlocks * bdev.blockSize) {
            return Errno.EINVAL;
        }
        BdevIo io = take(bc);
        if (io == null) {
            return Errno.ENOMEM;
        }
        io.init(type, bc, offsetBlocks, numBlocks, cb, arg);
        for (int i = 0; i < n; i++) {
            io.addIov(from.iovAddress(i), from.iovLength(i));
        }
        bc.submit(io);
        return 0;
    }

    /**
     * Queues {@code entry} to be called back on this reactor when an I/O is free; allowed only right after a
     * submit returned ENOMEM on this reactor.
     *
     * @return 0, or EINVAL when I/O are available (submit again now) or the entry is already queued
     */
    public int queueIoWait(IoChannel<BdevChannel> ch, IoWaitEntry entry) {
        BdevChannel bc = channelOf(ch);
        if (bc == null) {
            return Errno.EINVAL;
        }
        return bc.mgmt.queueIoWait(entry);
    }

    // ------------------------------------------------------------------ validation

    private BdevChannel channelOf(IoChannel<BdevChannel> ch) {
        if (ch == null) {
            return null;
        }
        IoDevice<BdevChannel> dev = bdev.ioDevice;
        if (ch.device() != dev) {
            return null;
        }
        ch.reactor().assertCurrent("bdev I/O bdev=", bdev.name());
        return ch.context();
    }

    private int check(IoType type, BdevChannel bc, long offsetBlocks, long numBlocks) {
        if (bc == null) {
            return Errno.EINVAL;
        }
        if (closed || type.writes() && !writable) {
            return Errno.EBADF;
        }
        if (!bdev.supports(type)) {
            return Errno.ENOTSUP;
        }
        long n = bdev.numBlocks();
        if (offsetBlocks < 0 || numBlocks <= 0 || offsetBlocks >= n || numBlocks > n - offsetBlocks) {
            return Errno.EINVAL;
        }
        return 0;
    }

    private BdevIo take(BdevChannel bc) {
        // The pool is the reactor's own cache: like SPDK's per-thread cache it is never fenced by waiters.
        // Waiters still go first: release() hands a freed I/O to the oldest waiter before anyone else runs.
        return bc.mgmt.alloc();
    }

    private int bytesIo(IoType type, IoChannel<BdevChannel> ch, DmaBuffer buf, long bufOffset, long offset, long length, IoCallback cb,
                        Object arg) {
        int bs = bdev.blockSize;
        if ((bs & (bs - 1)) == 0) {
            // a power of two (the usual case): masks and shifts instead of four 64-bit divisions per I/O
            if (((offset | length) & (bs - 1)) != 0) {
                return Errno.EINVAL;
            }
            int shift = Integer.numberOfTrailingZeros(bs);
            return blocksIo(type, ch, buf, bufOffset, offset >> shift, length >> shift, cb, arg);
        }
        if (offset % bs != 0 || length % bs != 0) {
            return Errno.EINVAL;
        }
        return blocksIo(type, ch, buf, bufOffset, offset / bs, length / bs, cb, arg);
    }

    private int blocksIo(IoType type, IoChannel<BdevChannel> ch, DmaBuffer buf, long bufOffset, long offsetBlocks, long numBlocks,
                         IoCallback cb, Object arg) {
        BdevChannel bc = channelOf(ch);
        int rc = check(type, bc, offsetBlocks, numBlocks);
        if (rc != 0) {
            return rc;
        }
        if (cb == null || buf == null || bufOffset < 0 || bufOffset + numBlocks * bdev.blockSize > buf.capacity()) {
            return Errno.EINVAL;
        }
        BdevIo io = take(bc);
        if (io == null) {
            return Errno.ENOMEM;
        }
        io.init(type, bc, offsetBlocks, numBlocks, cb, arg);
        io.addIov(buf.address() + bufOffset, numBlocks * bdev.blockSize);
        bc.submit(io);
        return 0;
    }

    private int vectorIo(IoType type, IoChannel<BdevChannel> ch, IoVec[] iovs, int iovcnt, long offsetBlocks, long numBlocks,
                         IoCallback cb, Object arg) {
        BdevChannel bc = channelOf(ch);
        int rc = check(type, bc, offsetBlocks, numBlocks);
        if (rc != 0) {
            return rc;
        }
        if (cb == null || iovs == null || iovcnt <= 0 || iovcnt > iovs.length || iovcnt > BdevIo.MAX_IOV) {
            return Errno.EINVAL;
        }
        long total = 0;
        for (int i = 0; i < iovcnt; i++) {
            IoVec v = iovs[i];
            if (v == null || !v.valid()) {
                return Errno.EINVAL;
            }
            total += v.length();
        }
        if (total != numBlocks * bdev.blockSize) {
            return Errno.EINVAL;
        }
        BdevIo io = take(bc);
        if (io == null) {
            return Errno.ENOMEM;
        }
        io.init(type, bc, offsetBlocks, numBlocks, cb, arg);
        for (int i = 0; i < iovcnt; i++) {
            io.addIov(iovs[i].address(), iovs[i].length());
        }
        bc.submit(io);
        return 0;
    }

    private int rangeIo(IoType type, IoChannel<BdevChannel> ch, long offsetBlocks, long numBlocks, IoCallback cb, Object arg) {
        BdevChannel bc = channelOf(ch);
        int rc = check(type, bc, offsetBlocks, numBlocks);
        if (rc != 0) {
            return rc;
        }
        if (cb == null) {
            return Errno.EINVAL;
        }
        BdevIo io = take(bc);
        if (io == null) {
            return Errno.ENOMEM;
        }
        io.init(type, bc, offsetBlocks, numBlocks, cb, arg);
        bc.submit(io);
        return 0;
    }

    @Override
    public String toString() {
        return "BdevDescriptor[" + bdev.name() + "@" + reactor.name() + (writable ? ", rw" : ", ro") + (closed ? ", closed" : "") + "]";
    }
}
