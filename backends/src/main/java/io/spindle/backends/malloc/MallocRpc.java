package io.spindle.backends.malloc;

import io.spindle.backends.ModuleParams;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevRpc;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Errno;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;

/**
 * The malloc module's JSON-RPC methods, as SPDK's {@code module/bdev/malloc/bdev_malloc_rpc.c}:
 * <ul>
 *   <li>{@code bdev_malloc_create} {name, block_size*, num_blocks*, uuid, optimal_io_boundary, ...} → the
 *       bdev's name. Without a name the bdev is called {@code Malloc<n>} with the lowest free n. SPDK's
 *       metadata, protection-information and NUMA parameters are accepted only with their neutral values.</li>
 *   <li>{@code bdev_malloc_delete} {name*} → true; -19 when there is no malloc bdev of that name.</li>
 * </ul>
 */
public final class MallocRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public MallocRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_malloc_create", MallocRpc::create),
                RpcMethod.runtime("bdev_malloc_delete", MallocRpc::delete));
    }

    private static CompletionStage<?> create(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name", null);
        long bs = p.integer("block_size", Long.MIN_VALUE, Long.MAX_VALUE);
        if (bs < 512 || bs > 1 << 30 || Long.bitCount(bs) != 1) {
            throw RpcException.errno(io.spindle.runtime.Errno.EINVAL, "block_size=" + bs + ": must be a power of two >= 512"); // a well-typed bad value: EINVAL, as SPDK
        }
        long nb = p.integer("num_blocks", 0, Long.MAX_VALUE / bs); // negative: SPDK's uint64 decoder refuses it, -32602
        if (nb == 0) {
            // a well-typed bad value: SPDK's create answers -EINVAL ("Disk num_blocks must be greater than 0"): -22
            throw RpcException.errno(io.spindle.runtime.Errno.EINVAL, "num_blocks=0: must be >= 1");
        }
        UUID uuid = p.uuid("uuid");
        long boundary = p.integer("optimal_io_boundary", 0, 0, Integer.MAX_VALUE);
        ModuleParams.physicalBlockSize(p, bs);
        ModuleParams.noMetadata(p);
        ModuleParams.neutralInt(p, "numa_id", -1, "memory is not placed by NUMA node");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        if (name == null) {
            name = freeName(l);
        } else if (name.isEmpty()) {
            throw RpcException.invalidParams("name=\"\": must not be empty");
        }
        MallocModule m = l.module(MallocModule.class);
        return m.create(l, new MallocModule.Options(name, nb, (int) bs, uuid, boundary)).thenApply(Bdev::name);
    }

    private static String freeName(BdevLayer l) {
        for (int i = 0; ; i++) {
            if (l.get("Malloc" + i) == null) {
                return "Malloc" + i;
            }
        }
    }

    private static CompletionStage<?> delete(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(MallocModule.class).delete(l, name).thenApply(BdevRpc::trueOrErrno);
    }
}
