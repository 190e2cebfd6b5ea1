package io.spindle.app;

import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorStats;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The actor of one reactor, {@code reactor-<core>} under the app actor, placed on that reactor's dispatcher.
 * It lives as long as the app, which keeps Pekko from retiring the dispatcher, and answers questions that
 * must be asked on the reactor itself.
 */
public final class ReactorActor {
    /** Messages of a reactor actor. */
    public sealed interface Command permits GetStats, Run {
    }

    /** Replies with the reactor's stats taken on the reactor (exact poller and channel counts). */
    public record GetStats(ActorRef<ReactorStats> replyTo) implements Command {
    }

    /** Runs {@code task} on the reactor, inside this actor. */
    public record Run(Runnable task) implements Command {
    }

    private ReactorActor() {
    }

    /** The behavior for {@code reactor}; spawn it with {@code reactor.dispatcher()}. */
    public static Behavior<Command> create(Reactor reactor) {
        return Behaviors.setup(ctx -> {
            if (Reactor.current() != reactor) {
                throw new IllegalStateException("ReactorActor for " + reactor.name() + " started on "
                        + Thread.currentThread().getName() + ": spawn it with reactor.dispatcher()");
            }
            return Behaviors.receive(Command.class)
                    .onMessage(GetStats.class, m -> {
                        m.replyTo().tell(reactor.stats());
                        return Behaviors.same();
                    })
                    .onMessage(Run.class, m -> {
                        m.task().run();
                        return Behaviors.same();
                    })
                    .build();
        });
    }
}
