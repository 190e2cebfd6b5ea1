package io.spindle.transport.keyring;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Errno;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * {@code keyring_file_add_key {name, path}}, {@code keyring_file_remove_key {name}} and {@code keyring_get_keys},
 * as SPDK's {@code module/keyring/file}: errors are SPDK's negative errno (-17 name in use, -22 relative path,
 * -1 a file group or others may access) with the rule in the error's data.
 */
public final class KeyringRpc implements RpcMethodProvider {
    /** ServiceLoader. */
    public KeyringRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.always("keyring_file_add_key", KeyringRpc::add),
                RpcMethod.always("keyring_file_remove_key", KeyringRpc::remove),
                RpcMethod.always("keyring_get_keys", KeyringRpc::get));
    }

    static Keyring keyring(RpcCall c) throws RpcException {
        try {
            return KeyringSubsystem.of(c.spindle());
        } catch (IllegalArgumentException e) {
            throw RpcException.errno(Errno.ENODEV, "no keyring subsystem in this Spindle");
        }
    }

    private static CompletionStage<?> add(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        String path = p.string("path");
        p.end();
        try {
            keyring(c).add(name, Path.of(path));
        } catch (Keyring.KeyringException e) {
            throw RpcException.errno(e.errno(), e.getMessage());
        }
        return CompletableFuture.completedFuture(Boolean.TRUE);
    }

    private static CompletionStage<?> remove(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        try {
            keyring(c).remove(name);
        } catch (Keyring.KeyringException e) {
            throw RpcException.errno(e.errno(), e.getMessage());
        }
        return CompletableFuture.completedFuture(Boolean.TRUE);
    }

    private static CompletionStage<?> get(RpcCall c) throws RpcException {
        c.params().end();
        ArrayNode arr = JsonNodeFactory.instance.arrayNode();
        for (Keyring.Key k : keyring(c).keys()) {
            ObjectNode o = arr.addObject();
            o.put("name", k.name());
            o.put("removed", false);
            o.put("probed", false);
            o.put("refcnt", 1);
            o.put("module", "keyring_file");
            o.put("path", k.path().toString());
        }
        return CompletableFuture.completedFuture(arr);
    }
}
