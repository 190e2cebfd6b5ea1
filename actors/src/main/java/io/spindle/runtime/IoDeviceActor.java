package io.spindle.runtime;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The actor of one {@link IoDevice}: child of the actor that registered the device, on its dispatcher. It
 * owns the unregister protocol: mark unregistered, wait until channels and channel walks are gone, reply,
 * stop. Its owner therefore cannot finish stopping before every channel of the device has been destroyed,
 * when the owner unregisters its devices before it stops (the Spindle rule).
 *
 * <p>If the owner is stopped without unregistering (a crash), Pekko stops this actor first; it then marks
 * the device unregistered and logs the channels still alive; they are destroyed on their reactors when
 * their holders put them, and the reactor leak report at app stop names any that never are.
 */
public final class IoDeviceActor extends AbstractBehavior<IoDeviceActor.Command> {
    /** Messages of the device actor. */
    public sealed interface Command permits Unregister, CheckDrained {
    }

    /** Unregister the device; the reply comes when it is drained. */
    public record Unregister(ActorRef<Unregistered> replyTo) implements Command {
    }

    /** Internal: a channel or walk count reached zero. */
    enum CheckDrained implements Command {
        INSTANCE
    }

    /**
     * Reply to {@link Unregister}.
     *
     * @param device the device's name
     * @param status {@link Errno#OK}, or {@link Errno#EALREADY} for a second unregister
     */
    public record Unregistered(String device, int status) {
    }

    private final IoDevice<?> device;
    private ActorRef<Unregistered> requester;
    private Reactor pendingOn;
    private boolean done;

    private IoDeviceActor(ActorContext<Command> ctx, IoDevice<?> device) {
        super(ctx);
        this.device = device;
    }

    static Behavior<Command> create(IoDevice<?> device) {
        return Behaviors.setup(ctx -> new IoDeviceActor(ctx, device));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Unregister.class, this::onUnregister)
                .onMessageEquals(CheckDrained.INSTANCE, this::onCheckDrained)
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    private Behavior<Command> onUnregister(Unregister m) {
        if (requester != null) {
            m.replyTo().tell(new Unregistered(device.name(), Errno.EALREADY));
            return this;
        }
        requester = m.replyTo();
        device.markUnregistered();
        // SPDK's pending_unregister_count: the reactor this actor runs on must not finish exiting before
        // the reply has been sent (it lands in that reactor's queue when the requester lives there too)
        pendingOn = Reactor.current();
        if (pendingOn != null) {
            pendingOn.pendingUnregisters++;
        }
        return onCheckDrained();
    }

    private Behavior<Command> onCheckDrained() {
        if (requester == null || done || !device.drained()) {
            return this;
        }
        done = true;
        device.removedFromGroupIfDrained();
        requester.tell(new Unregistered(device.name(), Errno.OK));
        if (pendingOn != null) {
            pendingOn.pendingUnregisters--;
            pendingOn = null;
        }
        return Behaviors.stopped();
    }

    private Behavior<Command> onPostStop() {
        if (!done) {
            device.markUnregistered();
            int live = device.liveChannels();
            if (live > 0) {
                getContext().getLog().error("io_device {} stopped by its owner with {} live channel(s) not unregistered first; "
                        + "they are destroyed when their holders put them", device.name(), live);
            }
            device.removedFromGroupIfDrained();
            if (pendingOn != null) {
                pendingOn.pendingUnregisters--;
            }
        }
        return this;
    }
}
