package io.spindle.bdev.spi;

import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.ReactorGroup;

/**
 * Given to {@link BdevDriver#start} on the bdev's actor. An io_device registered here is a child of the
 * bdev's actor: the bdev's unregister waits until every one of its channels has been destroyed on its own
 * reactor before it calls {@link BdevDriver#destruct} (the rule that rules out SPDK issue #3252).
 *
 * <p>Valid only during {@link BdevDriver#start}: {@link #registerIoDevice} afterwards throws
 * {@link IllegalStateException} naming the rule. Channels of devices registered elsewhere (a module-wide device
 * of the module's own actor) that the bdev channel gets in {@code createChannel} and puts in
 * {@code destroyChannel} are waited for as well (see {@link io.spindle.runtime.IoChannel}).
 */
public interface BdevContext {
    /** The bdev being registered. */
    BdevView bdev();

    /** The reactors. */
    ReactorGroup reactors();

    /**
     * Registers a module io_device owned by the bdev's actor. Call only inside {@link BdevDriver#start}, on its thread.
     *
     * @throws IllegalStateException after {@link BdevDriver#start} returned
     */
    <C> IoDevice<C> registerIoDevice(String name, ChannelFactory<C> factory);
}
