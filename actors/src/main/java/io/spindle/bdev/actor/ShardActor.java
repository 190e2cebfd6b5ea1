package io.spindle.bdev.actor;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.ExtensibleBehavior;
import org.apache.pekko.actor.typed.Signal;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The actor face of one {@link ReactorShard}: spawned by the {@link BdevServer} on the shard's reactor
 * dispatcher, so that every message it gets runs on that reactor and calls the shard directly. It is what
 * {@link BdevServer.Shard#ref()} points to: single {@link BdevServer.Request}s and {@link BdevServer.Submit}
 * batches sent here skip the server actor.
 *
 * <p>Thread: the shard's reactor (its dispatcher). It owns nothing itself: the shard's life-cycle is driven
 * by the server (open, shutdown) and the bdev (REMOVE). Once the shard has closed (everything it accepted
 * answered), the shard stops this actor, on the reactor, with {@link Stop}: an actor placed on a reactor must
 * not outlive it (Spindle's stop removes every bdev first, so the shards close, and their actors stop, before
 * the reactors exit). {@code Stop} is an ordinary message, queued behind whatever reached the mailbox before
 * the shard closed, and all of that is answered first (refused with the reason). That is why this actor lives
 * in the system namespace rather than as the server's child: Pekko would stop a child, when its parent stops,
 * by a system message that overtakes the mailbox and drops it unanswered. Messages sent after the
 * {@code Stop} are dead letters; requesters watch the shard to learn it.
 *
 * <p>It is a plain {@link ExtensibleBehavior} that answers {@link Behaviors#same()}: no receive builder lookup
 * and no behavior re-wrapping per message, which on this path (one message per batch) is measurable.
 */
final class ShardActor extends ExtensibleBehavior<BdevServer.ShardCommand> {
    /** Sent by the shard, on its reactor, once it has closed: the actor stops while the reactor still runs. */
    enum Stop implements BdevServer.ShardCommand {
        INSTANCE
    }

    private final ReactorShard shard;

    private ShardActor(ReactorShard shard) {
        this.shard = shard;
    }

    static Behavior<BdevServer.ShardCommand> create(ReactorShard shard) {
        return new ShardActor(shard);
    }

    @Override
    public Behavior<BdevServer.ShardCommand> receive(TypedActorContext<BdevServer.ShardCommand> ctx, BdevServer.ShardCommand msg) {
        if (msg instanceof BdevServer.Submit m) {
            shard.onSubmit(m);
        } else if (msg instanceof BdevServer.Request r) {
            shard.onDirect(r);
        } else if (msg == Stop.INSTANCE) {
            return Behaviors.stopped();
        } else {
            return Behaviors.unhandled();
        }
        return Behaviors.same();
    }

    @Override
    public Behavior<BdevServer.ShardCommand> receiveSignal(TypedActorContext<BdevServer.ShardCommand> ctx, Signal signal) {
        return Behaviors.same();
    }
}
