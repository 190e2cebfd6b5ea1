package io.spindle.rpc.spi;

/**
 * The RPC state of a Spindle instance: SPDK's {@code SPDK_RPC_STARTUP} and {@code SPDK_RPC_RUNTIME}.
 *
 * <p>A target started with {@code --wait-for-rpc} (or a config with
 * {@link io.spindle.app.SpindleConfig.Builder#waitForStartInit(boolean)}) is in {@link #STARTUP} until
 * {@code framework_start_init}: the RPC server answers, but no subsystem has been initialised yet, so only
 * methods allowed in STARTUP (options that must be set before init, {@code framework_start_init} itself, and the
 * state-independent ones) may be called. Every other Spindle is in {@link #RUNTIME} once started.
 */
public enum RpcState {
    /** Before {@code framework_start_init}: subsystems not initialised. */
    STARTUP,
    /** Subsystems initialised. */
    RUNTIME
}
