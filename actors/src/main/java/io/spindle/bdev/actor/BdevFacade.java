package io.spindle.bdev.actor;

import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.OffReactorFuture;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import io.spindle.runtime.ReactorStoppedException;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Block I/O on one bdev as {@link CompletionStage}s (or callbacks) for plain Java code: no actor, no {@code ask}
 * and no message per I/O. The facade opens the bdev once per reactor (a descriptor and a channel each, its
 * <em>lanes</em>); each I/O is submitted on a reactor with the descriptor API, and the reactor completes its stage
 * or calls its callback directly from the I/O's completion.
 *
 * <pre>{@code
 * BdevFacade disk = BdevFacade.open(layer, "Malloc0");
 * disk.write(0, block)                                    // block.length: a multiple of the block size
 *     .thenCompose(v -> disk.read(0, block.length))
 *     .thenAccept(data -> ...)                            // data: a fresh array, yours
 *     .whenComplete((v, e) -> disk.close());
 * }</pre>
 *
 * <p><b>Which reactor.</b> Called on a reactor thread (a poller, a task, an actor placed there, or a continuation
 * of an earlier stage of this facade), an I/O is submitted on that reactor at once, with nothing crossing threads:
 * a closed loop that submits its next I/O from the previous one's continuation stays on its reactor and allocates
 * nothing there but the stages themselves (nothing at all with the callback methods). Called on any other thread,
 * the I/O is sent to the reactors round-robin, as one task each (made on the calling thread).
 *
 * <p><b>Where completions run.</b> By default on the reactor that ran the I/O, inline in its completion: so the
 * non-async continuations of a stage ({@code thenApply}, {@code whenComplete}, ...) and the callbacks run on that
 * reactor thread. Keep them short and never block in them: a blocking wait there stalls every channel, poller and
 * actor of the reactor, which is why a {@code join} or {@code get} of a stage that has not completed, on a reactor
 * thread, throws {@link io.spindle.runtime.BlockingCallOnReactorException} (the stages are
 * {@link OffReactorFuture}s); use the {@code *Async} variants with your own executor for longer work, or
 * {@link Options#completeOn(Executor)} to have every completion delivered on an executor instead (one task per
 * I/O: it allocates and crosses threads).
 *
 * <p><b>Results.</b> A stage completes normally only when the I/O ran and completed with SUCCESS. Otherwise it
 * completes exceptionally with a {@link BdevReplyException} whose errno says why: EINVAL (a field out of range or
 * not block aligned, named in the message), EBADF (a write through a read-only facade), ENOTSUP (the bdev lacks
 * the I/O type), EBUSY ({@link Options#maxInFlight} I/O were already outstanding on that reactor: nothing was
 * queued, retry after one completed), ENODEV (no such bdev, or it was removed), EPERM (the open was refused, e.g.
 * a write open of a claimed bdev), ESHUTDOWN (the facade was closed, or the reactors have exited), EIO (the I/O
 * ran and completed with another status: {@link BdevReplyException#status()}). Every stage completes exactly once,
 * and so does every accepted callback. There is no ordering between outstanding I/O (as on a disk): issue an I/O
 * that depends on another from that one's continuation.
 *
 * <p><b>Buffers and ownership.</b>
 * <ul>
 *   <li>{@link #write(long, byte[])}: the array is lent from the call until the stage completes: it is copied into a
 *       pooled off-heap buffer of the reactor when the I/O starts there, so do not modify it before.
 *       {@link #read(long, int)}: the data is read into a pooled buffer and copied into a fresh array that belongs
 *       to the caller (one allocation and one copy per read: the convenient form).</li>
 *   <li>{@link #read(long, DmaBuffer, long, int)} and {@link #write(long, DmaBuffer, long, int)}: the caller supplies
 *       the off-heap buffer, and the I/O runs on it with no copy. It is lent from the call until the stage
 *       completes (or the callback runs): keep it open, do not read a read's range nor modify a write's meanwhile.
 *       The facade never keeps, frees or closes it; the caller owns it before and after.</li>
 *   <li>{@link #readLent(long, int)}: the data is read into a buffer of the reactor's pool and lent to the caller as a
 *       {@link LentBuffer}, with no copy: it is the caller's until it calls {@link LentBuffer#release()}, exactly
 *       once, from any thread (on the reactor that lent it the release is immediate). Unreleased, it leaks.</li>
 * </ul>
 *
 * <p><b>Allocation.</b> Ops and pooled buffers are per reactor and reused; a caller on a reactor that uses the
 * callback methods with its own buffers and callback objects allocates nothing per I/O. A stage method allocates
 * its stage (and whatever the caller chains on it); a refusal allocates its exception.
 *
 * <p><b>Life-cycle.</b> {@link #close()} refuses new I/O, lets the accepted ones complete, then puts each lane's
 * channel and closes its descriptor; its stage completes when every lane has. When the bdev is removed
 * (unregistered) each lane does the same by itself, answering ENODEV from then on. Close the facade before
 * Spindle stops (Spindle's stop removes every bdev first, which also closes the lanes).
 *
 * <p><b>Threads.</b> Every method may be called from any thread and returns at once.
 */
public final class BdevFacade {
    /**
     * A completion callback for the zero-allocation methods: called exactly once for an I/O whose method returned
     * 0, on the reactor that ran it (or on {@link Options#completeOn(Executor)}'s executor), never inline in the
     * method call.
     */
    @FunctionalInterface
    public interface Callback {
        /**
         * @param rc  0 when the I/O completed with SUCCESS; {@link Errno#EIO} when it ran and completed with
         *            another status; another negative errno when it was refused on the reactor (see the class
         *            Javadoc's list)
         * @param arg the argument given with the I/O
         */
        void onComplete(int rc, Object arg);
    }

    /** A facade's settings; immutable once concluded. */
    public static final class Options {
        /** {@link #maxInFlight} when not set. */
        public static final int DEFAULT_MAX_IN_FLIGHT = 4096;
        /** Largest {@link #maxInFlight}. */
        public static final int MAX_IN_FLIGHT_LIMIT = 1 << 20;

        private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
        private boolean writable = true;
        private Executor executor;

        /** Defaults: read-write, {@link #DEFAULT_MAX_IN_FLIGHT} per reactor, completions on the reactors. */
        public static Options defaults() {
            return new Options();
        }

        /**
         * At most this many I/O accepted and not completed per reactor; past it an I/O is refused with EBUSY.
         *
         * @throws IllegalArgumentException outside 1..{@link #MAX_IN_FLIGHT_LIMIT}
         */
        public Options maxInFlight(int n) {
            if (n < 1 || n > MAX_IN_FLIGHT_LIMIT) {
                throw new IllegalArgumentException("bdev facade max_in_flight=" + n + ": must be between 1 and " + MAX_IN_FLIGHT_LIMIT);
            }
            this.maxInFlight = n;
            return this;
        }

        /** Open the bdev read-write (default) or read-only (write-type I/O then fail with EBADF). */
        public Options writable(boolean w) {
            this.writable = w;
            return this;
        }

        /**
         * Deliver every completion (stage or callback) as a task on {@code executor}, which must run tasks on threads
         * that are not reactors; null (the default): on the reactor, inline.
         */
        public Options completeOn(Executor executor) {
            this.executor = executor;
            return this;
        }

        int maxInFlight() {
            return maxInFlight;
        }
    }

    private final String bdevName;
    private final FacadeLane[] lanes;
    private final AtomicInteger next = new AtomicInteger();
    private final OffReactorFuture<Void> closed = new OffReactorFuture<>();
    private volatile boolean closing;

    private BdevFacade(BdevLayer layer, String bdevName, Options o) {
        this.bdevName = bdevName;
        ReactorGroup group = layer.reactors();
        this.lanes = new FacadeLane[group.size()];
        for (int i = 0; i < lanes.length; i++) {
            lanes[i] = new FacadeLane(i, group.reactor(i), layer, bdevName, o.writable, o.maxInFlight, o.executor);
        }
    }

    /** {@link #open(BdevLayer, String, Options)} with {@link Options#defaults()}. */
    public static BdevFacade open(BdevLayer layer, String bdevName) {
        return open(layer, bdevName, Options.defaults());
    }

    /**
     * A facade over {@code bdevName}: queues the open of the bdev on every reactor and returns at once. An open that
     * fails (no such bdev, a claim) is not thrown: the I/O on that reactor fail with its errno.
     *
     * @throws NullPointerException for a null argument
     */
    public static BdevFacade open(BdevLayer layer, String bdevName, Options options) {
        Objects.requireNonNull(layer, "layer");
        Objects.requireNonNull(bdevName, "bdevName");
        Objects.requireNonNull(options, "options");
        BdevFacade f = new BdevFacade(layer, bdevName, options);
        for (FacadeLane lane : f.lanes) {
            try {
                lane.reactor.send(lane::open); // before anything a foreign caller sends there (FIFO per reactor)
            } catch (ReactorStoppedException e) {
                // that reactor has exited: its I/O fail with ESHUTDOWN
            }
        }
        return f;
    }

    /** The bdev's name. */
    public String bdevName() {
        return bdevName;
    }

    // ------------------------------------------------------------------ stages

    /**
     * Reads {@code length} bytes at byte {@code offset} into a fresh array.
     *
     * @return the data, the caller's; or fails as the class Javadoc says
     */
    public CompletionStage<byte[]> read(long offset, int length) {
        return stage(IoType.READ, offset, length, FacadeIo.RESULT_BYTES, null, 0, null);
    }

    /**
     * Writes {@code data} at byte {@code offset}; {@code data.length} is the length. Do not modify {@code data}
     * until the stage completes.
     *
     * @throws NullPointerException when {@code data} is null
     */
    public CompletionStage<Void> write(long offset, byte[] data) {
        Objects.requireNonNull(data, "data");
        return stage(IoType.WRITE, offset, data.length, FacadeIo.RESULT_VOID, null, 0, data);
    }

    /**
     * Reads {@code length} bytes at byte {@code offset} into {@code dst} at {@code dstOffset}, with no copy; the
     * buffer is lent until the stage completes.
     *
     * @return {@code dst}, once the data is in it
     * @throws NullPointerException when {@code dst} is null
     */
    public CompletionStage<DmaBuffer> read(long offset, DmaBuffer dst, long dstOffset, int length) {
        Objects.requireNonNull(dst, "dst");
        return stage(IoType.READ, offset, length, FacadeIo.RESULT_BUFFER, dst, dstOffset, null);
    }

    /**
     * Writes {@code length} bytes of {@code src} from {@code srcOffset} at byte {@code offset}, with no copy; the
     * buffer is lent until the stage completes.
     *
     * @throws NullPointerException when {@code src} is null
     */
    public CompletionStage<Void> write(long offset, DmaBuffer src, long srcOffset, int length) {
        Objects.requireNonNull(src, "src");
        return stage(IoType.WRITE, offset, length, FacadeIo.RESULT_VOID, src, srcOffset, null);
    }

    /**
     * Reads {@code length} bytes at byte {@code offset} into a pooled buffer lent to the caller, with no copy.
     *
     * @return the data: release it exactly once
     */
    public CompletionStage<LentBuffer> readLent(long offset, int length) {
        return stage(IoType.READ, offset, length, FacadeIo.RESULT_LENT, null, 0, null);
    }

    /** Flushes {@code length} bytes at {@code offset}; completes on SUCCESS, else fails as the class Javadoc says. */
    public CompletionStage<Void> flush(long offset, long length) {
        return stage(IoType.FLUSH, offset, length, FacadeIo.RESULT_VOID, null, 0, null);
    }

    /** Unmaps {@code length} bytes at {@code offset}; completes on SUCCESS, else fails as the class Javadoc says. */
    public CompletionStage<Void> unmap(long offset, long length) {
        return stage(IoType.UNMAP, offset, length, FacadeIo.RESULT_VOID, null, 0, null);
    }

    /** Writes zeroes to {@code length} bytes at {@code offset}; completes on SUCCESS, else fails as the class Javadoc says. */
    public CompletionStage<Void> writeZeroes(long offset, long length) {
        return stage(IoType.WRITE_ZEROES, offset, length, FacadeIo.RESULT_VOID, null, 0, null);
    }

    // ------------------------------------------------------------------ callbacks (no allocation on a reactor)

    /**
     * Reads {@code length} bytes at byte {@code offset} into {@code dst} at {@code dstOffset}, with no copy, and calls
     * {@code cb} once done. On a reactor thread this allocates nothing.
     *
     * @return 0: accepted, {@code cb} will run exactly once (never inside this call); a negative errno: refused now
     *         (on a reactor: EINVAL, EBUSY, ENODEV, ...; elsewhere only ESHUTDOWN once the reactors exited), {@code cb}
     *         will not run. Off the reactors, refusals found on the reactor come through {@code cb}.
     * @throws NullPointerException when {@code dst} or {@code cb} is null
     */
    public int read(long offset, DmaBuffer dst, long dstOffset, int length, Callback cb, Object arg) {
        Objects.requireNonNull(dst, "dst");
        return call(IoType.READ, offset, length, FacadeIo.RESULT_BUFFER, dst, dstOffset, cb, arg);
    }

    /**
     * Writes {@code length} bytes of {@code src} from {@code srcOffset} at byte {@code offset}, with no copy, and calls
     * {@code cb} once done; as {@link #read(long, DmaBuffer, long, int, Callback, Object)} for the rest.
     */
    public int write(long offset, DmaBuffer src, long srcOffset, int length, Callback cb, Object arg) {
        Objects.requireNonNull(src, "src");
        return call(IoType.WRITE, offset, length, FacadeIo.RESULT_VOID, src, srcOffset, cb, arg);
    }

    // ------------------------------------------------------------------ close

    /**
     * Closes every lane: new I/O are refused with ESHUTDOWN, the accepted ones complete, then the descriptors and
     * channels are released. The stage completes when all lanes have closed; calling it again returns the same stage.
     */
    public CompletionStage<Void> close() {
        synchronized (closed) {
            if (closing) {
                return closed;
            }
            closing = true;
        }
        CompletableFuture<?>[] all = new CompletableFuture<?>[lanes.length];
        for (int i = 0; i < lanes.length; i++) {
            FacadeLane lane = lanes[i];
            all[i] = lane.closed;
            try {
                lane.reactor.send(lane::close);
            } catch (ReactorStoppedException e) {
                lane.closed.complete(null); // the reactor exited: its channel went with it
            }
        }
        CompletableFuture.allOf(all).whenComplete((v, e) -> closed.complete(null));
        return closed;
    }

    // ------------------------------------------------------------------ internals

    @SuppressWarnings("unchecked")
    private <T> CompletionStage<T> stage(IoType t, long off, long len, int result, DmaBuffer buf, long bufOff, byte[] data) {
        OffReactorFuture<Object> f = new OffReactorFuture<>();
        FacadeLane lane = current();
        if (lane != null) {
            FacadeIo op = lane.takeOp().set(t, off, len, result, buf, bufOff, data);
            op.future = f;
            BdevServer.Reply refusal = lane.accept(op);
            if (refusal != null) {
                f.completeExceptionally(new BdevReplyException(refusal));
            }
            return (CompletionStage<T>) (CompletionStage<?>) f;
        }
        lane = pick();
        FacadeIo op = new FacadeIo(lane, false).set(t, off, len, result, buf, bufOff, data);
        op.future = f;
        if (!lane.send(op)) {
            f.completeExceptionally(new BdevReplyException(new BdevServer.Refused(t, off, Errno.ESHUTDOWN, t.rpcName() + " bdev=" + bdevName
                    + ": " + lane.reactor.name() + " has exited")));
        }
        return (CompletionStage<T>) (CompletionStage<?>) f;
    }

    private int call(IoType t, long off, long len, int result, DmaBuffer buf, long bufOff, Callback cb, Object arg) {
        Objects.requireNonNull(cb, "cb");
        FacadeLane lane = current();
        if (lane != null) {
            FacadeIo op = lane.takeOp().set(t, off, len, result, buf, bufOff, null);
            op.callback = cb;
            op.arg = arg;
            BdevServer.Reply refusal = lane.accept(op);
            return refusal == null ? Errno.OK : FacadeLane.errnoOf(refusal);
        }
        lane = pick();
        FacadeIo op = new FacadeIo(lane, false).set(t, off, len, result, buf, bufOff, null);
        op.callback = cb;
        op.arg = arg;
        return lane.send(op) ? Errno.OK : Errno.ESHUTDOWN;
    }

    /** The lane of the reactor running the calling thread, or null off the reactors (no allocation, no ThreadLocal). */
    private FacadeLane current() {
        for (FacadeLane l : lanes) {
            if (l.reactor.isCurrent()) {
                return l;
            }
        }
        return null;
    }

    private FacadeLane pick() {
        int n = lanes.length;
        return lanes[Math.floorMod(next.getAndIncrement(), n)];
    }

    /** The reactor of lane {@code i} (tests). */
    Reactor reactorOf(int i) {
        return lanes[i].reactor;
    }

    @Override
    public String toString() {
        return "BdevFacade[bdev=" + bdevName + ", reactors=" + lanes.length + (closing ? ", closed]" : "]");
    }
}
