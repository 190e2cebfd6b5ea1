package io.spindle.bdev.spi;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;

/**
 * The module's view of one I/O (SPDK's {@code spdk_bdev_io} as a module sees it). Valid from
 * {@link BdevDriver#submit} until {@link #complete}; on the submitting reactor only.
 */
public interface ModuleIo {
    /** The type. */
    IoType type();

    /** The bdev (the layer's bdev object itself, as the module sees it). */
    BdevView bdev();

    /** First block. */
    long offsetBlocks();

    /** Number of blocks (0 for FLUSH of the whole device is not used: FLUSH carries its range). */
    long numBlocks();

    /** Number of data segments (0 for UNMAP, FLUSH, RESET, WRITE_ZEROES). */
    int iovCount();

    /** Address of segment {@code i}. */
    long iovAddress(int i);

    /** Length of segment {@code i} in bytes. */
    long iovLength(int i);

    /**
     * The context this module's {@link BdevModule#newIoContext()} made for this pooled I/O when the reactor's pool
     * was built, or null; reused by the next I/O that takes the same pool slot, so reset what the driver relies on.
     */
    Object moduleContext();

    /**
     * For {@link IoType#ABORT}: the callback argument of the I/O to abort; null otherwise. The children the layer
     * makes of a split I/O or a compare_and_write carry their parent's argument, so a module may find several
     * I/O with it: abort one or all; the parent completes ABORTED once its children are done. Complete the ABORT
     * SUCCESS when something was aborted, FAILED otherwise (the layer answers SUCCESS anyway when it aborted
     * some itself).
     */
    Object abortTarget();

    /**
     * Whether an ABORT whose {@link #abortTarget()} is {@code abortTarget} names this I/O: its submitter gave that
     * object (the same instance) as the callback argument, as SPDK's {@code spdk_bdev_abort} matches {@code cb_arg}.
     * A module that holds I/O (a remote controller, a queue of its own) and supports ABORT finds its victims with it.
     */
    boolean isAbortedBy(Object abortTarget);

    /** Completes the I/O; exactly once. */
    void complete(IoStatus status);
}
