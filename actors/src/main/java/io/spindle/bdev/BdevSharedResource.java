package io.spindle.bdev;

import io.spindle.runtime.Poller;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * What the bdev channels of one reactor that run over the same module channel share: SPDK's
 * {@code spdk_bdev_shared_resource} ({@code io_outstanding}, the NOMEM queue, {@code nomem_threshold}). A module
 * whose bdevs share a device queue (SPDK: several NVMe namespaces on one qpair) returns the same channel object from
 * {@code createChannel} for each of them; their NOMEM-queued I/O then wait in one queue, in order, and retry when
 * I/O of any of them completes, as in SPDK. Each bdev channel that returns its own module channel (the usual case)
 * has its own resource. Held by {@link BdevMgmt} per module channel (by identity), counted by the bdev channels
 * that use it.
 *
 * <p>Owner: its reactor; nothing here is touched from another thread.
 */
final class BdevSharedResource {
    /** How long NOMEM-queued I/O wait when nothing is outstanding to trigger a retry (SPDK: 10 ms). */
    static final long NOMEM_RETRY_MILLIS = 10;

    final Object moduleChannel;
    private final BdevMgmt mgmt;
    int refs;
    /** I/O at the module over this module channel, for every bdev channel sharing it. */
    int ioOutstanding;
    /** I/O the module answered NOMEM (at the head) and those submitted behind them (at the tail). */
    final ArrayDeque<BdevIo> nomemQueue = new ArrayDeque<>(64);
    private int nomemThreshold;
    private Poller nomemRetry;

    BdevSharedResource(BdevMgmt mgmt, Object moduleChannel) {
        this.mgmt = mgmt;
        this.moduleChannel = moduleChannel;
    }

    /** A module NOMEM: requeue at the head; retry at max(outstanding/2, outstanding-8), or in 10 ms if none is out. */
    void onNomem(BdevIo io) {
        nomemQueue.addFirst(io);
        nomemThreshold = Math.max(ioOutstanding / 2, ioOutstanding - 8);
        if (ioOutstanding == 0 && nomemRetry == null) {
            nomemRetry = mgmt.reactor.registerPoller("bdev_nomem_retry", this::onRetryTimer, NOMEM_RETRY_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    /** After a completion: retry the queue once outstanding I/O dropped to the threshold. */
    void afterCompletion() {
        if (!nomemQueue.isEmpty() && ioOutstanding <= nomemThreshold) {
            retry();
        }
    }

    private int onRetryTimer() {
        if (nomemQueue.isEmpty()) {
            return 0;
        }
        retry();
        return 1;
    }

    /** Resubmits from the head, each through its own bdev channel, until the queue is empty or the module says NOMEM again. */
    private void retry() {
        while (!nomemQueue.isEmpty()) {
            BdevIo io = nomemQueue.pollFirst();
            io.channel.resubmitToModule(io);
            if (!nomemQueue.isEmpty() && nomemQueue.peekFirst() == io) {
                break; // NOMEM again: wait for the next trigger
            }
        }
        if (nomemQueue.isEmpty()) {
            stopRetryTimer();
        }
    }

    void stopRetryTimer() {
        if (nomemRetry != null) {
            nomemRetry.unregister();
            nomemRetry = null;
        }
    }
}
