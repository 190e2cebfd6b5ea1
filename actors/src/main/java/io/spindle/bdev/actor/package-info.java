/**
 * Actor API of the bdev layer: block I/O as typed messages for ordinary actors anywhere in an ActorSystem,
 * and a {@link java.util.concurrent.CompletionStage} facade over it for plain Java.
 *
 * <ul>
 *   <li>{@link io.spindle.bdev.actor.BdevServer}: the actor. Spawn one per bdev; it opens the bdev on every
 *       reactor and serves {@code Read}, {@code Write}, {@code Flush}, {@code Unmap} and {@code WriteZeroes}
 *       there, at most {@code maxInFlight} at a time ({@code Busy} past that).</li>
 *   <li>{@link io.spindle.bdev.actor.BdevFacade}: {@code read(offset, length)} → {@code CompletionStage<byte[]>},
 *       {@code write(offset, data)} → {@code CompletionStage<Void>}, ...</li>
 * </ul>
 *
 * <p><b>Who owns the data.</b> No buffer of the server ever leaves it: the I/O itself runs on off-heap
 * {@link io.spindle.bdev.DmaBuffer}s that each reactor pools and reuses, and the API exchanges plain
 * {@code byte[]} copies.
 * <ul>
 *   <li>A {@code Write}'s {@code data} array is lent to the server from the {@code tell} until the reply
 *       arrives: the server copies it into a pooled buffer on a reactor thread, some time after the
 *       {@code tell}. Do not modify it in between (the written bytes would be undefined); afterwards it is
 *       yours again.</li>
 *   <li>A read reply's {@code data} array is a fresh copy that belongs to the receiver: nothing else refers
 *       to it, it needs no release, keep or modify it at will.</li>
 * </ul>
 *
 * <p><b>Cost.</b> An I/O through this API is at least two actor messages and one copy of the data, so it
 * caps far below the descriptor API (see {@code /work/shared/reference/limits.md} section 2). Code that needs
 * the full rate runs on a reactor and uses {@link io.spindle.bdev.BdevDescriptor} directly.
 */
package io.spindle.bdev.actor;
