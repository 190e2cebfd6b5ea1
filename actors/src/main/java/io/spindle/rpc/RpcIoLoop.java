package io.spindle.rpc;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The RPC server's socket loop: one platform thread ({@code spindle-rpc}) with a {@link Selector} over the
 * listeners and every client connection. It accepts, reads and frames requests ({@link JsonFramer}), parses
 * them, hands each to the {@link Handler} (the RPC server actor), and writes the responses it is given back.
 * Nothing else touches a connection's socket or buffers.
 *
 * <p><b>Order, per connection.</b> A connection's requests are handed over one at a time, in the order they
 * arrived: the next one only after the previous one's response was queued for writing, as SPDK's server runs a
 * connection's requests (its handlers answer before the next request is read). A client that pipelines a create, a
 * get and a delete gets them carried out in that order. Concurrency comes from different connections.
 *
 * <p><b>Flow control, per connection.</b> While a request is being served, or while more than
 * {@code max-pending-output} bytes of responses wait for a client that does not read them, the loop does not
 * read that connection, and reads again when that drains. So a client that pipelines thousands of requests, or
 * never reads, holds a bounded amount of the server's memory and does not slow down anyone else.
 *
 * <p><b>Connections.</b> At most {@code max-connections} are served; past it the loop stops accepting, and new
 * clients wait in the kernel's listen backlog (their connect succeeds, their request is read) until a connection
 * closes, as SPDK's do; none is refused. A connection with nothing in flight and nothing received for
 * {@code idle-timeout} is closed. A batch of more than {@code max-batch-size} requests is answered -32600.
 *
 * <p><b>Errors on a connection.</b> Invalid JSON is answered -32700 (id null) and the connection is closed
 * after that reply, as SPDK does (a stream cannot be resynchronised). A request over {@code max-request-size}
 * is skipped and answered -32600; the connection stays usable. A client that closes its side mid-request loses
 * only that partial request; one that closes after sending whole requests still gets their responses (half
 * close), then the connection is closed. A socket error closes the connection; responses still owed to it are
 * dropped when they arrive.
 *
 * <p><b>Threads.</b> {@link #respond} and {@link #close} may be called from any thread; everything else runs
 * on the loop thread.
 */
final class RpcIoLoop implements Runnable {
    /** Receives parsed requests; called on the loop thread. */
    interface Handler {
        /** A request (or batch) of {@code conn}; answer it with exactly one {@link #respond} call. */
        void request(Conn conn, JsonNode value);
    }

    /** One client connection. Its fields are owned by the loop thread. */
    static final class Conn {
        final long id;
        final SocketChannel channel;
        final JsonFramer framer;
        final ByteBuffer in = ByteBuffer.allocate(64 * 1024);
        final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
        SelectionKey key;
        long pendingOut;
        long lastActive = System.nanoTime();
        int outstanding;
        boolean inputClosed;
        boolean closeAfterFlush;
        volatile boolean closed;

        Conn(long id, SocketChannel channel, int maxRequest) {
            this.id = id;
            this.channel = channel;
            this.framer = new JsonFramer(maxRequest);
        }

        @Override
        public String toString() {
            return "rpc-conn-" + id;
        }
    }

    private final RpcListener listener;
    private final RpcServerConfig cfg;
    private final Handler handler;
    private final Selector selector;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();
    private final Set<Conn> conns = new HashSet<>();
    private final AtomicInteger connCount = new AtomicInteger();
    private volatile long pendingOutput;   // written by the loop thread only
    private volatile long maxPendingPerConn;
    private final java.util.concurrent.atomic.AtomicLong requests = new java.util.concurrent.atomic.AtomicLong();
    private volatile boolean stopping;
    private long nextId;
    private long backlogLogged;
    private final List<SelectionKey> acceptKeys = new ArrayList<>();
    private boolean accepting = true;
    private long lastIdleCheck = System.nanoTime();

    RpcIoLoop(RpcListener listener, RpcServerConfig cfg, Handler handler) throws IOException {
        this.listener = listener;
        this.cfg = cfg;
        this.handler = handler;
        this.selector = Selector.open();
        try {
            for (ServerSocketChannel s : new ServerSocketChannel[] {listener.unix, listener.tcp}) {
                if (s != null) {
                    s.configureBlocking(false);
                    acceptKeys.add(s.register(selector, SelectionKey.OP_ACCEPT));
                }
            }
        } catch (IOException e) {
            selector.close();
            throw e;
        }
        this.thread = new Thread(this, "spindle-rpc");
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Open connections. Any thread. */
    int connections() {
        return connCount.get();
    }

    /** Response bytes queued and not yet written, over all connections. Any thread. */
    long pendingOutputBytes() {
        return pendingOutput;
    }

    /** The most response bytes ever queued for one connection. Any thread. */
    long maxPendingPerConnection() {
        return maxPendingPerConn;
    }

    /** Requests (or batches) handed to the server so far. Any thread. */
    long requests() {
        return requests.get();
    }

    /**
     * The response to one request of {@code conn}: its bytes, or null when nothing is to be sent (a
     * notification). Exactly once per request handed to the handler. Any thread.
     */
    void respond(Conn conn, byte[] bytes) {
        commands.add(() -> onResponse(conn, bytes));
        selector.wakeup();
    }

    /**
     * Stops accepting, flushes queued responses for up to {@code flushMillis}, closes every connection and the
     * listeners (removing the socket file), and ends the thread. Idempotent; any thread but the loop's.
     */
    void close(long flushMillis) {
        stopping = true;
        flushDeadlineMillis = flushMillis;
        selector.wakeup();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10) + flushMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            RpcServer.LOG.error("rpc: I/O thread did not stop in time");
        }
    }

    private volatile long flushDeadlineMillis;

    @Override
    public void run() {
        try {
            while (!stopping) {
                selector.select(1000);
                runCommands();
                closeIdle();
                Iterator<SelectionKey> it = selector.selectedKeys().iterator();
                while (it.hasNext()) {
                    SelectionKey k = it.next();
                    it.remove();
                    if (!k.isValid()) {
                        continue;
                    }
                    if (k.isAcceptable()) {
                        accept((ServerSocketChannel) k.channel());
                        continue;
                    }
                    Conn c = (Conn) k.attachment();
                    try {
                        if (k.isWritable()) {
                            write(c);
                        }
                        if (!c.closed && k.isValid() && k.isReadable()) {
                            read(c);
                        }
                    } catch (IOException e) {
                        RpcServer.LOG.debug("rpc: {} closed: {}", c, e.toString());
                        closeConn(c);
                    }
                }
            }
            shutdown();
        } catch (Throwable t) {
            RpcServer.LOG.error("rpc: I/O loop failed; closing the server", t);
            shutdownQuietly();
        }
    }

    private void runCommands() {
        Runnable r;
        while ((r = commands.poll()) != null) {
            r.run();
        }
    }

    private void accept(ServerSocketChannel server) throws IOException {
        SocketChannel ch;
        while (conns.size() < cfg.maxConnections() && (ch = server.accept()) != null) {
            ch.configureBlocking(false);
            Conn c = new Conn(++nextId, ch, cfg.maxRequestBytes());
            c.key = ch.register(selector, SelectionKey.OP_READ, c);
            conns.add(c);
            connCount.incrementAndGet();
        }
        updateAccepting();
    }

    /**
     * Accepts while below {@code max-connections}; at the limit stops accepting, so new clients wait in the listen
     * backlog (as SPDK's) instead of being closed, and accepts again when a connection closes.
     */
    private void updateAccepting() {
        boolean want = conns.size() < cfg.maxConnections();
        if (want == accepting) {
            return;
        }
        accepting = want;
        for (SelectionKey k : acceptKeys) {
            if (k.isValid()) {
                k.interestOps(want ? SelectionKey.OP_ACCEPT : 0);
            }
        }
        if (!want) {
            long now = System.nanoTime();
            if (now - backlogLogged > TimeUnit.SECONDS.toNanos(10)) {
                backlogLogged = now;
                RpcServer.LOG.warn("rpc: spindle.rpc.max-connections={} reached; new clients wait in the listen backlog until one closes",
                        cfg.maxConnections());
            }
        }
    }

    /** Closes connections idle past {@code idle-timeout}: nothing in flight, nothing queued, nothing received. */
    private void closeIdle() {
        long timeout = cfg.idleTimeout().toNanos();
        long now = System.nanoTime();
        if (timeout == 0 || now - lastIdleCheck < Math.min(timeout, TimeUnit.SECONDS.toNanos(1))) {
            return;
        }
        lastIdleCheck = now;
        for (Conn c : new ArrayList<>(conns)) {
            if (c.outstanding == 0 && c.out.isEmpty() && !c.framer.midValue() && c.in.position() == 0 && now - c.lastActive >= timeout) {
                RpcServer.LOG.info("rpc: {} idle for spindle.rpc.idle-timeout={}; closed", c, cfg.idleTimeout());
                closeConn(c);
            }
        }
    }

    private void read(Conn c) throws IOException {
        int n = c.channel.read(c.in);
        if (n < 0) {
            c.inputClosed = true;
            if (c.framer.midValue()) {
                RpcServer.LOG.debug("rpc: {} closed in the middle of a request; it is dropped", c);
            }
            if (c.in.position() > 0 && canParse(c)) {
                parse(c); // whole requests read before the end of input are still carried out
            }
            settle(c);
            return;
        }
        if (n > 0) {
            c.lastActive = System.nanoTime();
            parse(c);
        }
        settle(c);
    }

    /** Frames and hands over what is buffered, as far as flow control allows. */
    private void parse(Conn c) {
        c.in.flip();
        c.framer.feed(c.in, new JsonFramer.Sink() {
            @Override
            public boolean value(byte[] buf, int len) {
                JsonNode v;
                try {
                    v = RpcDispatcher.JSON.readTree(buf, 0, len);
                } catch (JsonProcessingException e) {
                    queue(c, RpcDispatcher.error(null, new RpcException(RpcException.PARSE_ERROR, "Parse error: "
                            + e.getOriginalMessage())));
                    c.closeAfterFlush = true;
                    return false;
                } catch (IOException e) {
                    queue(c, RpcDispatcher.error(null, new RpcException(RpcException.PARSE_ERROR, "Parse error: " + e)));
                    c.closeAfterFlush = true;
                    return false;
                }
                if (v.isArray() && v.size() > cfg.maxBatchSize()) {
                    queue(c, RpcDispatcher.error(null, new RpcException(RpcException.INVALID_REQUEST, "Invalid request: a batch of "
                            + v.size() + " requests exceeds spindle.rpc.max-batch-size=" + cfg.maxBatchSize())));
                    return canParse(c);
                }
                c.outstanding++;
                requests.incrementAndGet();
                handler.request(c, v);
                return canParse(c);
            }

            @Override
            public void tooLarge(long size) {
                queue(c, RpcDispatcher.error(null, new RpcException(RpcException.INVALID_REQUEST, "Invalid request: " + size
                        + " bytes exceed spindle.rpc.max-request-size=" + cfg.maxRequestBytes())));
            }
        });
        c.in.compact();
    }

    /**
     * Whether the next buffered request may be handed over now: none of this connection's is being served (order),
     * and its queued output is within bounds (flow control).
     */
    private boolean canParse(Conn c) {
        return !c.closeAfterFlush && c.outstanding == 0 && c.pendingOut <= cfg.maxPendingOutputBytes();
    }

    /** Whether to read more from the client: input still open and {@link #canParse}. */
    private boolean canRead(Conn c) {
        return !c.inputClosed && canParse(c);
    }

    private void queue(Conn c, JsonNode response) {
        try {
            queueBytes(c, withNewline(RpcDispatcher.JSON.writeValueAsBytes(response)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] withNewline(byte[] json) {
        byte[] b = new byte[json.length + 1];
        System.arraycopy(json, 0, b, 0, json.length);
        b[json.length] = '\n';
        return b;
    }

    private void queueBytes(Conn c, byte[] bytes) {
        c.out.add(ByteBuffer.wrap(bytes));
        c.pendingOut += bytes.length;
        pendingOutput += bytes.length;
        if (c.pendingOut > maxPendingPerConn) {
            maxPendingPerConn = c.pendingOut;
        }
    }

    private void onResponse(Conn c, byte[] bytes) {
        c.outstanding--;
        c.lastActive = System.nanoTime();
        if (c.closed) {
            return; // the client went away; its response is dropped
        }
        if (bytes != null) {
            queueBytes(c, bytes);
        }
        try {
            write(c);
            if (!c.closed && canParse(c) && c.in.position() > 0) {
                parse(c); // requests read before flow control stopped us
            }
            settle(c);
        } catch (IOException e) {
            RpcServer.LOG.debug("rpc: {} closed: {}", c, e.toString());
            closeConn(c);
        }
    }

    private void write(Conn c) throws IOException {
        while (!c.out.isEmpty()) {
            ByteBuffer b = c.out.peek();
            int n = c.channel.write(b);
            c.pendingOut -= n;
            pendingOutput -= n;
            if (b.hasRemaining()) {
                break;
            }
            c.out.poll();
        }
        settle(c);
    }

    /** Closes the connection when it is done, else sets what the selector waits for. */
    private void settle(Conn c) {
        if (c.closed) {
            return;
        }
        boolean drained = c.out.isEmpty();
        if (drained && c.outstanding == 0 && (c.inputClosed || c.closeAfterFlush)) {
            closeConn(c);
            return;
        }
        if (drained && c.closeAfterFlush) {
            // the parse error reply is out; requests still being served are not waited for
            closeConn(c);
            return;
        }
        int ops = (canRead(c) ? SelectionKey.OP_READ : 0) | (drained ? 0 : SelectionKey.OP_WRITE);
        if (c.key.isValid() && c.key.interestOps() != ops) {
            c.key.interestOps(ops);
        }
    }

    private void closeConn(Conn c) {
        if (c.closed) {
            return;
        }
        c.closed = true;
        c.key.cancel();
        try {
            c.channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        c.out.clear();
        pendingOutput -= c.pendingOut;
        c.pendingOut = 0;
        if (conns.remove(c)) {
            connCount.decrementAndGet();
        }
        if (!stopping) {
            updateAccepting();
        }
    }

    private void shutdown() throws IOException {
        listener.close(); // no new clients; the socket file goes now
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(flushDeadlineMillis);
        while (System.nanoTime() - deadline < 0) {
            runCommands();
            boolean pending = false;
            for (Conn c : new ArrayList<>(conns)) {
                if (!c.out.isEmpty()) {
                    try {
                        write(c);
                    } catch (IOException e) {
                        closeConn(c);
                    }
                    pending |= !c.closed && !c.out.isEmpty();
                }
            }
            if (!pending) {
                break;
            }
            selector.select(10);
            selector.selectedKeys().clear();
        }
        shutdownQuietly();
    }

    private void shutdownQuietly() {
        listener.close();
        List<Conn> all = new ArrayList<>(conns);
        for (Conn c : all) {
            closeConn(c);
        }
        try {
            selector.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
