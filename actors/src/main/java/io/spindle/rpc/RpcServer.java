package io.spindle.rpc;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.app.Spindle;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The JSON-RPC server actor ({@code rpc}, a child of the app actor): SPDK's RPC server, on a Unix domain
 * socket and optionally a TCP port on 127.0.0.1, speaking JSON-RPC 2.0 with SPDK's method names, so SPDK's
 * {@code scripts/rpc.py} can drive it.
 *
 * <p><b>Shape.</b> The actor owns the listening sockets ({@link RpcListener}) and the socket loop
 * ({@link RpcIoLoop}, one thread). The loop reads and parses requests and sends each to this actor as a
 * {@link Request}; the actor invokes the method through the {@link RpcDispatcher} (handlers never block) and
 * the response goes back to the loop from whichever thread completes it. Stopping the actor (the app stops it
 * first, before any subsystem is finished) stops accepting, flushes queued responses for up to a second,
 * closes every connection, removes the socket and lock files and ends the loop thread, all in
 * {@code PostStop}.
 *
 * <p>Threads: messages on the actor's dispatcher (an ordinary one, never a reactor).
 */
public final class RpcServer extends AbstractBehavior<RpcServer.Command> {
    static final Logger LOG = LoggerFactory.getLogger("io.spindle.rpc");

    /** The actor's protocol. */
    public sealed interface Command permits Request {
    }

    /** A parsed request (or batch) of one connection, from the socket loop. */
    record Request(RpcIoLoop.Conn conn, JsonNode value) implements Command {
    }

    private final RpcDispatcher dispatcher;
    private final RpcListener listener;
    private final RpcIoLoop loop;
    private final Bound bound;

    /**
     * Counters of a running server: open connections, response bytes queued and not yet written (all
     * connections), the most ever queued for one connection, and requests served.
     */
    public record Stats(int connections, long pendingOutputBytes, long maxPendingPerConnection, long requests) {
    }


    private RpcServer(ActorContext<Command> ctx, Bound bound) {
        super(ctx);
        this.dispatcher = bound.dispatcher;
        this.listener = bound.listener;
        this.loop = bound.loop;
        this.bound = bound;
        bound.self.set(ctx.getSelf());
        loop.start();
        bound.serving = true;
        ctx.getLog().info("rpc: listening on {}{}", listener.socketPath() != null ? listener.socketPath() : "",
                listener.tcpAddress() != null ? (listener.socketPath() != null ? " and " : "") + "tcp " + listener.tcpAddress() : "");
    }

    /**
     * Binds the sockets of {@code cfg} now (so a bad path or a path in use fails the caller at once) and returns
     * the server's behavior, which takes them over.
     *
     * @throws IOException naming the path or port and why it cannot be used
     */
    public static Bound bind(RpcServerConfig cfg) throws IOException {
        return new Bound(RpcListener.open(cfg));
    }

    /**
     * Bound sockets, not yet served: {@link #prepare} builds the method table and the socket loop (so a broken
     * provider or a selector that cannot open fails the caller too), {@link #behavior} serves them,
     * {@link #close} releases them unused.
     */
    public static final class Bound {
        private final RpcListener listener;
        private volatile boolean serving;
        private final java.util.concurrent.atomic.AtomicReference<ActorRef<Command>> self = new java.util.concurrent.atomic.AtomicReference<>();
        private RpcDispatcher dispatcher;
        private RpcIoLoop loop;

        private Bound(RpcListener listener) {
            this.listener = listener;
        }

        /** The Unix socket path, or null. */
        public Path socketPath() {
            return listener.socketPath();
        }

        /** The bound TCP address on 127.0.0.1, or null. */
        public InetSocketAddress tcpAddress() {
            return listener.tcpAddress();
        }

        /**
         * Builds the dispatcher (every method provider) and the socket loop for {@code spindle}; on failure the
         * sockets are released.
         *
         * @throws IOException           when the selector cannot be opened
         * @throws IllegalStateException when two providers register the same method
         */
        public Bound prepare(Spindle spindle, RpcServerConfig cfg) throws IOException {
            try {
                dispatcher = RpcDispatcher.create(spindle);
                loop = new RpcIoLoop(listener, cfg, (conn, value) -> {
                    ActorRef<Command> s = self.get();
                    if (s != null) {
                        s.tell(new Request(conn, value));
                    }
                });
                return this;
            } catch (IOException | RuntimeException e) {
                listener.close();
                throw e;
            }
        }

        /** The server behavior; spawn it once, after {@link #prepare}. */
        public Behavior<Command> behavior() {
            if (loop == null) {
                throw new IllegalStateException("RpcServer.Bound.behavior: prepare first");
            }
            return Behaviors.setup(ctx -> new RpcServer(ctx, this));
        }

        /** The server's counters, or null before it serves or after it stopped. Any thread. */
        public Stats stats() {
            RpcIoLoop l = loop;
            return serving && l != null ? new Stats(l.connections(), l.pendingOutputBytes(), l.maxPendingPerConnection(), l.requests()) : null;
        }

        /** Releases the sockets and files without serving them. */
        public void close() {
            listener.close();
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Request.class, this::onRequest)
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    private Behavior<Command> onRequest(Request m) {
        List<Runnable> after = new ArrayList<>();
        dispatcher.handle(m.value(), after).whenComplete((resp, err) -> {
            byte[] bytes = null;
            if (err != null) {
                LOG.error("rpc: request of {} failed", m.conn(), err);
                resp = RpcDispatcher.error(null, new RpcException(RpcException.INTERNAL_ERROR, "Internal error: " + err));
            }
            if (resp != null) {
                try {
                    bytes = RpcIoLoop.withNewline(RpcDispatcher.JSON.writeValueAsBytes(resp));
                } catch (JsonProcessingException e) {
                    LOG.error("rpc: cannot write the response to {}", m.conn(), e);
                    bytes = RpcIoLoop.withNewline(("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"Internal error\"}}")
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
            }
            loop.respond(m.conn(), bytes);
            List<Runnable> acts;
            synchronized (after) {
                acts = List.copyOf(after);
            }
            for (Runnable r : acts) {
                try {
                    r.run();
                } catch (RuntimeException e) {
                    LOG.error("rpc: after-response action failed", e);
                }
            }
        });
        return this;
    }

    private Behavior<Command> onPostStop() {
        bound.serving = false;
        loop.close(1000);
        listener.close();
        getContext().getLog().info("rpc: stopped");
        return this;
    }
}
