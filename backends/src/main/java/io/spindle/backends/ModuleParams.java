package io.spindle.backends;

import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcParams;

/**
 * Checks of the create parameters SPDK's modules take but Spindle's do not implement (metadata, protection
 * information, NUMA placement, write/unmap geometry hints): each may be absent or have its neutral value; any
 * other value is refused naming the key, so nothing is ignored silently.
 */
public final class ModuleParams {
    private ModuleParams() {
    }

    /** Refuses {@code key} unless absent or {@code neutral}. */
    public static void neutralInt(RpcParams p, String key, long neutral, String why) throws RpcException {
        long v = p.integer(key, neutral, Long.MIN_VALUE, Long.MAX_VALUE);
        if (v != neutral) {
            throw RpcException.invalidParams(key + "=" + v + ": not supported by Spindle (" + why + "); omit it or give " + neutral);
        }
    }

    /** Refuses {@code key} unless absent or false. */
    public static void neutralBool(RpcParams p, String key, String why) throws RpcException {
        if (p.bool(key, false)) {
            throw RpcException.invalidParams(key + "=true: not supported by Spindle (" + why + "); omit it or give false");
        }
    }

    /** {@code physical_block_size}: absent, 0, or the block size itself. */
    public static void physicalBlockSize(RpcParams p, long blockSize) throws RpcException {
        long v = p.integer("physical_block_size", 0, 0, Integer.MAX_VALUE);
        if (v != 0 && v != blockSize) {
            throw RpcException.invalidParams("physical_block_size=" + v + ": Spindle bdevs report physical = logical block size; omit it or give "
                    + blockSize);
        }
    }

    /** Metadata and protection information: Spindle's bdevs have none. */
    public static void noMetadata(RpcParams p) throws RpcException {
        neutralInt(p, "md_size", 0, "no separate or interleaved metadata");
        neutralBool(p, "md_interleave", "no metadata");
        neutralInt(p, "dif_type", 0, "no protection information");
        neutralBool(p, "dif_is_head_of_md", "no protection information");
        neutralInt(p, "dif_pi_format", 0, "no protection information");
    }
}
