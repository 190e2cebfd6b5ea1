package io.spindle.runtime;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.Signal;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.function.BiFunction;

/**
 * The fan-outs one originator runs: {@code forEachReactor} and {@code forEachChannel}, driven hop by hop by
 * the originator so that a walk's context never leaves it (the fix for SPDK issues #3630, #1766, #2206).
 *
 * <p><b>The rule.</b> A walk's context object is handed to the originator's callbacks only
 * ({@link ReactorVisitor#fold fold}, {@link ReactorVisitor#complete complete}); the function that runs on
 * each reactor never receives it. Each hop runs the visitor on one reactor, then replies to the originator
 * with the hop's result; the originator folds the result into the context and sends the next hop. When the
 * walk ends, the originator calls {@code complete(context, status)} and then releases the context (closes it
 * if it is {@link AutoCloseable}) exactly once.
 *
 * <p><b>What a visitor may capture.</b> A visitor object is shared by the originator (fold, complete) and the
 * reactors (visit). {@code visit} may read immutable values and reactor-owned state of the reactor it runs on,
 * and returns its result by value; it must not reach the context or any other mutable state of the originator.
 * A visitor that holds the context itself in a field (an anonymous class or lambda capturing it) is refused when
 * the walk starts ({@link IllegalArgumentException} naming the field); the runtime cannot see a context reached
 * through other objects, so keep the context out of the visitor altogether: it arrives as the argument of
 * {@code fold} and {@code complete}.
 *
 * <p><b>Originators and their end.</b> There are two kinds, and neither can forget to release what it started:
 * <ul>
 *   <li>an actor: its behavior is made by {@link #originator(ReactorGroup, BiFunction)}, which hands the actor its
 *   {@code FanOuts}, routes hop replies through the actor's own mailbox (no protocol message needed) and closes
 *   the {@code FanOuts} when the actor stops or restarts, after the actor's own {@code PostStop};</li>
 *   <li>a reactor: {@link #forReactor(Reactor)}, closed by the reactor when it exits.</li>
 * </ul>
 * When the originator ends ({@link #close()}), every walk still in flight is ended there: its completion is
 * <em>not</em> called (the originator is gone, nobody can act on it), and its context is released exactly once,
 * by {@code close()}, on the originator's thread. Hops already on a reactor still run their visitor (which
 * never holds the context); their replies are dropped. When a hop cannot be sent because its reactor has exited
 * (the app is stopping), the walk ends with status {@link Errno#ESHUTDOWN} and its completion <em>is</em> called.
 *
 * <p><b>Threads.</b> Every method of this class, and every {@code fold}/{@code complete}, runs in the
 * originator's context: inside the originating actor's message handling, or on the originating reactor. A call
 * from anywhere else (a future's callback, another actor, another reactor) throws {@link IllegalStateException}
 * naming the originator and the caller.
 *
 * <p>Example, an actor that starts a reactor walk:
 * <pre>{@code
 * Behavior<Command> create(ReactorGroup group) {
 *     return FanOuts.originator(group, (ctx, fanOuts) -> Behaviors.receive(Command.class)
 *             .onMessage(Collect.class, m -> {
 *                 fanOuts.forEachReactor(new Totals(), new ReactorVisitor<Totals, ReactorStats>() {
 *                     public ReactorStats visit(Reactor r) { return r.stats(); }                 // on each reactor
 *                     public void fold(Totals t, Reactor r, ReactorStats s) { t.add(s); }       // on the actor
 *                     public void complete(Totals t, int status) { m.replyTo().tell(t.snapshot()); } // on the actor
 *                 });
 *                 return Behaviors.same();
 *             })
 *             .build());
 * }
 * }</pre>
 */
public final class FanOuts implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FanOuts.class);

    /** A hop reply on its way to an actor originator; handled by the originator's interceptor, never by user code. */
    static final class Hop {
        final FanOuts owner;
        final Runnable step;

        Hop(FanOuts owner, Runnable step) {
            this.owner = owner;
            this.step = step;
        }
    }

    /**
     * The visitor of a reactor walk.
     *
     * @param <X> context type, owned by the originator
     * @param <R> per-hop result carried back to the originator
     */
    public interface ReactorVisitor<X, R> {
        /** Runs on each reactor in ascending order; must not touch the context. */
        R visit(Reactor reactor);

        /** Folds one hop's result into the context, on the originator. */
        default void fold(X context, Reactor reactor, R result) {
        }

        /** The walk ended with {@code status} (0, or the first non-zero hop status); on the originator. */
        void complete(X context, int status);
    }

    /**
     * The visitor of a channel walk.
     *
     * @param <X> context type, owned by the originator
     * @param <C> channel context type
     * @param <R> per-hop result carried back to the originator
     */
    public interface ChannelVisitor<X, C, R> {
        /**
         * Runs on the reactor of each channel, in ascending reactor order; must call
         * {@link ChannelHop#continueWalk} on that reactor, now or later. Must not touch the walk's context.
         */
        void visit(ChannelHop<C, R> hop);

        /** Folds one hop's result into the context, on the originator (not called for skipped reactors). */
        default void fold(X context, Reactor reactor, R result) {
        }

        /** The walk ended; on the originator. */
        void complete(X context, int status);
    }

    /**
     * One hop of a channel walk, on the channel's reactor. Holds a reference on the channel until
     * {@link #continueWalk} is called.
     */
    public static final class ChannelHop<C, R> {
        private final ChannelWalk<?, C, R> walk;
        private final IoChannel<C> channel;
        private boolean continued;

        ChannelHop(ChannelWalk<?, C, R> walk, IoChannel<C> channel) {
            this.walk = walk;
            this.channel = channel;
        }

        /** The channel visited. */
        public IoChannel<C> channel() {
            return channel;
        }

        /** The channel's context (owned by this reactor). */
        public C context() {
            return channel.context();
        }

        /** The reactor of this hop. */
        public Reactor reactor() {
            return channel.reactor();
        }

        /** {@code continueWalk(status, null)}. */
        public void continueWalk(int status) {
            continueWalk(status, null);
        }

        /**
         * Ends this hop: SPDK's {@code spdk_for_each_channel_continue}. A non-zero status ends the walk.
         * Call once, on this hop's reactor.
         *
         * @throws IllegalStateException on another thread or when called twice
         */
        public void continueWalk(int status, R result) {
            channel.reactor().checkOwner("ChannelHop.continueWalk io_device=", channel.device().name());
            if (continued) {
                throw new IllegalStateException("ChannelHop.continueWalk called twice on " + channel);
            }
            continued = true;
            channel.put();
            walk.owner.reply(() -> walk.onHopReply(channel.reactor().index, status, result, false));
        }

        boolean continued() {
            return continued;
        }
    }

    private final ReactorGroup group;
    /** The originating reactor, or null for an actor originator. */
    private final Reactor originReactor;
    /** The originating actor, or null for a reactor originator. */
    private final ActorOrigin originActor;
    private final Executor originator;
    private final ArrayList<Walk> open = new ArrayList<>();
    private boolean closed;

    private FanOuts(ReactorGroup group, Reactor originReactor, ActorOrigin originActor, Executor originator) {
        this.group = Objects.requireNonNull(group, "group");
        this.originReactor = originReactor;
        this.originActor = originActor;
        this.originator = originator;
    }

    /**
     * What an actor made by {@link #originator(BiFunction)} gets: the source of its {@code FanOuts}, one per
     * reactor group it walks. Use it on the actor's thread only, like the {@code ActorContext}.
     */
    public interface Origin {
        /**
         * A {@code FanOuts} for walks over {@code group}, originated by this actor and closed when it stops or
         * restarts. Each call makes a new one.
         */
        FanOuts fanOuts(ReactorGroup group);
    }

    /**
     * The behavior of an actor that originates fan-outs over one reactor group; see {@link #originator(BiFunction)}.
     *
     * @param group the reactors the walks visit
     * @param factory builds the actor's behavior from its context and its {@code FanOuts}; called once per start
     * @param <T> the actor's protocol
     */
    public static <T> Behavior<T> originator(ReactorGroup group, BiFunction<ActorContext<T>, FanOuts, Behavior<T>> factory) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(factory, "factory");
        return originator((ctx, origin) -> factory.apply(ctx, origin.fanOuts(group)));
    }

    /**
     * The behavior of an actor that originates fan-outs. {@code factory} runs when the actor starts, on its
     * thread, and gets the actor's context and an {@link Origin} that makes its {@code FanOuts}; it returns the
     * actor's behavior. Hop replies come back through the actor's own mailbox and are run by an interceptor placed
     * around that behavior; your protocol needs no message for them. When the actor stops (or restarts under a
     * supervisor), each of its {@code FanOuts} is closed right after the behavior's own {@code PostStop} (or
     * {@code PreRestart}): every walk still in flight releases its context there, once, on the actor's thread, and
     * its completion is not called. Nothing has to be written for it, so it cannot be forgotten (SPDK #1766/#2206).
     *
     * <p>A {@code FanOuts} of the actor may be used only while the actor processes a message or signal (including
     * the factory itself); elsewhere its methods throw {@link IllegalStateException}.
     *
     * @param factory builds the actor's behavior; called once per start (again after a restart)
     * @param <T> the actor's protocol
     */
    public static <T> Behavior<T> originator(BiFunction<ActorContext<T>, Origin, Behavior<T>> factory) {
        Objects.requireNonNull(factory, "factory");
        Behavior<Object> outer = Behaviors.setup(ctx -> {
            ActorOrigin origin = new ActorOrigin(ctx.getSelf());
            @SuppressWarnings("unchecked")
            ActorContext<T> typed = (ActorContext<T>) (ActorContext<?>) ctx;
            Behavior<T> inner;
            Thread prev = origin.enter();
            try {
                inner = Objects.requireNonNull(factory.apply(typed, origin), "FanOuts.originator: the factory returned null");
            } catch (RuntimeException | Error e) {
                origin.closeAll();
                throw e;
            } finally {
                origin.leave(prev);
            }
            return Behaviors.intercept(() -> new OriginatorInterceptor<T>(origin), inner);
        });
        return outer.narrow();
    }

    /**
     * Fan-outs originated by code on reactor {@code origin} (call on it). Hop replies are messages to that
     * reactor; its exit waits for these walks and then closes this object. Use it only on {@code origin}.
     */
    public static FanOuts forReactor(Reactor origin) {
        origin.checkOwner("FanOuts.forReactor");
        FanOuts f = new FanOuts(origin.group(), origin, null, origin::send);
        origin.addOriginator(f);
        return f;
    }

    /** Throws unless the caller runs in the originator's context. */
    private void checkOriginator(String what) {
        if (originReactor != null) {
            originReactor.checkOwner(what, " (originator's reactor)");
        } else if (originActor.thread != Thread.currentThread()) {
            Reactor cur = Reactor.current();
            throw new IllegalStateException(what + ": must be called inside the originating actor's message handling: originator=actor "
                    + originActor.self.path() + " caller=" + (cur == null ? "thread " + Thread.currentThread().getName() : cur.name()));
        }
    }

    /** An actor originator: its {@code FanOuts} and the thread running it right now (null between messages). */
    private static final class ActorOrigin implements Origin {
        final ActorRef<Object> self;
        final ArrayList<FanOuts> all = new ArrayList<>(1);
        Thread thread;

        ActorOrigin(ActorRef<Object> self) {
            this.self = self;
        }

        @Override
        public FanOuts fanOuts(ReactorGroup group) {
            if (thread != Thread.currentThread()) {
                throw new IllegalStateException("FanOuts.Origin.fanOuts: must be called inside the actor's message handling: actor="
                        + self.path() + " caller=thread " + Thread.currentThread().getName());
            }
            FanOuts[] holder = new FanOuts[1];
            FanOuts f = new FanOuts(group, null, this, step -> self.tell(new Hop(holder[0], step)));
            holder[0] = f;
            all.add(f);
            return f;
        }

        Thread enter() {
            Thread prev = thread;
            thread = Thread.currentThread();
            return prev;
        }

        void leave(Thread prev) {
            thread = prev;
        }

        boolean owns(Hop hop) {
            return hop.owner != null && hop.owner.originActor == this;
        }

        void closeAll() {
            for (int i = 0; i < all.size(); i++) {
                all.get(i).close();
            }
        }
    }

    /**
     * Intercepts an actor originator: runs its hop replies and closes its {@code FanOuts} when it stops or
     * restarts. Every message and signal of the actor passes through here, which also marks the actor's thread
     * as the originator's for the duration ({@link #checkOriginator}).
     */
    private static final class OriginatorInterceptor<T> extends BehaviorInterceptor<Object, T> {
        private final ActorOrigin origin;

        OriginatorInterceptor(ActorOrigin origin) {
            super(Object.class);
            this.origin = origin;
        }

        @Override
        @SuppressWarnings("unchecked")
        public Behavior<T> aroundReceive(TypedActorContext<Object> ctx, Object msg, ReceiveTarget<T> target) {
            Thread prev = origin.enter();
            try {
                if (msg instanceof Hop hop && origin.owns(hop)) {
                    hop.step.run();
                    return Behaviors.same();
                }
                return target.apply(ctx, (T) msg);
            } finally {
                origin.leave(prev);
            }
        }

        @Override
        public Behavior<T> aroundSignal(TypedActorContext<Object> ctx, Signal signal, SignalTarget<T> target) {
            Thread prev = origin.enter();
            try {
                return target.apply(ctx, signal);
            } finally {
                if (signal instanceof PostStop || signal instanceof PreRestart) {
                    origin.closeAll();
                }
                origin.leave(prev);
            }
        }
    }

    /** Walks still in flight. */
    public int inFlight() {
        return open.size();
    }

    /**
     * Runs {@code visitor} on every reactor of the group, serially in ascending order: SPDK's
     * {@code spdk_for_each_reactor}. The completion is delivered to the originator by message after the last
     * hop (also for a walk that ends early on a non-zero status or {@link Errno#ESHUTDOWN}), never inline.
     *
     * @param context owned by the originator; released after completion (see the class comment)
     * @throws IllegalStateException after {@link #close()}, or outside the originator's context
     * @throws IllegalArgumentException when the visitor holds the context in one of its fields
     */
    public <X, R> void forEachReactor(X context, ReactorVisitor<X, R> visitor) {
        Objects.requireNonNull(visitor, "visitor");
        checkOriginator("forEachReactor");
        checkOpen("forEachReactor");
        VisitorCaptures.refuseHeldContext("forEachReactor", visitor, context);
        ReactorWalk<X, R> w = new ReactorWalk<>(this, context, visitor);
        open.add(w);
        // started from a message so that even an immediate ESHUTDOWN completion is never inline in this call
        reply(() -> w.sendNext(-1));
    }

    /**
     * Runs {@code visitor} on every reactor that holds a channel of {@code device}, serially in ascending
     * reactor order: SPDK's {@code spdk_for_each_channel}. The next reactor is looked up when the previous
     * hop continues, so channels created meanwhile on later reactors are visited and a channel destroyed
     * before its hop runs is skipped. The completion is always delivered to the originator by message, also
     * when there are no channels (status 0) or the device is unregistering ({@link Errno#ENODEV}). An
     * unregister of the device is answered only after this walk ended: its completion ran and its context
     * was released.
     *
     * @throws IllegalStateException after {@link #close()}, or outside the originator's context
     * @throws IllegalArgumentException when the visitor holds the context in one of its fields
     */
    public <X, C, R> void forEachChannel(IoDevice<C> device, X context, ChannelVisitor<X, C, R> visitor) {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(visitor, "visitor");
        checkOriginator("forEachChannel");
        checkOpen("forEachChannel");
        VisitorCaptures.refuseHeldContext("forEachChannel io_device=" + device.name(), visitor, context);
        if (device.group() != group) {
            throw new IllegalArgumentException("forEachChannel io_device=" + device.name() + ": belongs to another reactor group");
        }
        ChannelWalk<X, C, R> w = new ChannelWalk<>(this, context, visitor, device);
        open.add(w);
        if (!device.walkStarted()) {
            w.deviceHeld = false;
            reply(() -> w.finish(Errno.ENODEV));
            return;
        }
        // the first hop is also sent from a message so the completion is never inline in this call
        reply(() -> w.sendNext(-1));
    }

    private void checkOpen(String what) {
        if (closed) {
            throw new IllegalStateException(what + ": this originator's FanOuts is closed");
        }
    }

    void reply(Runnable step) {
        try {
            originator.execute(step);
        } catch (ReactorStoppedException e) {
            // the originating reactor exited: its close() already released every walk
            LOG.debug("fan-out reply dropped: {}", e.getMessage());
        }
    }

    /**
     * Ends every walk in flight without calling its completion and releases each context exactly once, here,
     * on the originator. Idempotent. Later walks are refused. Called for you when the originator ends (the
     * actor stops or restarts, the reactor exits); call it yourself only to end the walks earlier.
     *
     * @throws IllegalStateException outside the originator's context
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        checkOriginator("FanOuts.close");
        closed = true;
        for (Walk w : new ArrayList<>(open)) {
            w.cutShort();
        }
        open.clear();
    }

    /** Releases a context: closes it when it is {@link AutoCloseable}. */
    static void release(Object context) {
        if (context instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                LOG.error("fan-out context {} failed to release", context, e);
            }
        }
    }

    /** Common walk state; every field is touched on the originator only, except the immutable ones. */
    abstract static class Walk {
        final FanOuts owner;
        final Object context;
        boolean finished;

        Walk(FanOuts owner, Object context) {
            this.owner = owner;
            this.context = context;
        }

        abstract void sendNext(int after);

        /** Folds one hop's result into the context (originator). */
        abstract void fold(int index, Object result);

        abstract void complete(int status);

        /** A hop's reply, on the originator: fold unless skipped or failed, then the next hop or the end. */
        final void hopReplied(int index, int status, Object result, boolean skipped) {
            if (finished) {
                return; // cut short meanwhile
            }
            if (status == Errno.OK && !skipped) {
                try {
                    fold(index, result);
                } catch (Throwable e) {
                    LOG.error("fan-out fold threw; walk ends with EIO", e);
                    status = Errno.EIO;
                }
            }
            if (status != Errno.OK) {
                finish(status);
            } else {
                sendNext(index);
            }
        }

        void onEnd() {
        }

        final void finish(int status) {
            if (finished) {
                return;
            }
            finished = true;
            owner.open.remove(this);
            try {
                complete(status);
            } catch (Throwable e) {
                LOG.error("fan-out completion threw", e);
            } finally {
                release(context);
                // only now may an unregister of the walked device be answered: its reply must not overtake
                // this walk's completion (SPDK posts the completion before re-issuing the deferred unregister)
                onEnd();
            }
        }

        final void cutShort() {
            if (finished) {
                return;
            }
            finished = true;
            release(context);
            onEnd();
        }

        /** Sends {@code hop} to the reactor at {@code index}; ends the walk with ESHUTDOWN if it has exited. */
        final boolean sendHop(int index, Runnable hop) {
            try {
                owner.group.reactor(index).send(hop);
                return true;
            } catch (ReactorStoppedException e) {
                finish(Errno.ESHUTDOWN);
                return false;
            }
        }
    }

    static final class ReactorWalk<X, R> extends Walk {
        private final ReactorVisitor<X, R> visitor;

        ReactorWalk(FanOuts owner, X context, ReactorVisitor<X, R> visitor) {
            super(owner, context);
            this.visitor = visitor;
        }

        @Override
        void sendNext(int after) {
            if (finished) {
                return;
            }
            int next = after + 1;
            if (next >= owner.group.size()) {
                finish(Errno.OK);
                return;
            }
            Reactor r = owner.group.reactor(next);
            sendHop(next, () -> {
                R result = null;
                int status = Errno.OK;
                try {
                    result = visitor.visit(r);
                } catch (Throwable e) {
                    LOG.error("forEachReactor visitor threw on {}; walk ends with EIO", r.name(), e);
                    status = Errno.EIO;
                }
                int st = status;
                R res = result;
                owner.reply(() -> onHopReply(next, st, res));
            });
        }

        private void onHopReply(int index, int status, R result) {
            hopReplied(index, status, result, false);
        }

        @Override
        @SuppressWarnings("unchecked")
        void fold(int index, Object result) {
            visitor.fold((X) context, owner.group.reactor(index), (R) result);
        }

        @Override
        @SuppressWarnings("unchecked")
        void complete(int status) {
            visitor.complete((X) context, status);
        }
    }

    static final class ChannelWalk<X, C, R> extends Walk {
        private final ChannelVisitor<X, C, R> visitor;
        final IoDevice<C> device;
        boolean deviceHeld = true;

        ChannelWalk(FanOuts owner, X context, ChannelVisitor<X, C, R> visitor, IoDevice<C> device) {
            super(owner, context);
            this.visitor = visitor;
            this.device = device;
        }

        @Override
        void onEnd() {
            if (deviceHeld) {
                deviceHeld = false;
                device.walkEnded();
            }
        }

        @Override
        void sendNext(int after) {
            if (finished) {
                return;
            }
            int next = -1;
            for (int i = after + 1; i < owner.group.size(); i++) {
                if (device.hasChannelOn(i)) {
                    next = i;
                    break;
                }
            }
            if (next < 0) {
                finish(Errno.OK);
                return;
            }
            Reactor r = owner.group.reactor(next);
            int idx = next;
            sendHop(next, () -> {
                IoChannel<C> ch = device.channelOn(r);
                if (ch == null || ch.destroyed) {
                    // destroyed before this hop ran: skip it (for_each_channel_remove)
                    owner.reply(() -> onHopReply(idx, Errno.OK, null, true));
                    return;
                }
                ch.refs++; // hold the channel while the visitor runs, released by continueWalk
                ChannelHop<C, R> hop = new ChannelHop<>(this, ch);
                try {
                    visitor.visit(hop);
                } catch (Throwable e) {
                    LOG.error("forEachChannel visitor threw on {} io_device={}; walk ends with EIO", r.name(), device.name(), e);
                    if (!hop.continued()) {
                        hop.continueWalk(Errno.EIO);
                    }
                }
            });
        }

        void onHopReply(int index, int status, R result, boolean skipped) {
            hopReplied(index, status, result, skipped);
        }

        @Override
        @SuppressWarnings("unchecked")
        void fold(int index, Object result) {
            visitor.fold((X) context, owner.group.reactor(index), (R) result);
        }

        @Override
        @SuppressWarnings("unchecked")
        void complete(int status) {
            visitor.complete((X) context, status);
        }
    }
}
