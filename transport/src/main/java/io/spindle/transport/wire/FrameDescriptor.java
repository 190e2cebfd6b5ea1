package io.spindle.transport.wire;

/**
 * Layout of every frame Spindle's Aeron transport sends: one frame is one Aeron message, never larger than the
 * publication's {@code maxPayloadLength}, so the receiver sees it whole (no Aeron fragmentation, no
 * {@code FragmentAssembler} copy). All integers are little-endian.
 *
 * <p><b>Common header</b> (16 bytes, every frame):
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |    Version    |     Type      |             Flags             |  0
 *  +---------------+---------------+-------------------------------+
 *  |                        Frame Length                           |  4  (bytes, header included)
 *  +-------------------------------+-------------------------------+
 *  |             QID               |              CID              |  8  (queue id; command id)
 *  +-------------------------------+-------------------------------+
 *  |                       Controller ID                           | 12
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * <p><b>Command capsule</b> ({@link FrameType#COMMAND}, host → target, 48 bytes + in-capsule data):
 * <pre>
 *  16 | Opcode (u8) | rsvd (u8) | rsvd (u16)                         |
 *  20 | NSID (u32)                                                   |
 *  24 | Starting LBA (i64)                                           |
 *  32 | Number of Logical Blocks (i32, 1-based)                      |
 *  36 | Data Length (i32): bytes the command transfers               |
 *  40 | In-Capsule Length (i32): data bytes that follow at 48        |
 *  44 | Abort CID (u16) | rsvd (u16)                                 |
 *  48 | in-capsule data ...                                          |
 * </pre>
 * A write whose data does not fit in the capsule ({@code in_capsule_data_size}, or the frame limit) carries
 * In-Capsule Length 0 and is followed at once by {@link FrameType#DATA} chunks covering {@code [0, Data Length)}.
 *
 * <p><b>Completion</b> ({@link FrameType#COMPLETION}, target → host, 32 bytes + inline read data):
 * <pre>
 *  16 | Status (u16: SCT &lt;&lt; 8 | SC) | rsvd (u16)                 |
 *  20 | Inline Data Length (i32)                                     |
 *  24 | Result (i64)                                                 |
 *  32 | inline read data ...                                         |
 * </pre>
 * Read data that does not fit inline arrives first as DATA chunks; the completion then has Inline Length 0.
 *
 * <p><b>Data chunk</b> ({@link FrameType#DATA}, either direction, 32 bytes + data):
 * <pre>
 *  16 | Data Offset (i32): offset in the command's data              |
 *  20 | Chunk Length (i32)                                           |
 *  24 | rsvd (i64)                                                   |
 *  32 | chunk data ...                                               |
 * </pre>
 *
 * <p><b>Admin frames</b> ({@link FrameType#CONNECT}, {@code CONNECT_RESPONSE}, {@code AUTH_CHALLENGE},
 * {@code AUTH_RESPONSE}, {@code CONNECT_IO}, {@code CONNECT_IO_RESPONSE}, {@code KEEP_ALIVE},
 * {@code DISCONNECT}, {@code ASYNC_EVENT}) use the same header; their bodies are laid out in
 * {@link AdminCodec}. Strings are a u16 length then UTF-8 bytes.
 */
public final class FrameDescriptor {
    private FrameDescriptor() {
    }

    /** The protocol version this code speaks; a frame with another is refused. */
    public static final int VERSION = 1;

    public static final int VERSION_OFFSET = 0;
    public static final int TYPE_OFFSET = 1;
    public static final int FLAGS_OFFSET = 2;
    public static final int LENGTH_OFFSET = 4;
    public static final int QID_OFFSET = 8;
    public static final int CID_OFFSET = 10;
    public static final int CNTLID_OFFSET = 12;
    /** Bytes of the common header. */
    public static final int HEADER_LENGTH = 16;

    // command capsule
    public static final int CMD_OPCODE_OFFSET = 16;
    public static final int CMD_NSID_OFFSET = 20;
    public static final int CMD_SLBA_OFFSET = 24;
    public static final int CMD_NLB_OFFSET = 32;
    public static final int CMD_DATA_LENGTH_OFFSET = 36;
    public static final int CMD_IN_CAPSULE_LENGTH_OFFSET = 40;
    public static final int CMD_ABORT_CID_OFFSET = 44;
    /** Bytes of a command capsule before its in-capsule data. */
    public static final int CMD_LENGTH = 48;

    // completion
    public static final int CPL_STATUS_OFFSET = 16;
    public static final int CPL_INLINE_LENGTH_OFFSET = 20;
    public static final int CPL_RESULT_OFFSET = 24;
    /** Bytes of a completion before its inline data. */
    public static final int CPL_LENGTH = 32;

    // data chunk
    public static final int DATA_OFFSET_OFFSET = 16;
    public static final int DATA_CHUNK_LENGTH_OFFSET = 20;
    /** Bytes of a data chunk before its data. */
    public static final int DATA_HEADER_LENGTH = 32;

    /** Flag: the frame is the last chunk of its command's data. */
    public static final int FLAG_LAST = 1;
}
