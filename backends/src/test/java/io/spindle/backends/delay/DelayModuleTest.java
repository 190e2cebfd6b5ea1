package io.spindle.backends.delay;

import io.spindle.backends.IoKit;
import io.spindle.backends.Vbdevs;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.backends.BackendHarness;
import io.spindle.bdev.BdevOptions;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
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
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The delay module on manual reactors with the manual clock, so every latency is checked exactly: the scenarios of
 * SPDK's shell tests for {@code bdev_delay_*} (SPDK has no unit test for delay).
 */
@Timeout(60)
class DelayModuleTest {
    static final ActorTestKit kit = ActorTestKit.create("delay-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static BackendHarness harness(DelayModule dm) {
        return new BackendHarness(kit, 2, BdevOptions.defaults(1024), dm);
    }

    /** Submits {@code n} I/O of {@code type} on reactor 0 (one descriptor and channel, kept open); records statuses. */
    static final class Load implements AutoCloseable {
        final BackendHarness h;
        final List<IoStatus> done = new CopyOnWriteArrayList<>();
        final DmaBuffer buf = DmaBuffer.allocate(4096);
        BdevDescriptor desc;
        IoChannel<BdevChannel> ch;

        Load(BackendHarness h, String bdev) {
            this.h = h;
            h.on(0, () -> {
                desc = h.layer.open(bdev, true, (e, b, d) -> { });
                ch = desc.getIoChannel();
                return null;
            });
        }

        void submit(IoType type, int n) {
            IoCallback cb = (io, st, arg) -> done.add(st);
            h.on(0, () -> {
                for (int i = 0; i < n; i++) {
                    int rc = switch (type) {
                        case READ -> desc.readBlocks(ch, buf, 0, i % 8, 1, cb, null);
                        case WRITE -> desc.writeBlocks(ch, buf, 0, i % 8, 1, cb, null);
                        case UNMAP -> desc.unmapBlocks(ch, 0, 1, cb, null);
                        case FLUSH -> desc.flushBlocks(ch, 0, 1, cb, null);
                        default -> throw new IllegalArgumentException(type.name());
                    };
                    assertThat(rc).isZero();
                }
                return null;
            });
        }

        @Override
        public void close() {
            h.on(0, () -> {
                ch.put();
                desc.close();
                return null;
            });
            buf.close();
        }
    }

    @Test
    @DisplayName("a read completes after avg_read_latency and a write after avg_write_latency, not a nanosecond earlier; the data is the base's")
    void readsAndWritesWaitTheirLatency() {
        DelayModule dm = new DelayModule();
        try (BackendHarness h = harness(dm)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            // p99 = avg: every I/O waits exactly the average
            assertThat(h.await(dm.create(h.layer, "Delay0", "Malloc0", null, new DelayModule.Latencies(100, 100, 300, 300)))).isEqualTo("Delay0");
            try (Load l = new Load(h, "Delay0")) {
                l.submit(IoType.READ, 4);
                h.poll();
                assertThat(l.done).as("base completed; waiting for the latency").isEmpty();
                h.group.advanceTime(Duration.ofNanos(99_999));
                h.poll();
                assertThat(l.done).isEmpty();
                h.group.advanceTime(Duration.ofMillis(1)); // past the due time and the poller's next run
                h.poll();
                assertThat(l.done).containsExactly(IoStatus.SUCCESS, IoStatus.SUCCESS, IoStatus.SUCCESS, IoStatus.SUCCESS);
                l.done.clear();
                l.submit(IoType.WRITE, 2);
                h.poll();
                h.group.advanceTime(Duration.ofNanos(299_999));
                h.poll();
                assertThat(l.done).isEmpty();
                h.group.advanceTime(Duration.ofMillis(1));
                h.poll();
                assertThat(l.done).hasSize(2);
            }
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(512, 3);
            assertThat(h.await(dm.updateLatency(h.layer, "Delay0", DelayModule.LatencyType.AVG_WRITE, 0))).isZero();
            assertThat(h.await(dm.updateLatency(h.layer, "Delay0", DelayModule.LatencyType.AVG_READ, 0))).isZero();
            assertThat(h.await(dm.updateLatency(h.layer, "Delay0", DelayModule.LatencyType.P99_READ, 0))).isZero();
            assertThat(h.await(dm.updateLatency(h.layer, "Delay0", DelayModule.LatencyType.P99_WRITE, 0))).isZero();
            assertThat(io.write("Delay0", 3, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("Malloc0", 3, 1)).isEqualTo(a);
            assertThat(io.read("Delay0", 3, 1)).isEqualTo(a);
        }
    }

    @Test
    @DisplayName("about 1% of reads take the p99 latency, the rest the average (SPDK's rand % 100 == 0 draw)")
    void p99Draw() {
        DelayModule dm = new DelayModule();
        try (BackendHarness h = harness(dm)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            h.await(dm.create(h.layer, "Delay0", "Malloc0", null, new DelayModule.Latencies(10, 10_000, 10, 10_000)));
            try (Load l = new Load(h, "Delay0")) {
                int total = 0;
                int slow = 0;
                for (int round = 0; round < 10; round++) {
                    l.done.clear();
                    l.submit(IoType.READ, 200);
                    h.poll();
                    h.group.advanceTime(Duration.ofMillis(1)); // past the average, well before the p99
                    h.poll();
                    slow += 200 - l.done.size();
                    total += 200;
                    h.group.advanceTime(Duration.ofMillis(20));
                    h.poll();
                    assertThat(l.done).hasSize(200);
                }
                assertThat(slow).as("p99 draws out of %d", total).isBetween(1, total / 20);
            }
        }
    }

    @Test
    @DisplayName("unmap and flush are not delayed; bdev_delay_update_latency applies to completions from then on")
    void onlyReadsAndWritesAreDelayedAndUpdatesApply() {
        DelayModule dm = new DelayModule();
        try (BackendHarness h = harness(dm)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            h.await(dm.create(h.layer, "Delay0", "Malloc0", null, DelayModule.Latencies.all(1_000_000)));
            try (Load l = new Load(h, "Delay0")) {
                l.submit(IoType.UNMAP, 2);
                l.submit(IoType.FLUSH, 2);
                h.poll();
                assertThat(l.done).hasSize(4);
                l.done.clear();
                l.submit(IoType.READ, 1); // waits 1 s
                h.poll();
                assertThat(h.await(dm.updateLatency(h.layer, "Delay0", DelayModule.LatencyType.AVG_READ, 50))).isZero();
                assertThat(h.await(dm.updateLatency(h.layer, "Delay0", DelayModule.LatencyType.P99_READ, 50))).isZero();
                l.submit(IoType.READ, 1); // waits 50 us
                h.poll();
                h.group.advanceTime(Duration.ofMillis(1));
                h.poll();
                assertThat(l.done).as("the new read only").hasSize(1);
                h.group.advanceTime(Duration.ofSeconds(1));
                h.poll();
                assertThat(l.done).hasSize(2);
            }
            assertThat(h.await(dm.updateLatency(h.layer, "Nope", DelayModule.LatencyType.AVG_READ, 1))).isEqualTo(Errno.ENODEV);
        }
    }

    @Test
    @DisplayName("RESET aborts every I/O waiting on every channel (ABORTED), then resets the base and succeeds")
    void resetAbortsWaitingIo() {
        DelayModule dm = new DelayModule();
        try (BackendHarness h = harness(dm)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            h.await(dm.create(h.layer, "Delay0", "Malloc0", null, DelayModule.Latencies.all(1_000_000)));
            try (Load l = new Load(h, "Delay0")) {
                l.submit(IoType.READ, 3);
                l.submit(IoType.WRITE, 2);
                h.poll();
                assertThat(l.done).isEmpty();
                assertThat(new IoKit(h.layer).io(1, "Delay0", IoType.RESET, 0, 0, null)).isEqualTo(IoStatus.SUCCESS);
                assertThat(l.done).hasSize(5).containsOnly(IoStatus.ABORTED);
            }
        }
    }

    @Test
    @DisplayName("create: all four latencies, p99 below average is EINVAL, a name in use EEXIST; the UUID is SHA-1 of the base's in SPDK's"
            + " delay namespace; the base is claimed; hot-remove unregisters and the association brings it back; delete forgets it")
    void lifecycle() {
        DelayModule dm = new DelayModule();
        try (BackendHarness h = harness(dm)) {
            Bdev base = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            assertThatThrownBy(() -> h.await(dm.create(h.layer, "D", "Malloc0", null, new DelayModule.Latencies(10, 5, 1, 1))))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EINVAL));
            h.await(dm.create(h.layer, "Delay0", "Malloc0", null, DelayModule.Latencies.all(10)));
            assertThatThrownBy(() -> h.await(dm.create(h.layer, "Delay0", "Malloc0", null, DelayModule.Latencies.all(10))))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EEXIST));
            assertThat(h.layer.get("Delay0").uuid()).isEqualTo(Vbdevs.sha1Uuid(DelayModule.NAMESPACE, base.uuid()));
            assertThat(base.claimModule()).isSameAs(dm);
            h.await(h.malloc.delete(h.layer, "Malloc0"));
            h.poll();
            assertThat(h.layer.get("Delay0")).isNull();
            UUID u = UUID.randomUUID();
            h.await(h.malloc.create(h.layer, new MallocModule.Options("Malloc0", 64, 512, u, 0)));
            h.poll();
            assertThat(h.layer.get("Delay0")).as("re-created with the base").isNotNull();
            assertThat(h.await(dm.delete(h.layer, "Delay0"))).isZero();
            assertThat(h.layer.get("Malloc0").claimed()).isFalse();
            assertThat(h.await(dm.delete(h.layer, "Delay0"))).isEqualTo(Errno.ENODEV);
            assertThat(h.on(0, dm::associations)).isEmpty();
        }
    }
}
