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
 * <p><b>Nested channels (the rule behind SPDK #3252).</b> A channel's {@link ChannelFactory#create create} may get
 * channels of other io_devices, and its {@link ChannelFactory#destroy destroy} puts them. In SPDK that put is
 * deferred, so the outer device's unregister can complete, and the bdev destruct run, before the nested channel's
 * destroy has run: a use-after-free when that destroy touches what the destruct freed. In Spindle a put made
 * while a destroy runs on this reactor is owed to the channel being destroyed: that channel counts as gone (its
 * device's unregister can complete) only once every such put has been processed, that is once the nested
 * channel's own destroy has finished (recursively), or once the nested channel was found still referenced by
 * another holder or revived. A nested channel got in a create and not put by the matching destroy is reported
 * as an error when that destroy returns. Nothing here costs anything on the data path: it runs only inside a
 * create or a destroy.
 *
 * @param <C> context type made by the device's {@link ChannelFactory}
 */
public final class IoChannel<C> {
    final IoDevice<C> device;
    final Reactor reactor;
    C context; // set once by IoDevice.createChannel before the channel is published
    int refs;
    private boolean destroyPending;
    boolean destroyed;
    private final Runnable deferredDestroy = this::onDeferredDestroy;

    // ---- nested-channel bookkeeping; owner reactor only, touched only inside creates and destroys ----
    /** Channels got (net of puts) while this channel's create ran: what its destroy must put. */
    java.util.ArrayList<IoChannel<?>> nestedHeld;
    /** Puts made by this channel's destroy whose processing has not finished yet. */
    int nestedPending;
    /** This channel's factory destroy has returned (its completion may still wait for {@link #nestedPending}). */
    boolean destroyReturned;
    /** Channels whose destroy put this one and wait until that put was processed. */
    private java.util.ArrayList<IoChannel<?>> releaseWaiters;
    /** The channels whose create got this one and still hold it (one entry per reference): {@link #nestedHeld}'s mirror. */
    private java.util.ArrayList<IoChannel<?>> heldBy;

    IoChannel(IoDevice<C> device, Reactor reactor) {
        this.device = device;
        this.reactor = reactor;
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
        IoChannel<?> creating = reactor.creatingChannel;
        if (creating != null) {
            creating.nestedPut(this); // a channel got and put back inside the same create is not held by it
        } else if (heldBy != null && !heldBy.isEmpty() && reactor.destroyingChannel == null) {
            // a reference a create got, given back while its channel lives (raid dropping a removed base): that
            // channel's destroy no longer owes it. With several holders the put is charged to the latest; the count
            // of references each destroy still owes stays right.
            heldBy.remove(heldBy.size() - 1).nestedHeldRelease(this);
        }
        // every put made while a destroy runs here is owed to the channel being destroyed: it counts as gone only
        // once this put has been processed (see the class comment)
        IoChannel<?> outer = reactor.destroyingChannel;
        boolean owed = outer != null && outer != this;
        if (owed) {
            outer.nestedPutInDestroy(this);
            if (releaseWaiters == null) {
                releaseWaiters = new java.util.ArrayList<>(2);
            }
            releaseWaiters.add(outer);
            outer.nestedPending++;
        }
        if (--refs == 0) {
            if (!destroyPending) {
                destroyPending = true;
                try {
                    reactor.send(deferredDestroy);
                } catch (ReactorStoppedException e) {
                    // only during the reactor's final drain: nothing will run later, destroy now
                    onDeferredDestroy();
                }
            }
        } else if (owed) {
            releaseWaitersNow(); // another holder keeps it: the outer channel's reference is gone, nothing to wait for
        }
    }

    private void onDeferredDestroy() {
        destroyPending = false;
        if (refs > 0) {
            releaseWaitersNow(); // re-acquired before the destroy ran: keep it (channel_destroy_races)
            return;
        }
        device.destroyChannel(this);
    }

    /** Records a nested get made while this channel's create runs. */
    void nestedGot(IoChannel<?> nested) {
        if (nestedHeld == null) {
            nestedHeld = new java.util.ArrayList<>(2);
        }
        nestedHeld.add(nested);
        if (nested.heldBy == null) {
            nested.heldBy = new java.util.ArrayList<>(2);
        }
        nested.heldBy.add(this);
    }

    /** A put made while this channel's create runs: one reference got in the create is given back. */
    void nestedPut(IoChannel<?> nested) {
        if (nestedHeld != null && nestedHeld.remove(nested)) {
            nested.heldBy.remove(this);
        }
    }

    /** A put made while this channel's destroy runs: ticks off one reference its create got. */
    void nestedPutInDestroy(IoChannel<?> nested) {
        nestedPut(nested);
    }

    /** After the report of nested channels this channel did not put back: it no longer holds them. */
    void forgetNested() {
        if (nestedHeld != null) {
            for (int i = 0; i < nestedHeld.size(); i++) {
                java.util.ArrayList<IoChannel<?>> h = nestedHeld.get(i).heldBy;
                if (h != null) {
                    h.remove(this);
                }
            }
            nestedHeld = null;
        }
    }

    /** A reference this channel's create got was put outside any create or destroy: its destroy no longer owes it. */
    private void nestedHeldRelease(IoChannel<?> nested) {
        if (nestedHeld != null) {
            nestedHeld.remove(nested);
        }
    }

    /** Tells every channel whose destroy put this one that the put has been processed. */
    void releaseWaitersNow() {
        java.util.ArrayList<IoChannel<?>> w = releaseWaiters;
        if (w == null || w.isEmpty()) {
            return;
        }
        releaseWaiters = null;
        for (int i = 0; i < w.size(); i++) {
            w.get(i).nestedReleased();
        }
    }

    private void nestedReleased() {
        if (--nestedPending == 0 && destroyReturned) {
            device.channelDestroyFinished(this);
        }
    }

    @Override
    public String toString() {
        return "IoChannel[" + device.name() + "@" + reactor.name() + "]";
    }
}
