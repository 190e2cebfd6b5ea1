package io.spindle.bdev;

import io.spindle.backends.BackendHarness;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a bdev's actor answers while it is being unregistered, and a module channel create that fails: the requests
 * that would change or walk a bdev on its way out are refused with ENODEV, a QoS tick already on its way starts
 * nothing, and the unregister still completes; a failed create leaves nothing of the bdev layer behind.
 */
@Timeout(60)
class BdevWhileUnregisteringTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-while-unregistering-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("resize, media management and QoS limits on a bdev being unregistered are ENODEV; the unregister completes at the close")
    void requestsDuringUnregisterAreEnodev() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64)) {
            h.await(h.malloc.create(h.layer, io.spindle.backends.malloc.MallocModule.Options.of("Malloc0", 64, 512)));
            BdevDescriptor d = h.on(1, () -> h.layer.open("Malloc0", true, (e, b, desc) -> { }));
            CompletableFuture<Integer> un = h.layer.unregister("Malloc0").toCompletableFuture();
            h.poll();
            assertThat(un).as("the descriptor is still open").isNotDone();
            assertThat(h.await(h.layer.resize("Malloc0", 128))).as("resize").isEqualTo(Errno.ENODEV);
            assertThat(h.await(h.layer.notifyMediaManagement("Malloc0"))).as("media management").isEqualTo(Errno.ENODEV);
            assertThat(h.await(h.layer.setQosLimits("Malloc0", QosLimits.of(1000, 0, 0, 0)))).as("QoS limits").isEqualTo(Errno.ENODEV);
            assertThat(h.layer.get("Malloc0").numBlocks()).isEqualTo(64);
            h.on(1, () -> {
                d.close();
                return null;
            });
            assertThat(h.await(un)).isZero();
        }
    }

    @Test
    @DisplayName("a QoS tick queued behind the unregister starts no channel walk, and the unregister completes")
    void qosTickAfterTheUnregisterStartsNothing() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.malloc.create(h.layer, io.spindle.backends.malloc.MallocModule.Options.of("Malloc0", 64, 512)));
            assertThat(h.await(h.layer.setQosLimits("Malloc0", QosLimits.of(1000, 0, 0, 0)))).isZero();
            h.poll();
            // reactor 0 runs one task per step: a task ahead of the unregister lets the QoS poller fire (and tell its
            // tick) while the Unregister is still in the bdev actor's mailbox, so the tick arrives after it
            CompletableFuture<Void> ahead = new CompletableFuture<>();
            h.group.reactor(0).send(() -> ahead.complete(null));
            CompletableFuture<Integer> un = h.layer.unregister("Malloc0").toCompletableFuture();
            h.group.advanceTime(Duration.ofMillis(2));
            h.group.pollOnce(0);
            assertThat(ahead).isDone();
            assertThat(un).isNotDone();
            assertThat(h.await(un)).isZero();
            assertThat(h.layer.get("Malloc0")).isNull();
        }
    }

    @Test
    @DisplayName("a module channel create that fails: getIoChannel is null, the reactor's bdev_mgr channel reference is given back, the bdev "
            + "unregisters")
    void failedModuleChannelCreateLeavesNothing() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            TestModule.Opts o = new TestModule.Opts();
            o.failChannelCreate = true;
            h.await(h.test.create(h.layer, o));
            BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, (e, b, desc) -> { }));
            h.poll();
            List<Reactor.ChannelInfo> before = h.on(0, () -> Reactor.current().channels());
            IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
            assertThat(ch).isNull();
            h.poll();
            assertThat(h.on(0, () -> Reactor.current().channels())).as("nothing left: the bdev_mgr reference was given back")
                    .isEqualTo(before);
            h.on(0, () -> {
                d.close();
                return null;
            });
            assertThat(h.await(h.layer.unregister("Test0"))).isZero();
        }
    }
}
