package io.spindle.backends.aio;

import com.sun.jna.Memory;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * One io_uring instance (Linux 5.6+, {@code include/uapi/linux/io_uring.h}), driven through {@link LibC}: the
 * submission queue (SQ), its array of entries (SQEs) and the completion queue (CQ) are mapped once and read and
 * written in place through Agrona {@link UnsafeBuffer}s, so queueing an I/O is a few stores and reaping is a few
 * loads, with no system call and no allocation; {@link #submit} is the one system call, made once per poller run.
 *
 * <pre>
 *  SQ ring:  head (kernel, getIntVolatile) | tail (ours, putIntOrdered) | mask | entries | flags | dropped | array[]
 *  SQE (64 bytes):  0 opcode u8 | 1 flags u8 | 2 ioprio u16 | 4 fd s32 | 8 off u64 | 16 addr u64 | 24 len u32
 *                   | 28 rw_flags/fsync_flags u32 | 32 user_data u64 | 40.. zero
 *  CQ ring:  head (ours, putIntOrdered) | tail (kernel, getIntVolatile) | mask | entries | overflow | cqes[]
 *  CQE (16 bytes):  0 user_data u64 | 8 res s32 | 12 flags u32
 * </pre>
 *
 * <p>The array of the SQ ring is filled once with the identity (slot i holds SQE i), so the SQE at {@code tail & mask}
 * is always the next one. The caller keeps at most {@link #entries()} requests in flight, so the SQ (which only ever
 * holds unsubmitted entries) cannot overflow, and the CQ (twice as large) cannot either.
 *
 * <p><b>Threads.</b> Not thread-safe: one owner thread (the channel's reactor) calls everything, {@link #close} last.
 */
final class IoUring implements AutoCloseable {
    static final byte IORING_OP_READV = 1;
    static final byte IORING_OP_WRITEV = 2;
    static final byte IORING_OP_FSYNC = 3;
    static final byte IORING_OP_READ = 22;
    static final byte IORING_OP_WRITE = 23;
    static final int IORING_FSYNC_DATASYNC = 1;
    static final int IORING_FEAT_SINGLE_MMAP = 1;
    /** {@code IORING_FEAT_RW_CUR_POS} arrived with Linux 5.6, as {@code IORING_OP_READ}/{@code WRITE}: our proxy for "has them". */
    static final int IORING_FEAT_RW_CUR_POS = 1 << 3;
    static final long IORING_OFF_SQ_RING = 0L;
    static final long IORING_OFF_CQ_RING = 0x8000000L;
    static final long IORING_OFF_SQES = 0x10000000L;
    static final int SQE_SIZE = 64;
    static final int CQE_SIZE = 16;
    /** Largest ring the kernel accepts ({@code IORING_MAX_ENTRIES}). */
    static final int MAX_ENTRIES = 32768;

    // io_uring_params (120 bytes)
    private static final int P_SQ_ENTRIES = 0;
    private static final int P_CQ_ENTRIES = 4;
    private static final int P_FEATURES = 20;
    private static final int P_SQ_OFF = 40;
    private static final int P_CQ_OFF = 80;
    private static final int PARAMS_SIZE = 120;
    private static final int P_FLAGS = 8;
    /** {@code IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG} (5.19+): completions without an IPI to the reactor. */
    static final int SETUP_COOP = (1 << 8) | (1 << 9);
    /** {@code IORING_SQ_TASKRUN}: completions wait for the task to enter the kernel. */
    static final int SQ_TASKRUN = 1 << 2;
    /** {@code IORING_ENTER_GETEVENTS}. */
    static final int ENTER_GETEVENTS = 1;
    /**
     * Rings are set up with {@link #SETUP_COOP} (falling back to none on a kernel that refuses it) unless
     * {@code -Dspindle.aio.uring-coop=false}: the kernel then posts completions when the reactor next enters it,
     * without interrupting it, and sets {@link #SQ_TASKRUN} so that {@link #reap} enters when nothing else would.
     */
    static final boolean COOP = !"false".equals(System.getProperty("spindle.aio.uring-coop"));

    /** The receiver of {@link #reap}: one call per completion, on the owner thread. */
    interface Completions {
        /** {@code res}: bytes moved or 0 for success, {@code -errno} on failure. */
        void onCompletion(long userData, int res);
    }

    private final int fd;
    private final int entries;
    private final long sqRingAddr;
    private final long sqRingLen;
    private final long cqRingAddr;
    private final long cqRingLen;
    private final long sqesAddr;
    private final long sqesLen;
    private final UnsafeBuffer sq;
    private final UnsafeBuffer cq;
    private final UnsafeBuffer sqes;
    private final int sqHeadOff;
    private final int sqTailOff;
    private final int sqFlagsOff;
    private final boolean coop;
    private final int sqMask;
    private final int cqHeadOff;
    private final int cqTailOff;
    private final int cqMask;
    private final int cqesOff;
    private final long[] scratch;
    private int sqTail;
    private int cqHead;
    private int unsubmitted;
    private boolean closed;

    private IoUring(int fd, int entries, long sqRingAddr, long sqRingLen, long cqRingAddr, long cqRingLen, long sqesAddr,
                    long sqesLen, UnsafeBuffer p) {
        this.fd = fd;
        this.entries = entries;
        this.sqRingAddr = sqRingAddr;
        this.sqRingLen = sqRingLen;
        this.cqRingAddr = cqRingAddr;
        this.cqRingLen = cqRingLen;
        this.sqesAddr = sqesAddr;
        this.sqesLen = sqesLen;
        this.sq = new UnsafeBuffer(sqRingAddr, (int) sqRingLen);
        this.cq = new UnsafeBuffer(cqRingAddr, (int) cqRingLen);
        this.sqes = new UnsafeBuffer(sqesAddr, (int) sqesLen);
        this.scratch = new long[entries];
        this.sqHeadOff = p.getInt(P_SQ_OFF);
        this.sqTailOff = p.getInt(P_SQ_OFF + 4);
        this.sqFlagsOff = p.getInt(P_SQ_OFF + 16);
        this.coop = (p.getInt(P_FLAGS) & SETUP_COOP) != 0;
        this.sqMask = sq.getInt(p.getInt(P_SQ_OFF + 8));
        int sqArrayOff = p.getInt(P_SQ_OFF + 24);
        this.cqHeadOff = p.getInt(P_CQ_OFF);
        this.cqTailOff = p.getInt(P_CQ_OFF + 4);
        this.cqMask = cq.getInt(p.getInt(P_CQ_OFF + 8));
        this.cqesOff = p.getInt(P_CQ_OFF + 20);
        for (int i = 0; i < entries; i++) {
            sq.putInt(sqArrayOff + 4 * i, i); // identity: SQE i sits in slot i; the kernel reads it after our tail store
        }
        this.sqTail = sq.getIntVolatile(sqTailOff);
        this.cqHead = cq.getIntVolatile(cqHeadOff);
    }

    /**
     * Why io_uring cannot be used here, or null when it can: JNA bound libc, and {@code io_uring_setup} works and
     * reports a kernel with {@code IORING_OP_READ}/{@code WRITE} (5.6+). Makes and closes a 2-entry ring. Any thread.
     */
    static String probe() {
        if (LibC.UNAVAILABLE != null) {
            return LibC.UNAVAILABLE;
        }
        try {
            UnsafeBuffer p = params();
            long fd = LibC.syscall(LibC.SYS_IO_URING_SETUP, 2, p.addressOffset(), 0, 0, 0, 0);
            if (fd < 0) {
                return "io_uring_setup failed: errno=" + LibC.errno();
            }
            LibC.close((int) fd);
            if ((p.getInt(P_FEATURES) & IORING_FEAT_RW_CUR_POS) == 0) {
                return "io_uring features=0x" + Integer.toHexString(p.getInt(P_FEATURES)) + ": kernel older than 5.6 (no IORING_OP_READ)";
            }
            return null;
        } catch (Throwable e) {
            return "io_uring probe failed: " + e;
        }
    }

    private static UnsafeBuffer params() {
        // control plane only; a direct buffer the GC frees
        ByteBuffer b = ByteBuffer.allocateDirect(PARAMS_SIZE).order(ByteOrder.nativeOrder());
        return new UnsafeBuffer(b);
    }

    /**
     * Sets up a ring of {@code entries} SQEs (a power of two) and maps it. The kernel takes 1..{@value #MAX_ENTRIES}
     * and refuses more with EINVAL (no {@code IORING_SETUP_CLAMP}); that bound is the kernel's to enforce, so a ring
     * it refuses is a {@link UringException} like any other refusal.
     *
     * @return the ring
     * @throws UringException with the errno when the kernel refuses (ENOMEM, EMFILE, EINVAL, ...)
     * @throws IllegalArgumentException when {@code entries} is not a positive power of two
     */
    static IoUring create(int entries) throws UringException {
        if (entries < 1 || Integer.bitCount(entries) != 1) {
            throw new IllegalArgumentException("entries=" + entries + ": must be a power of two >= 1");
        }
        UnsafeBuffer p = params();
        long r = -1;
        if (COOP) {
            p.putInt(P_FLAGS, SETUP_COOP);
            r = LibC.syscall(LibC.SYS_IO_URING_SETUP, entries, p.addressOffset(), 0, 0, 0, 0);
            if (r < 0) {
                p = params(); // an older kernel: plain ring
            }
        }
        if (r < 0) {
            r = LibC.syscall(LibC.SYS_IO_URING_SETUP, entries, p.addressOffset(), 0, 0, 0, 0);
        }
        if (r < 0) {
            throw new UringException("io_uring_setup entries=" + entries, LibC.errno());
        }
        int fd = (int) r;
        long sqAddr = LibC.MAP_FAILED;
        long cqAddr = LibC.MAP_FAILED;
        long sqesAddr = LibC.MAP_FAILED;
        int sqEntries = p.getInt(P_SQ_ENTRIES);
        int cqEntries = p.getInt(P_CQ_ENTRIES);
        long sqLen = p.getInt(P_SQ_OFF + 24) + 4L * sqEntries;
        long cqLen = p.getInt(P_CQ_OFF + 20) + (long) CQE_SIZE * cqEntries;
        long sqesLen = (long) SQE_SIZE * sqEntries;
        boolean single = (p.getInt(P_FEATURES) & IORING_FEAT_SINGLE_MMAP) != 0;
        if (single) {
            sqLen = Math.max(sqLen, cqLen);
            cqLen = sqLen;
        }
        try {
            sqAddr = map(fd, sqLen, IORING_OFF_SQ_RING, "SQ ring");
            cqAddr = single ? sqAddr : map(fd, cqLen, IORING_OFF_CQ_RING, "CQ ring");
            sqesAddr = map(fd, sqesLen, IORING_OFF_SQES, "SQEs");
            return new IoUring(fd, sqEntries, sqAddr, sqLen, cqAddr, cqLen, sqesAddr, sqesLen, p);
        } catch (UringException | RuntimeException e) {
            if (sqesAddr != LibC.MAP_FAILED) {
                LibC.munmap(sqesAddr, sqesLen);
            }
            if (cqAddr != LibC.MAP_FAILED && cqAddr != sqAddr) {
                LibC.munmap(cqAddr, cqLen);
            }
            if (sqAddr != LibC.MAP_FAILED) {
                LibC.munmap(sqAddr, sqLen);
            }
            LibC.close(fd);
            throw e;
        }
    }

    private static long map(int fd, long len, long offset, String what) throws UringException {
        long a = LibC.mmap(0, len, LibC.PROT_READ_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, fd, offset);
        if (a == LibC.MAP_FAILED) {
            throw new UringException("mmap of the io_uring " + what + " length=" + len, LibC.errno());
        }
        return a;
    }

    /**
     * Opens {@code path} with {@code openat(2)} for the ring's I/O: read-only or read-write, {@code O_DIRECT} when
     * {@code direct}, close-on-exec. Control plane (blocking).
     *
     * @return the descriptor
     * @throws UringException with the errno
     */
    static int open(String path, boolean readonly, boolean direct) throws UringException {
        byte[] name = path.getBytes(StandardCharsets.UTF_8);
        Memory m = new Memory(name.length + 1L); // control plane; freed by the GC
        m.write(0, name, 0, name.length);
        m.setByte(name.length, (byte) 0);
        int flags = (readonly ? LibC.O_RDONLY : LibC.O_RDWR) | (direct ? LibC.O_DIRECT : 0) | LibC.O_CLOEXEC;
        long fd = LibC.syscall(LibC.SYS_OPENAT, LibC.AT_FDCWD, com.sun.jna.Pointer.nativeValue(m), flags, 0, 0, 0);
        if (fd < 0) {
            throw new UringException("open " + path + " flags=0x" + Integer.toHexString(flags), LibC.errno());
        }
        return (int) fd;
    }

    /** The number of SQEs (the most requests the owner keeps in flight). */
    int entries() {
        return entries;
    }

    /** SQEs queued and not yet handed to the kernel. */
    int unsubmitted() {
        return unsubmitted;
    }

    /**
     * Fills the next SQE and makes it visible to the kernel (the tail store is ordered after the SQE's stores); the
     * kernel takes it at the next {@link #submit}. The owner guarantees a free SQE (at most {@link #entries()} in flight).
     *
     * @param fd        the file
     * @param op        an {@code IORING_OP_*}
     * @param addr      buffer address ({@code READ}/{@code WRITE}) or iovec array ({@code READV}/{@code WRITEV}); 0 for FSYNC
     * @param len       bytes, or iovec count; 0 for FSYNC
     * @param off       file offset
     * @param opFlags   {@code rw_flags} / {@code fsync_flags}
     * @param userData  comes back in the completion
     */
    void queue(int fd, byte op, long addr, int len, long off, int opFlags, long userData) {
        int o = (sqTail & sqMask) * SQE_SIZE;
        sqes.setMemory(o, SQE_SIZE, (byte) 0);
        sqes.putByte(o, op);
        sqes.putInt(o + 4, fd);
        sqes.putLong(o + 8, off);
        sqes.putLong(o + 16, addr);
        sqes.putInt(o + 24, len);
        sqes.putInt(o + 28, opFlags);
        sqes.putLong(o + 32, userData);
        sqTail++;
        sq.putIntOrdered(sqTailOff, sqTail);
        unsubmitted++;
    }

    /**
     * Hands the queued SQEs to the kernel: one {@code io_uring_enter(fd, n, 0, 0)}, no waiting. Returns how many it
     * took (0 when none were queued, or on EAGAIN/EBUSY/EINTR, retried on the next call: they stay queued).
     *
     * @throws UringException on any other errno (a broken ring)
     */
    int submit() throws UringException {
        int n = unsubmitted;
        if (n == 0) {
            return 0;
        }
        long r = LibC.syscall(LibC.SYS_IO_URING_ENTER, fd, n, 0, 0, 0, 0);
        if (r < 0) {
            int e = LibC.errno();
            if (e == LibC.EAGAIN || e == LibC.EBUSY || e == LibC.EINTR) {
                return 0;
            }
            throw new UringException("io_uring_enter to_submit=" + n, e);
        }
        unsubmitted -= (int) r;
        return (int) r;
    }

    /**
     * Hands every completion the kernel posted to {@code c}, then frees their CQ slots (one ordered store of our
     * head). No system call. Returns how many.
     */
    int reap(Completions c) {
        if (coop && unsubmitted == 0 && (sq.getIntVolatile(sqFlagsOff) & SQ_TASKRUN) != 0) {
            LibC.syscall(LibC.SYS_IO_URING_ENTER, fd, 0, 0, ENTER_GETEVENTS, 0, 0); // run the pending completions
        }
        int tail = cq.getIntVolatile(cqTailOff); // acquire: the CQEs up to tail are written
        if (cqHead == tail) {
            return 0;
        }
        int n = 0;
        // the field, not a local, and "tail - head > 0": a callback that reaps again (a channel destroyed from a
        // completion) takes the next CQEs itself, and this loop goes on after them
        while (tail - cqHead > 0) {
            int o = cqesOff + (cqHead & cqMask) * CQE_SIZE;
            long userData = cq.getLong(o);
            int res = cq.getInt(o + 8);
            cqHead++;
            n++;
            c.onCompletion(userData, res);
        }
        cq.putIntOrdered(cqHeadOff, cqHead); // release: the kernel may reuse the slots
        return n;
    }

    /**
     * After a failed {@link #submit}: takes back the SQEs the kernel never saw (the tail is ours; without SQPOLL the
     * kernel reads SQEs only inside {@code io_uring_enter}) and reports each to {@code c} with {@code -errno}.
     */
    void rewindUnsubmitted(Completions c, int errno) {
        int n = unsubmitted;
        int from = sqTail - n;
        for (int k = 0; k < n; k++) {
            scratch[k] = sqes.getLong(((from + k) & sqMask) * SQE_SIZE + 32);
        }
        sqTail = from;
        sq.putIntOrdered(sqTailOff, sqTail);
        unsubmitted = 0;
        for (int k = 0; k < n; k++) {
            c.onCompletion(scratch[k], -Math.max(1, errno)); // the callbacks may queue again: user_data read first
        }
    }

    /** Unmaps the rings and closes the ring's descriptor (the kernel cancels what is still in flight). Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        LibC.munmap(sqesAddr, sqesLen);
        if (cqRingAddr != sqRingAddr) {
            LibC.munmap(cqRingAddr, cqRingLen);
        }
        LibC.munmap(sqRingAddr, sqRingLen);
        LibC.close(fd);
    }

    /** A failed io_uring system call, with its errno. */
    static final class UringException extends Exception {
        private static final long serialVersionUID = 1L;
        final int errno;

        UringException(String what, int errno) {
            super(what + ": errno=" + errno);
            this.errno = errno;
        }
    }
}
