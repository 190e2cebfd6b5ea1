package io.spindle.backends.malloc;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.env.HugePages;
import io.spindle.env.HugeRegion;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.core.UnsafeMemory;

import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The {@code malloc} bdev module: a RAM disk in Chronicle off-heap memory (SPDK's {@code module/bdev/malloc}).
 * Reads and writes copy between the disk and the caller's buffers; unmap and write_zeroes zero the range.
 * The memory is allocated zeroed at create and released in destruct, which the bdev layer runs only after
 * every channel of the bdev is gone. Its size is fixed: the driver refuses every resize ({@code ENOTSUP}), and
 * each I/O's range is checked against the memory before it is queued (outside it, the I/O fails).
 *
 * <p>I/O is queued on the submitting reactor's {@link Channel} and performed, in submission order, by that
 * channel's poller on the next reactor loop, which also completes it (never inside submit). A channel destroyed
 * with I/O still queued performs and completes them first.
 *
 * <p>Threads: {@link #create} and {@link #delete} from anywhere (they return at once; the allocation runs on the
 * layer's blocking executor, the register goes through the registry); the driver's
 * channel methods, submit and the poller run on the channel's reactor.
 */
public final class MallocModule implements BdevModule {
    private static final UnsafeMemory MEM = UnsafeMemory.MEMORY;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(MallocModule.class);

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

    /** Bytes of malloc bdevs being allocated now (reserved against the available memory until registered). */
    private final java.util.concurrent.atomic.AtomicLong allocating = new java.util.concurrent.atomic.AtomicLong();

    /**
     * Allocates and registers a malloc bdev. The checks run on the caller's thread and return at once: the
     * geometry, the name, and the size against the memory this process can still allocate
     * ({@link io.spindle.backends.HostMemory}, less what other creates in progress have reserved). The memory is
     * then allocated and zeroed on the layer's {@link BdevLayer#blockingExecutor()}, never on the caller's thread
     * (an RPC handler's, a reactor), so a multi-GiB create does not hold up other RPCs; the bdev is registered
     * once it is zeroed.
     *
     * @return completes with the bdev, or fails with {@link BdevException} (EINVAL naming the field, EEXIST,
     *         ENOMEM when the size is above the memory available, naming both, or when the allocation fails)
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
        if (o.name() != null && layer.get(o.name()) != null) {
            // early, so a taken name costs no allocation; the register checks again (it is the authority)
            return CompletableFuture.failedFuture(new BdevException(Errno.EEXIST, "bdev_malloc_create name=" + o.name()
                    + ": name " + o.name() + " already exists"));
        }
        long size = o.numBlocks() * o.blockSize();
        io.spindle.backends.HostMemory.Available avail = io.spindle.backends.HostMemory.available();
        long others = allocating.getAndAdd(size);
        HugePages hp = HugePages.process();
        HugePages.Mount huge = hp.mount();
        boolean hugeRoom = huge != null && hp.freePages(huge.pageSize()) * huge.pageSize() >= size; // not counted in MemAvailable
        if (!hugeRoom && size > avail.bytes() - others) {
            allocating.addAndGet(-size);
            return CompletableFuture.failedFuture(new BdevException(Errno.ENOMEM, "bdev_malloc_create name=" + o.name() + ": size="
                    + size + " bytes (num_blocks=" + o.numBlocks() + " x block_size=" + o.blockSize() + ") is above the memory available="
                    + Math.max(0, avail.bytes() - others) + " bytes (" + avail.source() + (others > 0 ? ", less " + others
                    + " bytes of malloc creates in progress" : "") + ")"));
        }
        CompletableFuture<Driver> memory;
        try {
            memory = CompletableFuture.supplyAsync(() -> allocateZeroed(o, size), layer.blockingExecutor());
        } catch (RuntimeException e) { // the executor refused the task (shutting down)
            allocating.addAndGet(-size);
            return CompletableFuture.failedFuture(new BdevException(Errno.ESHUTDOWN, "bdev_malloc_create name=" + o.name()
                    + ": cannot allocate now: " + e));
        }
        return memory.whenComplete((d, err) -> allocating.addAndGet(-size)).thenCompose(d -> {
            BdevSpec spec = BdevSpec.builder(this, d).name(o.name()).productName("Malloc disk").blockSize(o.blockSize())
                    .numBlocks(o.numBlocks()).uuid(o.uuid()).optimalIoBoundary(o.optimalIoBoundary()).build();
            return layer.register(spec).whenComplete((b, err) -> {
                if (err != null) {
                    d.release(); // registration refused: nothing else holds the memory
                }
            });
        });
    }

    /**
     * On the blocking executor: the memory, zeroed (SPDK's malloc bdev is zeroed too). Huge pages first when the
     * process's {@link HugePages} policy allows (a hugetlbfs mapping of its own, rounded up to the page size), else
     * normal pages from Chronicle; with {@code spindle.memory.huge-pages=on} the create fails instead (ENOMEM).
     */
    private static Driver allocateZeroed(Options o, long size) {
        HugePages hp = HugePages.process();
        HugeRegion region = hp.map(size, "malloc bdev " + o.name());
        if (region != null) {
            // A fresh hugetlbfs page reads as zero: touching one byte per page faults each in now (the kernel zeroes it),
            // so no I/O takes a page fault later, at a fraction of writing every byte.
            long step = region.pageSize();
            for (long off = 0; off < region.size(); off += step) {
                MEM.writeByte(region.address() + off, (byte) 0);
            }
            return new Driver(null, region, region.address(), size, "hugetlbfs " + HugePages.sizeName(region.pageSize()));
        }
        if (hp.mode() == HugePages.Mode.ON) {
            throw new java.util.concurrent.CompletionException(new BdevException(Errno.ENOMEM, "bdev_malloc_create name=" + o.name()
                    + ": spindle.memory.huge-pages=on and " + size + " bytes of huge pages cannot be had"
                    + (hp.whyUnavailable() != null ? " (" + hp.whyUnavailable() + ")" : " (too few free huge pages, or the map failed)")));
        }
        BytesStore<?, Void> mem;
        try {
            mem = BytesStore.lazyNativeBytesStoreWithFixedCapacity(size); // not zeroed by Chronicle: below, in chunks
        } catch (Throwable e) {
            throw new java.util.concurrent.CompletionException(new BdevException(Errno.ENOMEM, "bdev_malloc_create name=" + o.name()
                    + ": cannot allocate " + size + " bytes: " + e));
        }
        long base = mem.addressForRead(0);
        // In chunks: one Unsafe.setMemory runs without a safepoint poll, so zeroing GiBs in one call holds every
        // other thread of the JVM (the RPC server's too) at the next safepoint until it ends (measured: a 4 GiB
        // create zeroed in one call, as Chronicle's nativeStoreWithFixedCapacity does, held another client's
        // spdk_get_version for up to 16 s even on a blocking dispatcher).
        for (long off = 0; off < size; off += ZERO_CHUNK) {
            MEM.setMemory(base + off, Math.min(ZERO_CHUNK, size - off), (byte) 0);
        }
        return new Driver(mem, null, base, size, HugePages.sizeName(net.openhft.chronicle.core.OS.pageSize()) + " pages");
    }

    /** Bytes zeroed per Unsafe call at create (a safepoint may come between two). */
    private static final long ZERO_CHUNK = 1L << 20;

    /** Bytes of malloc bdevs being allocated and zeroed right now (0 when no create is in progress). */
    public long allocatingBytes() {
        return allocating.get();
    }

    /** Unregisters a malloc bdev (SPDK's {@code bdev_malloc_delete}); ENODEV when it is not a malloc bdev. */
    public CompletionStage<Integer> delete(BdevLayer layer, String name) {
        Bdev b = layer.get(name);
        if (b == null || b.module() != this) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        return layer.unregister(name);
    }

    /**
     * A malloc bdev's channel on one reactor: a FIFO ring of submitted I/O and the poller that performs them
     * back to back, as a device works through its submission queue. Copies run in submission order, so the
     * data effects of one channel's I/O land in the order they were submitted (a write queued before a read
     * of the same blocks lands first); each I/O is completed once, in submission order, after the copies of its
     * poller run (so a completion can trail its copy by up to that run's other copies: at QD 32, ~15 µs).
     *
     * <p>Why a queue instead of copying inline in submit: a run of the poller does all the copies queued before
     * it back to back, then all their completions. With nothing in between, the CPU overlaps the cache and TLB
     * misses of consecutive copies (out of cache a 4 KiB copy is memory-bound); copying inline, each copy
     * waited for the completion, callback, next submit and dispatch of the previous I/O, and the misses did
     * not overlap. (Loading one word of the next I/O's memory ahead of its copy, a software prefetch, made
     * no measurable difference on top of this and was left out.)
     *
     * <p>Owner: its reactor; every field is touched only there.
     */
    static final class Channel {
        private final Driver driver;
        private final int blockSize;
        /** Power-of-two ring; doubled (allocation only at a new high-water mark) instead of refusing with NOMEM. */
        private ModuleIo[] ring = new ModuleIo[256];
        private int head;
        private int count;
        Poller poller;
        boolean destroyed;

        Channel(Driver driver, int blockSize) {
            this.driver = driver;
            this.blockSize = blockSize;
        }

        void enqueue(ModuleIo io) {
            if (count == ring.length) {
                grow();
            }
            ring[(head + count) & (ring.length - 1)] = io;
            count++;
        }

        private void grow() {
            ModuleIo[] bigger = new ModuleIo[ring.length * 2];
            for (int i = 0; i < count; i++) {
                bigger[i] = ring[(head + i) & (ring.length - 1)];
            }
            ring = bigger;
            head = 0;
        }

        /**
         * The poller: performs and completes the I/O queued before this run (those that completion callbacks
         * submit meanwhile wait for the next run: bounded work per call). Returns how many it completed.
         */
        int poll() {
            int n = count;
            if (n == 0) {
                return 0;
            }
            int bs = blockSize;
            ModuleIo[] r = ring;
            int mask = r.length - 1;
            int h = head;
            // the copies back to back first, as a device's DMA engine works through its queue ...
            for (int i = 0; i < n; i++) {
                driver.execute(r[(h + i) & mask], bs);
            }
            // ... then the completions, in the same order. Callbacks may submit (and so grow the ring): re-read it.
            for (int i = 0; i < n; i++) {
                ModuleIo[] cur = ring;
                ModuleIo io = cur[head];
                cur[head] = null;
                head = (head + 1) & (cur.length - 1);
                count--;
                io.complete(IoStatus.SUCCESS);
            }
            return n;
        }

        /** At channel destroy: performs and completes everything still queued, in order. */
        void drain() {
            int bs = blockSize;
            while (count > 0) {
                ModuleIo io = ring[head];
                ring[head] = null;
                head = (head + 1) & (ring.length - 1);
                count--;
                driver.execute(io, bs);
                io.complete(IoStatus.SUCCESS);
            }
        }

        /** I/O queued and not yet performed. */
        int queued() {
            return count;
        }
    }

    /** The per-bdev driver: the memory and the copy loop. */
    static final class Driver implements BdevDriver<Channel> {
        /** Normal-page memory, or null when {@link #region} holds it. */
        private final BytesStore<?, Void> mem;
        /** Huge-page memory, or null when {@link #mem} holds it. */
        private final HugeRegion region;
        private final long base;
        private final long size;
        /** What backs the memory, for {@code bdev_get_bdevs}: "hugetlbfs 2MiB" or "4KiB pages". */
        private final String backing;
        private boolean released;

        Driver(BytesStore<?, Void> mem, HugeRegion region, long base, long size, String backing) {
            this.mem = mem;
            this.region = region;
            this.base = base;
            this.size = size;
            this.backing = backing;
        }

        /** What backs the memory: "hugetlbfs 2MiB" or "4KiB pages". */
        String backing() {
            return backing;
        }

        /**
         * {@code driver_specific.malloc} of {@code bdev_get_bdevs}: {@code memory} names the backing. (SPDK's malloc
         * writes no driver_specific; rpc.py prints whatever is there.)
         */
        @Override
        public java.util.Map<String, Object> driverSpecific() {
            return java.util.Map.of("memory", backing);
        }

        @Override
        public boolean supports(IoType type) {
            return switch (type) {
                case READ, WRITE, UNMAP, WRITE_ZEROES, FLUSH, RESET -> true;
                default -> false;
            };
        }

        @Override
        public Channel createChannel(BdevView bdev, Reactor reactor) {
            Channel ch = new Channel(this, bdev.blockSize());
            ch.poller = reactor.registerPoller("bdev_malloc_" + bdev.name(), ch::poll);
            return ch;
        }

        @Override
        public void destroyChannel(BdevView bdev, Reactor reactor, Channel ch) {
            ch.poller.unregister();
            ch.destroyed = true; // I/O the drained completions submit again is refused (ABORTED), so the drain ends
            ch.drain(); // the memory outlives every channel (destruct runs after them): finish what is queued
        }

        @Override
        public void submit(ModuleIo io, Channel ch) {
            if (ch.destroyed) {
                io.complete(IoStatus.ABORTED); // submitted from a completion run by destroyChannel's drain
                return;
            }
            switch (io.type()) {
                case READ, WRITE, UNMAP, WRITE_ZEROES -> {
                    if (!withinMemory(io, ch.blockSize)) {
                        io.complete(IoStatus.FAILED); // a layer bug must fail the I/O, never reach memory we do not own
                        return;
                    }
                    ch.enqueue(io);
                }
                case FLUSH, RESET -> ch.enqueue(io);
                default -> io.complete(IoStatus.FAILED); // no data effect: nothing to order
            }
        }

        /**
         * Whether every byte {@code io} would copy or zero lies inside this bdev's own allocation. The bdev layer
         * has checked the range against the bdev's block count; this checks it against the memory, which is what
         * the copy touches, so a count the memory does not back (a layer bug, a resize that slipped past
         * {@link #acceptResize}) fails the I/O instead of corrupting the native heap. No allocation.
         */
        boolean withinMemory(ModuleIo io, int bs) {
            long offsetBlocks = io.offsetBlocks();
            if (offsetBlocks < 0 || offsetBlocks > size / bs) {
                return refuse(io, "offset_blocks=" + offsetBlocks);
            }
            long room = size - offsetBlocks * bs;
            if (io.type() == IoType.UNMAP || io.type() == IoType.WRITE_ZEROES) {
                long n = io.numBlocks();
                return n >= 0 && n <= room / bs || refuse(io, "num_blocks=" + n);
            }
            for (int i = 0; i < io.iovCount(); i++) {
                long len = io.iovLength(i);
                if (len < 0 || len > room) {
                    return refuse(io, "iov[" + i + "].length=" + len);
                }
                room -= len;
            }
            return true;
        }

        private boolean refuse(ModuleIo io, String what) {
            LOG.error("bdev_malloc {}: {} offset_blocks={} num_blocks={}: {} runs past the malloc memory size={} bytes; failed",
                    io.bdev().name(), io.type(), io.offsetBlocks(), io.numBlocks(), what, size);
            return false;
        }

        /** A malloc bdev's memory is fixed at create: the same count is accepted, any other refused with ENOTSUP. */
        @Override
        public int acceptResize(BdevView bdev, long newNumBlocks) {
            return newNumBlocks == size / bdev.blockSize() ? Errno.OK : Errno.ENOTSUP;
        }

        /** Performs the data effect of {@code io} (a type {@link #submit} queues): the copy, or the zeroing. */
        void execute(ModuleIo io, int bs) {
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
                default -> {
                    // FLUSH, RESET: nothing to move; every earlier I/O of the channel was performed before
                }
            }
        }

        @Override
        public CompletionStage<Void> destruct() {
            release();
            return CompletableFuture.completedFuture(null);
        }

        synchronized void release() {
            if (!released) {
                released = true;
                if (region != null) {
                    region.close(); // unmapped once: the pages go back to the huge page pool
                } else {
                    mem.releaseLast();
                }
            }
        }

        @Override
        public com.fasterxml.jackson.databind.node.ObjectNode writeConfig(BdevView bdev) {
            com.fasterxml.jackson.databind.node.ObjectNode call = io.spindle.bdev.spi.ConfigCalls.createCall("bdev_malloc_create", bdev);
            if (bdev.optimalIoBoundary() > 0) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) call.get("params")).put("optimal_io_boundary", bdev.optimalIoBoundary());
            }
            return call;
        }
    }
}
