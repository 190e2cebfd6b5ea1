package io.spindle.bdev;

import io.spindle.app.Subsystem;
import io.spindle.app.SubsystemContext;
import io.spindle.bdev.spi.BdevModule;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * The {@code bdev} subsystem: loads the bdev modules ({@link ServiceLoader} of {@link BdevModule}, plus any
 * given here), starts the registry on reactor 0, then runs the start-up steps (e.g. create Malloc0). Its
 * fini unregisters every bdev top-down, finishes the modules in reverse, and releases the per-reactor pools.
 *
 * <p>Config: {@code spindle.bdev.io-pool-size} (I/O objects per reactor, default 1024).
 */
public final class BdevSubsystem implements Subsystem {
    private final List<BdevModule> extraModules = new ArrayList<>();
    private final List<Function<BdevLayer, CompletionStage<?>>> startup = new ArrayList<>();
    private volatile BdevLayer layer;
    private ActorRef<BdevRegistry.Command> registry;

    /** A bdev subsystem with the modules found by ServiceLoader. */
    public BdevSubsystem() {
    }

    /** Adds a module instance (in addition to ServiceLoader's). */
    public BdevSubsystem module(BdevModule m) {
        extraModules.add(m);
        return this;
    }

    /** Adds a start-up step run after module init, in order (e.g. {@code l -> malloc.create(l, "Malloc0", ...)}). */
    public BdevSubsystem onStart(Function<BdevLayer, CompletionStage<?>> step) {
        startup.add(step);
        return this;
    }

    @Override
    public String name() {
        return "bdev";
    }

    /** The layer; available once init completed. */
    public BdevLayer layer() {
        BdevLayer l = layer;
        if (l == null) {
            throw new IllegalStateException("bdev subsystem not initialised");
        }
        return l;
    }

    @Override
    public CompletionStage<Void> init(SubsystemContext ctx) {
        List<BdevModule> mods = new ArrayList<>();
        for (BdevModule m : ServiceLoader.load(BdevModule.class)) {
            if (extraModules.stream().noneMatch(e -> e.getClass() == m.getClass())) {
                mods.add(m);
            }
        }
        mods.addAll(extraModules);
        com.typesafe.config.Config c = ctx.config().config();
        int pool = c.hasPath("spindle.bdev.io-pool-size") ? c.getInt("spindle.bdev.io-pool-size") : 1024;
        BdevLayer l = new BdevLayer(ctx.reactors(), pool, mods);
        CompletableFuture<Void> done = new CompletableFuture<>();
        registry = ctx.spawn(BdevRegistry.create(l, done), "bdev", ctx.reactors().reactor(0).dispatcher());
        CompletionStage<Void> st = done.thenRun(() -> layer = l);
        for (Function<BdevLayer, CompletionStage<?>> step : startup) {
            st = st.thenCompose(v -> step.apply(l).thenApply(x -> null));
        }
        return st;
    }

    @Override
    public CompletionStage<Void> fini(SubsystemContext ctx) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        if (registry == null) {
            f.complete(null);
            return f;
        }
        registry.tell(new BdevRegistry.Fini(f));
        return f;
    }
}
