package io.spindle.backends.mapped;

import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevRpc;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;

/**
 * The mapped module's JSON-RPC methods (Spindle's own, in SPDK's style):
 * <ul>
 *   <li>{@code bdev_mapped_create} {name*, filename*, block_size*, num_blocks, uuid, huge_pages} → the bdev's name. A
 *       missing file is created with {@code num_blocks} blocks; an existing one is reopened with its contents
 *       ({@code num_blocks} may be left out, and must match its size when given). {@code huge_pages} (bool; default:
 *       the process's {@code spindle.memory.huge-pages} policy, on unless {@code off}) advises transparent huge pages
 *       for the mapping ({@code madvise(MADV_HUGEPAGE)}). Errors name the file: -22 (sizes),
 *       -21 (a directory), -13 (no permission), -17 (name in use).</li>
 *   <li>{@code bdev_mapped_delete} {name*} → true; -19 when there is no mapped bdev of that name. The file stays.</li>
 * </ul>
 */
public final class MappedRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public MappedRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_mapped_create", MappedRpc::create),
                RpcMethod.runtime("bdev_mapped_delete", MappedRpc::delete));
    }

    private static CompletionStage<?> create(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        String filename = p.string("filename");
        long bs = p.integer("block_size", 512, 1L << 30);
        long nb = p.integer("num_blocks", 0, 0, Long.MAX_VALUE);
        UUID uuid = p.uuid("uuid");
        Boolean huge = p.has("huge_pages") ? p.bool("huge_pages") : null;
        p.end();
        if (name.isEmpty()) {
            throw RpcException.invalidParams("name=\"\": must not be empty");
        }
        if (Long.bitCount(bs) != 1) {
            throw RpcException.errno(io.spindle.runtime.Errno.EINVAL, "block_size=" + bs + ": must be a power of two >= 512");
        }
        BdevLayer l = BdevRpc.layer(c);
        return l.module(MappedModule.class).create(l, new MappedModule.Options(name, filename, (int) bs, nb, uuid, huge))
                .thenCompose(b -> l.waitForExamine().thenApply(v -> b.name()));
    }

    private static CompletionStage<?> delete(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(MappedModule.class).delete(l, name).thenApply(BdevRpc::trueOrErrno);
    }
}
