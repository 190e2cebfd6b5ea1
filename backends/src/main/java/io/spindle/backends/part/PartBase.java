package io.spindle.backends.part;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.runtime.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The base bdev of a set of partitions (SPDK's {@code spdk_bdev_part_base}, {@code lib/bdev/part.c}): one descriptor
 * of the base, opened read-only and upgraded to the one writer by a v1 module claim when the first {@link Part} is
 * constructed; every part shares that descriptor and that claim ({@link #ref} counts the parts). The split and
 * error modules are built on it.
 *
 * <p><b>Life.</b> {@link #construct} opens the base; parts register on it; a REMOVE of the base calls the module's
 * remove callback (normally {@link #hotremove}, which unregisters every part); when the last part is destructed the
 * claim is released, the descriptor closed and the module's free callback runs (SPDK's {@code base_free_fn}: the
 * split and error modules drop their configuration there). A base that never got a part is freed by
 * {@link #free}.
 *
 * <p><b>Threads.</b> Everything here runs on the app thread (reactor 0), where the descriptor was opened.
 */
public final class PartBase {
    private static final Logger LOG = LoggerFactory.getLogger(PartBase.class);

    final BdevLayer layer;
    final BdevModule module;
    final Bdev bdev;
    final BdevDescriptor desc;
    final List<Part> parts = new ArrayList<>();
    private final Consumer<PartBase> removeCallback;
    private final Runnable freeCallback;
    int ref;
    boolean claimed;
    private boolean freed;

    private PartBase(BdevLayer layer, BdevModule module, Bdev bdev, BdevDescriptor desc, Consumer<PartBase> removeCallback,
                     Runnable freeCallback) {
        this.layer = layer;
        this.module = module;
        this.bdev = bdev;
        this.desc = desc;
        this.removeCallback = removeCallback;
        this.freeCallback = freeCallback;
    }

    /**
     * SPDK's {@code spdk_bdev_part_base_construct_ext}: opens {@code baseName} read-only on the app thread.
     *
     * @param removeCallback called on the base's REMOVE (usually {@code PartBase::hotremove})
     * @param freeCallback   called once the base is freed (after its last part, or by {@link #free})
     * @throws io.spindle.bdev.BdevException ENODEV when the base does not exist (the caller defers), others from open
     */
    public static PartBase construct(BdevLayer layer, String baseName, BdevModule module, Consumer<PartBase> removeCallback,
                                     Runnable freeCallback) {
        PartBase[] self = new PartBase[1];
        BdevDescriptor d = layer.open(baseName, false, (event, b, desc) -> {
            if (event == BdevEvent.REMOVE && self[0] != null) {
                self[0].removeCallback.accept(self[0]);
            }
        });
        PartBase pb = new PartBase(layer, module, d.bdev(), d, removeCallback, freeCallback);
        self[0] = pb;
        return pb;
    }

    /** The bdev layer. */
    public BdevLayer layer() {
        return layer;
    }

    /** The base bdev. */
    public Bdev bdev() {
        return bdev;
    }

    /** The shared descriptor of the base (writable once claimed). */
    public BdevDescriptor desc() {
        return desc;
    }

    /** The parts constructed on this base and not yet destructed, in construction order. App thread. */
    public List<Part> parts() {
        return List.copyOf(parts);
    }

    /** Number of parts holding the claim (SPDK's {@code base->ref}). App thread. */
    public int ref() {
        return ref;
    }

    /** Whether the base is claimed (by the first part). App thread. */
    public boolean claimed() {
        return claimed;
    }

    /** SPDK's {@code spdk_bdev_part_base_hotremove}: unregisters every part of this base. App thread. */
    public void hotremove() {
        for (Part p : List.copyOf(parts)) {
            layer.unregister(p.name()).whenComplete((st, err) -> {
                if (st != null && st != Errno.OK && st != Errno.EBUSY) {
                    LOG.warn("part {}: unregister on removal of {} answered {}", p.name(), bdev.name(), Errno.name(st));
                }
            });
        }
    }

    /** SPDK's {@code spdk_bdev_part_base_free}: closes the descriptor and calls the free callback; once. App thread. */
    public void free() {
        if (freed) {
            return;
        }
        freed = true;
        if (claimed) {
            layer.releaseBdev(bdev, module);
            claimed = false;
        }
        desc.close();
        freeCallback.run();
    }

    /** Whether {@link #free} ran. */
    public boolean isFreed() {
        return freed;
    }

    /** A part was destructed (SPDK's {@code bdev_part_free_cb}): the last one releases the claim and frees the base. */
    void partGone(Part p) {
        parts.remove(p);
        if (--ref == 0) {
            free();
        }
    }
}
