package io.spindle.transport.nvmf;

import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.BufferClaim;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.IoWaitEntry;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import io.spindle.transport.wire.AdminCodec;
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
 * The target side of one host I/O queue pair: a poller on one target reactor that reads command capsules and data
 * chunks from its subscription, validates every frame in full before using a field, submits the I/O to the
 * namespace's bdev through this reactor's channel, and publishes completions (with read data) on its publication,
 * all from this reactor: no actor message and no allocation per I/O.
 *
 * <p><b>Slots.</b> One slot per command id ({@code 0 .. depth-1}); a slot owns a {@link DmaBuffer} that grows to the
 * largest transfer it carried (so a steady load allocates nothing) and is released at close. Data moves with one
 * copy per side: the Aeron log into the slot buffer for writes, the slot buffer into a claimed log region for reads.
 *
 * <p><b>Bad frames</b> are counted ({@link #badFrames()}), the first reason is kept and logged once for this queue
 * pair; a bad command whose command id can be answered (in range and not in flight) gets an error completion, any
 * other bad frame is discarded and reported to the host with an {@code ASYNC_EVENT} (frame discarded).
 *
 * <p><b>Threads.</b> Everything but the constructor and the volatile counters runs on {@link #reactor()}.
 */
public final class TargetQpair implements FragmentHandler {
    static final Logger LOG = LoggerFactory.getLogger("io.spindle.transport.nvmf");

    private static final int FREE = 0;
    private static final int RECV_DATA = 1;
    private static final int WAIT_IO = 2;
    private static final int AT_BDEV = 3;
    private static final int SENDING = 4;

    /** One namespace as this queue pair sees it: the descriptor, this reactor's channel, and what is in flight. */
    static final class NsRef {
        final NvmfTarget.Namespace ns;
        IoChannel<BdevChannel> channel;
        int inflight;
        boolean released;
        Runnable releaseCallback;

        NsRef(NvmfTarget.Namespace ns) {
            this.ns = ns;
        }

        /** Takes this reactor's channel of the namespace; one it cannot get counts as released. On the reactor. */
        void takeChannel() {
            channel = ns.descriptor.getIoChannel();
            if (channel == null) {
                released = true;
            }
        }
    }

    /** Per command id. */
    final class Slot {
        final int cid;
        int state;
        Opcode opcode;
        NsRef ns;
        long slba;
        int nlb;
        int dataLength;
        int received;
        int sent;
        int status;
        long abortResult;
        DmaBuffer buffer;
        final UnsafeBuffer view = new UnsafeBuffer(0, 0);
        final IoWaitEntry waitEntry;

        Slot(int cid) {
            this.cid = cid;
            this.waitEntry = new IoWaitEntry(a -> resubmit((Slot) a), this);
        }

        void ensure(int bytes) {
            if (buffer == null || buffer.capacity() < bytes) {
                if (buffer != null) {
                    buffer.close();
                }
                buffer = DmaBuffer.allocate(Math.max(bytes, 4096), 4096);
                view.wrap(buffer.address(), (int) buffer.capacity());
            }
        }
    }

    private final NvmfTarget target;
    private final NvmfTarget.TargetController controller;
    private final Reactor reactor;
    private final int qid;
    private final int depth;
    private final int sessionId;
    private final int maxIoSize;
    private final int inCapsuleSize;
    final Subscription subscription;
    final ExclusivePublication publication;
    private final int maxPayload;
    private final NsRef[] namespaces;
    private final Slot[] slots;
    private final int[] pending;
    private int pendingHead;
    private int pendingCount;
    private int inflight;
    private final Frame frame = new Frame();
    private final Frame out = new Frame();
    private final BufferClaim claim = new BufferClaim();
    private final IoCallback done = this::onBdevComplete;
    private Poller poller;
    private boolean closing;
    private boolean finished;
    private volatile long badFrames;
    private volatile String firstBadFrame;
    private volatile long commands;
    private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[512]);

    TargetQpair(NvmfTarget target, NvmfTarget.TargetController controller, Reactor reactor, int qid, int depth, int sessionId,
                Subscription subscription, ExclusivePublication publication, NvmfTarget.Namespace[] nsByIndex) {
        this.target = target;
        this.controller = controller;
        this.reactor = reactor;
        this.qid = qid;
        this.depth = depth;
        this.sessionId = sessionId;
        this.maxIoSize = target.maxIoSize();
        this.inCapsuleSize = target.inCapsuleDataSize();
        this.subscription = subscription;
        this.publication = publication;
        this.maxPayload = publication.maxPayloadLength();
        this.namespaces = new NsRef[nsByIndex.length];
        for (int i = 0; i < nsByIndex.length; i++) {
            namespaces[i] = nsByIndex[i] == null ? null : new NsRef(nsByIndex[i]);
        }
        this.slots = new Slot[depth];
        for (int i = 0; i < depth; i++) {
            slots[i] = new Slot(i);
        }
        this.pending = new int[depth];
    }

    /** The reactor this queue pair runs on. */
    public Reactor reactor() {
        return reactor;
    }

    /** The queue id. */
    public int qid() {
        return qid;
    }

    /** Bad frames seen on this queue pair (any thread). */
    public long badFrames() {
        return badFrames;
    }

    /** The first bad frame's reason, or null (any thread). */
    public String firstBadFrame() {
        return firstBadFrame;
    }

    /** Commands accepted so far (any thread). */
    public long commands() {
        return commands;
    }

    // ------------------------------------------------------------------ life-cycle (on the reactor)

    /** On the reactor: takes this reactor's channel of every namespace, registers the poller. */
    void start() {
        for (NsRef r : namespaces) {
            if (r != null && !r.ns.removing) {
                r.takeChannel();
            } else if (r != null) {
                r.released = true;
            }
        }
        poller = reactor.registerPoller("nvmf_aeron_qpair_" + controller.cntlid + "_" + qid, this::poll);
    }

    /** On the reactor: stop taking commands; finishes once every I/O at the bdev has completed. */
    void close() {
        if (closing) {
            return;
        }
        closing = true;
        for (Slot s : slots) {
            if (s.state == RECV_DATA || s.state == SENDING) {
                free(s); // nothing of it is at the bdev
            }
        }
        pendingCount = 0;
        maybeFinish();
    }

    /**
     * On the reactor: a namespace added to the subsystem after this queue pair was created: takes this reactor's
     * channel of it, so its commands are served from now on. A namespace this queue pair already has is left alone;
     * a closing queue pair takes nothing.
     */
    void addNamespace(NvmfTarget.Namespace ns) {
        int index = (int) ns.nsid;
        if (closing || finished || index < 1 || index >= namespaces.length || ns.removing) {
            return;
        }
        NsRef cur = namespaces[index];
        if (cur != null && (cur.ns == ns || !cur.released)) {
            return;
        }
        NsRef r = new NsRef(ns);
        r.takeChannel();
        namespaces[index] = r;
    }

    /** On the reactor: the namespace at {@code index} goes; its channel is put once its I/O here has completed. */
    void releaseNamespace(int index, Runnable whenReleased) {
        NsRef r = index < namespaces.length ? namespaces[index] : null;
        if (r == null || r.released) {
            whenReleased.run();
            return;
        }
        r.releaseCallback = whenReleased;
        maybeReleaseNs(r);
    }

    private void maybeReleaseNs(NsRef r) {
        if (r.inflight == 0 && r.releaseCallback != null && !r.released) {
            r.released = true;
            if (r.channel != null) {
                r.channel.put();
                r.channel = null;
            }
            Runnable cb = r.releaseCallback;
            r.releaseCallback = null;
            cb.run();
        }
    }

    private void maybeFinish() {
        if (!closing || finished || inflight > 0) {
            return;
        }
        finished = true;
        for (NsRef r : namespaces) {
            if (r != null && !r.released) {
                r.released = true;
                if (r.channel != null) {
                    r.channel.put();
                    r.channel = null;
                }
                if (r.releaseCallback != null) {
                    Runnable cb = r.releaseCallback;
                    r.releaseCallback = null;
                    cb.run();
                }
            }
        }
        for (Slot s : slots) {
            if (s.buffer != null) {
                s.buffer.close();
                s.buffer = null;
            }
        }
        if (poller != null) {
            poller.unregister();
        }
        target.qpairFinished(this, controller);
    }

    // ------------------------------------------------------------------ poll

    int poll() {
        if (finished) {
            return 0;
        }
        int work = 0;
        if (pendingCount > 0) {
            work += flushPending();
        }
        if (!closing && pendingCount == 0) {
            work += subscription.poll(this, 64);
        }
        return work;
    }

    @Override
    public void onFragment(DirectBuffer buffer, int offset, int length, Header header) {
        Frame f = frame.wrap(buffer, offset, length);
        if (header.sessionId() != sessionId) {
            bad("session_id=" + header.sessionId() + ": not this queue pair's host publication (" + sessionId + ")", -1);
            return;
        }
        String why = f.checkHeader();
        if (why != null) {
            bad(why, -1);
            return;
        }
        if (f.cntlid() != controller.cntlid || f.qid() != qid) {
            bad("cntlid=" + f.cntlid() + " qid=" + f.qid() + ": this queue pair is cntlid=" + controller.cntlid + " qid=" + qid, -1);
            return;
        }
        switch (f.type()) {
            case COMMAND -> onCommand(f);
            case DATA -> onData(f);
            case KEEP_ALIVE -> {
                // liveness is the admin queue's business
            }
            case DISCONNECT -> target.hostClosedQpair(controller, qid);
            default -> bad("type=" + f.type() + ": not allowed on an I/O queue (host to target)", -1);
        }
    }

    private void onCommand(Frame f) {
        if (f.length() < CMD_LENGTH) {
            bad("COMMAND frame_length=" + f.length() + ": shorter than " + CMD_LENGTH, -1);
            return;
        }
        int cid = f.cid();
        if (cid >= depth) {
            bad("cid=" + cid + ": must be < queue depth " + depth, -1);
            return;
        }
        Slot s = slots[cid];
        if (s.state != FREE) {
            bad("cid=" + cid + ": already in flight", -1);
            return;
        }
        Opcode op = Opcode.of(f.opcode());
        if (op == null) {
            reject(s, NvmeStatus.INVALID_OPCODE, "opcode=" + f.opcode() + ": unknown");
            return;
        }
        int icl = f.inCapsuleLength();
        int dl = f.dataLength();
        if (op == Opcode.KEEP_ALIVE) {
            if (f.length() != CMD_LENGTH) {
                reject(s, NvmeStatus.INVALID_FIELD, "KEEP_ALIVE frame_length=" + f.length() + ": must be " + CMD_LENGTH);
                return;
            }
            s.opcode = op;
            s.state = SENDING;
            s.status = NvmeStatus.SUCCESS;
            s.dataLength = 0;
            s.sent = 0;
            inflight++;
            sendCompletion(s);
            return;
        }
        if (op == Opcode.ABORT) {
            onAbort(s, f);
            return;
        }
        long nsid = f.nsid();
        NsRef ns = nsid >= 1 && nsid < namespaces.length ? namespaces[(int) nsid] : null;
        if (ns == null) {
            reject(s, NvmeStatus.INVALID_NAMESPACE, "nsid=" + nsid + ": no such namespace");
            return;
        }
        if (ns.released || ns.ns.removing || ns.channel == null) {
            reject(s, NvmeStatus.INVALID_NAMESPACE, "nsid=" + nsid + ": namespace removed");
            return;
        }
        long slba = f.slba();
        int nlb = f.nlb();
        long blocks = ns.ns.numBlocks;
        if (nlb < 1 || slba < 0 || slba > blocks - nlb) {
            reject(s, NvmeStatus.LBA_OUT_OF_RANGE, "slba=" + slba + " nlb=" + nlb + ": outside the namespace's " + blocks + " blocks");
            return;
        }
        long bytes = (long) nlb * ns.ns.blockSize;
        boolean moves = op.hostToTarget() || op.targetToHost();
        if (moves) {
            if (bytes > maxIoSize) {
                reject(s, NvmeStatus.INVALID_FIELD, "nlb=" + nlb + ": " + bytes + " bytes exceed max_io_size=" + maxIoSize);
                return;
            }
            if (dl != bytes) {
                reject(s, NvmeStatus.INVALID_FIELD, "data_length=" + dl + ": must be nlb*block_size=" + bytes);
                return;
            }
        } else if (dl != 0 || icl != 0) {
            reject(s, NvmeStatus.INVALID_FIELD, "data_length=" + dl + " in_capsule_length=" + icl + ": must be 0 for " + op);
            return;
        }
        if (op.hostToTarget()) {
            if (icl != 0 && (icl != dl || icl > inCapsuleSize)) {
                reject(s, NvmeStatus.INVALID_FIELD, "in_capsule_length=" + icl + ": must be 0 or data_length=" + dl
                        + " and <= in_capsule_data_size=" + inCapsuleSize);
                return;
            }
        } else if (icl != 0) {
            reject(s, NvmeStatus.INVALID_FIELD, "in_capsule_length=" + icl + ": must be 0 for " + op);
            return;
        }
        if (f.length() != CMD_LENGTH + icl) {
            reject(s, NvmeStatus.INVALID_FIELD, "frame_length=" + f.length() + ": must be " + (CMD_LENGTH + icl) + " for in_capsule_length=" + icl);
            return;
        }
        commands++;
        s.opcode = op;
        s.ns = ns;
        s.slba = slba;
        s.nlb = nlb;
        s.dataLength = (int) bytes;
        s.received = 0;
        s.sent = 0;
        inflight++;
        ns.inflight++;
        if (moves) {
            s.ensure((int) bytes);
        }
        if (op.hostToTarget() && icl == 0) {
            s.state = RECV_DATA;
            return;
        }
        if (icl > 0) {
            f.buffer().getBytes(f.offset() + CMD_LENGTH, s.view, 0, icl);
            s.received = icl;
        }
        submit(s);
    }

    private void onAbort(Slot s, Frame f) {
        if (f.length() != CMD_LENGTH) {
            reject(s, NvmeStatus.INVALID_FIELD, "ABORT frame_length=" + f.length() + ": must be " + CMD_LENGTH);
            return;
        }
        int victim = f.abortCid();
        s.opcode = Opcode.ABORT;
        s.ns = null;
        s.dataLength = 0;
        s.sent = 0;
        inflight++;
        s.state = SENDING;
        s.status = NvmeStatus.SUCCESS;
        long result = 1; // NVMe: bit 0 set = command not aborted
        if (victim < depth && victim != s.cid) {
            Slot v = slots[victim];
            if (v.state == RECV_DATA || v.state == WAIT_IO) {
                v.state = SENDING; // a queued io_wait callback then finds it no longer waiting and leaves it alone
                v.status = NvmeStatus.ABORTED_BY_REQUEST;
                v.dataLength = 0;
                v.sent = 0;
                if (v.ns != null) {
                    v.ns.inflight--;
                    maybeReleaseNs(v.ns);
                    v.ns = null;
                }
                result = 0;
                sendCompletion(v);
            } else if (v.state == AT_BDEV && v.ns != null && v.ns.channel != null) {
                BdevDescriptor d = v.ns.ns.descriptor;
                // the bdev layer aborts it if it can (the victim then completes ABORTED on its own); this ABORT is
                // answered when the layer's abort completes: SUCCESS = aborted
                s.abortResult = 1;
                if (d.abort(v.ns.channel, v, done, s) == 0) {
                    s.state = AT_BDEV;
                    s.ns = v.ns; // the abort holds the namespace's channel until it completes, as the victim does
                    s.ns.inflight++;
                    return;
                }
            }
        }
        s.abortResult = result;
        sendCompletion(s);
    }

    private void onData(Frame f) {
        if (f.length() < DATA_HEADER_LENGTH) {
            bad("DATA frame_length=" + f.length() + ": shorter than " + DATA_HEADER_LENGTH, -1);
            return;
        }
        int cid = f.cid();
        if (cid >= depth || slots[cid].state != RECV_DATA) {
            bad("DATA cid=" + cid + ": no command of this id is waiting for data", -1);
            return;
        }
        Slot s = slots[cid];
        int off = f.dataOffset();
        int len = f.chunkLength();
        if (off != s.received || len <= 0 || len > s.dataLength - s.received || f.length() != DATA_HEADER_LENGTH + len) {
            // the command's data cannot be trusted any more: fail it
            bad("DATA cid=" + cid + " offset=" + off + " length=" + len + ": expected offset=" + s.received + " and at most "
                    + (s.dataLength - s.received) + " bytes in a frame of " + (DATA_HEADER_LENGTH + len), cid);
            fail(s, NvmeStatus.DATA_TRANSFER_ERROR);
            return;
        }
        f.buffer().getBytes(f.offset() + DATA_HEADER_LENGTH, s.view, off, len);
        s.received += len;
        if (s.received == s.dataLength) {
            submit(s);
        }
    }

    // ------------------------------------------------------------------ bdev I/O

    private void submit(Slot s) {
        NsRef ns = s.ns;
        if (closing || ns.released || ns.ns.removing || ns.channel == null) {
            fail(s, NvmeStatus.ABORTED_SQ_DELETION);
            return;
        }
        BdevDescriptor d = ns.ns.descriptor;
        IoChannel<BdevChannel> ch = ns.channel;
        int rc = switch (s.opcode) {
            case READ -> d.readBlocks(ch, s.buffer, 0, s.slba, s.nlb, done, s);
            case WRITE -> d.writeBlocks(ch, s.buffer, 0, s.slba, s.nlb, done, s);
            case COMPARE -> d.compareBlocks(ch, s.buffer, 0, s.slba, s.nlb, done, s);
            case FLUSH -> d.flushBlocks(ch, s.slba, s.nlb, done, s);
            case WRITE_ZEROES -> d.writeZeroesBlocks(ch, s.slba, s.nlb, done, s);
            case UNMAP -> d.unmapBlocks(ch, s.slba, s.nlb, done, s);
            default -> Errno.ENOTSUP;
        };
        if (rc == 0) {
            s.state = AT_BDEV;
        } else if (rc == Errno.ENOMEM) {
            s.state = WAIT_IO;
            if (d.queueIoWait(ch, s.waitEntry) != 0) {
                reactor.send(() -> resubmit(s)); // I/O came free meanwhile: try again on the next loop
            }
        } else {
            fail(s, rc == Errno.EINVAL ? NvmeStatus.LBA_OUT_OF_RANGE : rc == Errno.ENOTSUP ? NvmeStatus.INVALID_OPCODE
                    : NvmeStatus.INTERNAL_DEVICE_ERROR);
        }
    }

    private void resubmit(Slot s) {
        if (s.state == WAIT_IO) {
            submit(s);
        }
    }

    private void onBdevComplete(BdevIo io, IoStatus status, Object arg) {
        Slot s = (Slot) arg;
        NsRef ns = s.ns;
        s.ns = null;
        if (ns != null) {
            ns.inflight--;
        }
        if (s.opcode == Opcode.ABORT) {
            // the layer's abort of a victim at the bdev: NVMe's Abort succeeds; result bit 0 clear = it was aborted
            s.abortResult = status == IoStatus.SUCCESS ? 0 : 1;
            s.status = NvmeStatus.SUCCESS;
        } else {
            s.status = NvmeStatus.of(status);
        }
        if (s.opcode != Opcode.READ || status != IoStatus.SUCCESS) {
            s.dataLength = 0;
        }
        s.sent = 0;
        s.state = SENDING;
        if (closing) {
            free(s);
        } else {
            sendCompletion(s);
        }
        if (ns != null) {
            maybeReleaseNs(ns);
        }
        maybeFinish();
    }

    private void reject(Slot s, int status, String why) {
        bad(why, s.cid);
        s.opcode = null;
        s.ns = null;
        s.dataLength = 0;
        s.sent = 0;
        s.status = status;
        s.state = SENDING;
        inflight++;
        sendCompletion(s);
    }

    private void fail(Slot s, int status) {
        if (s.ns != null) {
            s.ns.inflight--;
            NsRef ns = s.ns;
            s.ns = null;
            maybeReleaseNs(ns);
        }
        s.status = status;
        s.dataLength = 0;
        s.sent = 0;
        s.state = SENDING;
        if (closing) {
            free(s);
            maybeFinish();
        } else {
            sendCompletion(s);
        }
    }

    private void free(Slot s) {
        if (s.state != FREE) {
            if (s.ns != null) {
                s.ns.inflight--;
                NsRef ns = s.ns;
                s.ns = null;
                maybeReleaseNs(ns);
            }
            s.state = FREE;
            inflight--;
        }
    }

    // ------------------------------------------------------------------ sending

    private void sendCompletion(Slot s) {
        if (pendingCount > 0 || !trySend(s)) {
            pending[(pendingHead + pendingCount) % depth] = s.cid;
            pendingCount++;
        }
    }

    private int flushPending() {
        int n = 0;
        while (pendingCount > 0) {
            Slot s = slots[pending[pendingHead]];
            if (!trySend(s)) {
                break;
            }
            pendingHead = (pendingHead + 1) % depth;
            pendingCount--;
            n++;
        }
        return n;
    }

    /** Sends what is left of {@code s}'s data and its completion; false when back-pressured (resume later). */
    private boolean trySend(Slot s) {
        if (s.state != SENDING) {
            return true; // freed meanwhile
        }
        int total = s.dataLength;
        if (s.sent == 0 && CPL_LENGTH + total <= maxPayload) {
            long r = claim(CPL_LENGTH + total);
            if (r < 0) {
                return giveUpOrRetry(s, r);
            }
            MutableDirectBuffer b = claim.buffer();
            int o = claim.offset();
            out.wrap(b, o, CPL_LENGTH + total).header(FrameType.COMPLETION, 0, CPL_LENGTH + total, qid, s.cid, controller.cntlid)
                    .completion(s.status, total, s.opcode == Opcode.ABORT ? s.abortResult : 0);
            if (total > 0) {
                b.putBytes(o + CPL_LENGTH, s.view, 0, total);
            }
            claim.commit();
            free(s);
            maybeFinish();
            return true;
        }
        while (s.sent < total) {
            int chunk = Math.min(total - s.sent, maxPayload - DATA_HEADER_LENGTH);
            long r = claim(DATA_HEADER_LENGTH + chunk);
            if (r < 0) {
                return giveUpOrRetry(s, r);
            }
            MutableDirectBuffer b = claim.buffer();
            int o = claim.offset();
            out.wrap(b, o, DATA_HEADER_LENGTH + chunk).header(FrameType.DATA, s.sent + chunk == total ? FLAG_LAST : 0,
                    DATA_HEADER_LENGTH + chunk, qid, s.cid, controller.cntlid).data(s.sent, chunk);
            b.putBytes(o + DATA_HEADER_LENGTH, s.view, s.sent, chunk);
            claim.commit();
            s.sent += chunk;
        }
        long r = claim(CPL_LENGTH);
        if (r < 0) {
            return giveUpOrRetry(s, r);
        }
        out.wrap(claim.buffer(), claim.offset(), CPL_LENGTH).header(FrameType.COMPLETION, 0, CPL_LENGTH, qid, s.cid, controller.cntlid)
                .completion(s.status, 0, s.opcode == Opcode.ABORT ? s.abortResult : 0);
        claim.commit();
        free(s);
        maybeFinish();
        return true;
    }

    private long claim(int length) {
        long r = publication.tryClaim(length, claim);
        if (r == Publication.ADMIN_ACTION) {
            r = publication.tryClaim(length, claim);
        }
        return r;
    }

    /** Back-pressure: retry later. A publication that is gone: drop the completion, the host is gone too. */
    private boolean giveUpOrRetry(Slot s, long r) {
        if (r == Publication.BACK_PRESSURED || r == Publication.ADMIN_ACTION) {
            return false;
        }
        free(s);
        maybeFinish();
        return true;
    }

    /** Counts a bad frame, keeps and logs (once) its reason, and tells the host when it cannot be answered by a completion. */
    private void bad(String why, int answeredCid) {
        badFrames++;
        if (firstBadFrame == null) {
            firstBadFrame = why;
            LOG.warn("nvmf cntlid={} qid={} host={}: bad frame discarded or failed: {} (further bad frames of this queue pair are counted, "
                    + "not logged)", controller.cntlid, qid, controller.hostNqn, why);
        }
        target.countBadFrame(controller);
        if (answeredCid < 0 && !closing) {
            int len = AdminCodec.encode(scratch, 0, new AdminCodec.AsyncEvent(controller.cntlid, AdminCodec.EVENT_FRAME_DISCARDED, 0, ""));
            publication.offer(scratch, 0, len); // best effort: dropped when back-pressured
        }
    }
}
