package io.spindle.bdev.spi;

import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Reactor;

import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * What a module implements for each bdev it registers: SPDK's {@code spdk_bdev_fn_table}.
 *
 * <p><b>Threads.</b> {@link #createChannel} and {@link #destroyChannel} run on the channel's reactor;
 * {@link #submit} runs on the reactor of the submitting channel and the module completes the I/O on that
 * same reactor (now, or later from a poller or message). {@link #start} and {@link #destruct} run on the
 * bdev's actor. {@link #destruct} runs only after every channel of the bdev, every channel of every
 * io_device the driver registered through {@link BdevContext}, and every channel that {@link #createChannel} got
 * and {@link #destroyChannel} put (whoever registered its device) has been destroyed on its own reactor.
 *
 * @param <C> the module's per-reactor channel context
 */
public interface BdevDriver<C> {
    /** Whether the module handles {@code type} natively; sampled once at register. */
    boolean supports(IoType type);

    /**
     * Called on the bdev's actor before the bdev becomes visible: register module io_devices here (they
     * become children of the bdev's actor).
     */
    default void start(BdevContext context) {
    }

    /**
     * Creates this reactor's channel context (may get channels of module io_devices). Bdevs whose I/O shares one
     * device queue may return the same object on a reactor (SPDK: one {@code spdk_io_channel} for several
     * bdevs): their NOMEM-queued I/O then wait in one queue and retry when I/O of any of them completes (SPDK's
     * {@code spdk_bdev_shared_resource}). It is then handed to {@link #destroyChannel} once per bdev.
     */
    C createChannel(BdevView bdev, Reactor reactor) throws Exception;

    /**
     * Destroys a channel context (put any module channels it holds). A module that still holds I/O submitted on
     * this channel must complete each of them here (performed, or {@link io.spindle.bdev.io.IoStatus#ABORTED}); the
     * layer merges the channel's stats after this returns.
     */
    void destroyChannel(BdevView bdev, Reactor reactor, C channel);

    /**
     * Starts {@code io}; complete it exactly once with {@link ModuleIo#complete}. A completion from inside this
     * call is deferred by the bdev layer to the next reactor loop. Completing with
     * {@link io.spindle.bdev.io.IoStatus#NOMEM} makes the layer requeue and retry it.
     */
    void submit(ModuleIo io, C channel);

    /**
     * The module's resize capability: whether this bdev's block count may become {@code newNumBlocks}. Every
     * resize, whoever asks for it ({@link BdevHost#resize}, a JSON-RPC method, another module
     * such as a stacked bdev following its base), reaches this method before the count changes; nothing changes
     * the count without it.
     *
     * <p>Return 0 to accept: the module's backing store already holds {@code newNumBlocks} blocks (a module whose
     * store must grow first, e.g. a file to extend, does that before it asks the layer to resize, off the
     * reactors). Return a negative errno to refuse; the caller of the resize gets it. The default refuses with
     * {@link io.spindle.runtime.Errno#ENOTSUP}: a bdev's size is fixed unless its module says otherwise. Modules
     * that can resize document their rule, e.g. {@code EINVAL} for a count beyond what they can hold, or a shrink
     * they do not allow (the null module only grows, as SPDK's).
     *
     * <p>This is a check, not an action: it must have no side effect, because the layer may still refuse
     * afterwards ({@code EBUSY} when shrinking under open descriptors). The layer has already refused counts
     * below 1 ({@code EINVAL}) and bdevs that are not READY ({@code ENODEV}). Runs on the bdev's actor, one resize
     * at a time, never on the I/O path; it must not block nor call back into the bdev layer synchronously. A
     * method that throws refuses the resize with {@code EIO} (logged).
     *
     * <p>The check is the first line of defence; the second is the module's own: a copy path (a RAM disk's memcpy,
     * a mapped file's) checks each I/O's range against what the module allocated, and fails the I/O (an error
     * status) rather than touch memory it does not own, whatever the layer let through.
     *
     * @param bdev         the bdev (its {@link BdevView#numBlocks()} is the current count)
     * @param newNumBlocks the requested count, at least 1
     * @return 0 to accept, or a negative errno to refuse
     */
    default int acceptResize(BdevView bdev, long newNumBlocks) {
        return io.spindle.runtime.Errno.ENOTSUP;
    }

    /** Frees the bdev's module state; may finish asynchronously (SPDK's destruct returning 1). */
    CompletionStage<Void> destruct();

    /**
     * Whether data written can be read back. False for modules that discard writes (the null module), so
     * tools that verify data (bdevperf's {@code verify}) can say so instead of reporting a miscompare.
     */
    default boolean retainsData() {
        return true;
    }

    /** Module-specific information for {@code bdev_get_bdevs}' {@code driver_specific}. */
    default Map<String, Object> driverSpecific() {
        return Map.of();
    }

    /**
     * Writes this bdev's module-specific information into {@code driverSpecific} (SPDK's
     * {@code dump_info_json}); the default copies {@link #driverSpecific()}.
     */
    default void dumpInfo(com.fasterxml.jackson.databind.node.ObjectNode driverSpecific) {
        for (Map.Entry<String, Object> e : driverSpecific().entrySet()) {
            driverSpecific.putPOJO(e.getKey(), e.getValue());
        }
    }

    /**
     * Whether {@link #dumpInfo}'s object is written as a one-element array under the module's name, as SPDK's
     * {@code bdev_nvme} writes {@code driver_specific.nvme} (one element per path). Default false: the object itself.
     */
    default boolean dumpInfoAsArray() {
        return false;
    }

    /**
     * Names of the bdevs this bdev is built on (a virtual bdev's bases: SPDK has no such call, its
     * {@code save_config} relies on deferred creation alone). {@code save_config} writes this bdev's
     * {@link #writeConfig} after theirs, so a replay creates every base before what stacks on it. Empty (the default)
     * for a bdev on a device. Called on any thread ({@code save_config} runs on the RPC dispatcher).
     */
    default java.util.List<String> baseBdevs() {
        return java.util.List.of();
    }

    /**
     * The JSON-RPC call that recreates this bdev, {@code {"method": ..., "params": {...}}} (SPDK's
     * {@code write_config_json}), or null when the bdev is not recreated from configuration.
     */
    default com.fasterxml.jackson.databind.node.ObjectNode writeConfig(BdevView bdev) {
        return null;
    }
}
