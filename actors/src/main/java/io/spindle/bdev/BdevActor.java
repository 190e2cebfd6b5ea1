package io.spindle.bdev;

import io.spindle.bdev.spi.BdevContext;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.IoDeviceActor;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The actor of one bdev, a child of the bdev registry. It owns the bdev's io_device and every io_device its
 * module registered for it (all are its children), and drives the unregister:
 * <ol>
 *   <li>status UNREGISTERING: new opens fail with ENODEV; a walk over the bdev's channels aborts I/O queued
 *       for module resources;</li>
 *   <li>status REMOVING: REMOVE is delivered to every open descriptor on its own reactor;</li>
 *   <li>when the last descriptor closes: the names are released and every io_device child is unregistered;
 *       each replies only after all its channels were destroyed on their own reactors;</li>
 *   <li>then, and only then, the module's {@code destruct()} (may be asynchronous);</li>
 *   <li>then the reply to the requester, and the actor stops.</li>
 * </ol>
 * A second unregister is answered {@link Errno#EBUSY} at once.
 */
final class BdevActor extends AbstractBehavior<BdevActor.Command> {
    sealed interface Command permits Unregister, AllDescriptorsClosed, DeviceUnregistered, Destructed, SetQos, QosTick,
            GetStats, GetHistogram, Resize, MediaEvent {
    }

    /**
     * Changes the block count when the module accepts it ({@code BdevDriver#acceptResize}); replies 0, the module's
     * errno (ENOTSUP by default), EBUSY (shrinking with open descriptors), EINVAL or ENODEV.
     */
    record Resize(long numBlocks, CompletableFuture<Integer> replyTo) implements Command, Request {
        @Override
        public void answerGone(String bdevName) {
            replyTo.complete(Errno.ENODEV);
        }
    }

    /** Sends MEDIA_MANAGEMENT to every open descriptor. */
    record MediaEvent(CompletableFuture<Integer> replyTo) implements Command, Request {
        @Override
        public void answerGone(String bdevName) {
            replyTo.complete(Errno.ENODEV);
        }
    }

    /** Sets (or with {@link QosLimits#NONE} clears) the QoS limits; replies 0 or an errno. */
    record SetQos(QosLimits limits, CompletableFuture<Integer> replyTo) implements Command, Request {
        @Override
        public void answerGone(String bdevName) {
            replyTo.complete(Errno.ENODEV);
        }
    }

    /** From the QoS poller after each refill: let every channel submit what the new quota admits. */
    enum QosTick implements Command {
        INSTANCE
    }

    /**
     * Stats of every live channel, each read (and then reset as {@code reset} says) on its own reactor, plus
     * those merged from destroyed channels as the first entry (reactor null).
     */
    record GetStats(IoStats.ResetMode reset, CompletableFuture<java.util.List<BdevLayer.ChannelStats>> replyTo) implements Command, Request {
        @Override
        public void answerGone(String bdevName) {
            replyTo.completeExceptionally(new BdevException(Errno.ENODEV, "bdev_get_iostat name=" + bdevName + ": no such bdev"));
        }
    }

    /** Merged latency histogram (null when never enabled). */
    record GetHistogram(CompletableFuture<org.HdrHistogram.Histogram> replyTo) implements Command, Request {
        @Override
        public void answerGone(String bdevName) {
            replyTo.completeExceptionally(new BdevException(Errno.ENODEV, "bdev_get_histogram name=" + bdevName + ": no such bdev"));
        }
    }

    /** Unregister; {@code replyTo} gets the status (0 or a negative errno). */
    record Unregister(CompletableFuture<Integer> replyTo) implements Command, Request {
        @Override
        public void answerGone(String bdevName) {
            replyTo.complete(Errno.ENODEV);
        }
    }

    /**
     * A command that carries a future to answer. Send it with {@link Bdev#request}, never with a bare
     * {@code tell}: should the actor stop before answering it (it stops after its unregister, and messages still
     * in its mailbox or sent later would be dead letters), it is answered {@link #answerGone} instead of never.
     */
    interface Request {
        /** The future the actor answers. */
        CompletableFuture<?> replyTo();

        /** Answers ENODEV (an errno, or a failed stage for the queries): the bdev's actor has stopped. */
        void answerGone(String bdevName);
    }

    enum AllDescriptorsClosed implements Command {
        INSTANCE
    }

    record DeviceUnregistered(IoDeviceActor.Unregistered reply) implements Command {
    }

    record Destructed(Throwable failure) implements Command {
    }

    private final Bdev bdev;
    private final BdevLayer layer;
    private final FanOuts fanOuts;
    private final List<IoDevice<?>> devices = new ArrayList<>();
    private final ActorRef<IoDeviceActor.Unregistered> unregisteredAdapter;
    private CompletableFuture<Integer> requester;
    private int devicesPending;
    private boolean removing;

    /** Set once {@link io.spindle.bdev.spi.BdevDriver#start} has returned: module io_devices are registered only inside it. */
    private boolean driverStarted;

    private BdevActor(ActorContext<Command> ctx, FanOuts fanOuts, Bdev bdev) {
        super(ctx);
        this.bdev = bdev;
        this.layer = bdev.layer;
        this.fanOuts = fanOuts;
        this.unregisteredAdapter = ctx.messageAdapter(IoDeviceActor.Unregistered.class, DeviceUnregistered::new);
        // bdev.actor was set by the registry when it spawned this actor, before the bdev's names were reserved
        IoDevice<BdevChannel> own = IoDevice.register(ctx, layer.reactors(), bdev.name(), new BdevChannelFactory(bdev, layer));
        bdev.ioDevice = own;
        devices.add(own);
        // module io_devices become children of this actor too
        bdev.driver.start(new BdevContext() {
            @Override
            public Bdev bdev() {
                return bdev;
            }

            @Override
            public ReactorGroup reactors() {
                return layer.reactors();
            }

            @Override
            public <C> IoDevice<C> registerIoDevice(String name, ChannelFactory<C> factory) {
                if (driverStarted) {
                    throw new IllegalStateException("BdevContext.registerIoDevice bdev=" + bdev.name() + " io_device=" + name
                            + ": only inside BdevDriver.start; a module io_device must be a child of the bdev's actor, registered "
                            + "before the bdev is visible, so that the bdev's unregister waits for its channels before destruct "
                            + "(rule: children close before the parent destructs, SPDK #3252)");
                }
                IoDevice<C> d = IoDevice.register(getContext(), layer.reactors(), name, factory);
                devices.add(d);
                return d;
            }
        });
        driverStarted = true;
    }

    /** @param started run once the bdev's io_devices exist (the registry then makes the bdev visible) */
    static Behavior<Command> create(Bdev bdev, Runnable started) {
        return FanOuts.originator(bdev.layer.reactors(), (ctx, fanOuts) -> {
            BdevActor a = new BdevActor(ctx, fanOuts, bdev);
            started.run();
            return a;
        });
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Unregister.class, this::onUnregister)
                .onMessageEquals(AllDescriptorsClosed.INSTANCE, this::onAllDescriptorsClosed)
                .onMessage(DeviceUnregistered.class, this::onDeviceUnregistered)
                .onMessage(Destructed.class, this::onDestructed)
                .onMessage(SetQos.class, this::onSetQos)
                .onMessageEquals(QosTick.INSTANCE, this::onQosTick)
                .onMessage(GetStats.class, this::onGetStats)
                .onMessage(GetHistogram.class, this::onGetHistogram)
                .onMessage(Resize.class, this::onResize)
                .onMessage(MediaEvent.class, m -> {
                    m.replyTo().complete(notifyAll(BdevEvent.MEDIA_MANAGEMENT));
                    return this;
                })
                .onSignal(PostStop.class, s -> {
                    bdev.actorStopped(); // requests not answered yet (in the mailbox, or sent from now on) get ENODEV
                    stopQosPoller(); // walks still in flight are released by the FanOuts' own stop hook
                    return this;
                })
                .build();
    }

    private Behavior<Command> onUnregister(Unregister m) {
        synchronized (bdev) {
            if (bdev.status() != Bdev.Status.READY) {
                m.replyTo().complete(Errno.EBUSY);
                return this;
            }
            bdev.setStatus(Bdev.Status.UNREGISTERING);
        }
        requester = m.replyTo();
        stopQosPoller();
        bdev.qos = null;
        layer.trace(bdev, "unregister: aborting queued I/O");
        fanOuts.forEachChannel(bdev.ioDevice, null, new FanOuts.ChannelVisitor<Object, BdevChannel, Integer>() {
            @Override
            public void visit(FanOuts.ChannelHop<BdevChannel, Integer> hop) {
                hop.continueWalk(Errno.OK, hop.context().abortQueued());
            }

            @Override
            public void complete(Object ignored, int status) {
                startRemoving();
            }
        });
        return this;
    }

    private void startRemoving() {
        List<BdevDescriptor> open;
        synchronized (bdev) {
            bdev.setStatus(Bdev.Status.REMOVING);
            open = bdev.descriptors();
        }
        removing = true;
        layer.trace(bdev, "unregister: REMOVE to " + open.size() + " descriptor(s)");
        for (BdevDescriptor d : open) {
            try {
                d.reactor.send(() -> d.deliver(BdevEvent.REMOVE));
            } catch (io.spindle.runtime.ReactorStoppedException e) {
                getContext().getLog().warn("bdev={}: descriptor on exited {} cannot get REMOVE", bdev.name(), d.reactor.name());
            }
        }
        if (open.isEmpty()) {
            unregisterDevices();
        }
    }

    private Behavior<Command> onAllDescriptorsClosed() {
        if (removing && bdev.openDescriptors() == 0) {
            unregisterDevices();
        }
        return this;
    }

    private boolean devicesStarted;

    private void unregisterDevices() {
        if (devicesStarted) {
            return;
        }
        devicesStarted = true;
        layer.removeNames(bdev);
        layer.trace(bdev, "unregister: descriptors closed, unregistering " + devices.size() + " io_device(s)");
        devicesPending = devices.size();
        for (IoDevice<?> d : devices) {
            d.unregister(unregisteredAdapter);
        }
    }

    private Behavior<Command> onDeviceUnregistered(DeviceUnregistered m) {
        layer.trace(bdev, "io_device " + m.reply().device() + " unregistered");
        if (--devicesPending > 0) {
            return this;
        }
        layer.trace(bdev, "destruct begins");
        CompletionStage<Void> stage;
        try {
            stage = bdev.driver.destruct();
        } catch (Throwable e) {
            stage = CompletableFuture.failedFuture(e);
        }
        getContext().pipeToSelf(stage, (ok, err) -> new Destructed(err));
        return this;
    }

    private Behavior<Command> onDestructed(Destructed m) {
        int status = Errno.OK;
        if (m.failure() != null) {
            getContext().getLog().error("bdev={}: destruct failed", bdev.name(), m.failure());
            status = Errno.EIO;
        }
        layer.trace(bdev, "destruct done");
        bdev.setStatus(Bdev.Status.REMOVED);
        layer.forget(bdev);
        requester.complete(status);
        return Behaviors.stopped();
    }

    // ------------------------------------------------------------------ resize and media events

    private Behavior<Command> onResize(Resize m) {
        if (m.numBlocks() <= 0) {
            m.replyTo().complete(Errno.EINVAL);
            return this;
        }
        if (bdev.status() != Bdev.Status.READY) {
            m.replyTo().complete(Errno.ENODEV);
            return this;
        }
        // the module's capability first: a bdev grows only as far as its module's backing store (BdevDriver#acceptResize)
        int accepted;
        try {
            accepted = bdev.driver.acceptResize(bdev, m.numBlocks());
        } catch (Throwable e) {
            getContext().getLog().error("bdev={}: module {} acceptResize(num_blocks={}) threw", bdev.name(), bdev.module().name(),
                    m.numBlocks(), e);
            accepted = Errno.EIO;
        }
        if (accepted != Errno.OK) {
            layer.trace(bdev, "resize to num_blocks=" + m.numBlocks() + " refused by module " + bdev.module().name() + ": "
                    + Errno.name(accepted));
            m.replyTo().complete(accepted < 0 ? accepted : Errno.EIO);
            return this;
        }
        synchronized (bdev) {
            if (bdev.status() != Bdev.Status.READY) {
                m.replyTo().complete(Errno.ENODEV);
                return this;
            }
            if (m.numBlocks() < bdev.numBlocks() && bdev.openDescriptors() > 0) {
                m.replyTo().complete(Errno.EBUSY); // SPDK: shrinking under open descriptors is refused
                return this;
            }
            bdev.setNumBlocks(m.numBlocks());
        }
        notifyAll(BdevEvent.RESIZE);
        m.replyTo().complete(Errno.OK);
        return this;
    }

    /** Sends {@code event} to every open descriptor on its own reactor; returns 0 or ENODEV. */
    private int notifyAll(BdevEvent event) {
        if (bdev.status() != Bdev.Status.READY) {
            return Errno.ENODEV;
        }
        for (BdevDescriptor d : bdev.descriptors()) {
            try {
                d.reactor.send(() -> d.deliver(event));
            } catch (io.spindle.runtime.ReactorStoppedException e) {
                getContext().getLog().warn("bdev={}: {} not delivered to a descriptor on exited {}", bdev.name(), event, d.reactor.name());
            }
        }
        return Errno.OK;
    }

    // ------------------------------------------------------------------ QoS, stats, histograms

    private boolean qosWalkRunning;
    private CompletableFuture<io.spindle.runtime.Poller> qosPollerFuture;

    private Behavior<Command> onSetQos(SetQos m) {
        if (bdev.status() != Bdev.Status.READY) {
            m.replyTo().complete(Errno.ENODEV);
            return this;
        }
        if (m.limits().enabled()) {
            bdev.qos = new Qos(m.limits(), layer.reactors().size());
            startQosPoller();
        } else {
            bdev.qos = null;
            stopQosPoller();
        }
        onQosTick(); // release or re-check what is queued now
        m.replyTo().complete(Errno.OK);
        return this;
    }

    /**
     * The QoS owner: a 1 ms poller on reactor 0 refills the bdev's pool; it sends nothing and allocates nothing (each
     * channel's own poller submits what waited, see {@code BdevChannel#drainQos}).
     */
    private void startQosPoller() {
        if (qosPollerFuture != null) {
            return;
        }
        Reactor owner = layer.reactors().reactor(0);
        CompletableFuture<io.spindle.runtime.Poller> p = new CompletableFuture<>();
        owner.send(() -> p.complete(owner.registerPoller("bdev_qos_" + bdev.name(), () -> {
            Qos q = bdev.qos;
            if (q == null) {
                return 0;
            }
            q.refill();
            return 1;
        }, Qos.SLICE_NANOS, java.util.concurrent.TimeUnit.NANOSECONDS)));
        qosPollerFuture = p;
    }

    private void stopQosPoller() {
        CompletableFuture<io.spindle.runtime.Poller> f = qosPollerFuture;
        if (f == null) {
            return;
        }
        qosPollerFuture = null;
        Reactor owner = layer.reactors().reactor(0);
        try {
            owner.send(() -> f.thenAccept(io.spindle.runtime.Poller::unregister));
        } catch (io.spindle.runtime.ReactorStoppedException e) {
            getContext().getLog().warn("bdev={}: QoS poller left on exited {}", bdev.name(), owner.name());
        }
    }

    private Behavior<Command> onQosTick() {
        if (qosWalkRunning || bdev.status() != Bdev.Status.READY) {
            return this;
        }
        qosWalkRunning = true;
        fanOuts.forEachChannel(bdev.ioDevice, null, new FanOuts.ChannelVisitor<Object, BdevChannel, Integer>() {
            @Override
            public void visit(FanOuts.ChannelHop<BdevChannel, Integer> hop) {
                hop.continueWalk(Errno.OK, hop.context().drainQos());
            }

            @Override
            public void complete(Object ignored, int status) {
                qosWalkRunning = false;
            }
        });
        return this;
    }

    private Behavior<Command> onGetStats(GetStats m) {
        java.util.List<BdevLayer.ChannelStats> acc = new ArrayList<>();
        acc.add(new BdevLayer.ChannelStats(null, bdev.takeMergedStats(m.reset())));
        fanOuts.forEachChannel(bdev.ioDevice, acc, new FanOuts.ChannelVisitor<java.util.List<BdevLayer.ChannelStats>, BdevChannel,
                IoStats>() {
            @Override
            public void visit(FanOuts.ChannelHop<BdevChannel, IoStats> hop) {
                // read and reset in the same hop on the channel's reactor: no I/O is counted twice or lost
                IoStats s = hop.context().stats();
                hop.context().stats.reset(m.reset());
                hop.continueWalk(Errno.OK, s);
            }

            @Override
            public void fold(java.util.List<BdevLayer.ChannelStats> a, Reactor reactor, IoStats s) {
                a.add(new BdevLayer.ChannelStats(reactor, s));
            }

            @Override
            public void complete(java.util.List<BdevLayer.ChannelStats> a, int status) {
                m.replyTo().complete(java.util.List.copyOf(a));
            }
        });
        return this;
    }

    private Behavior<Command> onGetHistogram(GetHistogram m) {
        org.HdrHistogram.Histogram start = bdev.mergedHistogramCopy();
        java.util.List<org.HdrHistogram.Histogram> acc = new ArrayList<>();
        if (start != null) {
            acc.add(start);
        }
        fanOuts.forEachChannel(bdev.ioDevice, acc, new FanOuts.ChannelVisitor<java.util.List<org.HdrHistogram.Histogram>, BdevChannel,
                org.HdrHistogram.Histogram>() {
            @Override
            public void visit(FanOuts.ChannelHop<BdevChannel, org.HdrHistogram.Histogram> hop) {
                org.HdrHistogram.Histogram h = hop.context().histogram;
                hop.continueWalk(Errno.OK, h == null ? null : h.copy());
            }

            @Override
            public void fold(java.util.List<org.HdrHistogram.Histogram> a, Reactor reactor, org.HdrHistogram.Histogram h) {
                if (h != null) {
                    a.add(h);
                }
            }

            @Override
            public void complete(java.util.List<org.HdrHistogram.Histogram> a, int status) {
                if (a.isEmpty()) {
                    m.replyTo().complete(null);
                    return;
                }
                org.HdrHistogram.Histogram out = a.get(0);
                for (int i = 1; i < a.size(); i++) {
                    out.add(a.get(i));
                }
                m.replyTo().complete(out);
            }
        });
        return this;
    }

    /** The bdev's own channel: module channel + this reactor's mgmt channel. */
    static final class BdevChannelFactory implements ChannelFactory<BdevChannel> {
        private final Bdev bdev;
        private final BdevLayer layer;

        BdevChannelFactory(Bdev bdev, BdevLayer layer) {
            this.bdev = bdev;
            this.layer = layer;
        }

        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public BdevChannel create(IoDevice<BdevChannel> device, Reactor reactor) throws Exception {
            IoChannel<BdevMgmt> mgmt = layer.mgmtDevice().getChannel();
            if (mgmt == null) {
                throw new IllegalStateException("bdev layer is shutting down");
            }
            Object moduleCh;
            try {
                moduleCh = ((io.spindle.bdev.spi.BdevDriver) bdev.driver).createChannel(bdev, reactor);
            } catch (Exception e) {
                mgmt.put();
                throw e;
            }
            return new BdevChannel(bdev, reactor, moduleCh, mgmt);
        }

        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public void destroy(IoDevice<BdevChannel> device, Reactor reactor, BdevChannel ch) {
            try {
                // the module first: I/O it still holds may complete in its destroy, and count in the merged stats
                ((io.spindle.bdev.spi.BdevDriver) bdev.driver).destroyChannel(bdev, reactor, ch.moduleChannel);
            } finally {
                ch.destroy();
                ch.mgmtChannel.put();
            }
        }
    }
}
