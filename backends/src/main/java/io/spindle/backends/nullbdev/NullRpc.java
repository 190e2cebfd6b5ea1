package io.spindle.backends.nullbdev;

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
 * The null module's JSON-RPC methods, as SPDK's {@code module/bdev/null/bdev_null_rpc.c}; the reference for a
 * module's RPC provider (list it in {@code META-INF/services/io.spindle.rpc.spi.RpcMethodProvider}):
 * <ul>
 *   <li>{@code bdev_null_create} {name*, block_size*, num_blocks*, uuid, ...} → the bdev's name. SPDK's
 *       metadata, protection-information and geometry parameters are accepted only with their neutral
 *       values.</li>
 *   <li>{@code bdev_null_delete} {name*} → true; -19 when there is no null bdev of that name.</li>
 *   <li>{@code bdev_null_resize} {name*, new_size* (MiB)} → true; it only grows, as SPDK's (a smaller size is
 *       -22), and open descriptors get a RESIZE event.</li>
 * </ul>
 */
public final class NullRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public NullRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_null_create", NullRpc::create),
                RpcMethod.runtime("bdev_null_delete", NullRpc::delete),
                RpcMethod.runtime("bdev_null_resize", NullRpc::resize));
    }

    private static CompletionStage<?> create(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        if (name.isEmpty()) {
            throw RpcException.invalidParams("name=\"\": must not be empty");
        }
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
        ModuleParams.physicalBlockSize(p, bs);
        ModuleParams.noMetadata(p);
        for (String k : new String[] {"preferred_write_alignment", "preferred_write_granularity", "optimal_write_size",
            "preferred_unmap_alignment", "preferred_unmap_granularity"}) {
            ModuleParams.neutralInt(p, k, 0, "no write/unmap geometry hints");
        }
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(NullModule.class).create(l, new NullModule.Options(name, nb, (int) bs, uuid, false)).thenApply(Bdev::name);
    }

    private static CompletionStage<?> delete(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(NullModule.class).delete(l, name).thenApply(BdevRpc::trueOrErrno);
    }

    private static CompletionStage<?> resize(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        long mib = p.integer("new_size", 1, Long.MAX_VALUE >> 20);
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        NullModule m = l.module(NullModule.class);
        Bdev b = l.get(name);
        if (b == null) {
            throw RpcException.errno(Errno.ENODEV, "no bdev named " + name);
        }
        if (b.module() != m) {
            throw RpcException.errno(Errno.EINVAL, name + " is not a null bdev (module " + b.module().name() + ")"); // as SPDK
        }
        long blocks = (mib << 20) / b.blockSize();
        // one step: the grow-only rule is the null driver's acceptResize, checked on the bdev's actor in the same
        // message that changes the count, and the request goes to this bdev, not to whatever holds the name later
        return l.resize(b, blocks).thenApply(rc -> {
            if (rc == Errno.EINVAL) {
                throw new java.util.concurrent.CompletionException(RpcException.errno(Errno.EINVAL, "Cannot shrink a null bdev: new_size="
                        + mib + " MiB is " + blocks + " blocks, below the current " + b.numBlocks()));
            }
            return BdevRpc.trueOrErrno(rc);
        });
    }
}
