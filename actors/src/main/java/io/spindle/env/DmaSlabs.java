package io.spindle.env;

/**
 * Huge-page memory for DMA buffers, carved from slabs so a small buffer does not take a whole huge page: SPDK's
 * buffers come from its hugepage heap the same way. A slab is one huge page (at least 2 MiB); buffers are carved from
 * the current slab front to back at their alignment (a bump pointer). A buffer that does not fit in what is left
 * starts a new slab, and one larger than a slab gets a mapping of its own (rounded up to the page size). A slab counts
 * its live buffers and is unmapped when the last one is released, except the current slab, which is kept mapped
 * (empty, for the next buffers; at most one per process) so that allocate/close cycles do not map and unmap a page
 * each time. Space freed in a slab is reused only once the whole slab is free: fine for what allocates here (pools
 * that keep their buffers: bdevperf's tasks, the iobuf caches, the server's buffer pools), and a slab pinned by one
 * long-lived buffer costs one huge page at most.
 *
 * <p>When {@link HugePages} gives no pages (policy off, no mount, no free pages), {@link #carve} returns null and the
 * caller uses normal memory.
 *
 * <p><b>Threads:</b> any; one lock around the bump pointer and the counts (allocation is a control-plane or pool-fill
 * event, never per I/O). <b>Ownership:</b> the caller of {@link #carve} owns the {@link Chunk} and releases it once.
 */
public final class DmaSlabs {
    private static final DmaSlabs PROCESS = new DmaSlabs(HugePages.process());

    private final HugePages pages;
    private Slab current;

    DmaSlabs(HugePages pages) {
        this.pages = pages;
    }

    /** The process-wide arena {@code DmaBuffer} allocates from. */
    public static DmaSlabs process() {
        return PROCESS;
    }

    /** One slab: its mapping, the bump offset and the count of live buffers in it. Guarded by the arena's lock. */
    private static final class Slab {
        final HugeRegion region;
        long used;
        int live;

        Slab(HugeRegion region) {
            this.region = region;
        }
    }

    /** A buffer carved from a slab: its address; {@link #release()} gives it back, once. */
    public final class Chunk {
        private final Slab slab;
        private final long address;
        private boolean released;

        private Chunk(Slab slab, long address) {
            this.slab = slab;
            this.address = address;
        }

        /** Address of the buffer's byte 0, at the alignment asked for. */
        public long address() {
            return address;
        }

        /** "hugetlbfs 2MiB": what backs it. */
        public String backing() {
            return "hugetlbfs " + HugePages.sizeName(slab.region.pageSize());
        }

        /** Gives the buffer back; the slab is unmapped when it was its last one (and it is not the current slab). Idempotent. */
        public void release() {
            DmaSlabs.this.release(this);
        }
    }

    /**
     * {@code size} bytes at {@code alignment} (a power of two no larger than the page size) from huge pages, or null
     * when huge pages are not to be had (the caller then uses normal memory; {@link HugePages} logged why once).
     */
    public Chunk carve(long size, int alignment) {
        if (pages.mode() == HugePages.Mode.OFF) {
            return null;
        }
        HugePages.Mount m = pages.mount();
        if (m == null) {
            pages.map(size, "DMA buffers"); // logs the fallback once, returns null
            return null;
        }
        long slabSize = Math.max(m.pageSize(), 2L << 20);
        if (size + alignment > slabSize) {
            HugeRegion own = pages.map(size, "a DMA buffer of " + size + " bytes");
            if (own == null) {
                return null;
            }
            Slab s = new Slab(own);
            synchronized (this) {
                s.used = own.size();
                s.live = 1;
            }
            return new Chunk(s, own.address()); // a region's address is page-aligned: any alignment up to the page
        }
        synchronized (this) {
            Slab s = current;
            long at = s == null ? -1 : align(s.region.address() + s.used, alignment);
            if (s == null || at + size > s.region.address() + s.region.size()) {
                HugeRegion r = pages.map(slabSize, "DMA buffer slabs");
                if (r == null) {
                    return null;
                }
                if (s != null && s.live == 0) {
                    s.region.close(); // the old current slab held no buffer: nothing will release it later
                }
                s = new Slab(r);
                current = s;
                at = align(r.address(), alignment);
            }
            s.used = at + size - s.region.address();
            s.live++;
            return new Chunk(s, at);
        }
    }

    private void release(Chunk c) {
        HugeRegion unmap = null;
        synchronized (this) {
            if (c.released) {
                return;
            }
            c.released = true;
            Slab s = c.slab;
            if (--s.live == 0) {
                if (s == current) {
                    s.used = 0; // kept mapped, empty, for the next buffers
                } else {
                    unmap = s.region;
                }
            }
        }
        if (unmap != null) {
            unmap.close();
        }
    }

    /** The current slab's region when it holds no buffer (mapped on purpose: not a leak), else null. */
    public synchronized HugeRegion idleSlab() {
        return current != null && current.live == 0 ? current.region : null;
    }

    /** Unmaps the current slab if it holds no buffer (tests that count huge pages call it). */
    public void trim() {
        HugeRegion r = null;
        synchronized (this) {
            if (current != null && current.live == 0) {
                r = current.region;
                current = null;
            }
        }
        if (r != null) {
            r.close();
        }
    }

    private static long align(long address, long alignment) {
        return (address + alignment - 1) & -alignment;
    }
}
