package io.spindle.backends.nullbdev;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import net.openhft.chronicle.core.UnsafeMemory;

import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The {@code null} bdev module: SPDK's {@code module/bdev/null}, and the smallest complete module — copy this
 * file to start a new one.
 *
 * <p>Writes are discarded. Reads complete without touching the caller's buffer, unless the bdev was created
 * with {@code zeroFill}, in which case reads fill the buffer with zeroes. Every I/O is queued on its
 * channel and completed by that channel's poller on the next reactor loop (never inside submit), so the
 * completion path is the one real devices take.
 *
 * <p>Threads: {@link #create} from anywhere (it goes through the registry); the driver's channel methods
 * and submit run on the channel's reactor.
 */
public final class NullModule implements BdevModule {
    @Override
    public String name() {
        return "null";
    }

    /** Options of a null bdev. */
    public record Options(String name, long numBlocks, int blockSize, UUID uuid, boolean zeroFill) {
        /** A null bdev of {@code numBlocks} blocks of {@code blockSize} bytes, no zero-fill. */
        public static Options of(String name, long numBlocks, int blockSize) {
            return new Options(name, numBlocks, blockSize, null, false);
        }
    }

    /**
     * Creates and registers a null bdev (SPDK's {@code bdev_null_create}).
     *
     * @return completes with the bdev, or fails with {@link BdevException} naming the bad field
     */
    public CompletionStage<Bdev> create(BdevLayer layer, Options o) {
        BdevSpec spec = BdevSpec.builder(this, new Driver(o.zeroFill()))
                .name(o.name()).productName("Null disk").blockSize(o.blockSize()).numBlocks(o.numBlocks()).uuid(o.uuid())
                .build();
        return layer.register(spec);
    }

    /** Unregisters a null bdev (SPDK's {@code bdev_null_delete}); ENODEV when {@code name} is not a null bdev. */
    public CompletionStage<Integer> delete(BdevLayer layer, String name) {
        Bdev b = layer.get(name);
        if (b == null || b.module() != this) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        return layer.unregister(name);
    }

    /** Per-reactor channel: a ring of submitted I/O and the poller that completes them. */
    static final class Channel {
        final ModuleIo[] ring;
        int head;
        int count;
        Poller poller;
        boolean destroyed;

        Channel(int capacity) {
            ring = new ModuleIo[capacity];
        }
    }

    /** The per-bdev driver. */
    static final class Driver implements BdevDriver<Channel> {
        private final boolean zeroFill;

        Driver(boolean zeroFill) {
            this.zeroFill = zeroFill;
        }

        @Override
        public boolean supports(IoType type) {
            return switch (type) {
                case READ, WRITE, WRITE_ZEROES, UNMAP, FLUSH, RESET -> true;
                default -> false;
            };
        }

        @Override
        public Channel createChannel(BdevView bdev, Reactor reactor) {
            Channel ch = new Channel(4096); // power of two; above the default per-reactor I/O pool, so NOMEM is rare
            ch.poller = reactor.registerPoller("bdev_null_" + bdev.name(), () -> complete(ch));
            return ch;
        }

        private int complete(Channel ch) {
            int n = ch.count;
            for (int i = 0; i < n; i++) {
                ModuleIo io = ch.ring[ch.head];
                ch.ring[ch.head] = null;
                ch.head = (ch.head + 1) & (ch.ring.length - 1);
                ch.count--;
                if (zeroFill && io.type() == IoType.READ) {
                    for (int v = 0; v < io.iovCount(); v++) {
                        UnsafeMemory.MEMORY.setMemory(io.iovAddress(v), io.iovLength(v), (byte) 0);
                    }
                }
                io.complete(IoStatus.SUCCESS);
            }
            return n;
        }

        @Override
        public void destroyChannel(BdevView bdev, Reactor reactor, Channel ch) {
            ch.poller.unregister();
            // nothing accepted is lost: what is still queued completes now, and what those completions submit
            // again is refused (ABORTED), so this ends
            ch.destroyed = true;
            complete(ch);
        }

        @Override
        public void submit(ModuleIo io, Channel ch) {
            if (ch.destroyed) {
                io.complete(IoStatus.ABORTED);
                return;
            }
            if (ch.count == ch.ring.length) {
                io.complete(IoStatus.NOMEM);
                return;
            }
            ch.ring[(ch.head + ch.count) & (ch.ring.length - 1)] = io;
            ch.count++;
        }

        /**
         * The null module's resize rule, SPDK's {@code bdev_null_resize}: it grows to any count (nothing is
         * stored), and refuses to shrink with EINVAL. Checked on the bdev's actor in the same step that changes the
         * count, so a concurrent resize cannot slip in between.
         */
        @Override
        public int acceptResize(BdevView bdev, long newNumBlocks) {
            return newNumBlocks >= bdev.numBlocks() ? Errno.OK : Errno.EINVAL;
        }

        @Override
        public boolean retainsData() {
            return false; // writes are discarded
        }

        @Override
        public CompletionStage<Void> destruct() {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public com.fasterxml.jackson.databind.node.ObjectNode writeConfig(BdevView bdev) {
            return io.spindle.bdev.spi.ConfigCalls.createCall("bdev_null_create", bdev);
        }
    }
}
