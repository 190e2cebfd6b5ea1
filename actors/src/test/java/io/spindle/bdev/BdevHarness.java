package io.spindle.bdev;

import io.spindle.bdev.spi.BdevModule;
import io.spindle.runtime.IoChannel;
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
 * the registry runs on reactor 0 and everything happens only when the test steps the reactors. Its modules are
 * the {@link TestModule} and the ones the caller adds; {@code io.spindle.backends.BackendHarness} (backends'
 * test-jar) adds the malloc and null modules. Public for the deterministic tests of other packages and modules.
 *
 * <p>Threading: one test thread builds, steps and closes it; everything on the reactors runs on that thread,
 * inside {@link ReactorGroup#pollUntil}. The harness owns the reactors and the layer: {@link #close()} finishes the
 * layer (every bdev unregistered) and stops the reactors.
 */
public class BdevHarness implements AutoCloseable {
    private static final AtomicInteger SEQ = new AtomicInteger();
    /** How long a step loop waits before it fails the test. */
    public static final Duration T = Duration.ofSeconds(10);

    public final ReactorGroup group;
    public final BdevLayer layer;
    /** The test module (SPDK's stub module), always the first module. */
    public final TestModule test = new TestModule();
    private final ActorRef<BdevRegistry.Command> registry;
    private boolean closed;

    /** Manual reactors ({@code reactors} of them, one task per step) and a bdev layer of {@code ioPoolSize} I/O per reactor. */
    public BdevHarness(ActorTestKit kit, int reactors, int ioPoolSize) {
        this(kit, reactors, BdevOptions.defaults(ioPoolSize));
    }

    /**
     * Manual reactors and a bdev layer with {@code options}; the modules are test, then {@code extra} in that order
     * (examine runs in this order).
     */
    public BdevHarness(ActorTestKit kit, int reactors, BdevOptions options, BdevModule... extra) {
        // one task per step, as SPDK's poll_thread_times(i, 1): every message boundary is a possible interleaving
        this(kit, io.spindle.runtime.ReactorConfig.builder().mask(io.spindle.runtime.CoreMask.firstN(reactors))
                .manual(true).maxTasksPerLoop(1).conclude(), options, g -> List.of(extra));
    }

    /**
     * Manual reactors built from {@code config} and a bdev layer with {@code options}; the modules are test, then
     * what {@code extra} returns, given the group once its dispatchers are registered (a module whose own actor runs
     * on a reactor is made there).
     */
    protected BdevHarness(ActorTestKit kit, io.spindle.runtime.ReactorConfig config, BdevOptions options,
                          java.util.function.Function<ReactorGroup, List<BdevModule>> extra) {
        group = ReactorGroup.manual(config);
        group.registerDispatchers(kit.system());
        List<BdevModule> mods = new java.util.ArrayList<>(List.of(test));
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

    /**
     * Opens {@code name} writable on reactor {@code reactor}, with a handler that ignores events, and gets its
     * channel there: SPDK's {@code spdk_bdev_open_ext} + {@code spdk_bdev_get_io_channel}, each as its own task on
     * that reactor, stepped until it ran. Close the result (try-with-resources) to put the channel and close the
     * descriptor.
     *
     * @throws IllegalStateException when the layer gives no channel (the bdev is going away)
     */
    public Opened open(int reactor, String name) {
        return open(reactor, name, true, (e, b, d) -> { });
    }

    /** As {@link #open(int, String)}, with {@code writable} and the descriptor's event {@code handler}. */
    public Opened open(int reactor, String name, boolean writable, BdevEventHandler handler) {
        BdevDescriptor desc = on(reactor, () -> layer.open(name, writable, handler));
        IoChannel<BdevChannel> ch = on(reactor, desc::getIoChannel);
        if (ch == null) {
            on(reactor, () -> {
                desc.close();
                return null;
            });
            throw new IllegalStateException("bdev_get_io_channel bdev=" + name + " reactor=" + reactor + ": no channel");
        }
        return new Opened(reactor, desc, ch);
    }

    /**
     * A descriptor opened on one reactor and its channel got there (made by {@link #open}). The test thread uses it;
     * the descriptor and channel belong to that reactor, so I/O on them runs there ({@link #on}). {@link #close()}
     * puts the channel and closes the descriptor on that reactor (SPDK's {@code spdk_put_io_channel} +
     * {@code spdk_bdev_close}, in one task) and steps until it ran; a second close does nothing.
     */
    public final class Opened implements AutoCloseable {
        /** The reactor the descriptor was opened on and the channel got on. */
        public final int reactor;
        public final BdevDescriptor desc;
        public final IoChannel<BdevChannel> ch;
        private boolean closed;

        private Opened(int reactor, BdevDescriptor desc, IoChannel<BdevChannel> ch) {
            this.reactor = reactor;
            this.desc = desc;
            this.ch = ch;
        }

        /** Runs {@code task} on this reactor and steps until it ran; returns its value (a submit's errno, say). */
        public <X> X on(Supplier<X> task) {
            return BdevHarness.this.on(reactor, task);
        }

        /** Puts the channel and closes the descriptor on this reactor; once. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            BdevHarness.this.on(reactor, () -> {
                ch.put();
                desc.close();
                return null;
            });
        }
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
