package io.spindle.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.app.Spindle;
import io.spindle.bdev.BdevException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.rpc.spi.RpcState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;

/**
 * The JSON-RPC 2.0 engine of one Spindle instance: the method table (every {@link RpcMethodProvider} found by
 * {@link ServiceLoader}, and the {@link io.spindle.app.Subsystem#rpcMethods()} of the instance's subsystems) and the request rules of SPDK's server. The socket server hands it each JSON value it
 * reads; the JSON config loader calls methods through it in-process.
 *
 * <p><b>Requests</b>, as SPDK's {@code jsonrpc_server.c} checks them: an object with {@code method} (a string),
 * optional {@code jsonrpc} (must be {@code "2.0"}), {@code params} (an object, or null for none) and {@code id}
 * (a string, number or null), and no other key; otherwise -32600 Invalid Request. A request without an id (or
 * with a null id) is a notification: a result is not sent, an error is (with {@code "id": null}), as SPDK does.
 * A batch (an array) is answered with an array of the responses that are sent, in request order; an empty batch
 * is -32600; a batch of notifications only gets no reply. The requests of a batch are carried out one after
 * another, each once the previous one has completed (as SPDK's synchronous handlers run them), so a batch may
 * create a bdev and use it.
 *
 * <p><b>Errors.</b> -32601 for an unknown method, -1 (INVALID_STATE) for a method not allowed in the current
 * {@link RpcState}, -32602 for bad parameters, SPDK's negative errno codes for refused operations, -32603 for
 * anything else (logged with its cause).
 *
 * <p><b>Threads.</b> {@link #handle} and {@link #call} invoke the handler on the calling thread (the RPC server
 * actor's, or the config loader's) and return at once; the returned stage completes on {@link #executor()}.
 * The handlers of a batch's second and later requests run on {@link #executor()}, each after the previous
 * request completed. Thread-safe.
 */
public final class RpcDispatcher {
    private static final Logger LOG = LoggerFactory.getLogger(RpcDispatcher.class);
    static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private final Spindle spindle;
    private final Map<String, RpcMethod> methods;
    private final Executor executor;

    private RpcDispatcher(Spindle spindle, Map<String, RpcMethod> methods) {
        this.spindle = spindle;
        this.methods = methods;
        this.executor = spindle.system().executionContext();
    }

    /**
     * The dispatcher of {@code spindle}, with the methods of every provider on the class path.
     *
     * @throws IllegalStateException when two providers register the same method name (both are named)
     */
    public static RpcDispatcher create(Spindle spindle) {
        Map<String, RpcMethod> m = new LinkedHashMap<>();
        Map<String, String> owner = new LinkedHashMap<>();
        for (RpcMethodProvider p : ServiceLoader.load(RpcMethodProvider.class)) {
            for (RpcMethod method : p.methods()) {
                String prev = owner.putIfAbsent(method.name(), p.getClass().getName());
                if (prev != null) {
                    throw new IllegalStateException("rpc method=" + method.name() + " is registered by both " + prev + " and "
                            + p.getClass().getName());
                }
                m.put(method.name(), method);
            }
        }
        for (io.spindle.app.Subsystem sub : spindle.config().subsystems()) {
            for (RpcMethod method : sub.rpcMethods()) {
                String prev = owner.putIfAbsent(method.name(), "subsystem " + sub.name());
                if (prev != null) {
                    throw new IllegalStateException("rpc method=" + method.name() + " is registered by both " + prev + " and subsystem "
                            + sub.name());
                }
                m.put(method.name(), method);
            }
        }
        return new RpcDispatcher(spindle, Collections.unmodifiableMap(m));
    }

    /** Every method name, sorted; with {@code currentOnly}, those callable in the current state. */
    public List<String> methodNames(boolean currentOnly) {
        RpcState st = spindle.rpcState();
        List<String> out = new ArrayList<>();
        for (RpcMethod m : methods.values()) {
            if (!currentOnly || m.states().contains(st)) {
                out.add(m.name());
            }
        }
        Collections.sort(out);
        return out;
    }

    /** The method named {@code name}, or null. */
    public RpcMethod method(String name) {
        return methods.get(name);
    }

    /** Where result stages complete: the Pekko dispatcher of the Spindle's ActorSystem. */
    public Executor executor() {
        return executor;
    }

    /**
     * Serves one JSON value read from a client: a request or a batch.
     *
     * @return completes with the response (an object or an array) or null when nothing is to be sent; never
     *         fails. {@code after} collects actions a method asked to run once its response is on its way
     */
    public CompletionStage<JsonNode> handle(JsonNode value, List<Runnable> after) {
        if (value.isArray()) {
            if (value.isEmpty()) {
                return CompletableFuture.completedFuture(error(null, new RpcException(RpcException.INVALID_REQUEST, "Invalid request")));
            }
            // one after another, each once the previous one has completed, as SPDK's (synchronous) handlers run a
            // batch: a batch may create a bdev and then use it
            List<CompletableFuture<JsonNode>> parts = new ArrayList<>();
            CompletableFuture<JsonNode> last = null;
            for (JsonNode e : value) {
                CompletableFuture<JsonNode> p = last == null ? single(e, after).toCompletableFuture()
                        : last.thenComposeAsync(prev -> single(e, after), executor);
                parts.add(p);
                last = p;
            }
            return CompletableFuture.allOf(parts.toArray(new CompletableFuture<?>[0])).thenApplyAsync(v -> {
                ArrayNode out = F.arrayNode();
                for (CompletableFuture<JsonNode> p : parts) {
                    JsonNode r = p.join();
                    if (r != null) {
                        out.add(r);
                    }
                }
                return out.isEmpty() ? null : (JsonNode) out;
            }, executor);
        }
        return single(value, after);
    }

    /** One request object; completes with its response or null (a notification's result). */
    private CompletionStage<JsonNode> single(JsonNode req, List<Runnable> after) {
        if (!req.isObject()) {
            return CompletableFuture.completedFuture(error(null, new RpcException(RpcException.INVALID_REQUEST, "Invalid request")));
        }
        JsonNode id = req.get("id");
        if (id != null && !(id.isTextual() || id.isNumber() || id.isNull())) {
            return CompletableFuture.completedFuture(error(null, new RpcException(RpcException.INVALID_REQUEST, "Invalid request")));
        }
        JsonNode version = req.get("jsonrpc");
        JsonNode method = req.get("method");
        JsonNode params = req.get("params");
        boolean ok = (version == null || (version.isTextual() && version.asText().equals("2.0")))
                && method != null && method.isTextual()
                && (params == null || params.isNull() || params.isObject() || params.isArray());
        for (Iterator<String> it = req.fieldNames(); ok && it.hasNext(); ) {
            String k = it.next();
            ok = k.equals("jsonrpc") || k.equals("method") || k.equals("params") || k.equals("id");
        }
        if (!ok) {
            return CompletableFuture.completedFuture(error(id, new RpcException(RpcException.INVALID_REQUEST, "Invalid request")));
        }
        boolean notification = id == null || id.isNull();
        return invoke(method.asText(), params, after).handle((result, err) -> {
            if (err != null) {
                return error(id, toRpcException(method.asText(), err));
            }
            if (notification) {
                return null;
            }
            ObjectNode r = F.objectNode();
            r.put("jsonrpc", "2.0");
            r.set("id", id);
            r.set("result", result);
            return r;
        });
    }

    /**
     * Calls {@code method} in-process (the JSON config loader's path): the same checks as a request, without the
     * envelope.
     *
     * @return completes with the result, or fails with an {@link RpcException}
     */
    public CompletionStage<JsonNode> call(String method, JsonNode params, List<Runnable> after) {
        return invoke(method, params, after).handle((r, err) -> {
            if (err != null) {
                throw new CompletionException(toRpcException(method, err));
            }
            return r;
        });
    }

    private CompletionStage<JsonNode> invoke(String name, JsonNode params, List<Runnable> after) {
        RpcMethod m = methods.get(name);
        if (m == null) {
            return CompletableFuture.failedFuture(new RpcException(RpcException.METHOD_NOT_FOUND, "Method not found"));
        }
        RpcState st = spindle.rpcState();
        if (!m.states().contains(st)) {
            return CompletableFuture.failedFuture(new RpcException(RpcException.INVALID_STATE, st == RpcState.STARTUP
                    ? "Method may only be called after framework is initialized using framework_start_init RPC."
                    : "Method may only be called before framework is initialized. Use --wait-for-rpc command line parameter "
                    + "and then issue this RPC before the framework_start_init RPC."));
        }
        CompletionStage<?> out;
        try {
            RpcParams p = new RpcParams(name, params);
            out = m.handler().call(new Call(name, p, after));
            if (out == null) {
                throw new IllegalStateException("rpc method=" + name + " returned no stage");
            }
        } catch (Throwable e) {
            return CompletableFuture.failedFuture(e);
        }
        return out.thenApplyAsync(v -> v instanceof JsonNode j ? j : JSON.valueToTree(v), executor);
    }

    private static RpcException toRpcException(String method, Throwable err) {
        Throwable t = err;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof RpcException r) {
            return r;
        }
        if (t instanceof BdevException b) {
            return RpcException.errno(b.errno(), b.getMessage());
        }
        LOG.error("rpc method={} failed", method, t);
        return new RpcException(RpcException.INTERNAL_ERROR, "Internal error: " + t);
    }

    static ObjectNode error(JsonNode id, RpcException e) {
        ObjectNode r = F.objectNode();
        r.put("jsonrpc", "2.0");
        r.set("id", id == null ? F.nullNode() : id);
        ObjectNode err = r.putObject("error");
        err.put("code", e.code());
        err.put("message", e.getMessage());
        if (e.detail() != null) {
            err.put("data", e.detail());
        }
        return r;
    }

    private final class Call implements RpcCall {
        private final String method;
        private final RpcParams params;
        private final List<Runnable> after;

        Call(String method, RpcParams params, List<Runnable> after) {
            this.method = method;
            this.params = params;
            this.after = after;
        }

        @Override
        public String method() {
            return method;
        }

        @Override
        public RpcParams params() {
            return params;
        }

        @Override
        public Spindle spindle() {
            return spindle;
        }

        @Override
        public RpcDispatcher dispatcher() {
            return RpcDispatcher.this;
        }

        @Override
        public ObjectMapper json() {
            return JSON;
        }

        @Override
        public Executor executor() {
            return executor;
        }

        @Override
        public void afterResponse(Runnable action) {
            synchronized (after) {
                after.add(action);
            }
        }
    }
}
