package io.spindle.bdev.actor;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

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
 */
final class ShardActor extends AbstractBehavior<BdevServer.ShardCommand> {
    /** Sent by the shard, on its reactor, once it has closed: the actor stops while the reactor still runs. */
    enum Stop implements BdevServer.ShardCommand {
        INSTANCE
    }

    private final ReactorShard shard;

    private ShardActor(ActorContext<BdevServer.ShardCommand> ctx, ReactorShard shard) {
        super(ctx);
        this.shard = shard;
    }

    static Behavior<BdevServer.ShardCommand> create(ReactorShard shard) {
        return Behaviors.setup(ctx -> new ShardActor(ctx, shard));
    }

    @Override
    public Receive<BdevServer.ShardCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(BdevServer.Submit.class, this::onSubmit)
                .onMessage(BdevServer.Read.class, this::onRequest)
                .onMessage(BdevServer.Write.class, this::onRequest)
                .onMessage(BdevServer.Flush.class, this::onRequest)
                .onMessage(BdevServer.Unmap.class, this::onRequest)
                .onMessage(BdevServer.WriteZeroes.class, this::onRequest)
                .onMessageEquals(Stop.INSTANCE, Behaviors::stopped)
                .build();
    }

    private Behavior<BdevServer.ShardCommand> onSubmit(BdevServer.Submit m) {
        shard.onSubmit(m);
        return this;
    }

    private Behavior<BdevServer.ShardCommand> onRequest(BdevServer.Request r) {
        shard.onDirect(r);
        return this;
    }
}
