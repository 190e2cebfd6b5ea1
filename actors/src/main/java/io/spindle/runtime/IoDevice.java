package io.spindle.runtime;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An io_device: something that hands out one channel per reactor (SPDK's {@code spdk_io_device_register}).
 * Its life-cycle is an actor, a child of the actor that registered it, so the owner cannot finish stopping
 * before the device's actor has.
 *
 * <p><b>Channels.</b> {@link #getChannel()} on a reactor returns that reactor's channel, creating it on
 * first use (the factory's create runs right there, on the calling reactor) and taking a reference
 * otherwise; the later gets are allocation-free. See {@link IoChannel} for put. When no channel can be had
 * (the device is unregistered, or the create failed) {@code getChannel()} returns {@code null}, as SPDK's
 * {@code spdk_get_io_channel}; {@link #getChannelOrThrow()} throws an {@link IoChannelException} carrying the
 * errno and the factory's exception instead.
 *
 * <p><b>Unregister.</b> {@link #unregister(ActorRef)} makes new gets fail at once; the reply
 * {@link IoDeviceActor.Unregistered} reaches the requester only after the last channel was destroyed on its
 * own reactor and after every in-flight {@link FanOuts#forEachChannel channel walk} ended. The device actor
 * then stops. While an unregister is pending, the reactor the device actor runs on (if any) cannot finish
 * exiting.
 *
 * <p>Thread-safe: {@link #getChannel()} is for reactors of the device's group; everything else any thread.
 *
 * @param <C> channel context type
 */
public final class IoDevice<C> {
    private static final Logger LOG = LoggerFactory.getLogger(IoDevice.class);
    private static final VarHandle SLOTS = MethodHandles.arrayElementVarHandle(IoChannel[].class);

    private final ReactorGroup group;
    private final String name;
    private final ChannelFactory<C> factory;
    private final IoChannel<?>[] channels;
    private final AtomicInteger liveChannels = new AtomicInteger();
    private final AtomicInteger walks = new AtomicInteger();
    private volatile boolean unregistered;
    private volatile ActorRef<IoDeviceActor.Command> actor;

    private IoDevice(ReactorGroup group, String name, ChannelFactory<C> factory) {
        this.group = group;
        this.name = name;
        this.factory = factory;
        this.channels = new IoChannel<?>[group.size()];
    }

    /**
     * Registers an io_device owned by the actor of {@code owner}: spawns its actor as a child of the owner,
     * on the owner's dispatcher. Call on the owner's thread (inside its message handling).
     *
     * <p>Bdev modules register the io_devices of a bdev through {@code BdevContext.registerIoDevice} instead, so
     * that they are children of the bdev's actor. A channel of any device that a bdev channel's create gets and
     * its destroy puts is waited for before the bdev's destruct either way (see {@link IoChannel}).
     *
     * @param name a name for logs, leak reports and {@code thread_get_io_channels}
     * @throws IllegalStateException when called outside the owner's message handling (a future's callback,
     *         another thread)
     */
    public static <C> IoDevice<C> register(ActorContext<?> owner, ReactorGroup group, String name, ChannelFactory<C> factory) {
        Objects.requireNonNull(owner, "owner");
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(factory, "factory");
        IoDevice<C> d = new IoDevice<>(group, name, factory);
        try {
            d.actor = owner.spawnAnonymous(IoDeviceActor.create(d), org.apache.pekko.actor.typed.DispatcherSelector.sameAsParent());
        } catch (UnsupportedOperationException e) {
            // Pekko's check that the ActorContext is used on the actor's own thread
            throw new IllegalStateException("IoDevice.register io_device=" + name + ": must be called inside the owner actor's message "
                    + "handling, owner=" + owner.getSelf().path() + " caller=thread " + Thread.currentThread().getName()
                    + " (the device's actor is a child of its owner, so the owner cannot stop before the device's channels are gone)", e);
        }
        group.addDevice(d);
        return d;
    }

    /** The device's name. */
    public String name() {
        return name;
    }

    /** The group whose reactors may hold channels of this device. */
    public ReactorGroup group() {
        return group;
    }

    /** The device's actor (child of its owner). */
    public ActorRef<IoDeviceActor.Command> actor() {
        return actor;
    }

    /** Whether an unregister was requested (new gets fail). */
    public boolean isUnregistered() {
        return unregistered;
    }

    /** Channels alive on all reactors (including ones waiting for their deferred destroy). */
    public int liveChannels() {
        return liveChannels.get();
    }

    /**
     * Gets this reactor's channel: SPDK's {@code spdk_get_io_channel}. Must be called on a reactor of the
     * device's group.
     *
     * @return the channel with one more reference, or {@code null} when the device is unregistered or the
     *         factory's create failed (logged with its cause; {@link #getChannelOrThrow()} hands the cause to
     *         the caller instead); a {@code null} leaves nothing behind
     * @throws IllegalStateException when not called on a reactor of this device's group
     */
    public IoChannel<C> getChannel() {
        Reactor r = callingReactor();
        @SuppressWarnings("unchecked")
        IoChannel<C> ch = (IoChannel<C>) channels[r.index];
        if (ch != null) {
            if (unregistered) {
                return null; // every get fails once unregister was requested, also where a channel still lives
            }
            ch.refs++;
            if (r.creatingChannel != null) {
                r.creatingChannel.nestedGot(ch);
            }
            return ch;
        }
        try {
            return createChannel(r);
        } catch (IoChannelException e) {
            LOG.warn("io_device={} {}: channel create failed; no channel returned", name, r.name(), e.getCause());
            return null;
        }
    }

    /**
     * {@link #getChannel()} for a caller that wants to know why there is no channel. Same fast path (no
     * allocation when the channel exists); the exception is built only on failure.
     *
     * @return the channel with one more reference, never {@code null}
     * @throws IoChannelException with {@link Errno#ENODEV} when the device is unregistered, or with the
     *         factory's exception as its cause when the create failed; either way nothing is left behind
     * @throws IllegalStateException when not called on a reactor of this device's group
     */
    public IoChannel<C> getChannelOrThrow() {
        Reactor r = callingReactor();
        @SuppressWarnings("unchecked")
        IoChannel<C> ch = (IoChannel<C>) channels[r.index];
        if (ch != null && !unregistered) {
            ch.refs++;
            if (r.creatingChannel != null) {
                r.creatingChannel.nestedGot(ch);
            }
            return ch;
        }
        ch = unregistered ? null : createChannel(r);
        if (ch == null) {
            throw new IoChannelException(name, r.name(), Errno.ENODEV, "io_device unregistered", null);
        }
        return ch;
    }

    private Reactor callingReactor() {
        Reactor r = Reactor.current();
        if (r == null || r.group != group) {
            throw new IllegalStateException("getChannel io_device=" + name + ": must run on a reactor of group " + group.id()
                    + ", caller=" + (r == null ? "thread " + Thread.currentThread().getName() : r.name() + " of group " + r.group.id()));
        }
        return r;
    }

    /**
     * Creates the channel on {@code r}: null when the device is unregistered, {@link IoChannelException} (cause:
     * the factory's exception) when the create failed. Either way the live count is back where it was.
     */
    private IoChannel<C> createChannel(Reactor r) {
        // increment before checking the flag: with unregister's write-then-read this guarantees that either we
        // see the flag, or the unregistering side sees our count and waits for this channel
        liveChannels.incrementAndGet();
        if (unregistered) {
            channelGone();
            return null;
        }
        IoChannel<C> ch = new IoChannel<>(this, r);
        IoChannel<?> outer = r.creatingChannel;
        r.creatingChannel = ch; // gets made by this create are nested channels of ch
        try {
            ch.context = factory.create(this, r);
        } catch (Throwable e) {
            r.creatingChannel = outer;
            channelGone();
            if (ch.nestedHeld != null && !ch.nestedHeld.isEmpty()) {
                LOG.error("io_device={} {}: channel create failed without putting back the nested channel(s) it got: {}; "
                        + "a failing create must put what it got (ChannelFactory)", name, r.name(), ch.nestedHeld);
                ch.forgetNested();
            }
            int errno = e instanceof IoChannelException nested ? nested.errno() : Errno.EIO;
            throw new IoChannelException(name, r.name(), errno, "channel create failed: " + e, e);
        }
        r.creatingChannel = outer;
        SLOTS.setRelease(channels, r.index, ch);
        r.channelCount++;
        if (outer != null) {
            outer.nestedGot(ch);
        }
        return ch;
    }

    /**
     * Runs the factory's destroy of {@code ch} on its reactor. The channel counts as gone (and its device may
     * complete an unregister) only after every put the destroy made has been processed: see {@link IoChannel}.
     */
    void destroyChannel(IoChannel<C> ch) {
        Reactor r = ch.reactor;
        SLOTS.setRelease(channels, r.index, (IoChannel<?>) null);
        r.channelCount--;
        ch.destroyed = true;
        IoChannel<?> outer = r.destroyingChannel;
        r.destroyingChannel = ch; // puts made by this destroy are owed to ch
        try {
            factory.destroy(this, r, ch.context);
        } catch (Throwable e) {
            LOG.error("io_device={} {}: channel destroy threw", name, r.name(), e);
        } finally {
            r.destroyingChannel = outer;
        }
        if (ch.nestedHeld != null && !ch.nestedHeld.isEmpty()) {
            LOG.error("io_device={} {}: channel destroy did not put the nested channel(s) its create got: {}; they stay "
                    + "alive (reactor leak report) and are not waited for", name, r.name(), ch.nestedHeld);
            ch.forgetNested();
        }
        ch.destroyReturned = true;
        if (ch.nestedPending == 0) {
            channelDestroyFinished(ch);
        }
    }

    /** {@code ch}'s destroy and every nested release it owed are done: the channel is gone. */
    void channelDestroyFinished(IoChannel<?> ch) {
        channelGone();
        ch.releaseWaitersNow();
    }

    /** The channel on {@code r}, or null; a racy hint from other threads, exact on {@code r}. */
    @SuppressWarnings("unchecked")
    IoChannel<C> channelOn(Reactor r) {
        return (IoChannel<C>) SLOTS.getAcquire(channels, r.index);
    }

    /** Whether reactor {@code index} currently has a channel of this device (a hint off that reactor). */
    public boolean hasChannelOn(int index) {
        return SLOTS.getAcquire(channels, index) != null;
    }

    private void channelGone() {
        if (liveChannels.decrementAndGet() == 0 && unregistered) {
            maybeDone();
        }
    }

    /** A channel walk starts; false when the device is unregistered (the walk must end with ENODEV). */
    boolean walkStarted() {
        walks.incrementAndGet();
        if (unregistered) {
            walkEnded();
            return false;
        }
        return true;
    }

    void walkEnded() {
        if (walks.decrementAndGet() == 0 && unregistered) {
            maybeDone();
        }
    }

    /** Called by the device actor on its thread. */
    void markUnregistered() {
        unregistered = true;
    }

    boolean drained() {
        return liveChannels.get() == 0 && walks.get() == 0;
    }

    private void maybeDone() {
        if (drained()) {
            group.removeDevice(this);
            ActorRef<IoDeviceActor.Command> a = actor;
            if (a != null) {
                a.tell(IoDeviceActor.CheckDrained.INSTANCE);
            }
        }
    }

    void removedFromGroupIfDrained() {
        if (drained()) {
            group.removeDevice(this);
        }
    }

    /**
     * Unregisters the device: new gets fail at once; {@code replyTo} gets
     * {@link IoDeviceActor.Unregistered} when every channel is destroyed and every channel walk ended.
     * A second unregister is answered at once with status {@link Errno#EALREADY}. Any thread.
     */
    public void unregister(ActorRef<IoDeviceActor.Unregistered> replyTo) {
        actor.tell(new IoDeviceActor.Unregister(replyTo));
    }

    @Override
    public String toString() {
        return "IoDevice[" + name + "]";
    }
}
