package io.spindle.bdev;

import io.spindle.bdev.spi.BdevDriver;

/** Test access to the bdev layer's package-private parts, for module tests in other packages. */
public final class BdevTestAccess {
    private BdevTestAccess() {
    }

    /** The driver a bdev was registered with. */
    public static BdevDriver<?> driver(Bdev b) {
        return b.driver;
    }

    /** Sets a bdev's block count without asking its module: what a layer bug would do (range-check tests). */
    public static void setNumBlocks(Bdev b, long n) {
        b.setNumBlocks(n);
    }
}
