package io.spindle.runtime;

/**
 * Creates and destroys the per-reactor context of an io_device's channel: SPDK's {@code create_cb} and
 * {@code destroy_cb}.
 *
 * <p>Both run on the channel's reactor. {@link #create} may get channels of other io_devices (nested
 * channels); {@link #destroy} must then put them. A create that throws is a failed create: the getter gets
 * {@code null} and nothing is left behind (no channel, no reference on the device).
 *
 * @param <C> the channel context type; owned by the channel's reactor
 */
public interface ChannelFactory<C> {
    /** Builds the context of a new channel of {@code device} on {@code reactor} (the current reactor). */
    C create(IoDevice<C> device, Reactor reactor) throws Exception;

    /** Releases {@code context}; runs on the channel's reactor after its last reference was put. */
    void destroy(IoDevice<C> device, Reactor reactor, C context);
}
