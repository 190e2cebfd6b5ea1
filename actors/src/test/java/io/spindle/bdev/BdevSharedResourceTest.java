package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.EnumSet;

import static org.assertj.core.api.Assertions.assertThat;

/** SPDK's {@code spdk_bdev_shared_resource}: bdev channels over one module channel share the NOMEM queue and count. */
@Timeout(60)
class BdevSharedResourceTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-shared-resource-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("enomem_multi_bdev: two bdevs on one module channel; the second's I/O gets NOMEM while the first saturates it,"
            + " and the first's completions retry it (no 10 ms timer needed); an abort finds only its own channel's I/O")
    void enomemMultiBdev() {
        final int avail = 20;
        try (BdevHarness h = new BdevHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
            TestModule.Opts oa = new TestModule.Opts().name("A");
            oa.holdIo = true;
            oa.availCnt = avail;
            oa.types = EnumSet.of(IoType.READ, IoType.WRITE);
            Bdev a = h.await(h.test.create(h.layer, oa));
            TestModule.Driver drvA = (TestModule.Driver) a.driver;
            TestModule.Opts ob = new TestModule.Opts().name("B");
            ob.holdIo = true;
            ob.availCnt = avail;
            ob.types = oa.types;
            ob.shareChannelsWith = drvA;
            h.await(h.test.create(h.layer, ob));
            BdevHarness.Opened openedA = h.open(0, "A");
            BdevHarness.Opened openedB = h.open(0, "B");
            BdevDescriptor da = openedA.desc;
            IoChannel<BdevChannel> ca = openedA.ch;
            BdevDescriptor db = openedB.desc;
            IoChannel<BdevChannel> cb = openedB.ch;
            BdevSharedResource shared = ca.context().shared;
            assertThat(cb.context().shared).as("one module channel: one shared resource").isSameAs(shared);
            BdevResetTest.Log log = new BdevResetTest.Log();

            h.on(0, () -> {
                for (int i = 0; i < avail; i++) {
                    assertThat(da.readBlocks(ca, buf, 0, i, 1, log, "a" + i)).isZero();
                }
                return null;
            });
            h.poll();
            assertThat(shared.nomemQueue).isEmpty();
            assertThat(h.on(0, () -> db.readBlocks(cb, buf, 0, 0, 1, log, "b"))).isZero();
            h.poll();
            assertThat(shared.nomemQueue).as("the module channel is full: NOMEM, queued").hasSize(1);
            assertThat(shared.ioOutstanding).isEqualTo(avail);

            assertThat(h.on(0, () -> da.abort(ca, "b", log, "wrong channel"))).as("not A's I/O").isEqualTo(Errno.ENOTSUP);

            // completing the first bdev's I/O retries the second's (outstanding fell to the shared threshold)
            assertThat(h.on(0, () -> drvA.releaseHeld(IoStatus.SUCCESS, avail))).isEqualTo(avail);
            h.poll();
            assertThat(shared.nomemQueue).isEmpty();
            assertThat(shared.ioOutstanding).isEqualTo(1);
            assertThat(cb.context().ioOutstanding()).isEqualTo(1);
            assertThat(ca.context().ioOutstanding()).isZero();
            assertThat(h.on(0, () -> drvA.releaseHeld(IoStatus.SUCCESS, 1))).isEqualTo(1);
            h.poll();
            assertThat(shared.ioOutstanding).isZero();
            assertThat(log.done).hasSize(avail + 1).allMatch(s -> s.startsWith("READ:SUCCESS@"));

            // the same again, then B's queued read is aborted through B's channel only; A's channel goes first
            h.on(0, () -> {
                for (int i = 0; i < avail; i++) {
                    assertThat(da.readBlocks(ca, buf, 0, i, 1, log, "again" + i)).isZero();
                }
                assertThat(db.readBlocks(cb, buf, 0, 0, 1, log, "b2")).isZero();
                return null;
            });
            h.poll();
            assertThat(h.on(0, () -> db.abort(cb, "b2", log, "abort-b2"))).isZero();
            h.poll();
            assertThat(log.done).contains("READ:ABORTED@b2", "ABORT:SUCCESS@abort-b2");
            assertThat(h.on(0, () -> drvA.releaseHeld(IoStatus.SUCCESS))).isEqualTo(avail);
            h.group.advanceTime(Duration.ofMillis(20));
            h.poll();
            assertThat(log.done).hasSize(2 * avail + 3);
            openedB.close();
            h.poll();
            openedA.close();
        }
    }
}
