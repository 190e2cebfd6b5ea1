package io.spindle.bdev;

/**
 * Options of the bdev layer, read once at the bdev subsystem's init: SPDK's {@code spdk_bdev_opts}, set with
 * {@code bdev_set_options} before {@code framework_start_init} or with
 * {@link BdevSubsystem#options(BdevOptions)}. Immutable.
 *
 * <p>Spindle has no global {@code bdev_io} pool: each reactor preallocates its own {@link #ioPoolSize()} I/O
 * objects (submits past them return ENOMEM and use the io_wait protocol). SPDK's {@code bdev_io_pool_size} is
 * the total over the reactors, so {@code bdev_set_options} divides it by the reactor count.
 *
 * @param ioPoolSize          I/O objects preallocated per reactor (16 to 1048576)
 * @param ioCacheSize         SPDK's per-thread cache size; kept and written back by {@code save_config}, and
 *                            checked as SPDK checks it (the pool must hold a cache per reactor)
 * @param autoExamine         whether modules examine every new bdev; when false only bdevs named by
 *                            {@code bdev_examine} are examined
 * @param iobufSmallCacheSize small I/O buffers each reactor keeps for reuse
 * @param iobufLargeCacheSize large I/O buffers each reactor keeps for reuse
 */
public record BdevOptions(int ioPoolSize, int ioCacheSize, boolean autoExamine, int iobufSmallCacheSize, int iobufLargeCacheSize) {
    /** SPDK's default {@code bdev_io_cache_size}. */
    public static final int DEFAULT_IO_CACHE_SIZE = 256;

    /** Validates. */
    public BdevOptions {
        if (ioPoolSize < 16 || ioPoolSize > 1 << 20) {
            throw new IllegalArgumentException("spindle.bdev.io-pool-size=" + ioPoolSize + ": must be between 16 and 1048576");
        }
        if (ioCacheSize < 0) {
            throw new IllegalArgumentException("bdev_io_cache_size=" + ioCacheSize + ": must be >= 0");
        }
        if (iobufSmallCacheSize < 0 || iobufSmallCacheSize > 1 << 16) {
            throw new IllegalArgumentException("iobuf_small_cache_size=" + iobufSmallCacheSize + ": must be between 0 and 65536");
        }
        if (iobufLargeCacheSize < 0 || iobufLargeCacheSize > 1 << 12) {
            throw new IllegalArgumentException("iobuf_large_cache_size=" + iobufLargeCacheSize + ": must be between 0 and 4096");
        }
    }

    /** The defaults with {@code ioPoolSize} I/O objects per reactor. */
    public static BdevOptions defaults(int ioPoolSize) {
        return new BdevOptions(ioPoolSize, DEFAULT_IO_CACHE_SIZE, true, 128, 16);
    }

    /** A copy with another per-reactor pool size. */
    public BdevOptions withIoPoolSize(int n) {
        return new BdevOptions(n, ioCacheSize, autoExamine, iobufSmallCacheSize, iobufLargeCacheSize);
    }
}
