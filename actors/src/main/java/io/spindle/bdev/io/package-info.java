/**
 * The values of an I/O that both sides of the bdev layer use: {@link io.spindle.bdev.io.IoType} (SPDK's
 * {@code spdk_bdev_io_type}) and {@link io.spindle.bdev.io.IoStatus} (SPDK's {@code spdk_bdev_io_status}).
 * Applications pass and receive them through {@code io.spindle.bdev}; modules through {@code io.spindle.bdev.spi}.
 * They depend on nothing else, so neither package reaches the other through them.
 */
package io.spindle.bdev.io;
