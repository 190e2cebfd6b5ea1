package io.spindle.bdev.spi;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A bdev module: SPDK's {@code spdk_bdev_module}. Found with {@link java.util.ServiceLoader} (list the class in
 * {@code META-INF/services/io.spindle.bdev.spi.BdevModule}); one instance per Spindle instance's bdev layer.
 *
 * <p>All methods run on the bdev registry's thread (reactor 0, SPDK's app thread). Asynchronous results may
 * complete on any thread. The {@link BdevHost} they receive is the bdev layer itself and each {@link BdevView} a
 * registered bdev itself (see {@link BdevHost} for a module that also opens and claims bdevs).
 */
public interface BdevModule {
    /** Unique module name, e.g. {@code malloc}; shown as a bdev's {@code product_name} owner in logs. */
    String name();

    /** Module init (before any bdev is registered); may finish asynchronously. */
    default CompletionStage<Void> init(BdevHost host) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * The start of shutdown (SPDK's {@code fini_start}), before the layer unregisters any bdev: the module lets go
     * of what it holds without a registered bdev of its own to unregister, e.g. the claimed bases of a raid that is
     * still configuring, so the layer finds those bases unclaimed. Every module's runs, in load order, each after
     * the previous one finished. None by default.
     */
    default CompletionStage<Void> finiStart(BdevHost host) {
        return CompletableFuture.completedFuture(null);
    }

    /** Module fini, after every bdev has been unregistered; may finish asynchronously. */
    default CompletionStage<Void> fini(BdevHost host) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * Looks at a newly registered bdev from configuration alone (SPDK's {@code examine_config}); may claim it.
     * Every module's runs, in load order, before any {@code examineDisk}.
     */
    default void examineConfig(BdevView bdev, BdevHost host) {
    }

    /**
     * Looks at a newly registered bdev by doing I/O (SPDK's {@code examine_disk}); completes when done. Runs for
     * every module when no module claimed the bdev in {@link #examineConfig}; otherwise only for the claiming
     * module(s).
     */
    default CompletionStage<Void> examineDisk(BdevView bdev, BdevHost host) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * The module's part of {@code save_config} that no registered bdev writes (SPDK's module {@code config_json}):
     * configuration kept for bdevs that do not exist yet, e.g. a split whose base has not registered, or module
     * options. Written after every bdev's {@link BdevDriver#writeConfig} and before {@code bdev_wait_for_examine}
     * (SPDK writes it first and relies on deferred creation; here every call still follows the calls it depends on).
     * Called on any thread ({@code save_config} runs on the RPC dispatcher). None by default.
     */
    default java.util.List<com.fasterxml.jackson.databind.node.ObjectNode> writeConfig(BdevHost host) {
        return java.util.List.of();
    }

    /**
     * Creates this module's per-I/O context (SPDK's {@code get_ctx_size}): called once for each pooled I/O when a
     * reactor's I/O pool is built (with the first bdev channel on that reactor, before it is returned), on that
     * reactor, so {@code spindle.bdev.io-pool-size} times per reactor and never on the I/O path. The context
     * belongs to that pooled I/O for the layer's life and is shared by every bdev of this module; the driver
     * reads it with {@link ModuleIo#moduleContext()} between submit and completion and must not keep it after.
     * {@code null} (the default) means none. It must not throw (the channel would not be created).
     */
    default Object newIoContext() {
        return null;
    }
}
