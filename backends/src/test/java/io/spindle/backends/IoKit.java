package io.spindle.backends;

import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEventHandler;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Synchronous I/O for tests, on manual reactors (stepped until done) or real reactor threads (waited for): each
 * call opens a descriptor on the reactor, takes its channel, submits one I/O, waits for its completion, then puts
 * the channel and closes the descriptor.
 */
public final class IoKit {
    static final Duration T = Duration.ofSeconds(30);
    static final BdevEventHandler IGNORE = (e, b, d) -> { };

    private final BdevLayer layer;
    private final ReactorGroup group;

    /** I/O on {@code layer}'s reactors. */
    public IoKit(BdevLayer layer) {
        this.layer = layer;
        this.group = layer.reactors();
    }

    /** Waits for {@code f}: steps manual reactors, else blocks. */
    public <X> X await(CompletableFuture<X> f) {
        if (group.isManual()) {
            group.pollUntil(f::isDone, T);
            return f.join();
        }
        try {
            return f.get(T.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new AssertionError("waited " + T + " for " + f, e);
        }
    }

    /** Runs {@code task} on reactor {@code r} and waits for its value. */
    public <X> X on(int r, Supplier<X> task) {
        CompletableFuture<X> f = new CompletableFuture<>();
        group.reactor(r).send(() -> {
            try {
                f.complete(task.get());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return await(f);
    }

    /** One I/O of {@code type} on reactor 0. */
    public IoStatus io(String bdev, IoType type, long offsetBlocks, long numBlocks, DmaBuffer buf) {
        return io(0, bdev, type, offsetBlocks, numBlocks, buf);
    }

    /**
     * One I/O on reactor {@code r}: READ/WRITE/COMPARE use {@code buf} from offset 0; UNMAP, WRITE_ZEROES, FLUSH and
     * RESET ignore it. Fails the test when the submit is refused (a negative errno).
     */
    public IoStatus io(int r, String bdev, IoType type, long offsetBlocks, long numBlocks, DmaBuffer buf) {
        CompletableFuture<IoStatus> done = new CompletableFuture<>();
        Object[] held = on(r, () -> {
            BdevDescriptor d = layer.open(bdev, type.writes() || type == IoType.FLUSH || type == IoType.RESET, IGNORE);
            IoChannel<BdevChannel> ch = d.getIoChannel();
            io.spindle.bdev.IoCallback cb = (io, st, arg) -> done.complete(st);
            int rc = switch (type) {
                case READ -> d.readBlocks(ch, buf, 0, offsetBlocks, numBlocks, cb, null);
                case WRITE -> d.writeBlocks(ch, buf, 0, offsetBlocks, numBlocks, cb, null);
                case COMPARE -> d.compareBlocks(ch, buf, 0, offsetBlocks, numBlocks, cb, null);
                case UNMAP -> d.unmapBlocks(ch, offsetBlocks, numBlocks, cb, null);
                case WRITE_ZEROES -> d.writeZeroesBlocks(ch, offsetBlocks, numBlocks, cb, null);
                case FLUSH -> d.flushBlocks(ch, offsetBlocks, numBlocks, cb, null);
                case RESET -> d.reset(ch, cb, null);
                default -> throw new IllegalArgumentException(type.name());
            };
            if (rc != 0) {
                done.completeExceptionally(new AssertionError(type + " of " + bdev + " refused: errno " + rc));
            }
            return new Object[] {d, ch};
        });
        try {
            return await(done);
        } finally {
            on(r, () -> {
                @SuppressWarnings("unchecked")
                IoChannel<BdevChannel> ch = (IoChannel<BdevChannel>) held[1];
                ch.put();
                ((BdevDescriptor) held[0]).close();
                return null;
            });
        }
    }

    /** Writes {@code data} (a whole number of blocks) at {@code offsetBlocks}; returns the status. */
    public IoStatus write(String bdev, long offsetBlocks, byte[] data) {
        int bs = layer.get(bdev).blockSize();
        try (DmaBuffer b = DmaBuffer.allocate(data.length)) {
            b.put(0, data);
            return io(bdev, IoType.WRITE, offsetBlocks, data.length / bs, b);
        }
    }

    /** Reads {@code numBlocks} blocks at {@code offsetBlocks}; fails the test unless the read succeeds. */
    public byte[] read(String bdev, long offsetBlocks, long numBlocks) {
        int bs = layer.get(bdev).blockSize();
        try (DmaBuffer b = DmaBuffer.allocate(numBlocks * bs)) {
            IoStatus st = io(bdev, IoType.READ, offsetBlocks, numBlocks, b);
            if (st != IoStatus.SUCCESS) {
                throw new AssertionError("read of " + bdev + " at " + offsetBlocks + " completed " + st);
            }
            return b.get(0, (int) (numBlocks * bs));
        }
    }

    /** A block pattern: byte i is {@code (seed + i * 31) & 0xff}. */
    public static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed + i * 31);
        }
        return b;
    }

    /** Whether the calling thread is reactor {@code r} of the layer (for assertions inside callbacks). */
    public boolean isOn(int r) {
        return Reactor.current() == group.reactor(r);
    }
}
