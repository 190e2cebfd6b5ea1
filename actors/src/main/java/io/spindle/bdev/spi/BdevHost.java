package io.spindle.bdev.spi;

import io.spindle.runtime.ReactorGroup;

import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * The bdev layer as its modules see it: what {@link BdevModule}'s calls receive. The layer's
 * {@code io.spindle.bdev.BdevLayer} is the one implementation and the object passed is that layer itself; the SPI
 * names this interface so that it does not depend on the layer's implementation package (SPDK's
 * {@code bdev_module.h} beside {@code bdev.h}).
 *
 * <p>It has the calls a module makes about bdevs as a whole: look one up, register, unregister, resize, notify. A
 * module that is also a <em>client</em> of other bdevs (a virtual bdev that opens, claims and forwards I/O to its
 * base) uses the layer's public API for that: {@code BdevLayer.of(host)} gives the same object as a
 * {@code BdevLayer}, with {@code open}, {@code claimBdev} and {@code claimDescriptor}, and {@code layer.bdev(view)}
 * a {@link BdevView} as the layer's {@code Bdev}.
 *
 * <p><b>Threads.</b> Lookups are thread-safe; the asynchronous calls may be made from any thread and their stages
 * complete on the registry's reactor (reactor 0), where module calls run.
 */
public interface BdevHost {
    /** The reactors. */
    ReactorGroup reactors();

    /**
     * Where modules run control work that may block or take long (allocating and zeroing memory, file system
     * calls): never a reactor, never the RPC server's actor.
     */
    Executor blockingExecutor();

    /** The modules, in load order. */
    List<BdevModule> modules();

    /** The module of class {@code type}; {@link IllegalArgumentException} when none is loaded. */
    <M extends BdevModule> M module(Class<M> type);

    /** The bdev named {@code name} (a name, an alias or a UUID), or null (also while it is still registering). */
    BdevView get(String name);

    /** Every registered bdev, in registration order. */
    List<? extends BdevView> bdevs();

    /**
     * Registers a bdev; the stage fails with the layer's {@code BdevException} (EINVAL naming the bad field, EEXIST
     * for a name, alias or UUID in use).
     */
    CompletionStage<? extends BdevView> register(BdevSpec spec);

    /** Unregisters a bdev: 0 after destruct, ENODEV for an unknown name, EBUSY when one is already under way. */
    CompletionStage<Integer> unregister(String name);

    /**
     * Changes the block count of {@code name} if its module accepts it ({@link BdevDriver#acceptResize}): 0, the
     * module's errno, EBUSY when shrinking under open descriptors, EINVAL below 1, ENODEV for an unknown bdev.
     */
    CompletionStage<Integer> resize(String name, long numBlocks);

    /** Sends MEDIA_MANAGEMENT to every open descriptor of {@code name}; 0 or ENODEV. */
    CompletionStage<Integer> notifyMediaManagement(String name);
}
