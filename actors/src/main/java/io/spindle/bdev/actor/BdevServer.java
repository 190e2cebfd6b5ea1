package io.spindle.bdev.actor;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.IoStatus;
import io.spindle.bdev.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.ReactorGroup;
import io.spindle.runtime.ReactorStoppedException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An actor that serves block I/O on one bdev to ordinary actors: {@link Read}, {@link Write}, {@link Flush},
 * {@link Unmap} and {@link WriteZeroes} in, one reply per request out.
 *
 * <p><b>Where things run.</b> The server actor itself may run on any dispatcher: it validates a request,
 * counts it against the in-flight bound and forwards it, round-robin, to one of the reactors. At start it
 * opens the bdev once per reactor (one descriptor and one channel each, opened by a task sent to that
 * reactor); the I/O is submitted on the reactor with the {@link io.spindle.bdev.BdevDescriptor} API and its
 * completion replies straight from the reactor to the request's {@code replyTo}. There is no ordering
 * between outstanding requests (as on a disk): send a request that depends on another one after that one's
 * reply.
 *
 * <p><b>Replies.</b> Every request gets exactly one reply:
 * <ul>
 *   <li>{@link ReadCompleted} / {@link Completed}: the I/O ran and completed with an {@link IoStatus};
 *       {@link IoStatus#SUCCESS} or FAILED, ABORTED (e.g. aborted by the bdev's removal), ...;</li>
 *   <li>{@link Refused}: the I/O never reached the bdev; its {@code errno} is {@link Errno#EINVAL} (a field
 *       out of range or not block aligned: the message names the field, the value and the bound),
 *       {@link Errno#EBADF} (a write-type request to a server opened read-only), {@link Errno#ENOTSUP} (the
 *       bdev does not support the type), {@link Errno#ENODEV} (no such bdev, or it was removed),
 *       {@link Errno#EPERM} (the open was refused, e.g. a write open of a claimed bdev),
 *       {@link Errno#ESHUTDOWN} (the server is closing or the reactors have exited);</li>
 *   <li>{@link Busy}: {@code maxInFlight} requests were already outstanding; nothing was queued, retry
 *       after one of your outstanding requests was answered.</li>
 * </ul>
 *
 * <p><b>Bounded in-flight.</b> At most {@code maxInFlight} requests are forwarded and not yet answered; the
 * count is released on the reactor just before the reply is sent, so a requester that sends its next request
 * only after a reply never sees {@link Busy} because of its own earlier requests. Past the bound the server
 * answers {@link Busy} at once and never queues.
 *
 * <p><b>Buffers and ownership.</b> The data moves through off-heap buffers pooled per reactor (size classes
 * of 4 KiB to 128 KiB, up to {@link #POOL_CACHE_BYTES} cached per reactor; a larger transfer gets a
 * temporary buffer freed at its completion). Requests and replies carry {@code byte[]}: a {@link Write}'s
 * array is lent to the server until its reply (do not modify it in between); a {@link ReadCompleted}'s array
 * is a fresh copy that the receiver owns outright and need not release. No reply ever refers to a buffer the
 * server reuses.
 *
 * <p><b>Resources.</b> When the bdev's {@code REMOVE} event arrives (it is being unregistered), each reactor's
 * part stops taking requests, lets its outstanding I/O complete, then puts its channel and closes its
 * descriptor, so the unregister can finish; requests from then on are refused with {@link Errno#ENODEV}.
 * {@link Close} does the same for every reactor and replies {@link Closed} when all was released, then the
 * server stops. A server stopped any other way (its parent stops, {@code ActorContext.stop}) releases the same
 * in {@code PostStop}, by tasks sent to the reactors, but then nobody learns when that is done: stop it before
 * Spindle, or send {@link Close} and wait for {@link Closed}.
 *
 * <p>Example, from an actor:
 * <pre>{@code
 * ActorRef<BdevServer.Command> disk = BdevServer.spawn(getContext(), layer, "Malloc0", 64);
 * ActorRef<BdevServer.ReadResult> readReplies = getContext().messageAdapter(BdevServer.ReadResult.class, GotRead::new);
 * disk.tell(new BdevServer.Read(0, 4096, readReplies));
 * // ... onGotRead: if (m.result() instanceof BdevServer.ReadCompleted r && r.success()) use(r.data());
 * }</pre>
 */
public final class BdevServer extends AbstractBehavior<BdevServer.Command> {
    /** Largest {@link Read} or {@link Write} transfer, in bytes (16 MiB); split larger transfers. */
    public static final int MAX_TRANSFER = 16 << 20;
    /** Largest {@code maxInFlight}. */
    public static final int MAX_IN_FLIGHT_LIMIT = 1 << 20;
    /** Bytes of idle I/O buffers each reactor keeps for reuse; buffers returned beyond this are freed. */
    public static final long POOL_CACHE_BYTES = 8L << 20;

    private static final AtomicLong SEQ = new AtomicLong();

    // ------------------------------------------------------------------ protocol: requests

    /** Everything the server accepts: the {@link Request}s and {@link Close}. */
    public interface Command {
    }

    /**
     * An I/O request; answered exactly once on its {@code replyTo}. Offsets and lengths are in bytes and must
     * be multiples of the bdev's block size.
     */
    public sealed interface Request extends Command permits Read, Write, Flush, Unmap, WriteZeroes {
        /** The bdev I/O type this request becomes. */
        IoType type();

        /** Byte offset on the bdev. */
        long offset();
    }

    /**
     * Reads {@code length} bytes at byte {@code offset}; replies a {@link ReadResult}.
     *
     * @param length at most {@link #MAX_TRANSFER}
     */
    public record Read(long offset, int length, ActorRef<ReadResult> replyTo) implements Request {
        /** @throws NullPointerException when {@code replyTo} is null */
        public Read {
            Objects.requireNonNull(replyTo, "replyTo");
        }

        @Override
        public IoType type() {
            return IoType.READ;
        }
    }

    /**
     * Writes {@code data} at byte {@code offset}; replies a {@link WriteResult}. The array is lent to the
     * server until the reply: it is copied on a reactor thread after the {@code tell}, so do not modify it
     * before the reply arrives.
     *
     * @param data {@code data.length} is the length: a multiple of the block size, at most {@link #MAX_TRANSFER}
     */
    public record Write(long offset, byte[] data, ActorRef<WriteResult> replyTo) implements Request {
        /** @throws NullPointerException when {@code data} or {@code replyTo} is null */
        public Write {
            Objects.requireNonNull(data, "data");
            Objects.requireNonNull(replyTo, "replyTo");
        }

        @Override
        public IoType type() {
            return IoType.WRITE;
        }

        @Override
        public String toString() {
            return "Write[offset=" + offset + ", length=" + data.length + ", replyTo=" + replyTo + "]";
        }
    }

    /** Flushes {@code length} bytes at {@code offset} to stable media; replies a {@link WriteResult}. */
    public record Flush(long offset, long length, ActorRef<WriteResult> replyTo) implements Request {
        /** @throws NullPointerException when {@code replyTo} is null */
        public Flush {
            Objects.requireNonNull(replyTo, "replyTo");
        }

        @Override
        public IoType type() {
            return IoType.FLUSH;
        }
    }

    /** Deallocates {@code length} bytes at {@code offset}; replies a {@link WriteResult}. */
    public record Unmap(long offset, long length, ActorRef<WriteResult> replyTo) implements Request {
        /** @throws NullPointerException when {@code replyTo} is null */
        public Unmap {
            Objects.requireNonNull(replyTo, "replyTo");
        }

        @Override
        public IoType type() {
            return IoType.UNMAP;
        }
    }

    /** Writes zeroes to {@code length} bytes at {@code offset}; replies a {@link WriteResult}. */
    public record WriteZeroes(long offset, long length, ActorRef<WriteResult> replyTo) implements Request {
        /** @throws NullPointerException when {@code replyTo} is null */
        public WriteZeroes {
            Objects.requireNonNull(replyTo, "replyTo");
        }

        @Override
        public IoType type() {
            return IoType.WRITE_ZEROES;
        }
    }

    /**
     * Releases everything on every reactor (after the I/O outstanding there completed), then replies
     * {@link Closed} and stops the server. Requests that arrive meanwhile are refused with
     * {@link Errno#ESHUTDOWN}. Several closes all get their reply.
     */
    public record Close(ActorRef<Closed> replyTo) implements Command {
        /** @throws NullPointerException when {@code replyTo} is null */
        public Close {
            Objects.requireNonNull(replyTo, "replyTo");
        }
    }

    // ------------------------------------------------------------------ protocol: replies

    /** A reply to a {@link Request}. */
    public sealed interface Reply permits ReadResult, WriteResult {
        /** The request's type. */
        IoType type();

        /** The request's byte offset (to match replies with requests). */
        long offset();

        /** Whether the I/O ran and completed with {@link IoStatus#SUCCESS}. */
        boolean success();
    }

    /** The reply to a {@link Read}: {@link ReadCompleted}, {@link Refused} or {@link Busy}. */
    public sealed interface ReadResult extends Reply permits ReadCompleted, Refused, Busy {
    }

    /**
     * The reply to a {@link Write}, {@link Flush}, {@link Unmap} or {@link WriteZeroes}: {@link Completed},
     * {@link Refused} or {@link Busy}.
     */
    public sealed interface WriteResult extends Reply permits Completed, Refused, Busy {
    }

    /**
     * A read ran on the bdev and completed with {@code status}.
     *
     * @param data with {@link IoStatus#SUCCESS}, the {@code length} bytes read: a fresh array that belongs to
     *             the receiver (no release needed); null with any other status
     */
    public record ReadCompleted(long offset, int length, IoStatus status, byte[] data) implements ReadResult {
        @Override
        public IoType type() {
            return IoType.READ;
        }

        @Override
        public boolean success() {
            return status == IoStatus.SUCCESS;
        }

        @Override
        public String toString() {
            return "ReadCompleted[offset=" + offset + ", length=" + length + ", status=" + status + "]";
        }
    }

    /** A write, flush, unmap or write_zeroes ran on the bdev and completed with {@code status}. */
    public record Completed(IoType type, long offset, long length, IoStatus status) implements WriteResult {
        @Override
        public boolean success() {
            return status == IoStatus.SUCCESS;
        }
    }

    /**
     * The request never reached the bdev.
     *
     * @param errno   a negative {@link Errno}: EINVAL, EBADF, ENOTSUP, ENODEV, EPERM or ESHUTDOWN (see the class
     *                Javadoc)
     * @param message what was wrong, in key=value form, e.g. {@code read bdev=Malloc0 offset=100: must be a
     *                multiple of block_size=512}
     */
    public record Refused(IoType type, long offset, int errno, String message) implements ReadResult, WriteResult {
        @Override
        public boolean success() {
            return false;
        }
    }

    /**
     * Refused because {@code maxInFlight} requests were outstanding; nothing was queued. Send it again after
     * one of your outstanding requests was answered.
     */
    public record Busy(IoType type, long offset, int maxInFlight) implements ReadResult, WriteResult {
        @Override
        public boolean success() {
            return false;
        }
    }

    /** The reply to {@link Close}: every descriptor, channel and buffer of the server was released. */
    public record Closed(String bdevName) {
    }

    // ------------------------------------------------------------------ internal messages

    /** A reactor's part closed (open failed, REMOVE drained, or shut down); later requests get errno. */
    record ShardClosed(int index, int errno, String message) implements Command {
    }

    private enum State {
        /** Serving. */
        RUNNING,
        /** Close received: waiting for the reactors' parts to close. */
        CLOSING,
        /** Every reactor's part is closed (the bdev is gone or could not be opened): refusing. */
        GONE
    }

    // ------------------------------------------------------------------ factory

    /**
     * The behavior of a server for {@code bdevName}, opened read-write. Spawn it anywhere (any dispatcher).
     *
     * @param maxInFlight the most requests outstanding at once, 1 to {@link #MAX_IN_FLIGHT_LIMIT}
     * @throws IllegalArgumentException naming a bad argument
     */
    public static Behavior<Command> create(BdevLayer layer, String bdevName, int maxInFlight) {
        return create(layer, bdevName, maxInFlight, true);
    }

    /**
     * The behavior of a server for {@code bdevName}; with {@code writable == false} the bdev is opened
     * read-only and write-type requests are refused with {@link Errno#EBADF}.
     *
     * @param maxInFlight the most requests outstanding at once, 1 to {@link #MAX_IN_FLIGHT_LIMIT}
     * @throws IllegalArgumentException naming a bad argument
     */
    public static Behavior<Command> create(BdevLayer layer, String bdevName, int maxInFlight, boolean writable) {
        Objects.requireNonNull(layer, "layer");
        Objects.requireNonNull(bdevName, "bdevName");
        if (maxInFlight < 1 || maxInFlight > MAX_IN_FLIGHT_LIMIT) {
            throw new IllegalArgumentException("bdev server bdev=" + bdevName + " max_in_flight=" + maxInFlight + ": must be between 1 and "
                    + MAX_IN_FLIGHT_LIMIT);
        }
        return Behaviors.setup(ctx -> new BdevServer(ctx, layer, bdevName, maxInFlight, writable));
    }

    /**
     * Spawns a read-write server for {@code bdevName} as a child of {@code ctx}'s actor, on the parent's
     * dispatcher, named {@code bdev-server-<bdevName>-<n>}. Call on that actor's thread, as any
     * {@code ctx.spawn}.
     *
     * @throws IllegalArgumentException naming a bad argument
     */
    public static ActorRef<Command> spawn(ActorContext<?> ctx, BdevLayer layer, String bdevName, int maxInFlight) {
        return ctx.spawn(create(layer, bdevName, maxInFlight), actorName(bdevName));
    }

    /** A unique, valid actor name for a server of {@code bdevName}. */
    static String actorName(String bdevName) {
        return "bdev-server-" + URLEncoder.encode(bdevName, StandardCharsets.UTF_8) + "-" + SEQ.incrementAndGet();
    }

    // ------------------------------------------------------------------ state

    private final String bdevName;
    private final Bdev bdev;
    private final int maxInFlight;
    private final boolean writable;
    /** Requests forwarded to a reactor and not yet answered: incremented here, decremented on the reactors. */
    private final AtomicInteger inFlight = new AtomicInteger();
    private final ReactorShard[] shards;
    /** Server's view: the shard may take requests (not yet reported closed). */
    private final boolean[] live;
    private int liveCount;
    private boolean shutdownSent;
    private int next;
    private State state = State.RUNNING;
    private int goneErrno = Errno.ENODEV;
    private String goneMessage;
    private final List<ActorRef<Closed>> closeWaiters = new ArrayList<>();

    private BdevServer(ActorContext<Command> ctx, BdevLayer layer, String bdevName, int maxInFlight, boolean writable) {
        super(ctx);
        this.bdevName = bdevName;
        this.maxInFlight = maxInFlight;
        this.writable = writable;
        this.bdev = layer.get(bdevName);
        ReactorGroup group = layer.reactors();
        this.shards = new ReactorShard[group.size()];
        this.live = new boolean[group.size()];
        if (bdev == null) {
            goneMessage = "bdev=" + bdevName + ": no such bdev";
            state = State.GONE;
            return;
        }
        for (int i = 0; i < shards.length; i++) {
            ReactorShard s = new ReactorShard(i, group.reactor(i), layer, bdevName, writable, inFlight, ctx.getSelf());
            shards[i] = s;
            try {
                s.reactor.send(s::open);
                live[i] = true;
                liveCount++;
            } catch (ReactorStoppedException e) {
                goneErrno = Errno.ESHUTDOWN;
                goneMessage = "bdev=" + bdevName + ": " + s.reactor.name() + " has exited";
            }
        }
        if (liveCount == 0) {
            state = State.GONE;
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Read.class, this::onRequest)
                .onMessage(Write.class, this::onRequest)
                .onMessage(Flush.class, this::onRequest)
                .onMessage(Unmap.class, this::onRequest)
                .onMessage(WriteZeroes.class, this::onRequest)
                .onMessage(Close.class, this::onClose)
                .onMessage(ShardClosed.class, this::onShardClosed)
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    // ------------------------------------------------------------------ requests

    private Behavior<Command> onRequest(Request r) {
        if (state == State.GONE) {
            tell(r, new Refused(r.type(), r.offset(), goneErrno, name(r) + " " + goneMessage));
            return this;
        }
        if (state == State.CLOSING) {
            tell(r, new Refused(r.type(), r.offset(), Errno.ESHUTDOWN, name(r) + " bdev=" + bdevName + ": the server is closing"));
            return this;
        }
        Refused bad = validate(r);
        if (bad != null) {
            tell(r, bad);
            return this;
        }
        // only this actor increments, the reactors only decrement: a read below the bound stays below it
        if (inFlight.get() >= maxInFlight) {
            tell(r, new Busy(r.type(), r.offset(), maxInFlight));
            return this;
        }
        while (liveCount > 0) {
            int i = pickShard();
            ReactorShard s = shards[i];
            inFlight.incrementAndGet();
            try {
                s.reactor.send(new Op(s, r));
                return this;
            } catch (ReactorStoppedException e) {
                inFlight.decrementAndGet();
                markClosed(i, Errno.ESHUTDOWN, "bdev=" + bdevName + ": " + s.reactor.name() + " has exited");
            }
        }
        tell(r, new Refused(r.type(), r.offset(), goneErrno, name(r) + " " + goneMessage));
        return this;
    }

    private int pickShard() {
        for (int k = 0; k < shards.length; k++) {
            int i = next;
            next = next + 1 == shards.length ? 0 : next + 1;
            if (live[i]) {
                return i;
            }
        }
        throw new IllegalStateException("no live shard with live_count=" + liveCount);
    }

    /** Null when {@code r} may be forwarded, else the refusal naming the field, the value and the bound. */
    private Refused validate(Request r) {
        IoType t = r.type();
        long off = r.offset();
        String what = name(r) + " bdev=" + bdevName;
        if (t.writes() && !writable) {
            return new Refused(t, off, Errno.EBADF, what + ": the server opened the bdev read-only");
        }
        if (!bdev.supports(t)) {
            return new Refused(t, off, Errno.ENOTSUP, what + ": the bdev does not support " + t.rpcName());
        }
        String lengthField = r instanceof Write ? "data.length" : "length";
        long len = length(r);
        int bs = bdev.blockSize();
        long size = bdev.sizeBytes();
        if (off < 0) {
            return new Refused(t, off, Errno.EINVAL, what + " offset=" + off + ": must be >= 0");
        }
        if (off % bs != 0) {
            return new Refused(t, off, Errno.EINVAL, what + " offset=" + off + ": must be a multiple of block_size=" + bs);
        }
        if (len <= 0) {
            return new Refused(t, off, Errno.EINVAL, what + " " + lengthField + "=" + len + ": must be > 0");
        }
        if (len % bs != 0) {
            return new Refused(t, off, Errno.EINVAL, what + " " + lengthField + "=" + len + ": must be a multiple of block_size=" + bs);
        }
        if ((t == IoType.READ || t == IoType.WRITE) && len > MAX_TRANSFER) {
            return new Refused(t, off, Errno.EINVAL, what + " " + lengthField + "=" + len + ": must be <= " + MAX_TRANSFER + " (max transfer)");
        }
        if (off >= size || len > size - off) {
            return new Refused(t, off, Errno.EINVAL, what + " offset=" + off + " " + lengthField + "=" + len
                    + ": range must end within size_bytes=" + size);
        }
        return null;
    }

    // ------------------------------------------------------------------ close and shard life-cycle

    private Behavior<Command> onClose(Close m) {
        closeWaiters.add(m.replyTo());
        if (state == State.GONE || liveCount == 0) {
            return closed();
        }
        if (state == State.RUNNING) {
            state = State.CLOSING;
            sendShutdown(true);
        }
        return this;
    }

    private Behavior<Command> onShardClosed(ShardClosed m) {
        markClosed(m.index(), m.errno(), m.message());
        if (liveCount > 0) {
            return this;
        }
        if (state == State.CLOSING) {
            return closed();
        }
        return this;
    }

    private void markClosed(int i, int errno, String message) {
        if (!live[i]) {
            return;
        }
        live[i] = false;
        liveCount--;
        // the most telling reason wins: a removed bdev over a reactor that exited over a shutdown
        if (goneMessage == null || errno == Errno.ENODEV || goneErrno == Errno.ESHUTDOWN) {
            goneErrno = errno;
            goneMessage = message;
        }
        if (liveCount == 0 && state == State.RUNNING) {
            state = State.GONE;
            getContext().getLog().debug("bdev server bdev={}: every reactor closed, refusing from now on: {}", bdevName, message);
        }
    }

    private Behavior<Command> closed() {
        for (ActorRef<Closed> w : closeWaiters) {
            w.tell(new Closed(bdevName));
        }
        closeWaiters.clear();
        return Behaviors.stopped();
    }

    /** Asks every shard not known closed to drain and close; {@code notify}: report back by ShardClosed. */
    private void sendShutdown(boolean notify) {
        shutdownSent = true;
        for (int i = 0; i < shards.length; i++) {
            ReactorShard s = shards[i];
            if (s == null || !live[i]) {
                continue;
            }
            try {
                s.reactor.send(() -> s.shutdown(notify));
            } catch (ReactorStoppedException e) {
                // the reactor exited: it held no channel any more, so the shard was already closed
                markClosed(i, Errno.ESHUTDOWN, "bdev=" + bdevName + ": " + s.reactor.name() + " has exited");
            }
        }
    }

    private Behavior<Command> onPostStop() {
        if (!shutdownSent) {
            sendShutdown(false);
        }
        return this;
    }

    // ------------------------------------------------------------------ helpers (also used on the reactors)

    /** The request's length in bytes. */
    static long length(Request r) {
        if (r instanceof Read m) {
            return m.length();
        }
        if (r instanceof Write m) {
            return m.data().length;
        }
        if (r instanceof Flush m) {
            return m.length();
        }
        if (r instanceof Unmap m) {
            return m.length();
        }
        return ((WriteZeroes) r).length();
    }

    /** Lower-case name of the request type for messages, e.g. {@code write_zeroes}. */
    static String name(Request r) {
        return r.type().rpcName();
    }

    /** Sends {@code reply} to the request's {@code replyTo}; thread-safe. */
    static void tell(Request r, Reply reply) {
        if (r instanceof Read m) {
            m.replyTo().tell((ReadResult) reply);
        } else if (r instanceof Write m) {
            m.replyTo().tell((WriteResult) reply);
        } else if (r instanceof Flush m) {
            m.replyTo().tell((WriteResult) reply);
        } else if (r instanceof Unmap m) {
            m.replyTo().tell((WriteResult) reply);
        } else {
            ((WriteZeroes) r).replyTo().tell((WriteResult) reply);
        }
    }
}
