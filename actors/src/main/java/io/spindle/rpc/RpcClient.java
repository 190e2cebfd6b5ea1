package io.spindle.rpc;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A blocking JSON-RPC 2.0 client for a Spindle (or SPDK) target, as SPDK's {@code rpc.py} talks to it: one
 * request at a time, ids counting up from 1, responses read as a stream of JSON values.
 *
 * <p>The address is a Unix socket path when that path exists, else a host with a TCP port (rpc.py's rule).
 * Each {@link #call} waits at most the timeout for its response; on timeout the connection is closed and
 * {@link IOException} is thrown.
 *
 * <p>Not thread-safe: one caller thread. {@link #close()} releases the socket and the timer thread.
 */
public final class RpcClient implements AutoCloseable {
    private final SocketChannel channel;
    private final OutputStream out;
    private final InputStream in;
    private JsonParser parser; // created at the first read: Jackson reads ahead to detect the encoding
    private final Duration timeout;
    private final ScheduledExecutorService timer;
    private final String address;
    private long nextId;
    private volatile java.util.function.BiConsumer<String, JsonNode> trace;

    private RpcClient(SocketChannel channel, Duration timeout, String address) throws IOException {
        this.channel = channel;
        this.timeout = timeout;
        this.address = address;
        this.out = Channels.newOutputStream(channel);
        this.in = Channels.newInputStream(channel);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spindle-rpc-client-timer");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Connects to {@code address} (a Unix socket path if it exists, else a host for {@code port}).
     *
     * @throws IOException naming the address when it cannot be reached
     */
    public static RpcClient connect(String address, int port, Duration timeout) throws IOException {
        Objects.requireNonNull(address, "address");
        SocketChannel ch;
        try {
            if (Files.exists(Path.of(address))) {
                ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(address));
            } else {
                if (port <= 0) {
                    throw new IOException("no such socket file, and no TCP port given");
                }
                ch = SocketChannel.open(new InetSocketAddress(address, port));
            }
        } catch (IOException | RuntimeException e) {
            throw new IOException("Error while connecting to " + address + (Files.exists(Path.of(address)) || port <= 0 ? "" : ":" + port)
                    + "\nIs the Spindle target running?\nError details: " + e.getMessage(), e);
        }
        return new RpcClient(ch, timeout, address);
    }

    /** Connects to a Unix socket. */
    public static RpcClient connect(Path socket, Duration timeout) throws IOException {
        return connect(socket.toString(), 0, timeout);
    }

    /**
     * Calls {@code trace} with ({@code "Requests"}, the request) before each {@link #request} is sent and with
     * ({@code "response"}, the response) when it arrives: what rpc.py logs at INFO. Null for none.
     */
    public RpcClient trace(java.util.function.BiConsumer<String, JsonNode> trace) {
        this.trace = trace;
        return this;
    }

    /** The id of the last request sent by {@link #request} (0 before the first): rpc.py's {@code req_id}. */
    public long lastId() {
        return nextId;
    }

    /** The address connected to. */
    public String address() {
        return address;
    }

    /**
     * Sends {@code {"jsonrpc":"2.0","method":method,"id":n,"params":params}} (params omitted when null or empty,
     * as rpc.py does) and returns the whole response object.
     *
     * @throws IOException when the connection fails or closes, or no response arrives within the timeout
     * @throws io.spindle.runtime.BlockingCallOnReactorException on a reactor thread (it waits for the server, whose
     *                                                        methods may need this reactor)
     */
    public JsonNode request(String method, JsonNode params) throws IOException {
        io.spindle.runtime.Reactor.refuseBlockingCall("RpcClient.request method=" + method);
        ObjectNode req = RpcDispatcher.JSON.createObjectNode();
        req.put("jsonrpc", "2.0");
        req.put("method", method);
        req.put("id", ++nextId);
        if (params != null && !(params.isObject() && params.isEmpty())) {
            req.set("params", params);
        }
        java.util.function.BiConsumer<String, JsonNode> t = trace;
        if (t != null) {
            t.accept("Requests", req);
        }
        out.write(RpcDispatcher.JSON.writeValueAsBytes(req));
        out.flush();
        JsonNode r = readResponse();
        if (t != null) {
            t.accept("response", r);
        }
        return r;
    }

    /**
     * {@link #request}, then the result.
     *
     * @throws RpcException the error the server answered with
     * @throws IOException  when no response arrives
     */
    public JsonNode call(String method, JsonNode params) throws IOException, RpcException {
        JsonNode r = request(method, params);
        JsonNode err = r.get("error");
        if (err != null) {
            JsonNode data = err.get("data");
            throw new RpcException(err.path("code").asInt(RpcException.INTERNAL_ERROR), err.path("message").asText(""),
                    data == null ? null : data.isTextual() ? data.asText() : data.toString());
        }
        return r.get("result");
    }

    /**
     * Reads the next JSON value from the connection (for callers that pipeline raw requests).
     *
     * @throws io.spindle.runtime.BlockingCallOnReactorException on a reactor thread
     */
    public JsonNode readResponse() throws IOException {
        io.spindle.runtime.Reactor.refuseBlockingCall("RpcClient.readResponse");
        ScheduledFuture<?> watchdog = timer.schedule(this::abort, timeout.toMillis(), TimeUnit.MILLISECONDS);
        try {
            if (parser == null) {
                parser = RpcDispatcher.JSON.getFactory().createParser(in);
            }
            JsonToken t = parser.nextToken();
            if (t == null) {
                throw new IOException("connection closed by " + address + " before a response arrived");
            }
            JsonNode v = RpcDispatcher.JSON.readTree(parser);
            if (v == null) {
                throw new IOException("connection closed by " + address + " before a response arrived");
            }
            return v;
        } catch (IOException e) {
            if (!channel.isOpen() && watchdog.isDone()) {
                throw new IOException("Timeout while waiting for response from " + address + " (" + timeout.toSeconds() + " s)", e);
            }
            throw e;
        } finally {
            watchdog.cancel(false);
        }
    }

    /** Writes raw bytes (tests: malformed or pipelined requests). */
    public void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    private void abort() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing for the timeout anyway
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
        try {
            if (parser != null) {
                parser.close();
            }
        } catch (IOException ignored) {
            // closing anyway
        }
        abort();
    }
}
