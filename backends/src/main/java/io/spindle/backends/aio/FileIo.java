package io.spindle.backends.aio;

import net.openhft.chronicle.core.Jvm;
import net.openhft.chronicle.core.UnsafeMemory;
import net.openhft.posix.PosixAPI;

import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Positional I/O between an open file (or block device) and raw off-heap memory, with no allocation per call:
 * what {@code pread(2)}/{@code pwrite(2)}, {@code fdatasync(2)} and {@code fallocate(2)} are to SPDK's aio module.
 *
 * <p><b>How.</b> The JDK's own {@code pread0}/{@code pwrite0} natives of {@code sun.nio.ch.FileDispatcherImpl} (what
 * {@link FileChannel#read(ByteBuffer, long)} calls underneath) are bound once, as Chronicle's {@code OS.read0} binds
 * {@code read0}, and called with the caller's address: no {@code ByteBuffer}, no copy. When they cannot be bound (a
 * JDK that renamed them) every call falls back to {@link FileChannel} positional I/O through the calling thread's
 * aligned bounce buffer, which costs a copy ({@link #rawIo()} says which is in use). {@code fallocate} goes through
 * Chronicle's POSIX binding (jnr-ffi), on the file's descriptor number.
 *
 * <p><b>Threads.</b> Thread-safe (positional I/O has no shared position); meant for the aio I/O threads only: every
 * method blocks. Closing while I/O is in progress is the owner's error.
 */
final class FileIo implements AutoCloseable {
    /** {@code FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE} (linux/falloc.h). */
    static final int PUNCH_HOLE = 0x01 | 0x02;
    private static final int IOS_EOF = -1;
    private static final int IOS_UNAVAILABLE = -2;
    private static final int IOS_INTERRUPTED = -3;

    private static final MethodHandle PREAD0;
    private static final MethodHandle PWRITE0;
    private static final Field CHANNEL_FD;
    private static final Field FD_INT;

    static {
        MethodHandle r = null;
        MethodHandle w = null;
        Field cfd = null;
        Field ifd = null;
        try {
            Class<?> disp = Class.forName("sun.nio.ch.FileDispatcherImpl");
            Method pr = Jvm.getMethod(disp, "pread0", FileDescriptor.class, long.class, int.class, long.class);
            Method pw = Jvm.getMethod(disp, "pwrite0", FileDescriptor.class, long.class, int.class, long.class);
            r = MethodHandles.lookup().unreflect(pr);
            w = MethodHandles.lookup().unreflect(pw);
            cfd = Jvm.getField(Class.forName("sun.nio.ch.FileChannelImpl"), "fd");
            ifd = Jvm.getField(FileDescriptor.class, "fd");
        } catch (Throwable e) {
            org.slf4j.LoggerFactory.getLogger(FileIo.class).warn("aio: the JDK's pread0/pwrite0 cannot be bound ({}); file I/O copies through"
                    + " bounce buffers", e.toString());
            r = null;
            w = null;
        }
        PREAD0 = r;
        PWRITE0 = w;
        CHANNEL_FD = cfd;
        FD_INT = ifd;
    }

    private final Path path;
    private final FileChannel channel;
    private final FileDescriptor fd;
    private final int fdNumber;
    private final boolean direct;
    private final boolean raw;

    private FileIo(Path path, FileChannel channel, boolean direct, boolean allowRaw) {
        this.path = path;
        this.channel = channel;
        this.direct = direct;
        FileDescriptor f = null;
        int n = -1;
        if (CHANNEL_FD != null) {
            try {
                f = (FileDescriptor) CHANNEL_FD.get(channel);
                n = FD_INT.getInt(f);
            } catch (ReflectiveOperationException | RuntimeException e) {
                f = null;
            }
        }
        this.fd = f;
        this.fdNumber = n;
        this.raw = allowRaw && PREAD0 != null && f != null;
    }

    /**
     * Opens {@code path} for reading (and writing unless {@code readonly}), with {@code O_DIRECT} when
     * {@code direct}. A failed direct open (a file system without {@code O_DIRECT}, e.g. tmpfs) is the caller's to
     * retry without it, as SPDK's {@code bdev_aio_open} does.
     *
     * @param allowRaw false forces the bounce-buffer path (tests of the fallback)
     */
    static FileIo open(Path path, boolean readonly, boolean direct, boolean allowRaw) throws IOException {
        List<OpenOption> o = new ArrayList<>();
        o.add(StandardOpenOption.READ);
        if (!readonly) {
            o.add(StandardOpenOption.WRITE);
        }
        if (direct) {
            o.add(com.sun.nio.file.ExtendedOpenOption.DIRECT);
        }
        FileChannel ch = FileChannel.open(path, o.toArray(new OpenOption[0]));
        return new FileIo(path, ch, direct, allowRaw);
    }

    /** Whether the file was opened with {@code O_DIRECT}. */
    boolean direct() {
        return direct;
    }

    /** Whether I/O goes straight to the caller's memory (the JDK's natives were bound) rather than through a copy. */
    boolean rawIo() {
        return raw;
    }

    /** The path opened. */
    Path path() {
        return path;
    }

    /** The file's size in bytes ({@code fstat}; 0 for a block device, whose size comes from sysfs). */
    long size() throws IOException {
        return channel.size();
    }

    /**
     * Reads {@code len} bytes at file position {@code pos} into memory at {@code address}; blocks until all of them
     * arrived. {@code bounce} is the calling thread's aligned direct buffer, used only on the fallback path.
     *
     * @throws EOFException when the file ends first
     * @throws IOException  from the system call
     */
    void read(long address, long len, long pos, ByteBuffer bounce) throws IOException {
        if (!raw) {
            copyRead(address, len, pos, bounce);
            return;
        }
        while (len > 0) {
            int n = (int) Math.min(len, 1L << 30);
            int got;
            try {
                got = (int) PREAD0.invokeExact(fd, address, n, pos);
            } catch (IOException e) {
                throw e;
            } catch (Throwable e) {
                throw new IOException("pread0: " + e, e);
            }
            if (got == IOS_INTERRUPTED || got == IOS_UNAVAILABLE) {
                continue;
            }
            if (got == IOS_EOF) {
                throw new EOFException(path + ": end of file at " + pos + " (" + len + " bytes short)");
            }
            address += got;
            pos += got;
            len -= got;
        }
    }

    /** Writes {@code len} bytes from memory at {@code address} to file position {@code pos}; blocks until done. */
    void write(long address, long len, long pos, ByteBuffer bounce) throws IOException {
        if (!raw) {
            copyWrite(address, len, pos, bounce);
            return;
        }
        while (len > 0) {
            int n = (int) Math.min(len, 1L << 30);
            int put;
            try {
                put = (int) PWRITE0.invokeExact(fd, address, n, pos);
            } catch (IOException e) {
                throw e;
            } catch (Throwable e) {
                throw new IOException("pwrite0: " + e, e);
            }
            if (put == IOS_INTERRUPTED || put == IOS_UNAVAILABLE) {
                continue;
            }
            if (put <= 0) {
                throw new IOException(path + ": pwrite at " + pos + " wrote nothing");
            }
            address += put;
            pos += put;
            len -= put;
        }
    }

    private void copyRead(long address, long len, long pos, ByteBuffer bounce) throws IOException {
        while (len > 0) {
            int chunk = (int) Math.min(len, bounce.capacity());
            bounce.clear().limit(chunk);
            while (bounce.hasRemaining()) {
                int got = channel.read(bounce, pos + bounce.position());
                if (got < 0) {
                    throw new EOFException(path + ": end of file at " + (pos + bounce.position()));
                }
            }
            UnsafeMemory.MEMORY.copyMemory(Jvm.address(bounce), address, (long) chunk);
            address += chunk;
            pos += chunk;
            len -= chunk;
        }
    }

    private void copyWrite(long address, long len, long pos, ByteBuffer bounce) throws IOException {
        while (len > 0) {
            int chunk = (int) Math.min(len, bounce.capacity());
            bounce.clear().limit(chunk);
            UnsafeMemory.MEMORY.copyMemory(address, Jvm.address(bounce), (long) chunk);
            while (bounce.hasRemaining()) {
                channel.write(bounce, pos + bounce.position());
            }
            address += chunk;
            pos += chunk;
            len -= chunk;
        }
    }

    /** {@code fdatasync(2)}: the data written so far (and the metadata needed to read it) is on stable storage. */
    void fdatasync() throws IOException {
        channel.force(false);
    }

    /**
     * {@code fallocate(fd, KEEP_SIZE | PUNCH_HOLE, pos, len)}: the range reads back as zeroes and its blocks are
     * freed. Returns 0, or the positive errno (EOPNOTSUPP when the file system cannot punch holes; -1 when the
     * descriptor number is unknown).
     */
    int punchHole(long pos, long len) {
        if (fdNumber < 0) {
            return -1;
        }
        PosixAPI p = PosixAPI.posix();
        int rc = p.fallocate(fdNumber, PUNCH_HOLE, pos, len);
        return rc == 0 ? 0 : Math.max(1, p.lastError());
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
