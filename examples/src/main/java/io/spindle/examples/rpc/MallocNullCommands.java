package io.spindle.examples.rpc;

import io.spindle.examples.rpc.SpindleRpc.Output;

import java.util.List;

import static io.spindle.examples.rpc.ArgParse.*;

/**
 * The malloc and null modules' sub-commands of {@code spindle rpc} ({@code bdev_malloc_*}, {@code bdev_null_*}),
 * with rpc.py's arguments: the size is given in MiB and sent as {@code num_blocks}, as rpc.py computes it.
 *
 * <p>Stateless; {@link #register} runs once, from {@link SpindleRpc}'s class initialization.
 */
final class MallocNullCommands {
    private MallocNullCommands() {
    }

    /** Adds the malloc and null sub-commands to {@code r}. */
    static void register(Registry r) {
        r.add(new Command("bdev_malloc_create", "Create a bdev with malloc backend", List.of(
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
        r.add(new Command("bdev_malloc_delete", "Delete a malloc disk", List.of(pos("name", Type.STR, "malloc bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_null_create", "Add a bdev with null backend", List.of(
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
        r.add(new Command("bdev_null_delete", "Delete a null bdev", List.of(pos("name", Type.STR, "null bdev name")),
                Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_null_resize", "Resize a null bdev", List.of(pos("name", Type.STR, "null bdev name"),
                pos("new_size", Type.INT, "new bdev size for resize operation. The unit is MiB")),
                Output.JSON, a -> map("name", a.get("name"), "new_size", a.get("new_size"))));
    }
}
