package io.spindle.bdev;

import io.spindle.app.Subsystem;
import io.spindle.app.SubsystemContext;
import io.spindle.bdev.spi.BdevHost;
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
 * <p>Config: {@code spindle.bdev.io-pool-size} (I/O objects per reactor, default 1024), or {@link #options}
 * (SPDK's {@code bdev_set_options}), which must be set before init.
 *
 * <p>{@link #writeConfig()} is the {@code bdev} part of {@code save_config}, in SPDK's order
 * ({@code spdk_bdev_subsystem_config_json}): {@code bdev_set_options} (the {@code bdev_io_pool_size} given to
 * {@code bdev_set_options}, not the per-reactor split), a {@code bdev_examine} per name of the examine allowlist
 * (auto examine off), each bdev's create call, its {@code bdev_set_qos_limit} with the limits that are set when it
 * has any, its {@code bdev_enable_histogram} when its histogram is on, every module's own configuration
 * ({@link BdevModule#writeConfig(BdevHost)}), then {@code bdev_wait_for_examine}. Unlike SPDK, which writes bdevs in
 * registration order and relies on deferred creation, every bdev is written after the bdevs it is built on
 * ({@link io.spindle.bdev.spi.BdevDriver#baseBdevs()}).
 */
public final class BdevSubsystem implements Subsystem {
    private final List<BdevModule> extraModules = new ArrayList<>();
    private final List<Function<BdevLayer, CompletionStage<?>>> startup = new ArrayList<>();
    private volatile BdevLayer layer;
    private ActorRef<BdevRegistry.Command> registry;
    private volatile BdevOptions options;
    private volatile long ioPoolTotal = -1;
    private volatile java.util.concurrent.Executor blockingExecutor;

    /** A bdev subsystem with the modules found by ServiceLoader. */
    public BdevSubsystem() {
    }

    /** Adds a module instance (in addition to ServiceLoader's). */
    public BdevSubsystem module(BdevModule m) {
        extraModules.add(m);
        return this;
    }

    /**
     * The executor for the layer's blocking control work ({@link BdevLayer#blockingExecutor()}), instead of the
     * dispatcher named by {@code spindle.bdev.blocking-dispatcher} (default Pekko's
     * {@code pekko.actor.default-blocking-io-dispatcher}). Its threads must not be reactors. Only before init.
     */
    public synchronized BdevSubsystem blockingExecutor(java.util.concurrent.Executor executor) {
        if (layer != null || registry != null) {
            throw new IllegalStateException("the bdev blocking executor can only be set before the bdev subsystem is initialised");
        }
        this.blockingExecutor = java.util.Objects.requireNonNull(executor, "executor");
        return this;
    }

    /** Adds a start-up step run after module init, in order (e.g. {@code l -> malloc.create(l, "Malloc0", ...)}). */
    public BdevSubsystem onStart(Function<BdevLayer, CompletionStage<?>> step) {
        startup.add(step);
        return this;
    }

    /**
     * Sets the layer's options (SPDK's {@code bdev_set_options}); only before init.
     *
     * @throws IllegalStateException once the subsystem was initialised
     */
    public synchronized BdevSubsystem options(BdevOptions o) {
        return options(o, -1);
    }

    /**
     * {@link #options(BdevOptions)} as {@code bdev_set_options} sets them: {@code bdevIoPoolSize} is the total
     * the caller gave (SPDK's {@code bdev_io_pool_size}, which {@code o} divides over the reactors), written
     * back unchanged by {@link #writeConfig()}; -1 when none was given.
     *
     * @throws IllegalStateException once the subsystem was initialised
     */
    public synchronized BdevSubsystem options(BdevOptions o, long bdevIoPoolSize) {
        if (layer != null || registry != null) {
            throw new IllegalStateException("bdev options can only be set before the bdev subsystem is initialised");
        }
        this.options = java.util.Objects.requireNonNull(o, "options");
        this.ioPoolTotal = bdevIoPoolSize;
        return this;
    }

    /** The options set with {@link #options(BdevOptions)}, or the layer's once initialised; null before either. */
    public BdevOptions options() {
        BdevLayer l = layer;
        return l != null ? l.options() : options;
    }

    /** The {@code bdev_io_pool_size} total given with {@link #options(BdevOptions, long)}, or -1. */
    public long configuredIoPoolSize() {
        return ioPoolTotal;
    }

    /** Whether init has run (the options can no longer change). */
    public boolean initialised() {
        return registry != null;
    }

    @Override
    public String name() {
        return "bdev";
    }

    @Override
    public List<com.fasterxml.jackson.databind.node.ObjectNode> writeConfig() {
        BdevLayer l = layer;
        List<com.fasterxml.jackson.databind.node.ObjectNode> out = new ArrayList<>();
        com.fasterxml.jackson.databind.node.JsonNodeFactory f = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance;
        BdevOptions o = options();
        if (o != null) {
            com.fasterxml.jackson.databind.node.ObjectNode e = f.objectNode();
            e.put("method", "bdev_set_options");
            com.fasterxml.jackson.databind.node.ObjectNode p = e.putObject("params");
            int reactors = l != null ? l.reactors().size() : 1;
            long total = ioPoolTotal;
            p.put("bdev_io_pool_size", total >= 0 ? total : (long) o.ioPoolSize() * reactors); // what was set, as SPDK writes it
            p.put("bdev_io_cache_size", o.ioCacheSize());
            p.put("bdev_auto_examine", o.autoExamine());
            p.put("iobuf_small_cache_size", o.iobufSmallCacheSize());
            p.put("iobuf_large_cache_size", o.iobufLargeCacheSize());
            out.add(e);
        }
        if (l != null) {
            for (String name : l.examineAllowlist()) {
                com.fasterxml.jackson.databind.node.ObjectNode e = f.objectNode();
                e.put("method", "bdev_examine");
                e.putObject("params").put("name", name);
                out.add(e);
            }
            for (Bdev b : basesFirst(l)) {
                com.fasterxml.jackson.databind.node.ObjectNode call = b.driver.writeConfig(b);
                if (call == null) {
                    continue;
                }
                out.add(call);
                QosLimits q = b.qosLimits();
                if (!q.equals(QosLimits.NONE)) {
                    com.fasterxml.jackson.databind.node.ObjectNode e = f.objectNode();
                    e.put("method", "bdev_set_qos_limit");
                    com.fasterxml.jackson.databind.node.ObjectNode p = e.putObject("params");
                    p.put("name", b.name());
                    // SPDK's bdev_qos_config_json: only the limits that are set (> 0)
                    putPositive(p, "rw_ios_per_sec", q.rwIosPerSec());
                    putPositive(p, "rw_mbytes_per_sec", q.rwMbytesPerSec());
                    putPositive(p, "r_mbytes_per_sec", q.rMbytesPerSec());
                    putPositive(p, "w_mbytes_per_sec", q.wMbytesPerSec());
                    out.add(e);
                }
                if (b.histogramEnabled()) {
                    // SPDK's bdev_enable_histogram_config_json (name, enable), plus the bucket options when not SPDK's
                    // defaults, so that the round trip keeps them
                    com.fasterxml.jackson.databind.node.ObjectNode e = f.objectNode();
                    e.put("method", "bdev_enable_histogram");
                    com.fasterxml.jackson.databind.node.ObjectNode p = e.putObject("params");
                    p.put("name", b.name());
                    p.put("enable", true);
                    SpdkHistogram.Options ho = b.histogramOptions();
                    if (!ho.equals(SpdkHistogram.Options.DEFAULT)) {
                        p.put("granularity", ho.granularity());
                        p.put("min_nsec", ho.minNsec());
                        p.put("max_nsec", ho.maxNsec());
                    }
                    out.add(e);
                }
            }
        }
        if (l != null) {
            for (BdevModule m : l.modules()) {
                try {
                    out.addAll(m.writeConfig(l));
                } catch (RuntimeException e) {
                    BdevLayer.LOG.error("bdev module={}: writeConfig threw; its module configuration is not saved", m.name(), e);
                }
            }
        }
        com.fasterxml.jackson.databind.node.ObjectNode w = f.objectNode();
        w.put("method", "bdev_wait_for_examine");
        out.add(w);
        return out;
    }

    /**
     * The READY bdevs in registration order, except that each comes after the bdevs its driver names in
     * {@link io.spindle.bdev.spi.BdevDriver#baseBdevs()} (by name or alias; names not registered are skipped): a
     * stable depth-first topological order, so a replay of {@code save_config} creates every base before the
     * virtual bdevs built on it. A cycle (which no module makes) is broken where it closes.
     */
    static List<Bdev> basesFirst(BdevLayer l) {
        List<Bdev> ready = new ArrayList<>();
        for (Bdev b : l.bdevs()) {
            if (b.status() == Bdev.Status.READY) {
                ready.add(b);
            }
        }
        List<Bdev> out = new ArrayList<>(ready.size());
        java.util.Set<Bdev> done = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        java.util.Set<Bdev> visiting = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Bdev b : ready) {
            visit(l, b, ready, done, visiting, out);
        }
        return out;
    }

    private static void visit(BdevLayer l, Bdev b, List<Bdev> ready, java.util.Set<Bdev> done, java.util.Set<Bdev> visiting, List<Bdev> out) {
        if (done.contains(b) || !visiting.add(b)) {
            return;
        }
        List<String> bases;
        try {
            bases = b.driver.baseBdevs();
        } catch (RuntimeException e) {
            BdevLayer.LOG.warn("bdev={}: baseBdevs() threw; written in registration order", b.name(), e);
            bases = List.of();
        }
        for (String n : bases) {
            Bdev base = n == null ? null : l.get(n);
            if (base != null && ready.contains(base)) {
                visit(l, base, ready, done, visiting, out);
            }
        }
        visiting.remove(b);
        done.add(b);
        out.add(b);
    }

    private static void putPositive(com.fasterxml.jackson.databind.node.ObjectNode p, String key, long v) {
        if (v > 0) {
            p.put(key, v);
        }
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
        try {
            // process-wide: DMA buffers are allocated outside any app too (DmaBuffer.allocate)
            io.spindle.env.HugePages.process().configure(
                    io.spindle.env.HugePages.Mode.parse("spindle.memory.huge-pages",
                            c.hasPath("spindle.memory.huge-pages") ? c.getString("spindle.memory.huge-pages") : "auto"),
                    c.hasPath("spindle.memory.huge-dir") && !c.getString("spindle.memory.huge-dir").isEmpty()
                            ? java.nio.file.Path.of(c.getString("spindle.memory.huge-dir")) : null);
        } catch (IllegalArgumentException | IllegalStateException e) {
            return CompletableFuture.failedFuture(e);
        }
        // the process's DMA arena set up now, as SPDK's env maps its memory before the reactors run I/O: with huge pages
        // the first mapping loads a native binding (a few hundred ms of class loading), which would otherwise stall
        // whichever thread allocates first, often a reactor setting up its first channel or job
        DmaBuffer.allocate(4096, 4096).close();
        BdevOptions o;
        synchronized (this) {
            if (options == null) {
                options = BdevOptions.defaults(c.hasPath("spindle.bdev.io-pool-size") ? c.getInt("spindle.bdev.io-pool-size") : 1024);
            }
            o = options;
        }
        java.util.concurrent.Executor blocking = blockingExecutor;
        if (blocking == null) {
            String id = c.hasPath("spindle.bdev.blocking-dispatcher") ? c.getString("spindle.bdev.blocking-dispatcher")
                    : "pekko.actor.default-blocking-io-dispatcher";
            blocking = ctx.system().dispatchers().lookup(org.apache.pekko.actor.typed.DispatcherSelector.fromConfig(id));
        }
        BdevLayer l = new BdevLayer(ctx.reactors(), o, mods, blocking);
        CompletableFuture<Void> done = new CompletableFuture<>();
        synchronized (this) {
            registry = ctx.spawn(BdevRegistry.create(l, done), "bdev", ctx.reactors().reactor(0).dispatcher());
        }
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
