package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import net.openhft.chronicle.core.UnsafeMemory;

/**
 * Split, bounce and emulation for one {@link BdevChannel}: an I/O the module cannot take as it is becomes a parent
 * that issues child I/O, one slice at a time, and completes when the last child did:
 * <ul>
 * <li><b>split</b>: a read or write that crosses the bdev's {@code optimal_io_boundary} or exceeds
 *     {@code max_rw_size} goes as slices of the caller's vector (SPDK's {@code bdev_io_split});</li>
 * <li><b>bounce</b>: a read or write whose buffers break the bdev's {@code required_alignment} goes through the
 *     reactor's bounce buffers, copied in before a write and out after a read (SPDK's bounce buffers);</li>
 * <li><b>emulation</b>: write_zeroes without native support writes a shared zero buffer, compare without native
 *     support reads into a bounce buffer and compares with the caller's buffers (MISCOMPARE on a difference).</li>
 * </ul>
 * A child is timed and counted on its own, as the type it went as; the parent counts only through its children.
 * When the pool has no free I/O or no bounce buffer is free, the parent waits in the mgmt's split queue and goes on
 * when an I/O is released. The first failing child's status becomes the parent's, and no more children are issued.
 *
 * <p>Threading and ownership: made by and owned by its {@link BdevChannel}; used only on the channel's reactor. The
 * split state lives in the parent I/O; the buffers are the reactor's {@link BdevMgmt}'s.
 */
final class SplitAndBounce {
    private final BdevChannel ch;

    SplitAndBounce(BdevChannel ch) {
        this.ch = ch;
    }

    /** Whether one of the caller's segments breaks alignment {@code align} (a power of two) in address or length. */
    static boolean misaligned(BdevIo io, int align) {
        long mask = align - 1;
        for (int i = 0; i < io.iovCnt; i++) {
            if ((io.iovAddress(i) & mask) != 0 || (io.iovLength(i) & mask) != 0) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code n} blocks at {@code offset} cross the bdev's optimal I/O boundary or exceed its max_rw_size. */
    static boolean needsSplit(Bdev bdev, long offset, long n) {
        long b = bdev.optimalIoBoundary;
        if (b > 0 && crossesBoundary(b, offset, n)) {
            return true;
        }
        return bdev.maxRwSize > 0 && n > bdev.maxRwSize;
    }

    /**
     * Whether {@code n >= 1} blocks at {@code offset >= 0} cross a multiple of {@code boundary > 0}. A power-of-two
     * boundary (raid strips are) compares the first and last block above its bit; any other divides.
     */
    static boolean crossesBoundary(long boundary, long offset, long n) {
        long last = offset + n - 1;
        return (boundary & (boundary - 1)) == 0 ? (offset ^ last) >= boundary : offset / boundary != last / boundary;
    }

    /** Starts {@code parent}'s children from its first block. */
    void start(BdevIo parent) {
        parent.splitNext = parent.offsetBlocks;
        parent.splitRemaining = parent.numBlocks;
        parent.splitIov = 0;
        parent.splitIovOff = 0;
        parent.childrenOutstanding = 0;
        parent.splitStatus = IoStatus.SUCCESS;
        resume(parent);
    }

    /** Issues children until the range is covered or the pool runs dry (then resumes when an I/O frees). */
    void resume(BdevIo parent) {
        BdevMgmt mgmt = ch.mgmt;
        Bdev bdev = ch.bdev;
        int bs = bdev.blockSize;
        long now = System.nanoTime(); // the children's submit time: each is timed and counted on its own, as SPDK's
        while (parent.splitRemaining > 0 && parent.splitStatus == IoStatus.SUCCESS) {
            long n = childBlocks(parent);
            BdevIo child = mgmt.alloc();
            if (child == null) {
                mgmt.waitForSplit(parent);
                return;
            }
            child.init(parent.type, ch, parent.splitNext, n, null, parent.cbArg); // the argument an abort matches
            child.parent = parent;
            child.submitNanos = now;
            switch (parent.type) {
                case WRITE_ZEROES -> {
                    child.type = IoType.WRITE;
                    child.addIov(mgmt.zeroes().address(), n * bs);
                }
                case COMPARE -> {
                    DmaBuffer b = mgmt.takeBounce();
                    if (b == null) {
                        mgmt.release(child);
                        mgmt.waitForSplit(parent);
                        return;
                    }
                    child.type = IoType.READ;
                    child.bounce = b;
                    child.addIov(b.address(), n * bs);
                    child.splitIov = parent.splitIov;
                    child.splitIovOff = parent.splitIovOff;
                    advanceIov(parent, n * bs);
                }
                default -> {
                    if (parent.bounceMode) {
                        DmaBuffer b = mgmt.takeBounce();
                        if (b == null) {
                            mgmt.release(child);
                            mgmt.waitForSplit(parent);
                            return;
                        }
                        child.bounce = b;
                        child.addIov(b.address(), n * bs);
                        child.splitIov = parent.splitIov;
                        child.splitIovOff = parent.splitIovOff;
                        if (parent.type == IoType.WRITE) {
                            copyBetween(parent, child.splitIov, child.splitIovOff, b.address(), n * bs, true);
                        }
                        advanceIov(parent, n * bs);
                        break;
                    }
                    if (!copyIovs(parent, child, n * bs)) {
                        mgmt.release(child);
                        parent.splitStatus = IoStatus.FAILED;
                        break;
                    }
                }
            }
            if (parent.splitStatus != IoStatus.SUCCESS) {
                break;
            }
            parent.splitNext += n;
            parent.splitRemaining -= n;
            parent.childrenOutstanding++;
            parent.hasChildren = true;
            if (child.type == IoType.READ || child.type == IoType.WRITE) {
                if (needsSplit(bdev, child.offsetBlocks, child.numBlocks) && parent.type != IoType.READ && parent.type != IoType.WRITE) {
                    // emulation children already respect the limits by construction (see childBlocks)
                    BdevLayer.LOG.debug("child beyond limits {}", child);
                }
            }
            if (parent.type == IoType.WRITE_ZEROES || parent.type == IoType.COMPARE) {
                ch.submits.dispatchCharged(child); // an emulation's child is a read or write QoS charges
            } else {
                ch.submits.dispatch(child); // a read's or write's slice: QoS charged the parent as a whole
            }
        }
        if (parent.childrenOutstanding == 0 && (parent.splitRemaining == 0 || parent.splitStatus != IoStatus.SUCCESS)) {
            completeParent(parent);
        }
    }

    private long childBlocks(BdevIo parent) {
        Bdev bdev = ch.bdev;
        long n = parent.splitRemaining;
        long b = bdev.optimalIoBoundary;
        if (b > 0) {
            n = Math.min(n, b - parent.splitNext % b);
        }
        if (bdev.maxRwSize > 0) {
            n = Math.min(n, bdev.maxRwSize);
        }
        if (parent.type == IoType.WRITE_ZEROES || parent.type == IoType.COMPARE || parent.bounceMode) {
            n = Math.min(n, BdevMgmt.BOUNCE_SIZE / bdev.blockSize);
        }
        return Math.max(1, n);
    }

    /** Copies the next {@code bytes} of the parent's vector into the child's. */
    private static boolean copyIovs(BdevIo parent, BdevIo child, long bytes) {
        while (bytes > 0) {
            if (child.iovCnt == BdevIo.MAX_IOV || parent.splitIov >= parent.iovCnt) {
                return false;
            }
            long avail = parent.iovLength(parent.splitIov) - parent.splitIovOff;
            long take = Math.min(avail, bytes);
            child.addIov(parent.iovAddress(parent.splitIov) + parent.splitIovOff, take);
            bytes -= take;
            advanceIov(parent, take);
        }
        return true;
    }

    private static void advanceIov(BdevIo parent, long bytes) {
        while (bytes > 0 && parent.splitIov < parent.iovCnt) {
            long avail = parent.iovLength(parent.splitIov) - parent.splitIovOff;
            long take = Math.min(avail, bytes);
            parent.splitIovOff += take;
            bytes -= take;
            if (parent.splitIovOff == parent.iovLength(parent.splitIov)) {
                parent.splitIov++;
                parent.splitIovOff = 0;
            }
        }
    }

    /** A child of a split, bounced or emulated {@code parent} completed (its stats are counted already). */
    void childDone(BdevIo parent, BdevIo child) {
        IoStatus st = child.status;
        if (st == IoStatus.SUCCESS && parent.bounceMode && parent.type == IoType.READ) {
            copyBetween(parent, child.splitIov, child.splitIovOff, child.bounce.address(), child.numBlocks * ch.bdev.blockSize, false);
        }
        if (st == IoStatus.SUCCESS && parent.type == IoType.COMPARE && !compareEqual(parent, child)) {
            st = IoStatus.MISCOMPARE;
        }
        if (st != IoStatus.SUCCESS && parent.splitStatus == IoStatus.SUCCESS) {
            parent.splitStatus = st;
        }
        parent.childrenOutstanding--;
        ch.mgmt.release(child);
        if (parent.childrenOutstanding == 0 && (parent.splitRemaining == 0 || parent.splitStatus != IoStatus.SUCCESS)) {
            completeParent(parent);
        }
    }

    /** Compares the child's bounce buffer with the parent's caller buffers at the child's vector position. */
    private static boolean compareEqual(BdevIo parent, BdevIo child) {
        long remaining = child.numBlocks * child.bdev.blockSize;
        long src = child.bounce.address();
        int iov = child.splitIov;
        long off = child.splitIovOff;
        UnsafeMemory mem = UnsafeMemory.MEMORY;
        while (remaining > 0) {
            long take = Math.min(parent.iovLength(iov) - off, remaining);
            long a = parent.iovAddress(iov) + off;
            long i = 0;
            for (; i + 8 <= take; i += 8) {
                if (mem.readLong(a + i) != mem.readLong(src + i)) {
                    return false;
                }
            }
            for (; i < take; i++) {
                if (mem.readByte(a + i) != mem.readByte(src + i)) {
                    return false;
                }
            }
            src += take;
            remaining -= take;
            off += take;
            if (off == parent.iovLength(iov)) {
                iov++;
                off = 0;
            }
        }
        return true;
    }

    /** Copies {@code len} bytes between the parent's vector (from position iov/off) and {@code flat}. */
    private static void copyBetween(BdevIo parent, int iov, long off, long flat, long len, boolean toFlat) {
        UnsafeMemory mem = UnsafeMemory.MEMORY;
        while (len > 0) {
            long take = Math.min(parent.iovLength(iov) - off, len);
            long a = parent.iovAddress(iov) + off;
            if (toFlat) {
                mem.copyMemory(a, flat, take);
            } else {
                mem.copyMemory(flat, a, take);
            }
            flat += take;
            len -= take;
            off += take;
            if (off == parent.iovLength(iov)) {
                iov++;
                off = 0;
            }
        }
    }

    private void completeParent(BdevIo parent) {
        parent.completed = true;
        parent.status = parent.splitStatus;
        ch.submits.finishOrDefer(parent);
    }
}
