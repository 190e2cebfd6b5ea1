package io.spindle.bdev;

/**
 * One segment of a vectored I/O: a range of a {@link DmaBuffer}. Mutable so callers can reuse an array of
 * them without allocating per I/O. Owned by the caller; read only during the submit call.
 */
public final class IoVec {
    private DmaBuffer buffer;
    private long offset;
    private long length;

    /** An empty segment; {@link #set} it before use. */
    public IoVec() {
    }

    /** A segment of {@code buffer}. */
    public IoVec(DmaBuffer buffer, long offset, long length) {
        set(buffer, offset, length);
    }

    /** Points this segment at {@code [offset, offset+length)} of {@code buffer}. */
    public IoVec set(DmaBuffer buffer, long offset, long length) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        return this;
    }

    boolean valid() {
        return buffer != null && offset >= 0 && length > 0 && offset + length <= buffer.capacity();
    }

    long address() {
        return buffer.address() + offset;
    }

    /** Length in bytes. */
    public long length() {
        return length;
    }
}
