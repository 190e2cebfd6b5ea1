package io.spindle.examples.rpc;

import io.spindle.examples.rpc.SpindleRpc.Output;

import java.util.List;

import static io.spindle.examples.rpc.ArgParse.*;

/**
 * The bdev layer's own sub-commands of {@code spindle rpc} (options, examine, {@code bdev_get_bdevs}, I/O
 * statistics, QoS and histograms), with rpc.py's arguments (SPDK's {@code scripts/rpc/bdev.py}). The modules'
 * sub-commands are in {@link MallocNullCommands}, {@link FileBdevCommands} and {@link VirtualBdevCommands}.
 *
 * <p>Stateless; {@link #register} runs once, from {@link SpindleRpc}'s class initialization.
 */
final class BdevCommands {
    private static final List<String> MODES = List.of("all", "maxmin", "error", "none");

    private BdevCommands() {
    }

    /** Adds the bdev layer's sub-commands to {@code r}. */
    static void register(Registry r) {
        r.add(new Command("bdev_set_options", "Set options of bdev subsystem", List.of(
                opt("-p|--bdev-io-pool-size", "bdev_io_pool_size", Type.INT, "Number of bdev_io structures in shared buffer pool"),
                opt("-c|--bdev-io-cache-size", "bdev_io_cache_size", Type.INT, "Maximum number of bdev_io structures cached per thread"),
                opt("--auto-examine", "bdev_auto_examine", Type.BOOL_OPT, "Enable or disable auto examine"),
                opt("--iobuf-small-cache-size", "iobuf_small_cache_size", Type.INT, "Size of the small iobuf per thread cache"),
                opt("--iobuf-large-cache-size", "iobuf_large_cache_size", Type.INT, "Size of the large iobuf per thread cache")),
                Output.NONE, a -> map("bdev_io_pool_size", a.get("bdev_io_pool_size"), "bdev_io_cache_size", a.get("bdev_io_cache_size"),
                        "bdev_auto_examine", a.get("bdev_auto_examine"), "iobuf_small_cache_size", a.get("iobuf_small_cache_size"),
                        "iobuf_large_cache_size", a.get("iobuf_large_cache_size"))));
        r.add(new Command("bdev_examine", "examine a bdev if it exists, or will examine it after it is created", List.of(
                req("-b|--name", "name", Type.STR, "Name or alias of the bdev")), Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_wait_for_examine", "Report when all bdevs have been examined", List.of(), Output.NONE, a -> map()));
        r.add(new Command("bdev_get_bdevs", "Display current blockdev list or required blockdev", List.of(
                opt("-b|--name", "name", Type.STR, "Name of the Blockdev. Example: Nvme0n1"),
                opt("-t|--timeout-ms", "timeout", Type.INT, "Time in ms to wait for the bdev to appear (only used with -b)")),
                Output.DICT, a -> map("name", a.get("name"), "timeout", a.get("timeout"))));
        r.add(new Command("bdev_get_iostat", "Display current I/O statistics of all the blockdevs or specified blockdev.", List.of(
                opt("-c|--per-channel", "per_channel", Type.TRUE, "Display per channel IO stats for specified device"),
                choice("--reset-mode", "reset_mode", MODES, "Mode to reset I/O statistics after getting"),
                opt("--names", "names", Type.CSV, "Bdev names to obtain I/O statistics from, comma-separated list in quotes")),
                Output.DICT, a -> map("per_channel", a.get("per_channel"), "reset_mode", a.get("reset_mode"), "names", a.get("names"))));
        r.add(new Command("bdev_reset_iostat", "Reset I/O statistics of all the blockdevs or specified blockdev.", List.of(
                opt("-b|--name", "name", Type.STR, "Name of the Blockdev. Example: Nvme0n1"),
                choice("-m|--mode", "mode", MODES, "Mode to reset I/O statistics")),
                Output.NONE, a -> map("name", a.get("name"), "mode", a.get("mode"))));
        r.add(new Command("bdev_set_qos_limit", "Set QoS rate limit on a blockdev", List.of(
                pos("name", Type.STR, "Blockdev name to set QoS. Example: Malloc0"),
                opt("--rw-ios-per-sec", "rw_ios_per_sec", Type.INT, "R/W IOs per second limit (>=1000, example: 20000). 0 means unlimited."),
                opt("--rw-mbytes-per-sec", "rw_mbytes_per_sec", Type.INT, "R/W megabytes per second limit. 0 means unlimited."),
                opt("--r-mbytes-per-sec", "r_mbytes_per_sec", Type.INT, "Read megabytes per second limit. 0 means unlimited."),
                opt("--w-mbytes-per-sec", "w_mbytes_per_sec", Type.INT, "Write megabytes per second limit. 0 means unlimited.")),
                Output.NONE, a -> map("name", a.get("name"), "rw_ios_per_sec", a.get("rw_ios_per_sec"), "rw_mbytes_per_sec",
                        a.get("rw_mbytes_per_sec"), "r_mbytes_per_sec", a.get("r_mbytes_per_sec"), "w_mbytes_per_sec", a.get("w_mbytes_per_sec"))));
        r.add(new Command("bdev_enable_histogram", "Enable or disable histogram for specified bdev", List.of(
                new Arg(List.of("--histogram"), "enable", Type.BOOL_OPT, true, List.of(), "Enable or disable histograms on specified device"),
                opt("-o|--opc", "opc", Type.STR, "Enable histogram for specified io type"),
                opt("--granularity", "granularity", Type.INT, "Histogram bucket granularity."),
                opt("--min-nsec", "min_nsec", Type.INT, "Histogram min value in nanoseconds."),
                opt("--max-nsec", "max_nsec", Type.INT, "Histogram max value in nanoseconds."),
                pos("name", Type.STR, "bdev name")),
                Output.NONE, a -> map("name", a.get("name"), "enable", a.get("enable"), "opc", a.get("opc"), "granularity",
                        a.get("granularity"), "min_nsec", a.get("min_nsec"), "max_nsec", a.get("max_nsec"))));
        r.add(new Command("bdev_get_histogram", "Get histogram for specified bdev", List.of(pos("name", Type.STR, "bdev name")),
                Output.DICT, a -> map("name", a.get("name"))));
    }
}
