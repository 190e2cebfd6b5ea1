package io.spindle.transport.initiator;

import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.BufferClaim;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import io.spindle.transport.wire.Frame;
import io.spindle.transport.wire.FrameType;
import io.spindle.transport.wire.NvmeStatus;
import io.spindle.transport.wire.Opcode;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import static io.spindle.transport.wire.FrameDescriptor.*;

/**
 * The host side of one I/O queue pair: the channel context of the controller's bdevs on one reactor (every
 * namespace bdev of the controller returns this object from {@code createChannel} on this reactor, so they share
 * one queue, SPDK's one I/O qpair per controller per thread). Submit publishes a command capsule (write data in the
 * capsule when it fits, else data chunks after it), copied once from the I/O's buffers into the claimed log; the
 * poller reads completions and read data, copied once into the I/O's buffers, and completes the I/O on this
 * reactor. No allocation and no actor message per I/O.
 *
 * <p><b>Back-pressure and faults.</b> A command the publication cannot take (back-pressured before any byte went
 * out, or no free command id) completes {@link IoStatus#NOMEM}: the bdev layer queues it and retries (its
 * io_wait path). While the controller is disconnected, accepted I/O wait in this queue pair (their command ids
 * stay taken) and are sent again once the controller has reconnected, unless the controller fails I/O (no
 * reconnect delay, {@code fast_io_fail_timeout_sec} elapsed, or deleted): then they complete {@link IoStatus#FAILED}.
 * Every accepted I/O completes exactly once.
 *
 * <p><b>Threads.</b> Everything runs on {@link #reactor()}; the controller reaches it with {@code reactor.send}.
 */
public final class HostQpair implements FragmentHandler {
    static final Logger LOG = LoggerFactory.getLogger("io.spindle.transport.initiator");

    private static final int FREE = 0;
    private static final int QUEUED = 1;
    private static final int SENDING = 2;
    private static final int SENT = 3;
    /** Its I/O completed already (channel destroyed): waiting only for the target's completion to free the id. */
    private static final int ORPHAN = 4;

    private final NvmeController ctrl;
    private final Reactor reactor;
    final int qid;
    private final int depth;
    private int activeDepth;
    private final ModuleIo[] io;
    private final int[] state;
    private final Opcode[] opcode;
    private final long[] nsid;
    private final int[] dataLength;
    private final int[] sent;
    private final int[] received;
    /** For an ABORT command: the command id it aborts. */
    private final int[] abortCid;
    /** For an ABORT command: its group (one per ABORT I/O of the layer), else -1. */
    private final int[] groupOf;
    /** Per group: the layer's ABORT I/O (null = the group slot is free), capsules still unanswered, whether one hit. */
    private final ModuleIo[] groupIo;
    private final int[] groupLeft;
    private final boolean[] groupHit;
    private volatile long abortsSent;
    private final int[] freeStack;
    private int freeTop;
    private final int[] queue;
    private int queueHead;
    private int queueCount;
    private int sendingCid = -1;
    private int inflight;
    private final ModuleIo[] resetWaiters;
    private int resetCount;
    private ExclusivePublication pub;
    private Subscription sub;
    private int maxPayload;
    private int inCapsule;
    private boolean connected;
    private final BufferClaim claim = new BufferClaim();
    private final Frame frame = new Frame();
    private final Frame out = new Frame();
    private final UnsafeBuffer iov = new UnsafeBuffer(0, 0);
    private Poller poller;
    private int channels;
    private volatile long badFrames;
    private volatile long discardNotices;
    private volatile long backPressured;
    private volatile long noSlot;
    private volatile long notConnected;
    private String firstBad;
    private boolean loggedError;

    HostQpair(NvmeController ctrl, Reactor reactor, int qid, int depth) {
        this.ctrl = ctrl;
        this.reactor = reactor;
        this.qid = qid;
        this.depth = depth;
        this.activeDepth = depth;
        this.io = new ModuleIo[depth];
        this.state = new int[depth];
        this.opcode = new Opcode[depth];
        this.nsid = new long[depth];
        this.dataLength = new int[depth];
        this.sent = new int[depth];
        this.received = new int[depth];
        this.abortCid = new int[depth];
        this.groupOf = new int[depth];
        java.util.Arrays.fill(groupOf, -1);
        this.groupIo = new ModuleIo[depth];
        this.groupLeft = new int[depth];
        this.groupHit = new boolean[depth];
        this.freeStack = new int[depth];
        for (int i = 0; i < depth; i++) {
            freeStack[i] = depth - 1 - i;
        }
        this.freeTop = depth;
        this.queue = new int[depth];
        this.resetWaiters = new ModuleIo[depth + 16];
    }

    /** The reactor. */
    public Reactor reactor() {
        return reactor;
    }

    /** I/O accepted and not yet completed (reactor thread). */
    int inflight() {
        return inflight;
    }

    /** Frames from the target that failed validation (any thread). */
    public long badFrames() {
        return badFrames;
    }

    /** Submits answered NOMEM because the publication was back-pressured (any thread). */
    public long backPressured() {
        return backPressured;
    }

    /** Submits answered NOMEM because every command id was in use (any thread). */
    public long noFreeCommandId() {
        return noSlot;
    }

    /** Submits queued because the publication was not connected (any thread). */
    public long notConnected() {
        return notConnected;
    }

    /** ABORT commands sent to the target (any thread). */
    public long abortsSent() {
        return abortsSent;
    }

    /** Frame-discarded notices the target sent on this queue (any thread). */
    public long discardNotices() {
        return discardNotices;
    }

    // ------------------------------------------------------------------ control (on the reactor)

    /** Registers the poller; once per controller life. */
    void start() {
        poller = reactor.registerPoller("bdev_nvme_aeron_" + ctrl.name() + "_q" + qid, this::poll);
    }

    /** The controller (re)connected this queue pair: resend what waits. */
    void bind(ExclusivePublication p, Subscription s, int inCapsuleSize, int grantedDepth) {
        if (grantedDepth < activeDepth && inflight == 0) {
            // the target granted fewer command ids than this queue has: use only those
            activeDepth = grantedDepth;
            freeTop = 0;
            for (int i = activeDepth - 1; i >= 0; i--) {
                freeStack[freeTop++] = i;
            }
        }
        this.pub = p;
        this.sub = s;
        this.maxPayload = p.maxPayloadLength();
        this.inCapsule = inCapsuleSize;
        this.connected = true;
    }

    /** The connection is gone: in-flight commands wait to be sent again, or fail when the controller fails I/O. */
    void disconnect() {
        connected = false;
        pub = null;
        sub = null;
        sendingCid = -1;
        // rebuild the queue: everything accepted and not completed, in command-id order
        queueHead = 0;
        queueCount = 0;
        for (int cid = 0; cid < depth; cid++) {
            if (opcode[cid] == Opcode.ABORT && state[cid] != FREE && state[cid] != ORPHAN) {
                continue; // an ABORT is not sent again: ended below, once the queue is rebuilt
            }
            switch (state[cid]) {
                case QUEUED, SENDING, SENT -> {
                    state[cid] = QUEUED;
                    sent[cid] = 0;
                    received[cid] = 0;
                    queue[queueCount++] = cid;
                }
                case ORPHAN -> release(cid);
                default -> {
                }
            }
        }
        for (int cid = 0; cid < depth; cid++) {
            if (opcode[cid] == Opcode.ABORT && state[cid] != FREE && state[cid] != ORPHAN) {
                finish(cid, IoStatus.FAILED); // its answer is lost with the connection: not aborted
            }
        }
        if (ctrl.failIo) {
            failQueued();
        }
    }

    /** Completes every waiting I/O FAILED (the controller fails I/O). */
    void failQueued() {
        while (queueCount > 0) {
            int cid = queue[queueHead];
            queueHead = (queueHead + 1) % depth;
            queueCount--;
            if (state[cid] == QUEUED) {
                finish(cid, IoStatus.FAILED);
            }
        }
        completeResets();
    }

    /** The controller goes: everything still held completes with {@code status}, the poller goes. */
    void shutdown(IoStatus status) {
        connected = false;
        pub = null;
        sub = null;
        for (int cid = 0; cid < depth; cid++) {
            if (state[cid] == ORPHAN) {
                release(cid);
            } else if (state[cid] != FREE) {
                finish(cid, status);
            }
        }
        queueCount = 0;
        sendingCid = -1;
        completeResets();
        if (poller != null) {
            poller.unregister();
            poller = null;
        }
    }

    void channelCreated() {
        channels++;
    }

    /** A bdev's channel on this reactor is destroyed: its I/O still here complete ABORTED now. */
    void channelDestroyed(BdevView bdev) {
        channels--;
        for (int cid = 0; cid < depth; cid++) {
            ModuleIo m = io[cid];
            if (m == null || m.bdev() != bdev) {
                continue;
            }
            if (opcode[cid] == Opcode.ABORT) {
                orphanAbort(cid, IoStatus.ABORTED);
            } else if (state[cid] == QUEUED) {
                finish(cid, IoStatus.ABORTED);
            } else if (state[cid] == SENT || state[cid] == SENDING) {
                io[cid] = null;
                state[cid] = ORPHAN; // its completion from the target frees the id
                m.complete(IoStatus.ABORTED);
            }
        }
        for (int i = 0; i < resetCount; i++) {
            if (resetWaiters[i] != null && resetWaiters[i].bdev() == bdev) {
                ModuleIo m = resetWaiters[i];
                resetWaiters[i] = null;
                m.complete(IoStatus.ABORTED);
            }
        }
    }

    // ------------------------------------------------------------------ submit

    void submit(ModuleIo m, long ns) {
        IoType t = m.type();
        if (t == IoType.RESET) {
            // a reset waits until the I/O outstanding here has completed (the layer holds new I/O meanwhile)
            if (inflight == 0 || resetCount == resetWaiters.length) {
                m.complete(IoStatus.SUCCESS);
            } else {
                resetWaiters[resetCount++] = m;
            }
            return;
        }
        Opcode op = Opcode.of(t);
        if (op == null) {
            m.complete(IoStatus.FAILED);
            return;
        }
        if (op == Opcode.ABORT) {
            abort(m, ns);
            return;
        }
        if (ctrl.failIo) {
            m.complete(IoStatus.FAILED);
            return;
        }
        if (freeTop == 0) {
            noSlot++;
            m.complete(IoStatus.NOMEM);
            return;
        }
        int cid = takeCid(m, op, ns, op.hostToTarget() || op.targetToHost() ? (int) (m.numBlocks() * m.bdev().blockSize()) : 0);
        if (mustQueue()) {
            enqueue(cid);
            return;
        }
        long r = send(cid);
        if (r == Publication.BACK_PRESSURED || r == Publication.ADMIN_ACTION) {
            if (sent[cid] == 0 && state[cid] != SENDING) {
                io[cid] = null;
                release(cid);
                backPressured++;
                m.complete(IoStatus.NOMEM); // nothing went out: the bdev layer retries it
            }
        } else if (r < 0 && state[cid] == QUEUED) {
            notConnected++;
            enqueue(cid); // not connected (yet): sent once the connection is there
        }
    }

    /** Takes a free command id (the caller checked there is one) for {@code m}'s command, counted in flight. */
    private int takeCid(ModuleIo m, Opcode op, long ns, int dataLen) {
        int cid = freeStack[--freeTop];
        io[cid] = m;
        groupOf[cid] = -1;
        opcode[cid] = op;
        nsid[cid] = ns;
        dataLength[cid] = dataLen;
        sent[cid] = 0;
        received[cid] = 0;
        inflight++;
        return cid;
    }

    /** A new command waits its turn: not connected, or commands (or a command's data) are ahead of it. */
    private boolean mustQueue() {
        return !connected || queueCount > 0 || sendingCid >= 0;
    }

    private void enqueue(int cid) {
        state[cid] = QUEUED;
        queue[(queueHead + queueCount) % depth] = cid;
        queueCount++;
    }

    /**
     * Sends command {@code cid} (and its data), resuming where a back-pressured attempt stopped. Returns a position
     * (> 0) when all of it went out, else the publication's failure code; the slot is then SENDING (part went out)
     * or QUEUED (nothing did).
     */
    private long send(int cid) {
        Opcode op = opcode[cid];
        int total = dataLength[cid];
        ModuleIo m = io[cid];
        if (state[cid] != SENDING) {
            boolean inline = op.hostToTarget() && total <= inCapsule && CMD_LENGTH + total <= maxPayload;
            int len = CMD_LENGTH + (inline ? total : 0);
            long r = claim(len);
            if (r < 0) {
                state[cid] = QUEUED;
                return r;
            }
            MutableDirectBuffer b = claim.buffer();
            int o = claim.offset();
            out.wrap(b, o, len).header(FrameType.COMMAND, 0, len, qid, cid, ctrl.cntlid).command(op.code(), nsid[cid], m.offsetBlocks(),
                    (int) m.numBlocks(), total, inline ? total : 0, op == Opcode.ABORT ? abortCid[cid] : 0);
            if (inline) {
                copyFromIovs(m, 0, b, o + CMD_LENGTH, total);
            }
            claim.commit();
            state[cid] = op.hostToTarget() && !inline ? SENDING : SENT;
            if (state[cid] == SENT) {
                return r;
            }
        }
        while (sent[cid] < total) {
            int chunk = Math.min(total - sent[cid], maxPayload - DATA_HEADER_LENGTH);
            long r = claim(DATA_HEADER_LENGTH + chunk);
            if (r < 0) {
                sendingCid = cid;
                return r;
            }
            MutableDirectBuffer b = claim.buffer();
            int o = claim.offset();
            out.wrap(b, o, DATA_HEADER_LENGTH + chunk).header(FrameType.DATA, sent[cid] + chunk == total ? FLAG_LAST : 0,
                    DATA_HEADER_LENGTH + chunk, qid, cid, ctrl.cntlid).data(sent[cid], chunk);
            copyFromIovs(m, sent[cid], b, o + DATA_HEADER_LENGTH, chunk);
            claim.commit();
            sent[cid] += chunk;
        }
        state[cid] = SENT;
        if (sendingCid == cid) {
            sendingCid = -1;
        }
        return 1;
    }

    private long claim(int length) {
        long r = pub.tryClaim(length, claim);
        if (r == Publication.ADMIN_ACTION) {
            r = pub.tryClaim(length, claim);
        }
        return r;
    }

    private void copyFromIovs(ModuleIo m, int pos, MutableDirectBuffer dst, int dstOff, int len) {
        int i = 0;
        long off = pos;
        while (off >= m.iovLength(i)) {
            off -= m.iovLength(i);
            i++;
        }
        while (len > 0) {
            int n = (int) Math.min(len, m.iovLength(i) - off);
            iov.wrap(m.iovAddress(i) + off, n);
            dst.putBytes(dstOff, iov, 0, n);
            dstOff += n;
            len -= n;
            off = 0;
            i++;
        }
    }

    private void copyToIovs(ModuleIo m, int pos, DirectBuffer src, int srcOff, int len) {
        int i = 0;
        long off = pos;
        while (off >= m.iovLength(i)) {
            off -= m.iovLength(i);
            i++;
        }
        while (len > 0) {
            int n = (int) Math.min(len, m.iovLength(i) - off);
            iov.wrap(m.iovAddress(i) + off, n);
            src.getBytes(srcOff, iov, 0, n);
            srcOff += n;
            len -= n;
            off = 0;
            i++;
        }
    }

    // ------------------------------------------------------------------ poll

    int poll() {
        if (!connected) {
            return 0;
        }
        int work = 0;
        if (sendingCid >= 0) {
            if (send(sendingCid) > 0) {
                work++;
            }
        }
        while (sendingCid < 0 && queueCount > 0) {
            int cid = queue[queueHead];
            if (state[cid] != QUEUED) {
                queueHead = (queueHead + 1) % depth;
                queueCount--;
                continue;
            }
            long r = send(cid);
            if (r > 0 || state[cid] == SENDING) {
                queueHead = (queueHead + 1) % depth;
                queueCount--;
                work++;
            }
            if (r < 0) {
                break;
            }
        }
        Subscription s = sub;
        if (s != null) {
            work += s.poll(this, 64);
        }
        return work;
    }

    @Override
    public void onFragment(DirectBuffer buffer, int offset, int length, Header header) {
        Frame f = frame.wrap(buffer, offset, length);
        String why = f.checkHeader();
        if (why != null) {
            bad(why);
            return;
        }
        if (f.cntlid() != ctrl.cntlid || f.qid() != qid) {
            bad("cntlid=" + f.cntlid() + " qid=" + f.qid() + ": this queue pair is cntlid=" + ctrl.cntlid + " qid=" + qid);
            return;
        }
        switch (f.type()) {
            case COMPLETION -> onCompletion(f);
            case DATA -> onData(f);
            case ASYNC_EVENT -> discardNotices++;
            case DISCONNECT -> ctrl.qpairLost(this, "the target closed I/O queue " + qid);
            default -> bad("type=" + f.type() + ": not allowed on an I/O queue (target to host)");
        }
    }

    private void onCompletion(Frame f) {
        if (f.length() < CPL_LENGTH) {
            bad("COMPLETION frame_length=" + f.length() + ": shorter than " + CPL_LENGTH);
            return;
        }
        int cid = f.cid();
        if (cid >= depth || (state[cid] != SENT && state[cid] != SENDING && state[cid] != ORPHAN)) {
            bad("COMPLETION cid=" + cid + ": no command of this id is outstanding");
            return;
        }
        int inl = f.inlineLength();
        if (inl < 0 || f.length() != CPL_LENGTH + inl) {
            bad("COMPLETION inline_length=" + inl + ": frame_length=" + f.length());
            return;
        }
        if (state[cid] == ORPHAN) {
            release(cid);
            return;
        }
        int status = f.status();
        if (opcode[cid] == Opcode.ABORT) {
            // NVMe's Abort: success with bit 0 of the result clear means the command was aborted
            boolean hit = status == NvmeStatus.SUCCESS && (f.result() & 1) == 0 && inl == 0;
            finish(cid, hit ? IoStatus.SUCCESS : IoStatus.FAILED);
            return;
        }
        IoStatus st = NvmeStatus.toIoStatus(status);
        if (st != IoStatus.SUCCESS && st != IoStatus.MISCOMPARE && !loggedError) {
            loggedError = true;
            LOG.warn("bdev_nvme {} qid={}: {} cid={} completed {} (first error completion of this queue pair)", ctrl.name(), qid, opcode[cid], cid,
                    NvmeStatus.name(status));
        }
        if (opcode[cid] == Opcode.READ && st == IoStatus.SUCCESS) {
            if (received[cid] + inl != dataLength[cid]) {
                bad("COMPLETION cid=" + cid + ": read data " + (received[cid] + inl) + " bytes, expected " + dataLength[cid]);
                st = IoStatus.FAILED;
            } else if (inl > 0) {
                copyToIovs(io[cid], received[cid], f.buffer(), f.offset() + CPL_LENGTH, inl);
            }
        } else if (inl != 0) {
            bad("COMPLETION cid=" + cid + ": inline data on a " + opcode[cid] + " with status " + NvmeStatus.name(status));
        }
        if (sendingCid == cid) {
            sendingCid = -1; // the target answered before all data went out (it refused the command)
        }
        finish(cid, st);
    }

    private void onData(Frame f) {
        if (f.length() < DATA_HEADER_LENGTH) {
            bad("DATA frame_length=" + f.length() + ": shorter than " + DATA_HEADER_LENGTH);
            return;
        }
        int cid = f.cid();
        if (cid >= depth || state[cid] != SENT || opcode[cid] != Opcode.READ) {
            if (cid < depth && state[cid] == ORPHAN) {
                return; // data of an I/O already aborted locally
            }
            bad("DATA cid=" + cid + ": no read of this id is outstanding");
            return;
        }
        int off = f.dataOffset();
        int len = f.chunkLength();
        if (off != received[cid] || len <= 0 || len > dataLength[cid] - off || f.length() != DATA_HEADER_LENGTH + len) {
            bad("DATA cid=" + cid + " offset=" + off + " length=" + len + ": expected offset=" + received[cid] + ", at most "
                    + (dataLength[cid] - received[cid]) + " bytes");
            return;
        }
        copyToIovs(io[cid], off, f.buffer(), f.offset() + DATA_HEADER_LENGTH, len);
        received[cid] += len;
    }

    private void finish(int cid, IoStatus st) {
        ModuleIo m = io[cid];
        io[cid] = null;
        int g = groupOf[cid];
        groupOf[cid] = -1;
        release(cid);
        if (g >= 0) {
            abortAnswered(g, st == IoStatus.SUCCESS);
        } else if (m != null) {
            m.complete(st);
        }
        if (resetCount > 0 && inflight == 0) {
            completeResets();
        }
    }

    private void release(int cid) {
        if (state[cid] != FREE) {
            state[cid] = FREE;
            io[cid] = null;
            freeStack[freeTop++] = cid;
            inflight--;
        }
    }

    // ------------------------------------------------------------------ abort (SPDK's bdev_nvme_abort)

    /**
     * The layer's ABORT of the I/O with callback argument {@code m.abortTarget()} on namespace {@code ns}: what still
     * waits here (never sent, or waiting for a reconnect) completes ABORTED at once; for each command at the target
     * an ABORT capsule names its command id. The ABORT completes SUCCESS when anything was aborted, FAILED when
     * nothing was (nothing matched, no command id free for a capsule, or the target could not abort it), once every
     * capsule it sent is answered.
     */
    private void abort(ModuleIo m, long ns) {
        Object target = m.abortTarget();
        boolean hit = false;
        int g = -1;
        for (int cid = 0; cid < depth; cid++) {
            ModuleIo v = io[cid];
            if (v == null || opcode[cid] == Opcode.ABORT || nsid[cid] != ns || v.bdev() != m.bdev() || !v.isAbortedBy(target)) {
                continue;
            }
            if (state[cid] == QUEUED && cid != sendingCid) {
                finish(cid, IoStatus.ABORTED); // never reached the target: the layer defers the completion (inside a submit)
                hit = true;
            } else if ((state[cid] == SENT || state[cid] == SENDING) && freeTop > 0) {
                if (g < 0) {
                    g = freeGroup();
                    groupIo[g] = m;
                    groupLeft[g] = 0;
                    groupHit[g] = false;
                }
                int acid = takeCid(m, Opcode.ABORT, ns, 0);
                groupOf[acid] = g;
                groupLeft[g]++;
                abortCid[acid] = cid;
                abortsSent++;
                if (mustQueue()) {
                    enqueue(acid);
                } else {
                    long r = send(acid);
                    if (r < 0 && state[acid] == QUEUED) {
                        enqueue(acid); // back-pressured or not connected: the poller sends it
                    }
                }
            }
        }
        if (g < 0) {
            m.complete(hit ? IoStatus.SUCCESS : IoStatus.FAILED);
        } else if (hit) {
            groupHit[g] = true;
        }
    }

    private int freeGroup() {
        for (int g = 0; g < depth; g++) {
            if (groupIo[g] == null) {
                return g;
            }
        }
        throw new IllegalStateException("bdev_nvme " + ctrl.name() + " qid=" + qid + ": more ABORT groups than command ids (" + depth + ")");
    }

    /** One ABORT capsule of group {@code g} is answered (or ended without an answer). */
    private void abortAnswered(int g, boolean hit) {
        ModuleIo m = groupIo[g];
        if (m == null) {
            return; // its ABORT already completed (its channel went)
        }
        groupHit[g] |= hit;
        if (--groupLeft[g] == 0) {
            groupIo[g] = null;
            m.complete(groupHit[g] ? IoStatus.SUCCESS : IoStatus.FAILED);
        }
    }

    /** The channel of an ABORT's bdev goes: the ABORT completes {@code st} once; its capsules still out are orphans. */
    private void orphanAbort(int cid, IoStatus st) {
        int g = groupOf[cid];
        ModuleIo m = g >= 0 ? groupIo[g] : null;
        if (g >= 0) {
            groupIo[g] = null;
        }
        for (int c = 0; c < depth; c++) {
            if (g >= 0 && groupOf[c] == g) {
                groupOf[c] = -1;
                io[c] = null;
                if (state[c] == QUEUED) {
                    release(c); // never sent
                } else if (state[c] != FREE) {
                    state[c] = ORPHAN; // the target's answer frees the id
                }
            }
        }
        if (m != null) {
            m.complete(st);
        }
    }

    private void completeResets() {
        int n = resetCount;
        resetCount = 0;
        for (int i = 0; i < n; i++) {
            ModuleIo m = resetWaiters[i];
            resetWaiters[i] = null;
            if (m != null) {
                m.complete(IoStatus.SUCCESS);
            }
        }
    }

    private void bad(String why) {
        badFrames++;
        if (firstBad == null) {
            firstBad = why;
            LOG.warn("bdev_nvme {} qid={}: bad frame from the target discarded: {} (further ones are counted, not logged)", ctrl.name(), qid, why);
        }
    }
}
