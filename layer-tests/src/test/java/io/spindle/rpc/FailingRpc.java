package io.spindle.rpc;

import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Test-only methods whose handlers fail in the ways a module's could by mistake, so that the server's
 * -32603 (Internal error) path is exercised: registered through this test tree's
 * {@code META-INF/services/io.spindle.rpc.spi.RpcMethodProvider}, as any module registers its methods.
 */
public final class FailingRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public FailingRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(
                RpcMethod.always("spindle_test_throw", c -> {
                    c.params().end();
                    throw new IllegalStateException("handler bug");
                }),
                RpcMethod.always("spindle_test_fail_stage", c -> CompletableFuture.failedFuture(new ArithmeticException("stage bug"))),
                RpcMethod.always("spindle_test_null_stage", c -> null),
                RpcMethod.always("spindle_test_unserialisable", c -> CompletableFuture.completedFuture(new Object() {
                    @SuppressWarnings("unused")
                    public Object getSelf() {
                        throw new IllegalStateException("cannot serialise");
                    }
                })));
    }
}
