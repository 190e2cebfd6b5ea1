package io.spindle.bdev.actor;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevEventHandler;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.IoWaitEntry;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.OffReactorFuture;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorStoppedException;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;

/**
 * A {@link BdevFacade}'s part on one reactor: its descriptor and channel of the bdev, its pooled ops and
 * buffers, its in-flight count and the I/O waiting for a free bdev I/O.
 *
 * <p><b>Thread:</b> every method runs on {@link #reactor} only: called by a facade method running there, or by a
 * task sent there (a foreign caller's {@link FacadeIo}, the open, the close), or by the bdev layer (completions,
 * the REMOVE event, io_wait).
 *
 * <p><b>Life-cycle:</b> {@code NEW → OPEN} at the first {@link #open()} (the facade queues one at creation; a caller
 * on this reactor that comes first opens inline); {@code NEW → CLOSED} when the open fails (the reason answers
 * every request from then on); {@code OPEN → DRAINING} on REMOVE ({@link Errno#ENODEV}) or {@link #close()}
 * ({@link Errno#ESHUTDOWN}); {@code DRAINING → CLOSED} once nothing is outstanding or waiting: the channel is put,
 * the descriptor closed, the idle buffers freed and {@link #closed} completed. Every accepted I/O completes
 * exactly once; a request that reaches a DRAINING or CLOSED lane is refused with the reason.
 */
final class FacadeLane implements IoCallback, BdevEventHandler {
    private enum State {
        NEW, OPEN, DRAINING, CLOSED
    }

    final int index;
    final Reactor reactor;
    private final BdevLayer layer;
    private final String bdevName;
    private final boolean writable;
    private final int maxInFlight;
    /** Where completions are delivered: null for on the reactor, inline. */
    private final Executor executor;
    /** Completes once this lane is CLOSED; any thread may wait for it. */
    final OffReactorFuture<Void> closed = new OffReactorFuture<>();

    // ---- reactor-owned ----
    private State state = State.NEW;
    private BdevDescriptor desc;
    private IoChannel<BdevChannel> ch;
    private Bdev bdev;
    private BufferPool pool;
    /** Accepted and not yet completed (outstanding at the bdev, waiting for an I/O, or being refused). */
    private int inFlight;
    /** Accepted by the bdev layer, callback not run yet. */
    private int outstanding;
    private FacadeIo freeOps;
    private final ArrayDeque<FacadeIo> waiting = new ArrayDeque<>();
    private final IoWaitEntry waitEntry = new IoWaitEntry(arg -> onIoAvailable(), null);
    private boolean waitQueued;
    private boolean retrySent;
    private final Runnable retry = this::onRetry;
    private int closeErrno = Errno.ESHUTDOWN;
    private String closeMessage;

    FacadeLane(int index, Reactor reactor, BdevLayer layer, String bdevName, boolean writable, int maxInFlight, Executor executor) {
        this.index = index;
        this.reactor = reactor;
        this.layer = layer;
        this.bdevName = bdevName;
        this.writable = writable;
        this.maxInFlight = maxInFlight;
        this.executor = executor;
        this.closeMessage = "bdev=" + bdevName + ": not open on " + reactor.name();
    }

    // ------------------------------------------------------------------ open / close

    /** Opens the bdev on this reactor and takes the channel, once; a failure closes the lane with the reason. */
    void open() {
        if (state != State.NEW) {
            return;
        }
        BdevDescriptor d;
        try {
            d = layer.open(bdevName, writable, this);
        } catch (BdevException e) {
            closed(e.errno(), "bdev=" + bdevName + ": open on " + reactor.name() + " failed: " + e.getMessage());
            return;
        }
        IoChannel<BdevChannel> c = d.getIoChannel();
        if (c == null) {
            d.close();
            closed(Errno.ENODEV, "bdev=" + bdevName + ": no I/O channel on " + reactor.name() + " (the bdev is going away)");
            return;
        }
        desc = d;
        ch = c;
        bdev = d.bdev();
        state = State.OPEN;
    }

    /** The facade is closing: refuse new requests, let the accepted ones complete, then release. */
    void close() {
        if (state == State.OPEN) {
            drain(Errno.ESHUTDOWN, "bdev=" + bdevName + ": the facade is closed");
        } else if (state == State.NEW) {
            closed(Errno.ESHUTDOWN, "bdev=" + bdevName + ": the facade is closed");
        }
    }

    @Override
    public void onEvent(BdevEvent event, Bdev b, BdevDescriptor d) {
        if (event != BdevEvent.REMOVE) {
            return; // RESIZE: the geometry is read live at each check
        }
        String why = "bdev=" + bdevName + " was removed";
        if (state == State.OPEN) {
            drain(Errno.ENODEV, why);
        } else if (state == State.DRAINING) {
            closeErrno = Errno.ENODEV;
            closeMessage = why;
        }
        // I/O waiting for a bdev I/O never reached the bdev: refuse them rather than submit to a bdev going away
        FacadeIo op;
        while ((op = waiting.poll()) != null) {
            refuse(op, Errno.ENODEV, op.type.rpcName() + " " + why);
        }
        maybeClose();
    }

    private void drain(int errno, String message) {
        state = State.DRAINING;
        closeErrno = errno;
        closeMessage = message;
        maybeClose();
    }

    private void maybeClose() {
        if (state != State.DRAINING || outstanding > 0 || !waiting.isEmpty()) {
            return;
        }
        ch.put();
        desc.close();
        ch = null;
        desc = null;
        if (pool != null) {
            pool.close(); // lent buffers still out are freed when their holders release them
        }
        closed(closeErrno, closeMessage);
    }

    private void closed(int errno, String message) {
        state = State.CLOSED;
        closeErrno = errno;
        closeMessage = message;
        freeOps = null;
        closed.complete(null);
    }

    // ------------------------------------------------------------------ accepting

    /** An op from this reactor's free list (or a new one, kept after its completion). */
    FacadeIo takeOp() {
        FacadeIo op = freeOps;
        if (op == null) {
            return new FacadeIo(this, true);
        }
        freeOps = op.nextFree;
        op.nextFree = null;
        return op;
    }

    private void recycle(FacadeIo op) {
        op.clear();
        if (op.pooled && state != State.CLOSED) {
            op.nextFree = freeOps;
            freeOps = op;
        }
    }

    /**
     * Accepts {@code op} (a caller on this reactor): submits it, or queues it behind a shortage of bdev I/O.
     * Returns null when accepted (its completion comes later, never inline), else the refusal, with the op given
     * back: nothing will be delivered for it.
     */
    BdevServer.Reply accept(FacadeIo op) {
        BdevServer.Reply refusal = check(op);
        if (refusal != null) {
            recycle(op);
            return refusal;
        }
        inFlight++;
        submit(op);
        return null;
    }

    /** A caller's op sent from another thread: accepted, or refused through its future or callback. */
    void onForeign(FacadeIo op) {
        BdevServer.Reply refusal = check(op);
        if (refusal != null) {
            inFlight++; // deliver() gives it back
            deliver(op, null, new BdevReplyException(refusal), errnoOf(refusal));
            return;
        }
        inFlight++;
        submit(op);
    }

    /** Null when {@code op} may be submitted; builds its refusal (allocating) only when it may not. */
    private BdevServer.Reply check(FacadeIo op) {
        if (state == State.NEW) {
            open();
        }
        if (state != State.OPEN) {
            return new BdevServer.Refused(op.type, op.offset, closeErrno, op.type.rpcName() + " " + closeMessage);
        }
        BdevServer.Refused bad = BdevServer.check(op.type, op.offset, op.length, op.data != null, bdev, writable, bdevName, -1);
        if (bad != null) {
            return bad;
        }
        if (op.buf != null && (op.bufOffset < 0 || op.bufOffset > op.buf.capacity() - op.length)) {
            return new BdevServer.Refused(op.type, op.offset, Errno.EINVAL, op.type.rpcName() + " bdev=" + bdevName + " buffer_offset="
                    + op.bufOffset + " length=" + op.length + ": must fit in the buffer's capacity=" + op.buf.capacity());
        }
        if (inFlight >= maxInFlight) {
            return new BdevServer.Busy(op.type, op.offset, maxInFlight);
        }
        return null;
    }

    private void submit(FacadeIo op) {
        if (!waiting.isEmpty()) {
            waiting.addLast(op); // keep arrival order behind those already waiting for a bdev I/O
            return;
        }
        if (!start(op)) {
            waiting.addLast(op);
            waitForIo();
        }
    }

    /** Submits the op's I/O; true when accepted or answered, false on ENOMEM (then it keeps its buffer for the retry). */
    private boolean start(FacadeIo op) {
        IoType t = op.type;
        DmaBuffer b = op.buf;
        long bOff = op.bufOffset;
        if ((t == IoType.READ || t == IoType.WRITE) && b == null) {
            if (op.lent == null) {
                if (pool == null) {
                    pool = new BufferPool(reactor, Math.min(1 << 20, Math.max(4096, bdev.requiredAlignment())));
                }
                op.lent = pool.take((int) op.length);
                if (t == IoType.WRITE) {
                    op.lent.dma.putBytes(0, op.data, 0, (int) op.length);
                }
            }
            b = op.lent.dma;
            bOff = 0;
        }
        long off = op.offset;
        long len = op.length;
        int bs = bdev.blockSize();
        int rc = switch (t) {
            case READ -> desc.read(ch, b, bOff, off, len, this, op);
            case WRITE -> desc.write(ch, b, bOff, off, len, this, op);
            case FLUSH -> desc.flushBlocks(ch, off / bs, len / bs, this, op);
            case UNMAP -> desc.unmap(ch, off, len, this, op);
            case WRITE_ZEROES -> desc.writeZeroes(ch, off, len, this, op);
            default -> Errno.ENOTSUP;
        };
        if (rc == Errno.OK) {
            outstanding++;
            return true;
        }
        if (rc == Errno.ENOMEM) {
            return false;
        }
        // checked against the geometry a moment ago: a race with a resize or a claim change
        refuse(op, rc, t.rpcName() + " bdev=" + bdevName + " offset=" + off + " length=" + len + ": submit refused on " + reactor.name()
                + " with " + Errno.name(rc));
        return true;
    }

    private void waitForIo() {
        if (waitQueued || retrySent) {
            return;
        }
        if (desc.queueIoWait(ch, waitEntry) == Errno.OK) {
            waitQueued = true;
            return;
        }
        // I/O are free but held back for other waiters on this reactor: retry on the next loop
        retrySent = true;
        reactor.send(retry);
    }

    private void onIoAvailable() {
        waitQueued = false;
        drainWaiting();
    }

    private void onRetry() {
        retrySent = false;
        drainWaiting();
    }

    private void drainWaiting() {
        if (state == State.CLOSED) {
            return;
        }
        FacadeIo op;
        while ((op = waiting.peekFirst()) != null) {
            if (!start(op)) {
                waitForIo();
                return;
            }
            waiting.pollFirst();
        }
        maybeClose();
    }

    // ------------------------------------------------------------------ completion

    @Override
    public void onComplete(BdevIo io, IoStatus status, Object arg) {
        FacadeIo op = (FacadeIo) arg;
        outstanding--;
        if (status == IoStatus.SUCCESS) {
            Object value = null;
            switch (op.result) {
                case FacadeIo.RESULT_BUFFER -> value = op.buf;
                case FacadeIo.RESULT_BYTES -> {
                    byte[] out = new byte[(int) op.length];
                    op.lent.dma.getBytes(0, out, 0, out.length);
                    value = out;
                }
                case FacadeIo.RESULT_LENT -> {
                    pool.lent(op.lent, (int) op.length);
                    value = op.lent;
                    op.lent = null; // the caller's now
                }
                default -> {
                }
            }
            deliver(op, value, null, 0);
        } else {
            BdevServer.Reply r = op.type == IoType.READ ? new BdevServer.ReadCompleted(op.offset, (int) op.length, status, null)
                    : new BdevServer.Completed(op.type, op.offset, op.length, status);
            deliver(op, null, new BdevReplyException(r), Errno.EIO);
        }
        maybeClose();
    }

    /** Completes an accepted op that never reached the bdev (or that the bdev refused). */
    private void refuse(FacadeIo op, int errno, String message) {
        deliver(op, null, new BdevReplyException(new BdevServer.Refused(op.type, op.offset, errno, message)), errno);
    }

    /**
     * Gives the op's pooled buffer (if still held) and the op back, releases its in-flight slot, then completes its
     * future or calls its callback: in that order, so a continuation that submits again finds both free.
     */
    private void deliver(FacadeIo op, Object value, Throwable failure, int rc) {
        if (op.lent != null) {
            pool.give(op.lent);
            op.lent = null;
        }
        OffReactorFuture<Object> f = op.future;
        BdevFacade.Callback cb = op.callback;
        Object arg = op.arg;
        inFlight--;
        recycle(op);
        if (executor == null) {
            complete(f, cb, arg, value, failure, rc);
        } else {
            executor.execute(() -> complete(f, cb, arg, value, failure, rc));
        }
    }

    private static void complete(OffReactorFuture<Object> f, BdevFacade.Callback cb, Object arg, Object value, Throwable failure, int rc) {
        if (f != null) {
            if (failure == null) {
                f.complete(value);
            } else {
                f.completeExceptionally(failure);
            }
        } else {
            cb.onComplete(rc, arg);
        }
    }

    static int errnoOf(BdevServer.Reply r) {
        if (r instanceof BdevServer.Refused f) {
            return f.errno();
        }
        return r instanceof BdevServer.Busy ? Errno.EBUSY : Errno.EIO;
    }

    /** Sends {@code op} to this lane's reactor; false when the reactor has exited (nothing was queued). */
    boolean send(FacadeIo op) {
        try {
            reactor.send(op);
            return true;
        } catch (ReactorStoppedException e) {
            return false;
        }
    }

    /** I/O accepted and not completed; this reactor only (tests). */
    int inFlight() {
        return inFlight;
    }
}
