package io.spindle.transport.wire;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static io.spindle.transport.wire.FrameDescriptor.HEADER_LENGTH;

/**
 * Encoders and validating decoders of the admin frames (connect, authentication, I/O queue setup, keep-alive,
 * disconnect, async events). The admin path is the control plane: these allocate (records, strings), the I/O
 * path ({@link Frame}) does not.
 *
 * <p>Bodies after the 16-byte header ({@code str} = u16 length + UTF-8 bytes, at most {@value #MAX_STRING} bytes):
 * <pre>
 * CONNECT             16 queue_depth u16 | 18 rsvd u16 | 20 resp_stream i32 | 24 kato_ms i32 | 28 rsvd i32
 *                     32 host_nonce[32] | 64 str hostnqn | str subnqn | str resp_channel
 * CONNECT_RESPONSE    16 status u16 | 18 ns_count u16 | 20 max_io_size i32 | 24 in_capsule i32 | 28 depth u16
 *                     30 rsvd u16 | 32 ns_count x (nsid u32, block_size u32, num_blocks i64, uuid 16)
 *                     | str serial | str model | str message
 * AUTH_CHALLENGE      16 target_nonce[32] | 48 target_proof[32]
 * AUTH_RESPONSE       16 host_proof[32]
 * CONNECT_IO          16 depth u16 | 18 rsvd u16 | 20 resp_stream i32 | 24 cmd_stream i32 | 28 cmd_session i32
 *                     (QID in the header; the host's command publication is already open on cmd_stream)
 * CONNECT_IO_RESPONSE 16 status u16 | 18 rsvd u16 | 20 cmd_stream i32 | 24 str message
 * KEEP_ALIVE          (header only)
 * DISCONNECT          16 reason u16 | 18 str message
 * ASYNC_EVENT         16 event u16 | 18 rsvd u16 | 20 nsid u32 | 24 str detail
 *                     [NS_ADDED only: block_size u32, num_blocks i64, uuid 16, after detail]
 * </pre>
 */
public final class AdminCodec {
    private AdminCodec() {
    }

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Longest string field in bytes. */
    public static final int MAX_STRING = 1024;
    /** Bytes of a nonce or an HMAC-SHA-256 proof. */
    public static final int NONCE_LENGTH = 32;
    /** Most namespaces a connect response lists. */
    public static final int MAX_NAMESPACES = 1024;

    /** ASYNC_EVENT: a namespace was removed from the subsystem. */
    public static final int EVENT_NS_REMOVED = 1;
    /** ASYNC_EVENT: the target discarded a frame of this controller (detail says why). */
    public static final int EVENT_FRAME_DISCARDED = 2;
    /**
     * ASYNC_EVENT: a namespace was added to the subsystem while the controller was connected (NVMe's "namespace
     * attribute changed" notice, with the namespace's identify data in the frame: nsid, block size, block count, UUID).
     */
    public static final int EVENT_NS_ADDED = 3;

    /** One namespace in a connect response. */
    public record NsInfo(long nsid, int blockSize, long numBlocks, UUID uuid) {
    }

    /** CONNECT. */
    public record Connect(int queueDepth, int respStream, int katoMs, byte[] hostNonce, String hostNqn, String subNqn,
                          String respChannel) {
    }

    /** CONNECT_RESPONSE. */
    public record ConnectResponse(int cntlid, int status, int maxIoSize, int inCapsuleSize, int queueDepth, List<NsInfo> namespaces,
                                  String serial, String model, String message) {
    }

    /** AUTH_CHALLENGE. */
    public record AuthChallenge(int cntlid, byte[] targetNonce, byte[] targetProof) {
    }

    /** AUTH_RESPONSE. */
    public record AuthResponse(int cntlid, byte[] hostProof) {
    }

    /** CONNECT_IO. */
    public record ConnectIo(int cntlid, int qid, int depth, int respStream, int cmdStream, int cmdSession) {
    }

    /** CONNECT_IO_RESPONSE. */
    public record ConnectIoResponse(int cntlid, int qid, int status, int cmdStream, String message) {
    }

    /** DISCONNECT. */
    public record Disconnect(int cntlid, int qid, int reason, String message) {
    }

    /** ASYNC_EVENT; {@code ns} is the added namespace for {@link #EVENT_NS_ADDED}, else null. */
    public record AsyncEvent(int cntlid, int event, long nsid, String detail, NsInfo ns) {
        /** An event that carries no namespace data. */
        public AsyncEvent(int cntlid, int event, long nsid, String detail) {
            this(cntlid, event, nsid, detail, null);
        }
    }

    // ------------------------------------------------------------------ encode (return the frame length)

    private static Frame hdr(MutableDirectBuffer b, int off, FrameType t, int len, int qid, int cntlid) {
        return new Frame().wrap(b, off, len).header(t, 0, len, qid, 0, cntlid);
    }

    private static int putString(MutableDirectBuffer b, int at, String s) {
        byte[] bytes = s == null ? new byte[0] : s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_STRING) {
            throw new IllegalArgumentException("string length=" + bytes.length + ": at most " + MAX_STRING + " bytes");
        }
        b.putShort(at, (short) bytes.length, LE);
        b.putBytes(at + 2, bytes);
        return at + 2 + bytes.length;
    }

    /** Encodes CONNECT at {@code off}; returns the frame length. */
    public static int encode(MutableDirectBuffer b, int off, Connect c) {
        int at = off + HEADER_LENGTH;
        b.putShort(at, (short) c.queueDepth(), LE);
        b.putShort(at + 2, (short) 0, LE);
        b.putInt(at + 4, c.respStream(), LE);
        b.putInt(at + 8, c.katoMs(), LE);
        b.putInt(at + 12, 0, LE);
        b.putBytes(at + 16, c.hostNonce(), 0, NONCE_LENGTH);
        at = putString(b, off + 64, c.hostNqn());
        at = putString(b, at, c.subNqn());
        at = putString(b, at, c.respChannel());
        int len = at - off;
        hdr(b, off, FrameType.CONNECT, len, 0, 0);
        return len;
    }

    /** Encodes CONNECT_RESPONSE. */
    public static int encode(MutableDirectBuffer b, int off, ConnectResponse r) {
        int at = off + HEADER_LENGTH;
        b.putShort(at, (short) r.status(), LE);
        b.putShort(at + 2, (short) r.namespaces().size(), LE);
        b.putInt(at + 4, r.maxIoSize(), LE);
        b.putInt(at + 8, r.inCapsuleSize(), LE);
        b.putShort(at + 12, (short) r.queueDepth(), LE);
        b.putShort(at + 14, (short) 0, LE);
        at = off + 32;
        for (NsInfo n : r.namespaces()) {
            b.putInt(at, (int) n.nsid(), LE);
            b.putInt(at + 4, n.blockSize(), LE);
            b.putLong(at + 8, n.numBlocks(), LE);
            b.putLong(at + 16, n.uuid().getMostSignificantBits(), LE);
            b.putLong(at + 24, n.uuid().getLeastSignificantBits(), LE);
            at += 32;
        }
        at = putString(b, at, r.serial());
        at = putString(b, at, r.model());
        at = putString(b, at, r.message());
        int len = at - off;
        hdr(b, off, FrameType.CONNECT_RESPONSE, len, 0, r.cntlid());
        return len;
    }

    /** Encodes AUTH_CHALLENGE. */
    public static int encode(MutableDirectBuffer b, int off, AuthChallenge c) {
        b.putBytes(off + 16, c.targetNonce(), 0, NONCE_LENGTH);
        b.putBytes(off + 48, c.targetProof(), 0, NONCE_LENGTH);
        int len = 80;
        hdr(b, off, FrameType.AUTH_CHALLENGE, len, 0, c.cntlid());
        return len;
    }

    /** Encodes AUTH_RESPONSE. */
    public static int encode(MutableDirectBuffer b, int off, AuthResponse r) {
        b.putBytes(off + 16, r.hostProof(), 0, NONCE_LENGTH);
        int len = 48;
        hdr(b, off, FrameType.AUTH_RESPONSE, len, 0, r.cntlid());
        return len;
    }

    /** Encodes CONNECT_IO. */
    public static int encode(MutableDirectBuffer b, int off, ConnectIo c) {
        b.putShort(off + 16, (short) c.depth(), LE);
        b.putShort(off + 18, (short) 0, LE);
        b.putInt(off + 20, c.respStream(), LE);
        b.putInt(off + 24, c.cmdStream(), LE);
        b.putInt(off + 28, c.cmdSession(), LE);
        int len = 32;
        hdr(b, off, FrameType.CONNECT_IO, len, c.qid(), c.cntlid());
        return len;
    }

    /** Encodes CONNECT_IO_RESPONSE. */
    public static int encode(MutableDirectBuffer b, int off, ConnectIoResponse r) {
        b.putShort(off + 16, (short) r.status(), LE);
        b.putShort(off + 18, (short) 0, LE);
        b.putInt(off + 20, r.cmdStream(), LE);
        int len = putString(b, off + 24, r.message()) - off;
        hdr(b, off, FrameType.CONNECT_IO_RESPONSE, len, r.qid(), r.cntlid());
        return len;
    }

    /** Encodes KEEP_ALIVE. */
    public static int encodeKeepAlive(MutableDirectBuffer b, int off, int cntlid) {
        hdr(b, off, FrameType.KEEP_ALIVE, HEADER_LENGTH, 0, cntlid);
        return HEADER_LENGTH;
    }

    /** Encodes DISCONNECT. */
    public static int encode(MutableDirectBuffer b, int off, Disconnect d) {
        b.putShort(off + 16, (short) d.reason(), LE);
        int len = putString(b, off + 18, d.message()) - off;
        hdr(b, off, FrameType.DISCONNECT, len, d.qid(), d.cntlid());
        return len;
    }

    /** Encodes ASYNC_EVENT. */
    public static int encode(MutableDirectBuffer b, int off, AsyncEvent e) {
        b.putShort(off + 16, (short) e.event(), LE);
        b.putShort(off + 18, (short) 0, LE);
        b.putInt(off + 20, (int) e.nsid(), LE);
        int at = putString(b, off + 24, e.detail());
        if (e.event() == EVENT_NS_ADDED) {
            NsInfo n = e.ns();
            b.putInt(at, n.blockSize(), LE);
            b.putLong(at + 4, n.numBlocks(), LE);
            b.putLong(at + 12, n.uuid().getMostSignificantBits(), LE);
            b.putLong(at + 20, n.uuid().getLeastSignificantBits(), LE);
            at += 28;
        }
        int len = at - off;
        hdr(b, off, FrameType.ASYNC_EVENT, len, 0, e.cntlid());
        return len;
    }

    // ------------------------------------------------------------------ decode (validating)

    /** A bounds-checked reader over one frame; every read past the frame's end is a {@link FrameException}. */
    private static final class Reader {
        final DirectBuffer b;
        final int base;
        final int end;
        final String what;

        Reader(Frame f, String what) {
            this.b = f.buffer();
            this.base = f.offset();
            this.end = f.offset() + f.length();
            this.what = what;
        }

        void need(int rel, int n) throws FrameException {
            if (rel < 0 || n < 0 || base + rel + n > end) {
                throw new FrameException(what + ": frame_length=" + (end - base) + ": too short for field at " + rel + " (+" + n + ")");
            }
        }

        int u16(int rel) throws FrameException {
            need(rel, 2);
            return b.getShort(base + rel, LE) & 0xFFFF;
        }

        int i32(int rel) throws FrameException {
            need(rel, 4);
            return b.getInt(base + rel, LE);
        }

        long i64(int rel) throws FrameException {
            need(rel, 8);
            return b.getLong(base + rel, LE);
        }

        byte[] bytes(int rel, int n) throws FrameException {
            need(rel, n);
            byte[] out = new byte[n];
            b.getBytes(base + rel, out);
            return out;
        }

        /** Reads a string at rel; returns it and sets {@link #next}. */
        int next;

        String str(int rel, String field) throws FrameException {
            int n = u16(rel);
            if (n > MAX_STRING) {
                throw new FrameException(what + ": " + field + " length=" + n + ": at most " + MAX_STRING + " bytes");
            }
            byte[] raw = bytes(rel + 2, n);
            next = rel + 2 + n;
            return new String(raw, StandardCharsets.UTF_8);
        }
    }

    /** Decodes CONNECT (type already checked). */
    public static Connect connect(Frame f) throws FrameException {
        Reader r = new Reader(f, "CONNECT");
        int depth = r.u16(16);
        int stream = r.i32(20);
        int kato = r.i32(24);
        byte[] nonce = r.bytes(32, NONCE_LENGTH);
        String host = r.str(64, "hostnqn");
        String sub = r.str(r.next, "subnqn");
        String ch = r.str(r.next, "resp_channel");
        if (r.next != f.length()) {
            throw new FrameException("CONNECT: frame_length=" + f.length() + ": body ends at " + r.next);
        }
        return new Connect(depth, stream, kato, nonce, host, sub, ch);
    }

    /** Decodes CONNECT_RESPONSE. */
    public static ConnectResponse connectResponse(Frame f) throws FrameException {
        Reader r = new Reader(f, "CONNECT_RESPONSE");
        int status = r.u16(16);
        int n = r.u16(18);
        if (n > MAX_NAMESPACES) {
            throw new FrameException("CONNECT_RESPONSE: ns_count=" + n + ": at most " + MAX_NAMESPACES);
        }
        int maxIo = r.i32(20);
        int icd = r.i32(24);
        int depth = r.u16(28);
        List<NsInfo> ns = new ArrayList<>(n);
        int at = 32;
        for (int i = 0; i < n; i++) {
            ns.add(new NsInfo(r.i32(at) & 0xFFFF_FFFFL, r.i32(at + 4), r.i64(at + 8), new UUID(r.i64(at + 16), r.i64(at + 24))));
            at += 32;
        }
        String serial = r.str(at, "serial");
        String model = r.str(r.next, "model");
        String msg = r.str(r.next, "message");
        return new ConnectResponse(f.cntlid(), status, maxIo, icd, depth, ns, serial, model, msg);
    }

    /** Decodes AUTH_CHALLENGE. */
    public static AuthChallenge authChallenge(Frame f) throws FrameException {
        Reader r = new Reader(f, "AUTH_CHALLENGE");
        return new AuthChallenge(f.cntlid(), r.bytes(16, NONCE_LENGTH), r.bytes(48, NONCE_LENGTH));
    }

    /** Decodes AUTH_RESPONSE. */
    public static AuthResponse authResponse(Frame f) throws FrameException {
        Reader r = new Reader(f, "AUTH_RESPONSE");
        return new AuthResponse(f.cntlid(), r.bytes(16, NONCE_LENGTH));
    }

    /** Decodes CONNECT_IO. */
    public static ConnectIo connectIo(Frame f) throws FrameException {
        Reader r = new Reader(f, "CONNECT_IO");
        return new ConnectIo(f.cntlid(), f.qid(), r.u16(16), r.i32(20), r.i32(24), r.i32(28));
    }

    /** Decodes CONNECT_IO_RESPONSE. */
    public static ConnectIoResponse connectIoResponse(Frame f) throws FrameException {
        Reader r = new Reader(f, "CONNECT_IO_RESPONSE");
        return new ConnectIoResponse(f.cntlid(), f.qid(), r.u16(16), r.i32(20), r.str(24, "message"));
    }

    /** Decodes DISCONNECT. */
    public static Disconnect disconnect(Frame f) throws FrameException {
        Reader r = new Reader(f, "DISCONNECT");
        return new Disconnect(f.cntlid(), f.qid(), r.u16(16), r.str(18, "message"));
    }

    /** Decodes ASYNC_EVENT. */
    public static AsyncEvent asyncEvent(Frame f) throws FrameException {
        Reader r = new Reader(f, "ASYNC_EVENT");
        int event = r.u16(16);
        long nsid = r.i32(20) & 0xFFFF_FFFFL;
        String detail = r.str(24, "detail");
        if (event != EVENT_NS_ADDED) {
            return new AsyncEvent(f.cntlid(), event, nsid, detail);
        }
        int at = r.next;
        int bs = r.i32(at);
        long blocks = r.i64(at + 4);
        UUID uuid = new UUID(r.i64(at + 12), r.i64(at + 20));
        if (nsid == 0) {
            throw new FrameException("ASYNC_EVENT NS_ADDED: nsid=0: must be at least 1");
        }
        if (bs < 1 || Integer.bitCount(bs) != 1) {
            throw new FrameException("ASYNC_EVENT NS_ADDED nsid=" + nsid + ": block_size=" + bs + ": must be a positive power of two");
        }
        if (blocks < 1) {
            throw new FrameException("ASYNC_EVENT NS_ADDED nsid=" + nsid + ": num_blocks=" + blocks + ": must be at least 1");
        }
        return new AsyncEvent(f.cntlid(), event, nsid, detail, new NsInfo(nsid, bs, blocks, uuid));
    }
}
