package io.spindle.examples.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.rpc.RpcClient;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.RpcServerConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 */
public final class SpindleRpc {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** How a result is printed (rpc.py's {@code print_dict}, {@code print_json}, {@code print_array}, or nothing). */
    enum Output { DICT, JSON, ARRAY, NONE }

    /** An argument type. */
    enum Type { STR, INT, FLOAT, TRUE, BOOL_OPT, CSV, WORDS }

    /** One argument of a sub-command, as argparse declares it. */
    record Arg(List<String> flags, String dest, Type type, boolean required, List<String> choices, String help) {
        boolean positional() {
            return flags.isEmpty();
        }
    }

    /** Builds the params from the parsed arguments (null values are dropped afterwards, as rpc.py does). */
    @FunctionalInterface
    interface Params {
        Map<String, Object> build(Map<String, Object> a) throws UsageException;
    }

    /** One sub-command. */
    record Command(String name, String help, List<Arg> args, Output output, Params params) {
    }

    /** A bad command line: exit 2 with the message. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String m) {
            super(m, null, false, false);
        }
    }

    private static Arg pos(String dest, Type t, String help) {
        return new Arg(List.of(), dest, t, true, List.of(), help);
    }

    private static Arg pos(String dest, List<String> choices, String help) {
        return new Arg(List.of(), dest, Type.STR, true, choices, help);
    }

    private static Arg opt(String flags, String dest, Type t, String help) {
        return new Arg(List.of(flags.split("\\|")), dest, t, false, List.of(), help);
    }

    private static Arg req(String flags, String dest, Type t, String help) {
        return new Arg(List.of(flags.split("\\|")), dest, t, true, List.of(), help);
    }

    private static Arg choice(String flags, String dest, List<String> choices, String help) {
        return new Arg(List.of(flags.split("\\|")), dest, Type.STR, false, choices, help);
    }

    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static final List<String> MODES = List.of("all", "maxmin", "error", "none");

    /** The sub-commands, in rpc.py's names. */
    static final Map<String, Command> COMMANDS = new TreeMap<>();

    private static void add(Command c) {
        COMMANDS.put(c.name(), c);
    }

    static {
        add(new Command("rpc_get_methods", "Get list of supported RPC methods", List.of(
                opt("-c|--current", "current", Type.TRUE, "Return only RPC methods callable in the current state"),
                opt("-i|--include-aliases", "include_aliases", Type.TRUE, "Include deprecated method aliases in the result")),
                Output.DICT, a -> map("current", a.get("current"), "include_aliases", a.get("include_aliases"))));
        add(new Command("spdk_get_version", "Get the version", List.of(), Output.JSON, a -> map()));
        add(new Command("spdk_kill_instance", "Send signal to instance", List.of(
                pos("sig_name", List.of("SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGKILL", "SIGUSR1"), "Signal to send")),
                Output.NONE, a -> map("sig_name", a.get("sig_name"))));
        add(new Command("framework_start_init", "Start initialization of subsystems", List.of(), Output.NONE, a -> map()));
        add(new Command("framework_wait_init", "Block until subsystems have been initialized", List.of(), Output.NONE, a -> map()));
        add(new Command("framework_get_reactors", "Display list of all reactors", List.of(), Output.DICT, a -> map()));
        add(new Command("framework_get_subsystems", "Print subsystems array in initialization order", List.of(), Output.DICT,
                a -> map()));
        add(new Command("framework_get_config", "Print subsystem configuration", List.of(
                pos("name", Type.STR, "Name of the subsystem to query"),
                opt("--with-batches", "with_batches", Type.BOOL_OPT, "Keep batch arrays in output")),
                Output.DICT, a -> map("name", a.get("name"), "with_batches", a.getOrDefault("with_batches", false))));
        add(new Command("thread_get_stats", "Display current statistics of all the threads", List.of(), Output.DICT, a -> map()));
        add(new Command("thread_get_pollers", "Display current pollers of all the threads", List.of(), Output.DICT, a -> map()));
        add(new Command("thread_get_io_channels", "Display current IO channels of all the threads", List.of(), Output.DICT,
                a -> map()));
        add(new Command("bdev_set_options", "Set options of bdev subsystem", List.of(
                opt("-p|--bdev-io-pool-size", "bdev_io_pool_size", Type.INT, "Number of bdev_io structures in shared buffer pool"),
                opt("-c|--bdev-io-cache-size", "bdev_io_cache_size", Type.INT, "Maximum number of bdev_io structures cached per thread"),
                opt("--auto-examine", "bdev_auto_examine", Type.BOOL_OPT, "Enable or disable auto examine"),
                opt("--iobuf-small-cache-size", "iobuf_small_cache_size", Type.INT, "Size of the small iobuf per thread cache"),
                opt("--iobuf-large-cache-size", "iobuf_large_cache_size", Type.INT, "Size of the large iobuf per thread cache")),
                Output.NONE, a -> map("bdev_io_pool_size", a.get("bdev_io_pool_size"), "bdev_io_cache_size", a.get("bdev_io_cache_size"),
                        "bdev_auto_examine", a.get("bdev_auto_examine"), "iobuf_small_cache_size", a.get("iobuf_small_cache_size"),
                        "iobuf_large_cache_size", a.get("iobuf_large_cache_size"))));
        add(new Command("bdev_examine", "examine a bdev if it exists, or will examine it after it is created", List.of(
                req("-b|--name", "name", Type.STR, "Name or alias of the bdev")), Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_wait_for_examine", "Report when all bdevs have been examined", List.of(), Output.NONE, a -> map()));
        add(new Command("bdev_get_bdevs", "Display current blockdev list or required blockdev", List.of(
                opt("-b|--name", "name", Type.STR, "Name of the Blockdev. Example: Nvme0n1"),
                opt("-t|--timeout-ms", "timeout", Type.INT, "Time in ms to wait for the bdev to appear (only used with -b)")),
                Output.DICT, a -> map("name", a.get("name"), "timeout", a.get("timeout"))));
        add(new Command("bdev_get_iostat", "Display current I/O statistics of all the blockdevs or specified blockdev.", List.of(
                opt("-c|--per-channel", "per_channel", Type.TRUE, "Display per channel IO stats for specified device"),
                choice("--reset-mode", "reset_mode", MODES, "Mode to reset I/O statistics after getting"),
                opt("--names", "names", Type.CSV, "Bdev names to obtain I/O statistics from, comma-separated list in quotes")),
                Output.DICT, a -> map("per_channel", a.get("per_channel"), "reset_mode", a.get("reset_mode"), "names", a.get("names"))));
        add(new Command("bdev_reset_iostat", "Reset I/O statistics of all the blockdevs or specified blockdev.", List.of(
                opt("-b|--name", "name", Type.STR, "Name of the Blockdev. Example: Nvme0n1"),
                choice("-m|--mode", "mode", MODES, "Mode to reset I/O statistics")),
                Output.NONE, a -> map("name", a.get("name"), "mode", a.get("mode"))));
        add(new Command("bdev_set_qos_limit", "Set QoS rate limit on a blockdev", List.of(
                pos("name", Type.STR, "Blockdev name to set QoS. Example: Malloc0"),
                opt("--rw-ios-per-sec", "rw_ios_per_sec", Type.INT, "R/W IOs per second limit (>=1000, example: 20000). 0 means unlimited."),
                opt("--rw-mbytes-per-sec", "rw_mbytes_per_sec", Type.INT, "R/W megabytes per second limit. 0 means unlimited."),
                opt("--r-mbytes-per-sec", "r_mbytes_per_sec", Type.INT, "Read megabytes per second limit. 0 means unlimited."),
                opt("--w-mbytes-per-sec", "w_mbytes_per_sec", Type.INT, "Write megabytes per second limit. 0 means unlimited.")),
                Output.NONE, a -> map("name", a.get("name"), "rw_ios_per_sec", a.get("rw_ios_per_sec"), "rw_mbytes_per_sec",
                        a.get("rw_mbytes_per_sec"), "r_mbytes_per_sec", a.get("r_mbytes_per_sec"), "w_mbytes_per_sec", a.get("w_mbytes_per_sec"))));
        add(new Command("bdev_enable_histogram", "Enable or disable histogram for specified bdev", List.of(
                new Arg(List.of("--histogram"), "enable", Type.BOOL_OPT, true, List.of(), "Enable or disable histograms on specified device"),
                opt("-o|--opc", "opc", Type.STR, "Enable histogram for specified io type"),
                opt("--granularity", "granularity", Type.INT, "Histogram bucket granularity."),
                opt("--min-nsec", "min_nsec", Type.INT, "Histogram min value in nanoseconds."),
                opt("--max-nsec", "max_nsec", Type.INT, "Histogram max value in nanoseconds."),
                pos("name", Type.STR, "bdev name")),
                Output.NONE, a -> map("name", a.get("name"), "enable", a.get("enable"), "opc", a.get("opc"), "granularity",
                        a.get("granularity"), "min_nsec", a.get("min_nsec"), "max_nsec", a.get("max_nsec"))));
        add(new Command("bdev_get_histogram", "Get histogram for specified bdev", List.of(pos("name", Type.STR, "bdev name")),
                Output.DICT, a -> map("name", a.get("name"))));
        add(new Command("bdev_malloc_create", "Create a bdev with malloc backend", List.of(
                opt("-b|--name", "name", Type.STR, "Name of the bdev"),
                opt("-u|--uuid", "uuid", Type.STR, "UUID of the bdev (optional)"),
                pos("total_size", Type.FLOAT, "Size of malloc bdev in MB (float > 0)"),
                pos("block_size", Type.INT, "Data block size for this bdev"),
                opt("-p|--physical-block-size", "physical_block_size", Type.INT, "Physical block size for this bdev."),
                opt("-o|--optimal-io-boundary", "optimal_io_boundary", Type.INT, "Split on optimal IO boundary, in number of blocks"),
                opt("-m|--md-size", "md_size", Type.INT, "Metadata size for this bdev (0, 8, 16, 32, 64, or 128). Default is 0."),
                opt("-i|--md-interleave", "md_interleave", Type.TRUE, "Metadata location, interleaved if set"),
                new Arg(List.of("-t", "--dif-type"), "dif_type", Type.INT, false, List.of("0", "1", "2", "3"), "Protection information type"),
                opt("-d|--dif-is-head-of-md", "dif_is_head_of_md", Type.TRUE, "Protection information is in the first 8 bytes of metadata"),
                new Arg(List.of("-f", "--dif-pi-format"), "dif_pi_format", Type.INT, false, List.of("0", "1", "2"), "Protection information format"),
                opt("-n|--numa-id", "numa_id", Type.INT, "NUMA node ID where memory is allocated")),
                Output.JSON, a -> {
                    long bs = (Long) a.get("block_size");
                    if (bs <= 0) {
                        throw new UsageException("block_size: must be > 0");
                    }
                    double mb = (Double) a.get("total_size");
                    long nb = (long) Math.floor(mb * 1024 * 1024 / bs);
                    return map("num_blocks", nb, "block_size", bs, "physical_block_size", a.get("physical_block_size"), "name", a.get("name"),
                            "uuid", a.get("uuid"), "optimal_io_boundary", a.get("optimal_io_boundary"), "md_size", a.get("md_size"),
                            "md_interleave", a.get("md_interleave"), "dif_type", a.get("dif_type"), "dif_is_head_of_md", a.get("dif_is_head_of_md"),
                            "dif_pi_format", a.get("dif_pi_format"), "numa_id", a.get("numa_id"));
                }));
        add(new Command("bdev_malloc_delete", "Delete a malloc disk", List.of(pos("name", Type.STR, "malloc bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_null_create", "Add a bdev with null backend", List.of(
                pos("name", Type.STR, "Block device name"),
                opt("-u|--uuid", "uuid", Type.STR, "UUID of the bdev (optional)"),
                pos("total_size", Type.INT, "Size of null bdev in MB (int > 0). Includes only data blocks."),
                pos("block_size", Type.INT, "Data block size for this bdev."),
                opt("-p|--physical-block-size", "physical_block_size", Type.INT, "Physical block size for this bdev."),
                opt("-m|--md-size", "md_size", Type.INT, "Metadata size for this bdev. Default=0."),
                new Arg(List.of("-t", "--dif-type"), "dif_type", Type.INT, false, List.of("0", "1", "2", "3"), "Protection information type"),
                opt("-d|--dif-is-head-of-md", "dif_is_head_of_md", Type.TRUE, "Protection information is in the first 8 bytes of metadata"),
                new Arg(List.of("-f", "--dif-pi-format"), "dif_pi_format", Type.INT, false, List.of("0", "1", "2"), "Protection information format"),
                opt("-a|--preferred-write-alignment", "preferred_write_alignment", Type.INT, "Preferred write alignment in blocks."),
                opt("-g|--preferred-write-granularity", "preferred_write_granularity", Type.INT, "Preferred write granularity in blocks."),
                opt("-s|--optimal-write-size", "optimal_write_size", Type.INT, "Optimal write size in blocks."),
                opt("-c|--preferred-unmap-alignment", "preferred_unmap_alignment", Type.INT, "Preferred unmap alignment in blocks."),
                opt("-r|--preferred-unmap-granularity", "preferred_unmap_granularity", Type.INT, "Preferred unmap granularity in blocks.")),
                Output.JSON, a -> {
                    long bs = (Long) a.get("block_size");
                    if (bs <= 0) {
                        throw new UsageException("block_size: must be > 0");
                    }
                    if (a.get("dif_type") != null && (Long) a.get("dif_type") != 0 && a.get("md_size") == null) {
                        throw new UsageException("--md-size must be > 0 when --dif-type is > 0");
                    }
                    long nb = (Long) a.get("total_size") * 1024 * 1024 / bs;
                    return map("num_blocks", nb, "block_size", bs, "physical_block_size", a.get("physical_block_size"), "name", a.get("name"),
                            "uuid", a.get("uuid"), "md_size", a.get("md_size"), "dif_type", a.get("dif_type"), "dif_is_head_of_md",
                            a.get("dif_is_head_of_md"), "dif_pi_format", a.get("dif_pi_format"), "preferred_write_alignment",
                            a.get("preferred_write_alignment"), "preferred_write_granularity", a.get("preferred_write_granularity"),
                            "optimal_write_size", a.get("optimal_write_size"), "preferred_unmap_alignment", a.get("preferred_unmap_alignment"),
                            "preferred_unmap_granularity", a.get("preferred_unmap_granularity"));
                }));
        add(new Command("bdev_null_delete", "Delete a null bdev", List.of(pos("name", Type.STR, "null bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_null_resize", "Resize a null bdev", List.of(pos("name", Type.STR, "null bdev name"),
                pos("new_size", Type.INT, "new bdev size for resize operation. The unit is MiB")),
                Output.JSON, a -> map("name", a.get("name"), "new_size", a.get("new_size"))));
        addModuleCommands();
        addTransportCommands();
        add(new Command("save_config", "Write current (live) configuration of subsystems to stdout", List.of(
                opt("-i|--indent", "indent", Type.INT, "Indent level. Value less than 0 mean compact mode. Default indent level is 2."),
                opt("-s|--subsystems", "subsystems", Type.STR, "Comma-separated list of subsystems (and their dependencies) to save"),
                opt("--with-batches", "with_batches", Type.BOOL_OPT, "Keep batch arrays in output")),
                Output.NONE, a -> map()));
        add(new Command("load_config", "Configure subsystems using JSON RPC read from stdin or -j FILE", List.of(
                opt("-i|--include-aliases", "include_aliases", Type.TRUE, "include RPC aliases"),
                opt("-j|--json-conf", "json_conf", Type.STR, "Valid JSON configuration (default: stdin)")),
                Output.NONE, a -> map()));
    }

    /**
     * The cluster's methods (docs/cluster.md; SPDK has none, so rpc.py knows them only through Spindle's rpc.py
     * plugin, {@code examples/rpc-plugin/spindle_cluster.py}, or a generic call). Flags follow
     * {@code bdev_nvme_attach_controller}'s where they mean the same.
     */
    static {
        add(new Command("cluster_get_nodes", "Display the cluster's members as this node sees them", List.of(), Output.DICT, a -> map()));
        add(new Command("cluster_get_bdevs", "Display the cluster-wide bdev directory, or the entries of one bdev", List.of(
                opt("-b|--name", "name", Type.STR, "bdev name or UUID"),
                opt("-u|--uuid", "uuid", Type.STR, "bdev UUID"),
                opt("-n|--node", "node", Type.STR, "only this node's entries (node name or address)")),
                Output.DICT, a -> map("name", a.get("name"), "uuid", a.get("uuid"), "node", a.get("node"))));
        add(new Command("bdev_cluster_attach", "Attach another node's bdev found in the cluster directory (through the Aeron initiator)",
                List.of(req("-b|--name", "name", Type.STR, "Name of the controller, prefix for each bdev name"),
                        req("-d|--bdev", "bdev", Type.STR, "the remote bdev's name or UUID"),
                        opt("-n|--node", "node", Type.STR, "the node that exports it (name or address); needed when the name is ambiguous"),
                        opt("-l|--ctrlr-loss-timeout-sec", "ctrlr_loss_timeout_sec", Type.INT,
                                "Time to wait until ctrlr is reconnected before deleting ctrlr. -1 (the cluster default) means the cluster decides"),
                        opt("-o|--reconnect-delay-sec", "reconnect_delay_sec", Type.INT, "Time to delay a reconnect retry"),
                        opt("-u|--fast-io-fail-timeout-sec", "fast_io_fail_timeout_sec", Type.INT,
                                "Time to wait until ctrlr is reconnected before failing I/O to ctrlr. 0 means no such timeout")),
                Output.ARRAY, a -> map("name", a.get("name"), "bdev", a.get("bdev"), "node", a.get("node"), "ctrlr_loss_timeout_sec",
                        a.get("ctrlr_loss_timeout_sec"), "reconnect_delay_sec", a.get("reconnect_delay_sec"), "fast_io_fail_timeout_sec",
                        a.get("fast_io_fail_timeout_sec"))));
        add(new Command("bdev_cluster_detach", "Detach a controller made by bdev_cluster_attach and delete its bdevs", List.of(
                pos("name", Type.STR, "Name of the controller")), Output.NONE, a -> map("name", a.get("name"))));
    }

    /** A nested params object without its null values (rpc.py builds these without the Nones). */
    private static Map<String, Object> nested(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] != null) {
                m.put((String) kv[i], kv[i + 1]);
            }
        }
        return m;
    }

    /** SPDK's nvmf_*, bdev_nvme_* and keyring_file_* sub-commands (transport module; docs/transport.md), with rpc.py's flags. */
    private static void addTransportCommands() {
        add(new Command("nvmf_create_transport", "Create NVMf transport", List.of(
                req("-t|--trtype", "trtype", Type.STR, "Transport type (ex. RDMA)"),
                opt("-g|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                opt("-q|--max-queue-depth", "max_queue_depth", Type.INT, "Max number of outstanding I/O per queue"),
                opt("-m|--max-io-qpairs-per-ctrlr", "max_io_qpairs_per_ctrlr", Type.INT, "Max number of IO qpairs per controller"),
                opt("-c|--in-capsule-data-size", "in_capsule_data_size", Type.INT, "Max number of in-capsule data size"),
                opt("-i|--max-io-size", "max_io_size", Type.INT, "Max I/O size (bytes)"),
                opt("-u|--io-unit-size", "io_unit_size", Type.INT, "I/O unit size (bytes)"),
                opt("-a|--max-aq-depth", "max_aq_depth", Type.INT, "Max number of admin cmds per AQ"),
                opt("-n|--num-shared-buffers", "num_shared_buffers", Type.INT, "Number of pooled data buffers available to the transport"),
                opt("-b|--buf-cache-size", "buf_cache_size", Type.INT, "The number of shared buffers to reserve for each poll group"),
                opt("-z|--zcopy", "zcopy", Type.TRUE, "Use zero-copy operations if the underlying bdev supports them"),
                opt("-o|--c2h-success", "no_c2h_success", Type.TRUE, "Disable C2H success optimization (TCP only)"),
                opt("-f|--dif-insert-or-strip", "dif_insert_or_strip", Type.TRUE, "Enable DIF insert for write I/O and DIF strip for read I/O"),
                opt("-x|--abort-timeout-sec", "abort_timeout_sec", Type.INT, "Abort execution timeout value, in seconds")),
                Output.NONE, a -> map("no_srq", false, "c2h_success", !Boolean.TRUE.equals(a.get("no_c2h_success")), "trtype", a.get("trtype"),
                        "tgt_name", a.get("tgt_name"), "max_queue_depth", a.get("max_queue_depth"), "max_io_qpairs_per_ctrlr",
                        a.get("max_io_qpairs_per_ctrlr"), "in_capsule_data_size", a.get("in_capsule_data_size"), "max_io_size", a.get("max_io_size"),
                        "io_unit_size", a.get("io_unit_size"), "max_aq_depth", a.get("max_aq_depth"), "num_shared_buffers", a.get("num_shared_buffers"),
                        "buf_cache_size", a.get("buf_cache_size"), "zcopy", a.get("zcopy"), "dif_insert_or_strip", a.get("dif_insert_or_strip"),
                        "abort_timeout_sec", a.get("abort_timeout_sec"), "no_wr_batching", false, "disable_mappable_bar0", false,
                        "disable_adaptive_irq", false, "disable_shadow_doorbells", false, "disable_command_passthru", false)));
        add(new Command("nvmf_get_transports", "Display nvmf transports or required transport", List.of(
                opt("--trtype", "trtype", Type.STR, "Transport type"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.DICT, a -> map("trtype", a.get("trtype"), "tgt_name", a.get("tgt_name"))));
        add(new Command("nvmf_get_subsystems", "Display nvmf subsystems or required subsystem", List.of(
                new Arg(List.of(), "nqn", Type.STR, false, List.of(), "Subsystem NQN"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.DICT, a -> map("nqn", a.get("nqn"), "tgt_name", a.get("tgt_name"))));
        add(new Command("nvmf_create_subsystem", "Create an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                opt("-s|--serial-number", "serial_number", Type.STR, "Serial number of the virtual NVMe controller"),
                opt("-d|--model-number", "model_number", Type.STR, "Model number of the virtual NVMe controller"),
                opt("-a|--allow-any-host", "allow_any_host", Type.TRUE, "Allow any host to connect (don't enforce allowed host NQN list)"),
                opt("-m|--max-namespaces", "max_namespaces", Type.INT, "Maximum number of namespaces allowed"),
                opt("-r|--ana-reporting", "ana_reporting", Type.TRUE, "Enable ANA reporting feature"),
                opt("-i|--min-cntlid", "min_cntlid", Type.INT, "Minimum controller ID"),
                opt("-I|--max-cntlid", "max_cntlid", Type.INT, "Maximum controller ID"),
                opt("-p|--passthrough", "passthrough", Type.TRUE, "Use NVMe passthrough for all I/O commands and namespace-directed admin commands"),
                opt("-n|--enable-nssr", "enable_nssr", Type.TRUE, "Enable NSSR (NVMe subsystem reset)")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "tgt_name", a.get("tgt_name"), "serial_number", a.get("serial_number"), "model_number",
                        a.get("model_number"), "allow_any_host", a.get("allow_any_host"), "max_namespaces", a.get("max_namespaces"), "ana_reporting",
                        a.get("ana_reporting"), "min_cntlid", a.get("min_cntlid"), "max_cntlid", a.get("max_cntlid"), "passthrough", a.get("passthrough"),
                        "enable_nssr", a.get("enable_nssr"))));
        add(new Command("nvmf_delete_subsystem", "Delete a nvmf subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "tgt_name", a.get("tgt_name"))));
        add(new Command("nvmf_subsystem_add_ns", "Add a namespace to an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                pos("bdev_name", Type.STR, "Name of the bdev to expose as a namespace"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                opt("-n|--nsid", "nsid", Type.INT, "Namespace ID between 1 and 4294967294"),
                opt("-u|--uuid", "uuid", Type.STR, "RFC 4122 UUID (e.g. \"ceccf520-691e-4b46-9546-34af789907c5\")"),
                opt("-i|--no-auto-visible", "no_auto_visible", Type.TRUE, "Do not auto make namespace visible to controllers"),
                opt("-N|--hide-metadata", "hide_metadata", Type.TRUE, "Enable hide_metadata option to the bdev")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "tgt_name", a.get("tgt_name"), "namespace", nested("bdev_name", a.get("bdev_name"), "nsid",
                        a.get("nsid"), "uuid", a.get("uuid"), "no_auto_visible", a.get("no_auto_visible"), "hide_metadata", a.get("hide_metadata")))));
        add(new Command("nvmf_subsystem_remove_ns", "Remove a namespace to an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                pos("nsid", Type.INT, "Namespace ID"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "nsid", a.get("nsid"), "tgt_name", a.get("tgt_name"))));
        for (boolean add : new boolean[] {true, false}) {
            List<Arg> args = new java.util.ArrayList<>(List.of(
                    pos("nqn", Type.STR, "Subsystem NQN ('discovery' can be used as shortcut for discovery NQN)"),
                    req("-t|--trtype", "trtype", Type.STR, "NVMe-oF transport type: e.g., rdma"),
                    req("-a|--traddr", "traddr", Type.STR, "NVMe-oF transport address: e.g., an ip address"),
                    opt("-p|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                    opt("-f|--adrfam", "adrfam", Type.STR, "NVMe-oF transport adrfam: e.g., ipv4, ipv6, ib, fc, intra_host"),
                    opt("-s|--trsvcid", "trsvcid", Type.STR, "NVMe-oF transport service id: e.g., a port number")));
            if (add) {
                args.add(opt("-k|--secure-channel", "secure_channel", Type.TRUE, "Immediately establish a secure channel"));
            }
            add(new Command(add ? "nvmf_subsystem_add_listener" : "nvmf_subsystem_remove_listener",
                    add ? "Add a listener to an NVMe-oF subsystem" : "Remove a listener from an NVMe-oF subsystem", args, Output.NONE, a -> {
                        String nqn = "discovery".equals(a.get("nqn")) ? "nqn.2014-08.org.nvmexpress.discovery" : (String) a.get("nqn");
                        return map("nqn", nqn, "tgt_name", a.get("tgt_name"), "secure_channel", a.get("secure_channel"), "listen_address",
                                nested("trtype", a.get("trtype"), "traddr", a.get("traddr"), "adrfam", a.get("adrfam"), "trsvcid", a.get("trsvcid")));
                    }));
        }
        add(new Command("nvmf_subsystem_add_host", "Add a host to an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                pos("host", Type.STR, "Host NQN to add to the allowed host list"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                opt("--dhchap-key", "dhchap_key", Type.STR, "DH-HMAC-CHAP key name, required if a controller key is specified")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "host", a.get("host"), "tgt_name", a.get("tgt_name"), "dhchap_key", a.get("dhchap_key"))));
        add(new Command("nvmf_subsystem_remove_host", "Remove a host from an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                pos("host", Type.STR, "Host NQN to remove from the allowed host list"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "host", a.get("host"), "tgt_name", a.get("tgt_name"))));
        add(new Command("bdev_nvme_attach_controller", "Add bdevs with nvme backend", List.of(
                req("-b|--name", "name", Type.STR, "Name of the NVMe controller, prefix for each bdev name"),
                req("-t|--trtype", "trtype", Type.STR, "NVMe-oF target trtype: e.g., rdma, pcie"),
                req("-a|--traddr", "traddr", Type.STR, "NVMe-oF target address: e.g., an ip address or BDF"),
                opt("-f|--adrfam", "adrfam", Type.STR, "NVMe-oF target adrfam: e.g., ipv4, ipv6, ib, fc, intra_host"),
                opt("-s|--trsvcid", "trsvcid", Type.STR, "NVMe-oF target trsvcid: e.g., a port number"),
                opt("-n|--subnqn", "subnqn", Type.STR, "NVMe-oF target subnqn"),
                opt("-q|--hostnqn", "hostnqn", Type.STR, "NVMe-oF host subnqn"),
                opt("-i|--hostaddr", "hostaddr", Type.STR, "NVMe-oF host address: e.g., an ip address"),
                opt("-c|--hostsvcid", "hostsvcid", Type.STR, "NVMe-oF host svcid: e.g., a port number"),
                opt("-r|--prchk-reftag", "prchk_reftag", Type.TRUE, "Enable checking of PI reference tag for I/O processing."),
                opt("-g|--prchk-guard", "prchk_guard", Type.TRUE, "Enable checking of PI guard for I/O processing."),
                opt("-e|--hdgst", "hdgst", Type.TRUE, "Enable TCP header digest."),
                opt("-d|--ddgst", "ddgst", Type.TRUE, "Enable TCP data digest."),
                choice("-x|--multipath", "multipath", List.of("disable", "failover", "multipath"), "Set multipath behavior"),
                opt("-l|--ctrlr-loss-timeout-sec", "ctrlr_loss_timeout_sec", Type.INT, "Time to wait until ctrlr is reconnected before deleting ctrlr."),
                opt("-o|--reconnect-delay-sec", "reconnect_delay_sec", Type.INT, "Time to delay a reconnect retry."),
                opt("-u|--fast-io-fail-timeout-sec", "fast_io_fail_timeout_sec", Type.INT, "Time to wait until ctrlr is reconnected before failing I/O to ctrlr."),
                opt("--dhchap-key", "dhchap_key", Type.STR, "DH-HMAC-CHAP key name"),
                opt("-U|--allow-unrecognized-csi", "allow_unrecognized_csi", Type.TRUE, "Allow attaching namespaces with unrecognized command set identifiers."),
                opt("--disable-sq-flow-control", "disable_sq_flow_control", Type.TRUE, "Disable SQ flow control.")),
                Output.ARRAY, a -> map("name", a.get("name"), "trtype", a.get("trtype"), "traddr", a.get("traddr"), "adrfam", a.get("adrfam"), "trsvcid",
                        a.get("trsvcid"), "subnqn", a.get("subnqn"), "hostnqn", a.get("hostnqn"), "hostaddr", a.get("hostaddr"), "hostsvcid",
                        a.get("hostsvcid"), "prchk_reftag", a.get("prchk_reftag"), "prchk_guard", a.get("prchk_guard"), "hdgst", a.get("hdgst"), "ddgst",
                        a.get("ddgst"), "multipath", a.get("multipath"), "ctrlr_loss_timeout_sec", a.get("ctrlr_loss_timeout_sec"), "reconnect_delay_sec",
                        a.get("reconnect_delay_sec"), "fast_io_fail_timeout_sec", a.get("fast_io_fail_timeout_sec"), "dhchap_key", a.get("dhchap_key"),
                        "allow_unrecognized_csi", a.get("allow_unrecognized_csi"), "disable_sq_flow_control", a.get("disable_sq_flow_control"))));
        add(new Command("bdev_nvme_detach_controller", "Detach an NVMe controller and delete any associated bdevs", List.of(
                pos("name", Type.STR, "Controller name")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_nvme_get_controllers", "Display current NVMe controllers list or required NVMe controller", List.of(
                opt("-n|--name", "name", Type.STR, "Name of the NVMe controller. Example: Nvme0")),
                Output.DICT, a -> map("name", a.get("name"))));
        add(new Command("keyring_file_add_key", "Add a file-based key to the keyring", List.of(
                pos("name", Type.STR, "Name of the key to add"),
                pos("path", Type.STR, "Path to the file containing the key")),
                Output.NONE, a -> map("name", a.get("name"), "path", a.get("path"))));
        add(new Command("keyring_file_remove_key", "Remove a file-based key from the keyring", List.of(
                pos("name", Type.STR, "Name of the key to remove")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("keyring_get_keys", "Get a list of registered keys", List.of(), Output.DICT, a -> map()));
    }

    private SpindleRpc() {
    }

    private static Arg optPos(String dest, Type t, String help) {
        return new Arg(List.of(), dest, t, false, List.of(), help);
    }

    /** The commands of the aio, mapped, passthru, split, delay, error and raid modules, as rpc.py declares them. */
    private static void addModuleCommands() {
        add(new Command("bdev_aio_create", "Add a bdev with aio backend", List.of(
                pos("filename", Type.STR, "Path to device or file (ex: /dev/sda)"),
                pos("name", Type.STR, "Block device name"),
                optPos("block_size", Type.INT, "Block size for this bdev"),
                opt("-r|--readonly", "readonly", Type.TRUE, "Set this bdev as read-only"),
                opt("--fallocate", "fallocate", Type.TRUE, "Support unmap/writezeros by fallocate"),
                opt("-u|--uuid", "uuid", Type.STR, "UUID of the bdev (optional)"),
                opt("--no-wait", "nowait", Type.TRUE, "Enable the RWF_NOWAIT flag for block devices")),
                Output.JSON, a -> map("filename", a.get("filename"), "name", a.get("name"), "block_size", a.get("block_size"),
                        "readonly", a.get("readonly"), "fallocate", a.get("fallocate"), "uuid", a.get("uuid"), "nowait", a.get("nowait"))));
        add(new Command("bdev_aio_rescan", "Rescan a bdev size with aio backend", List.of(pos("name", Type.STR, "Block device name")),
                Output.JSON, a -> map("name", a.get("name"))));
        add(new Command("bdev_aio_delete", "Delete an aio disk", List.of(pos("name", Type.STR, "aio bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_mapped_create", "Add a persistent bdev on a memory-mapped file (Spindle)", List.of(
                pos("filename", Type.STR, "Path of the file (created when missing)"),
                pos("name", Type.STR, "Block device name"),
                pos("block_size", Type.INT, "Block size for this bdev"),
                optPos("num_blocks", Type.INT, "Number of blocks (needed to create the file; omitted: from the existing file)"),
                opt("-u|--uuid", "uuid", Type.STR, "UUID of the bdev (optional)")),
                Output.JSON, a -> map("name", a.get("name"), "filename", a.get("filename"), "block_size", a.get("block_size"),
                        "num_blocks", a.get("num_blocks"), "uuid", a.get("uuid"))));
        add(new Command("bdev_mapped_delete", "Delete a mapped bdev (Spindle); the file stays", List.of(pos("name", Type.STR, "mapped bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_passthru_create", "Add a pass through bdev on existing bdev", List.of(
                req("-b|--base-bdev-name", "base_bdev_name", Type.STR, "Name of the existing bdev"),
                req("-p|--name", "name", Type.STR, "Name of the pass through bdev"),
                opt("-u|--uuid", "uuid", Type.STR, "UUID of the bdev")),
                Output.JSON, a -> map("base_bdev_name", a.get("base_bdev_name"), "name", a.get("name"), "uuid", a.get("uuid"))));
        add(new Command("bdev_passthru_delete", "Delete a pass through bdev", List.of(pos("name", Type.STR, "pass through bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_split_create", "Add given disk name to split config", List.of(
                pos("base_bdev", Type.STR, "base bdev name"),
                opt("-s|--split-size-mb", "split_size_mb", Type.INT, "size in MiB for each bdev"),
                pos("split_count", Type.INT, "number of split bdevs to create")),
                Output.ARRAY, a -> map("base_bdev", a.get("base_bdev"), "split_count", a.get("split_count"), "split_size_mb", a.get("split_size_mb"))));
        add(new Command("bdev_split_delete", "Delete split config with all created splits.", List.of(pos("base_bdev", Type.STR, "base bdev name")),
                Output.NONE, a -> map("base_bdev", a.get("base_bdev"))));
        add(new Command("bdev_delay_create", "Add a delay bdev on existing bdev", List.of(
                req("-b|--base-bdev-name", "base_bdev_name", Type.STR, "Name of the existing bdev"),
                req("-d|--name", "name", Type.STR, "Name of the delay bdev"),
                opt("-u|--uuid", "uuid", Type.STR, "UUID of the bdev (optional)"),
                req("-r|--avg-read-latency", "avg_read_latency", Type.INT, "Average latency to apply before completing read ops (in microseconds)"),
                req("-t|--nine-nine-read-latency", "p99_read_latency", Type.INT, "latency to apply to 1 in 100 read ops (in microseconds)"),
                req("-w|--avg-write-latency", "avg_write_latency", Type.INT, "Average latency to apply before completing write ops (in microseconds)"),
                req("-n|--nine-nine-write-latency", "p99_write_latency", Type.INT, "latency to apply to 1 in 100 write ops (in microseconds)")),
                Output.JSON, a -> map("base_bdev_name", a.get("base_bdev_name"), "name", a.get("name"), "uuid", a.get("uuid"),
                        "avg_read_latency", a.get("avg_read_latency"), "p99_read_latency", a.get("p99_read_latency"),
                        "avg_write_latency", a.get("avg_write_latency"), "p99_write_latency", a.get("p99_write_latency"))));
        add(new Command("bdev_delay_delete", "Delete a delay bdev", List.of(pos("name", Type.STR, "delay bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_delay_update_latency", "Update one of the latency values for a given delay bdev", List.of(
                pos("delay_bdev_name", Type.STR, "The name of the given delay bdev"),
                pos("latency_type", List.of("avg_read", "avg_write", "p99_read", "p99_write"), "Latency bucket to update"),
                pos("latency_us", Type.INT, "new latency value in microseconds.")),
                Output.JSON, a -> map("delay_bdev_name", a.get("delay_bdev_name"), "latency_type", a.get("latency_type"),
                        "latency_us", a.get("latency_us"))));
        add(new Command("bdev_error_create", "Add bdev with error injection backend", List.of(
                pos("base_name", Type.STR, "base bdev name"),
                opt("--uuid", "uuid", Type.STR, "UUID for this bdev")),
                Output.JSON, a -> map("base_name", a.get("base_name"), "uuid", a.get("uuid"))));
        add(new Command("bdev_error_delete", "Delete an error bdev", List.of(pos("name", Type.STR, "error bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_error_inject_error", "bdev inject error", List.of(
                pos("name", Type.STR, "the name of the error injection bdev"),
                pos("io_type", List.of("clear", "read", "write", "unmap", "flush", "all"), "IO type"),
                pos("error_type", List.of("failure", "nvme_failure", "pending", "corrupt_data", "nomem"), "Error type"),
                opt("--nvme-sct", "nvme_sct", Type.INT, "The NVMe SCT error for 'nvme_failure' type. Default is 0."),
                opt("--nvme-sc", "nvme_sc", Type.INT, "The NVMe SC error for 'nvme_failure' type. Default is 0."),
                opt("-n|--num", "num", Type.INT, "the number of commands you want to fail"),
                opt("-q|--queue-depth", "queue_depth", Type.INT, "the queue depth at which to trigger the error"),
                opt("-o|--corrupt-offset", "corrupt_offset", Type.INT, "the offset in bytes to xor with corrupt_value"),
                opt("-v|--corrupt-value", "corrupt_value", Type.INT, "the value for xor (1-255, 0 is invalid)")),
                Output.NONE, a -> map("name", a.get("name"), "io_type", a.get("io_type"), "error_type", a.get("error_type"),
                        "nvme_sct", a.get("nvme_sct"), "nvme_sc", a.get("nvme_sc"), "num", a.get("num"), "queue_depth", a.get("queue_depth"),
                        "corrupt_offset", a.get("corrupt_offset"), "corrupt_value", a.get("corrupt_value"))));
        add(new Command("bdev_error_resume_pending", "Resume pending IOs", List.of(pos("name", Type.STR, "the name of the error injection bdev")),
                Output.NONE, a -> map("name", a.get("name"))));
        add(new Command("bdev_raid_set_options", "Set options for bdev raid.", List.of(
                opt("-w|--process-window-size-kb", "process_window_size_kb", Type.INT, "Background process (e.g. rebuild) window size in KiB"),
                opt("-b|--process-max-bandwidth-mb-sec", "process_max_bandwidth_mb_sec", Type.INT,
                        "Background process (e.g. rebuild) maximum bandwidth in MiB/Sec")),
                Output.NONE, a -> map("process_window_size_kb", a.get("process_window_size_kb"), "process_max_bandwidth_mb_sec",
                        a.get("process_max_bandwidth_mb_sec"))));
        add(new Command("bdev_raid_get_bdevs", "List raid bdevs of a category", List.of(
                pos("category", List.of("all", "online", "configuring", "offline"), "all or online or configuring or offline")),
                Output.JSON, a -> map("category", a.get("category"))));
        add(new Command("bdev_raid_create", "Create new raid bdev", List.of(
                req("-n|--name", "name", Type.STR, "raid bdev name"),
                opt("-z|--strip-size-kb", "strip_size_kb", Type.INT, "strip size in KB"),
                new Arg(List.of("-r", "--raid-level"), "raid_level", Type.STR, true, List.of("raid0", "0", "raid1", "1", "raid5f", "5f", "concat"),
                        "Raid level"),
                req("-b|--base-bdevs", "base_bdevs", Type.WORDS, "base bdevs name, whitespace separated list in quotes"),
                opt("--uuid", "uuid", Type.STR, "UUID for this raid bdev"),
                opt("-s|--superblock", "superblock", Type.TRUE, "information about raid bdev will be stored in superblock on each base bdev")),
                Output.NONE, a -> map("name", a.get("name"), "strip_size_kb", a.get("strip_size_kb"), "raid_level", a.get("raid_level"),
                        "base_bdevs", a.get("base_bdevs"), "uuid", a.get("uuid"), "superblock", a.get("superblock"))));
        add(new Command("bdev_raid_delete", "Delete existing raid bdev", List.of(
                pos("name", Type.STR, "raid bdev name"),
                opt("-c|--clear-sb", "clear_sb", Type.TRUE, "If set, clear the superblock from all base bdevs")),
                Output.NONE, a -> map("name", a.get("name"), "clear_sb", a.get("clear_sb"))));
        add(new Command("bdev_raid_add_base_bdev", "Add base bdev to existing raid bdev", List.of(
                pos("raid_bdev", Type.STR, "raid bdev name"),
                pos("base_bdev", Type.STR, "base bdev name")),
                Output.NONE, a -> map("raid_bdev", a.get("raid_bdev"), "base_bdev", a.get("base_bdev"))));
        add(new Command("bdev_raid_remove_base_bdev", "Remove base bdev from existing raid bdev", List.of(pos("name", Type.STR, "base bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
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
                    case "-s" -> server = value(args, ++i, "-s");
                    case "-p" -> port = (int) parseInt(value(args, ++i, "-p"), "-p");
                    case "-t" -> timeout = parseFloat(value(args, ++i, "-t"), "-t");
                    case "-r" -> retries = (int) parseInt(value(args, ++i, "-r"), "-r");
                    case "-v" -> verbose = "INFO";
                    case "--verbose" -> {
                        String v = value(args, ++i, "--verbose");
                        if (!LEVELS.contains(v)) {
                            throw new UsageException("argument --verbose: invalid choice: '" + v + "' (choose from " + quoted(LEVELS) + ")");
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
                return script(g, stdin, out, err);
            }
            if (batch) {
                throw new UsageException("-b/--batch-mode sends the commands read from stdin as one batch; give no METHOD");
            }
            String name = args[i++];
            List<String> rest = List.of(args).subList(i, args.length);
            if (COMMANDS.containsKey(name) && (rest.contains("-h") || rest.contains("--help"))) {
                out.println(help(COMMANDS.get(name)));
                return 0;
            }
            Command c = command(name);
            Map<String, Object> parsed = parse(c, rest);
            return execute(c, parsed, g, stdin, out, err);
        } catch (UsageException e) {
            err.println(USAGE_LINE);
            err.println("spindle rpc: error: " + e.getMessage());
            return 2;
        }
    }

    private static String quoted(List<String> l) {
        List<String> q = new ArrayList<>();
        for (String x : l) {
            q.add("'" + x + "'");
        }
        return String.join(", ", q);
    }

    private static Command command(String name) throws UsageException {
        Command c = COMMANDS.get(name);
        if (c == null) {
            throw new UsageException("argument called_rpc_name: invalid choice: '" + name + "' (choose from "
                    + quoted(new ArrayList<>(COMMANDS.keySet())) + ")");
        }
        return c;
    }

    /**
     * rpc.py's {@code execute_script}: each non-blank line of {@code stdin} not starting with {@code #} is a
     * command line (shell quoting, as {@code shlex.split}). Without {@code -b} each runs in turn on one
     * connection, printing what it prints alone; on an error rpc.py's report ({@code Exception:}, the lines so
     * far ending {@code <<<}, the error) and exit 1. With {@code -b} they are sent as one JSON-RPC batch and the
     * results printed, the errors on stderr.
     */
    private static int script(Global g, InputStream stdin, PrintStream out, PrintStream err) throws UsageException {
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
                List<String> words = shlexSplit(line);
                if (words.get(0).startsWith("#")) {
                    continue;
                }
                if (words.get(0).startsWith("-")) {
                    throw new UsageException("a command read from stdin starts with its METHOD, not an option: " + line);
                }
                Command c = command(words.get(0));
                Map<String, Object> a = parse(c, words.subList(1, words.size()));
                if (g.batch() || g.dryRun()) {
                    if (c.name().equals("save_config") || c.name().equals("load_config")) {
                        throw new UsageException(c.name() + " runs client-side and cannot be part of a batch or a dry run script");
                    }
                }
                if (g.batch()) {
                    ObjectNode params = params(c.params().build(a));
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
                    execute(c, a, g, InputStream.nullInputStream(), out, err);
                    continue;
                }
                if (client == null) {
                    client = connect(g, out, err);
                    if (client == null) {
                        return 1;
                    }
                }
                try {
                    runOn(client, c, a, InputStream.nullInputStream(), out);
                } catch (RpcException | RpcCallFailed | IOException e) {
                    out.println("Exception:");
                    out.println(executed.toString().strip() + " <<<");
                    out.println(e instanceof RpcException r ? errorReport(c.name(), params(c.params().build(a)), client.lastId(), r) : e.getMessage());
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
            client = connect(g, out, err);
            if (client == null) {
                return 1;
            }
            JsonNode resp;
            try {
                trace(g, err, "Requests", reqs);
                client.sendRaw(PyJson.dumps(reqs, 2).getBytes(StandardCharsets.UTF_8));
                resp = client.readResponse();
                trace(g, err, "response", resp);
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

    /** rpc.py's INFO log line of a request or a response (on stderr, as its logging handler writes). */
    private static void trace(Global g, PrintStream err, String what, JsonNode v) {
        if (g.traced()) {
            err.println("INFO: " + what + ":\n" + PyJson.dumps(v, 2) + "\n");
        }
    }

    /**
     * Python's {@code shlex.split} (POSIX mode): words split at blanks; single quotes keep everything; double
     * quotes keep everything but a backslash before {@code \\ " $ `}; a backslash outside quotes keeps the next
     * character.
     */
    static List<String> shlexSplit(String s) throws UsageException {
        List<String> out = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '\'') {
                int j = s.indexOf('\'', i + 1);
                if (j < 0) {
                    throw new UsageException("No closing quotation: " + s);
                }
                w.append(s, i + 1, j);
                i = j;
                inWord = true;
            } else if (ch == '"') {
                int j = i + 1;
                for (; j < s.length() && s.charAt(j) != '"'; j++) {
                    char d = s.charAt(j);
                    if (d == '\\' && j + 1 < s.length() && "\\\"$`\n".indexOf(s.charAt(j + 1)) >= 0) {
                        d = s.charAt(++j);
                    }
                    w.append(d);
                }
                if (j >= s.length()) {
                    throw new UsageException("No closing quotation: " + s);
                }
                i = j;
                inWord = true;
            } else if (ch == '\\') {
                if (i + 1 >= s.length()) {
                    throw new UsageException("No escaped character: " + s);
                }
                w.append(s.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(ch)) {
                if (inWord) {
                    out.add(w.toString());
                    w.setLength(0);
                    inWord = false;
                }
            } else {
                w.append(ch);
                inWord = true;
            }
        }
        if (inWord) {
            out.add(w.toString());
        }
        return out;
    }

    private static String value(String[] args, int i, String flag) throws UsageException {
        if (i >= args.length) {
            throw new UsageException("argument " + flag + ": expected one argument");
        }
        return args[i];
    }

    private static long parseInt(String v, String what) throws UsageException {
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("argument " + what + ": invalid int value: '" + v + "'");
        }
    }

    private static double parseFloat(String v, String what) throws UsageException {
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("argument " + what + ": invalid float value: '" + v + "'");
        }
    }

    /** argparse's rules for one sub-command: flags anywhere, positionals in order, {@code --} not needed. */
    static Map<String, Object> parse(Command c, List<String> rest) throws UsageException {
        Map<String, Object> out = new LinkedHashMap<>();
        List<Arg> positionals = new ArrayList<>();
        for (Arg a : c.args()) {
            if (a.positional()) {
                positionals.add(a);
            }
            if (a.type() == Type.TRUE) {
                out.put(a.dest(), false);
            }
        }
        int p = 0;
        Set<String> seen = new LinkedHashSet<>();
        for (int i = 0; i < rest.size(); i++) {
            String s = rest.get(i);
            if (s.startsWith("-") && s.length() > 1 && !isNumber(s)) {
                String flag = s;
                String inline = null;
                int eq = s.indexOf('=');
                if (s.startsWith("--") && eq > 0) {
                    flag = s.substring(0, eq);
                    inline = s.substring(eq + 1);
                }
                Arg a = null;
                boolean negated = false;
                for (Arg x : c.args()) {
                    if (x.flags().contains(flag)) {
                        a = x;
                    } else if (x.type() == Type.BOOL_OPT && flag.startsWith("--no-") && x.flags().contains("--" + flag.substring(5))) {
                        a = x;
                        negated = true;
                    }
                }
                if (a == null) {
                    throw new UsageException("unrecognized arguments: " + s);
                }
                seen.add(a.dest());
                switch (a.type()) {
                    case TRUE -> out.put(a.dest(), true);
                    case BOOL_OPT -> out.put(a.dest(), !negated);
                    default -> {
                        String v = inline != null ? inline : i + 1 < rest.size() ? rest.get(++i) : null;
                        if (v == null) {
                            throw new UsageException("argument " + String.join("/", a.flags()) + ": expected one argument");
                        }
                        out.put(a.dest(), convert(a, v, String.join("/", a.flags())));
                    }
                }
                continue;
            }
            if (p >= positionals.size()) {
                throw new UsageException("unrecognized arguments: " + s);
            }
            Arg a = positionals.get(p++);
            seen.add(a.dest());
            out.put(a.dest(), convert(a, s, a.dest()));
        }
        List<String> missing = new ArrayList<>();
        for (Arg a : c.args()) {
            if (a.required() && !seen.contains(a.dest())) {
                missing.add(a.positional() ? a.dest() : String.join("/", a.flags()));
            }
        }
        if (!missing.isEmpty()) {
            throw new UsageException("the following arguments are required: " + String.join(", ", missing));
        }
        return out;
    }

    private static boolean isNumber(String s) {
        return s.matches("-\\d+(\\.\\d*)?");
    }

    private static Object convert(Arg a, String v, String what) throws UsageException {
        if (!a.choices().isEmpty() && !a.choices().contains(v)) {
            throw new UsageException("argument " + what + ": invalid choice: '" + v + "' (choose from " + quoted(a.choices()) + ")");
        }
        return switch (a.type()) {
            case INT -> parseInt(v, what);
            case FLOAT -> parseFloat(v, what);
            case CSV -> List.of(v.split(","));
            case WORDS -> List.of(v.trim().split("\\s+")); // argparse type=str.split
            default -> v;
        };
    }

    private static ObjectNode params(Map<String, Object> m) {
        ObjectNode o = F.objectNode();
        for (Map.Entry<String, Object> e : m.entrySet()) {
            if (e.getValue() != null) { // rpc.py's remove_null
                o.set(e.getKey(), JSON.valueToTree(e.getValue()));
            }
        }
        return o;
    }

    private static int execute(Command c, Map<String, Object> a, Global g, InputStream stdin, PrintStream out, PrintStream err)
            throws UsageException {
        ObjectNode params = params(c.params().build(a));
        if (g.dryRun()) {
            ObjectNode req = F.objectNode();
            req.put("method", c.name());
            req.set("params", c.name().equals("save_config") || c.name().equals("load_config") ? F.nullNode() : params);
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
    private static void runOn(RpcClient client, Command c, Map<String, Object> a, InputStream stdin, PrintStream out)
            throws IOException, RpcException, RpcCallFailed, UsageException {
        ObjectNode params = params(c.params().build(a));
        switch (c.name()) {
            case "save_config" -> saveConfig(client, a, out);
            case "load_config" -> loadConfig(client, a, stdin, out);
            default -> {
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
        }
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
    private static RpcClient connect(Global g, PrintStream out, PrintStream err) {
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
                    parts.add(shlexQuote(v.isTextual() ? v.asText() : PyJson.dumps(v, 2)));
                }
                out.println(String.join(" ", parts));
            }
            case NONE -> {
            }
            default -> throw new IllegalStateException(String.valueOf(o));
        }
    }

    /** Python's {@code shlex.quote}. */
    static String shlexQuote(String v) {
        if (v.isEmpty()) {
            return "''";
        }
        if (v.matches("[\\w@%+=:,./-]+")) {
            return v;
        }
        return "'" + v.replace("'", "'\"'\"'") + "'";
    }

    /** A call of save_config/load_config failed; the message is rpc.py's report. */
    static final class RpcCallFailed extends Exception {
        private static final long serialVersionUID = 1L;

        RpcCallFailed(String m) {
            super(m, null, false, false);
        }
    }

    private static JsonNode call(RpcClient client, String method, ObjectNode params, long[] id) throws IOException, RpcCallFailed {
        id[0]++;
        try {
            return client.call(method, params);
        } catch (RpcException e) {
            throw new RpcCallFailed(errorReport(method, params, id[0], e));
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

    static String help(Command c) {
        StringBuilder b = new StringBuilder("usage: spindle rpc " + c.name());
        for (Arg a : c.args()) {
            String n = a.positional() ? a.dest() : a.flags().get(0) + (a.type() == Type.TRUE || a.type() == Type.BOOL_OPT ? ""
                    : " " + a.dest().toUpperCase(java.util.Locale.ROOT));
            b.append(' ').append(a.required() || a.positional() ? n : "[" + n + "]");
        }
        b.append("\n\n").append(c.help()).append('\n');
        for (Arg a : c.args()) {
            String n = a.positional() ? a.dest() : String.join(", ", a.flags()) + (a.type() == Type.BOOL_OPT ? " / --no-" + a.flags().get(0).substring(2) : "");
            b.append(String.format("  %-34s %s%s%n", n, a.help(), a.choices().isEmpty() ? "" : " {" + String.join(",", a.choices()) + "}"));
        }
        return b.toString().stripTrailing();
    }
}
