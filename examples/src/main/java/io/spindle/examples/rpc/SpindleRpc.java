package io.spindle.examples.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.examples.rpc.ArgParse.Command;
import io.spindle.examples.rpc.ArgParse.UsageException;
import io.spindle.rpc.RpcClient;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.RpcServerConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code spindle rpc}: a JSON-RPC client with SPDK {@code scripts/rpc.py}'s command line for the methods
 * Spindle has: the same global options ({@code -s SOCK -p PORT -t TIMEOUT -r RETRIES -v --dry-run}), the same
 * sub-command names, positional arguments and flags, the same parameters sent, and the same output (Python's
 * {@code json.dumps(indent=2)}, byte for byte), so scripts written for rpc.py run against Spindle unchanged.
 * {@code save_config} and {@code load_config} run client-side, as rpc.py's do.
 *
 * <pre>
 * ./spindle rpc bdev_malloc_create -b Malloc1 64 512
 * ./spindle rpc bdev_get_bdevs -b Malloc1
 * ./spindle rpc save_config > config.json
 * ./spindle rpc spdk_kill_instance SIGTERM
 * </pre>
 *
 * <p>Exit status: 0 on success, 1 when the call failed (the error response is printed as rpc.py prints it, or
 * the connection error), 2 for a bad command line.
 *
 * <p>This class is the front: the global options, the connection (with rpc.py's retries and {@code -v} log),
 * the dispatch of one command and the printing of its result. The sub-commands are declared by one class per
 * method group, as rpc.py's {@code scripts/rpc/*.py} modules group them: {@link AppCommands},
 * {@link BdevCommands}, {@link MallocNullCommands}, {@link FileBdevCommands}, {@link VirtualBdevCommands},
 * {@link NvmfCommands}, {@link NvmeCommands}, {@link ClusterCommands} and {@link ConfigCommands} (the
 * client-side save_config/load_config); {@link ArgParse} is their model and argparse's rules, {@link StdinScript}
 * rpc.py's script and batch modes, {@link PyJson} and {@link PyShlex} Python's output and quoting.
 *
 * <p>Threads: {@link #run} runs on the caller's thread and blocks on the socket; it keeps no state between
 * calls, so calls on several threads are independent.
 */
public final class SpindleRpc {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private SpindleRpc() {
    }

    /** How a result is printed (rpc.py's {@code print_dict}, {@code print_json}, {@code print_array}, or nothing). */
    enum Output { DICT, JSON, ARRAY, NONE }

    /** A command that runs client-side (save_config, load_config) over the connection it is given. */
    @FunctionalInterface
    interface ClientSide {
        void run(RpcClient client, Map<String, Object> a, InputStream stdin, PrintStream out)
                throws IOException, RpcException, RpcCallFailed;
    }

    /** A call of save_config/load_config failed; the message is rpc.py's report. */
    static final class RpcCallFailed extends Exception {
        private static final long serialVersionUID = 1L;

        RpcCallFailed(String m) {
            super(m, null, false, false);
        }
    }

    /** The sub-commands, in rpc.py's names, sorted by name; each method group registers its own. */
    static final Map<String, Command> COMMANDS = commands();

    private static Map<String, Command> commands() {
        Map<String, Command> m = new TreeMap<>();
        ArgParse.Registry r = c -> {
            if (m.putIfAbsent(c.name(), c) != null) {
                throw new IllegalStateException("sub-command declared twice: name=" + c.name());
            }
        };
        AppCommands.register(r);
        BdevCommands.register(r);
        MallocNullCommands.register(r);
        FileBdevCommands.register(r);
        VirtualBdevCommands.register(r);
        NvmfCommands.register(r);
        NvmeCommands.register(r);
        ClusterCommands.register(r);
        ConfigCommands.register(r);
        return Collections.unmodifiableMap(m);
    }

    /** Command-line entry point. */
    public static void main(String[] args) {
        System.exit(run(args, System.in, stdinIsTerminal(), System.out, System.err));
    }

    /** Whether standard input is a terminal (rpc.py's {@code sys.stdin.isatty()}). */
    static boolean stdinIsTerminal() {
        try {
            String t = Files.readSymbolicLink(Path.of("/proc/self/fd/0")).toString();
            return t.startsWith("/dev/pts/") || t.startsWith("/dev/tty") || t.equals("/dev/console");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return System.console() != null;
        }
    }

    /** rpc.py's {@code --verbose} levels; {@code -v} is INFO, the default ERROR. */
    static final List<String> LEVELS = List.of("DEBUG", "INFO", "ERROR");

    /** Global options. */
    record Global(String server, int port, double timeout, int retries, String verbose, boolean dryRun, boolean batch) {
        /** Whether rpc.py would log requests and responses (its INFO log). */
        boolean traced() {
            return !verbose.equals("ERROR");
        }
    }

    static final String USAGE_LINE = "usage: spindle rpc [-h] [-s SERVER_ADDR] [-p PORT] [-t TIMEOUT] [-r CONN_RETRIES] [-v] "
            + "[--verbose {DEBUG,INFO,ERROR}] [--dry-run] [-b | --batch-mode | --no-batch-mode] METHOD ...";

    /** Runs the client with standard input not a terminal; returns the exit status. */
    public static int run(String[] args, InputStream stdin, PrintStream out, PrintStream err) {
        return run(args, stdin, false, out, err);
    }

    /**
     * Runs the client; returns the exit status. Without a METHOD, the commands are read from {@code stdin}, one
     * per line, as rpc.py does (with {@code -b} sent as one JSON-RPC batch); when {@code stdin} is a terminal
     * the usage is printed instead (exit 1).
     */
    public static int run(String[] args, InputStream stdin, boolean stdinIsTerminal, PrintStream out, PrintStream err) {
        String server = RpcServerConfig.DEFAULT_SOCKET.toString();
        int port = 5260;
        double timeout = 60;
        int retries = 0;
        String verbose = "ERROR";
        boolean dryRun = false;
        boolean batch = false;
        int i = 0;
        try {
            for (; i < args.length && args[i].startsWith("-"); i++) {
                String a = args[i];
                switch (a) {
                    case "-h", "--help" -> {
                        out.println(usage());
                        return 0;
                    }
                    case "-s" -> server = ArgParse.value(args, ++i, "-s");
                    case "-p" -> port = (int) ArgParse.parseInt(ArgParse.value(args, ++i, "-p"), "-p");
                    case "-t" -> timeout = ArgParse.parseFloat(ArgParse.value(args, ++i, "-t"), "-t");
                    case "-r" -> retries = (int) ArgParse.parseInt(ArgParse.value(args, ++i, "-r"), "-r");
                    case "-v" -> verbose = "INFO";
                    case "--verbose" -> {
                        String v = ArgParse.value(args, ++i, "--verbose");
                        if (!LEVELS.contains(v)) {
                            throw new UsageException("argument --verbose: invalid choice: '" + v + "' (choose from "
                                    + ArgParse.quoted(LEVELS) + ")");
                        }
                        verbose = v;
                    }
                    case "--dry-run" -> dryRun = true;
                    case "-b", "--batch-mode" -> batch = true;
                    case "--no-batch-mode" -> batch = false;
                    case "--plugin", "--go-client", "--server" -> throw new UsageException(a + " is not supported by spindle rpc "
                            + "(rpc.py's Python plugins, Go client and --server mode)");
                    default -> throw new UsageException("unrecognized arguments: " + a);
                }
            }
            Global g = new Global(server, port, timeout, retries, verbose, dryRun, batch);
            if (i >= args.length) {
                if (stdinIsTerminal) { // rpc.py: no method and nothing piped in
                    out.println(usage());
                    return 1;
                }
                return StdinScript.run(g, stdin, out, err);
            }
            if (batch) {
                throw new UsageException("-b/--batch-mode sends the commands read from stdin as one batch; give no METHOD");
            }
            String name = args[i++];
            List<String> rest = List.of(args).subList(i, args.length);
            if (COMMANDS.containsKey(name) && (rest.contains("-h") || rest.contains("--help"))) {
                out.println(ArgParse.help(COMMANDS.get(name)));
                return 0;
            }
            Command c = command(name);
            Map<String, Object> parsed = ArgParse.parse(c, rest);
            return execute(c, parsed, g, stdin, out, err);
        } catch (UsageException e) {
            err.println(USAGE_LINE);
            err.println("spindle rpc: error: " + e.getMessage());
            return 2;
        }
    }

    /** The sub-command {@code name}, or argparse's invalid-choice error. */
    static Command command(String name) throws UsageException {
        Command c = COMMANDS.get(name);
        if (c == null) {
            throw new UsageException("argument called_rpc_name: invalid choice: '" + name + "' (choose from "
                    + ArgParse.quoted(new ArrayList<>(COMMANDS.keySet())) + ")");
        }
        return c;
    }

    /** The params object sent: {@code m} without its null values (rpc.py's {@code remove_null}). */
    static ObjectNode params(Map<String, Object> m) {
        ObjectNode o = F.objectNode();
        for (Map.Entry<String, Object> e : m.entrySet()) {
            if (e.getValue() != null) { // rpc.py's remove_null
                o.set(e.getKey(), JSON.valueToTree(e.getValue()));
            }
        }
        return o;
    }

    /** One command on its own connection (or its request printed, with {@code --dry-run}); returns the exit status. */
    static int execute(Command c, Map<String, Object> a, Global g, InputStream stdin, PrintStream out, PrintStream err)
            throws UsageException {
        ObjectNode params = params(c.params().build(a));
        if (g.dryRun()) {
            ObjectNode req = F.objectNode();
            req.put("method", c.name());
            req.set("params", c.clientSide() != null ? F.nullNode() : params);
            out.println("Request:\n" + PyJson.dumps(req, 2));
            return 0;
        }
        RpcClient client = connect(g, out, err);
        if (client == null) {
            return 1;
        }
        try (client) {
            runOn(client, c, a, stdin, out);
            return 0;
        } catch (RpcCallFailed | IOException e) {
            out.println(e.getMessage()); // rpc.py prints its exception's message on stdout
            return 1;
        } catch (RpcException e) {
            out.println(errorReport(c.name(), params, client.lastId(), e));
            return 1;
        }
    }

    /** One command on {@code client}: the call (or save_config/load_config's calls) and what rpc.py prints. */
    static void runOn(RpcClient client, Command c, Map<String, Object> a, InputStream stdin, PrintStream out)
            throws IOException, RpcException, RpcCallFailed, UsageException {
        ObjectNode params = params(c.params().build(a));
        if (c.clientSide() != null) {
            c.clientSide().run(client, a, stdin, out);
            return;
        }
        JsonNode result;
        try {
            result = client.call(c.name(), params);
        } catch (IOException e) {
            if (c.name().equals("spdk_kill_instance")) {
                return; // rpc.py: a connection closed by the dying target is success
            }
            throw e;
        }
        print(c.output(), result, out);
    }

    /** rpc.py's report of an error response. */
    static String errorReport(String method, ObjectNode params, long reqId, RpcException e) {
        ObjectNode p = params.deepCopy();
        p.put("method", method);
        p.put("req_id", reqId);
        ObjectNode er = F.objectNode();
        er.put("code", e.code());
        er.put("message", e.getMessage());
        if (e.detail() != null) {
            er.put("data", e.detail());
        }
        return "request:\n" + PyJson.dumps(p, 2) + "\nGot JSON-RPC error response\nresponse:\n" + PyJson.dumps(er, 2);
    }

    /** Connects as rpc.py does (retries 200 ms apart); on failure prints rpc.py's message and returns null. */
    static RpcClient connect(Global g, PrintStream out, PrintStream err) {
        Duration t = Duration.ofMillis((long) (g.timeout() * 1000));
        IOException last = null;
        for (int i = 0; i <= g.retries(); i++) {
            try {
                RpcClient c = RpcClient.connect(g.server(), g.port(), t);
                if (g.traced()) {
                    c.trace((what, v) -> trace(g, err, what, v));
                }
                return c;
            } catch (IOException e) {
                last = e;
                if (i < g.retries()) {
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
        }
        out.println(last.getMessage());
        return null;
    }

    /** rpc.py's INFO log line of a request or a response (on stderr, as its logging handler writes). */
    static void trace(Global g, PrintStream err, String what, JsonNode v) {
        if (g.traced()) {
            err.println("INFO: " + what + ":\n" + PyJson.dumps(v, 2) + "\n");
        }
    }

    /** Prints {@code result} as rpc.py's {@code print_dict}, {@code print_json} or {@code print_array} does. */
    static void print(Output o, JsonNode result, PrintStream out) {
        switch (o) {
            case DICT -> out.println(PyJson.dumps(result, 2));
            case JSON -> {
                String s = PyJson.dumps(result, 2);
                // print_json: json.dumps(s, indent=2).strip('"')
                int b = 0;
                int e = s.length();
                while (b < e && s.charAt(b) == '"') {
                    b++;
                }
                while (e > b && s.charAt(e - 1) == '"') {
                    e--;
                }
                out.println(s.substring(b, e));
            }
            case ARRAY -> {
                // print_array: " ".join(shlex.quote(v) for v in a)
                List<String> parts = new ArrayList<>();
                for (JsonNode v : result) {
                    parts.add(PyShlex.quote(v.isTextual() ? v.asText() : PyJson.dumps(v, 2)));
                }
                out.println(String.join(" ", parts));
            }
            case NONE -> {
            }
            default -> throw new IllegalStateException(String.valueOf(o));
        }
    }

    /** Python's {@code shlex.split}, as the lines read from stdin are split ({@link PyShlex#split}). */
    static List<String> shlexSplit(String s) throws UsageException {
        return PyShlex.split(s);
    }

    /** {@code spindle rpc -h}: the global options and one line per sub-command. */
    static String usage() {
        StringBuilder b = new StringBuilder();
        b.append(USAGE_LINE).append("\n\n");
        b.append("JSON-RPC client with SPDK rpc.py's methods and flags.\n\n");
        b.append("options:\n");
        b.append("  -s SERVER_ADDR  Unix socket path or IP address (default: ").append(RpcServerConfig.DEFAULT_SOCKET).append(")\n");
        b.append("  -p PORT         TCP port when -s is an IP address (default: 5260)\n");
        b.append("  -t TIMEOUT      seconds to wait for a response (default: 60.0)\n");
        b.append("  -r CONN_RETRIES retries of the connection, 200 ms apart (default: 0)\n");
        b.append("  -v              verbose: --verbose INFO\n");
        b.append("  --verbose {DEBUG,INFO,ERROR}\n");
        b.append("                  INFO and DEBUG print each request and response on stderr (default: ERROR)\n");
        b.append("  --dry-run       print the request and exit\n");
        b.append("  -b, --batch-mode, --no-batch-mode\n");
        b.append("                  send the commands read from stdin as one JSON-RPC batch\n\n");
        b.append("Without METHOD the commands are read from stdin, one per line ('#' starts a comment line).\n");
        b.append("Not supported: --plugin, --go-client, --server.\n\n");
        b.append("methods (spindle rpc METHOD -h for its arguments):\n");
        for (Command c : COMMANDS.values()) {
            b.append(String.format("  %-26s %s%n", c.name(), c.help()));
        }
        return b.toString().stripTrailing();
    }
}
