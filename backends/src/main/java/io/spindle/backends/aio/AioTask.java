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
    }

    /** I/O thread: performs the system calls, records the status, hands the task back to its channel. */
    @Override
    public void run(IoThreads.Scratch b) {
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
