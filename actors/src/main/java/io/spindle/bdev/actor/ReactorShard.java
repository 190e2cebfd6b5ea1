package io.spindle.bdev.actor;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevEventHandler;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.IoStatus;
import io.spindle.bdev.IoType;
import io.spindle.bdev.IoWaitEntry;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link BdevServer}'s part on one reactor: its descriptor and channel of the bdev, its buffers, the I/O it
 * has outstanding and the requests waiting for a free bdev I/O.
 *
 * <p><b>Thread:</b> created by the server actor; every method below runs on {@link #reactor} only (they are
 * reached through {@code reactor.send}, the descriptor's event handler and the I/O callbacks).
 *
 * <p><b>Life-cycle:</b> {@code NEW → OPEN} at {@link #open()} ({@code NEW → CLOSED} when the open fails);
 * {@code OPEN → DRAINING} on REMOVE or {@link #shutdown}; {@code DRAINING → CLOSED} once nothing is
 * outstanding or waiting: the channel is put, the descriptor closed, the buffers freed, and the server told
 * (a {@link BdevServer.ShardClosed}). A request that reaches a DRAINING or CLOSED shard is refused with the
 * reason; every request that reaches the shard is answered exactly once, and releases its in-flight slot
 * just before.
 */
final class ReactorShard implements IoCallback, BdevEventHandler {
    private static final Logger LOG = LoggerFactory.getLogger(ReactorShard.class);

    private enum State {
        NEW, OPEN, DRAINING, CLOSED
    }

    final int index;
    final Reactor reactor;
    private final BdevLayer layer;
    private final String bdevName;
    private final boolean writable;
    private final AtomicInteger inFlight;
    private final ActorRef<BdevServer.Command> server;

    // ---- reactor-owned ----
    private State state = State.NEW;
    private BdevDescriptor desc;
    private IoChannel<BdevChannel> ch;
    private int blockSize;
    private BufferPool pool;
    /** I/O accepted by the bdev layer whose callback has not run yet. */
    private int outstanding;
    /** Requests refused with ENOMEM by the bdev layer, in arrival order; later requests queue behind them. */
    private final ArrayDeque<Op> waiting = new ArrayDeque<>();
    private final IoWaitEntry waitEntry = new IoWaitEntry(arg -> onIoAvailable(), null);
    private boolean waitQueued;
    private boolean retrySent;
    private final Runnable retry = this::onRetry;
    private int closeErrno;
    private String closeMessage;
    private boolean notifyServer = true;

    ReactorShard(int index, Reactor reactor, BdevLayer layer, String bdevName, boolean writable, AtomicInteger inFlight,
                 ActorRef<BdevServer.Command> server) {
        this.index = index;
        this.reactor = reactor;
        this.layer = layer;
        this.bdevName = bdevName;
        this.writable = writable;
        this.inFlight = inFlight;
        this.server = server;
    }

    // ------------------------------------------------------------------ open / close

    /** Opens the bdev on this reactor and takes the channel; on failure, closes with the reason. */
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
        Bdev b = d.bdev();
        blockSize = b.blockSize();
        pool = new BufferPool(Math.min(1 << 20, Math.max(4096, b.requiredAlignment())));
        state = State.OPEN;
    }

    /** The server is closing or stopped: drain, then release. {@code notify}: tell the server when closed. */
    void shutdown(boolean notify) {
        notifyServer = notify;
        if (state == State.OPEN) {
            drain(Errno.ESHUTDOWN, "bdev=" + bdevName + ": the server is closing");
        } else if (state == State.NEW) {
            closed(Errno.ESHUTDOWN, "bdev=" + bdevName + ": the server is closing"); // defensive: open always runs first
        }
    }

    @Override
    public void onEvent(BdevEvent event, Bdev bdev, BdevDescriptor d) {
        if (event != BdevEvent.REMOVE) {
            return; // RESIZE: the server reads the geometry live; MEDIA_MANAGEMENT: nothing to do here
        }
        String why = "bdev=" + bdevName + " was removed";
        if (state == State.OPEN) {
            drain(Errno.ENODEV, why);
        } else if (state == State.DRAINING) {
            closeErrno = Errno.ENODEV;
            closeMessage = why;
        }
        // requests waiting for a bdev I/O never reached the bdev: refuse them rather than submit to a bdev going away
        Op op;
        while ((op = waiting.poll()) != null) {
            refuse(op, Errno.ENODEV, why);
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
        if (pool.out() != 0) {
            LOG.error("bdev server bdev={} on {}: {} buffer(s) still out at close", bdevName, reactor.name(), pool.out());
        }
        pool.close();
        closed(closeErrno, closeMessage);
    }

    private void closed(int errno, String message) {
        state = State.CLOSED;
        closeErrno = errno;
        closeMessage = message;
        if (notifyServer) {
            server.tell(new BdevServer.ShardClosed(index, errno, message));
        }
    }

    // ------------------------------------------------------------------ requests

    /** A request forwarded by the server. */
    void onRequest(Op op) {
        if (state != State.OPEN) {
            refuse(op, closeErrno, closeMessage);
            return;
        }
        if (!waiting.isEmpty()) {
            waiting.addLast(op); // keep arrival order behind the requests already waiting for an I/O
            return;
        }
        if (!start(op)) {
            waiting.addLast(op);
            waitForIo();
        }
    }

    /**
     * Submits {@code op}'s I/O. True when it was accepted or answered (refused); false on ENOMEM (the op keeps
     * its buffer, with the write data already in it, for the retry).
     */
    private boolean start(Op op) {
        BdevServer.Request r = op.request;
        long off = r.offset();
        long len = op.length;
        IoType t = r.type();
        if ((t == IoType.READ || t == IoType.WRITE) && op.buf == null) {
            op.buf = pool.take((int) len);
            if (r instanceof BdevServer.Write w) {
                op.buf.putBytes(0, w.data(), 0, (int) len);
            }
        }
        int rc;
        switch (t) {
            case READ -> rc = desc.read(ch, op.buf, 0, off, len, this, op);
            case WRITE -> rc = desc.write(ch, op.buf, 0, off, len, this, op);
            case FLUSH -> rc = off % blockSize != 0 || len % blockSize != 0
                    ? Errno.EINVAL : desc.flushBlocks(ch, off / blockSize, len / blockSize, this, op);
            case UNMAP -> rc = desc.unmap(ch, off, len, this, op);
            case WRITE_ZEROES -> rc = desc.writeZeroes(ch, off, len, this, op);
            default -> rc = Errno.ENOTSUP;
        }
        if (rc == Errno.OK) {
            outstanding++;
            return true;
        }
        if (rc == Errno.ENOMEM) {
            return false;
        }
        // the server validated against the geometry it saw; this is a race with a resize or a claim change
        refuse(op, rc, "bdev=" + bdevName + " offset=" + off + " length=" + len + ": submit refused on " + reactor.name() + " with "
                + Errno.name(rc));
        return true;
    }

    /** Arranges for {@link #drainWaiting} to run when the bdev layer has an I/O for this reactor again. */
    private void waitForIo() {
        if (waitQueued || retrySent) {
            return;
        }
        if (desc.queueIoWait(ch, waitEntry) == Errno.OK) {
            waitQueued = true;
            return;
        }
        // EINVAL: I/O are free but held back for other waiters queued on this reactor (they go first), and
        // the layer allows queueing only when none is free; retry on the next loop instead of losing the request
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
            return; // a wait entry or retry that outlived the descriptor: nothing is waiting any more
        }
        Op op;
        while ((op = waiting.peekFirst()) != null) {
            if (state == State.DRAINING && closeErrno == Errno.ENODEV) {
                break; // removed: the REMOVE handler refuses them
            }
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
        Op op = (Op) arg;
        outstanding--;
        BdevServer.Request r = op.request;
        BdevServer.Reply reply;
        if (r instanceof BdevServer.Read read) {
            byte[] data = null;
            if (status == IoStatus.SUCCESS) {
                data = new byte[read.length()];
                op.buf.getBytes(0, data, 0, data.length);
            }
            reply = new BdevServer.ReadCompleted(read.offset(), read.length(), status, data);
        } else {
            reply = new BdevServer.Completed(r.type(), r.offset(), op.length, status);
        }
        answer(op, reply);
        maybeClose();
    }

    private void refuse(Op op, int errno, String message) {
        answer(op, new BdevServer.Refused(op.request.type(), op.request.offset(), errno, BdevServer.name(op.request) + " " + message));
    }

    /** Frees the op's buffer, releases its in-flight slot, then replies: in that order (see the class Javadoc). */
    private void answer(Op op, BdevServer.Reply reply) {
        if (op.buf != null) {
            pool.give(op.buf);
            op.buf = null;
        }
        inFlight.decrementAndGet();
        BdevServer.tell(op.request, reply);
    }
}
