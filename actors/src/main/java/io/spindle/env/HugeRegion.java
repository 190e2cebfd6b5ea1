package io.spindle.env;

import net.openhft.chronicle.core.OS;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * One mapping of huge pages made by {@link HugePages#map}: its address, its size (a multiple of the page size) and
 * its page size. The memory reads as zero until written.
 *
 * <p><b>Ownership:</b> the caller of {@link HugePages#map} owns it and must {@link #close()} it once nothing uses the
 * memory any more; the first close unmaps it (the pages go back to the pool), later ones do nothing. Any thread.
 */
public final class HugeRegion implements AutoCloseable {
    private final HugePages owner;
    private final long address;
    private final long size;
    private final long pageSize;
    private boolean closed;

    HugeRegion(HugePages owner, long address, long size, long pageSize) {
        this.owner = owner;
        this.address = address;
        this.size = size;
        this.pageSize = pageSize;
    }

    /** Address of byte 0 (aligned to the page size). */
    public long address() {
        return address;
    }

    /** Bytes mapped: the size asked for, rounded up to the page size. */
    public long size() {
        return size;
    }

    /** The huge page size backing it. */
    public long pageSize() {
        return pageSize;
    }

    /** Whether {@link #close()} ran. */
    public synchronized boolean isClosed() {
        return closed;
    }

    /**
     * Unmaps the region, once. Idempotent.
     *
     * @throws UncheckedIOException when munmap fails (the region is still counted closed: it is never unmapped twice)
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        owner.unmapped(this);
        try {
            OS.unmap(address, size, (int) Math.min(pageSize, 1 << 30));
        } catch (IOException e) {
            throw new UncheckedIOException("munmap address=0x" + Long.toHexString(address) + " size=" + size + " failed", e);
        }
    }

    @Override
    public String toString() {
        return "HugeRegion[address=0x" + Long.toHexString(address) + ", size=" + size + ", page=" + HugePages.sizeName(pageSize) + "]";
    }
}
