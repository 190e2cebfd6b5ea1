package io.spindle.app;

import io.spindle.runtime.FanOuts;
import io.spindle.runtime.ReactorGroup;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;

/**
 * What a {@link Subsystem} gets from the app. Every method must be called on the app actor's thread, i.e.
 * synchronously inside {@link Subsystem#init} or {@link Subsystem#fini}.
 */
public interface SubsystemContext {
    /** The reactors. */
    ReactorGroup reactors();

    /** The ActorSystem Spindle runs in (its own when standalone, the user's when embedded). */
    ActorSystem<?> system();

    /** The app configuration. */
    SpindleConfig config();

    /**
     * The Spindle handle of this app (the one {@link Spindle#start} returns or {@link SpindleApp.Started} carries), for
     * a subsystem that keeps it to act later (e.g. call methods in-process through {@link io.spindle.rpc.RpcDispatcher}).
     */
    default Spindle spindle() {
        throw new UnsupportedOperationException("this SubsystemContext has no Spindle handle");
    }

    /**
     * Spawns an actor as a child of the app actor, so it is stopped before the reactors exit. Use
     * {@code reactors().reactor(i).dispatcher()} as props to place it on a reactor.
     */
    <T> ActorRef<T> spawn(Behavior<T> behavior, String name, Props props);

    /** The app actor's fan-outs: walks originated here reply to the app actor. */
    FanOuts fanOuts();
}
