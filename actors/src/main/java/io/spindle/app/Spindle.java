package io.spindle.app;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.spindle.rpc.spi.RpcState;
import io.spindle.runtime.OffReactorFuture;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import io.spindle.runtime.ReactorStats;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * The front door: a running Spindle instance, standalone or embedded.
 *
 * <p><b>Standalone:</b> {@link #start(SpindleConfig)} creates an ActorSystem whose guardian is the app
 * actor, waits until every subsystem is initialised, and returns the handle; {@link #stop()} stops Spindle
 * and terminates that ActorSystem. SIGINT/SIGTERM run the same stop (CoordinatedShutdown).
 * <pre>{@code
 * Spindle spindle = Spindle.start(SpindleConfig.builder().reactor(ReactorConfig.builder().mask("0x3").conclude()).conclude());
 * ...
 * spindle.stop().toCompletableFuture().join();
 * }</pre>
 *
 * <p><b>Embedded:</b> spawn {@link #create(SpindleConfig, ActorRef)} in your own ActorSystem; the listener
 * gets {@link SpindleApp.Started} with this handle (or {@link SpindleApp.StartFailed}). {@link #stop()} then
 * stops Spindle only; your ActorSystem keeps running.
 *
 * <p>Thread-safe: every method may be called from any thread, except that the blocking ones ({@link #start},
 * {@link #stopAndWait()}) throw {@link io.spindle.runtime.BlockingCallOnReactorException} on a reactor thread, and
 * the stages returned here refuse a {@code join}/{@code get} there ({@link OffReactorFuture}). {@link #stop()} is
 * idempotent.
 */
public final class Spindle {
    private final ActorSystem<?> system;
    private final ActorRef<SpindleApp.Command> app;
    private final ReactorGroup reactors;
    private final SpindleConfig config;
    private final boolean ownsSystem;
    private final AtomicBoolean stopRequested = new AtomicBoolean();
    private final AtomicBoolean shutdownRequested = new AtomicBoolean();
    // OffReactorFutures: a join on these (or on stages made from them) on a reactor thread is refused
    private final CompletableFuture<SpindleApp.Stopped> stopped = new OffReactorFuture<>();
    private final CompletableFuture<Void> initialized = new OffReactorFuture<>();
    private volatile RpcState rpcState;
    private volatile io.spindle.rpc.RpcServer.Bound rpcBound;

    Spindle(ActorSystem<?> system, ActorRef<SpindleApp.Command> app, ReactorGroup reactors, SpindleConfig config, boolean ownsSystem) {
        this.system = system;
        this.app = app;
        this.reactors = reactors;
        this.config = config;
        this.ownsSystem = ownsSystem;
        this.rpcState = config.waitForStartInit() ? RpcState.STARTUP : RpcState.RUNTIME;
    }

    /**
     * Starts a standalone Spindle and waits until it runs.
     *
     * @throws SpindleStartException when a subsystem init fails or the start times out; everything that had
     *                               started has been stopped again and the ActorSystem terminated
     * @throws io.spindle.runtime.BlockingCallOnReactorException when called on a reactor thread (it waits)
     */
    public static Spindle start(SpindleConfig config) {
        Reactor.refuseBlockingCall("Spindle.start");
        CompletableFuture<SpindleApp.StartResult> result = new CompletableFuture<>();
        Config pekko = ConfigFactory.parseString(
                        "pekko.coordinated-shutdown.phases.service-stop.timeout = " + config.stopTimeout().toMillis() + "ms\n"
                                + "pekko.loggers = [\"org.apache.pekko.event.slf4j.Slf4jLogger\"]\n"
                                + "pekko.logging-filter = \"org.apache.pekko.event.slf4j.Slf4jLoggingFilter\"\n")
                .withFallback(config.config());
        ActorSystem<SpindleApp.Command> system = ActorSystem.create(SpindleApp.create(config, result::complete, true), config.name(), pekko);
        SpindleApp.StartResult r;
        try {
            r = result.get(config.startTimeout().plusSeconds(30).toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            system.terminate();
            throw new SpindleStartException("interrupted while starting", e);
        } catch (ExecutionException | TimeoutException e) {
            system.terminate();
            throw new SpindleStartException("start did not complete: " + e, e);
        }
        if (r instanceof SpindleApp.StartFailed f) {
            awaitTermination(system, config.stopTimeout());
            throw new SpindleStartException(f.reason(), f.cause());
        }
        return ((SpindleApp.Started) r).spindle();
    }

    /** Starts a standalone Spindle from HOCON ({@code spindle { }} block). */
    public static Spindle start(Config config) {
        return start(SpindleConfig.fromConfig(config));
    }

    /** The app behavior for embedding in an existing ActorSystem. */
    public static Behavior<SpindleApp.Command> create(SpindleConfig config, ActorRef<SpindleApp.StartResult> listener) {
        return SpindleApp.create(config, listener);
    }

    private static void awaitTermination(ActorSystem<?> system, Duration timeout) {
        try {
            system.getWhenTerminated().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // best effort: the failure is reported by the caller
        }
    }

    /**
     * Stops Spindle (subsystems in reverse, a last leak round over the reactors, reactor exit) and, when
     * standalone, terminates the ActorSystem. Idempotent; any thread.
     *
     * @return completes with the stop report once the reactors have exited (and, standalone, the ActorSystem
     *         terminated)
     */
    public CompletionStage<SpindleApp.Stopped> stop() {
        if (stopRequested.compareAndSet(false, true) && !stopped.isDone()) {
            AskPattern.<SpindleApp.Command, SpindleApp.Stopped>ask(app, SpindleApp.Stop::new, config.stopTimeout(), system.scheduler())
                    .whenCompleteAsync((s, e) -> {
                        if (e != null && !stopped.isDone()) {
                            stopped.completeExceptionally(e);
                        }
                    }, system.executionContext());
        }
        if (!ownsSystem) {
            return stopped;
        }
        return stopped.thenCompose(s -> system.getWhenTerminated().thenApply(t -> s));
    }

    /**
     * Asks for a shutdown, as SIGINT/SIGTERM does in SPDK: runs the configured
     * {@link SpindleConfig#shutdownHandler()} (default {@link #stop()}) on a new daemon thread
     * ({@code spindle-shutdown}), so a handler may drain work and block. Once per instance; any thread.
     */
    public void requestShutdown() {
        if (!shutdownRequested.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(() -> {
            try {
                config.shutdownHandler().accept(this);
            } catch (RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger(Spindle.class).error("{}: shutdown handler failed; stopping", config.name(), e);
                stop();
            }
        }, "spindle-shutdown");
        t.setDaemon(true);
        t.start();
    }

    /** Completes when Spindle has stopped, whoever stopped it. */
    public CompletionStage<SpindleApp.Stopped> whenStopped() {
        return stopped;
    }

    void markStopped(SpindleApp.Stopped s) {
        stopped.complete(s);
        if (ownsSystem) {
            system.terminate();
        }
    }

    boolean isStopped() {
        return stopped.isDone();
    }

    /**
     * Stats of every reactor, each taken on its own reactor (a forEachReactor walk driven by the app actor):
     * what {@code framework_get_reactors} reports.
     */
    public CompletionStage<List<ReactorStats>> reactorStats() {
        CompletableFuture<List<ReactorStats>> f = new OffReactorFuture<>();
        AskPattern.<SpindleApp.Command, List<ReactorStats>>ask(app, SpindleApp.GetReactorStats::new, Duration.ofSeconds(10),
                system.scheduler()).whenCompleteAsync((l, e) -> {
                    if (e != null) {
                        f.completeExceptionally(e);
                    } else {
                        f.complete(l);
                    }
                }, system.executionContext());
        return f;
    }

    /**
     * The subsystem instance of class {@code type} this Spindle was configured with.
     *
     * @throws IllegalArgumentException when there is none
     */
    public <S extends Subsystem> S subsystem(Class<S> type) {
        for (Subsystem s : config.subsystems()) {
            if (type.isInstance(s)) {
                return type.cast(s);
            }
        }
        throw new IllegalArgumentException("no subsystem of " + type.getSimpleName() + " configured (have "
                + config.subsystems().stream().map(Subsystem::name).toList() + ")");
    }

    /** The reactors. */
    public ReactorGroup reactors() {
        return reactors;
    }

    /** The app actor. */
    public ActorRef<SpindleApp.Command> app() {
        return app;
    }

    /** The ActorSystem Spindle runs in. */
    public ActorSystem<?> system() {
        return system;
    }

    /** The configuration. */
    public SpindleConfig config() {
        return config;
    }

    /** Whether this instance owns (and terminates) its ActorSystem. */
    public boolean isStandalone() {
        return ownsSystem;
    }

    /**
     * The RPC state: {@link RpcState#STARTUP} while an app configured with
     * {@link SpindleConfig.Builder#waitForStartInit(boolean)} waits for {@link #startInit()}, else
     * {@link RpcState#RUNTIME}. Any thread.
     */
    public RpcState rpcState() {
        return rpcState;
    }

    /**
     * {@code framework_start_init}: initialises the subsystems of an app that waits for it. Any thread.
     *
     * @return completes when every subsystem is initialised; fails when an init failed (Spindle then stops),
     *         when the subsystems were initialised already, or when Spindle is stopping
     */
    public CompletionStage<Void> startInit() {
        CompletableFuture<Void> f = new OffReactorFuture<>();
        app.tell(new SpindleApp.StartInit(f));
        return f;
    }

    /**
     * Completes once every subsystem is initialised ({@code framework_wait_init}): at once for an app that did
     * not wait for {@link #startInit()}; fails when the init failed.
     */
    public CompletionStage<Void> whenInitialized() {
        return initialized;
    }

    void markInitialized() {
        rpcState = RpcState.RUNTIME;
        initialized.complete(null);
    }

    void markInitFailed(String reason) {
        initialized.completeExceptionally(new IllegalStateException(reason));
    }

    void rpcBound(io.spindle.rpc.RpcServer.Bound bound) {
        this.rpcBound = bound;
    }

    /** The JSON-RPC server's counters (connections, queued output, requests), or null when there is none. */
    public io.spindle.rpc.RpcServer.Stats rpcStats() {
        io.spindle.rpc.RpcServer.Bound b = rpcBound;
        return b == null ? null : b.stats();
    }

    /** The JSON-RPC server's Unix socket, or null when there is none. */
    public java.nio.file.Path rpcSocketPath() {
        io.spindle.rpc.RpcServer.Bound b = rpcBound;
        return b == null ? null : b.socketPath();
    }

    /** The JSON-RPC server's TCP address (127.0.0.1), or null when there is none. */
    public java.net.InetSocketAddress rpcTcpAddress() {
        io.spindle.rpc.RpcServer.Bound b = rpcBound;
        return b == null ? null : b.tcpAddress();
    }

    /**
     * Runs {@code fn} on every reactor, in reactor order, each on its own reactor thread (a forEachReactor walk
     * the app actor drives, as SPDK's {@code framework_get_reactors} uses {@code spdk_for_each_reactor}).
     * {@code fn} must not block. Any thread.
     *
     * @return completes with the results in reactor order (on the app actor's thread: continue with an async
     *         stage for anything slow); with an empty list when Spindle is stopping
     */
    public <T> CompletionStage<List<T>> onEachReactor(Function<Reactor, T> fn) {
        CompletableFuture<List<T>> f = new OffReactorFuture<>();
        app.tell(new SpindleApp.OnEachReactor<>(fn, f));
        return f;
    }

    /**
     * Blocks until the stop completes; convenience for {@code main} methods.
     *
     * @throws io.spindle.runtime.BlockingCallOnReactorException when called on a reactor thread (the stop waits for
     *                                                        every reactor to exit, this one included): use
     *                                                        {@link #stop()} there
     */
    public SpindleApp.Stopped stopAndWait() {
        Reactor.refuseBlockingCall("Spindle.stopAndWait");
        return stop().toCompletableFuture().join();
    }

}
