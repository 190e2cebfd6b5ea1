package io.spindle.backends.passthru;

import io.spindle.backends.IoKit;
import io.spindle.backends.Vbdevs;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevException;
import io.spindle.backends.BackendHarness;
import io.spindle.bdev.BdevOptions;
import io.spindle.bdev.ClaimType;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The passthru module on manual reactors: the scenarios of SPDK's shell tests for {@code bdev_passthru_*}
 * ({@code test/bdev/blockdev.sh} builds {@code TestPT} over a malloc; SPDK has no unit test for passthru) — create,
 * deferred creation, the claim, I/O through it, hot-remove of the base and re-creation, delete.
 */
@Timeout(60)
class PassthruModuleTest {
    static final ActorTestKit kit = ActorTestKit.create("passthru-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static Throwable cause(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    static BackendHarness harness(int reactors, PassthruModule pt) {
        return new BackendHarness(kit, reactors, BdevOptions.defaults(64), pt);
    }

    @Test
    @DisplayName("create over a malloc: same geometry, product passthru, the base claimed exclusive_write, UUID = SHA-1(SPDK's namespace, base UUID)")
    void createClaimsTheBaseAndCopiesItsGeometry() {
        PassthruModule pt = new PassthruModule();
        try (BackendHarness h = harness(1, pt)) {
            Bdev base = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 256, 512)));
            assertThat(h.await(pt.create(h.layer, "TestPT", "Malloc0", null))).isEqualTo("TestPT");
            Bdev b = h.layer.get("TestPT");
            assertThat(b).isNotNull();
            assertThat(b.blockSize()).isEqualTo(512);
            assertThat(b.numBlocks()).isEqualTo(256);
            assertThat(b.productName()).isEqualTo("passthru");
            assertThat(b.uuid()).isEqualTo(Vbdevs.sha1Uuid(PassthruModule.NAMESPACE, base.uuid()));
            assertThat(base.claimType()).isEqualTo(ClaimType.EXCL_WRITE);
            assertThat(base.claimModule()).isSameAs(pt);
            assertThat(h.layer.leafBdevs()).containsExactly(b);
            assertThatThrownBy(() -> h.on(0, () -> h.layer.open("Malloc0", true, (e, bd, d) -> { })))
                    .satisfies(t -> assertThat(cause(t)).isInstanceOf(BdevException.class).hasMessageContaining("EPERM"));
        }
    }

    @Test
    @DisplayName("a UUID given at create is used; without one the UUID is the same on every re-creation over the same base")
    void uuidGivenOrDerivedStably() {
        PassthruModule pt = new PassthruModule();
        try (BackendHarness h = harness(1, pt)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            UUID u = UUID.randomUUID();
            h.await(pt.create(h.layer, "PT1", "Malloc0", u));
            assertThat(h.layer.get("PT1").uuid()).isEqualTo(u);
        }
        // SPDK computes uuid_generate_sha1(ns, base uuid bytes): an RFC 4122 v5 UUID
        UUID base = UUID.fromString("8d1b8e4a-6b87-4c0c-9b1a-6a1b2c3d4e5f");
        UUID v5 = Vbdevs.sha1Uuid(PassthruModule.NAMESPACE, base);
        assertThat(v5.version()).isEqualTo(5);
        assertThat(v5.variant()).isEqualTo(2);
        assertThat(v5).isEqualTo(Vbdevs.sha1Uuid(PassthruModule.NAMESPACE, base));
        assertThat(v5).isNotEqualTo(Vbdevs.sha1Uuid(PassthruModule.NAMESPACE, UUID.randomUUID()));
    }

    @Test
    @DisplayName("data written through the passthru is the base's data and the other way round, for every I/O type")
    void ioGoesThroughUnchanged() {
        PassthruModule pt = new PassthruModule();
        try (BackendHarness h = harness(2, pt)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 256, 512)));
            h.await(pt.create(h.layer, "PT0", "Malloc0", null));
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(4096, 7);
            assertThat(io.write("PT0", 16, a)).isEqualTo(IoStatus.SUCCESS);
            // read the base directly: the passthru wrote where it was asked, on the base's same blocks. The base is
            // claimed, but a read-only open is allowed
            assertThat(io.read("Malloc0", 16, 8)).isEqualTo(a);
            assertThat(io.read("PT0", 16, 8)).isEqualTo(a);
            try (DmaBuffer cmp = DmaBuffer.allocate(4096)) {
                cmp.put(0, a);
                assertThat(io.io(1, "PT0", IoType.COMPARE, 16, 8, cmp)).isEqualTo(IoStatus.SUCCESS);
                cmp.fill(0, 1, (byte) ~a[0]);
                assertThat(io.io(1, "PT0", IoType.COMPARE, 16, 8, cmp)).isEqualTo(IoStatus.MISCOMPARE);
            }
            assertThat(io.io(1, "PT0", IoType.WRITE_ZEROES, 16, 4, null)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("Malloc0", 16, 4)).isEqualTo(new byte[2048]);
            assertThat(io.io(0, "PT0", IoType.UNMAP, 20, 4, null)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("PT0", 20, 4)).isEqualTo(new byte[2048]);
            assertThat(io.io(0, "PT0", IoType.FLUSH, 0, 256, null)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.io(1, "PT0", IoType.RESET, 0, 0, null)).isEqualTo(IoStatus.SUCCESS);
            Bdev b = h.layer.get("PT0");
            for (IoType t : List.of(IoType.READ, IoType.WRITE, IoType.UNMAP, IoType.FLUSH, IoType.RESET, IoType.WRITE_ZEROES, IoType.COMPARE,
                    IoType.COMPARE_AND_WRITE)) {
                assertThat(b.supports(t)).as(t.name()).isTrue();
            }
            assertThat(b.supports(IoType.ABORT)).isFalse();
        }
    }

    @Test
    @DisplayName("deferred creation: a passthru over a bdev that does not exist yet is accepted and built when the base registers")
    void deferredCreation() {
        PassthruModule pt = new PassthruModule();
        try (BackendHarness h = harness(1, pt)) {
            assertThat(h.await(pt.create(h.layer, "PT0", "Later", null))).isEqualTo("PT0");
            assertThat(h.layer.get("PT0")).isNull();
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Later", 64, 4096)));
            h.poll();
            Bdev b = h.layer.get("PT0");
            assertThat(b).as("built by examine").isNotNull();
            assertThat(b.blockSize()).isEqualTo(4096);
            assertThat(h.layer.get("Later").claimed()).isTrue();
        }
    }

    @Test
    @DisplayName("a second passthru of the same name is EEXIST; a base claimed by another module is EPERM and leaves no association")
    void duplicatesAndClaimedBases() {
        PassthruModule pt = new PassthruModule();
        try (BackendHarness h = harness(1, pt)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            h.await(pt.create(h.layer, "PT0", "Malloc0", null));
            assertThatThrownBy(() -> h.await(pt.create(h.layer, "PT0", "Malloc0", null)))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EEXIST));
            assertThatThrownBy(() -> h.await(pt.create(h.layer, "PT1", "Malloc0", null)))
                    .satisfies(t -> {
                        assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EPERM);
                        assertThat(cause(t)).hasMessageContaining("Malloc0");
                    });
            assertThat(h.on(0, pt::associations)).containsOnlyKeys("PT0");
            assertThat(h.layer.get("PT1")).isNull();
        }
    }

    @Test
    @DisplayName("hot-remove of the base: the passthru's users get REMOVE, it unregisters, the base's unregister completes; the"
            + " association stays, so the passthru is back when the base is")
    void hotRemoveUnregistersAndTheBaseComingBackRebuildsIt() {
        PassthruModule pt = new PassthruModule();
        try (BackendHarness h = harness(2, pt)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            h.await(pt.create(h.layer, "PT0", "Malloc0", null));
            List<String> events = new ArrayList<>();
            var d = h.on(1, () -> h.layer.open("PT0", false, (e, b, desc) -> {
                events.add(e.name());
                desc.close();
            }));
            CompletableFuture<Integer> un = h.malloc.delete(h.layer, "Malloc0").toCompletableFuture();
            assertThat(h.await(un)).isEqualTo(Errno.OK);
            assertThat(events).containsExactly("REMOVE");
            assertThat(d.isClosed()).isTrue();
            assertThat(h.layer.get("PT0")).isNull();
            assertThat(h.layer.bdevs()).isEmpty();
            assertThat(h.on(0, pt::associations)).containsEntry("PT0", "Malloc0");

            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            h.poll();
            assertThat(h.layer.get("PT0")).as("re-created from the association").isNotNull();
        }
    }

    @Test
    @DisplayName("delete: the passthru goes, the base is unclaimed and stays; the association is gone, so a new base does not bring it back;"
            + " an unknown name is ENODEV")
    void deleteDropsTheAssociation() {
        PassthruModule pt = new PassthruModule();
        try (BackendHarness h = harness(1, pt)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            h.await(pt.create(h.layer, "PT0", "Malloc0", null));
            assertThat(h.await(pt.delete(h.layer, "PT0"))).isEqualTo(Errno.OK);
            assertThat(h.layer.get("PT0")).isNull();
            Bdev base = h.layer.get("Malloc0");
            assertThat(base.claimed()).isFalse();
            assertThat(base.openDescriptors()).isZero();
            assertThat(h.await(pt.delete(h.layer, "PT0"))).isEqualTo(Errno.ENODEV);
            h.await(h.malloc.delete(h.layer, "Malloc0"));
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            h.poll();
            assertThat(h.layer.get("PT0")).isNull();
            // a deferred passthru is forgotten by delete
            h.await(pt.create(h.layer, "PT9", "Nope", null));
            assertThat(h.await(pt.delete(h.layer, "PT9"))).isEqualTo(Errno.OK);
            assertThat(h.on(0, pt::associations)).isEmpty();
        }
    }

    @Test
    @DisplayName("a passthru over a passthru: I/O goes through both; the subsystem's fini unregisters top-down")
    void stacksOnItself() {
        PassthruModule pt = new PassthruModule();
        try (BackendHarness h = harness(2, pt)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            h.await(pt.create(h.layer, "PT0", "Malloc0", null));
            h.await(pt.create(h.layer, "PT1", "PT0", null));
            IoKit io = new IoKit(h.layer);
            byte[] a = IoKit.pattern(1024, 3);
            assertThat(io.write("PT1", 3, a)).isEqualTo(IoStatus.SUCCESS);
            assertThat(io.read("Malloc0", 3, 2)).isEqualTo(a);
            assertThat(h.layer.leafBdevs()).extracting(Bdev::name).containsExactly("PT1");
        }
    }
}
