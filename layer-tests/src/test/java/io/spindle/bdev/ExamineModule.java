package io.spindle.bdev;

import io.spindle.bdev.spi.BdevHost;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevView;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A module that only examines (SPDK's {@code examine_claimed_mods} in {@code bdev_ut.c}): it counts its
 * {@code examine_config} and {@code examine_disk} calls and, when {@link #claimType} is set, opens the new bdev
 * read-only in {@code examine_config} and takes a v2 claim of that type through the descriptor, recording the
 * return code. Runs on the registry's reactor (reactor 0).
 */
final class ExamineModule implements BdevModule {
    private final String name;
    volatile int examineConfigCount;
    volatile int examineDiskCount;
    /** The claim to take in examine_config, or null for none. */
    volatile ClaimType claimType;
    /** What the claim returned (meaningful when {@link #desc} is not null). */
    volatile int claimRc = Integer.MIN_VALUE;
    /** The descriptor opened for the claim; the test closes it on reactor 0. */
    volatile BdevDescriptor desc;

    ExamineModule(String name) {
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void examineConfig(BdevView bdev, BdevHost host) {
        if (bdev.module() instanceof ExamineModule) {
            return;
        }
        examineConfigCount++;
        ClaimType t = claimType;
        if (t != null) {
            BdevLayer layer = BdevLayer.of(host);
            desc = layer.open(bdev.name(), false, (e, b, d) -> { });
            claimRc = layer.claimDescriptor(desc, t, 0, this);
        }
    }

    @Override
    public CompletionStage<Void> examineDisk(BdevView bdev, BdevHost host) {
        examineDiskCount++;
        return CompletableFuture.completedFuture(null);
    }

    /** Closes the claim's descriptor (call on reactor 0) and forgets the counts and the claim. */
    void reset() {
        if (desc != null) {
            desc.close();
        }
        desc = null;
        claimType = null;
        claimRc = Integer.MIN_VALUE;
        examineConfigCount = 0;
        examineDiskCount = 0;
    }
}
