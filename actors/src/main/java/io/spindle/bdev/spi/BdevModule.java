package io.spindle.bdev.spi;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A bdev module: SPDK's {@code spdk_bdev_module}. Found with {@link java.util.ServiceLoader} (list the class in
 * {@code META-INF/services/io.spindle.bdev.spi.BdevModule}); one instance per Spindle instance's bdev layer.
 *
 * <p>All methods run on the bdev registry's thread (reactor 0, SPDK's app thread). Asynchronous results may
 * complete on any thread.
 */
public interface BdevModule {
    /** Unique module name, e.g. {@code malloc}; shown as a bdev's {@code product_name} owner in logs. */
    String name();

    /** Module init (before any bdev is registered); may finish asynchronously. */
    default CompletionStage<Void> init(BdevLayer layer) {
        return CompletableFuture.completedFuture(null);
    }

    /** Module fini, after every bdev has been unregistered; may finish asynchronously. */
    default CompletionStage<Void> fini(BdevLayer layer) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * Looks at a newly registered bdev from configuration alone (SPDK's {@code examine_config}); may claim it.
     * Every module's runs, in load order, before any {@code examineDisk}.
     */
    default void examineConfig(Bdev bdev, BdevLayer layer) {
    }

    /**
     * Looks at a newly registered bdev by doing I/O (SPDK's {@code examine_disk}); completes when done. Runs for
     * every module when no module claimed the bdev in {@link #examineConfig}; otherwise only for the claiming
     * module(s).
     */
    default CompletionStage<Void> examineDisk(Bdev bdev, BdevLayer layer) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * Creates this module's per-I/O context, preallocated once with each pooled I/O of each reactor (SPDK's
     * {@code get_ctx_size}); the driver reads it with {@link ModuleIo#moduleContext()}. {@code null} (the
     * default) means none.
     */
    default Object newIoContext() {
        return null;
    }
}
