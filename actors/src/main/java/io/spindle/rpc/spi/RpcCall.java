package io.spindle.rpc.spi;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.app.Spindle;

import java.util.concurrent.Executor;

/**
 * What a {@link RpcHandler} gets for one call. Valid for the duration of the call; do not keep it.
 */
public interface RpcCall {
    /** The method name. */
    String method();

    /** The parameters, with SPDK's strict decoding (unknown keys are refused by {@link RpcParams#end()}). */
    RpcParams params();

    /** The Spindle instance the call is served by. */
    Spindle spindle();

    /** The dispatcher serving the call (its method table). */
    io.spindle.rpc.RpcDispatcher dispatcher();

    /** The shared mapper, for building results. */
    ObjectMapper json();

    /**
     * An executor on an ordinary dispatcher thread: continue a stage there ({@code thenApplyAsync(f, executor())})
     * when it may complete on a reactor, so JSON is never built on a reactor thread.
     */
    Executor executor();

    /**
     * Runs {@code action} once this call's response has been handed to the connection (or, in-process, once the
     * result was delivered): {@code spdk_kill_instance} stops Spindle only after its {@code true} is on its way.
     */
    void afterResponse(Runnable action);
}
