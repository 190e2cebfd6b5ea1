package io.spindle.transport;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.transport.wire.AdminCodec;
import io.spindle.transport.wire.Frame;
import io.spindle.transport.wire.FrameDescriptor;
import io.spindle.transport.wire.FrameType;
import io.spindle.transport.wire.NvmeStatus;
import io.spindle.transport.wire.Opcode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The target's answers to each kind of bad command, frame by frame, through a real Aeron publication: an error
 * completion with the NVMe status for a command whose id can be answered, a frame-discarded event otherwise, and
 * every bad frame counted on the connection.
 */
class TargetValidationTest {
    static final String NQN = RemoteBdevUdpTest.NQN;

    private static int command(RawHost h, Opcode op, int cid, long nsid, long slba, int nlb, int dataLength, int icl) {
        int n = FrameDescriptor.CMD_LENGTH + icl;
        h.frame.wrap(h.buf, 0, n).header(FrameType.COMMAND, 0, n, 1, cid, h.cntlid).command(op.code(), nsid, slba, nlb, dataLength, icl, 0);
        return n;
    }

    private static void expectCompletion(RawHost h, int cid, int status, int inline) {
        Frame f = h.next();
        assertThat(f.checkHeader()).isNull();
        assertThat(f.type()).isEqualTo(FrameType.COMPLETION);
        assertThat(f.cid()).isEqualTo(cid);
        assertThat(NvmeStatus.name(f.status())).isEqualTo(NvmeStatus.name(status));
        assertThat(f.inlineLength()).isEqualTo(inline);
    }

    private static void expectDiscarded(RawHost h) {
        Frame f = h.next();
        assertThat(f.type()).isEqualTo(FrameType.ASYNC_EVENT);
        assertThat(f.buffer().getShort(16, java.nio.ByteOrder.LITTLE_ENDIAN)).isEqualTo((short) AdminCodec.EVENT_FRAME_DISCARDED);
    }

    @Test
    void everyBadCommandIsAnsweredWithItsStatusOrADiscardedEventAndCounted() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_val", "")) {
            tgt.export(NQN, "127.0.0.1", "ipv4", port, true);
            try (RawHost h = new RawHost(port, NQN, 16)) {
                int got = 0;
                // a good read of one block of Malloc0 (8192 blocks of 4 KiB): inline data
                h.send(command(h, Opcode.READ, 0, 1, 10, 1, 4096, 0));
                h.awaitReceived(++got);
                expectCompletion(h, 0, NvmeStatus.SUCCESS, 4096);
                // beyond the namespace
                h.send(command(h, Opcode.READ, 1, 1, 8192, 1, 4096, 0));
                h.awaitReceived(++got);
                expectCompletion(h, 1, NvmeStatus.LBA_OUT_OF_RANGE, 0);
                // overflowing slba + nlb
                h.send(command(h, Opcode.READ, 1, 1, Long.MAX_VALUE, 2, 8192, 0));
                h.awaitReceived(++got);
                expectCompletion(h, 1, NvmeStatus.LBA_OUT_OF_RANGE, 0);
                // no such namespace
                h.send(command(h, Opcode.WRITE, 2, 9, 0, 1, 4096, 0));
                h.awaitReceived(++got);
                expectCompletion(h, 2, NvmeStatus.INVALID_NAMESPACE, 0);
                // data length not nlb x block size
                h.send(command(h, Opcode.READ, 3, 1, 0, 2, 4096, 0));
                h.awaitReceived(++got);
                expectCompletion(h, 3, NvmeStatus.INVALID_FIELD, 0);
                // in-capsule length claims more than the frame has
                int n = command(h, Opcode.WRITE, 4, 1, 0, 1, 4096, 4096);
                h.send(n - 100);
                h.awaitReceived(++got);
                expectDiscarded(h); // the frame length field no longer matches the message: a malformed header
                h.frame.wrap(h.buf, 0, n - 100).header(FrameType.COMMAND, 0, n - 100, 1, 4, h.cntlid);
                h.send(n - 100);
                h.awaitReceived(++got);
                expectCompletion(h, 4, NvmeStatus.INVALID_FIELD, 0);
                // an unknown opcode
                command(h, Opcode.READ, 5, 1, 0, 1, 4096, 0);
                h.buf.putByte(FrameDescriptor.CMD_OPCODE_OFFSET, (byte) 0x55);
                h.send(FrameDescriptor.CMD_LENGTH);
                h.awaitReceived(++got);
                expectCompletion(h, 5, NvmeStatus.INVALID_OPCODE, 0);
                // a command id beyond the queue depth, a wrong version, a truncated header, data for no command
                h.send(command(h, Opcode.READ, 16, 1, 0, 1, 4096, 0));
                h.awaitReceived(++got);
                expectDiscarded(h);
                command(h, Opcode.READ, 6, 1, 0, 1, 4096, 0);
                h.buf.putByte(0, (byte) 7);
                h.send(FrameDescriptor.CMD_LENGTH);
                h.awaitReceived(++got);
                expectDiscarded(h);
                h.send(9);
                h.awaitReceived(++got);
                expectDiscarded(h);
                h.frame.wrap(h.buf, 0, 64).header(FrameType.DATA, 0, 64, 1, 7, h.cntlid).data(0, 32);
                h.send(64);
                h.awaitReceived(++got);
                expectDiscarded(h);
                // a write whose data chunk skips ahead fails with a data transfer error; the next good write works
                h.send(command(h, Opcode.WRITE, 8, 1, 0, 2, 8192, 0));
                h.frame.wrap(h.buf, 0, 64).header(FrameType.DATA, 0, 64, 1, 8, h.cntlid).data(4096, 32);
                h.send(64);
                h.awaitReceived(++got);
                expectCompletion(h, 8, NvmeStatus.DATA_TRANSFER_ERROR, 0);
                int w = command(h, Opcode.WRITE, 8, 1, 0, 1, 4096, 4096);
                h.send(w);
                h.awaitReceived(++got);
                expectCompletion(h, 8, NvmeStatus.SUCCESS, 0);
                // abort of a command not in flight: completes, result bit 0 set (not aborted); keep-alive
                h.frame.wrap(h.buf, 0, FrameDescriptor.CMD_LENGTH).header(FrameType.COMMAND, 0, FrameDescriptor.CMD_LENGTH, 1, 9, h.cntlid)
                        .command(Opcode.ABORT.code(), 0, 0, 0, 0, 0, 3);
                h.send(FrameDescriptor.CMD_LENGTH);
                h.awaitReceived(++got);
                Frame a = h.next();
                assertThat(a.status()).isEqualTo(NvmeStatus.SUCCESS);
                assertThat(a.result()).isEqualTo(1L);
                h.send(command(h, Opcode.KEEP_ALIVE, 10, 0, 0, 0, 0, 0));
                h.awaitReceived(++got);
                expectCompletion(h, 10, NvmeStatus.SUCCESS, 0);

                JsonNode c = tgt.rpc("nvmf_get_subsystems", null).get(1).get("controllers").get(0);
                // bad: 2 LBA, namespace, data length, malformed header, in-capsule, opcode, cid, version, short, stray data,
                // skipped chunk = 12
                assertThat(c.get("bad_frames").asLong()).isEqualTo(12);
                assertThat(c.get("io_qpairs").get(0).get("first_bad_frame").asText()).contains("slba=8192");
            }
        }
    }
}
