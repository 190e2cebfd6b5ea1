/**
 * Actor API of the bdev layer: block I/O as typed messages for ordinary actors anywhere in an ActorSystem,
 * and a {@link java.util.concurrent.CompletionStage} facade over it for plain Java.
 *
 * <ul>
 *   <li>{@link io.spindle.bdev.actor.BdevServer}: the actor. Spawn one per bdev; it opens the bdev on every
 *       reactor, places a shard actor on each reactor's dispatcher and serves {@code Read}, {@code Write},
 *       {@code Flush}, {@code Unmap} and {@code WriteZeroes} there, at most {@code maxInFlight} at a time
 *       ({@code Busy} past that). Send requests to the server (it picks a reactor) or straight to a shard
 *       ({@code GetShards}): one message in, one reply out.</li>
 *   <li>The batched protocol, for throughput: {@link io.spindle.bdev.actor.BdevServer.Submit} carries an
 *       {@link io.spindle.bdev.actor.IoBatch} of tagged entries; every entry is answered exactly once in a
 *       {@link io.spindle.bdev.actor.Completions} message, which a shard coalesces per reactor loop and per
 *       requester; read data comes as {@link io.spindle.bdev.actor.LentBuffer}s.</li>
 *   <li>{@link io.spindle.bdev.actor.BdevFacade}: {@code read(offset, length)} → {@code CompletionStage<byte[]>},
 *       {@code write(offset, data)} → {@code CompletionStage<Void>}, ...</li>
 * </ul>
 *
 * <p><b>Who owns the data.</b> The I/O itself runs on off-heap {@link io.spindle.bdev.DmaBuffer}s that each
 * reactor pools and reuses.
 * <ul>
 *   <li>A {@code Write}'s {@code data} array, and a batched write's, is lent to the server from the
 *       {@code tell} until its answer arrives: the server copies it into a pooled buffer on a reactor thread,
 *       some time after the {@code tell}. Do not modify it in between (the written bytes would be undefined);
 *       afterwards it is yours again.</li>
 *   <li>A single read reply's {@code data} array is a fresh copy that belongs to the receiver: nothing else
 *       refers to it, it needs no release, keep or modify it at will.</li>
 *   <li>A batched read's {@link io.spindle.bdev.actor.LentBuffer} is one of the pooled buffers, lent: it
 *       belongs to the receiver of the {@code Completions} (and whoever it passes it to) until released with
 *       {@code release()} or {@code Completions.releaseAll()}, exactly once, from any thread. Unreleased, it
 *       leaks.</li>
 *   <li>The messages of the batched protocol may be recycled: an {@code IoBatch} is the sender's again once the
 *       server has taken it ({@code reset()}, which throws before), a {@code Completions} goes back to its
 *       shard with {@code recycle()} (any use after that throws while the shard holds it). A lent buffer's
 *       life is its own: recycling a {@code Completions} neither releases nor invalidates its buffers.</li>
 * </ul>
 *
 * <p><b>Cost.</b> A single request is at least two actor messages and one copy of the data; through the
 * server it is three hops. A batched closed loop amortises the messages over the batch (about two per reactor
 * loop) and copies nothing beyond the bdev's own copy; a requester placed on a reactor next to its shard
 * never crosses threads. {@code docs/performance.md} has the figures; code that needs the full rate runs on a
 * reactor and uses {@link io.spindle.bdev.BdevDescriptor} directly, with no message at all.
 */
package io.spindle.bdev.actor;
