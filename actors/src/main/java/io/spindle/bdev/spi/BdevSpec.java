package io.spindle.bdev.spi;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * What a module registers: the bdev's identity, geometry and limits, and its driver. SPDK's fields of
 * {@code struct spdk_bdev}. Validated at register (name, block size a power of two of at least 512, block
 * count above zero, alignment a power of two). Immutable.
 */
public final class BdevSpec {
    final String name;
    final String productName;
    final int blockSize;
    final long numBlocks;
    final UUID uuid;
    final List<String> aliases;
    final long optimalIoBoundary;
    final long maxRwSize;
    final int requiredAlignment;
    final boolean writeCache;
    final int resetIoDrainTimeout;
    final BdevModule module;
    final BdevDriver<?> driver;

    private BdevSpec(Builder b) {
        this.name = b.name;
        this.productName = b.productName;
        this.blockSize = b.blockSize;
        this.numBlocks = b.numBlocks;
        this.uuid = b.uuid;
        this.aliases = List.copyOf(b.aliases);
        this.optimalIoBoundary = b.optimalIoBoundary;
        this.maxRwSize = b.maxRwSize;
        this.requiredAlignment = b.requiredAlignment;
        this.writeCache = b.writeCache;
        this.resetIoDrainTimeout = b.resetIoDrainTimeout;
        this.module = b.module;
        this.driver = b.driver;
    }

    /** A builder for a bdev of {@code module} served by {@code driver}. */
    public static Builder builder(BdevModule module, BdevDriver<?> driver) {
        return new Builder(module, driver);
    }

    /** Name. */
    public String name() {
        return name;
    }

    /** Product name, e.g. {@code Malloc disk}. */
    public String productName() {
        return productName;
    }

    /** Block size in bytes. */
    public int blockSize() {
        return blockSize;
    }

    /** Block count. */
    public long numBlocks() {
        return numBlocks;
    }

    /** UUID, or null to have one generated. */
    public UUID uuid() {
        return uuid;
    }

    /** Extra names. */
    public List<String> aliases() {
        return aliases;
    }

    /** Split I/O at multiples of this many blocks (0 = never). */
    public long optimalIoBoundary() {
        return optimalIoBoundary;
    }

    /** Largest read/write in blocks (0 = unlimited). */
    public long maxRwSize() {
        return maxRwSize;
    }

    /** Data buffers must be aligned to this many bytes; misaligned ones are bounced (1 = any). */
    public int requiredAlignment() {
        return requiredAlignment;
    }

    /** Whether the device has a volatile write cache (flush matters). */
    public boolean writeCache() {
        return writeCache;
    }

    /**
     * Seconds a reset waits for the I/O outstanding on every channel to complete before it is sent to the
     * module (SPDK's {@code reset_io_drain_timeout}): when everything completes in time, the module is not reset
     * at all; 0 (the default) sends the reset at once, without waiting.
     */
    public int resetIoDrainTimeout() {
        return resetIoDrainTimeout;
    }

    /** The owning module. */
    public BdevModule module() {
        return module;
    }

    /** The driver. */
    public BdevDriver<?> driver() {
        return driver;
    }

    /** Mutable builder. */
    public static final class Builder {
        private final BdevModule module;
        private final BdevDriver<?> driver;
        private String name;
        private String productName = "bdev";
        private int blockSize;
        private long numBlocks;
        private UUID uuid;
        private final List<String> aliases = new ArrayList<>();
        private long optimalIoBoundary;
        private long maxRwSize;
        private int requiredAlignment = 1;
        private boolean writeCache;
        private int resetIoDrainTimeout;

        private Builder(BdevModule module, BdevDriver<?> driver) {
            this.module = Objects.requireNonNull(module, "module");
            this.driver = Objects.requireNonNull(driver, "driver");
        }

        /** Name (required). */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** Product name. */
        public Builder productName(String productName) {
            this.productName = Objects.requireNonNull(productName, "productName");
            return this;
        }

        /** Block size in bytes. */
        public Builder blockSize(int blockSize) {
            this.blockSize = blockSize;
            return this;
        }

        /** Block count. */
        public Builder numBlocks(long numBlocks) {
            this.numBlocks = numBlocks;
            return this;
        }

        /** UUID (null: generated at register). */
        public Builder uuid(UUID uuid) {
            this.uuid = uuid;
            return this;
        }

        /** Adds an alias. */
        public Builder alias(String alias) {
            this.aliases.add(Objects.requireNonNull(alias, "alias"));
            return this;
        }

        /** Optimal I/O boundary in blocks (0 = none). */
        public Builder optimalIoBoundary(long blocks) {
            this.optimalIoBoundary = blocks;
            return this;
        }

        /** Max read/write size in blocks (0 = unlimited). */
        public Builder maxRwSize(long blocks) {
            this.maxRwSize = blocks;
            return this;
        }

        /** Required buffer alignment in bytes. */
        public Builder requiredAlignment(int bytes) {
            this.requiredAlignment = bytes;
            return this;
        }

        /** Volatile write cache present. */
        public Builder writeCache(boolean writeCache) {
            this.writeCache = writeCache;
            return this;
        }

        /**
         * Reset drain timeout in seconds, 0 to 65535 (SPDK's {@code reset_io_drain_timeout}, a {@code uint16_t};
         * SPDK recommends 5 for a bdev that shares its device with others, as lvols do). 0: no drain.
         */
        public Builder resetIoDrainTimeout(int seconds) {
            this.resetIoDrainTimeout = seconds;
            return this;
        }

        /** The spec; validated when registered. */
        public BdevSpec build() {
            return new BdevSpec(this);
        }
    }

    /**
     * Checks the spec; {@code null} when valid, else a message naming the field and the bound.
     */
    public String validate() {
        if (name == null || name.isBlank()) {
            return "name: must not be empty";
        }
        if (blockSize < 512 || Integer.bitCount(blockSize) != 1) {
            return "block_size=" + blockSize + ": must be a power of two >= 512";
        }
        if (numBlocks <= 0) {
            return "num_blocks=" + numBlocks + ": must be > 0";
        }
        if (Long.MAX_VALUE / blockSize < numBlocks) {
            return "num_blocks=" + numBlocks + ": size overflows 2^63 bytes at block_size=" + blockSize;
        }
        if (optimalIoBoundary < 0) {
            return "optimal_io_boundary=" + optimalIoBoundary + ": must be >= 0";
        }
        if (maxRwSize < 0) {
            return "max_rw_size=" + maxRwSize + ": must be >= 0";
        }
        if (requiredAlignment < 1 || Integer.bitCount(requiredAlignment) != 1 || requiredAlignment > 4096) {
            return "required_alignment=" + requiredAlignment + ": must be a power of two between 1 and 4096";
        }
        if (resetIoDrainTimeout < 0 || resetIoDrainTimeout > 0xFFFF) {
            return "reset_io_drain_timeout=" + resetIoDrainTimeout + ": must be between 0 and 65535 seconds";
        }
        return null;
    }
}
