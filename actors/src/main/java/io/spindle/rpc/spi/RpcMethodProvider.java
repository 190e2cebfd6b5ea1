package io.spindle.rpc.spi;

import java.util.List;

/**
 * Contributes JSON-RPC methods: each bdev module (and any other part of Spindle) brings its own, so a new module
 * adds {@code bdev_<name>_create} and friends without touching the server.
 *
 * <p>Found with {@link java.util.ServiceLoader}: list the implementing class in
 * {@code META-INF/services/io.spindle.rpc.spi.RpcMethodProvider}. It must be public with a public no-argument
 * constructor. {@link #methods()} is called once per dispatcher (one per running Spindle); method names must
 * be unique across all providers, or the dispatcher refuses to start and names both providers.
 *
 * <p>A minimal provider, as the null module writes it:
 * <pre>{@code
 * public final class NullRpc implements RpcMethodProvider {
 *     public List<RpcMethod> methods() {
 *         return List.of(RpcMethod.runtime("bdev_null_delete", call -> {
 *             String name = call.params().string("name");
 *             call.params().end();
 *             return ...; // a CompletionStage<Boolean>
 *         }));
 *     }
 * }
 * }</pre>
 */
public interface RpcMethodProvider {
    /** The methods; called once per dispatcher, on any thread. */
    List<RpcMethod> methods();
}
