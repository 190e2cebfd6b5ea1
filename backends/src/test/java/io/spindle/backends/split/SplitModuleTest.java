package io.spindle.backends.split;

import io.spindle.backends.IoKit;
import io.spindle.backends.Vbdevs;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.part.Part;
import io.spindle.backends.part.PartBase;
import io.spindle.bdev.Bdev;
import io.spindle.backends.BackendHarness;
import io.spindle.bdev.BdevOptions;
import io.spindle.bdev.ClaimType;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The part library ({@code lib/bdev/part.c}) and the split module on manual reactors: SPDK's {@code part_ut.c} cases
 * by name, and the scenarios of its shell tests for {@code bdev_split_*} ({@code blockdev.sh}:
 * {@code bdev_split_create Malloc1 2}, {@code -s 4 Malloc2 8}).
 */
@Timeout(60)
class SplitModuleTest {
    static final ActorTestKit kit = ActorTestKit.create("split-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static Throwable cause(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    static BackendHarness harness(SplitModule split) {
        return new BackendHarness(kit, 2, BdevOptions.defaults(64), split);
    }

    /** A part of the split module built directly on a PartBase, for the part.c cases. */
    static final class TestPart extends Part {
        TestPart(PartBase base, String name, long offset, long n) {
            super(base, name, offset, n);
        }
    }

    @Nested
    class PartLibrary {
        @Test
        @DisplayName("part_test: two parts share one claim of the base (ref 2); a duplicate part name fails and leaves the claim as it was;"
                + " hot-remove of the base removes both parts and frees the base")
        void partTest() {
            SplitModule m = new SplitModule();
            try (BackendHarness h = harness(m)) {
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("base", 256, 512)));
                int[] freed = {0};
                PartBase pb = h.on(0, () -> PartBase.construct(h.layer, "base", m, PartBase::hotremove, () -> freed[0]++));
                assertThat(pb.claimed()).isFalse();
                h.await(h.on(0, () -> Part.construct(new TestPart(pb, "test1", 0, 100), "test", null)));
                h.await(h.on(0, () -> Part.construct(new TestPart(pb, "test2", 100, 100), "test", null)));
                assertThat(h.on(0, pb::ref)).isEqualTo(2);
                Bdev base = h.layer.get("base");
                assertThat(base.claimType()).isEqualTo(ClaimType.EXCL_WRITE);
                assertThat(base.claimModule()).isSameAs(m);
                assertThat(base.openDescriptors()).as("one descriptor shared by the parts").isEqualTo(1);
                assertThatThrownBy(() -> h.await(h.on(0, () -> Part.construct(new TestPart(pb, "test1", 0, 10), "test", null))))
                        .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EEXIST));
                assertThat(h.on(0, pb::ref)).isEqualTo(2);
                assertThat(base.claimed()).isTrue();

                h.on(0, () -> {
                    pb.hotremove();
                    return null;
                });
                h.group.pollUntil(() -> h.layer.get("test1") == null && h.layer.get("test2") == null && freed[0] == 1, java.time.Duration.ofSeconds(10));
                h.poll();
                assertThat(base.claimed()).as("released with the last part").isFalse();
                assertThat(base.openDescriptors()).isZero();
                assertThat(freed[0]).isEqualTo(1);
            }
        }

        @Test
        @DisplayName("part_free_test: the base is freed (claim released, descriptor closed, free callback run) only when its last part is destructed")
        void partFreeTest() {
            SplitModule m = new SplitModule();
            try (BackendHarness h = harness(m)) {
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("base", 256, 512)));
                int[] freed = {0};
                PartBase pb = h.on(0, () -> PartBase.construct(h.layer, "base", m, PartBase::hotremove, () -> freed[0]++));
                h.await(h.on(0, () -> Part.construct(new TestPart(pb, "p0", 0, 128), "test", null)));
                h.await(h.on(0, () -> Part.construct(new TestPart(pb, "p1", 128, 128), "test", null)));
                assertThat(h.await(h.layer.unregister("p0"))).isEqualTo(Errno.OK);
                assertThat(freed[0]).isZero();
                assertThat(h.layer.get("base").claimed()).isTrue();
                assertThat(h.await(h.layer.unregister("p1"))).isEqualTo(Errno.OK);
                h.poll();
                assertThat(freed[0]).isEqualTo(1);
                assertThat(h.layer.get("base").claimed()).isFalse();
                assertThat(h.layer.get("base").openDescriptors()).isZero();
            }
        }

        @Test
        @DisplayName("part_get_io_channel_test: a part's channel holds the base's channel on the same reactor; I/O lands at the part's offset")
        void partGetIoChannelTest() {
            SplitModule m = new SplitModule();
            try (BackendHarness h = harness(m)) {
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("base", 256, 512)));
                PartBase pb = h.on(0, () -> PartBase.construct(h.layer, "base", m, PartBase::hotremove, () -> { }));
                h.await(h.on(0, () -> Part.construct(new TestPart(pb, "p1", 100, 100), "test", null)));
                List<String> channels = h.on(1, () -> {
                    var d = h.layer.open("p1", false, (e, b, desc) -> { });
                    var ch = d.getIoChannel();
                    List<String> names = h.group.reactor(1).channels().stream().map(c -> c.ioDevice()).toList();
                    ch.put();
                    d.close();
                    return names;
                });
                assertThat(channels).contains("p1", "part_p1", "base");
                IoKit io = new IoKit(h.layer);
                byte[] a = IoKit.pattern(512, 4);
                assertThat(io.write("p1", 5, a)).isEqualTo(IoStatus.SUCCESS);
                assertThat(io.read("base", 105, 1)).isEqualTo(a);
            }
        }

        @Test
        @DisplayName("part_construct_ext: a UUID given is used; without one it is SHA-1 of (base UUID, offset, count) in SPDK's part namespace")
        void partConstructExt() {
            SplitModule m = new SplitModule();
            try (BackendHarness h = harness(m)) {
                Bdev base = h.await(h.malloc.create(h.layer, MallocModule.Options.of("base", 256, 512)));
                PartBase pb = h.on(0, () -> PartBase.construct(h.layer, "base", m, PartBase::hotremove, () -> { }));
                UUID u = UUID.randomUUID();
                assertThat(h.await(h.on(0, () -> Part.construct(new TestPart(pb, "pa", 0, 10), "test", u))).uuid()).isEqualTo(u);
                Bdev pbd = h.await(h.on(0, () -> Part.construct(new TestPart(pb, "pb", 10, 20), "test", null)));
                assertThat(pbd.uuid()).isEqualTo(Part.defaultUuid(base.uuid(), 10, 20));
                assertThat(pbd.uuid()).isNotEqualTo(Part.defaultUuid(base.uuid(), 10, 21));
                assertThat(pbd.uuid().version()).isEqualTo(5);
            }
        }
    }

    @Test
    @DisplayName("bdev_split_create Malloc1 2: two halves named Malloc1p0/p1, one shared claim; data lands at each part's offset of the base")
    void splitInTwo() {
        SplitModule m = new SplitModule();
        try (BackendHarness h = harness(m)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc1", 1000, 512)));
            assertThat(h.await(m.create(h.layer, "Malloc1", 2, 0))).containsExactly("Malloc1p0", "Malloc1p1");
            assertThat(h.layer.get("Malloc1p0").numBlocks()).isEqualTo(500);
            assertThat(h.layer.get("Malloc1p1").numBlocks()).isEqualTo(500);
            assertThat(h.layer.get("Malloc1p1").productName()).isEqualTo("Split Disk");
            assertThat(h.layer.get("Malloc1").claimType()).isEqualTo(ClaimType.EXCL_WRITE);
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(1024, 1);
            byte[] b = IoKit.pattern(1024, 2);
            assertThat(io.write("Malloc1p0", 498, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.write("Malloc1p1", 0, b)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("Malloc1", 498, 2)).isEqualTo(a);
            assertThat(io.read("Malloc1", 500, 2)).isEqualTo(b);
            assertThat(h.layer.leafBdevs()).extracting(Bdev::name).containsExactlyInAnyOrder("Malloc1p0", "Malloc1p1");
        }
    }

    @Test
    @DisplayName("bdev_split_create -s 4 Malloc2 8: parts of 4 MiB; a count that does not fit is clamped; a size that is not a multiple"
            + " of the block size, count 0 and a second split of one base are refused and leave no entry")
    void sizesClampingAndErrors() {
        SplitModule m = new SplitModule();
        try (BackendHarness h = harness(m)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc2", 20 * 2048, 512))); // 20 MiB
            assertThat(h.await(m.create(h.layer, "Malloc2", 8, 4))).containsExactly("Malloc2p0", "Malloc2p1", "Malloc2p2", "Malloc2p3", "Malloc2p4");
            assertThat(h.layer.get("Malloc2p4").numBlocks()).isEqualTo(4 * 2048);
            assertThatThrownBy(() -> h.await(m.create(h.layer, "Malloc2", 2, 0)))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EEXIST));
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("M4k", 1024, 4096)));
            assertThat(h.await(m.create(h.layer, "M4k", 2, 1))).as("1 MiB is a multiple of 4096").containsExactly("M4kp0", "M4kp1");
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Small", 64, 512)));
            assertThatThrownBy(() -> h.await(m.create(h.layer, "Small", 2, 1)))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EINVAL));
            assertThatThrownBy(() -> h.await(m.create(h.layer, "Small", 0, 0)))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EINVAL));
            assertThat(h.on(0, m::configuredBases)).containsExactly("Malloc2", "M4k");
            assertThat(h.layer.get("Small").claimed()).isFalse();
        }
    }

    @Test
    @DisplayName("deferred: a split of a missing base answers [] and is built when the base registers")
    void deferred() {
        SplitModule m = new SplitModule();
        try (BackendHarness h = harness(m)) {
            assertThat(h.await(m.create(h.layer, "Later", 4, 0))).isEmpty();
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Later", 400, 512)));
            h.poll();
            for (int i = 0; i < 4; i++) {
                assertThat(h.layer.get("Laterp" + i)).isNotNull();
            }
        }
    }

    @Test
    @DisplayName("hot-remove of the base unregisters every part and drops the entry: the split does not come back with the base")
    void hotRemoveDropsTheEntry() {
        SplitModule m = new SplitModule();
        try (BackendHarness h = harness(m)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc1", 100, 512)));
            h.await(m.create(h.layer, "Malloc1", 2, 0));
            var d = h.on(1, () -> h.layer.open("Malloc1p1", false, (e, b, desc) -> desc.close()));
            assertThat(h.await(h.malloc.delete(h.layer, "Malloc1"))).isEqualTo(Errno.OK);
            assertThat(d.isClosed()).isTrue();
            assertThat(h.layer.bdevs()).isEmpty();
            assertThat(h.on(0, m::configuredBases)).isEmpty();
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc1", 100, 512)));
            h.poll();
            assertThat(h.layer.get("Malloc1p0")).isNull();
        }
    }

    @Test
    @DisplayName("bdev_split_delete unregisters the parts and frees the base; an unknown base is ENOENT; a deferred entry is dropped")
    void delete() {
        SplitModule m = new SplitModule();
        try (BackendHarness h = harness(m)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc1", 100, 512)));
            h.await(m.create(h.layer, "Malloc1", 4, 0));
            assertThat(h.await(m.delete(h.layer, "Malloc1"))).isEqualTo(Errno.OK);
            h.group.pollUntil(() -> h.layer.bdevs().size() == 1 && !h.layer.get("Malloc1").claimed(), java.time.Duration.ofSeconds(10));
            assertThat(h.on(0, m::configuredBases)).isEmpty();
            assertThat(h.await(m.delete(h.layer, "Malloc1"))).isEqualTo(Errno.ENOENT);
            h.await(m.create(h.layer, "Nope", 2, 0));
            assertThat(h.await(m.delete(h.layer, "Nope"))).isEqualTo(Errno.OK);
            assertThat(h.on(0, m::configuredBases)).isEmpty();
        }
    }
}
