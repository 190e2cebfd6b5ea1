package io.spindle.examples.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.examples.rpc.SpindleRpc.Output;
import io.spindle.examples.rpc.SpindleRpc.RpcCallFailed;
import io.spindle.rpc.RpcClient;
import io.spindle.rpc.RpcException;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.spindle.examples.rpc.ArgParse.*;

/**
 * {@code save_config} and {@code load_config}, which run client-side as rpc.py's do (SPDK's
 * {@code scripts/rpc/client.py} and {@code rpc.py}): save_config asks {@code framework_get_subsystems}, then
 * {@code framework_get_config} per subsystem (with {@code -s}, only those and their dependencies) and prints the
 * JSON config; load_config checks every method of the file against {@code rpc_get_methods}, then replays the
 * entries in the RPC states that allow them, calling {@code framework_start_init} between states. Each call's
 * error is reported as rpc.py reports it ({@link SpindleRpc#errorReport}, with this command's own request ids).
 *
 * <p>Stateless; the commands run on the calling thread over the {@link RpcClient} {@link SpindleRpc} opened,
 * which stays the caller's to close.
 */
final class ConfigCommands {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private ConfigCommands() {
    }

    /** Adds save_config and load_config to {@code r}. */
    static void register(Registry r) {
        r.add(new Command("save_config", "Write current (live) configuration of subsystems to stdout", List.of(
                opt("-i|--indent", "indent", Type.INT, "Indent level. Value less than 0 mean compact mode. Default indent level is 2."),
                opt("-s|--subsystems", "subsystems", Type.STR, "Comma-separated list of subsystems (and their dependencies) to save"),
                opt("--with-batches", "with_batches", Type.BOOL_OPT, "Keep batch arrays in output")),
                Output.NONE, a -> map(), (client, a, stdin, out) -> saveConfig(client, a, out)));
        r.add(new Command("load_config", "Configure subsystems using JSON RPC read from stdin or -j FILE", List.of(
                opt("-i|--include-aliases", "include_aliases", Type.TRUE, "include RPC aliases"),
                opt("-j|--json-conf", "json_conf", Type.STR, "Valid JSON configuration (default: stdin)")),
                Output.NONE, a -> map(), ConfigCommands::loadConfig));
    }

    /** One call of this command, numbered as rpc.py numbers its requests; an error response becomes rpc.py's report. */
    private static JsonNode call(RpcClient client, String method, ObjectNode params, long[] id) throws IOException, RpcCallFailed {
        id[0]++;
        try {
            return client.call(method, params);
        } catch (RpcException e) {
            throw new RpcCallFailed(SpindleRpc.errorReport(method, params, id[0], e));
        }
    }

    /** rpc.py's {@code save_config}: framework_get_subsystems, then framework_get_config per subsystem. */
    private static void saveConfig(RpcClient client, Map<String, Object> a, PrintStream out) throws IOException, RpcCallFailed {
        long[] id = {0};
        boolean batches = Boolean.TRUE.equals(a.get("with_batches"));
        JsonNode subs = call(client, "framework_get_subsystems", F.objectNode(), id);
        Map<String, Set<String>> deps = new LinkedHashMap<>();
        for (JsonNode s : subs) {
            String n = s.get("subsystem").asText();
            Set<String> d = new LinkedHashSet<>();
            d.add(n);
            for (JsonNode x : s.path("depends_on")) {
                Set<String> dd = deps.get(x.asText());
                if (dd != null) {
                    d.addAll(dd);
                }
            }
            deps.put(n, d);
        }
        Set<String> print = new LinkedHashSet<>();
        if (a.get("subsystems") == null) {
            print.addAll(deps.keySet());
        } else {
            for (String s : ((String) a.get("subsystems")).split(",")) {
                Set<String> d = deps.get(s);
                if (d == null) {
                    throw new RpcCallFailed("save_config: -s " + s + ": no such subsystem (have " + String.join(", ", deps.keySet()) + ")");
                }
                print.addAll(d);
            }
        }
        ObjectNode config = F.objectNode();
        ArrayNode arr = config.putArray("subsystems");
        for (JsonNode s : subs) {
            String n = s.get("subsystem").asText();
            if (!print.contains(n)) {
                continue;
            }
            ObjectNode p = F.objectNode();
            p.put("name", n);
            p.put("with_batches", batches);
            ObjectNode cfg = arr.addObject();
            cfg.put("subsystem", n);
            cfg.set("config", call(client, "framework_get_config", p, id));
        }
        Object ind = a.get("indent");
        int indent = ind == null ? 2 : (int) (long) (Long) ind;
        out.println(PyJson.dumps(config, indent));
    }

    /** rpc.py's {@code load_config}: check every method, then replay entries in the states that allow them. */
    private static void loadConfig(RpcClient client, Map<String, Object> a, InputStream stdin, PrintStream out)
            throws IOException, RpcCallFailed {
        long[] id = {0};
        String file = (String) a.get("json_conf");
        String text = file == null ? new String(stdin.readAllBytes(), StandardCharsets.UTF_8) : Files.readString(Path.of(file));
        JsonNode root = JSON.readTree(text);
        if (root == null || !root.path("subsystems").isArray()) {
            throw new RpcCallFailed("load_config: expected an object with a \"subsystems\" array");
        }
        List<List<JsonNode>> subsystems = new ArrayList<>();
        for (JsonNode s : root.get("subsystems")) {
            List<JsonNode> cfg = new ArrayList<>();
            for (JsonNode e : s.path("config")) {
                cfg.add(e);
            }
            if (!cfg.isEmpty()) {
                subsystems.add(cfg);
            }
        }
        ObjectNode q = F.objectNode();
        q.put("include_aliases", Boolean.TRUE.equals(a.get("include_aliases")));
        Set<String> allowed = names(call(client, "rpc_get_methods", q, id));
        if (subsystems.isEmpty() && allowed.contains("framework_start_init")) {
            call(client, "framework_start_init", F.objectNode(), id);
            return;
        }
        for (List<JsonNode> cfg : subsystems) {
            for (JsonNode e : cfg) {
                if (!e.path("method").isTextual() || !allowed.contains(e.get("method").asText())) {
                    throw new RpcCallFailed("Unknown method was included in the config file");
                }
            }
        }
        while (!subsystems.isEmpty()) {
            ObjectNode cq = F.objectNode();
            cq.put("current", true);
            cq.put("include_aliases", Boolean.TRUE.equals(a.get("include_aliases")));
            Set<String> now = names(call(client, "rpc_get_methods", cq, id));
            boolean found = false;
            for (List<JsonNode> cfg : new ArrayList<>(subsystems)) {
                for (JsonNode e : new ArrayList<>(cfg)) {
                    if (!now.contains(e.get("method").asText())) {
                        continue;
                    }
                    JsonNode p = e.get("params");
                    call(client, e.get("method").asText(), p != null && p.isObject() ? (ObjectNode) p : F.objectNode(), id);
                    cfg.remove(e);
                    found = true;
                }
                if (cfg.isEmpty()) {
                    subsystems.remove(cfg);
                }
            }
            if (now.contains("framework_start_init")) {
                call(client, "framework_start_init", F.objectNode(), id);
                found = true;
            }
            if (!found) {
                break;
            }
        }
        if (!subsystems.isEmpty()) {
            out.println("Some configs were skipped because the RPC state that can call them passed over.");
        }
    }

    private static Set<String> names(JsonNode arr) {
        Set<String> s = new LinkedHashSet<>();
        for (JsonNode n : arr) {
            s.add(n.asText());
        }
        return s;
    }
}
