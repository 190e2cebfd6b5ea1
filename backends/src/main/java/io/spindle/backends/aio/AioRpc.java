package io.spindle.backends.aio;

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
 * The aio module's JSON-RPC methods, as SPDK's {@code module/bdev/aio/bdev_aio_rpc.c}:
 * <ul>
 *   <li>{@code bdev_aio_create} {name*, filename*, block_size (0 or absent: detect), readonly, fallocate, uuid,
 *       nowait} → the bdev's name, once it has been examined. Errors name the file: -2 (no such file), -21 (a
 *       directory), -13 (no permission), -22 (block size, or a size that is not a multiple of it), -17 (name in
 *       use). {@code nowait=true} is refused (-95): Spindle's I/O never blocks a reactor anyway.</li>
 *   <li>{@code bdev_aio_rescan} {name*} → true: size 0 deletes the bdev, another size resizes it.</li>
 *   <li>{@code bdev_aio_delete} {name*} → true; -19 when there is no aio bdev of that name.</li>
 * </ul>
 */
public final class AioRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public AioRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_aio_create", AioRpc::create),
                RpcMethod.runtime("bdev_aio_rescan", AioRpc::rescan),
                RpcMethod.runtime("bdev_aio_delete", AioRpc::delete));
    }

    private static CompletionStage<?> create(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        String filename = p.string("filename");
        long bs = p.integer("block_size", 0, 0, 1L << 30);
        boolean readonly = p.bool("readonly", false);
        boolean fallocate = p.bool("fallocate", false);
        UUID uuid = p.uuid("uuid");
        boolean nowait = p.bool("nowait", false);
        p.end();
        if (name.isEmpty()) {
            throw RpcException.invalidParams("name=\"\": must not be empty");
        }
        if (nowait) {
            throw RpcException.errno(Errno.ENOTSUP, "nowait=true: Spindle's aio has no RWF_NOWAIT mode (its I/O never blocks a reactor); omit it");
        }
        BdevLayer l = BdevRpc.layer(c);
        return l.module(AioModule.class).create(l, new AioModule.Options(name, filename, (int) bs, readonly, fallocate, uuid))
                .thenCompose(b -> l.waitForExamine().thenApply(v -> b.name()));
    }

    private static CompletionStage<?> rescan(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(AioModule.class).rescan(l, name).thenApply(BdevRpc::trueOrErrno);
    }

    private static CompletionStage<?> delete(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        Bdev b = l.get(name);
        return l.module(AioModule.class).delete(l, b == null ? name : b.name()).thenApply(BdevRpc::trueOrErrno);
    }
}
