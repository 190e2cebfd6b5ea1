package io.spindle.app;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * A part of the app with an init and a fini step and dependencies on other subsystems: SPDK's
 * {@code spdk_subsystem} with {@code SPDK_SUBSYSTEM_DEPEND}.
 *
 * <p>Subsystems are initialised one at a time in dependency order (a subsystem after everything it
 * depends on, ties in registration order) and finished in the reverse order. {@code init} and {@code fini}
 * are called on the app actor's thread; they may finish asynchronously by completing the returned stage
 * from any thread. A failed (or exceptionally completed) init stops the start: the subsystems already
 * initialised are finished in reverse order and the start fails with a message naming this subsystem.
 * A failed fini is logged and the stop goes on.
 */
public interface Subsystem {
    /** Unique name, e.g. {@code bdev}. */
    String name();

    /** Names of the subsystems that must be initialised before this one. */
    default List<String> dependsOn() {
        return List.of();
    }

    /** Initialises the subsystem; on the app actor's thread. */
    CompletionStage<Void> init(SubsystemContext context);

    /** Finishes the subsystem: stops what it started (actors on reactors, pollers, io_devices); app thread. */
    CompletionStage<Void> fini(SubsystemContext context);

    /**
     * This subsystem's part of SPDK's {@code save_config} ({@code framework_get_config}): the
     * {@code {"method", "params"}} calls that recreate its live state, in the order they must be replayed. Any
     * thread; the default has none.
     */
    default List<ObjectNode> writeConfig() {
        return List.of();
    }

    /**
     * JSON-RPC methods this subsystem brings, served with those of every {@link io.spindle.rpc.spi.RpcMethodProvider}
     * (SPDK's {@code SPDK_RPC_REGISTER} in an application's own code: bdevperf's {@code perform_tests}). Called once per
     * dispatcher, on any thread; the names must not clash with any other method's. The default has none.
     */
    default List<io.spindle.rpc.spi.RpcMethod> rpcMethods() {
        return List.of();
    }
}
