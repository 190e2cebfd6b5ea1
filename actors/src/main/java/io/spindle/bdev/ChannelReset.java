package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Poller;

import java.util.concurrent.TimeUnit;

/**
 * The reset state machine of one {@link BdevChannel}, for a reset submitted on it (SPDK's {@code spdk_bdev_reset},
 * {@code bdev_start_reset}):
 * <ol>
 * <li>freeze every channel of the bdev with a walk originated on this reactor, aborting what the layer queues there
 *     (I/O submitted to a frozen channel completes ABORTED);</li>
 * <li>when the bdev has a {@link Bdev#resetIoDrainTimeout() reset_io_drain_timeout}, wait until no channel has I/O at
 *     the module, looking every {@link #DRAIN_CHECK_MILLIS} ms: if they drain in time the module is not reset at
 *     all, else it is reset when the timeout expires; with 0 the module is reset at once, as SPDK does;</li>
 * <li>the module's RESET;</li>
 * <li>unfreeze every channel;</li>
 * <li>the caller's completion, then the reset's own channel reference is put.</li>
 * </ol>
 * A reset submitted while another is in progress on the bdev waits for it ({@link Bdev#beginReset}) and is started
 * on its own channel's reactor when that one ends. The stage is the I/O's {@code resetStage} (0 freezing, 1 at the
 * module, 2 unfreezing). The walks' visitors are shared and stateless: the reset I/O is the walk's context, so a
 * reset allocates no visitor.
 *
 * <p>Threading and ownership: made by and owned by its {@link BdevChannel}; used only on the channel's reactor (the
 * walks' hops run on the other channels' reactors and touch only their own channel). It owns the drain timer and
 * the reset that waits for it; the frozen flag it sets is the channel's.
 */
final class ChannelReset {
    /** How often a reset with a drain timeout looks again for outstanding I/O (SPDK looks every second). */
    static final long DRAIN_CHECK_MILLIS = 10;

    private final BdevChannel ch;
    /** The reset of this channel waiting for outstanding I/O to drain, and the timer that looks again; or null. */
    private BdevIo resetDraining;
    private Poller resetDrainTimer;

    ChannelReset(BdevChannel ch) {
        this.ch = ch;
    }

    /** A reset submitted on this channel: it runs now, or queues behind the bdev's reset in progress. */
    void start(BdevIo reset) {
        if (!ch.bdev.beginReset(reset)) {
            return; // queued behind the reset in progress; started by its end
        }
        run(reset);
    }

    private void run(BdevIo reset) {
        ch.mgmt.fanOuts.forEachChannel(ch.bdev.ioDevice, reset, RESET_FREEZE);
    }

    private static final FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> RESET_FREEZE = new FanOuts.ChannelVisitor<>() {
        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            BdevChannel c = hop.context();
            c.frozen = true;
            c.abortQueued();
            hop.continueWalk(Errno.OK);
        }

        @Override
        public void complete(BdevIo reset, int status) {
            reset.channel.resets.afterFreeze(reset);
        }
    };

    /** Every channel is frozen: drain first (a drain timeout is set), or reset the module now. */
    private void afterFreeze(BdevIo reset) {
        int timeout = ch.bdev.resetIoDrainTimeout;
        if (timeout == 0 || ch.destroyed) {
            submitToModule(reset);
            return;
        }
        reset.resetDrainDeadline = ch.reactor.now() + TimeUnit.SECONDS.toNanos(timeout);
        ch.mgmt.fanOuts.forEachChannel(ch.bdev.ioDevice, reset, RESET_CHECK_OUTSTANDING);
    }

    /** SPDK's {@code bdev_reset_check_outstanding_io}: the first channel with I/O at the module ends the walk with EBUSY. */
    private static final FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> RESET_CHECK_OUTSTANDING = new FanOuts.ChannelVisitor<>() {
        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            hop.continueWalk(hop.context().ioOutstanding > 0 ? Errno.EBUSY : Errno.OK);
        }

        @Override
        public void complete(BdevIo reset, int status) {
            reset.channel.resets.afterDrainCheck(reset, status);
        }
    };

    private void afterDrainCheck(BdevIo reset, int status) {
        if (status == Errno.OK) {
            // drained within the timeout: SPDK skips the module reset and completes the reset SUCCESS
            reset.completed = true;
            reset.status = IoStatus.SUCCESS;
            unfreezeAndComplete(reset);
        } else if (status == Errno.EBUSY && ch.reactor.now() - reset.resetDrainDeadline < 0 && !ch.destroyed) {
            resetDraining = reset;
            resetDrainTimer = ch.reactor.registerPoller("bdev_reset_drain_" + ch.bdev.name(), this::onDrainTimer,
                    DRAIN_CHECK_MILLIS, TimeUnit.MILLISECONDS);
        } else {
            submitToModule(reset); // the timeout passed with I/O still out (or a reactor is gone): reset the device
        }
    }

    private int onDrainTimer() {
        resetDrainTimer.unregister();
        resetDrainTimer = null;
        BdevIo reset = resetDraining;
        resetDraining = null;
        ch.mgmt.fanOuts.forEachChannel(ch.bdev.ioDevice, reset, RESET_CHECK_OUTSTANDING);
        return 1;
    }

    private void submitToModule(BdevIo reset) {
        if (ch.destroyed) {
            // this channel's module channel is gone: nothing to reset through; end the reset, unfreeze the others
            reset.completed = true;
            reset.status = IoStatus.ABORTED;
            unfreezeAndComplete(reset);
            return;
        }
        reset.type = IoType.RESET;
        // the module's RESET completion lands in onModuleComplete -> finish -> unfreezeAndComplete
        reset.resetStage = 1;
        ch.submits.toModule(reset);
    }

    /** The reset is done (by the module, or drained without it): unfreeze every channel, then complete to the caller. */
    void unfreezeAndComplete(BdevIo reset) {
        reset.resetStage = 2;
        ch.mgmt.fanOuts.forEachChannel(ch.bdev.ioDevice, reset, RESET_UNFREEZE);
    }

    private static final FanOuts.ChannelVisitor<BdevIo, BdevChannel, Object> RESET_UNFREEZE = new FanOuts.ChannelVisitor<>() {
        @Override
        public void visit(FanOuts.ChannelHop<BdevChannel, Object> hop) {
            hop.context().frozen = false;
            hop.continueWalk(Errno.OK);
        }

        @Override
        public void complete(BdevIo reset, int status) {
            BdevChannel c = reset.channel;
            BdevIo next = c.bdev.endReset();
            IoChannel<BdevChannel> ref = reset.resetChannelRef;
            c.finish(reset);
            if (ref != null) {
                ref.put(); // after the callback: the channel may be destroyed now (a message on this reactor)
            }
            if (next != null) {
                next.channel.reactor.send(() -> next.channel.resets.run(next));
            }
        }
    };

    /**
     * The channel is destroyed (its module channel is gone): a reset of this channel that waits for I/O to drain
     * ends ABORTED; the other channels are unfrozen by the walk that completes it.
     */
    void destroy() {
        if (resetDraining != null) {
            resetDrainTimer.unregister();
            resetDrainTimer = null;
            BdevIo r = resetDraining;
            resetDraining = null;
            r.completed = true;
            r.status = IoStatus.ABORTED;
            unfreezeAndComplete(r);
        }
    }
}
