package io.spindle.backends.aio;

import io.spindle.backends.IoThreads;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.ModuleIo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * The aio module's per-I/O context (SPDK's {@code struct bdev_aio_task}): made once per pooled I/O by
 * {@link AioModule#newIoContext()}, so submitting allocates nothing. The submitting reactor fills it
 * ({@link #prepare}: a copy of the I/O's range and data vector, so the I/O thread never reads the bdev layer's
 * objects), an I/O thread {@link #run}s the system calls and records the status, then hands it back to the
 * channel, whose reactor completes the I/O.
 *
 * <p><b>Ownership.</b> The submitting reactor until {@link IoThreads#submit}; the I/O thread until it hands the task
 * to its channel's {@link io.spindle.backends.ReactorInbox}; the reactor again from there. The queues in between
 * publish the fields.
 */
final class AioTask implements IoThreads.Task {
    private static final Logger LOG = LoggerFactory.getLogger(AioTask.class);

    ModuleIo io;
    AioModule.Disk disk;
    AioModule.Channel channel;
    IoType type;
    long pos;
    long len;
    int iovCnt;
    final long[] iovAddr = new long[BdevIo.MAX_IOV];
    final long[] iovLen = new long[BdevIo.MAX_IOV];
    IoStatus status;
    /** io_uring engine: bytes transferred so far (a short read or write continues from here). */
    long done;
    /** io_uring engine: the ring slot while the task is at the kernel, else -1. */
    int slot = -1;
    /** io_uring engine: the positive errno of a failed completion (0: the file ended before the I/O did). */
    int errno;
    /** io_uring engine: {@link #run} only reports the failure and checks for a removed device. */
    boolean failedAtRing;
    /** io_uring engine: iovec array for READV/WRITEV ({@link #IOVEC_BYTES}), made on the task's first multi-iovec I/O. */
    private java.nio.ByteBuffer iovecs;
    private long iovecsAddress;
    /** The size of the preallocated iovec array: {@code struct iovec} (16 bytes) times {@link BdevIo#MAX_IOV}. */
    static final int IOVEC_BYTES = 16 * BdevIo.MAX_IOV;
    /** The I/O failed and the device now reports size 0: it is gone (SPDK's hot-remove detection). */
    boolean detached;

    /** Reactor side: copies what the I/O thread needs. */
    void prepare(ModuleIo io, AioModule.Disk disk, AioModule.Channel channel) {
        this.io = io;
        this.disk = disk;
        this.channel = channel;
        this.type = io.type();
        int bs = io.bdev().blockSize();
        this.pos = io.offsetBlocks() * bs;
        this.len = io.numBlocks() * bs;
        int n = io.iovCount();
        this.iovCnt = n;
        for (int i = 0; i < n; i++) {
            iovAddr[i] = io.iovAddress(i);
            iovLen[i] = io.iovLength(i);
        }
        this.status = null;
        this.detached = false;
        this.done = 0;
        this.errno = 0;
        this.failedAtRing = false;
    }

    /**
     * The address of this task's iovec array: a direct buffer made on the first I/O that needs it and kept for the
     * task's life (tasks live as long as the layer's I/O pool), so steady state allocates nothing. Reactor.
     */
    long iovecs() {
        if (iovecs == null) {
            iovecs = java.nio.ByteBuffer.allocateDirect(IOVEC_BYTES);
            iovecsAddress = new org.agrona.concurrent.UnsafeBuffer(iovecs).addressOffset();
        }
        return iovecsAddress;
    }

    /** I/O thread: performs the system calls, records the status, hands the task back to its channel. */
    @Override
    public void run(IoThreads.Scratch b) {
        if (failedAtRing) { // io_uring said no: report it and look whether the device is gone, off the reactor
            status = IoStatus.FAILED;
            detached = disk.looksRemoved();
            disk.reportError(this, new IOException(errno == 0 ? "io_uring: end of file after " + done + " bytes"
                    : "io_uring: errno=" + errno));
            channel.inbox.offer(this);
            return;
        }
        FileIo f = disk.file;
        try {
            switch (type) {
                case READ -> {
                    long p = pos;
                    for (int i = 0; i < iovCnt; i++) {
                        f.read(iovAddr[i], iovLen[i], p, b.bounce());
                        p += iovLen[i];
                    }
                }
                case WRITE -> {
                    long p = pos;
                    for (int i = 0; i < iovCnt; i++) {
                        f.write(iovAddr[i], iovLen[i], p, b.bounce());
                        p += iovLen[i];
                    }
                }
                case FLUSH -> f.fdatasync();
                case UNMAP, WRITE_ZEROES -> disk.zero(pos, len, b);
                default -> throw new IOException("aio: unexpected I/O type " + type);
            }
            status = IoStatus.SUCCESS;
        } catch (IOException | RuntimeException e) {
            status = IoStatus.FAILED;
            detached = disk.looksRemoved();
            disk.reportError(this, e);
        }
        channel.inbox.offer(this); // the last touch: from here the reactor owns the task
    }

    @Override
    public String toString() {
        return "AioTask[" + type + " " + (disk == null ? "?" : disk.name) + " pos=" + pos + " len=" + len + "]";
    }

    static Logger log() {
        return LOG;
    }
}
