package io.spindle.bdev.actor;

import io.spindle.bdev.DmaBuffer;

/**
 * One forwarded request on its way through a reactor: the task the server sends to the reactor, then the
 * callback argument of the bdev I/O. Created by the server actor; from the {@code send} on, touched only on
 * the shard's reactor.
 */
final class Op implements Runnable {
    final ReactorShard shard;
    final BdevServer.Request request;
    final long length;
    /** The pooled (or, beyond 128 KiB, temporary) buffer of a read or write; null otherwise. */
    DmaBuffer buf;

    Op(ReactorShard shard, BdevServer.Request request) {
        this.shard = shard;
        this.request = request;
        this.length = BdevServer.length(request);
    }

    @Override
    public void run() {
        shard.onRequest(this);
    }
}
