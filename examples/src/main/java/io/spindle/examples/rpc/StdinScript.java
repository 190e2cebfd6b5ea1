package io.spindle.examples.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.examples.rpc.ArgParse.Command;
import io.spindle.examples.rpc.ArgParse.UsageException;
import io.spindle.examples.rpc.SpindleRpc.Global;
import io.spindle.examples.rpc.SpindleRpc.Output;
import io.spindle.examples.rpc.SpindleRpc.RpcCallFailed;
import io.spindle.rpc.RpcClient;
import io.spindle.rpc.RpcException;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code spindle rpc} without a METHOD: the commands read from stdin, one per line (rpc.py's script mode), run in
 * turn on one connection, or with {@code -b} sent as one JSON-RPC batch (rpc.py's experimental batch mode).
 * Each line is parsed and dispatched as {@link SpindleRpc} does for a command line.
 *
 * <p>Stateless; runs on the calling thread, which owns the one connection it opens and closes it before
 * returning.
 */
final class StdinScript {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private StdinScript() {
    }

    /**
     * rpc.py's {@code execute_script}: each non-blank line of {@code stdin} not starting with {@code #} is a
     * command line (shell quoting, as {@code shlex.split}). Without {@code -b} each runs in turn on one
     * connection, printing what it prints alone; on an error rpc.py's report ({@code Exception:}, the lines so
     * far ending {@code <<<}, the error) and exit 1. With {@code -b} they are sent as one JSON-RPC batch and the
     * results printed, the errors on stderr.
     */
    static int run(Global g, InputStream stdin, PrintStream out, PrintStream err) throws UsageException {
        String text;
        try {
            text = new String(stdin.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            out.println("spindle rpc: cannot read stdin: " + e.getMessage());
            return 1;
        }
        if (g.batch()) {
            err.println("WARNING: Batch mode is experimental. Some RPCs may not work correctly in batch mode.");
        }
        RpcClient client = null;
        StringBuilder executed = new StringBuilder();
        List<ObjectNode> batch = new ArrayList<>();
        try {
            for (String raw : text.split("\n", -1)) {
                String line = raw.stripTrailing();
                if (line.isBlank()) {
                    continue;
                }
                executed.append('\n').append(line);
                List<String> words = PyShlex.split(line);
                if (words.get(0).startsWith("#")) {
                    continue;
                }
                if (words.get(0).startsWith("-")) {
                    throw new UsageException("a command read from stdin starts with its METHOD, not an option: " + line);
                }
                Command c = SpindleRpc.command(words.get(0));
                Map<String, Object> a = ArgParse.parse(c, words.subList(1, words.size()));
                if (g.batch() || g.dryRun()) {
                    if (c.clientSide() != null) {
                        throw new UsageException(c.name() + " runs client-side and cannot be part of a batch or a dry run script");
                    }
                }
                if (g.batch()) {
                    ObjectNode params = SpindleRpc.params(c.params().build(a));
                    ObjectNode req = F.objectNode();
                    if (g.dryRun()) {
                        req.put("method", c.name());
                        req.set("params", params);
                    } else {
                        req.put("jsonrpc", "2.0");
                        req.put("method", c.name());
                        req.put("id", batch.size() + 1);
                        if (!params.isEmpty()) {
                            req.set("params", params);
                        }
                        if (c.output() != Output.NONE) {
                            out.println("null"); // rpc.py prints the None a batched call returns
                        }
                    }
                    batch.add(req);
                    continue;
                }
                if (g.dryRun()) {
                    SpindleRpc.execute(c, a, g, InputStream.nullInputStream(), out, err);
                    continue;
                }
                if (client == null) {
                    client = SpindleRpc.connect(g, out, err);
                    if (client == null) {
                        return 1;
                    }
                }
                try {
                    SpindleRpc.runOn(client, c, a, InputStream.nullInputStream(), out);
                } catch (RpcException | RpcCallFailed | IOException e) {
                    out.println("Exception:");
                    out.println(executed.toString().strip() + " <<<");
                    out.println(e instanceof RpcException r
                            ? SpindleRpc.errorReport(c.name(), SpindleRpc.params(c.params().build(a)), client.lastId(), r)
                            : e.getMessage());
                    return 1;
                }
            }
            if (!g.batch() || batch.isEmpty()) {
                return 0;
            }
            ArrayNode reqs = F.arrayNode();
            batch.forEach(reqs::add);
            if (g.dryRun()) {
                out.println("Request:\n" + PyJson.dumps(reqs, 2));
                return 0;
            }
            client = SpindleRpc.connect(g, out, err);
            if (client == null) {
                return 1;
            }
            JsonNode resp;
            try {
                SpindleRpc.trace(g, err, "Requests", reqs);
                client.sendRaw(PyJson.dumps(reqs, 2).getBytes(StandardCharsets.UTF_8));
                resp = client.readResponse();
                SpindleRpc.trace(g, err, "response", resp);
            } catch (IOException e) {
                out.println("Exception:");
                out.println(e.getMessage());
                return 1;
            }
            if (!resp.isArray()) {
                out.println("Exception:");
                out.println("Expected batch response array, got: " + resp.getNodeType());
                return 1;
            }
            List<JsonNode> errors = new ArrayList<>();
            for (JsonNode r : resp) {
                if (r.has("error")) {
                    errors.add(r.get("error"));
                } else if (r.hasNonNull("result")) {
                    out.println(PyJson.dumps(r.get("result"), 2));
                }
            }
            for (JsonNode e : errors) {
                err.println(PyJson.dumps(e, 2));
            }
            return errors.isEmpty() ? 0 : 1;
        } finally {
            if (client != null) {
                client.close();
            }
        }
    }
}
