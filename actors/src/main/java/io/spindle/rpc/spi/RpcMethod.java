package io.spindle.rpc.spi;

import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * One JSON-RPC method: its SPDK name, the states it may be called in, and its handler.
 *
 * @param name    the method name, as SPDK spells it ({@code bdev_malloc_create})
 * @param states  the {@link RpcState}s it may be called in; outside them the call is answered with
 *                {@code -1} (SPDK's INVALID_STATE) and a message saying when it may be called
 * @param handler the body
 */
public record RpcMethod(String name, Set<RpcState> states, RpcHandler handler) {
    /** Validates the record. */
    public RpcMethod {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(handler, "handler");
        if (!name.matches("[a-z][a-z0-9_]*")) {
            throw new IllegalArgumentException("rpc method name=" + name + ": must be lower-case letters, digits and '_'");
        }
        if (states == null || states.isEmpty()) {
            throw new IllegalArgumentException("rpc method name=" + name + ": states must not be empty");
        }
        states = Set.copyOf(states);
    }

    /** A method callable only once the subsystems are initialised (most methods). */
    public static RpcMethod runtime(String name, RpcHandler handler) {
        return new RpcMethod(name, EnumSet.of(RpcState.RUNTIME), handler);
    }

    /** A method callable only before {@code framework_start_init} (options read at subsystem init). */
    public static RpcMethod startup(String name, RpcHandler handler) {
        return new RpcMethod(name, EnumSet.of(RpcState.STARTUP), handler);
    }

    /** A method callable in every state. */
    public static RpcMethod always(String name, RpcHandler handler) {
        return new RpcMethod(name, EnumSet.allOf(RpcState.class), handler);
    }
}
