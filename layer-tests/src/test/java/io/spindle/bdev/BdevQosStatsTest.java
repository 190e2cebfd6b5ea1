package io.spindle.bdev;

import io.spindle.backends.BackendHarness;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.IoChannel;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** QoS ({@code basic_qos}), bounce buffers for misaligned caller buffers, and stats/histograms merged across channels. */
@Timeout(60)
class BdevQosStatsTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-qos-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static final class Count implements IoCallback {
        final List<String> done = new CopyOnWriteArrayList<>();

        @Override
        public void onComplete(BdevIo io, IoStatus status, Object arg) {
            done.add(status + "@" + arg);
        }
    }

    @Test
    @DisplayName("basic_qos: rw_ios_per_sec admits limit/1000 I/O per 1 ms timeslice across channels; the rest waits")
    void basicQos() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            assertThat(QosLimits.of(1500, 0, 0, 0).rwIosPerSec()).as("rounded up to a multiple of 1000").isEqualTo(2000);
            assertThatThrownBy(() -> QosLimits.of(-1, 0, 0, 0)).hasMessageContaining("rw_ios_per_sec=-1");
            assertThat(h.await(h.layer.setQosLimits("Malloc0", QosLimits.of(2000, 0, 0, 0)))).isZero();
            assertThat(h.layer.get("Malloc0").qosLimits().rwIosPerSec()).isEqualTo(2000);
            BdevHarness.Opened o0 = h.open(0, "Malloc0");
            BdevHarness.Opened o1 = h.open(1, "Malloc0");
            BdevDescriptor d0 = o0.desc;
            IoChannel<BdevChannel> c0 = o0.ch;
            BdevDescriptor d1 = o1.desc;
            IoChannel<BdevChannel> c1 = o1.ch;
            Count cnt = new Count();
            h.on(0, () -> {
                for (int i = 0; i < 3; i++) {
                    assertThat(d0.readBlocks(c0, buf, 0, i, 1, cnt, "r0-" + i)).isZero();
                }
                return null;
            });
            h.on(1, () -> {
                for (int i = 0; i < 3; i++) {
                    assertThat(d1.readBlocks(c1, buf, 0, i, 1, cnt, "r1-" + i)).isZero();
                }
                return null;
            });
            h.poll();
            assertThat(cnt.done).as("2 per 1 ms slice, shared by both channels").hasSize(2);
            h.group.advanceTime(Duration.ofMillis(1));
            h.poll();
            assertThat(cnt.done).hasSize(4);
            h.group.advanceTime(Duration.ofMillis(1));
            h.poll();
            assertThat(cnt.done).hasSize(6).allSatisfy(s -> assertThat(s).startsWith("SUCCESS"));
            // removing the limit releases waiting I/O at once
            h.on(0, () -> {
                for (int i = 0; i < 5; i++) {
                    assertThat(d0.readBlocks(c0, buf, 0, i, 1, cnt, "x" + i)).isZero();
                }
                return null;
            });
            h.poll();
            assertThat(cnt.done).hasSizeLessThan(11);
            assertThat(h.await(h.layer.setQosLimits("Malloc0", QosLimits.NONE))).isZero();
            h.poll();
            assertThat(cnt.done).hasSize(11);
            o0.close();
            o1.close();
        }
    }

    @Test
    @DisplayName("channel destroy: I/O still queued in the layer (QoS, module NOMEM) completes ABORTED exactly once,"
            + " counted in the bdev's merged stats")
    void queuedIoIsAbortedWhenTheChannelIsDestroyed() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
            // QoS: one I/O per 1 ms slice, five submitted: four wait in the QoS queue when the channel goes
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            assertThat(h.await(h.layer.setQosLimits("Malloc0", QosLimits.of(1000, 0, 0, 0)))).isZero();
            BdevHarness.Opened opened = h.open(0, "Malloc0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> c = opened.ch;
            Count cnt = new Count();
            h.on(0, () -> {
                for (int i = 0; i < 5; i++) {
                    assertThat(d.readBlocks(c, buf, 0, i, 1, cnt, "q" + i)).isZero();
                }
                return null;
            });
            h.poll();
            assertThat(cnt.done).containsExactly("SUCCESS@q0");
            h.on(0, () -> {
                c.put();
                return null;
            });
            h.poll();
            assertThat(cnt.done).containsExactly("SUCCESS@q0", "ABORTED@q1", "ABORTED@q2", "ABORTED@q3", "ABORTED@q4");
            h.group.advanceTime(Duration.ofMillis(5));
            h.poll();
            assertThat(cnt.done).as("each exactly once").hasSize(5);
            IoStats st = h.await(h.layer.stats("Malloc0"));
            assertThat(st.numReadOps()).isEqualTo(1);
            assertThat(st.errors(IoStatus.ABORTED)).as("the aborted ones count in the merged stats").isEqualTo(4);
            h.on(0, () -> {
                d.close();
                return null;
            });

            // module NOMEM: the module refuses everything; three I/O wait in the NOMEM queue when the channel goes
            TestModule.Opts o = new TestModule.Opts();
            o.nomemFirst = Integer.MAX_VALUE;
            h.await(h.test.create(h.layer, o));
            BdevHarness.Opened oT = h.open(0, "Test0");
            BdevDescriptor t = oT.desc;
            IoChannel<BdevChannel> tc = oT.ch;
            Count nomem = new Count();
            h.on(0, () -> {
                for (int i = 0; i < 3; i++) {
                    assertThat(t.readBlocks(tc, buf, 0, i, 1, nomem, "n" + i)).isZero();
                }
                return null;
            });
            h.poll();
            assertThat(nomem.done).isEmpty();
            h.on(0, () -> {
                tc.put();
                return null;
            });
            h.poll();
            assertThat(nomem.done).containsExactly("ABORTED@n0", "ABORTED@n1", "ABORTED@n2");
            h.group.advanceTime(Duration.ofMillis(50));
            h.poll();
            assertThat(nomem.done).as("no retry after the channel went").hasSize(3);
            assertThat(h.await(h.layer.stats("Test0")).errors(IoStatus.ABORTED)).isEqualTo(3);
            h.on(0, () -> {
                t.close();
                return null;
            });
        }
    }

    @Test
    @DisplayName("emulated write_zeroes and compare: each child (a write of zeroes, a read to compare) is charged to QoS as the module's"
            + " write or read, one per slice under a 1 per slice limit")
    void emulatedChildrenPassThroughQos() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(2 * 128 * 1024)) {
            TestModule.Opts o = new TestModule.Opts(); // no native WRITE_ZEROES or COMPARE: the layer emulates them
            Bdev b = h.await(h.test.create(h.layer, o));
            TestModule.Driver drv = (TestModule.Driver) b.driver;
            BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, (e, bd, desc) -> { }));
            IoChannel<BdevChannel> c = h.on(0, d::getIoChannel);
            assertThat(h.await(h.layer.setQosLimits("Test0", QosLimits.of(1000, 0, 0, 0)))).isZero(); // 1 I/O per slice
            Count cnt = new Count();
            drv.submitted.clear();
            // 768 blocks of 512 B: three children of 128 KiB (the zero buffer's size)
            assertThat(h.on(0, () -> d.writeZeroesBlocks(c, 0, 768, cnt, "wz"))).isZero();
            h.poll();
            assertThat(drv.submitted).as("first slice: one child").containsExactly("WRITE 0+256");
            for (int slice = 2; slice <= 3; slice++) {
                h.group.advanceTime(Duration.ofMillis(1));
                h.poll();
                assertThat(drv.submitted).as("slice %d", slice).hasSize(slice);
            }
            assertThat(cnt.done).containsExactly("SUCCESS@wz");
            // compare of 512 blocks (zeroes against zeroes): two reads of 128 KiB, one per slice
            drv.submitted.clear();
            buf.fill(0, buf.capacity(), (byte) 0);
            h.group.advanceTime(Duration.ofMillis(1));
            h.poll();
            assertThat(h.on(0, () -> d.compareBlocks(c, buf, 0, 0, 512, cnt, "cmp"))).isZero();
            h.poll();
            assertThat(drv.submitted).as("one read in this slice").containsExactly("READ 0+256");
            h.group.advanceTime(Duration.ofMillis(1));
            h.poll();
            assertThat(drv.submitted).containsExactly("READ 0+256", "READ 256+256");
            assertThat(cnt.done).containsExactly("SUCCESS@wz", "SUCCESS@cmp");
            assertThat(h.await(h.layer.setQosLimits("Test0", QosLimits.NONE))).isZero();
            h.on(0, () -> {
                c.put();
                d.close();
                return null;
            });
        }
    }

    /**
     * Submits {@code first} then {@code second} (three 4 KiB I/O each, "r"/"w" for read/write) on reactor 0 under
     * {@code limits} (1 MiB/s, i.e. 1048 B per 1 ms slice), and checks what the byte quota admits slice by slice.
     */
    private void byteLimit(BackendHarness h, BdevDescriptor d, IoChannel<BdevChannel> c, DmaBuffer buf, QosLimits limits, String first,
                           String second, List<String> admittedAtOnce) {
        assertThat(h.await(h.layer.setQosLimits("Malloc0", limits))).isZero();
        assertThat(h.layer.get("Malloc0").qosLimits()).isEqualTo(limits);
        Count cnt = new Count();
        h.on(0, () -> {
            for (String kind : List.of(first, second)) {
                for (int i = 0; i < 3; i++) {
                    int rc = kind.equals("r") ? d.readBlocks(c, buf, 0, 8L * i, 8, cnt, "r" + i) : d.writeBlocks(c, buf, 0, 8L * i, 8, cnt, "w" + i);
                    assertThat(rc).isZero();
                }
            }
            return null;
        });
        h.poll();
        assertThat(cnt.done).as("%s: first slice", limits).containsExactlyInAnyOrderElementsOf(admittedAtOnce);
        // the first limited I/O overran the slice by 4096 - 1048 B; the overrun is charged to the next slices:
        // -3048 -> -2000 -> -952 -> +96, so the next one is admitted only in the third slice after
        for (int slice = 1; slice <= 2; slice++) {
            h.group.advanceTime(Duration.ofMillis(1));
            h.poll();
            assertThat(cnt.done).as("%s: slice %d still pays the overrun", limits, slice).hasSize(admittedAtOnce.size());
        }
        h.group.advanceTime(Duration.ofMillis(1));
        h.poll();
        assertThat(cnt.done).as("%s: slice 3", limits).hasSize(admittedAtOnce.size() + 1);
        assertThat(h.await(h.layer.setQosLimits("Malloc0", QosLimits.NONE))).isZero();
        h.poll();
        assertThat(cnt.done).as("%s: the rest once the limit is gone", limits).hasSize(6).allSatisfy(x -> assertThat(x).startsWith("SUCCESS"));
    }

    @Test
    @DisplayName("basic_qos (bytes): rw_mbytes_per_sec limits reads and writes, r_ only reads, w_ only writes, per 1 ms slice with the"
            + " overrun charged to the next slices")
    void basicQosByteLimits() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(4096)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            BdevHarness.Opened o = h.open(0, "Malloc0");
            BdevDescriptor d = o.desc;
            IoChannel<BdevChannel> c = o.ch;
            // rw: one I/O of either type per quota; reads and writes share it
            byteLimit(h, d, c, buf, QosLimits.of(0, 1, 0, 0), "r", "w", List.of("SUCCESS@r0"));
            // r: writes pass (submitted first, so no read ahead of them waits), then one read
            byteLimit(h, d, c, buf, QosLimits.of(0, 0, 1, 0), "w", "r", List.of("SUCCESS@w0", "SUCCESS@w1", "SUCCESS@w2", "SUCCESS@r0"));
            // w: reads pass, then one write
            byteLimit(h, d, c, buf, QosLimits.of(0, 0, 0, 1), "r", "w", List.of("SUCCESS@r0", "SUCCESS@r1", "SUCCESS@r2", "SUCCESS@w0"));
            o.close();
        }
    }

    @Test
    @DisplayName("a buffer misaligned for the bdev is bounced, not refused: data lands and reads back")
    void misalignedBuffersAreBounced() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(8 * 4096 + 1); DmaBuffer back = DmaBuffer.allocate(8 * 4096 + 3)) {
            TestModule.Opts o = new TestModule.Opts();
            o.requiredAlignment = 4096;
            o.blockSize = 4096;
            o.numBlocks = 64;
            h.await(h.test.create(h.layer, o));
            BdevHarness.Opened opened = h.open(0, "Test0");
            BdevDescriptor d = opened.desc;
            IoChannel<BdevChannel> ch = opened.ch;
            Count cnt = new Count();
            for (int i = 0; i < 8 * 4096; i++) {
                buf.put(1 + i, new byte[]{(byte) (i * 13)});
            }
            assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 1, 3, 8, cnt, "w"))).isZero();
            h.poll();
            assertThat(h.on(0, () -> d.readBlocks(ch, back, 3, 3, 8, cnt, "r"))).isZero();
            h.poll();
            assertThat(cnt.done).containsExactly("SUCCESS@w", "SUCCESS@r");
            assertThat(back.get(3, 8 * 4096)).isEqualTo(buf.get(1, 8 * 4096));
            assertThat(h.test.log).noneMatch(s -> s.startsWith("BUG"));
            opened.close();
        }
    }

    @Test
    void statsMergeLiveAndDestroyedChannelsAndHistogramsAreOptIn() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64); DmaBuffer buf = DmaBuffer.allocate(4096)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            assertThat(h.await(h.layer.histogram("Malloc0"))).as("off by default").isNull();
            assertThat(h.layer.enableHistogram("Malloc0", true)).isTrue();
            Count cnt = new Count();
            for (int r = 0; r < 2; r++) {
                int rr = r;
                BdevDescriptor d = h.on(r, () -> h.layer.open("Malloc0", true, (e, b, desc) -> { }));
                IoChannel<BdevChannel> ch = h.on(r, d::getIoChannel);
                h.on(r, () -> {
                    assertThat(d.writeBlocks(ch, buf, 0, 0, 8, cnt, "w" + rr)).isZero();
                    assertThat(d.readBlocks(ch, buf, 0, 0, 4, cnt, "r" + rr)).isZero();
                    return null;
                });
                h.poll();
                if (r == 0) {
                    h.on(0, () -> {
                        ch.put(); // reactor 0's channel goes: its stats merge into the bdev
                        d.close();
                        return null;
                    });
                    h.poll();
                } else {
                    IoStats s = h.await(h.layer.stats("Malloc0"));
                    assertThat(s.numWriteOps()).isEqualTo(2);
                    assertThat(s.bytesWritten()).isEqualTo(2 * 8 * 512);
                    assertThat(s.numReadOps()).isEqualTo(2);
                    assertThat(s.bytesRead()).isEqualTo(2 * 4 * 512);
                    assertThat(s.readLatencyMax()).isGreaterThanOrEqualTo(s.readLatencyMin());
                    Histogram hist = h.await(h.layer.histogram("Malloc0"));
                    assertThat(hist.getTotalCount()).isEqualTo(4);
                    h.on(1, () -> {
                        ch.put();
                        d.close();
                        return null;
                    });
                }
            }
        }
    }
}
