package io.spindle.bdev;

import io.spindle.backends.BackendHarness;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The malloc module's per-channel queue (I/O performed back to back by the channel's poller): per-channel FIFO
 * order of data effects, exactly-once completion in submission order, and I/O still queued when the channel is
 * destroyed or the bdev unregistered. Deterministic: manual reactors stepped by the test.
 */
@Timeout(60)
class MallocQueueTest {
    static final ActorTestKit kit = ActorTestKit.create("malloc-queue-test");
    static final int BS = 512;

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** Records "tag:status" per completion. */
    record Recorder(List<String> log) implements IoCallback {
        Recorder() {
            this(new CopyOnWriteArrayList<>());
        }

        @Override
        public void onComplete(BdevIo io, IoStatus status, Object arg) {
            log.add(arg + ":" + status);
        }
    }

    @Test
    @DisplayName("a write queued before a read of the same blocks on the same channel lands first; completions run later, once, in order")
    void writeQueuedBeforeReadLandsFirst() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, BS)));
            BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", true, (e, b, desc) -> {
            }));
            IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
            try (DmaBuffer w1 = DmaBuffer.allocate(BS).fill(0, BS, (byte) 0x11);
                 DmaBuffer w2 = DmaBuffer.allocate(BS).fill(0, BS, (byte) 0x22);
                 DmaBuffer r1 = DmaBuffer.allocate(BS);
                 DmaBuffer r2 = DmaBuffer.allocate(BS);
                 DmaBuffer r0 = DmaBuffer.allocate(BS).fill(0, BS, (byte) 0x7f)) {
                Recorder cb = new Recorder();
                List<String> afterSubmit = h.on(0, () -> {
                    // one reactor task: all five are queued on the channel before its poller runs
                    assertThat(d.readBlocks(ch, r0, 0, 3, 1, cb, "r0")).isZero();
                    assertThat(d.writeBlocks(ch, w1, 0, 3, 1, cb, "w1")).isZero();
                    assertThat(d.readBlocks(ch, r1, 0, 3, 1, cb, "r1")).isZero();
                    assertThat(d.writeBlocks(ch, w2, 0, 3, 1, cb, "w2")).isZero();
                    assertThat(d.readBlocks(ch, r2, 0, 3, 1, cb, "r2")).isZero();
                    return List.copyOf(cb.log());
                });
                assertThat(afterSubmit).as("no completion inside submit").isEmpty();
                h.poll();
                assertThat(cb.log()).containsExactly("r0:SUCCESS", "w1:SUCCESS", "r1:SUCCESS", "w2:SUCCESS", "r2:SUCCESS");
                assertThat(r0.getByte(0)).as("read before the first write: zeroed memory").isEqualTo((byte) 0);
                assertThat(r1.get(0, BS)).containsOnly((byte) 0x11);
                assertThat(r2.get(0, BS)).containsOnly((byte) 0x22);
            }
            h.on(0, () -> {
                ch.put();
                d.close();
                return null;
            });
            h.poll();
        }
    }

    @Test
    @DisplayName("a completion callback's resubmit joins the queue behind the I/O already queued (FIFO across poller runs)")
    void resubmitFromCallbackQueuesBehind() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, BS)));
            BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", true, (e, b, desc) -> {
            }));
            IoChannel<BdevChannel> ch = h.on(0, d::getIoChannel);
            try (DmaBuffer w = DmaBuffer.allocate(BS).fill(0, BS, (byte) 0x33);
                 DmaBuffer r = DmaBuffer.allocate(BS);
                 DmaBuffer r2 = DmaBuffer.allocate(BS)) {
                List<String> log = new CopyOnWriteArrayList<>();
                IoCallback cb = new IoCallback() {
                    @Override
                    public void onComplete(BdevIo io, IoStatus status, Object arg) {
                        log.add(arg + ":" + status);
                        if ("a".equals(arg)) {
                            // submitted after "w" was queued: must see w's data
                            assertThat(d.readBlocks(ch, r2, 0, 9, 1, this, "c")).isZero();
                        }
                    }
                };
                h.on(0, () -> {
                    assertThat(d.readBlocks(ch, r, 0, 9, 1, cb, "a")).isZero();
                    assertThat(d.writeBlocks(ch, w, 0, 9, 1, cb, "w")).isZero();
                    return null;
                });
                h.poll();
                assertThat(log).containsExactly("a:SUCCESS", "w:SUCCESS", "c:SUCCESS");
                assertThat(r.getByte(0)).isEqualTo((byte) 0);
                assertThat(r2.get(0, BS)).containsOnly((byte) 0x33);
            }
            h.on(0, () -> {
                ch.put();
                d.close();
                return null;
            });
            h.poll();
        }
    }

    /**
     * Runs {@code work} once, on reactor 0, from a poller registered before the bdev's channel exists. Pollers
     * run newest first, so a channel that {@code work} creates has a poller that runs only from the next loop
     * on, after that loop's tasks: a channel destroy that {@code work} queues by its last {@code put} runs
     * while the I/O {@code work} submitted is still queued in the module.
     */
    private static void fromPoller(BackendHarness h, Runnable work) {
        AtomicReference<Poller> self = new AtomicReference<>();
        self.set(h.on(0, () -> Reactor.current().registerPoller("test_once", () -> {
            Poller p = self.get();
            if (p == null || p.state() != Poller.State.ACTIVE) {
                return 0; // not handed over yet (registered and run in the same loop)
            }
            p.unregister();
            work.run();
            return 1;
        })));
    }

    @Test
    @DisplayName("I/O still queued when its channel is destroyed is performed and completes exactly once, in order")
    void queuedIoAtChannelDestroyCompletes() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, BS)));
            BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", true, (e, b, desc) -> {
            }));
            Recorder cb = new Recorder();
            DmaBuffer w = DmaBuffer.allocate(BS).fill(0, BS, (byte) 0x44);
            DmaBuffer r = DmaBuffer.allocate(BS);
            DmaBuffer check = DmaBuffer.allocate(BS);
            List<String> atPut = new CopyOnWriteArrayList<>();
            try {
                fromPoller(h, () -> {
                    IoChannel<BdevChannel> ch = d.getIoChannel(); // created now: its poller is newer, it ran already
                    assertThat(d.writeBlocks(ch, w, 0, 5, 1, cb, "w")).isZero();
                    assertThat(d.readBlocks(ch, r, 0, 5, 1, cb, "r")).isZero();
                    ch.put(); // last reference: the destroy is the next task, before the malloc poller runs again
                    atPut.addAll(cb.log());
                });
                h.poll();
                assertThat(atPut).isEmpty();
                assertThat(cb.log()).containsExactly("w:SUCCESS", "r:SUCCESS");
                assertThat(r.get(0, BS)).containsOnly((byte) 0x44);
                // the write landed in the bdev: read it back through a new channel
                IoChannel<BdevChannel> ch2 = h.on(0, d::getIoChannel);
                h.on(0, () -> d.readBlocks(ch2, check, 0, 5, 1, cb, "check"));
                h.poll();
                assertThat(cb.log()).containsExactly("w:SUCCESS", "r:SUCCESS", "check:SUCCESS");
                assertThat(check.get(0, BS)).containsOnly((byte) 0x44);
                h.on(0, () -> {
                    ch2.put();
                    d.close();
                    return null;
                });
                h.poll();
            } finally {
                w.close();
                r.close();
                check.close();
            }
        }
    }

    @Test
    @DisplayName("null module, the reference: I/O still queued when its channel is destroyed completes exactly once, not lost")
    void nullQueuedIoAtChannelDestroyCompletes() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.nul.create(h.layer, io.spindle.backends.nullbdev.NullModule.Options.of("Null0", 64, BS)));
            BdevDescriptor d = h.on(0, () -> h.layer.open("Null0", true, (e, b, desc) -> {
            }));
            Recorder cb = new Recorder();
            DmaBuffer r = DmaBuffer.allocate(BS);
            List<String> atPut = new CopyOnWriteArrayList<>();
            try {
                fromPoller(h, () -> {
                    IoChannel<BdevChannel> ch = d.getIoChannel();
                    assertThat(d.writeBlocks(ch, r, 0, 5, 1, cb, "w")).isZero();
                    assertThat(d.readBlocks(ch, r, 0, 5, 1, cb, "r")).isZero();
                    ch.put(); // last reference: the destroy runs before the null poller runs again
                    atPut.addAll(cb.log());
                });
                h.poll();
                assertThat(atPut).isEmpty();
                assertThat(cb.log()).containsExactly("w:SUCCESS", "r:SUCCESS");
                h.on(0, () -> {
                    d.close();
                    return null;
                });
                h.poll();
            } finally {
                r.close();
            }
        }
    }

    @Test
    @DisplayName("unregister with I/O queued on a channel: the I/O completes before the channel goes, the memory is freed after")
    void queuedIoAtUnregisterCompletesBeforeDestruct() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 64, BS)));
            List<String> events = new CopyOnWriteArrayList<>();
            BdevDescriptor d = h.on(0, () -> h.layer.open("Malloc0", true, (e, b, desc) -> events.add(e.name())));
            List<String> log = new CopyOnWriteArrayList<>();
            CompletableFuture<Integer> un = new CompletableFuture<>();
            List<Integer> completionsAtUnregisterReply = new CopyOnWriteArrayList<>();
            IoCallback cb = (io, st, arg) -> log.add(arg + ":" + st);
            DmaBuffer r = DmaBuffer.allocate(4 * BS);
            try {
                fromPoller(h, () -> {
                    IoChannel<BdevChannel> ch = d.getIoChannel();
                    for (int i = 0; i < 4; i++) {
                        assertThat(d.readBlocks(ch, r, (long) i * BS, i, 1, cb, "r" + i)).isZero();
                    }
                    h.layer.unregister("Malloc0").whenComplete((st, err) -> {
                        completionsAtUnregisterReply.add(log.size());
                        un.complete(st);
                    });
                    ch.put();
                    d.close();
                });
                h.group.pollUntil(un::isDone, BackendHarness.T);
                assertThat(un.join()).isZero();
                assertThat(completionsAtUnregisterReply).containsExactly(4);
                assertThat(log).containsExactly("r0:SUCCESS", "r1:SUCCESS", "r2:SUCCESS", "r3:SUCCESS");
                assertThat(h.layer.get("Malloc0")).isNull();
            } finally {
                r.close();
            }
        }
    }
}
