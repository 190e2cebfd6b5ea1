package io.spindle.examples.rpc;

import io.spindle.examples.rpc.SpindleRpc.Output;

import java.util.List;

import static io.spindle.examples.rpc.ArgParse.*;

/**
 * The sub-commands of the modules that stack on other bdevs: passthru, split, delay, error injection and raid,
 * with rpc.py's arguments (SPDK's {@code scripts/rpc/bdev.py}; the modules are in docs/backends.md).
 *
 * <p>Stateless; {@link #register} runs once, from {@link SpindleRpc}'s class initialization.
 */
final class VirtualBdevCommands {
    private VirtualBdevCommands() {
    }

    /** Adds the passthru, split, delay, error and raid sub-commands to {@code r}. */
    static void register(Registry r) {
        r.add(new Command("bdev_passthru_create", "Add a pass through bdev on existing bdev", List.of(
                req("-b|--base-bdev-name", "base_bdev_name", Type.STR, "Name of the existing bdev"),
                req("-p|--name", "name", Type.STR, "Name of the pass through bdev"),
                opt("-u|--uuid", "uuid", Type.STR, "UUID of the bdev")),
                Output.JSON, a -> map("base_bdev_name", a.get("base_bdev_name"), "name", a.get("name"), "uuid", a.get("uuid"))));
        r.add(new Command("bdev_passthru_delete", "Delete a pass through bdev", List.of(pos("name", Type.STR, "pass through bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_split_create", "Add given disk name to split config", List.of(
                pos("base_bdev", Type.STR, "base bdev name"),
                opt("-s|--split-size-mb", "split_size_mb", Type.INT, "size in MiB for each bdev"),
                pos("split_count", Type.INT, "number of split bdevs to create")),
                Output.ARRAY, a -> map("base_bdev", a.get("base_bdev"), "split_count", a.get("split_count"), "split_size_mb", a.get("split_size_mb"))));
        r.add(new Command("bdev_split_delete", "Delete split config with all created splits.", List.of(pos("base_bdev", Type.STR, "base bdev name")),
                Output.NONE, a -> map("base_bdev", a.get("base_bdev"))));
        r.add(new Command("bdev_delay_create", "Add a delay bdev on existing bdev", List.of(
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
        r.add(new Command("bdev_delay_delete", "Delete a delay bdev", List.of(pos("name", Type.STR, "delay bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_delay_update_latency", "Update one of the latency values for a given delay bdev", List.of(
                pos("delay_bdev_name", Type.STR, "The name of the given delay bdev"),
                pos("latency_type", List.of("avg_read", "avg_write", "p99_read", "p99_write"), "Latency bucket to update"),
                pos("latency_us", Type.INT, "new latency value in microseconds.")),
                Output.JSON, a -> map("delay_bdev_name", a.get("delay_bdev_name"), "latency_type", a.get("latency_type"),
                        "latency_us", a.get("latency_us"))));
        r.add(new Command("bdev_error_create", "Add bdev with error injection backend", List.of(
                pos("base_name", Type.STR, "base bdev name"),
                opt("--uuid", "uuid", Type.STR, "UUID for this bdev")),
                Output.JSON, a -> map("base_name", a.get("base_name"), "uuid", a.get("uuid"))));
        r.add(new Command("bdev_error_delete", "Delete an error bdev", List.of(pos("name", Type.STR, "error bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_error_inject_error", "bdev inject error", List.of(
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
        r.add(new Command("bdev_error_resume_pending", "Resume pending IOs", List.of(pos("name", Type.STR, "the name of the error injection bdev")),
                Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_raid_set_options", "Set options for bdev raid.", List.of(
                opt("-w|--process-window-size-kb", "process_window_size_kb", Type.INT, "Background process (e.g. rebuild) window size in KiB"),
                opt("-b|--process-max-bandwidth-mb-sec", "process_max_bandwidth_mb_sec", Type.INT,
                        "Background process (e.g. rebuild) maximum bandwidth in MiB/Sec")),
                Output.NONE, a -> map("process_window_size_kb", a.get("process_window_size_kb"), "process_max_bandwidth_mb_sec",
                        a.get("process_max_bandwidth_mb_sec"))));
        r.add(new Command("bdev_raid_get_bdevs", "List raid bdevs of a category", List.of(
                pos("category", List.of("all", "online", "configuring", "offline"), "all or online or configuring or offline")),
                Output.JSON, a -> map("category", a.get("category"))));
        r.add(new Command("bdev_raid_create", "Create new raid bdev", List.of(
                req("-n|--name", "name", Type.STR, "raid bdev name"),
                opt("-z|--strip-size-kb", "strip_size_kb", Type.INT, "strip size in KB"),
                new Arg(List.of("-r", "--raid-level"), "raid_level", Type.STR, true, List.of("raid0", "0", "raid1", "1", "raid5f", "5f", "concat"),
                        "Raid level"),
                req("-b|--base-bdevs", "base_bdevs", Type.WORDS, "base bdevs name, whitespace separated list in quotes"),
                opt("--uuid", "uuid", Type.STR, "UUID for this raid bdev"),
                opt("-s|--superblock", "superblock", Type.TRUE, "information about raid bdev will be stored in superblock on each base bdev")),
                Output.NONE, a -> map("name", a.get("name"), "strip_size_kb", a.get("strip_size_kb"), "raid_level", a.get("raid_level"),
                        "base_bdevs", a.get("base_bdevs"), "uuid", a.get("uuid"), "superblock", a.get("superblock"))));
        r.add(new Command("bdev_raid_delete", "Delete existing raid bdev", List.of(
                pos("name", Type.STR, "raid bdev name"),
                opt("-c|--clear-sb", "clear_sb", Type.TRUE, "If set, clear the superblock from all base bdevs")),
                Output.NONE, a -> map("name", a.get("name"), "clear_sb", a.get("clear_sb"))));
        r.add(new Command("bdev_raid_add_base_bdev", "Add base bdev to existing raid bdev", List.of(
                pos("raid_bdev", Type.STR, "raid bdev name"),
                pos("base_bdev", Type.STR, "base bdev name")),
                Output.NONE, a -> map("raid_bdev", a.get("raid_bdev"), "base_bdev", a.get("base_bdev"))));
        r.add(new Command("bdev_raid_remove_base_bdev", "Remove base bdev from existing raid bdev", List.of(pos("name", Type.STR, "base bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
    }
}
