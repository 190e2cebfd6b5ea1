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
import io.spindle.bdev.IoWaitEntry;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorStoppedException;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;

/**
 * A {@link BdevServer}'s part on one reactor: its descriptor and channel of the bdev, its buffers, the I/O it
 * has outstanding, the requests waiting for a free bdev I/O, and the batched replies being gathered.
 *
 * <p><b>Thread:</b> created by the server actor; every method below runs on {@link #reactor} only (they are
 * reached through {@code reactor.send} (the server's open, shutdown and forwarded requests and batches), the
 * shard actor on the reactor's dispatcher, the descriptor's event handler and the I/O callbacks).
 *
 * <p><b>Life-cycle:</b> {@code NEW → OPEN} at {@link #open()} ({@code NEW → CLOSED} when the open fails);
 * {@code OPEN → DRAINING} on REMOVE or {@link #shutdown}; {@code DRAINING → CLOSED} once nothing is
 * outstanding or waiting: the pending batched replies are sent, the channel is put, the descriptor closed,
 * the idle buffers freed (lent ones are freed when released), and the server told (a
 * {@link BdevServer.ShardClosed}) and the shard actor told to stop. A request that reaches a DRAINING or
 * CLOSED shard is refused with the reason; every request and every batch entry that reaches the shard is
 * answered exactly once, and releases its in-flight slot just before the reply that carries its answer is
 * sent. A CLOSED shard keeps answering: the server may forward to it before it has heard of the close, and the
 * actor's mailbox may still hold messages queued before its stop.
 *
 * <p><b>Batched replies.</b> Entries of {@link BdevServer.Submit}s are answered into a {@link Sink} per
 * requester ({@code replyTo}); the first answer of a loop queues one flush task on the reactor, which sends
 * each requester one {@link Completions} with everything gathered since the last flush. The close flushes
 * synchronously before it reports, and a closed shard answers at once, so every answer to what reached the
 * actor before its stop is sent before the actor stops, and so before the server's {@code Closed}.
 *
 * <p><b>Recycling.</b> A batch is marked taken ({@code IoBatch.taken()}) once its entries are read, before any is
 * answered, so its sender may reset it; a {@code Submit} whose batch is taken or unsealed on arrival (told twice)
 * has its entries refused EINVAL. {@link Completions} the receivers {@link Completions#recycle() recycle} come
 * back through {@link #takeBack} on this reactor and are filled again by the next reply, up to
 * {@link #POOLED_COMPLETIONS} kept; none once the shard has closed.
 */
final class ReactorShard implements IoCallback, BdevEventHandler {
    private static final Logger LOG = LoggerFactory.getLogger(ReactorShard.class);
    /** Sinks of requesters with nothing outstanding that a shard keeps for their next submit. */
    static final int IDLE_SINKS = 16;
    /** Recycled {@link Completions} a shard keeps for reuse; more are left to the garbage collector. */
    static final int POOLED_COMPLETIONS = 64;

    private enum State {
        NEW, OPEN, DRAINING, CLOSED
    }

    /**
     * One requester's batched replies on this shard: the {@link Completions} being filled and how many of its
     * entries are not yet sent. Dropped from the shard's map once nothing is outstanding and more than
     * {@link #IDLE_SINKS} sinks are held.
     */
    static final class Sink {
        final ActorRef<Completions> replyTo;
        /** Entries submitted by this requester and not yet in a sent {@code Completions}. */
        int outstanding;
        /** The message being filled; null when nothing is pending. */
        Completions pending;
        boolean dirty;

        Sink(ActorRef<Completions> replyTo) {
            this.replyTo = replyTo;
        }
    }

    final int index;
    final Reactor reactor;
    private final BdevLayer layer;
    private final String bdevName;
    private final boolean writable;
    private final InFlight inFlight;
    private final ActorRef<BdevServer.Command> server;

    // ---- reactor-owned ----
    private State state = State.NEW;
    private BdevDescriptor desc;
    private IoChannel<BdevChannel> ch;
    private Bdev bdev;
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
    private int closeErrno = Errno.ESHUTDOWN;
    private String closeMessage;
    private boolean notifyServer = true;
    /** Free list of ops for direct requests and batch entries. */
    private Op freeOps;
    private final HashMap<ActorRef<Completions>, Sink> sinks = new HashMap<>();
    /** The last sink looked up: a requester usually submits several batches in a row. */
    private Sink lastSink;
    private final ArrayList<Sink> dirty = new ArrayList<>();
    private boolean flushQueued;
    private final Runnable flushTask = this::onFlush;
    /** Recycled replies ({@link Completions#recycle()}), an intrusive free list. */
    private Completions freeCompletions;
    private int freeCompletionsCount;
    /** The shard's actor, told to stop once the shard is closed (null until attached). */
    private ActorRef<BdevServer.ShardCommand> actor;

    ReactorShard(int index, Reactor reactor, BdevLayer layer, String bdevName, boolean writable, InFlight inFlight,
                 ActorRef<BdevServer.Command> server) {
        this.index = index;
        this.reactor = reactor;
        this.layer = layer;
        this.bdevName = bdevName;
        this.writable = writable;
        this.inFlight = inFlight;
        this.server = server;
        this.closeMessage = "bdev=" + bdevName + ": not open on " + reactor.name();
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
        bdev = d.bdev();
        blockSize = bdev.blockSize();
        pool = new BufferPool(reactor, Math.min(1 << 20, Math.max(4096, bdev.requiredAlignment())));
        state = State.OPEN;
    }

    /**
     * Attaches the shard's actor (a task queued after {@link #open()}): it is stopped when the shard closes, on
     * this reactor, so that it never outlives the reactor. If the shard is closed already, at once.
     */
    void attach(ActorRef<BdevServer.ShardCommand> ref) {
        actor = ref;
        if (state == State.CLOSED) {
            ref.tell(ShardActor.Stop.INSTANCE);
        }
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
    public void onEvent(BdevEvent event, Bdev b, BdevDescriptor d) {
        if (event != BdevEvent.REMOVE) {
            return; // RESIZE: the geometry is read live; MEDIA_MANAGEMENT: nothing to do here
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
        flush(); // every batched answer goes out before the shard reports closed
        ch.put();
        desc.close();
        ch = null;
        desc = null;
        if (pool.out() != 0) {
            LOG.error("bdev server bdev={} on {}: {} buffer(s) still out at close", bdevName, reactor.name(), pool.out());
        }
        if (pool.lentOut() != 0) {
            LOG.debug("bdev server bdev={} on {}: {} lent buffer(s) not released yet; freed when released", bdevName, reactor.name(),
                    pool.lentOut());
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
        // an ordinary message, behind whatever is already in the actor's mailbox: all of that is still answered
        // (refused with the reason) before the actor stops, and the server waits for that stop before Closed
        if (actor != null) {
            actor.tell(ShardActor.Stop.INSTANCE);
        }
    }

    // ------------------------------------------------------------------ requests

    /** A request forwarded by the server, validated and counted there. */
    void onForwarded(Op op) {
        if (state != State.OPEN) {
            refuse(op, closeErrno, closeMessage);
            return;
        }
        submit(op);
    }

    /** A single request sent to the shard actor directly: validated and counted here. */
    void onDirect(BdevServer.Request r) {
        if (state != State.OPEN) {
            BdevServer.tell(r, new BdevServer.Refused(r.type(), r.offset(), closeErrno, BdevServer.name(r) + " " + closeMessage));
            return;
        }
        BdevServer.Refused bad = BdevServer.check(r.type(), r.offset(), BdevServer.length(r), r instanceof BdevServer.Write, bdev, writable,
                bdevName, -1);
        if (bad != null) {
            BdevServer.tell(r, bad);
            return;
        }
        if (inFlight.tryAcquire(1) == 0) {
            BdevServer.tell(r, new BdevServer.Busy(r.type(), r.offset(), inFlight.max));
            return;
        }
        Op op = takeOp();
        op.single(r);
        submit(op);
    }

    /** A batch sent to the shard actor (directly or through the server): every entry gets one answer in the sink. */
    void onSubmit(BdevServer.Submit m) {
        IoBatch b = m.batch();
        int n = b.size();
        Sink s = sink(m.replyTo());
        s.outstanding += n;
        if (b.isTaken() || !b.isSealed()) {
            // the same Submit told again: its batch was read already (and may have been reset and refilled since)
            LOG.error("bdev server bdev={} on {}: a Submit told twice (batch {}); its entries are refused", bdevName, reactor.name(), b);
            for (int i = 0; i < n; i++) {
                IoType t = b.type(i);
                answerRefused(s, b.tag(i), t, b.offset(i), b.length(i), Errno.EINVAL, t.rpcName() + " entry=" + i + " bdev=" + bdevName
                        + ": this Submit was told before (a Submit is told once; make a new Submit of a reset batch)", false);
            }
            if (state == State.CLOSED) {
                flush();
            }
            return;
        }
        if (state != State.OPEN) {
            for (int i = 0; i < n; i++) {
                IoType t = b.type(i);
                answerRefused(s, b.tag(i), t, b.offset(i), b.length(i), closeErrno, t.rpcName() + " entry=" + i + " " + closeMessage, false);
            }
            b.taken();
            if (state == State.CLOSED) {
                // at once, not at the next loop: the actor may be about to stop, and a requester that watches it
                // counts on every answer arriving before the Terminated (what is unanswered then never ran)
                flush();
            }
            return;
        }
        int slots = inFlight.tryAcquire(n);
        // the columns directly: i < n = size <= capacity, one bound for the whole loop
        byte[] types = b.types;
        long[] offsets = b.offsets;
        long[] lengths = b.lengths;
        long[] tags = b.tags;
        byte[][] datas = b.data;
        io.spindle.bdev.DmaBuffer[] bufs = b.bufs;
        long[] bufOffsets = b.bufOffsets;
        for (int i = 0; i < n; i++) {
            IoType t = IoBatch.TYPES[types[i]];
            long off = offsets[i];
            long len = lengths[i];
            long tag = tags[i];
            io.spindle.bdev.DmaBuffer ub = bufs == null ? null : bufs[i];
            long ubOff = bufOffsets == null ? 0 : bufOffsets[i];
            BdevServer.Refused bad = BdevServer.check(t, off, len, t == IoType.WRITE && ub == null, bdev, writable, bdevName, i);
            if (bad == null && ub != null && (ubOff < 0 || ubOff > ub.capacity() - len)) {
                bad = new BdevServer.Refused(t, off, Errno.EINVAL, t.rpcName() + " bdev=" + bdevName + " entry=" + i + " buffer_offset="
                        + ubOff + " length=" + len + ": must fit in the buffer's capacity=" + ub.capacity());
            }
            if (bad != null) {
                answerRefused(s, tag, t, off, len, bad.errno(), bad.message(), false);
                continue;
            }
            if (slots == 0) {
                answerRefused(s, tag, t, off, len, Errno.EBUSY, t.rpcName() + " bdev=" + bdevName + " entry=" + i + " offset=" + off
                        + ": busy, max_in_flight=" + inFlight.max + " I/O outstanding (EBUSY)", false);
                continue;
            }
            slots--;
            Op op = takeOp();
            op.entry(s, t, off, len, tag, datas == null ? null : datas[i], ub, ubOff);
            submit(op);
        }
        inFlight.release(slots); // taken for entries that turned out invalid
        b.taken(); // every entry read: the sender may reset the batch once it sees an answer
    }

    private Sink sink(ActorRef<Completions> replyTo) {
        Sink s = lastSink;
        if (s != null && s.replyTo == replyTo) {
            return s;
        }
        s = sinks.get(replyTo);
        if (s == null) {
            s = new Sink(replyTo);
            sinks.put(replyTo, s);
        }
        lastSink = s;
        return s;
    }

    private void submit(Op op) {
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
        long off = op.offset;
        long len = op.length;
        IoType t = op.type;
        io.spindle.bdev.DmaBuffer dma = op.userBuf;
        long dmaOff = op.userOffset;
        if ((t == IoType.READ || t == IoType.WRITE) && dma == null) {
            if (op.buf == null) {
                op.buf = pool.take((int) len);
                if (t == IoType.WRITE) {
                    op.buf.dma.putBytes(0, op.data, 0, (int) len);
                }
            }
            dma = op.buf.dma;
            dmaOff = 0;
        }
        int rc;
        switch (t) {
            case READ -> rc = desc.read(ch, dma, dmaOff, off, len, this, op);
            case WRITE -> rc = desc.write(ch, dma, dmaOff, off, len, this, op);
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
        // validated against the geometry seen a moment ago; this is a race with a resize or a claim change
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
        if (op.sink != null) {
            LentBuffer lend = null;
            if (op.buf != null) {
                if (op.type == IoType.READ && status == IoStatus.SUCCESS) {
                    lend = op.buf;
                    pool.lent(lend, (int) op.length);
                } else {
                    pool.give(op.buf);
                }
                op.buf = null;
            }
            Sink s = op.sink;
            pending(s).addCompleted(op.tag, op.type, op.offset, op.length, status, lend);
            s.pending.heldSlots++;
            recycle(op);
        } else {
            BdevServer.Request r = op.request;
            BdevServer.Reply reply;
            if (r instanceof BdevServer.Read read) {
                byte[] data = null;
                if (status == IoStatus.SUCCESS) {
                    data = new byte[read.length()];
                    op.buf.dma.getBytes(0, data, 0, data.length);
                }
                reply = new BdevServer.ReadCompleted(read.offset(), read.length(), status, data);
            } else {
                reply = new BdevServer.Completed(r.type(), r.offset(), op.length, status);
            }
            answerSingle(op, reply);
        }
        maybeClose();
    }

    /** Answers an op that never reached the bdev (or was refused by it); it held an in-flight slot. */
    private void refuse(Op op, int errno, String message) {
        if (op.sink != null) {
            if (op.buf != null) {
                pool.give(op.buf);
                op.buf = null;
            }
            answerRefused(op.sink, op.tag, op.type, op.offset, op.length, errno, op.type.rpcName() + " " + message, true);
            recycle(op);
        } else {
            answerSingle(op, new BdevServer.Refused(op.type, op.offset, errno, op.type.rpcName() + " " + message));
        }
    }

    /** Frees the op's buffer, releases its in-flight slot, then replies: in that order (see the class Javadoc). */
    private void answerSingle(Op op, BdevServer.Reply reply) {
        if (op.buf != null) {
            pool.give(op.buf);
            op.buf = null;
        }
        BdevServer.Request r = op.request;
        inFlight.release(1);
        recycle(op);
        BdevServer.tell(r, reply);
    }

    private void answerRefused(Sink s, long tag, IoType t, long off, long len, int errno, String message, boolean heldSlot) {
        Completions c = pending(s);
        c.addRefused(tag, t, off, len, errno, message);
        if (heldSlot) {
            c.heldSlots++;
        }
    }

    /** The sink's message being filled, created (and the flush queued) at the first answer after a flush. */
    private Completions pending(Sink s) {
        Completions c = s.pending;
        if (c == null) {
            c = freeCompletions;
            if (c != null) {
                freeCompletions = c.nextFree;
                c.nextFree = null;
                freeCompletionsCount--;
                c.reuse();
            } else {
                c = new Completions(s.outstanding, this);
            }
            s.pending = c;
        }
        if (!s.dirty) {
            s.dirty = true;
            dirty.add(s);
            queueFlush();
        }
        return c;
    }

    private void queueFlush() {
        if (flushQueued) {
            return;
        }
        flushQueued = true;
        try {
            reactor.send(flushTask);
        } catch (ReactorStoppedException e) {
            onFlush(); // the reactor is running its last tasks: answer now rather than never
        }
    }

    private void onFlush() {
        flushQueued = false;
        flush();
    }

    /** Sends every requester its gathered answers: slots released first, then the message. */
    private void flush() {
        ArrayList<Sink> d = dirty;
        for (int i = 0; i < d.size(); i++) {
            Sink s = d.get(i);
            Completions c = s.pending;
            s.pending = null;
            s.dirty = false;
            s.outstanding -= c.entries();
            inFlight.release(c.heldSlots);
            c.heldSlots = 0;
            if (s.outstanding == 0 && sinks.size() > IDLE_SINKS) {
                // a closed loop comes straight back: keep a few idle requesters' sinks rather than re-create them
                // every loop; past that, forget the idle ones so that departed requesters are not kept
                sinks.remove(s.replyTo);
                if (lastSink == s) {
                    lastSink = null;
                }
            }
            c.sent();
            s.replyTo.tell(c);
        }
        d.clear();
    }

    /** A reply its receiver recycled ({@link Completions#recycle()}), on this reactor: kept for reuse, up to a bound. */
    void takeBack(Completions c) {
        if (state == State.CLOSED || freeCompletionsCount >= POOLED_COMPLETIONS) {
            return;
        }
        c.nextFree = freeCompletions;
        freeCompletions = c;
        freeCompletionsCount++;
    }

    private Op takeOp() {
        Op op = freeOps;
        if (op == null) {
            return new Op(this, true);
        }
        freeOps = op.nextFree;
        op.nextFree = null;
        return op;
    }

    private void recycle(Op op) {
        op.clear();
        if (op.pooled) {
            op.nextFree = freeOps;
            freeOps = op;
        }
    }
}
