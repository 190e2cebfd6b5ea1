package io.spindle.runtime;

/**
 * The channel of one io_device on one reactor: SPDK's {@code spdk_io_channel}. At most one exists per
 * (reactor, io_device); it is reference counted.
 *
 * <p><b>Thread and ownership:</b> a channel belongs to its reactor. {@link #ref()}, {@link #put()} and
 * {@link #context()} are for that reactor only ({@link IllegalStateException} elsewhere). The last
 * {@link #put()} does not destroy inline: it queues the destroy as a message on the same reactor, and a
 * {@link IoDevice#getChannel()} on that reactor before the message runs revives the channel.
 *
 * @param <C> context type made by the device's {@link ChannelFactory}
 */
public final class IoChannel<C> {
    final IoDevice<C> device;
    final Reactor reactor;
    final C context;
    int refs;
    private boolean destroyPending;
    boolean destroyed;
    private final Runnable deferredDestroy = this::onDeferredDestroy;

    IoChannel(IoDevice<C> device, Reactor reactor, C context) {
        this.device = device;
        this.reactor = reactor;
        this.context = context;
        this.refs = 1;
    }

    /** The context the factory created. Owner reactor only. */
    public C context() {
        return context;
    }

    /** The reactor that owns this channel. */
    public Reactor reactor() {
        return reactor;
    }

    /** The io_device this channel belongs to. */
    public IoDevice<C> device() {
        return device;
    }

    /** Current reference count. Owner reactor only. */
    public int refs() {
        reactor.checkOwner("IoChannel.refs io_device=", device.name());
        return refs;
    }

    /** Takes an extra reference: SPDK's {@code spdk_io_channel_ref}. Owner reactor only. */
    public void ref() {
        reactor.checkOwner("IoChannel.ref io_device=", device.name());
        if (destroyed) {
            throw new IllegalStateException("IoChannel.ref io_device=" + device.name() + " on " + reactor.name() + ": channel destroyed");
        }
        refs++;
    }

    /**
     * Drops one reference: SPDK's {@code spdk_put_io_channel}. At zero the destroy is queued as a message on
     * this reactor. Owner reactor only.
     *
     * @throws IllegalStateException on another thread, or when no reference is held
     */
    public void put() {
        reactor.checkOwner("IoChannel.put io_device=", device.name());
        if (refs <= 0) {
            throw new IllegalStateException("IoChannel.put io_device=" + device.name() + " on " + reactor.name() + ": refs=" + refs);
        }
        if (--refs == 0 && !destroyPending) {
            destroyPending = true;
            try {
                reactor.send(deferredDestroy);
            } catch (ReactorStoppedException e) {
                // only during the reactor's final drain: nothing will run later, destroy now
                onDeferredDestroy();
            }
        }
    }

    private void onDeferredDestroy() {
        destroyPending = false;
        if (refs > 0) {
            return; // re-acquired before the destroy ran: keep it (channel_destroy_races)
        }
        device.destroyChannel(this);
    }

    @Override
    public String toString() {
        return "IoChannel[" + device.name() + "@" + reactor.name() + "]";
    }
}
