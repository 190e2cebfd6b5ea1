package io.spindle.backends.error;

import io.spindle.backends.IoKit;
import io.spindle.backends.Vbdevs;
import io.spindle.backends.malloc.MallocModule;
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

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The error module on manual reactors: the scenarios of SPDK's {@code blockdev.sh error_test_suite} ({@code
 * bdev_error_inject_error EE_Dev_1 all failure -n 5} under I/O) and of each error type (SPDK has no unit test for
 * the error module).
 */
@Timeout(60)
class ErrorModuleTest {
    static final ActorTestKit kit = ActorTestKit.create("error-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static BackendHarness harness(ErrorModule em) {
        return new BackendHarness(kit, 2, BdevOptions.defaults(256), em);
    }

    static ErrorModule.Injection inj(IoType t, ErrorModule.ErrorType e, long num) {
        return new ErrorModule.Injection(t, e, num, 0, 0, 0);
    }

    /** One descriptor and channel on reactor 0 kept open; I/O submitted in batches, statuses recorded. */
    static final class Load implements AutoCloseable {
        final BackendHarness h;
        final List<IoStatus> done = new CopyOnWriteArrayList<>();
        final DmaBuffer buf = DmaBuffer.allocate(512);
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
                        case UNMAP -> desc.unmapBlocks(ch, i % 8, 1, cb, null);
                        case FLUSH -> desc.flushBlocks(ch, 0, 1, cb, null);
                        default -> throw new IllegalArgumentException(type.name());
                    };
                    assertThat(rc).isZero();
                }
                return null;
            });
            h.poll();
        }

        long count(IoStatus s) {
            return done.stream().filter(x -> x == s).count();
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
    @DisplayName("error_test_suite: 'all failure -n 5' fails exactly 5 I/O of any type, shared by every channel, then I/O passes")
    void allFailureN5() {
        ErrorModule em = new ErrorModule();
        try (BackendHarness h = harness(em)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Dev_1", 64, 512)));
            h.await(em.create(h.layer, "Dev_1", null));
            assertThat(h.layer.get("EE_Dev_1")).isNotNull();
            assertThat(h.await(em.injectError(h.layer, "EE_Dev_1", inj(null, ErrorModule.ErrorType.FAILURE, 5)))).isZero();
            try (Load l = new Load(h, "EE_Dev_1")) {
                l.submit(IoType.READ, 3);
                l.submit(IoType.WRITE, 10);
                l.submit(IoType.READ, 10);
                // each slot has its own count of 5: reads take 5 of theirs, writes 5 of theirs
                assertThat(l.count(IoStatus.FAILED)).isEqualTo(10);
                assertThat(l.count(IoStatus.SUCCESS)).isEqualTo(13);
            }
            IoKit io = new IoKit(h.layer);
            assertThat(io.io(1, "EE_Dev_1", IoType.UNMAP, 0, 1, null)).isEqualTo(IoStatus.FAILED);
            assertThat(h.await(em.clearErrors(h.layer, "EE_Dev_1"))).isZero();
            assertThat(io.io(1, "EE_Dev_1", IoType.UNMAP, 0, 1, null)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.io(1, "EE_Dev_1", IoType.FLUSH, 0, 1, null)).isEqualTo(IoStatus.SUCCESS);
        }
    }

    @Test
    @DisplayName("an error fires only while the channel has at least queue_depth I/O at the base")
    void queueDepthGate() {
        ErrorModule em = new ErrorModule();
        try (BackendHarness h = harness(em)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Dev", 64, 512)));
            h.await(em.create(h.layer, "Dev", null));
            h.await(em.injectError(h.layer, "EE_Dev", new ErrorModule.Injection(IoType.READ, ErrorModule.ErrorType.FAILURE, 100, 4, 0, 0)));
            try (Load l = new Load(h, "EE_Dev")) {
                l.submit(IoType.READ, 6); // the first 4 pass (0..3 in flight when submitted), then 2 fail
                assertThat(l.count(IoStatus.SUCCESS)).isEqualTo(4);
                assertThat(l.count(IoStatus.FAILED)).isEqualTo(2);
                l.done.clear();
                l.submit(IoType.READ, 1); // nothing in flight now
                assertThat(l.done).containsExactly(IoStatus.SUCCESS);
            }
        }
    }

    @Test
    @DisplayName("nomem: the layer requeues and retries, the caller sees success; pending: parked until bdev_error_resume_pending")
    void nomemAndPending() {
        ErrorModule em = new ErrorModule();
        try (BackendHarness h = harness(em)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Dev", 64, 512)));
            h.await(em.create(h.layer, "Dev", null));
            h.await(em.injectError(h.layer, "EE_Dev", inj(IoType.WRITE, ErrorModule.ErrorType.NOMEM, 3)));
            try (Load l = new Load(h, "EE_Dev")) {
                l.submit(IoType.WRITE, 4);
                for (int i = 0; i < 10 && l.done.size() < 4; i++) {
                    h.group.advanceTime(java.time.Duration.ofMillis(20)); // NOMEM with nothing outstanding retries after 10 ms
                    h.poll();
                }
                assertThat(l.done).hasSize(4).containsOnly(IoStatus.SUCCESS);
                l.done.clear();
                h.await(em.injectError(h.layer, "EE_Dev", inj(IoType.READ, ErrorModule.ErrorType.PENDING, 2)));
                l.submit(IoType.READ, 3);
                assertThat(l.done).as("two parked").containsExactly(IoStatus.SUCCESS);
                assertThat(h.await(em.resumePending(h.layer, "EE_Dev"))).isZero();
                h.poll();
                assertThat(l.done).hasSize(3).containsOnly(IoStatus.SUCCESS);
            }
        }
    }

    @Test
    @DisplayName("a RESET aborts the parked I/O on every channel (ABORTED) and succeeds")
    void resetAbortsPending() {
        ErrorModule em = new ErrorModule();
        try (BackendHarness h = harness(em)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Dev", 64, 512)));
            h.await(em.create(h.layer, "Dev", null));
            h.await(em.injectError(h.layer, "EE_Dev", inj(null, ErrorModule.ErrorType.PENDING, 10)));
            try (Load l = new Load(h, "EE_Dev")) {
                l.submit(IoType.READ, 2);
                l.submit(IoType.FLUSH, 1);
                assertThat(l.done).isEmpty();
                assertThat(new IoKit(h.layer).io(1, "EE_Dev", IoType.RESET, 0, 0, null)).isEqualTo(IoStatus.SUCCESS);
                assertThat(l.done).hasSize(3).containsOnly(IoStatus.ABORTED);
            }
        }
    }

    @Test
    @DisplayName("corrupt_data: a write lands with byte corrupt_offset XOR corrupt_value (the caller's buffer untouched); a read returns it"
            + " corrupted; corrupt_value 0 is refused")
    void corruptData() {
        ErrorModule em = new ErrorModule();
        try (BackendHarness h = harness(em)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Dev", 64, 512)));
            h.await(em.create(h.layer, "Dev", null));
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(1024, 5);
            h.await(em.injectError(h.layer, "EE_Dev", new ErrorModule.Injection(IoType.WRITE, ErrorModule.ErrorType.CORRUPT_DATA, 1, 0, 700, 0xff)));
            assertThat(io.write("EE_Dev", 4, a)).isEqualTo(IoStatus.SUCCESS);
            byte[] expect = a.clone();
            expect[700] ^= (byte) 0xff;
            assertThat(io.read("Dev", 4, 2)).isEqualTo(expect);
            assertThat(io.write("EE_Dev", 8, a)).as("count used up").isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("Dev", 8, 2)).isEqualTo(a);
            h.await(em.injectError(h.layer, "EE_Dev", new ErrorModule.Injection(IoType.READ, ErrorModule.ErrorType.CORRUPT_DATA, 1, 0, 3, 0x01)));
            byte[] r = io.read("EE_Dev", 8, 2);
            byte[] e2 = a.clone();
            e2[3] ^= 1;
            assertThat(r).isEqualTo(e2);
            assertThat(io.read("EE_Dev", 8, 2)).isEqualTo(a);
            assertThatThrownBy(() -> h.await(em.injectError(h.layer, "EE_Dev",
                    new ErrorModule.Injection(IoType.READ, ErrorModule.ErrorType.CORRUPT_DATA, 1, 0, 3, 0))))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EINVAL));
        }
    }

    @Test
    @DisplayName("create: EE_<base>, a second one of a base is EEXIST, a missing base defers it; hot-remove drops the entry (not re-created);"
            + " delete; unknown names are ENODEV")
    void lifecycle() {
        ErrorModule em = new ErrorModule();
        try (BackendHarness h = harness(em)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Dev", 64, 512)));
            UUID u = UUID.randomUUID();
            h.await(em.create(h.layer, "Dev", u));
            assertThat(h.layer.get("EE_Dev").uuid()).isEqualTo(u);
            assertThat(h.layer.get("Dev").claimModule()).isSameAs(em);
            assertThatThrownBy(() -> h.await(em.create(h.layer, "Dev", null)))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EEXIST));
            h.await(em.create(h.layer, "Later", null));
            assertThat(h.layer.get("EE_Later")).isNull();
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Later", 64, 512)));
            h.poll();
            assertThat(h.layer.get("EE_Later")).isNotNull();
            h.await(h.malloc.delete(h.layer, "Later"));
            h.poll();
            assertThat(h.layer.get("EE_Later")).isNull();
            assertThat(h.on(0, em::configuredBases)).containsExactly("Dev");
            assertThat(h.await(em.delete(h.layer, "EE_Dev"))).isZero();
            assertThat(h.on(0, em::configuredBases)).isEmpty();
            assertThat(h.layer.get("Dev").claimed()).isFalse();
            assertThat(h.await(em.delete(h.layer, "EE_Dev"))).isEqualTo(Errno.ENODEV);
            assertThat(h.await(em.injectError(h.layer, "EE_Dev", inj(null, ErrorModule.ErrorType.FAILURE, 1)))).isEqualTo(Errno.ENODEV);
        }
    }
}
