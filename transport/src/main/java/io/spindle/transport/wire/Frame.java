package io.spindle.transport.wire;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

import static io.spindle.transport.wire.FrameDescriptor.*;

/**
 * A flyweight over one frame in an Agrona buffer (Aeron's {@code DataHeaderFlyweight} style): {@link #wrap} it
 * over a received message or a {@code BufferClaim}, then read or write fields at the offsets of
 * {@link FrameDescriptor}. Reading a field checks nothing: callers validate the frame (length first) with
 * {@link #checkHeader} and the type's own rules before reading a body field. Reuse one instance per thread; it
 * allocates nothing.
 */
public final class Frame {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private DirectBuffer buffer;
    private MutableDirectBuffer mutable;
    private int offset;
    private int length;

    /** Wraps a received frame of {@code length} bytes at {@code offset} (read only). */
    public Frame wrap(DirectBuffer buffer, int offset, int length) {
        this.buffer = buffer;
        this.mutable = buffer instanceof MutableDirectBuffer m ? m : null;
        this.offset = offset;
        this.length = length;
        return this;
    }

    /** The wrapped buffer. */
    public DirectBuffer buffer() {
        return buffer;
    }

    /** Offset of byte 0 of the frame in {@link #buffer()}. */
    public int offset() {
        return offset;
    }

    /** The length of the message that was wrapped. */
    public int length() {
        return length;
    }

    /**
     * Checks the common header against the message: at least a header long, the Frame Length equal to the
     * message length, a known version and type.
     *
     * @return null when the header is valid, else the reason ({@code key=value} style)
     */
    public String checkHeader() {
        if (length < HEADER_LENGTH) {
            return "frame_length=" + length + ": shorter than the " + HEADER_LENGTH + "-byte header";
        }
        int v = version();
        if (v != VERSION) {
            return "version=" + v + ": this side speaks version " + VERSION;
        }
        int fl = frameLength();
        if (fl != length) {
            return "frame_length=" + fl + ": the message is " + length + " bytes";
        }
        if (FrameType.of(typeCode()) == null) {
            return "type=" + typeCode() + ": unknown frame type";
        }
        return null;
    }

    // ------------------------------------------------------------------ header

    public int version() {
        return buffer.getByte(offset + VERSION_OFFSET) & 0xFF;
    }

    public int typeCode() {
        return buffer.getByte(offset + TYPE_OFFSET) & 0xFF;
    }

    /** The type, or null when unknown. */
    public FrameType type() {
        return FrameType.of(typeCode());
    }

    public int flags() {
        return buffer.getShort(offset + FLAGS_OFFSET, LE) & 0xFFFF;
    }

    public int frameLength() {
        return buffer.getInt(offset + LENGTH_OFFSET, LE);
    }

    public int qid() {
        return buffer.getShort(offset + QID_OFFSET, LE) & 0xFFFF;
    }

    public int cid() {
        return buffer.getShort(offset + CID_OFFSET, LE) & 0xFFFF;
    }

    public int cntlid() {
        return buffer.getInt(offset + CNTLID_OFFSET, LE);
    }

    /** Writes the common header (the buffer must be mutable). */
    public Frame header(FrameType type, int flags, int frameLength, int qid, int cid, int cntlid) {
        MutableDirectBuffer b = mutable;
        b.putByte(offset + VERSION_OFFSET, (byte) VERSION);
        b.putByte(offset + TYPE_OFFSET, (byte) type.code());
        b.putShort(offset + FLAGS_OFFSET, (short) flags, LE);
        b.putInt(offset + LENGTH_OFFSET, frameLength, LE);
        b.putShort(offset + QID_OFFSET, (short) qid, LE);
        b.putShort(offset + CID_OFFSET, (short) cid, LE);
        b.putInt(offset + CNTLID_OFFSET, cntlid, LE);
        return this;
    }

    // ------------------------------------------------------------------ command capsule

    public int opcode() {
        return buffer.getByte(offset + CMD_OPCODE_OFFSET) & 0xFF;
    }

    public long nsid() {
        return buffer.getInt(offset + CMD_NSID_OFFSET, LE) & 0xFFFF_FFFFL;
    }

    public long slba() {
        return buffer.getLong(offset + CMD_SLBA_OFFSET, LE);
    }

    public int nlb() {
        return buffer.getInt(offset + CMD_NLB_OFFSET, LE);
    }

    public int dataLength() {
        return buffer.getInt(offset + CMD_DATA_LENGTH_OFFSET, LE);
    }

    public int inCapsuleLength() {
        return buffer.getInt(offset + CMD_IN_CAPSULE_LENGTH_OFFSET, LE);
    }

    public int abortCid() {
        return buffer.getShort(offset + CMD_ABORT_CID_OFFSET, LE) & 0xFFFF;
    }

    /** Writes a command capsule's body (after {@link #header}). */
    public Frame command(int opcode, long nsid, long slba, int nlb, int dataLength, int inCapsuleLength, int abortCid) {
        MutableDirectBuffer b = mutable;
        b.putByte(offset + CMD_OPCODE_OFFSET, (byte) opcode);
        b.putByte(offset + CMD_OPCODE_OFFSET + 1, (byte) 0);
        b.putShort(offset + CMD_OPCODE_OFFSET + 2, (short) 0, LE);
        b.putInt(offset + CMD_NSID_OFFSET, (int) nsid, LE);
        b.putLong(offset + CMD_SLBA_OFFSET, slba, LE);
        b.putInt(offset + CMD_NLB_OFFSET, nlb, LE);
        b.putInt(offset + CMD_DATA_LENGTH_OFFSET, dataLength, LE);
        b.putInt(offset + CMD_IN_CAPSULE_LENGTH_OFFSET, inCapsuleLength, LE);
        b.putShort(offset + CMD_ABORT_CID_OFFSET, (short) abortCid, LE);
        b.putShort(offset + CMD_ABORT_CID_OFFSET + 2, (short) 0, LE);
        return this;
    }

    // ------------------------------------------------------------------ completion

    public int status() {
        return buffer.getShort(offset + CPL_STATUS_OFFSET, LE) & 0xFFFF;
    }

    public int inlineLength() {
        return buffer.getInt(offset + CPL_INLINE_LENGTH_OFFSET, LE);
    }

    public long result() {
        return buffer.getLong(offset + CPL_RESULT_OFFSET, LE);
    }

    /** Writes a completion's body (after {@link #header}). */
    public Frame completion(int status, int inlineLength, long result) {
        MutableDirectBuffer b = mutable;
        b.putShort(offset + CPL_STATUS_OFFSET, (short) status, LE);
        b.putShort(offset + CPL_STATUS_OFFSET + 2, (short) 0, LE);
        b.putInt(offset + CPL_INLINE_LENGTH_OFFSET, inlineLength, LE);
        b.putLong(offset + CPL_RESULT_OFFSET, result, LE);
        return this;
    }

    // ------------------------------------------------------------------ data chunk

    public int dataOffset() {
        return buffer.getInt(offset + DATA_OFFSET_OFFSET, LE);
    }

    public int chunkLength() {
        return buffer.getInt(offset + DATA_CHUNK_LENGTH_OFFSET, LE);
    }

    /** Writes a data chunk's body (after {@link #header}). */
    public Frame data(int dataOffset, int chunkLength) {
        MutableDirectBuffer b = mutable;
        b.putInt(offset + DATA_OFFSET_OFFSET, dataOffset, LE);
        b.putInt(offset + DATA_CHUNK_LENGTH_OFFSET, chunkLength, LE);
        b.putLong(offset + DATA_CHUNK_LENGTH_OFFSET + 4, 0L, LE);
        return this;
    }
}
