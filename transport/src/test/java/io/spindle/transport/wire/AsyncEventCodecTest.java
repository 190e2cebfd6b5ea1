package io.spindle.transport.wire;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** ASYNC_EVENT frames: NS_ADDED carries the namespace's identify data, validated before use; the others carry none. */
class AsyncEventCodecTest {
    private final UnsafeBuffer buf = new UnsafeBuffer(new byte[4096]);

    private AdminCodec.AsyncEvent roundTrip(AdminCodec.AsyncEvent e) throws FrameException {
        int len = AdminCodec.encode(buf, 0, e);
        return AdminCodec.asyncEvent(new Frame().wrap(buf, 0, len));
    }

    @Test
    void nsAddedRoundTripsItsIdentifyData() throws Exception {
        UUID u = UUID.randomUUID();
        AdminCodec.NsInfo ns = new AdminCodec.NsInfo(7, 4096, 1L << 33, u);
        AdminCodec.AsyncEvent back = roundTrip(new AdminCodec.AsyncEvent(3, AdminCodec.EVENT_NS_ADDED, 7, "bdev Malloc7 added", ns));
        assertThat(back.event()).isEqualTo(AdminCodec.EVENT_NS_ADDED);
        assertThat(back.nsid()).isEqualTo(7);
        assertThat(back.detail()).isEqualTo("bdev Malloc7 added");
        assertThat(back.ns()).isEqualTo(ns);
        assertThat(back.cntlid()).isEqualTo(3);
    }

    @Test
    void otherEventsCarryNoNamespace() throws Exception {
        AdminCodec.AsyncEvent back = roundTrip(new AdminCodec.AsyncEvent(1, AdminCodec.EVENT_NS_REMOVED, 2, "bdev gone"));
        assertThat(back.ns()).isNull();
        assertThat(back.nsid()).isEqualTo(2);
    }

    @Test
    void aTruncatedOrInvalidNsAddedIsRefusedNamingTheField() throws Exception {
        AdminCodec.NsInfo ns = new AdminCodec.NsInfo(7, 4096, 100, UUID.randomUUID());
        int len = AdminCodec.encode(buf, 0, new AdminCodec.AsyncEvent(1, AdminCodec.EVENT_NS_ADDED, 7, "x", ns));
        // cut the identify data off (the header's frame length says so too)
        new Frame().wrap(buf, 0, len - 10).header(FrameType.ASYNC_EVENT, 0, len - 10, 0, 0, 1);
        assertThatThrownBy(() -> AdminCodec.asyncEvent(new Frame().wrap(buf, 0, len - 10))).isInstanceOf(FrameException.class);

        int l2 = AdminCodec.encode(buf, 0, new AdminCodec.AsyncEvent(1, AdminCodec.EVENT_NS_ADDED, 7, "x",
                new AdminCodec.NsInfo(7, 3000, 100, UUID.randomUUID())));
        assertThatThrownBy(() -> AdminCodec.asyncEvent(new Frame().wrap(buf, 0, l2))).isInstanceOf(FrameException.class)
                .hasMessageContaining("block_size=3000");

        int l3 = AdminCodec.encode(buf, 0, new AdminCodec.AsyncEvent(1, AdminCodec.EVENT_NS_ADDED, 7, "x",
                new AdminCodec.NsInfo(7, 512, 0, UUID.randomUUID())));
        assertThatThrownBy(() -> AdminCodec.asyncEvent(new Frame().wrap(buf, 0, l3))).isInstanceOf(FrameException.class)
                .hasMessageContaining("num_blocks=0");

        int l4 = AdminCodec.encode(buf, 0, new AdminCodec.AsyncEvent(1, AdminCodec.EVENT_NS_ADDED, 0, "x",
                new AdminCodec.NsInfo(0, 512, 8, UUID.randomUUID())));
        assertThatThrownBy(() -> AdminCodec.asyncEvent(new Frame().wrap(buf, 0, l4))).isInstanceOf(FrameException.class)
                .hasMessageContaining("nsid=0");
    }
}
