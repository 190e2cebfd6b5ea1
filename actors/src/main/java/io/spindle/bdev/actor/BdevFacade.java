package io.spindle.bdev.actor;

import io.spindle.bdev.BdevLayer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.japi.function.Function;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * Block I/O as {@link CompletionStage}s for plain Java code, on top of a {@link BdevServer}.
 *
 * <pre>{@code
 * BdevFacade disk = BdevFacade.open(system, layer, "Malloc0", 64, Duration.ofSeconds(5));
 * disk.write(0, block)                                  // block.length: a multiple of the block size
 *     .thenCompose(v -> disk.read(0, block.length))
 *     .thenAccept(data -> ...)                          // data: a fresh array, yours
 *     .whenComplete((v, e) -> disk.close());
 * }</pre>
 *
 * <p><b>Threads.</b> Every method may be called from any thread and returns at once. The returned stages are
 * {@link CompletableFuture}s completed on the facade's executor (by default the ActorSystem's default
 * dispatcher), never on a reactor; they are {@link io.spindle.runtime.OffReactorFuture}s, so a {@code join} or
 * {@code get} on one (or a stage made from one) that has not completed throws
 * {@link io.spindle.runtime.BlockingCallOnReactorException} on a reactor thread instead of stalling it; their non-async continuations run there too (or on the caller's thread when
 * the stage is already complete), so keep them short or use the {@code *Async} variants with your own executor.
 * (Pekko's own ask stages turn non-async continuations into tasks on the common pool, which on a 2-core machine
 * means a new thread per task; this facade never hands those out.)
 *
 * <p><b>Results.</b> A stage completes normally only when the I/O ran and completed with SUCCESS. Otherwise it
 * completes exceptionally with a {@link BdevReplyException} carrying the server's reply and an errno (EINVAL
 * naming the bad field, EBUSY past the server's in-flight bound, ENODEV once the bdev is removed, EIO for an I/O
 * that completed FAILED or ABORTED, ...), or with a {@link java.util.concurrent.TimeoutException} when no reply
 * came within the facade's timeout (the server was stopped, or the timeout is shorter than the I/O).
 *
 * <p><b>Ownership.</b> {@link #write}'s array is lent until its stage completes: do not modify it before. The
 * array {@link #read} yields is a fresh copy that belongs to the caller; nothing needs releasing.
 */
public final class BdevFacade {
    private final ActorRef<BdevServer.Command> server;
    private final Scheduler scheduler;
    private final Executor executor;
    private final Duration timeout;

    private BdevFacade(ActorRef<BdevServer.Command> server, Scheduler scheduler, Executor executor, Duration timeout) {
        this.server = server;
        this.scheduler = scheduler;
        this.executor = executor;
        this.timeout = timeout;
    }

    /**
     * A facade over a running {@code server}; stages complete on {@code system}'s default dispatcher.
     *
     * @param timeout how long each request waits for its reply (positive)
     * @throws IllegalArgumentException for a timeout that is not positive
     */
    public static BdevFacade create(ActorSystem<?> system, ActorRef<BdevServer.Command> server, Duration timeout) {
        return create(system, server, timeout, system.executionContext());
    }

    /**
     * A facade over a running {@code server}; stages complete on {@code executor}, which must run tasks on
     * threads that are not reactors.
     *
     * @param timeout how long each request waits for its reply (positive)
     * @throws IllegalArgumentException for a timeout that is not positive
     */
    public static BdevFacade create(ActorSystem<?> system, ActorRef<BdevServer.Command> server, Duration timeout, Executor executor) {
        Objects.requireNonNull(system, "system");
        Objects.requireNonNull(server, "server");
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(executor, "executor");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("bdev facade timeout=" + timeout + ": must be > 0");
        }
        return new BdevFacade(server, system.scheduler(), executor, timeout);
    }

    /**
     * Spawns a read-write {@link BdevServer} for {@code bdevName} as a system actor of {@code system} (no actor
     * context needed) and returns a facade over it; {@link #close()} stops that server.
     *
     * @param maxInFlight the server's bound on outstanding requests, 1 to {@link BdevServer#MAX_IN_FLIGHT_LIMIT}
     * @throws IllegalArgumentException naming a bad argument
     */
    public static BdevFacade open(ActorSystem<?> system, BdevLayer layer, String bdevName, int maxInFlight, Duration timeout) {
        Objects.requireNonNull(system, "system");
        ActorRef<BdevServer.Command> s = system.systemActorOf(BdevServer.create(layer, bdevName, maxInFlight), BdevServer.actorName(bdevName),
                Props.empty());
        return create(system, s, timeout);
    }

    /** The server the requests go to. */
    public ActorRef<BdevServer.Command> server() {
        return server;
    }

    /**
     * Reads {@code length} bytes at byte {@code offset}.
     *
     * @return the bytes: a fresh array owned by the caller; or fails as described in the class Javadoc
     */
    public CompletionStage<byte[]> read(long offset, int length) {
        return this.<BdevServer.ReadResult, byte[]>ask(replyTo -> new BdevServer.Read(offset, length, replyTo),
                r -> ((BdevServer.ReadCompleted) r).data());
    }

    /**
     * Writes {@code data} at byte {@code offset}; do not modify {@code data} until the stage completes.
     *
     * @return completes when the write completed with SUCCESS; or fails as described in the class Javadoc
     * @throws NullPointerException when {@code data} is null
     */
    public CompletionStage<Void> write(long offset, byte[] data) {
        Objects.requireNonNull(data, "data");
        return this.<BdevServer.WriteResult, Void>ask(replyTo -> new BdevServer.Write(offset, data, replyTo), r -> null);
    }

    /** Flushes {@code length} bytes at {@code offset}; completes on SUCCESS, else fails as in the class Javadoc. */
    public CompletionStage<Void> flush(long offset, long length) {
        return this.<BdevServer.WriteResult, Void>ask(replyTo -> new BdevServer.Flush(offset, length, replyTo), r -> null);
    }

    /** Unmaps {@code length} bytes at {@code offset}; completes on SUCCESS, else fails as in the class Javadoc. */
    public CompletionStage<Void> unmap(long offset, long length) {
        return this.<BdevServer.WriteResult, Void>ask(replyTo -> new BdevServer.Unmap(offset, length, replyTo), r -> null);
    }

    /** Writes zeroes to {@code length} bytes at {@code offset}; completes on SUCCESS, else fails as in the class Javadoc. */
    public CompletionStage<Void> writeZeroes(long offset, long length) {
        return this.<BdevServer.WriteResult, Void>ask(replyTo -> new BdevServer.WriteZeroes(offset, length, replyTo), r -> null);
    }

    /**
     * Closes the server ({@link BdevServer.Close}): completes once its descriptors, channels and buffers were
     * released on every reactor and it stopped. Requests sent after this are refused (ESHUTDOWN) or time out.
     */
    public CompletionStage<Void> close() {
        CompletableFuture<Void> out = new io.spindle.runtime.OffReactorFuture<>();
        AskPattern.<BdevServer.Command, BdevServer.Closed>ask(server, BdevServer.Close::new, timeout, scheduler)
                .whenCompleteAsync((c, e) -> {
                    if (e != null) {
                        out.completeExceptionally(e);
                    } else {
                        out.complete(null);
                    }
                }, executor);
        return out;
    }

    /** Asks, then completes a plain future on the executor: the value on success, else a BdevReplyException. */
    private <R extends BdevServer.Reply, T> CompletionStage<T> ask(Function<ActorRef<R>, BdevServer.Command> request,
                                                                   java.util.function.Function<R, T> onSuccess) {
        CompletableFuture<T> out = new io.spindle.runtime.OffReactorFuture<>();
        AskPattern.<BdevServer.Command, R>ask(server, request, timeout, scheduler)
                .whenCompleteAsync((r, e) -> {
                    if (e != null) {
                        out.completeExceptionally(e);
                    } else if (r.success()) {
                        out.complete(onSuccess.apply(r));
                    } else {
                        out.completeExceptionally(new BdevReplyException(r));
                    }
                }, executor);
        return out;
    }
}
