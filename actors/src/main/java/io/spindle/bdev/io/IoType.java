package io.spindle.bdev.io;

/** The I/O types of the bdev layer: SPDK's {@code enum spdk_bdev_io_type}, as reported in {@code supported_io_types}. */
public enum IoType {
    /** Read blocks into the caller's buffers. */
    READ("read"),
    /** Write blocks from the caller's buffers. */
    WRITE("write"),
    /** Deallocate blocks; reads of them return zeroes or old data, as the module documents. */
    UNMAP("unmap"),
    /** Persist volatile writes. */
    FLUSH("flush"),
    /** Reset the device: outstanding I/O is aborted or drained first. */
    RESET("reset"),
    /** Write zeroes to blocks (emulated with writes when the module lacks it). */
    WRITE_ZEROES("write_zeroes"),
    /** Compare blocks with the caller's buffers (emulated with a read when the module lacks it). */
    COMPARE("compare"),
    /** Compare then write, atomically for the range (emulated under an LBA range lock). */
    COMPARE_AND_WRITE("compare_and_write"),
    /** Abort an outstanding I/O. */
    ABORT("abort");

    private final String rpcName;

    IoType(String rpcName) {
        this.rpcName = rpcName;
    }

    /** The name in SPDK's JSON ({@code supported_io_types}). */
    public String rpcName() {
        return rpcName;
    }

    /** Whether the type writes data (refused on a read-only descriptor with EBADF). */
    public boolean writes() {
        return this == WRITE || this == UNMAP || this == WRITE_ZEROES || this == COMPARE_AND_WRITE;
    }
}
