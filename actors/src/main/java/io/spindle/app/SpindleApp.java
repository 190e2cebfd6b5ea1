package io.spindle.app;

import io.spindle.rpc.RpcServer;
import io.spindle.rpc.RpcServerConfig;
import io.spindle.rpc.spi.RpcState;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import io.spindle.runtime.ReactorStats;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The app actor ({@code spindle}): owns the reactors, the subsystems' start and stop, and every fan-out
 * context it starts. SPDK's app thread and {@code spdk_app_start}/{@code spdk_app_stop}.
 *
 * <p><b>Start.</b> Create the reactors, register them as dispatchers, spawn one {@link ReactorActor} per
 * reactor on its own reactor, start the JSON-RPC server ({@code rpc}, when configured: its sockets are bound
 * here, so a path in use fails the start), then initialise the subsystems one by one in dependency order. The
 * start result ({@link Started} or {@link StartFailed}) goes to the listener given at creation. A failed init
 * finishes the subsystems already initialised, in reverse, then stops as below.
 *
 * <p><b>Waiting for {@code framework_start_init}</b> ({@link SpindleConfig#waitForStartInit()}, SPDK's
 * {@code --wait-for-rpc}): the start ends, with {@link Started}, once the RPC server runs; the app is then in
 * {@link RpcState#STARTUP} and initialises the subsystems only on {@link StartInit}. A failed init then fails
 * the {@link StartInit} requester and stops the app.
 *
 * <p><b>Stop</b> ({@link Stop}; idempotent; a stop during the start waits for the init step in progress):
 * stop the RPC server (no new requests; queued responses are flushed); finish the subsystems in reverse init
 * order; one last {@code forEachReactor} round in which every reactor
 * reports what it still holds (pollers, channels, fan-outs: logged as SPDK warns at thread exit); stop every
 * child actor and wait for their termination; ask the reactors to exit and wait until they have; reply
 * {@link Stopped} to every requester; stop. The stop context (requesters, progress) lives in this actor only.
 * A {@code CoordinatedShutdown} task (phase {@code service-stop}) runs the same stop on SIGINT/SIGTERM or
 * ActorSystem termination.
 */
public final class SpindleApp extends AbstractBehavior<SpindleApp.Command> {
    /** Messages of the app actor. */
    public sealed interface Command permits Stop, GetReactorStats, OnEachReactor, StartInit, InitDone, FiniDone,
            LeakRoundDone, ChildTerminated, CheckReactorsExited, StartTimedOut {
    }

    /** Stops Spindle; {@code replyTo} gets {@link Stopped} when the reactors have exited. Idempotent. */
    public record Stop(ActorRef<Stopped> replyTo) implements Command {
    }

    /** Stats of every reactor, each taken on its reactor by a forEachReactor walk (framework_get_reactors). */
    public record GetReactorStats(ActorRef<List<ReactorStats>> replyTo) implements Command {
    }

    /**
     * Runs {@code fn} on every reactor, one after the other in reactor order (a forEachReactor walk this actor
     * drives), and completes {@code result} with the results in reactor order; with an empty list when Spindle
     * is stopping. {@code fn} runs on the reactor's thread and must not block.
     */
    public record OnEachReactor<T>(Function<Reactor, T> fn, CompletableFuture<List<T>> result) implements Command {
    }

    /**
     * {@code framework_start_init}: initialise the subsystems of an app that waits for it. Completes
     * {@code result} when every subsystem is initialised; fails it when an init failed (the app then stops) or
     * when the app is not waiting (already initialised, or stopping).
     */
    public record StartInit(CompletableFuture<Void> result) implements Command {
    }

    record InitDone(Subsystem subsystem, Throwable failure) implements Command {
    }

    record FiniDone(Subsystem subsystem, Throwable failure) implements Command {
    }

    record LeakRoundDone(List<String> leaks) implements Command {
    }

    record ChildTerminated(ActorRef<?> child) implements Command {
    }

    enum CheckReactorsExited implements Command {
        INSTANCE
    }

    enum StartTimedOut implements Command {
        INSTANCE
    }

    /** Start results sent to the listener. */
    public sealed interface StartResult permits Started, StartFailed {
    }

    /** Spindle is running. */
    public record Started(Spindle spindle) implements StartResult {
    }

    /** Spindle did not start; it has cleaned up what it had started. */
    public record StartFailed(String reason, Throwable cause) implements StartResult {
    }

    /**
     * Reply to {@link Stop}.
     *
     * @param clean false when a reactor had to be forced out or a fini failed
     * @param leaks what reactors still held at the last round (empty when clean)
     */
    public record Stopped(boolean clean, List<String> leaks) {
    }

    private enum Phase { STARTING, WAITING_FOR_START_INIT, RUNNING, STOPPING }

    private final SpindleConfig config;
    private final Consumer<StartResult> listener;
    private final ReactorGroup reactors;
    private final FanOuts fanOuts;
    private final List<Subsystem> initialised = new ArrayList<>();
    private final List<ActorRef<Stopped>> stopRequesters = new ArrayList<>();
    private final Set<ActorRef<?>> stoppingChildren = new HashSet<>();
    private final List<String> leaks = new ArrayList<>();
    private final Spindle handle;
    private final Cancellable startTimer;
    private Phase phase = Phase.STARTING;
    private int nextInit;
    private String startFailure;
    private Throwable startCause;
    private boolean clean = true;
    private long reactorsExitDeadline;
    private CoordinatedShutdownHook shutdownHook;
    private ActorRef<RpcServer.Command> rpcServer;
    private boolean waitingForRpcStop;
    private final List<CompletableFuture<Void>> startInitRequesters = new ArrayList<>();
    private boolean startedReported;
    private Cancellable initTimer;

    private SpindleApp(ActorContext<Command> ctx, FanOuts.Origin origin, SpindleConfig config, Consumer<StartResult> listener,
                       boolean ownsSystem) {
        super(ctx);
        this.config = config;
        this.listener = listener;
        this.reactors = ReactorGroup.create(config.reactor());
        this.reactors.registerDispatchers(ctx.getSystem());
        this.fanOuts = origin.fanOuts(reactors); // closed by the originator's stop hook, or earlier by stopReactors
        for (Reactor r : reactors.reactors()) {
            ActorRef<ReactorActor.Command> a = ctx.spawn(ReactorActor.create(r), "reactor-" + r.core(), r.dispatcher());
            ctx.watchWith(a, new ChildTerminated(a));
        }
        this.handle = new Spindle(ctx.getSystem(), ctx.getSelf(), reactors, config, ownsSystem);
        this.shutdownHook = new CoordinatedShutdownHook(ctx.getSystem(), ctx.getSelf(), config);
        this.startTimer = ctx.getSystem().scheduler().scheduleOnce(config.startTimeout(),
                () -> ctx.getSelf().tell(StartTimedOut.INSTANCE), ctx.getExecutionContext());
        ctx.getLog().info("{}: starting on core mask {} with {} subsystem(s)", config.name(), config.reactor().mask(),
                config.subsystems().size());
        if (config.rpc() != null && !startRpc(config.rpc())) {
            return;
        }
        if (config.waitForStartInit()) {
            phase = Phase.WAITING_FOR_START_INIT;
            startTimer.cancel();
            startedReported = true;
            ctx.getLog().info("{}: waiting for framework_start_init", config.name());
            listener.accept(new Started(handle));
            return;
        }
        initNext();
    }

    /** Binds the RPC sockets and spawns the server; on failure the start fails with the reason. */
    private boolean startRpc(RpcServerConfig rpc) {
        RpcServer.Bound bound;
        try {
            bound = RpcServer.bind(rpc).prepare(handle, rpc);
        } catch (java.io.IOException | RuntimeException e) {
            startFailure = "rpc server: " + e.getMessage();
            startCause = e;
            getContext().getLog().error("{}: {}", config.name(), startFailure);
            beginStop();
            return false;
        }
        handle.rpcBound(bound);
        rpcServer = getContext().spawn(bound.behavior(), "rpc");
        getContext().watchWith(rpcServer, new ChildTerminated(rpcServer));
        return true;
    }

    /**
     * The app behavior. Spawn it in any ActorSystem (embedded) or let {@link Spindle#start} do it.
     *
     * @param listener receives exactly one {@link StartResult}
     */
    public static Behavior<Command> create(SpindleConfig config, ActorRef<StartResult> listener) {
        return create(config, listener::tell, false);
    }

    static Behavior<Command> create(SpindleConfig config, Consumer<StartResult> listener, boolean ownsSystem) {
        return FanOuts.originator((ctx, origin) -> new SpindleApp(ctx, origin, config, listener, ownsSystem));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Stop.class, this::onStop)
                .onMessage(GetReactorStats.class, this::onGetReactorStats)
                .onMessage(OnEachReactor.class, this::onOnEachReactor)
                .onMessage(StartInit.class, this::onStartInit)
                .onMessage(InitDone.class, this::onInitDone)
                .onMessage(FiniDone.class, this::onFiniDone)
                .onMessage(LeakRoundDone.class, this::onLeakRoundDone)
                .onMessage(ChildTerminated.class, this::onChildTerminated)
                .onMessageEquals(CheckReactorsExited.INSTANCE, this::onCheckReactorsExited)
                .onMessageEquals(StartTimedOut.INSTANCE, this::onStartTimedOut)
                .onSignal(Terminated.class, t -> this)
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    // ------------------------------------------------------------------ start

    private final SubsystemContext subsystemContext = new SubsystemContext() {
        @Override
        public ReactorGroup reactors() {
            return reactors;
        }

        @Override
        public ActorSystem<?> system() {
            return getContext().getSystem();
        }

        @Override
        public SpindleConfig config() {
            return config;
        }

        @Override
        public Spindle spindle() {
            return handle;
        }

        @Override
        public <T> ActorRef<T> spawn(Behavior<T> behavior, String name, Props props) {
            ActorRef<T> ref = getContext().spawn(behavior, name, props);
            getContext().watchWith(ref, new ChildTerminated(ref));
            return ref;
        }

        @Override
        public FanOuts fanOuts() {
            return fanOuts;
        }
    };

    private void initNext() {
        if (phase != Phase.STARTING) {
            return;
        }
        if (nextInit >= config.subsystems().size()) {
            phase = Phase.RUNNING;
            startTimer.cancel();
            if (initTimer != null) {
                initTimer.cancel();
            }
            handle.markInitialized();
            getContext().getLog().info("{}: started", config.name());
            for (CompletableFuture<Void> r : startInitRequesters) {
                r.complete(null);
            }
            startInitRequesters.clear();
            if (!startedReported) {
                startedReported = true;
                listener.accept(new Started(handle));
            }
            return;
        }
        Subsystem s = config.subsystems().get(nextInit);
        CompletionStage<Void> stage;
        try {
            stage = s.init(subsystemContext);
        } catch (Throwable e) {
            stage = CompletableFuture.failedFuture(e);
        }
        getContext().pipeToSelf(stage, (ok, err) -> new InitDone(s, err));
    }

    private Behavior<Command> onInitDone(InitDone m) {
        if (phase != Phase.STARTING || nextInit >= config.subsystems().size() || config.subsystems().get(nextInit) != m.subsystem()) {
            // a late init after a start timeout: it did initialise, so it must be finished too
            if (m.failure() == null && !initialised.contains(m.subsystem())) {
                initialised.add(m.subsystem());
            }
            return this;
        }
        nextInit++;
        if (m.failure() != null) {
            Throwable cause = unwrap(m.failure());
            startFailure = "subsystem=" + m.subsystem().name() + " init failed: " + cause;
            startCause = cause;
            getContext().getLog().error("{}: {}", config.name(), startFailure, cause);
            return beginStop();
        }
        initialised.add(m.subsystem());
        getContext().getLog().debug("{}: subsystem {} initialised", config.name(), m.subsystem().name());
        if (!stopRequesters.isEmpty()) {
            return beginStop(); // a stop arrived during the start
        }
        initNext();
        return this;
    }

    private Behavior<Command> onStartInit(StartInit m) {
        if (phase == Phase.WAITING_FOR_START_INIT) {
            phase = Phase.STARTING;
            startInitRequesters.add(m.result());
            getContext().getLog().info("{}: framework_start_init: initialising {} subsystem(s)", config.name(), config.subsystems().size());
            initTimer = getContext().getSystem().scheduler().scheduleOnce(config.startTimeout(),
                    () -> getContext().getSelf().tell(StartTimedOut.INSTANCE), getContext().getExecutionContext());
            initNext();
        } else if (phase == Phase.STARTING && !startInitRequesters.isEmpty()) {
            startInitRequesters.add(m.result()); // a second framework_start_init while the first one runs
        } else {
            m.result().completeExceptionally(new IllegalStateException(phase == Phase.STOPPING ? "Spindle is stopping"
                    : "the subsystems are already initialised"));
        }
        return this;
    }

    private Behavior<Command> onStartTimedOut() {
        if (phase != Phase.STARTING) {
            return this;
        }
        String pending = nextInit < config.subsystems().size() ? config.subsystems().get(nextInit).name() : "?";
        startFailure = "start did not complete within spindle.start-timeout=" + config.startTimeout() + " (subsystem=" + pending
                + " init pending)";
        getContext().getLog().error("{}: {}", config.name(), startFailure);
        failStartInit();
        return beginStop();
    }

    private void failStartInit() {
        for (CompletableFuture<Void> r : startInitRequesters) {
            r.completeExceptionally(new IllegalStateException(startFailure, startCause));
        }
        startInitRequesters.clear();
        handle.markInitFailed(startFailure);
    }

    // ------------------------------------------------------------------ queries

    private Behavior<Command> onOnEachReactor(OnEachReactor<?> m) {
        walkEachReactor(m);
        return this;
    }

    private <T> void walkEachReactor(OnEachReactor<T> m) {
        if (phase == Phase.STOPPING) {
            m.result().complete(List.of());
            return;
        }
        eachReactor(m.fn(), (acc, status) -> {
            if (status != io.spindle.runtime.Errno.OK && acc.size() < reactors.size()) {
                m.result().completeExceptionally(new IllegalStateException("on-each-reactor walk ended with "
                        + io.spindle.runtime.Errno.name(status)));
            } else {
                m.result().complete(java.util.Collections.unmodifiableList(acc));
            }
        });
    }

    private Behavior<Command> onGetReactorStats(GetReactorStats m) {
        if (phase == Phase.STOPPING) {
            m.replyTo().tell(List.of());
            return this;
        }
        eachReactor(Reactor::stats, (acc, status) -> m.replyTo().tell(List.copyOf(acc)));
        return this;
    }

    /**
     * The app actor's one walk over the reactors: {@code fn} on each reactor, its results (nulls included) in
     * reactor order to {@code done} with the walk's status, on this actor's thread.
     */
    private <T> void eachReactor(Function<Reactor, T> fn, java.util.function.BiConsumer<List<T>, Integer> done) {
        fanOuts.forEachReactor(new ArrayList<T>(), new FanOuts.ReactorVisitor<List<T>, T>() {
            @Override
            public T visit(Reactor reactor) {
                return fn.apply(reactor);
            }

            @Override
            public void fold(List<T> acc, Reactor reactor, T result) {
                acc.add(result);
            }

            @Override
            public void complete(List<T> acc, int status) {
                done.accept(acc, status);
            }
        });
    }

    // ------------------------------------------------------------------ stop

    private Behavior<Command> onStop(Stop m) {
        stopRequesters.add(m.replyTo());
        if (phase == Phase.STARTING && startFailure == null) {
            getContext().getLog().info("{}: stop requested during start; stopping after the init step in progress", config.name());
            return this;
        }
        if (phase == Phase.RUNNING || phase == Phase.WAITING_FOR_START_INIT) {
            return beginStop();
        }
        return this; // already stopping
    }

    private Behavior<Command> beginStop() {
        if (phase == Phase.STOPPING) {
            return this;
        }
        phase = Phase.STOPPING;
        startTimer.cancel();
        if (initTimer != null) {
            initTimer.cancel();
        }
        getContext().getLog().info("{}: stopping", config.name());
        for (CompletableFuture<Void> r : startInitRequesters) {
            r.completeExceptionally(new IllegalStateException("Spindle is stopping"));
        }
        startInitRequesters.clear();
        if (rpcServer != null) {
            // no request may reach a subsystem while it is being finished: the RPC server goes first
            waitingForRpcStop = true;
            getContext().stop(rpcServer);
            return this;
        }
        finiNext();
        return this;
    }

    private void finiNext() {
        if (initialised.isEmpty()) {
            leakRound();
            return;
        }
        Subsystem s = initialised.remove(initialised.size() - 1);
        CompletionStage<Void> stage;
        try {
            stage = s.fini(subsystemContext);
        } catch (Throwable e) {
            stage = CompletableFuture.failedFuture(e);
        }
        getContext().pipeToSelf(stage, (ok, err) -> new FiniDone(s, err));
    }

    private Behavior<Command> onFiniDone(FiniDone m) {
        if (m.failure() != null) {
            clean = false;
            getContext().getLog().error("{}: subsystem={} fini failed", config.name(), m.subsystem().name(), unwrap(m.failure()));
        }
        finiNext();
        return this;
    }

    /** The last round over the reactors: each reports what it still holds (SPDK warns at thread exit). */
    private void leakRound() {
        ActorRef<Command> self = getContext().getSelf();
        eachReactor(r -> r.holdsNothing() ? null : r.name() + " still holds " + r.leakReport(), (acc, status) -> {
            List<String> leaks = new ArrayList<>();
            for (String l : acc) {
                if (l != null) {
                    leaks.add(l);
                }
            }
            self.tell(new LeakRoundDone(List.copyOf(leaks)));
        });
    }

    private Behavior<Command> onLeakRoundDone(LeakRoundDone m) {
        for (String leak : m.leaks()) {
            getContext().getLog().warn("{}: at stop, {}", config.name(), leak);
        }
        leaks.addAll(m.leaks());
        if (!m.leaks().isEmpty()) {
            clean = false;
        }
        // every child (reactor actors, subsystem actors, io_device actors) stops before the reactors exit
        for (ActorRef<Void> child : getContext().getChildren()) {
            if (!isAdapter(child)) {
                stoppingChildren.add(child);
                getContext().watchWith(child, new ChildTerminated(child));
                getContext().stop(child);
            }
        }
        if (stoppingChildren.isEmpty()) {
            stopReactors();
        }
        return this;
    }

    private static boolean isAdapter(ActorRef<?> ref) {
        return ref.path().name().startsWith("$$");
    }

    private Behavior<Command> onChildTerminated(ChildTerminated m) {
        if (rpcServer != null && m.child().equals(rpcServer)) {
            rpcServer = null;
            if (waitingForRpcStop) {
                waitingForRpcStop = false;
                finiNext();
            } else if (phase != Phase.STOPPING) {
                getContext().getLog().error("{}: the rpc server stopped unexpectedly; Spindle runs on without it", config.name());
            }
            return this;
        }
        if (stoppingChildren.remove(m.child()) && stoppingChildren.isEmpty()) {
            stopReactors();
        }
        return this;
    }

    private void stopReactors() {
        fanOuts.close();
        reactors.requestStop();
        reactorsExitDeadline = System.nanoTime() + config.reactor().exitTimeout().plusSeconds(5).toNanos();
        onCheckReactorsExited();
    }

    private Behavior<Command> onCheckReactorsExited() {
        boolean all = true;
        for (Reactor r : reactors.reactors()) {
            all &= r.state() == Reactor.State.EXITED;
        }
        all = all && reactors.threadsEnded();
        if (!all && System.nanoTime() - reactorsExitDeadline < 0) {
            getContext().scheduleOnce(Duration.ofMillis(reactors.isManual() ? 1 : 5), getContext().getSelf(), CheckReactorsExited.INSTANCE);
            return this;
        }
        if (!all) {
            clean = false;
            getContext().getLog().error("{}: reactors did not exit in time", config.name());
        }
        releaseReactors(); // threads have ended, or we gave up waiting: either way this actor does not join them
        getContext().getLog().info("{}: stopped{}", config.name(), clean ? "" : " (not clean)");
        Stopped stopped = new Stopped(clean, List.copyOf(leaks));
        for (ActorRef<Stopped> r : stopRequesters) {
            r.tell(stopped);
        }
        if (startFailure != null && !startedReported) {
            listener.accept(new StartFailed(startFailure, startCause));
        }
        shutdownHook.cancel();
        handle.markStopped(stopped);
        return Behaviors.stopped();
    }

    private Behavior<Command> onPostStop() {
        // stopped from outside without the stop protocol (the user stopped this actor, or the system died):
        // still release what we own, in the same order
        fanOuts.close();
        if (!handle.isStopped()) {
            getContext().getLog().warn("{}: app actor stopped without the stop protocol; stopping reactors", config.name());
            reactors.requestStop();
            if (!reactors.isManual()) {
                reactors.release(); // never join reactor threads on an actor's thread
            }
            handle.markStopped(new Stopped(false, List.copyOf(leaks)));
            shutdownHook.cancel();
            if (phase == Phase.STARTING && !startedReported) {
                listener.accept(new StartFailed("app actor stopped during start", null));
            }
        }
        return this;
    }

    /**
     * The end of the reactors' stop on this actor's thread: threaded reactors are released without a join (a
     * thread that did not exit in time would hold this actor, and the dispatcher thread under it, for another
     * exit-timeout); manual ones are closed, which forces out any that still hold resources (no thread to wait for).
     */
    private void releaseReactors() {
        if (reactors.isManual()) {
            reactors.close();
        } else {
            reactors.release();
        }
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** The CoordinatedShutdown task that stops Spindle on SIGINT/SIGTERM or ActorSystem termination. */
    static final class CoordinatedShutdownHook {
        private final Cancellable task;

        CoordinatedShutdownHook(ActorSystem<?> system, ActorRef<Command> app, SpindleConfig config) {
            CoordinatedShutdown cs = CoordinatedShutdown.get(system);
            this.task = cs.addCancellableTask(CoordinatedShutdown.PhaseServiceStop(), "spindle-stop-" + config.name(),
                    () -> AskPattern.<Command, Stopped>ask(app, Stop::new, config.stopTimeout(), system.scheduler())
                            .thenApplyAsync(s -> Done.getInstance(), system.executionContext()));
        }

        void cancel() {
            task.cancel();
        }
    }
}
