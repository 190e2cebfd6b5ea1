package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.rogue.RogueModule;
import io.spindle.bdev.spi.BdevContext;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.Reactor;
import io.spindle.testing.Seeds;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The SPDK #3252 shape written by a module author with the public API only ({@link RogueModule}: its own actor, its
 * own io_device registered with {@code IoDevice.register}, state freed in an asynchronous destruct that the module
 * channel's destroy still touches) is made safe: a put made by a bdev channel's destroy is waited for before the
 * bdev's destruct. And the routes that cannot be made safe are refused with Spindle's own error.
 */
@Timeout(300)
class RogueModuleTest {
    static final ActorTestKit kit = ActorTestKit.create("rogue-module-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("SPDK #3252 with the public API: a module's own io_device, its channel put by the bdev channel's destroy and state freed "
            + "in destruct: no use-after-free, destruct finished before the reply, on 2-4 reactors over fixed and random schedules")
    void rogueModuleIsSafe() {
        ActorRef<RogueModule.Cmd> actor = kit.spawn(RogueModule.actor(), "rogue-module");
        RogueModule rogue = new RogueModule(actor);
        for (int reactors = 2; reactors <= 4; reactors++) {
            try (BdevHarness h = new BdevHarness(kit, reactors, BdevOptions.defaults(64), rogue)) {
                int n = reactors;
                Seeds.forEach(Seeds.of(60, 40), seed -> runSchedule(h, rogue, n, seed));
            }
        }
    }

    /**
     * One schedule: a descriptor, a bdev channel and a few reads on every reactor; then unregister, and random steps
     * of the reactors (reactor 0, where the bdev actor runs, weighted to run ahead: the order in which SPDK's shape
     * reaches destruct first), interleaved with each descriptor's close and channel put in either order.
     */
    private static void runSchedule(BdevHarness h, RogueModule rogue, int n, long seed) {
        Random rnd = new Random(seed);
        String name = "Rogue" + n + "_" + Long.toHexString(seed);
        rogue.log.clear();
        Bdev bdev = h.await(rogue.create(h.layer, name, 512, 64));
        BdevDescriptor[] descs = new BdevDescriptor[n];
        List<IoChannel<BdevChannel>> chans = new ArrayList<>();
        boolean[] removeSeen = new boolean[n];
        boolean[] closed = new boolean[n];
        boolean[] put = new boolean[n];
        int[] weight = new int[n];
        int total = 0;
        for (int r = 0; r < n; r++) {
            weight[r] = r == 0 ? 4 << rnd.nextInt(3) : 1 << rnd.nextInt(3);
            total += weight[r];
        }
        AtomicInteger completions = new AtomicInteger();
        AtomicInteger accepted = new AtomicInteger();
        IoCallback cb = (io, st, arg) -> completions.incrementAndGet();
        try (DmaBuffer buf = DmaBuffer.allocate(512)) {
            for (int r = 0; r < n; r++) {
                int rr = r;
                descs[r] = h.on(r, () -> h.layer.open(name, true, (e, b, d) -> removeSeen[rr] = true));
                chans.add(h.on(r, descs[r]::getIoChannel));
                for (int i = rnd.nextInt(3); i > 0; i--) {
                    if (h.on(r, () -> descs[rr].readBlocks(chans.get(rr), buf, 0, 0, 1, cb, null)) == 0) {
                        accepted.incrementAndGet();
                    }
                }
            }
            CompletableFuture<Integer> un = new CompletableFuture<>();
            h.layer.unregister(name).whenComplete((st, err) -> {
                rogue.log.add("unregister reply " + st);
                un.complete(st);
            });
            for (int steps = 0; !un.isDone() && rogue.violations.isEmpty() && steps < 200_000; steps++) {
                int k = rnd.nextInt(total + 2 * n);
                if (k < total) {
                    int r = 0;
                    for (int acc = weight[0]; acc <= k; acc += weight[++r]) {
                        // the reactor whose weight range holds k
                    }
                    h.group.pollOnce(r);
                } else if (k < total + n) {
                    int r = k - total;
                    if (removeSeen[r] && !closed[r]) {
                        closed[r] = true;
                        h.group.reactor(r).send(descs[r]::close);
                    }
                } else {
                    int r = k - total - n;
                    if (removeSeen[r] && !put[r]) {
                        put[r] = true;
                        h.group.reactor(r).send(chans.get(r)::put);
                    }
                }
                if (rogue.log.contains("destruct begins " + name)) {
                    // the module's actor runs on Pekko's threads: let its unregister reply arrive in any order
                    Thread.onSpinWait();
                }
            }
            assertThat(rogue.violations).as("no use-after-free, module channels destroyed on their own reactors").isEmpty();
            h.group.pollUntil(() -> un.isDone() || !rogue.violations.isEmpty(), BdevHarness.T);
            h.poll();
            assertThat(rogue.violations).as("no use-after-free, module channels destroyed on their own reactors").isEmpty();
            assertThat(un.join()).as("unregister status").isZero();
            assertThat(completions.get()).as("every accepted I/O completed once").isEqualTo(accepted.get());
            assertThat(bdev.status()).isEqualTo(Bdev.Status.REMOVED);

            List<String> log = new ArrayList<>(rogue.log);
            int destructAt = log.indexOf("destruct begins " + name);
            int doneAt = log.indexOf("destruct done " + name);
            int replyAt = log.indexOf("unregister reply 0");
            assertThat(destructAt).as("destruct ran; log %s", log).isGreaterThanOrEqualTo(0);
            assertThat(doneAt).as("the asynchronous destruct finished; log %s", log).isGreaterThan(destructAt);
            assertThat(replyAt).as("the reply came after the destruct finished; log %s", log).isGreaterThan(doneAt);
            List<String> destroyed = log.stream().filter(x -> x.startsWith("module channel destroyed on ")).toList();
            assertThat(destroyed).as("every module channel destroyed").hasSize(n);
            for (String d : destroyed) {
                assertThat(log.indexOf(d)).as("%s before destruct; log %s", d, log).isLessThan(destructAt);
            }
        }
    }

    // ------------------------------------------------------------------ what is refused

    /** A module that keeps the {@link BdevContext} and registers an io_device after start. */
    static final class LateModule implements BdevModule {
        final AtomicReference<BdevContext> context = new AtomicReference<>();

        @Override
        public String name() {
            return "late";
        }

        CompletionStage<Bdev> create(BdevLayer layer) {
            BdevDriver<Object> d = new BdevDriver<>() {
                @Override
                public boolean supports(IoType type) {
                    return type == IoType.READ;
                }

                @Override
                public void start(BdevContext ctx) {
                    context.set(ctx);
                }

                @Override
                public Object createChannel(BdevView bdev, Reactor reactor) {
                    return new Object();
                }

                @Override
                public void destroyChannel(BdevView bdev, Reactor reactor, Object channel) {
                }

                @Override
                public void submit(ModuleIo io, Object channel) {
                    io.complete(IoStatus.SUCCESS);
                }

                @Override
                public CompletionStage<Void> destruct() {
                    return CompletableFuture.completedFuture(null);
                }
            };
            return layer.register(BdevSpec.builder(this, d).name("Late0").blockSize(512).numBlocks(8).build());
        }
    }

    @Test
    @DisplayName("BdevContext.registerIoDevice after BdevDriver.start is refused with Spindle's error naming the rule, not Pekko's")
    void registerIoDeviceAfterStartIsRefused() {
        LateModule late = new LateModule();
        try (BdevHarness h = new BdevHarness(kit, 1, BdevOptions.defaults(16), late)) {
            h.await(late.create(h.layer));
            ChannelFactory<Object> f = new ChannelFactory<>() {
                @Override
                public Object create(IoDevice<Object> device, Reactor reactor) {
                    return new Object();
                }

                @Override
                public void destroy(IoDevice<Object> device, Reactor reactor, Object context) {
                }
            };
            // from the test thread, and from a reactor (where the bdev actor itself runs, between its messages)
            assertThatThrownBy(() -> late.context.get().registerIoDevice("late_dev", f))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("registerIoDevice bdev=Late0 io_device=late_dev")
                    .hasMessageContaining("only inside BdevDriver.start")
                    .hasMessageContaining("SPDK #3252");
            assertThatThrownBy(() -> h.on(0, () -> late.context.get().registerIoDevice("late_dev", f)))
                    .hasCauseInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("only inside BdevDriver.start");
            assertThat(h.await(h.layer.unregister("Late0"))).isZero();
        }
    }
}
