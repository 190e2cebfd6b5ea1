package io.spindle.rpc.spi;

import io.spindle.rpc.RpcException;

import java.util.concurrent.CompletionStage;

/**
 * The body of one JSON-RPC method.
 *
 * <p><b>Threads.</b> Called on the RPC dispatcher's thread (an ordinary Pekko dispatcher thread, never a
 * reactor); it must not block. Work on reactors or actors is started from here and its result returned as a
 * stage, which may complete on any thread.
 *
 * <p><b>Results and errors.</b> The stage's value is converted to JSON with Jackson: a {@code JsonNode},
 * {@code Boolean}, {@code String}, number, {@code List} or {@code Map}. Bad parameters are reported by throwing
 * (or failing the stage with) an {@link RpcException} with {@link RpcException#INVALID_PARAMS} whose message
 * names the field and the bound, as {@link RpcParams} does; refusals of the operation itself use SPDK's negative
 * errno codes ({@link RpcException#errno}). Any other exception is reported as
 * {@link RpcException#INTERNAL_ERROR} and logged.
 */
@FunctionalInterface
public interface RpcHandler {
    /**
     * Runs the method.
     *
     * @throws RpcException for invalid parameters or a refused operation
     */
    CompletionStage<?> call(RpcCall call) throws RpcException;
}
