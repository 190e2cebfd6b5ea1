package io.spindle.examples.rpc;

import io.spindle.examples.rpc.SpindleRpc.Output;

import java.util.List;

import static io.spindle.examples.rpc.ArgParse.*;

/**
 * The file-backed modules' sub-commands of {@code spindle rpc}: aio ({@code bdev_aio_*}, SPDK's arguments) and
 * Spindle's mapped bdev ({@code bdev_mapped_*}, on a memory-mapped file; no SPDK counterpart).
 *
 * <p>Stateless; {@link #register} runs once, from {@link SpindleRpc}'s class initialization.
 */
final class FileBdevCommands {
    private FileBdevCommands() {
    }

    /** Adds the aio and mapped sub-commands to {@code r}. */
    static void register(Registry r) {
        r.add(new Command("bdev_aio_create", "Add a bdev with aio backend", List.of(
                pos("filename", Type.STR, "Path to device or file (ex: /dev/sda)"),
                pos("name", Type.STR, "Block device name"),
                optPos("block_size", Type.INT, "Block size for this bdev"),
                opt("-r|--readonly", "readonly", Type.TRUE, "Set this bdev as read-only"),
                opt("--fallocate", "fallocate", Type.TRUE, "Support unmap/writezeros by fallocate"),
                opt("-u|--uuid", "uuid", Type.STR, "UUID of the bdev (optional)"),
                opt("--no-wait", "nowait", Type.TRUE, "Enable the RWF_NOWAIT flag for block devices")),
                Output.JSON, a -> map("filename", a.get("filename"), "name", a.get("name"), "block_size", a.get("block_size"),
                        "readonly", a.get("readonly"), "fallocate", a.get("fallocate"), "uuid", a.get("uuid"), "nowait", a.get("nowait"))));
        r.add(new Command("bdev_aio_rescan", "Rescan a bdev size with aio backend", List.of(pos("name", Type.STR, "Block device name")),
                Output.JSON, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_aio_delete", "Delete an aio disk", List.of(pos("name", Type.STR, "aio bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_mapped_create", "Add a persistent bdev on a memory-mapped file (Spindle)", List.of(
                pos("filename", Type.STR, "Path of the file (created when missing)"),
                pos("name", Type.STR, "Block device name"),
                pos("block_size", Type.INT, "Block size for this bdev"),
                optPos("num_blocks", Type.INT, "Number of blocks (needed to create the file; omitted: from the existing file)"),
                opt("-u|--uuid", "uuid", Type.STR, "UUID of the bdev (optional)"),
                opt("--huge-pages", "huge_pages", Type.BOOL_OPT, "Advise (or, with --no-huge-pages, do not) transparent huge pages"
                        + " for the mapping; default: the process's huge-page policy")),
                Output.JSON, a -> map("name", a.get("name"), "filename", a.get("filename"), "block_size", a.get("block_size"),
                        "num_blocks", a.get("num_blocks"), "uuid", a.get("uuid"), "huge_pages", a.get("huge_pages"))));
        r.add(new Command("bdev_mapped_delete", "Delete a mapped bdev (Spindle); the file stays", List.of(pos("name", Type.STR, "mapped bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
    }
}
