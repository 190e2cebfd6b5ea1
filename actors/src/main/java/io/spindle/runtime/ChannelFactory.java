package io.spindle.runtime;

/**
 * Creates and destroys the per-reactor context of an io_device's channel: SPDK's {@code create_cb} and
 * {@code destroy_cb}.
 *
 * <p>Both run on the channel's reactor. {@link #create} may get channels of other io_devices (nested
 * channels); {@link #destroy} must then put them. Those puts are waited for: this channel counts as destroyed,
 * and its device's unregister can complete, only once each nested channel it put was destroyed or found still
 * held by another holder (see {@link IoChannel}). A nested channel got in create and not put in destroy is logged
 * as an error and not waited for. A create that throws is a failed create: nothing of
 * <em>this</em> device is left behind (no channel, no reference on the device), {@link IoDevice#getChannel()}
 * returns {@code null} and logs the exception, {@link IoDevice#getChannelOrThrow()} throws an
 * {@link IoChannelException} whose cause is the exception.
 *
 * <p><b>A create that fails after getting nested channels must put them back before it throws</b>, as an
 * SPDK {@code create_cb} that fails releases what it acquired. The runtime does not do it for you: it cannot
 * tell a reference the create still holds from one it already put or handed on, and a put it guessed wrong
 * would destroy a channel someone else uses. A nested channel that is not put back stays alive and shows in
 * its reactor's leak report ({@code io_channel <name> refs=<n>}).
 * <pre>{@code
 * public Ctx create(IoDevice<Ctx> device, Reactor reactor) {
 *     IoChannel<Base> base = baseDevice.getChannelOrThrow(); // a failure here propagates with its errno
 *     try {
 *         return new Ctx(base, openQueue(reactor));            // may throw
 *     } catch (RuntimeException e) {
 *         base.put();                                           // give back what this create got
 *         throw e;
 *     }
 * }
 * }</pre>
 *
 * @param <C> the channel context type; owned by the channel's reactor
 */
public interface ChannelFactory<C> {
    /** Builds the context of a new channel of {@code device} on {@code reactor} (the current reactor). */
    C create(IoDevice<C> device, Reactor reactor) throws Exception;

    /** Releases {@code context}; runs on the channel's reactor after its last reference was put. */
    void destroy(IoDevice<C> device, Reactor reactor, C context);
}
