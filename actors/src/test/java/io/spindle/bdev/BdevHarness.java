package io.spindle.bdev;

import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.nullbdev.NullModule;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.runtime.ReactorGroup;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A bdev layer on manual reactors for deterministic tests (SPDK's {@code ut_multithread} + bdev_ut setup):
 * the registry runs on reactor 0 and everything happens only when the test steps the reactors. Public for the
 * deterministic tests of other packages ({@code io.spindle.bdev.actor}).
 */
public final class BdevHarness implements AutoCloseable {
    private static final AtomicInteger SEQ = new AtomicInteger();
    static final Duration T = Duration.ofSeconds(10);

    public final ReactorGroup group;
    public final BdevLayer layer;
    final TestModule test = new TestModule();
    public final MallocModule malloc = new MallocModule();
    final NullModule nul = new NullModule();
    private final ActorRef<BdevRegistry.Command> registry;
    private boolean closed;

    /** Manual reactors ({@code reactors} of them, one task per step) and a bdev layer of {@code ioPoolSize} I/O per reactor. */
    public BdevHarness(ActorTestKit kit, int reactors, int ioPoolSize) {
        this(kit, reactors, BdevOptions.defaults(ioPoolSize));
    }

    /**
     * Manual reactors and a bdev layer with {@code options}; the modules are test, malloc, null, then
     * {@code extra} in that order (examine runs in this order).
     */
    public BdevHarness(ActorTestKit kit, int reactors, BdevOptions options, BdevModule... extra) {
        // one task per step, as SPDK's poll_thread_times(i, 1): every message boundary is a possible interleaving
        this(kit, io.spindle.runtime.ReactorConfig.builder().mask(io.spindle.runtime.CoreMask.firstN(reactors))
                .manual(true).maxTasksPerLoop(1).conclude(), options, g -> List.of(extra));
    }

    /**
     * Manual reactors built from {@code config} and a bdev layer with {@code options}; the modules are test, malloc,
     * null, then what {@code extra} returns, given the group once its dispatchers are registered (a module whose own
     * actor runs on a reactor is made there).
     */
    BdevHarness(ActorTestKit kit, io.spindle.runtime.ReactorConfig config, BdevOptions options,
                java.util.function.Function<ReactorGroup, List<BdevModule>> extra) {
        group = ReactorGroup.manual(config);
        group.registerDispatchers(kit.system());
        List<BdevModule> mods = new java.util.ArrayList<>(List.of(test, malloc, nul));
        mods.addAll(extra.apply(group));
        layer = new BdevLayer(group, options, mods);
        CompletableFuture<Void> init = new CompletableFuture<>();
        registry = kit.spawn(BdevRegistry.create(layer, init), "bdev-" + SEQ.incrementAndGet(), group.reactor(0).dispatcher());
        group.pollUntil(init::isDone, T);
        init.join();
    }

    /** Steps the reactors until the stage completes; returns its value. */
    public <X> X await(CompletionStage<X> st) {
        CompletableFuture<X> f = st.toCompletableFuture();
        group.pollUntil(f::isDone, T);
        return f.join();
    }

    /** Runs {@code task} on reactor {@code i} and steps until it ran; returns its value. */
    public <X> X on(int i, Supplier<X> task) {
        CompletableFuture<X> f = new CompletableFuture<>();
        group.reactor(i).send(() -> {
            try {
                f.complete(task.get());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        group.pollUntil(f::isDone, T);
        return f.join();
    }

    /** Steps every reactor until none has anything to do. */
    public void poll() {
        group.pollUntilIdle();
    }

    /** Bdev layer fini (unregisters every bdev top-down), then the reactors exit. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        CompletableFuture<Void> f = new CompletableFuture<>();
        registry.tell(new BdevRegistry.Fini(f));
        try {
            group.pollUntil(f::isDone, T);
        } finally {
            group.close();
        }
    }
}
