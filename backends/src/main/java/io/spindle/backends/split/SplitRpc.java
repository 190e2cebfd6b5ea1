package io.spindle.backends.split;

import io.spindle.backends.Vbdevs;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevRpc;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Errno;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * The split module's JSON-RPC methods, as SPDK's {@code module/bdev/split/vbdev_split_rpc.c}:
 * <ul>
 *   <li>{@code bdev_split_create} {base_bdev*, split_count*, split_size_mb} → the parts' names {@code <base>p0..},
 *       an empty array when the base does not exist yet. Errors are SPDK's -32602 "Failed to create N split bdevs
 *       from 'BASE': REASON" (with Spindle's account in {@code data}).</li>
 *   <li>{@code bdev_split_delete} {base_bdev*} → true; -32602 "No such file or directory" without a split of that
 *       base.</li>
 * </ul>
 */
public final class SplitRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public SplitRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_split_create", SplitRpc::create),
                RpcMethod.runtime("bdev_split_delete", SplitRpc::delete));
    }

    private static CompletionStage<?> create(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String base = p.string("base_bdev");
        long count = p.integer("split_count", 0, 0xFFFFFFFFL);
        long mb = p.integer("split_size_mb", 0, 0, Long.MAX_VALUE >> 20);
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        CompletableFuture<Object> f = new CompletableFuture<>();
        l.module(SplitModule.class).create(l, base, (int) Math.min(count, Integer.MAX_VALUE), mb).whenComplete((names, err) -> {
            if (err == null) {
                f.complete(names);
                return;
            }
            Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
            int errno = Vbdevs.errnoOf(cause, Errno.EIO);
            f.completeExceptionally(new RpcException(RpcException.INVALID_PARAMS, "Failed to create " + count + " split bdevs from '" + base
                    + "': " + Errno.describe(errno), cause instanceof BdevException ? cause.getMessage() : String.valueOf(cause)));
        });
        return f;
    }

    private static CompletionStage<?> delete(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String base = p.string("base_bdev");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(SplitModule.class).delete(l, base).thenApply(rc -> {
            if (rc != Errno.OK) {
                throw new CompletionException(new RpcException(RpcException.INVALID_PARAMS, Errno.describe(rc),
                        "bdev_split_delete base_bdev=" + base + ": no split of this base"));
            }
            return Boolean.TRUE;
        });
    }
}
