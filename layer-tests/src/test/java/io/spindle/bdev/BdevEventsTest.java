package io.spindle.bdev;

import io.spindle.backends.BackendHarness;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** RESIZE and MEDIA_MANAGEMENT events, the per-reactor iobuf cache, and per-I/O module contexts. */
@Timeout(60)
class BdevEventsTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-events-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    void resizeNotifiesDescriptorsOnTheirReactorAndRefusesShrinkingUnderThem() {
        try (BackendHarness h = new BackendHarness(kit, 2, 64)) {
            TestModule.Opts o = new TestModule.Opts().name("Malloc0");
            o.numBlocks = 64;
            o.resizableTo = 128; // a module with the resize capability (malloc's memory is fixed: BdevResizeTest)
            h.await(h.test.create(h.layer, o));
            List<String> events = new CopyOnWriteArrayList<>();
            BdevDescriptor d = h.on(1, () -> h.layer.open("Malloc0", false, (e, b, desc) ->
                    events.add(e + "@" + Reactor.current().name() + " blocks=" + b.numBlocks())));
            assertThat(h.await(h.layer.resize("Malloc0", 128))).isZero();
            h.poll();
            assertThat(events).containsExactly("RESIZE@reactor_1 blocks=128");
            assertThat(h.await(h.layer.resize("Malloc0", 32))).isEqualTo(Errno.EBUSY);
            assertThat(h.await(h.layer.resize("Malloc0", 0))).isEqualTo(Errno.EINVAL);
            assertThat(h.await(h.layer.notifyMediaManagement("Malloc0"))).isZero();
            h.poll();
            assertThat(events).last().asString().startsWith("MEDIA_MANAGEMENT@reactor_1");
            h.on(1, () -> {
                d.close();
                return null;
            });
            assertThat(h.await(h.layer.resize("Malloc0", 32))).as("no descriptor open").isZero();
            assertThat(h.layer.get("Malloc0").numBlocks()).isEqualTo(32);
            assertThat(h.await(h.layer.resize("nope", 32))).isEqualTo(Errno.ENODEV);
        }
    }

    @Test
    void iobufCacheReusesBuffersOnItsReactor() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, 512)));
            assertThatThrownBy(() -> h.on(0, () -> h.layer.iobuf())).hasMessageContaining("no bdev channel on this reactor");
            BdevHarness.Opened o = h.open(0, "Malloc0");
            BdevDescriptor d = o.desc;
            IoChannel<BdevChannel> ch = o.ch;
            List<Object> seen = h.on(0, () -> {
                IoBuf io = h.layer.iobuf();
                DmaBuffer s1 = io.getSmall();
                DmaBuffer l1 = io.getLarge();
                assertThat(s1.capacity()).isEqualTo(IoBuf.SMALL_SIZE);
                assertThat(l1.capacity()).isEqualTo(IoBuf.LARGE_SIZE);
                assertThat(s1.address() % 4096).isZero();
                assertThat(io.outstanding()).isEqualTo(2);
                io.put(s1);
                io.put(l1);
                DmaBuffer s2 = io.get(100);
                DmaBuffer l2 = io.get(100_000);
                assertThat(io.get(200_000)).isNull();
                io.put(s2);
                io.put(l2);
                return List.<Object>of(s1 == s2, l1 == l2, io.outstanding());
            });
            assertThat(seen).containsExactly(true, true, 0);
            assertThatThrownBy(() -> h.layer.iobuf()).isInstanceOf(IllegalStateException.class);
            o.close();
        }
    }

    @Test
    @DisplayName("module per-I/O contexts: exactly io-pool-size per reactor, built with the reactor's pool at channel create, none per I/O")
    void moduleIoContextsArePreallocatedOncePerPooledIo() {
        try (BackendHarness h = new BackendHarness(kit, 2, 16); DmaBuffer buf = DmaBuffer.allocate(512)) {
            h.await(h.test.create(h.layer, new TestModule.Opts()));
            BdevDescriptor d = h.on(0, () -> h.layer.open("Test0", true, (e, b, desc) -> { }));
            assertThat(h.test.ioContexts.get()).as("no pool before the first channel").isZero();
            IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
            assertThat(h.test.ioContexts.get()).as("one per pooled I/O of reactor_0, right after channel create").isEqualTo(16);
            List<IoStatus> done = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> done.add(st);
            for (int round = 0; round < 50; round++) {
                h.on(0, () -> {
                    for (int i = 0; i < 8; i++) {
                        assertThat(d.readBlocks(ch, buf, 0, i, 1, cb, null)).isZero();
                    }
                    return null;
                });
                h.poll();
            }
            assertThat(done).hasSize(400).containsOnly(IoStatus.SUCCESS);
            assertThat(h.test.ioContexts.get()).as("none created on the I/O path").isEqualTo(16);
            IoChannel<BdevChannel> ch1 = h.on(1, d::getIoChannel);
            assertThat(h.test.ioContexts.get()).as("reactor_1's pool is built with its first channel").isEqualTo(32);
            h.on(0, () -> {
                ch.put();
                return null;
            });
            h.on(1, () -> {
                ch1.put();
                return null;
            });
            h.on(0, () -> {
                d.close();
                return null;
            });
        }
    }
}
