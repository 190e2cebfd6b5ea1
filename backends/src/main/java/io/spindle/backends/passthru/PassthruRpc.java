package io.spindle.backends.passthru;

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
 * The passthru module's JSON-RPC methods, as SPDK's {@code module/bdev/passthru/vbdev_passthru_rpc.c}:
 * <ul>
 *   <li>{@code bdev_passthru_create} {base_bdev_name*, name*, uuid} → the passthru's name, also when its base does
 *       not exist yet (built when it registers); -17 for a passthru name in use, -1 (EPERM) when the base is claimed
 *       by another module.</li>
 *   <li>{@code bdev_passthru_delete} {name*} → true; -19 when there is no passthru of that name.</li>
 * </ul>
 */
public final class PassthruRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public PassthruRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_passthru_create", PassthruRpc::create),
                RpcMethod.runtime("bdev_passthru_delete", PassthruRpc::delete));
    }

    private static CompletionStage<?> create(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String base = p.string("base_bdev_name");
        String name = p.string("name");
        UUID uuid = p.uuid("uuid");
        p.end();
        if (name.isEmpty()) {
            throw RpcException.invalidParams("name=\"\": must not be empty");
        }
        if (base.isEmpty()) {
            throw RpcException.invalidParams("base_bdev_name=\"\": must not be empty");
        }
        BdevLayer l = BdevRpc.layer(c);
        return l.module(PassthruModule.class).create(l, name, base, uuid);
    }

    private static CompletionStage<?> delete(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(PassthruModule.class).delete(l, name).thenApply(BdevRpc::trueOrErrno);
    }
}
