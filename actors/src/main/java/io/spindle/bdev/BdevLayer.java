package io.spindle.bdev;

import io.spindle.app.Spindle;
import io.spindle.bdev.spi.BdevHost;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.OffReactorFuture;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * The bdev layer of one Spindle instance: SPDK's {@code bdev.h} front door. Look bdevs up, open them, and
 * register or unregister them through the registry actor.
 *
 * <p><b>Threads.</b> Lookups are thread-safe. {@link #open} must be called on a reactor (the descriptor is
 * bound to it). {@link #register} and {@link #unregister} may be called from anywhere; their stages complete
 * on the registry's reactor (reactor 0), so attach only short callbacks or use the async variants. The stages
 * are {@link OffReactorFuture}s: waiting for one ({@code join}/{@code get}) on a reactor thread throws
 * {@link io.spindle.runtime.BlockingCallOnReactorException} instead of stalling (or deadlocking) the reactor.
 *
 * <p>Modules receive it as a {@link BdevHost} (the SPI's view of the layer, which this class is the one
 * implementation of); {@link #of(BdevHost)} gives it back as this class to a module that also opens and claims
 * bdevs.
 */
public final class BdevLayer implements BdevHost {
    static final Logger LOG = LoggerFactory.getLogger("io.spindle.bdev");

    private final ReactorGroup reactors;
    private final int ioPoolSize;
    private final BdevOptions options;
    private final List<BdevModule> modules;
    private final Map<BdevModule, Integer> slots = new IdentityHashMap<>();
    private final ConcurrentHashMap<String, Bdev> names = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Bdev> bdevs = new CopyOnWriteArrayList<>();
    private volatile IoDevice<BdevMgmt> mgmtDevice;
    private volatile ActorRef<BdevRegistry.Command> registry;
    private volatile Consumer<String> tracer;
    private final Executor blockingExecutor;
    /** io_wait entries queued on any reactor (after an ENOMEM); a LongAdder: reactors never share a cache line for it. */
    final java.util.concurrent.atomic.LongAdder ioWaits = new java.util.concurrent.atomic.LongAdder();

    BdevLayer(ReactorGroup reactors, int ioPoolSize, List<BdevModule> modules) {
        this(reactors, BdevOptions.defaults(ioPoolSize), modules);
    }

    /** A layer whose {@link #blockingExecutor()} runs work on the caller's thread (manual-reactor tests). */
    BdevLayer(ReactorGroup reactors, BdevOptions options, List<BdevModule> modules) {
        this(reactors, options, modules, Runnable::run);
    }

    BdevLayer(ReactorGroup reactors, BdevOptions options, List<BdevModule> modules, Executor blockingExecutor) {
        this.blockingExecutor = Objects.requireNonNull(blockingExecutor, "blockingExecutor");
        this.reactors = reactors;
        this.options = options;
        this.ioPoolSize = options.ioPoolSize();
        this.modules = List.copyOf(modules);
        for (int i = 0; i < this.modules.size(); i++) {
            slots.put(this.modules.get(i), i);
        }
    }

    /** The bdev layer of a running Spindle that has the {@link BdevSubsystem}. */
    public static BdevLayer of(Spindle spindle) {
        return spindle.subsystem(BdevSubsystem.class).layer();
    }

    /**
     * The layer a module was given as its {@link BdevHost} ({@code BdevModule.init}, {@code examineDisk}, ...), for a
     * module that also uses bdevs as a client (opens and claims its base, as virtual bdevs do). Any thread.
     *
     * @throws IllegalArgumentException when {@code host} is not a Spindle bdev layer
     */
    public static BdevLayer of(BdevHost host) {
        if (host instanceof BdevLayer layer) {
            return layer;
        }
        throw new IllegalArgumentException("host=" + (host == null ? "null" : host.getClass().getName())
                + ": not a Spindle bdev layer (BdevLayer.of takes the host a BdevModule call received)");
    }

    /**
     * The bdev a module was given as a {@link io.spindle.bdev.spi.BdevView} (in {@code examineConfig}, a driver
     * call, {@code ModuleIo.bdev()}), as this layer's {@link Bdev}: the same object, for the client calls that take
     * one ({@link #claimBdev}, {@link #resize(Bdev, long)}, ...). Any thread.
     *
     * @throws IllegalArgumentException when {@code view} is not a bdev of this layer
     */
    public Bdev bdev(io.spindle.bdev.spi.BdevView view) {
        if (view instanceof Bdev b && b.layer == this) {
            return b;
        }
        throw new IllegalArgumentException("bdev=" + (view == null ? "null" : view.name()) + ": not a bdev of this bdev layer");
    }

    /** The options the layer was started with. */
    public BdevOptions options() {
        return options;
    }

    /**
     * Where modules run control work that may block or take long: allocating and zeroing memory, file system
     * calls, anything whose time grows with a bdev's size. Never a reactor, never the RPC server's actor (whose
     * other clients would wait): in a running Spindle it is Pekko's blocking I/O dispatcher
     * ({@code spindle.bdev.blocking-dispatcher}), or what {@link BdevSubsystem#blockingExecutor} set. Continue
     * from it with the bdev layer's asynchronous calls (register, ...), which may be made from any thread.
     */
    public Executor blockingExecutor() {
        return blockingExecutor;
    }

    /**
     * How many times, since the layer started, a submit found its reactor's I/O pool empty and the caller queued an
     * io_wait entry ({@code BdevDescriptor.queueIoWait} after ENOMEM), summed over the reactors. A figure that keeps
     * growing under a steady load says {@code spindle.bdev.io-pool-size} is too small for it. Any thread.
     */
    public long ioWaits() {
        return ioWaits.sum();
    }

    /** The reactors. */
    public ReactorGroup reactors() {
        return reactors;
    }

    /** The modules, in load order. */
    public List<BdevModule> modules() {
        return modules;
    }

    /** The module of class {@code type}. */
    public <M extends BdevModule> M module(Class<M> type) {
        for (BdevModule m : modules) {
            if (type.isInstance(m)) {
                return type.cast(m);
            }
        }
        throw new IllegalArgumentException("no bdev module of " + type.getName() + " is loaded (have " + modules.stream().map(BdevModule::name).toList() + ")");
    }

    int ioPoolSize() {
        return ioPoolSize;
    }

    int moduleSlots() {
        return Math.max(1, modules.size());
    }

    int slotOf(BdevModule m) {
        Integer s = slots.get(m);
        if (s == null) {
            throw new IllegalArgumentException("module " + m.name() + " is not loaded in this bdev layer");
        }
        return s;
    }

    IoDevice<BdevMgmt> mgmtDevice() {
        return mgmtDevice;
    }

    void started(IoDevice<BdevMgmt> mgmt, ActorRef<BdevRegistry.Command> registryRef) {
        this.mgmtDevice = mgmt;
        this.registry = registryRef;
    }

    // ------------------------------------------------------------------ lookup

    /**
     * The bdev named {@code name} (a name, an alias or a UUID), or null; also null while that bdev is still
     * {@link Bdev.Status#REGISTERING} (its register has not completed). Any thread.
     */
    public Bdev get(String name) {
        Bdev b = name == null ? null : names.get(name);
        return b == null || b.status() == Bdev.Status.REGISTERING ? null : b;
    }

    /** The bdev holding {@code name} in any status, including one still registering; registry side and tests. */
    Bdev reserved(String name) {
        return names.get(name);
    }

    /** Every registered bdev, in registration order. */
    public List<Bdev> bdevs() {
        List<Bdev> out = new ArrayList<>();
        for (Bdev b : bdevs) {
            if (b.status() != Bdev.Status.REGISTERING && b.status() != Bdev.Status.REMOVED) {
                out.add(b);
            }
        }
        return out;
    }

    /** Bdevs no module has claimed: the ones applications use (SPDK's leaf bdevs). */
    public List<Bdev> leafBdevs() {
        List<Bdev> out = new ArrayList<>();
        for (Bdev b : bdevs()) {
            if (!b.claimed()) {
                out.add(b);
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ register / unregister

    /**
     * Registers a bdev. Fails with {@link BdevException}: EINVAL naming the bad field (name, block_size,
     * num_blocks, ...), EEXIST for a name, alias or UUID in use.
     */
    public CompletionStage<Bdev> register(BdevSpec spec) {
        Objects.requireNonNull(spec, "spec");
        CompletableFuture<Bdev> f = new OffReactorFuture<>();
        registryRef().tell(new BdevRegistry.Register(spec, f));
        return f;
    }

    /**
     * Unregisters a bdev (SPDK's {@code spdk_bdev_unregister}); completes with 0 after destruct, with ENODEV for
     * an unknown name, or EBUSY when an unregister is already under way.
     */
    public CompletionStage<Integer> unregister(String name) {
        CompletableFuture<Integer> f = new OffReactorFuture<>();
        Bdev b = get(name);
        if (b == null) {
            f.complete(Errno.ENODEV);
            return f;
        }
        b.request(new BdevActor.Unregister(f));
        return f;
    }

    private ActorRef<BdevRegistry.Command> registryRef() {
        ActorRef<BdevRegistry.Command> r = registry;
        if (r == null) {
            throw new IllegalStateException("bdev layer not started");
        }
        return r;
    }

    /** Registry side: the first of {@code b}'s name and aliases already in use, or null. */
    synchronized String nameClash(Bdev b) {
        for (String n : allNames(b)) {
            if (names.containsKey(n)) {
                return n;
            }
        }
        return null;
    }

    /**
     * Registry side, on the registry's thread (the only one that adds names): reserves {@code b}'s name and
     * aliases after {@link #nameClash} found none and after {@code b.actor} was set.
     *
     * @throws IllegalStateException when a name is taken after all (a bug: someone else added names)
     */
    synchronized void reserveNames(Bdev b) {
        String clash = nameClash(b);
        if (clash != null || b.actor == null) {
            throw new IllegalStateException("bdev_register name=" + b.name() + ": reserve with clash=" + clash + " actor=" + b.actor);
        }
        for (String n : allNames(b)) {
            names.put(n, b);
        }
        bdevs.add(b);
    }

    private static List<String> allNames(Bdev b) {
        List<String> all = new ArrayList<>();
        all.add(b.name());
        all.addAll(b.aliases());
        return all;
    }

    synchronized void removeNames(Bdev b) {
        names.remove(b.name(), b);
        for (String a : b.aliases()) {
            names.remove(a, b);
        }
    }

    void forget(Bdev b) {
        removeNames(b);
        bdevs.remove(b);
    }

    // ------------------------------------------------------------------ examine

    /**
     * Examines {@code name} when auto examine is off (SPDK's {@code bdev_examine}): the name is remembered, so a
     * bdev registered later under it is examined too, and an existing one is examined now. Completes with 0, or
     * fails with {@link BdevException}: EINVAL when auto examine is on (every bdev is examined anyway), EEXIST
     * when the name was given before.
     */
    public CompletionStage<Integer> examine(String name) {
        Objects.requireNonNull(name, "name");
        CompletableFuture<Integer> f = new OffReactorFuture<>();
        registryRef().tell(new BdevRegistry.Examine(name, f));
        return f;
    }

    /** Names given to {@link #examine} that were accepted, in order; written by the registry, read by save_config. */
    final java.util.List<String> examineAllowlist = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** The names accepted by {@link #examine} so far, in the order given (SPDK's examine allowlist). Any thread. */
    public java.util.List<String> examineAllowlist() {
        return java.util.List.copyOf(examineAllowlist);
    }

    /** Completes when no examine is in progress (SPDK's {@code bdev_wait_for_examine}). */
    public CompletionStage<Void> waitForExamine() {
        CompletableFuture<Void> f = new OffReactorFuture<>();
        registryRef().tell(new BdevRegistry.WaitForExamine(f));
        return f;
    }

    // ------------------------------------------------------------------ resize, media events, iobuf

    /**
     * Changes the block count of {@code name} and sends RESIZE to every open descriptor (SPDK's
     * {@code spdk_bdev_notify_blockcnt_change}), if the bdev's module accepts the new count
     * ({@link io.spindle.bdev.spi.BdevDriver#acceptResize}: resize is a module capability, and a module that cannot
     * hold the count refuses, ENOTSUP by default). Completes with 0; the module's errno; EBUSY when shrinking while
     * descriptors are open; EINVAL for a count below 1; ENODEV for an unknown or departing bdev. Any thread; the
     * check and the change are one step on the bdev's actor, ordered with every other resize of the bdev.
     */
    public CompletionStage<Integer> resize(String name, long numBlocks) {
        Bdev b = get(name);
        if (b == null) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        return resize(b, numBlocks);
    }

    /**
     * {@link #resize(String, long)} of this very bdev, not of whatever holds its name when the request arrives: a
     * module's RPC that looked the bdev up and checked it is one of its own resizes exactly that one (ENODEV when
     * it has gone meanwhile, even if another bdev took the name).
     */
    public CompletionStage<Integer> resize(Bdev bdev, long numBlocks) {
        Objects.requireNonNull(bdev, "bdev");
        if (bdev.layer != this) {
            throw new IllegalArgumentException("bdev_resize name=" + bdev.name() + ": a bdev of another bdev layer");
        }
        CompletableFuture<Integer> f = new OffReactorFuture<>();
        bdev.request(new BdevActor.Resize(numBlocks, f));
        return f;
    }

    /** Sends MEDIA_MANAGEMENT to every open descriptor of {@code name} (for modules); 0 or ENODEV. */
    public CompletionStage<Integer> notifyMediaManagement(String name) {
        Bdev b = get(name);
        if (b == null) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        CompletableFuture<Integer> f = new OffReactorFuture<>();
        b.request(new BdevActor.MediaEvent(f));
        return f;
    }

    /**
     * The current reactor's buffer cache (SPDK's iobuf): small ({@link IoBuf#SMALL_SIZE}) and large
     * ({@link IoBuf#LARGE_SIZE}) aligned buffers, reused across I/O. Call on a reactor that has a channel of
     * some bdev; the cache lives with the reactor's bdev state.
     *
     * @throws IllegalStateException off a reactor, or before any bdev channel exists on it
     */
    public IoBuf iobuf() {
        Reactor r = Reactor.currentOrThrow("BdevLayer.iobuf");
        IoDevice<BdevMgmt> m = mgmtDevice;
        if (m == null || !m.hasChannelOn(r.index())) {
            throw new IllegalStateException("BdevLayer.iobuf on " + r.name() + ": no bdev channel on this reactor yet");
        }
        io.spindle.runtime.IoChannel<BdevMgmt> ch = m.getChannel();
        BdevMgmt mg = ch.context();
        ch.put(); // the bdev channels on this reactor keep the mgmt channel alive
        return mg.iobuf;
    }

    // ------------------------------------------------------------------ QoS, stats, histograms

    /**
     * Sets the QoS rate limits of {@code name} (SPDK's {@code bdev_set_qos_limit}); {@link QosLimits#NONE}
     * removes them. Completes with 0, or ENODEV.
     */
    public CompletionStage<Integer> setQosLimits(String name, QosLimits limits) {
        Objects.requireNonNull(limits, "limits");
        Bdev b = get(name);
        if (b == null) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        CompletableFuture<Integer> f = new OffReactorFuture<>();
        b.request(new BdevActor.SetQos(limits, f));
        return f;
    }

    /** One channel's I/O statistics: {@code reactor} is null for those merged from destroyed channels. */
    public record ChannelStats(Reactor reactor, IoStats stats) {
    }

    /**
     * I/O statistics of {@code name}: every live channel's counters (each read on its own reactor) plus those
     * merged from destroyed channels (SPDK's {@code spdk_bdev_get_device_stat}). Fails with ENODEV.
     */
    public CompletionStage<IoStats> stats(String name) {
        return stats(name, IoStats.ResetMode.NONE);
    }

    /**
     * {@link #stats(String)}, then resets what {@code reset} says, channel by channel on each channel's reactor
     * in the same step that reads it (SPDK's {@code reset_mode} of {@code bdev_get_iostat}).
     */
    public CompletionStage<IoStats> stats(String name, IoStats.ResetMode reset) {
        return channelStats(name, reset).thenApply(list -> {
            IoStats sum = new IoStats();
            for (ChannelStats c : list) {
                sum.add(c.stats());
            }
            return sum;
        });
    }

    /**
     * Per-channel statistics of {@code name} (SPDK's {@code per_channel}): the first entry (reactor null) holds
     * what destroyed channels merged into the bdev, then one entry per live channel in reactor order. Each
     * channel is read, then reset as {@code reset} says, on its own reactor. Fails with ENODEV.
     */
    public CompletionStage<List<ChannelStats>> channelStats(String name, IoStats.ResetMode reset) {
        Objects.requireNonNull(reset, "reset");
        Bdev b = get(name);
        if (b == null) {
            return CompletableFuture.failedFuture(new BdevException(Errno.ENODEV, "bdev_get_iostat name=" + name + ": no such bdev"));
        }
        CompletableFuture<List<ChannelStats>> f = new OffReactorFuture<>();
        b.request(new BdevActor.GetStats(reset, f));
        return f;
    }

    /** Resets the statistics of {@code name} as {@code mode} says (SPDK's {@code bdev_reset_iostat}). */
    public CompletionStage<Void> resetStats(String name, IoStats.ResetMode mode) {
        return channelStats(name, mode).thenApply(x -> null);
    }

    /** Turns per-channel latency histograms (HdrHistogram, ns) on or off for {@code name}; false when unknown. */
    public boolean enableHistogram(String name, boolean enable) {
        Bdev b = get(name);
        if (b == null) {
            return false;
        }
        b.histogramEnabled = enable;
        return true;
    }

    /**
     * {@link #enableHistogram(String, boolean)} with the bucket layout {@code bdev_get_histogram} reports
     * (SPDK's granularity, min_nsec, max_nsec); false when unknown.
     */
    public boolean enableHistogram(String name, boolean enable, SpdkHistogram.Options options) {
        Bdev b = get(name);
        if (b == null) {
            return false;
        }
        if (enable) {
            b.histogramOptions = Objects.requireNonNull(options, "options");
        }
        b.histogramEnabled = enable;
        return true;
    }

    /** The merged latency histogram of {@code name} in nanoseconds; completes with null when none was recorded. */
    public CompletionStage<org.HdrHistogram.Histogram> histogram(String name) {
        Bdev b = get(name);
        if (b == null) {
            return CompletableFuture.failedFuture(new BdevException(Errno.ENODEV, "bdev_get_histogram name=" + name + ": no such bdev"));
        }
        CompletableFuture<org.HdrHistogram.Histogram> f = new OffReactorFuture<>();
        b.request(new BdevActor.GetHistogram(f));
        return f;
    }

    // ------------------------------------------------------------------ open / claims

    /**
     * Opens {@code name} on the current reactor (SPDK's {@code spdk_bdev_open_ext}).
     *
     * @param handler required: receives REMOVE, RESIZE and MEDIA_MANAGEMENT on this reactor
     * @throws BdevException ENODEV (unknown, or being unregistered), EPERM (write open of a claimed bdev),
     *                       EINVAL (no handler)
     * @throws IllegalStateException when not called on a reactor of this Spindle
     */
    public BdevDescriptor open(String name, boolean writable, BdevEventHandler handler) {
        Reactor r = Reactor.current();
        if (r == null || r.group() != reactors) {
            throw new IllegalStateException("bdev_open name=" + name + ": must be called on a reactor of this Spindle, caller thread="
                    + Thread.currentThread().getName());
        }
        if (handler == null) {
            throw new BdevException(Errno.EINVAL, "bdev_open name=" + name + ": an event handler is required");
        }
        Bdev b = get(name);
        if (b == null) {
            throw new BdevException(Errno.ENODEV, "bdev_open name=" + name + ": no such bdev");
        }
        return b.open(r, writable, handler);
    }

    /**
     * v1 claim (SPDK's {@code spdk_bdev_module_claim_bdev}): exclusive write for {@code module}; upgrades
     * {@code desc} (may be null) to writable. Descriptors already open for writing stay open, as in SPDK. Any
     * thread.
     *
     * @return 0, or EPERM when already claimed (v1 or v2)
     */
    public int claimBdev(Bdev bdev, BdevDescriptor desc, BdevModule module) {
        return bdev.claimV1(desc, module);
    }

    /** Releases a v1 claim; 0, or EINVAL when {@code module} does not hold one. */
    public int releaseBdev(Bdev bdev, BdevModule module) {
        return bdev.claimV1Release(module);
    }

    /**
     * v2 claim on a descriptor (SPDK's {@code spdk_bdev_module_claim_bdev_desc}), released when it closes; with
     * {@link ClaimType#EXCL_WRITE} it is the v1 claim of {@link #claimBdev} (released only by
     * {@link #releaseBdev}). The rules are SPDK's {@code claim_verify_rwo/rom/rwm}:
     * <ul>
     *   <li>{@link ClaimType#READ_MANY_WRITE_ONE}: no key; the bdev unclaimed; no other descriptor open for
     *       writing. The descriptor becomes writable.</li>
     *   <li>{@link ClaimType#READ_MANY_WRITE_NONE}: a read-only descriptor; no key; no descriptor open for writing
     *       when the bdev is unclaimed; further read-only claimers share it.</li>
     *   <li>{@link ClaimType#READ_MANY_WRITE_SHARED}: a non-zero key; no other descriptor open for writing when
     *       the bdev is unclaimed; further claimers must give the same key. The descriptor becomes writable.</li>
     * </ul>
     * Any thread; the bdev's lock orders it with opens and closes. Several modules may hold v2 claims of one type.
     *
     * @param key the shared key: non-zero for {@link ClaimType#READ_MANY_WRITE_SHARED}, 0 for every other type
     * @return 0; EPERM when the bdev holds a claim of another type, when this descriptor already holds one, on
     *         a second READ_MANY_WRITE_ONE, a writer open without a claim, or a shared key that differs; EINVAL on
     *         bad options (null descriptor, type or module, a closed descriptor, a key given for
     *         READ_MANY_WRITE_ONE/NONE or none for READ_MANY_WRITE_SHARED, a writable descriptor for
     *         READ_MANY_WRITE_NONE)
     */
    public int claimDescriptor(BdevDescriptor desc, ClaimType type, long key, BdevModule module) {
        if (desc == null) {
            return Errno.EINVAL;
        }
        return desc.bdev.claimV2(desc, type, key, module);
    }

    // ------------------------------------------------------------------ tracing (tests)

    /** Installs a tracer that receives unregister steps ({@code "<bdev>: <step>"}); for tests and debugging. */
    public void trace(Consumer<String> t) {
        this.tracer = t;
    }

    void trace(Bdev b, String step) {
        Consumer<String> t = tracer;
        if (t != null) {
            t.accept(b.name() + ": " + step);
        }
        LOG.debug("bdev={}: {}", b.name(), step);
    }
}
