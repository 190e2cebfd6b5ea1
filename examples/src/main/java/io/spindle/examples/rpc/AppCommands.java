package io.spindle.examples.rpc;

import io.spindle.examples.rpc.SpindleRpc.Output;

import java.util.List;

import static io.spindle.examples.rpc.ArgParse.*;

/**
 * The app and framework sub-commands of {@code spindle rpc}: {@code rpc_get_methods}, {@code spdk_get_version},
 * {@code spdk_kill_instance}, {@code framework_*} and {@code thread_*}, with rpc.py's arguments. The server
 * side is the app's built-in methods (docs/rpc.md, "Methods").
 *
 * <p>Stateless; {@link #register} runs once, from {@link SpindleRpc}'s class initialization.
 */
final class AppCommands {
    private AppCommands() {
    }

    /** Adds the app and framework sub-commands to {@code r}. */
    static void register(Registry r) {
        r.add(new Command("rpc_get_methods", "Get list of supported RPC methods", List.of(
                opt("-c|--current", "current", Type.TRUE, "Return only RPC methods callable in the current state"),
                opt("-i|--include-aliases", "include_aliases", Type.TRUE, "Include deprecated method aliases in the result")),
                Output.DICT, a -> map("current", a.get("current"), "include_aliases", a.get("include_aliases"))));
        r.add(new Command("spdk_get_version", "Get the version", List.of(), Output.JSON, a -> map()));
        r.add(new Command("spdk_kill_instance", "Send signal to instance", List.of(
                pos("sig_name", List.of("SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGKILL", "SIGUSR1"), "Signal to send")),
                Output.NONE, a -> map("sig_name", a.get("sig_name"))));
        r.add(new Command("framework_start_init", "Start initialization of subsystems", List.of(), Output.NONE, a -> map()));
        r.add(new Command("framework_wait_init", "Block until subsystems have been initialized", List.of(), Output.NONE, a -> map()));
        r.add(new Command("framework_get_reactors", "Display list of all reactors", List.of(), Output.DICT, a -> map()));
        r.add(new Command("framework_get_subsystems", "Print subsystems array in initialization order", List.of(), Output.DICT,
                a -> map()));
        r.add(new Command("framework_get_config", "Print subsystem configuration", List.of(
                pos("name", Type.STR, "Name of the subsystem to query"),
                opt("--with-batches", "with_batches", Type.BOOL_OPT, "Keep batch arrays in output")),
                Output.DICT, a -> map("name", a.get("name"), "with_batches", a.getOrDefault("with_batches", false))));
        r.add(new Command("thread_get_stats", "Display current statistics of all the threads", List.of(), Output.DICT, a -> map()));
        r.add(new Command("thread_get_pollers", "Display current pollers of all the threads", List.of(), Output.DICT, a -> map()));
        r.add(new Command("thread_get_io_channels", "Display current IO channels of all the threads", List.of(), Output.DICT,
                a -> map()));
    }
}
