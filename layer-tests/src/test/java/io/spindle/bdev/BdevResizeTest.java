package io.spindle.bdev;

import io.spindle.backends.BackendHarness;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.nullbdev.NullModule;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Resize is a module capability ({@code BdevDriver#acceptResize}): the layer changes a bdev's block count only
 * when its module accepts the new count, whoever asks; and a module's copy path checks each I/O against its own
 * memory, so a count the memory does not back fails the I/O instead of corrupting the native heap.
 */
@Timeout(60)
class BdevResizeTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-resize-test");
    static final BdevEventHandler IGNORE = (e, b, d) -> { };

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("BdevLayer.resize of a malloc bdev beyond its memory is refused (ENOTSUP), so I/O at the would-be new end is refused (EINVAL)")
    void mallocResizeBeyondItsMemoryIsRefusedAndIoThereNeverReachesTheModule() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(512)) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            assertThat(h.await(h.layer.resize("Malloc0", 128))).as("by name").isEqualTo(Errno.ENOTSUP);
            assertThat(h.await(h.layer.resize(b, 1 << 20))).as("by bdev, as another module would").isEqualTo(Errno.ENOTSUP);
            assertThat(h.await(h.layer.resize(b, 32))).as("no shrink either: the size is fixed").isEqualTo(Errno.ENOTSUP);
            assertThat(h.await(h.layer.resize(b, 64))).as("the same count").isZero();
            assertThat(b.numBlocks()).isEqualTo(64);
            BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", true, IGNORE));
            IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
            List<IoStatus> done = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> done.add(st);
            assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 0, 100, 1, cb, null))).isEqualTo(Errno.EINVAL);
            assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 64, 1, cb, null))).isEqualTo(Errno.EINVAL);
            h.poll();
            assertThat(done).isEmpty();
            close(h, d, ch);
        }
    }

    @Test
    @DisplayName("a malloc copy checks the range against its own memory: a count the layer got wrong fails the I/O (FAILED), in-range I/O is unharmed")
    void mallocCopyPathFailsIoOutsideItsMemory() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64); DmaBuffer buf = DmaBuffer.allocate(2 * 512)) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", true, IGNORE));
            IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
            List<IoStatus> done = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> done.add(st);
            buf.fill(0, 1024, (byte) 0x5A);
            assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 0, 62, 2, cb, null))).isZero();
            h.poll();
            assertThat(done).containsExactly(IoStatus.SUCCESS);
            done.clear();

            // a layer bug: the count grows without asking the module (what BdevLayer.resize did before it asked)
            h.on(0, () -> {
                b.setNumBlocks(128);
                return null;
            });
            // a read first: on a module that does not check, it copies from past the memory and completes SUCCESS
            assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 64, 1, cb, null))).as("the layer lets it through").isZero();
            h.poll();
            assertThat(done).as("read of block 64 of a 64-block memory").containsExactly(IoStatus.FAILED);
            done.clear();
            assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 63, 2, cb, null))).isZero();
            assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 0, 63, 2, cb, null))).isZero();
            assertThat(h.on(0, () -> d.writeBlocks(ch, buf, 0, 100, 1, cb, null))).isZero();
            assertThat(h.on(0, () -> d.writeZeroesBlocks(ch, 60, 8, cb, null))).isZero();
            assertThat(h.on(0, () -> d.unmapBlocks(ch, 127, 1, cb, null))).isZero();
            h.poll();
            assertThat(done).as("straddling read and write, write past the end, write_zeroes and unmap past it")
                    .containsExactly(IoStatus.FAILED, IoStatus.FAILED, IoStatus.FAILED, IoStatus.FAILED, IoStatus.FAILED);
            done.clear();
            buf.fill(0, 1024, (byte) 0);
            assertThat(h.on(0, () -> d.readBlocks(ch, buf, 0, 62, 2, cb, null))).isZero();
            h.poll();
            assertThat(done).containsExactly(IoStatus.SUCCESS);
            assertThat(buf.getByte(0)).isEqualTo((byte) 0x5A);
            assertThat(buf.getByte(1023)).as("the failed write_zeroes touched nothing").isEqualTo((byte) 0x5A);
            h.on(0, () -> {
                b.setNumBlocks(64);
                return null;
            });
            close(h, d, ch);
        }
    }

    @Test
    @DisplayName("a module without the resize capability refuses every resize with ENOTSUP, whoever asks")
    void moduleWithoutResizeCapabilityRefusesWithEnotsup() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            Bdev b = h.await(h.test.create(h.layer, new TestModule.Opts()));
            assertThat(h.await(h.layer.resize("Test0", 2048))).isEqualTo(Errno.ENOTSUP);
            assertThat(h.await(h.layer.resize(b, 512))).isEqualTo(Errno.ENOTSUP);
            assertThat(b.numBlocks()).isEqualTo(1024);
        }
    }

    @Test
    @DisplayName("a module that can resize takes counts up to what it holds and refuses beyond with its errno; the layer's own checks come first")
    void resizableModuleSetsItsBound() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            TestModule.Opts o = new TestModule.Opts();
            o.numBlocks = 64;
            o.resizableTo = 128;
            Bdev b = h.await(h.test.create(h.layer, o));
            assertThat(h.await(h.layer.resize(b, 128))).isZero();
            assertThat(h.await(h.layer.resize(b, 129))).isEqualTo(Errno.EINVAL);
            assertThat(h.await(h.layer.resize(b, 0))).as("the layer's bound").isEqualTo(Errno.EINVAL);
            assertThat(h.await(h.layer.resize(b, 16))).isZero();
            assertThat(b.numBlocks()).isEqualTo(16);
        }
    }

    @Test
    @DisplayName("the null bdev's grow-only rule is decided in the resize step itself: a shrink queued behind a grow is refused against the grown count")
    void nullShrinkRuleIsCheckedInTheResizeStep() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            Bdev b = h.await(h.nul.create(h.layer, NullModule.Options.of("Null0", 64, 512)));
            // both requests are made before either runs: a check made by the caller (64 blocks now, so 96 grows)
            // would let the second one through and shrink the bdev from 128 to 96
            CompletableFuture<Integer> grow = h.layer.resize(b, 128).toCompletableFuture();
            CompletableFuture<Integer> shrink = h.layer.resize(b, 96).toCompletableFuture();
            assertThat(h.await(grow)).isZero();
            assertThat(h.await(shrink)).isEqualTo(Errno.EINVAL);
            assertThat(b.numBlocks()).isEqualTo(128);
            assertThat(h.await(h.layer.resize(b, 128))).as("the same count: not a shrink").isZero();
        }
    }

    private static void close(BackendHarness h, BdevDescriptor d, IoChannel<BdevChannel> ch) {
        h.on(0, () -> {
            ch.put();
            d.close();
            return null;
        });
    }
}
