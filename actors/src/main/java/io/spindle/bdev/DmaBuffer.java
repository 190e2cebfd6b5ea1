package io.spindle.bdev;

import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.core.UnsafeMemory;

import java.nio.charset.StandardCharsets;

/**
 * An aligned block of off-heap memory for I/O: what SPDK allocates with {@code spdk_dma_malloc}. It comes from huge
 * pages when the process's {@link io.spindle.env.HugePages} policy allows and a hugetlbfs mount has free pages
 * (carved from 2 MiB slabs by {@link io.spindle.env.DmaSlabs}, so a 4 KiB buffer does not take a whole page), and
 * otherwise from a Chronicle {@link BytesStore} in normal pages.
 *
 * <p><b>Ownership:</b> whoever allocated it owns it and must {@link #close()} it exactly once; the bdev
 * layer never keeps a reference past an I/O's completion. Not thread-safe: use it on one thread at a time
 * (an I/O's buffer belongs to the bdev layer between submit and completion).
 */
public final class DmaBuffer implements AutoCloseable {
    private static final UnsafeMemory MEM = UnsafeMemory.MEMORY;

    /** Normal-page memory, or null when {@link #chunk} holds it. */
    private final BytesStore<?, Void> store;
    /** Huge-page memory, or null when {@link #store} holds it. */
    private final io.spindle.env.DmaSlabs.Chunk chunk;
    private final long address;
    private final long capacity;
    private boolean closed;

    private DmaBuffer(BytesStore<?, Void> store, io.spindle.env.DmaSlabs.Chunk chunk, long address, long capacity) {
        this.store = store;
        this.chunk = chunk;
        this.address = address;
        this.capacity = capacity;
    }

    /**
     * Allocates {@code size} bytes aligned to {@code alignment} (a power of two, at most 1 MiB).
     *
     * @throws IllegalArgumentException naming the bad size or alignment
     */
    public static DmaBuffer allocate(long size, int alignment) {
        if (size <= 0) {
            throw new IllegalArgumentException("DmaBuffer size=" + size + ": must be > 0");
        }
        if (alignment <= 0 || Integer.bitCount(alignment) != 1 || alignment > (1 << 20)) {
            throw new IllegalArgumentException("DmaBuffer alignment=" + alignment + ": must be a power of two between 1 and 1048576");
        }
        io.spindle.env.DmaSlabs.Chunk c = io.spindle.env.DmaSlabs.process().carve(size, alignment);
        if (c != null) {
            MEM.setMemory(c.address(), size, (byte) 0); // zeroed, as the normal-page store below (a reused slab is not)
            return new DmaBuffer(null, c, c.address(), size);
        }
        BytesStore<?, Void> s = BytesStore.nativeStoreWithFixedCapacity(size + alignment - 1);
        long raw = s.addressForRead(0);
        long aligned = (raw + alignment - 1) & -(long) alignment;
        return new DmaBuffer(s, null, aligned, size);
    }

    /** What backs the memory: "hugetlbfs 2MiB" or "4KiB pages". */
    public String backing() {
        return chunk != null ? chunk.backing() : io.spindle.env.HugePages.sizeName(net.openhft.chronicle.core.OS.pageSize()) + " pages";
    }

    /** Allocates {@code size} bytes aligned to 4096. */
    public static DmaBuffer allocate(long size) {
        return allocate(size, 4096);
    }

    /** Address of byte 0. */
    public long address() {
        checkOpen();
        return address;
    }

    /** Usable size in bytes. */
    public long capacity() {
        return capacity;
    }

    /** Fills {@code [offset, offset+length)} with {@code value}. */
    public DmaBuffer fill(long offset, long length, byte value) {
        check(offset, length);
        MEM.setMemory(address + offset, length, value);
        return this;
    }

    /** Copies {@code src} into the buffer at {@code offset}. */
    public DmaBuffer put(long offset, byte[] src) {
        return putBytes(offset, src, 0, src.length);
    }

    /** Copies {@code length} bytes at {@code offset} out into a new array. */
    public byte[] get(long offset, int length) {
        byte[] out = new byte[length];
        getBytes(offset, out, 0, length);
        return out;
    }

    /**
     * Copies {@code src[srcOffset, srcOffset+length)} into the buffer at {@code offset}, as one bulk copy.
     *
     * @throws IndexOutOfBoundsException naming the offsets, the length and the bound
     */
    public DmaBuffer putBytes(long offset, byte[] src, int srcOffset, int length) {
        check(offset, length);
        if (srcOffset < 0 || srcOffset > src.length - length) {
            throw new IndexOutOfBoundsException("DmaBuffer.putBytes src_offset=" + srcOffset + " length=" + length + " src_length=" + src.length);
        }
        MEM.writeBytes(address + offset, src, srcOffset, length);
        return this;
    }

    /**
     * Copies {@code length} bytes at {@code offset} into {@code dst[dstOffset, dstOffset+length)}, as one bulk copy.
     *
     * @throws IndexOutOfBoundsException naming the offsets, the length and the bound
     */
    public DmaBuffer getBytes(long offset, byte[] dst, int dstOffset, int length) {
        check(offset, length);
        if (dstOffset < 0 || dstOffset > dst.length - length) {
            throw new IndexOutOfBoundsException("DmaBuffer.getBytes dst_offset=" + dstOffset + " length=" + length + " dst_length=" + dst.length);
        }
        MEM.readBytes(address + offset, dst, dstOffset, length);
        return this;
    }

    /** Reads a byte. */
    public byte getByte(long offset) {
        check(offset, 1);
        return MEM.readByte(address + offset);
    }

    /** Writes a little-endian long. */
    public void putLong(long offset, long value) {
        check(offset, 8);
        MEM.writeLong(address + offset, value);
    }

    /** Reads a little-endian long. */
    public long getLong(long offset) {
        check(offset, 8);
        return MEM.readLong(address + offset);
    }

    /** The bytes up to the first NUL (or {@code maxLength}) as UTF-8 text. */
    public String getString(long offset, int maxLength) {
        byte[] b = get(offset, maxLength);
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    private void check(long offset, long length) {
        checkOpen();
        if (offset < 0 || length < 0 || offset + length > capacity) {
            throw new IndexOutOfBoundsException("DmaBuffer offset=" + offset + " length=" + length + " capacity=" + capacity);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("DmaBuffer used after close");
        }
    }

    /** Releases the memory. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (chunk != null) {
                chunk.release();
            } else {
                store.releaseLast();
            }
        }
    }
}
