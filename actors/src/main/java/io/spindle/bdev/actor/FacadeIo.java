package io.spindle.bdev.actor;

import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.OffReactorFuture;

/**
 * One {@link BdevFacade} I/O on its way through a {@link FacadeLane}: the bdev I/O's callback argument and what
 * its completion needs (the result's shape, the future or the callback to complete). Two kinds:
 * <ul>
 *   <li>taken from the lane's free list by a caller running on the lane's reactor, and given back just before its
 *       completion is delivered ({@link #pooled});</li>
 *   <li>made by a caller on another thread and sent to the lane's reactor as a task ({@link #run()}); dropped
 *       after its completion.</li>
 * </ul>
 * From the take (or the send) on, touched only on the lane's reactor.
 */
final class FacadeIo implements Runnable {
    /** Completes with null (writes, flush, unmap, write_zeroes). */
    static final int RESULT_VOID = 0;
    /** A read into a pooled buffer, copied out into a fresh {@code byte[]}. */
    static final int RESULT_BYTES = 1;
    /** A read into the caller's {@link DmaBuffer}, which is the value. */
    static final int RESULT_BUFFER = 2;
    /** A read into a pooled buffer, lent to the caller as a {@link LentBuffer}. */
    static final int RESULT_LENT = 3;

    final FacadeLane lane;
    final boolean pooled;
    IoType type;
    long offset;
    long length;
    int result;
    /** The caller's buffer (null when a pooled one is used) and the offset in it. */
    DmaBuffer buf;
    long bufOffset;
    /** A {@code byte[]} write's source, copied into {@link #lent} on the reactor. */
    byte[] data;
    /** The pooled buffer of a {@code byte[]} or lent-buffer I/O, taken at the start. */
    LentBuffer lent;
    /** Exactly one of these is set: the stage to complete, or the callback to call. */
    OffReactorFuture<Object> future;
    BdevFacade.Callback callback;
    Object arg;
    /** Free-list link (pooled ops). */
    FacadeIo nextFree;

    FacadeIo(FacadeLane lane, boolean pooled) {
        this.lane = lane;
        this.pooled = pooled;
    }

    FacadeIo set(IoType t, long off, long len, int res, DmaBuffer b, long bOff, byte[] src) {
        type = t;
        offset = off;
        length = len;
        result = res;
        buf = b;
        bufOffset = bOff;
        data = src;
        return this;
    }

    /** Forgets every reference, so that a pooled op keeps nothing alive. */
    void clear() {
        buf = null;
        data = null;
        lent = null;
        future = null;
        callback = null;
        arg = null;
    }

    /** A caller's I/O sent from another thread: the lane accepts or refuses it on its reactor. */
    @Override
    public void run() {
        lane.onForeign(this);
    }
}
