package io.spindle.bdev.actor;

import io.spindle.bdev.io.IoType;

/**
 * One I/O on its way through a reactor's shard: the callback argument of the bdev I/O, and what the answer
 * needs. Three kinds:
 * <ul>
 *   <li>forwarded by the server actor ({@link #forwarded}): allocated there, its in-flight slot already taken,
 *       then sent to the reactor as a task ({@link #run()});</li>
 *   <li>a single {@link BdevServer.Request} sent to the shard actor directly, and</li>
 *   <li>an {@link IoBatch} entry ({@link #sink} set): both taken from the shard's free list and given back
 *       after the answer.</li>
 * </ul>
 * From the {@code send} (or the take) on, touched only on the shard's reactor.
 */
final class Op implements Runnable {
    final ReactorShard shard;
    final boolean pooled;
    IoType type;
    long offset;
    long length;
    /** The single request to answer; null for a batch entry. */
    BdevServer.Request request;
    /** A write's source array (lent by the requester until the answer). */
    byte[] data;
    /** Batch entries: where the answer goes, and the requester's tag. */
    ReactorShard.Sink sink;
    long tag;
    /** The pooled (or, beyond 128 KiB, temporary) buffer of a read or write; null otherwise. */
    LentBuffer buf;
    /** A batch entry's caller-supplied buffer and offset (then {@link #buf} stays null). */
    io.spindle.bdev.DmaBuffer userBuf;
    long userOffset;
    /** Free-list link (pooled ops). */
    Op nextFree;

    Op(ReactorShard shard, boolean pooled) {
        this.shard = shard;
        this.pooled = pooled;
    }

    /** An op for a request the server validated and counted; run on the shard's reactor. */
    static Op forwarded(ReactorShard shard, BdevServer.Request r) {
        Op op = new Op(shard, false);
        op.single(r);
        return op;
    }

    void single(BdevServer.Request r) {
        request = r;
        type = r.type();
        offset = r.offset();
        length = BdevServer.length(r);
        data = r instanceof BdevServer.Write w ? w.data() : null;
    }

    void entry(ReactorShard.Sink s, IoType t, long off, long len, long tg, byte[] src, io.spindle.bdev.DmaBuffer ub, long ubOff) {
        userBuf = ub;
        userOffset = ubOff;
        request = null;
        sink = s;
        type = t;
        offset = off;
        length = len;
        tag = tg;
        data = src;
    }

    /** Forgets the request's references so that a pooled op keeps nothing alive. */
    void clear() {
        request = null;
        data = null;
        sink = null;
        buf = null;
        userBuf = null;
    }

    @Override
    public void run() {
        shard.onForwarded(this);
    }
}
