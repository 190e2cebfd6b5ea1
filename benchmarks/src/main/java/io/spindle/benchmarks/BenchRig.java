package io.spindle.benchmarks;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleApp;
import io.spindle.app.SpindleConfig;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.nullbdev.NullModule;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.IdleMode;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.Poller;
import io.spindle.runtime.PollerFn;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorConfig;
import io.spindle.runtime.ReactorGroup;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The start-up and teardown the benchmarks share: one reactor, in one of three set-ups, and what a benchmark
 * puts on it.
 *
 * <ul>
 *   <li>{@link #manual()}: {@code ReactorGroup.manual(1)}, no thread; the benchmark thread steps it
 *       ({@link ReactorLoopBench}, {@link ChannelGetBench}).</li>
 *   <li>{@link #threaded()}: {@code ReactorGroup.start} with core mask {@code 0x1}, idle mode
 *       {@link IdleMode#BUSY}, not pinned ({@link SendBench}, {@link ReactorLoopThreadedBench}).</li>
 *   <li>{@link #bdev(String, long, int)}: a standalone {@link Spindle} with the same one busy reactor and the
 *       bdev subsystem, which creates one null or malloc bdev named {@value #BDEV} at start
 *       ({@link BdevReadRig}, hence {@link NullReadBench} and {@link MallocReadBench}).</li>
 * </ul>
 *
 * On the reactor: {@link #onReactor} and {@link #callOnReactor} run a task there and wait for it,
 * {@link #poller} registers a poller that {@link #close()} unregisters, {@link #ioDevice} registers an io_device
 * (its Pekko owner is an actor system the rig starts for it and terminates at close).
 *
 * <p>{@link #close()} is the one teardown: pollers unregistered, a manual reactor stepped until idle, the
 * io_devices' actor system terminated, then the reactor stopped and checked gone (a manual reactor
 * {@code EXITED}, a thread ended, a Spindle stopped with nothing leaked); any of those failing throws, so a
 * benchmark that leaks fails its trial.
 *
 * <p>Threads: the rig is built, used and closed on the benchmark's setup/teardown thread (for a manual reactor
 * that thread is also the one that steps it); {@link #onReactor} and {@link #poller} may also be called from a
 * benchmark thread, never from the reactor. Ownership: the rig owns its group or Spindle, the pollers it
 * registered and its actor system.
 */
final class BenchRig implements AutoCloseable {
    /** The name of the bdev of a {@link #bdev} rig. */
    static final String BDEV = "Bench0";

    private final ReactorGroup group;
    private final Spindle spindle;
    private final Reactor reactor;
    private final List<Poller> pollers = new ArrayList<>();
    private ActorSystem<Void> owner;

    private BenchRig(ReactorGroup group, Spindle spindle) {
        this.group = group;
        this.spindle = spindle;
        this.reactor = group.reactor(0);
    }

    /** One manual-mode reactor ({@code ReactorGroup.manual(1)}), stepped by the caller. */
    static BenchRig manual() {
        return new BenchRig(ReactorGroup.manual(1), null);
    }

    /** One started reactor: core mask {@code 0x1}, idle mode {@link IdleMode#BUSY}, not pinned. */
    static BenchRig threaded() {
        return new BenchRig(ReactorGroup.start(busyReactor()), null);
    }

    /**
     * A standalone Spindle named {@code bench} with one busy reactor (as {@link #threaded()}) and the bdev
     * subsystem, which creates {@value #BDEV} at start.
     *
     * @param backend   {@code null} or {@code malloc}
     * @param numBlocks the bdev's size in blocks
     * @param blockSize the bdev's block size
     */
    static BenchRig bdev(String backend, long numBlocks, int blockSize) {
        if (!backend.equals("null") && !backend.equals("malloc")) {
            throw new IllegalArgumentException("backend must be null or malloc, not backend=" + backend);
        }
        BdevSubsystem bdevs = new BdevSubsystem().onStart(layer -> switch (backend) {
            case "null" -> layer.module(NullModule.class).create(layer, NullModule.Options.of(BDEV, numBlocks, blockSize));
            case "malloc" -> layer.module(MallocModule.class).create(layer, MallocModule.Options.of(BDEV, numBlocks, blockSize));
            default -> throw new IllegalArgumentException("backend must be null or malloc, not backend=" + backend);
        });
        Spindle s = Spindle.start(SpindleConfig.builder().name("bench").reactor(busyReactor()).subsystem(bdevs).conclude());
        return new BenchRig(s.reactors(), s);
    }

    private static ReactorConfig busyReactor() {
        return ReactorConfig.builder().mask("0x1").idle(IdleMode.BUSY).conclude();
    }

    /** The reactor. */
    Reactor reactor() {
        return reactor;
    }

    /** The reactor's group (a {@link #bdev} rig's is its Spindle's). */
    ReactorGroup group() {
        return group;
    }

    /** The bdev layer of a {@link #bdev} rig. */
    BdevLayer layer() {
        if (spindle == null) {
            throw new IllegalStateException("no bdev layer: only a bdev rig has one");
        }
        return BdevLayer.of(spindle);
    }

    /**
     * Runs {@code task} on the reactor and waits for it; its exception is rethrown here (unchecked). A manual
     * reactor is stepped once ({@code pollOnce}), which runs the task; a threaded one is given 30 s.
     */
    void onReactor(Runnable task) {
        callOnReactor(() -> {
            task.run();
            return null;
        });
    }

    /** {@link #onReactor(Runnable)} for a task with a result, which is returned. */
    <T> T callOnReactor(Supplier<T> task) {
        CompletableFuture<T> f = new CompletableFuture<>();
        reactor.send(() -> {
            try {
                f.complete(task.get());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        if (group.isManual()) {
            group.pollOnce(0);
            if (!f.isDone()) {
                throw new IllegalStateException("task did not run in one pollOnce of reactor=" + reactor.name());
            }
        }
        return await(f, "task on reactor=" + reactor.name());
    }

    /**
     * Waits up to 30 s for {@code f}; its failure is rethrown unchecked (an {@link Error} or a
     * {@link RuntimeException} as is), as are a timeout and an interrupt (the interrupt flag set again).
     */
    private static <T> T await(CompletableFuture<T> f, String what) {
        try {
            return f.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error r) {
                throw r;
            }
            throw new IllegalStateException(what + " failed", e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException(what + " not done within timeout=30s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(what + " interrupted", e);
        }
    }

    /** Registers an active poller on the reactor (registerPoller runs there); {@link #close()} unregisters it. */
    Poller poller(String name, PollerFn fn) {
        Poller p = callOnReactor(() -> reactor.registerPoller(name, fn));
        pollers.add(p);
        return p;
    }

    /** Unregisters, on the reactor, the pollers registered through {@link #poller}. Idempotent. */
    void unregisterPollers() {
        if (pollers.isEmpty()) {
            return;
        }
        List<Poller> ps = List.copyOf(pollers);
        pollers.clear();
        onReactor(() -> ps.forEach(Poller::unregister));
    }

    /** A manual reactor: steps it until an iteration does no work (runs deferred work such as channel destroys). */
    void drain() {
        if (group.isManual()) {
            group.pollUntilIdle(0);
        }
    }

    /**
     * Registers an io_device on the rig's group; its owner is the guardian of an actor system the rig starts
     * (once, Pekko logging at WARNING) and terminates at {@link #close()}.
     */
    <C> IoDevice<C> ioDevice(String name, ChannelFactory<C> factory) {
        if (owner != null) {
            throw new IllegalStateException("one io_device per rig: already registered, name=" + name);
        }
        CompletableFuture<IoDevice<C>> device = new CompletableFuture<>();
        Config quiet = ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.stdout-loglevel = WARNING")
                .withFallback(ConfigFactory.load());
        owner = ActorSystem.create(Behaviors.setup(ctx -> {
            device.complete(IoDevice.register(ctx, group, name, factory));
            return Behaviors.empty();
        }), "bench", quiet);
        return await(device, "io_device registration name=" + name);
    }

    @Override
    public void close() {
        try {
            unregisterPollers();
            drain();
        } finally {
            if (owner != null) {
                owner.terminate();
                await(owner.getWhenTerminated().toCompletableFuture(), "actor system termination");
            }
            if (spindle != null) {
                SpindleApp.Stopped stopped = spindle.stopAndWait();
                if (!stopped.clean()) {
                    throw new IllegalStateException("Spindle stopped unclean: leaks=" + stopped.leaks());
                }
            } else {
                group.close();
                if (group.isManual() ? reactor.state() != Reactor.State.EXITED : !group.threadsEnded()) {
                    throw new IllegalStateException("reactor did not exit: state=" + reactor.state());
                }
            }
        }
    }
}
