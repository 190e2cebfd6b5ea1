package io.spindle.bdev.actor;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Reactor;
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
 * {@link Unmap} and {@link WriteZeroes} in, one reply per request out; and, for throughput, {@link Submit}
 * batches in, coalesced {@link Completions} out.
 *
 * <p><b>Where things run.</b> The server actor itself may run on any dispatcher. At start it opens the bdev
 * once per reactor (one descriptor and one channel each, opened by a task sent to that reactor) and spawns one
 * <em>shard</em> actor per reactor on that reactor's dispatcher ({@link GetShards} lists them). The shard
 * actors live in the ActorSystem's system namespace, not as the server's children: Pekko stops a stopping
 * actor's children by a system message that overtakes their mailboxes and drops what is queued there, so a
 * shard actor stops only by itself, once its part has closed (see <b>Resources</b>). The I/O is submitted on
 * the reactor with the {@link io.spindle.bdev.BdevDescriptor} API and its completion replies straight from the
 * reactor to the request's {@code replyTo}. There is no ordering between outstanding requests (as on a disk):
 * send a request that depends on another one after that one's reply. Two ways in:
 * <ul>
 *   <li><b>Through the server</b> (the simple way): it validates a request, counts it against the in-flight
 *       bound and forwards it, round-robin, to a reactor: two hops (server, then reactor) before the I/O. It
 *       forwards as a task to that reactor's part, not as a message to its shard actor, so a request the
 *       server took is answered even if that part has just closed.</li>
 *   <li><b>Straight to a shard</b> ({@link Shard#ref()}): the shard validates and counts the request itself
 *       and submits it on its own reactor: one message in, one reply out, no server hop. A requester placed
 *       on a reactor with {@code reactor.dispatcher()} that uses that reactor's shard
 *       ({@link Shards#onCurrentReactor()}) never crosses threads.</li>
 * </ul>
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
 * <p><b>Batches.</b> A {@link Submit} carries an {@link IoBatch} of entries, each with a requester-chosen tag.
 * Every entry is answered by exactly one entry, with its tag, in a {@link Completions} message to the submit's
 * {@code replyTo}: the outcomes above (ran with a status, Busy, refused with an errno) as per-entry values. A
 * shard sends each requester at most one {@code Completions} per reactor loop, with whatever of that
 * requester's entries completed since the last one, so a closed loop of Q outstanding I/O costs about two
 * messages per loop instead of two per I/O. The data of a successful batched read is not copied: it is lent
 * as a {@link LentBuffer}, which the receiver must release. Both messages can be recycled, so that a steady
 * closed loop allocates nothing per I/O (only Pekko's envelope per message): the sender {@link IoBatch#reset()
 * resets} a batch once the server has taken it (any answer to one of its entries shows that; before, the reset
 * throws) and makes a new {@link Submit} of it; the receiver hands a {@code Completions} back to its shard with
 * {@link Completions#recycle()} after reading it (any later use of that reference throws while the shard holds
 * it). Neither is required: a batch or reply not recycled is left to the garbage collector.
 *
 * <p><b>Bounded in-flight.</b> At most {@code maxInFlight} I/O (single requests and batch entries alike,
 * through the server or straight to shards: one bound shared by all) are accepted and not yet answered; the
 * count is released on the reactor just before the reply (or the {@code Completions}) carrying the answer is
 * sent, so a requester that sends its next request only after a reply never sees {@link Busy} because of its
 * own earlier requests. Past the bound the server or shard answers {@link Busy} (or a Busy entry) at once and
 * never queues.
 *
 * <p><b>Buffers and ownership.</b> The data moves through off-heap buffers pooled per reactor (size classes
 * of 4 KiB to 128 KiB, up to {@link #POOL_CACHE_BYTES} cached per reactor; a larger transfer gets a
 * temporary buffer freed at its completion). Single requests and replies carry {@code byte[]}: a {@link Write}'s
 * array is lent to the server until its reply (do not modify it in between); a {@link ReadCompleted}'s array
 * is a fresh copy that the receiver owns outright and need not release. A batched write's array is lent the
 * same way; a batched read's {@link LentBuffer} belongs to the receiver of the {@code Completions} until it
 * calls {@link LentBuffer#release()} (or {@link Completions#releaseAll()}), exactly once; the server never
 * reuses or frees it before, and frees it at the release if it has closed meanwhile.
 *
 * <p><b>Resources.</b> When the bdev's {@code REMOVE} event arrives (it is being unregistered), each reactor's
 * part stops taking requests, lets its outstanding I/O complete, then puts its channel and closes its
 * descriptor, so the unregister can finish; requests from then on are refused with {@link Errno#ENODEV}.
 * {@link Close} does the same for every reactor, waits until every shard actor has stopped, replies
 * {@link Closed} and stops the server. A server stopped any other way (its parent stops,
 * {@code ActorContext.stop}) releases the same in {@code PostStop}, by tasks sent to the reactors, and its shards
 * then close and stop as after a {@code Close}, but nobody learns when that is done: stop it before Spindle, or
 * send {@link Close} and wait for {@link Closed}. Once stopped, the server is gone: what is sent to it then is a
 * dead letter, so a requester that may race a {@code Close} watches the server.
 *
 * <p>A shard answers every message that reached its actor before the shard closed: what it accepted with the
 * I/O's outcome (the last {@code Completions} are sent before the shard reports closed), what arrived while it
 * drained or after it closed refused with the reason. Then it stops its actor, on its reactor, with a stop
 * message queued behind everything already in the mailbox, so that no actor of the server outlives the
 * reactors and nothing queued is dropped: only requests sent to a shard after that are dead letters (watch the
 * shard's ref: its answers all arrive before the {@code Terminated}, so what is unanswered then never reached
 * it and never ran; the server itself keeps refusing with the reason, and {@link GetShards} no longer lists it).
 * Spindle's stop removes every bdev first, so a server left running across it ends with no shards and refuses
 * everything.
 *
 * <p>Example, from an actor (single requests through the server):
 * <pre>{@code
 * ActorRef<BdevServer.Command> disk = BdevServer.spawn(getContext(), layer, "Malloc0", 64);
 * ActorRef<BdevServer.ReadResult> readReplies = getContext().messageAdapter(BdevServer.ReadResult.class, GotRead::new);
 * disk.tell(new BdevServer.Read(0, 4096, readReplies));
 * // ... onGotRead: if (m.result() instanceof BdevServer.ReadCompleted r && r.success()) use(r.data());
 * }</pre>
 *
 * <p>Example, the fast path: an actor spawned with {@code reactor.dispatcher()}, batches to its own reactor's shard:
 * <pre>{@code
 * disk.tell(new BdevServer.GetShards(shardsAdapter));
 * // ... onShards: shard = m.shards().onCurrentReactor().ref();
 * IoBatch b = new IoBatch(32);
 * for (int slot = 0; slot < 32; slot++) b.read(offsetOf(slot), 4096, slot);
 * shard.tell(new BdevServer.Submit(b, completionsRef));   // completionsRef: getContext().getSelf().narrow() when
 *                                                        // the actor's protocol is Object (no adapter per reply)
 * // ... onCompletions(c): for (int i = 0; i < c.size(); i++) if (c.success(i)) use(c.tag(i), c.buffer(i));
 * //     c.releaseAll(); c.recycle();       // buffers back to the pool, the message back to the shard
 * //     b.reset(); refill b with the freed slots; shard.tell(new BdevServer.Submit(b, completionsRef));
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

    /**
     * Everything the server accepts: the {@link Request}s, {@link Submit}, {@link GetShards} and {@link Close}.
     */
    public interface Command {
    }

    /**
     * Everything a shard ({@link Shard#ref()}) accepts: the single {@link Request}s and {@link Submit}. A shard
     * runs on its reactor; a message to it is one mailbox hop to that reactor, with no server hop before it.
     */
    public interface ShardCommand {
    }

    /**
     * An I/O request; answered exactly once on its {@code replyTo}. Offsets and lengths are in bytes and must
     * be multiples of the bdev's block size. Send it to the server (which picks a reactor) or to a
     * {@link Shard} (the reactor of your choice).
     */
    public sealed interface Request extends Command, ShardCommand permits Read, Write, Flush, Unmap, WriteZeroes {
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
     * Several I/O in one message: every entry of {@code batch} is answered by exactly one entry, with its tag,
     * in a {@link Completions} sent to {@code replyTo} (see {@link IoBatch} and {@link Completions} for the
     * protocol, and {@link LentBuffer} for the read data, which the receiver must release). Send it to a
     * {@link Shard} for the fast path; sent to the server it is forwarded whole to one shard, round-robin (as a
     * task on that shard's reactor, so it is answered even if the shard has just closed).
     * Entries are validated, counted against {@code maxInFlight} (Busy entries past it) and submitted in order.
     *
     * <p>Constructing it seals the batch: from here on it belongs to the server until the server has taken it
     * (read its entries, before any of them is answered); then the sender may {@link IoBatch#reset()} it and make a
     * new {@code Submit} of it. A {@code Submit} is told once: one told again (its batch taken, or reset since) is
     * answered with every entry it holds then refused EINVAL, and is a bug in the sender.
     *
     * @throws NullPointerException     when {@code batch} or {@code replyTo} is null
     * @throws IllegalArgumentException for an empty batch (nothing would be answered)
     * @throws IllegalStateException    when the batch was already submitted and not {@link IoBatch#reset() reset} since
     */
    public record Submit(IoBatch batch, ActorRef<Completions> replyTo) implements Command, ShardCommand {
        /** Seals {@code batch}; see the record's Javadoc for the exceptions. */
        public Submit {
            Objects.requireNonNull(batch, "batch");
            Objects.requireNonNull(replyTo, "replyTo");
            if (batch.size() == 0) {
                throw new IllegalArgumentException("submit batch size=0: must be >= 1 entry");
            }
            batch.seal(); // throws when already submitted and not reset since
        }
    }

    /**
     * Asks for the server's shards, one per reactor, to send requests to directly; replies {@link Shards} at
     * once with the shards still running (none once the bdev was removed or the server closed, none when the
     * bdev did not exist: then send to the server, which refuses with the reason).
     */
    public record GetShards(ActorRef<Shards> replyTo) implements Command {
        /** @throws NullPointerException when {@code replyTo} is null */
        public GetShards {
            Objects.requireNonNull(replyTo, "replyTo");
        }
    }

    /**
     * Releases everything on every reactor (after the I/O outstanding there completed), waits until every
     * shard actor has answered what reached it and stopped, then replies {@link Closed} and stops the server.
     * Requests and batches that reach the server after the Close, or a shard once it began to close, are refused
     * with {@link Errno#ESHUTDOWN} (ENODEV when the bdev was removed). Several closes all get their reply. Once the
     * server has stopped, what is sent to it is a dead letter: a requester that may send while another actor
     * closes the server watches it.
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

    /**
     * The reply to {@link Close}: every descriptor, channel and pooled buffer of the server was released
     * (buffers still lent out by batched reads are freed when their holders release them), and every shard actor
     * has stopped. Every request and batch that reached the server, or a shard actor before it stopped, was
     * answered before this reply was sent; the server stops right after it.
     */
    public record Closed(String bdevName) {
    }

    /**
     * One reactor's part of the server: an actor on that reactor's dispatcher that serves {@link Request}s and
     * {@link Submit}s sent to it with no server hop in between. It validates, applies the server's shared
     * {@code maxInFlight} bound (Busy past it, at once) and runs the I/O on its reactor; requests sent to it
     * behave as if sent to the server, except that the reactor is the one chosen. Once its part has closed
     * (REMOVE, {@link Close}, the server stopped) it answers what it had accepted and what is still in its
     * mailbox (refused with the reason), and stops: a message sent to it after that is a dead letter (no reply).
     * Watch {@code ref} to learn when: every answer the shard sends reaches a watching requester before its
     * {@code Terminated} (a requester that is its own {@code replyTo}, directly or through a message adapter), so
     * whatever is still unanswered when the {@code Terminated} arrives never reached the shard and never ran.
     *
     * @param index   the reactor's position in the group (0-based)
     * @param reactor the reactor it runs on (its {@code dispatcher()} places a requester next to it)
     * @param ref     where to send
     */
    public record Shard(int index, Reactor reactor, ActorRef<ShardCommand> ref) {
    }

    /**
     * The reply to {@link GetShards}: the server's running shards in reactor order. Immutable; any thread.
     */
    public record Shards(String bdevName, List<Shard> shards) {
        /** Copies the list. */
        public Shards {
            shards = List.copyOf(shards);
        }

        /**
         * The shard on the reactor that runs the calling thread (an actor placed with
         * {@code reactor.dispatcher()} finds its neighbour here: requests to it never cross threads), or null
         * when the caller is not on one of the server's reactors.
         */
        public Shard onCurrentReactor() {
            for (Shard s : shards) {
                if (s.reactor().isCurrent()) {
                    return s;
                }
            }
            return null;
        }
    }

    // ------------------------------------------------------------------ internal messages

    /** A reactor's part closed (open failed, REMOVE drained, or shut down); later requests get errno. */
    record ShardClosed(int index, int errno, String message) implements Command {
    }

    /** A shard's actor terminated (its shard closed): it is no longer listed by {@link GetShards}. */
    record ShardStopped(int index) implements Command {
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

    /**
     * A unique, valid actor name for a server of {@code bdevName} ({@code bdev-server-<url-encoded name>-<n>}),
     * for spawning it with {@code spawn}/{@code systemActorOf} yourself. Thread-safe.
     */
    public static String actorName(String bdevName) {
        return "bdev-server-" + URLEncoder.encode(bdevName, StandardCharsets.UTF_8) + "-" + SEQ.incrementAndGet();
    }

    /** A unique name in the system namespace for a shard actor: {@code bdev-shard-<url-encoded name>-<n>-<reactor>}. */
    private static String shardActorName(String bdevName, Reactor reactor) {
        return "bdev-shard-" + URLEncoder.encode(bdevName, StandardCharsets.UTF_8) + "-" + SEQ.incrementAndGet() + "-" + reactor.name();
    }

    // ------------------------------------------------------------------ state

    private final String bdevName;
    private final Bdev bdev;
    private final boolean writable;
    /** I/O outstanding on the reactors: taken here and by the shards, released on the reactors. */
    private final InFlight inFlight;
    private final ReactorShard[] shards;
    /** Each shard's actor while it runs (null where the reactor had exited at start, or once it stopped). */
    private final Shard[] shardOf;
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
        this.writable = writable;
        this.inFlight = new InFlight(maxInFlight);
        this.bdev = layer.get(bdevName);
        ReactorGroup group = layer.reactors();
        // the shard actors run on the reactors' dispatchers, also when this server lives in another ActorSystem
        group.registerDispatchers(ctx.getSystem());
        this.shards = new ReactorShard[group.size()];
        this.shardOf = new Shard[group.size()];
        this.live = new boolean[group.size()];
        if (bdev == null) {
            goneMessage = "bdev=" + bdevName + ": no such bdev";
            state = State.GONE;
        }
        for (int i = 0; i < shards.length && bdev != null; i++) {
            Reactor reactor = group.reactor(i);
            ReactorShard s = new ReactorShard(i, reactor, layer, bdevName, writable, inFlight, ctx.getSelf());
            shards[i] = s;
            try {
                // queued before the shard actor exists, so the open runs before anything sent to that actor
                reactor.send(s::open);
            } catch (ReactorStoppedException e) {
                goneErrno = Errno.ESHUTDOWN;
                goneMessage = "bdev=" + bdevName + ": " + reactor.name() + " has exited";
                continue;
            }
            live[i] = true;
            liveCount++;
            // Not a child of this actor: Pekko stops the children of a stopping actor by a system message, which
            // overtakes their mailboxes and drops what is queued there unanswered. A shard actor stops only by
            // itself, with a Stop queued behind everything that reached it before its shard closed.
            ActorRef<ShardCommand> ref = ctx.getSystem().systemActorOf(ShardActor.create(s), shardActorName(bdevName, reactor),
                    reactor.dispatcher());
            ctx.watchWith(ref, new ShardStopped(i));
            shardOf[i] = new Shard(i, reactor, ref);
            try {
                reactor.send(() -> s.attach(ref));
            } catch (ReactorStoppedException e) {
                // the reactor exited right after the open was queued: that open ran in its last drain, and the
                // actor can never run there (Pekko logs the refused mailbox run)
                reactorExited(i);
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
                .onMessage(Submit.class, this::onSubmit)
                .onMessage(GetShards.class, this::onGetShards)
                .onMessage(Close.class, this::onClose)
                .onMessage(ShardClosed.class, this::onShardClosed)
                .onMessage(ShardStopped.class, this::onShardStopped)
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
        Refused bad = check(r.type(), r.offset(), length(r), r instanceof Write, bdev, writable, bdevName, -1);
        if (bad != null) {
            tell(r, bad);
            return this;
        }
        if (inFlight.tryAcquire(1) == 0) {
            tell(r, new Busy(r.type(), r.offset(), inFlight.max));
            return this;
        }
        while (liveCount > 0) {
            int i = pickShard();
            ReactorShard s = shards[i];
            try {
                s.reactor.send(Op.forwarded(s, r));
                return this;
            } catch (ReactorStoppedException e) {
                reactorExited(i);
            }
        }
        inFlight.release(1);
        tell(r, new Refused(r.type(), r.offset(), goneErrno, name(r) + " " + goneMessage));
        return this;
    }

    private Behavior<Command> onSubmit(Submit m) {
        while (state == State.RUNNING && liveCount > 0) {
            int i = pickShard();
            ReactorShard s = shards[i];
            try {
                // a task for the shard itself, not a message to its actor: this server may not have heard yet that
                // the shard closed, and its actor may have stopped; the shard answers every entry, closed or not
                s.reactor.send(() -> s.onSubmit(m));
                return this;
            } catch (ReactorStoppedException e) {
                reactorExited(i);
            }
        }
        int errno = state == State.CLOSING ? Errno.ESHUTDOWN : goneErrno;
        String why = state == State.CLOSING ? "bdev=" + bdevName + ": the server is closing"
                : goneMessage != null ? goneMessage : "bdev=" + bdevName + ": no shard is running";
        IoBatch b = m.batch();
        Completions c = new Completions(b.size());
        for (int i = 0; i < b.size(); i++) {
            IoType t = b.type(i);
            c.addRefused(b.tag(i), t, b.offset(i), b.length(i), errno, t.rpcName() + " entry=" + i + " " + why);
        }
        b.taken();
        c.sent();
        m.replyTo().tell(c);
        return this;
    }

    private Behavior<Command> onGetShards(GetShards m) {
        List<Shard> running = new ArrayList<>();
        for (Shard s : shardOf) {
            if (s != null) {
                running.add(s);
            }
        }
        m.replyTo().tell(new Shards(bdevName, running));
        return this;
    }

    private Behavior<Command> onShardStopped(ShardStopped m) {
        shardOf[m.index()] = null;
        return maybeClosed();
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

    /**
     * Null when the I/O may be submitted, else the refusal naming the field, the value and the bound. Builds
     * strings only on failure (it runs for every batch entry on the reactors).
     *
     * @param writeData whether the length is a write's {@code data.length}
     * @param entry     the batch entry's index, or -1 for a single request
     */
    static Refused check(IoType t, long off, long len, boolean writeData, Bdev bdev, boolean writable, String bdevName, int entry) {
        if (t.writes() && !writable) {
            return new Refused(t, off, Errno.EBADF, what(t, bdevName, entry) + ": the server opened the bdev read-only");
        }
        if (!bdev.supports(t)) {
            return new Refused(t, off, Errno.ENOTSUP, what(t, bdevName, entry) + ": the bdev does not support " + t.rpcName());
        }
        int bs = bdev.blockSize();
        long size = bdev.sizeBytes();
        // a power-of-two block size (the usual case) is checked with a mask: this runs for every I/O on the reactors
        boolean aligned = (bs & (bs - 1)) == 0 ? ((off | len) & (bs - 1)) == 0 : off % bs == 0 && len % bs == 0;
        if (off >= 0 && len > 0 && aligned && !((t == IoType.READ || t == IoType.WRITE) && len > MAX_TRANSFER)
                && off < size && len <= size - off) {
            return null;
        }
        String what = what(t, bdevName, entry);
        String lengthField = writeData ? "data.length" : "length";
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
        return new Refused(t, off, Errno.EINVAL, what + " offset=" + off + " " + lengthField + "=" + len
                + ": range must end within size_bytes=" + size);
    }

    private static String what(IoType t, String bdevName, int entry) {
        return t.rpcName() + " bdev=" + bdevName + (entry >= 0 ? " entry=" + entry : "");
    }

    // ------------------------------------------------------------------ close and shard life-cycle

    private Behavior<Command> onClose(Close m) {
        closeWaiters.add(m.replyTo());
        if (state == State.RUNNING && liveCount > 0) {
            state = State.CLOSING;
            sendShutdown(true);
        }
        return maybeClosed();
    }

    private Behavior<Command> onShardClosed(ShardClosed m) {
        markClosed(m.index(), m.errno(), m.message());
        return maybeClosed();
    }

    /**
     * Reactor {@code i} refused a task: it has exited, so its shard can take no more work, and the shard's actor
     * either stopped in the reactor's last drain (its ShardStopped is already on its way) or can never run
     * again: nothing to wait for.
     */
    private void reactorExited(int i) {
        shardOf[i] = null;
        markClosed(i, Errno.ESHUTDOWN, "bdev=" + bdevName + ": " + shards[i].reactor.name() + " has exited");
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

    /**
     * Replies Closed and stops once a Close was asked for, every shard has closed and every shard actor has
     * stopped. The last condition is what makes Closed the final word: a shard actor stops with a Stop queued
     * behind whatever reached its mailbox before the shard closed, and answers all of that first (refused with
     * the reason), so every request and batch sent to a shard before the Close is answered before Closed.
     */
    private Behavior<Command> maybeClosed() {
        if (closeWaiters.isEmpty() || liveCount > 0) {
            return this;
        }
        for (Shard s : shardOf) {
            if (s != null) {
                return this; // its ShardStopped comes once its mailbox is answered
            }
        }
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
                reactorExited(i);
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
