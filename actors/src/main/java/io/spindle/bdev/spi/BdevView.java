package io.spindle.bdev.spi;

import io.spindle.bdev.io.IoType;

import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * What a module sees of a registered bdev: its identity, geometry and accepted I/O types (SPDK's fields of
 * {@code struct spdk_bdev} a module reads). The bdev layer's {@code io.spindle.bdev.Bdev} is the one implementation,
 * and the object a module gets here (in {@link BdevDriver#createChannel}, {@link ModuleIo#bdev()},
 * {@link BdevModule#examineDisk}, ...) is that bdev itself, not a copy: the SPI names this interface so that it does
 * not depend on the layer's implementation package. A module that also uses the bdev as a client (claims it, resizes
 * this very bdev) gets it back as the layer's bdev with {@code BdevLayer.of(host).bdev(view)}: the same object.
 *
 * <p>Thread-safe to read from anywhere. Everything but {@link #numBlocks()} (changed by a resize) and the claim is
 * fixed at register.
 */
public interface BdevView {
    /** The name. */
    String name();

    /** Aliases; the UUID's text is always one of them. */
    List<String> aliases();

    /** The UUID (generated at register when the module gave none). */
    UUID uuid();

    /** Product name, e.g. {@code Malloc disk}. */
    String productName();

    /** Block size in bytes. */
    int blockSize();

    /** Block count; changes only by a resize the module accepted ({@link BdevDriver#acceptResize}). */
    long numBlocks();

    /** Size in bytes. */
    long sizeBytes();

    /** Split boundary in blocks (0 = none). */
    long optimalIoBoundary();

    /** Largest read/write in blocks (0 = unlimited); larger I/O is split by the layer. */
    long maxRwSize();

    /** Buffer alignment the module needs; misaligned buffers are bounced by the layer. */
    int requiredAlignment();

    /** Whether the device has a volatile write cache. */
    boolean writeCache();

    /** Seconds a reset waits for outstanding I/O to drain before it reaches the module (0: at once). */
    int resetIoDrainTimeout();

    /** Whether data written can be read back ({@link BdevDriver#retainsData()}). */
    boolean retainsData();

    /** The module that registered this bdev. */
    BdevModule module();

    /**
     * Whether I/O of {@code type} is accepted: natively, or emulated by the layer (WRITE_ZEROES with writes,
     * COMPARE with a read): SPDK's {@code spdk_bdev_io_type_supported}.
     */
    boolean supports(IoType type);

    /** Types the module handles itself ({@link BdevDriver#supports}, sampled at register). */
    Set<IoType> nativeIoTypes();

    /** Whether a module holds a claim on the bdev. */
    boolean claimed();

    /** The module holding the claim on the bdev (v1, or the first v2 claimer), or null. */
    BdevModule claimModule();
}
