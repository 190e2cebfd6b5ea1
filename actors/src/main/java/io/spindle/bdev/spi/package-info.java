/**
 * The bdev module contract (SPDK's {@code bdev_module.h}): what a module implements ({@link
 * io.spindle.bdev.spi.BdevModule}, {@link io.spindle.bdev.spi.BdevDriver}), what it registers ({@link
 * io.spindle.bdev.spi.BdevSpec}) and what it is given ({@link io.spindle.bdev.spi.BdevHost} for the layer,
 * {@link io.spindle.bdev.spi.BdevView} for a bdev, {@link io.spindle.bdev.spi.ModuleIo} for an I/O,
 * {@link io.spindle.bdev.spi.BdevContext} at a bdev's start).
 *
 * <p>It depends on {@code io.spindle.runtime} and {@code io.spindle.bdev.io} only, never on the layer's
 * implementation package {@code io.spindle.bdev}, which implements these interfaces ({@code SpiPackageTest} checks
 * it). A module that also uses other bdevs as a client (opens, claims, forwards I/O) uses {@code io.spindle.bdev}'s
 * public API from its own code: {@code BdevLayer.of(host)}.
 */
package io.spindle.bdev.spi;
