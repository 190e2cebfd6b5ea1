package io.spindle.backends.malloc;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.IoStatus;
import io.spindle.bdev.IoType;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Reactor;
import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.core.UnsafeMemory;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The {@code malloc} bdev module: a RAM disk in Chronicle off-heap memory (SPDK's {@code module/bdev/malloc}).
 * Reads and writes copy between the disk and the caller's buffers; unmap and write_zeroes zero the range.
 * The memory is allocated zeroed at create and released in destruct, which the bdev layer runs only after
 * every channel of the bdev is gone.
 *
 * <p>Copies run inline in submit (the bdev layer defers the completion to the next loop).
 */
public final class MallocModule implements BdevModule {
    private static final UnsafeMemory MEM = UnsafeMemory.MEMORY;

    @Override
    public String name() {
        return "malloc";
    }

    /** Options of a malloc bdev (SPDK's {@code bdev_malloc_create}). */
    public record Options(String name, long numBlocks, int blockSize, UUID uuid, long optimalIoBoundary) {
        /** A malloc bdev of {@code numBlocks} blocks of {@code blockSize} bytes. */
        public static Options of(String name, long numBlocks, int blockSize) {
            return new Options(name, numBlocks, blockSize, null, 0);
        }
    }

    /**
     * Allocates and registers a malloc bdev.
     *
     * @return completes with the bdev, or fails with {@link BdevException} (EINVAL naming the field, EEXIST,
     *         ENOMEM when the memory cannot be allocated)
     */
    public CompletionStage<Bdev> create(BdevLayer layer, Options o) {
        if (o.blockSize() < 512 || Integer.bitCount(o.blockSize()) != 1) {
            return CompletableFuture.failedFuture(new BdevException(Errno.EINVAL, "bdev_malloc_create name=" + o.name()
                    + ": block_size=" + o.blockSize() + ": must be a power of two >= 512"));
        }
        if (o.numBlocks() <= 0 || o.numBlocks() > Long.MAX_VALUE / o.blockSize()) {
            return CompletableFuture.failedFuture(new BdevException(Errno.EINVAL, "bdev_malloc_create name=" + o.name()
                    + ": num_blocks=" + o.numBlocks() + ": must be > 0"));
        }
        long size = o.numBlocks() * o.blockSize();
        BytesStore<?, Void> mem;
        try {
            mem = BytesStore.nativeStoreWithFixedCapacity(size);
        } catch (Throwable e) {
            return CompletableFuture.failedFuture(new BdevException(Errno.ENOMEM, "bdev_malloc_create name=" + o.name() + ": cannot allocate "
                    + size + " bytes: " + e));
        }
        long base = mem.addressForRead(0);
        MEM.setMemory(base, size, (byte) 0);
        Driver d = new Driver(mem, base, size);
        BdevSpec spec = BdevSpec.builder(this, d).name(o.name()).productName("Malloc disk").blockSize(o.blockSize())
                .numBlocks(o.numBlocks()).uuid(o.uuid()).optimalIoBoundary(o.optimalIoBoundary()).build();
        return layer.register(spec).whenComplete((b, err) -> {
            if (err != null) {
                d.release(); // registration refused: nothing else holds the memory
            }
        });
    }

    /** Unregisters a malloc bdev (SPDK's {@code bdev_malloc_delete}); ENODEV when it is not a malloc bdev. */
    public CompletionStage<Integer> delete(BdevLayer layer, String name) {
        Bdev b = layer.get(name);
        if (b == null || b.module() != this) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        return layer.unregister(name);
    }

    /** The per-bdev driver: the memory and the copy loop. */
    static final class Driver implements BdevDriver<Object> {
        private final BytesStore<?, Void> mem;
        private final long base;
        private final long size;
        private boolean released;

        Driver(BytesStore<?, Void> mem, long base, long size) {
            this.mem = mem;
            this.base = base;
            this.size = size;
        }

        @Override
        public boolean supports(IoType type) {
            return switch (type) {
                case READ, WRITE, UNMAP, WRITE_ZEROES, FLUSH, RESET -> true;
                default -> false;
            };
        }

        @Override
        public Object createChannel(Bdev bdev, Reactor reactor) {
            return this; // no per-reactor state: copies need none
        }

        @Override
        public void destroyChannel(Bdev bdev, Reactor reactor, Object channel) {
        }

        @Override
        public void submit(ModuleIo io, Object channel) {
            int bs = io.bdev().blockSize();
            long off = base + io.offsetBlocks() * bs;
            switch (io.type()) {
                case READ -> {
                    for (int i = 0; i < io.iovCount(); i++) {
                        long len = io.iovLength(i);
                        MEM.copyMemory(off, io.iovAddress(i), len);
                        off += len;
                    }
                }
                case WRITE -> {
                    for (int i = 0; i < io.iovCount(); i++) {
                        long len = io.iovLength(i);
                        MEM.copyMemory(io.iovAddress(i), off, len);
                        off += len;
                    }
                }
                case UNMAP, WRITE_ZEROES -> MEM.setMemory(off, io.numBlocks() * bs, (byte) 0);
                case FLUSH, RESET -> {
                }
                default -> {
                    io.complete(IoStatus.FAILED);
                    return;
                }
            }
            io.complete(IoStatus.SUCCESS);
        }

        @Override
        public CompletionStage<Void> destruct() {
            release();
            return CompletableFuture.completedFuture(null);
        }

        synchronized void release() {
            if (!released) {
                released = true;
                mem.releaseLast();
            }
        }

        @Override
        public com.fasterxml.jackson.databind.node.ObjectNode writeConfig(Bdev bdev) {
            com.fasterxml.jackson.databind.node.ObjectNode call = io.spindle.bdev.spi.ConfigCalls.createCall("bdev_malloc_create", bdev);
            if (bdev.optimalIoBoundary() > 0) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) call.get("params")).put("optimal_io_boundary", bdev.optimalIoBoundary());
            }
            return call;
        }

        @Override
        public Map<String, Object> driverSpecific() {
            return Map.of("size_bytes", size);
        }
    }
}
