package io.spindle.backends.mapped;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.IoThreads;
import io.spindle.backends.ReactorInbox;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevHost;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.env.HugePages;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import net.openhft.chronicle.bytes.MappedBytesStore;
import net.openhft.chronicle.bytes.MappedFile;
import net.openhft.chronicle.core.UnsafeMemory;
import net.openhft.chronicle.core.io.ReferenceOwner;
import net.openhft.posix.PosixAPI;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@code mapped} bdev module (Spindle's own; SPDK has none): a persistent bdev on a memory-mapped file,
 * through Chronicle Bytes' {@link MappedFile}. It is the fast durable backend for applications that embed Spindle:
 * reads and writes are memory copies, as malloc's, on the submitting reactor; the file is the page cache's.
 *
 * <p><b>Layout.</b> The whole file is one mapping ({@link MappedFile#ofSingle}), so sizes beyond 2 GiB are one
 * address range and an I/O is one copy per segment. Block {@code n} is at byte {@code n * block_size} of the file;
 * there is no header, so a file written by one Spindle is read by the next one, or by any tool.
 *
 * <p><b>Durability.</b> A completed write is in the page cache: another process reading the file, a later Spindle
 * on the same file, and this process's own crash ({@code kill -9}) all see it. Only a crash of the machine can lose
 * it, until a FLUSH: writes mark the 1 MiB regions they touched as dirty (after their copy), and FLUSH
 * {@code msync(MS_SYNC)}s every dirty region on an I/O thread (it blocks), then completes. So a FLUSH makes
 * durable every write completed before it was submitted, on any reactor. Unmapping at delete leaves dirty pages to
 * the kernel's write-back, as closing a file does; delete does not flush.
 *
 * <p><b>Blocking.</b> The copies touch the mapping on the reactor: a page not in the page cache is read from the
 * file by a page fault during the copy, which blocks that reactor for the read. Keep data sets that do not fit in
 * memory on {@code aio}.
 *
 * <p>Threads: {@link #create} and {@link #delete} from anywhere (the file is opened and mapped on a fork-join
 * thread); the driver's channel methods, submit and poller on the channel's reactor; msync on an I/O thread.
 */
public final class MappedModule implements BdevModule {
    private static final Logger LOG = LoggerFactory.getLogger(MappedModule.class);
    private static final UnsafeMemory MEM = UnsafeMemory.MEMORY;
    /** {@code MS_SYNC} (Linux). */
    private static final int MS_SYNC = 4;
    /** Dirty tracking granularity: 1 MiB regions. */
    static final int REGION_SHIFT = 20;

    private final IoThreads.Shared pool = new IoThreads.Shared("spindle-mapped", 1, 1024);

    /** The module, found by ServiceLoader. */
    public MappedModule() {
    }

    @Override
    public String name() {
        return "mapped";
    }

    /** One flush task per pooled I/O, so a FLUSH allocates nothing. */
    @Override
    public Object newIoContext() {
        return new FlushTask();
    }

    /**
     * Options of {@code bdev_mapped_create}.
     *
     * @param numBlocks 0: take the block count from the existing file
     * @param hugePages true/false: advise transparent huge pages for the mapping or not; null: as the process's
     *                  huge-page policy says ({@code spindle.memory.huge-pages}: advised unless {@code off})
     */
    public record Options(String name, String filename, int blockSize, long numBlocks, UUID uuid, Boolean hugePages) {
        /** Options that leave huge pages to the process's policy ({@code hugePages} null). */
        public Options(String name, String filename, int blockSize, long numBlocks, UUID uuid) {
            this(name, filename, blockSize, numBlocks, uuid, null);
        }
    }

    /**
     * Creates (or reopens) the file, maps it and registers the bdev. A new file gets {@code numBlocks * blockSize}
     * bytes (sparse); an existing one keeps its contents, and {@code numBlocks}, when given, must match its size.
     * Fails with {@link BdevException} naming the file: EINVAL (block size, a size that is not a multiple of it or
     * 0, {@code num_blocks} missing for a new file or different from an existing file's), EISDIR, EACCES, ENOENT (a
     * directory on the path is missing), EEXIST (name in use). Any thread.
     */
    public CompletionStage<Bdev> create(BdevLayer layer, Options o) {
        return CompletableFuture.supplyAsync(() -> open(o), layer.blockingExecutor()).thenCompose(m -> {
            Driver d = new Driver(this, m, pool.acquire());
            BdevSpec spec = BdevSpec.builder(this, d).name(o.name()).productName("Mapped file").blockSize(o.blockSize())
                    .numBlocks(m.numBlocks).uuid(o.uuid()).writeCache(true).build();
            return layer.register(spec).whenComplete((b, err) -> {
                if (err != null) {
                    m.unmap();
                    pool.release();
                }
            });
        });
    }

    /** Unregisters a mapped bdev: 0, or ENODEV when {@code name} is not one. */
    public CompletionStage<Integer> delete(BdevLayer layer, String name) {
        Bdev b = layer.get(name);
        if (b == null || b.module() != this) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        return layer.unregister(name);
    }

    @Override
    public CompletionStage<Void> fini(BdevHost host) {
        return pool.shutdown();
    }

    private static Mapping open(Options o) {
        String where = "bdev_mapped_create name=" + o.name() + " filename=" + o.filename();
        int bs = o.blockSize();
        if (o.name() == null || o.name().isEmpty()) {
            throw new BdevException(Errno.EINVAL, where + ": name must not be empty");
        }
        if (bs < 512 || Integer.bitCount(bs) != 1) {
            throw new BdevException(Errno.EINVAL, where + ": block_size=" + bs + ": must be a power of two >= 512");
        }
        if (o.numBlocks() < 0 || o.numBlocks() > Long.MAX_VALUE / bs) {
            throw new BdevException(Errno.EINVAL, where + ": num_blocks=" + o.numBlocks() + ": must be >= 1 (0 or absent: from the file)");
        }
        Path p = Path.of(o.filename());
        long size;
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (a.isDirectory()) {
                throw new BdevException(Errno.EISDIR, where + ": is a directory, not a file");
            }
            if (!a.isRegularFile()) {
                throw new BdevException(Errno.EINVAL, where + ": not a regular file (a mapped bdev needs one; use aio for a block device)");
            }
            size = a.size();
            if (size == 0 || size % bs != 0) {
                throw new BdevException(Errno.EINVAL, where + ": size " + size + " bytes is " + (size == 0 ? "empty" : "not a multiple of block_size=" + bs));
            }
            if (o.numBlocks() != 0 && o.numBlocks() * bs != size) {
                throw new BdevException(Errno.EINVAL, where + ": num_blocks=" + o.numBlocks() + " * block_size=" + bs + " = " + o.numBlocks() * bs
                        + " bytes differs from the existing file's " + size + " bytes (omit num_blocks to reopen it as it is)");
            }
        } catch (NoSuchFileException e) {
            if (o.numBlocks() == 0) {
                throw new BdevException(Errno.EINVAL, where + ": the file does not exist and num_blocks was not given (needed to create it)");
            }
            size = o.numBlocks() * bs;
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(size); // sparse: blocks are allocated as they are written
            } catch (IOException ce) {
                throw fileError(where, ce, "cannot create it");
            }
        } catch (IOException e) {
            throw fileError(where, e, "cannot read its attributes");
        }
        if (!Files.isWritable(p)) {
            throw new BdevException(Errno.EACCES, where + ": permission denied (the file must be writable)");
        }
        MappedFile mf;
        try {
            mf = MappedFile.ofSingle(p.toFile(), size, false);
        } catch (IOException e) {
            throw fileError(where, e, "cannot map it");
        }
        try {
            ReferenceOwner owner = ReferenceOwner.temporary("bdev_mapped " + o.name());
            MappedBytesStore store = mf.acquireByteStore(owner, 0);
            if (Files.size(p) != size) {
                // Chronicle rounds a single mapping up to whole pages and grows the file to match; give the file its
                // size back (the mapping of the last, partial page stays valid below the end of the file)
                try (RandomAccessFile r = new RandomAccessFile(p.toFile(), "rw")) {
                    r.setLength(size);
                }
            }
            Mapping m = new Mapping(o, p, mf, owner, store, size);
            m.adviseHugePages();
            return m;
        } catch (IOException | RuntimeException e) {
            mf.releaseLast();
            throw fileError(where, e instanceof IOException io ? io : new IOException(e), "cannot map it");
        }
    }

    private static BdevException fileError(String where, IOException e, String what) {
        if (e instanceof AccessDeniedException || String.valueOf(e.getMessage()).contains("Permission denied")) {
            return new BdevException(Errno.EACCES, where + ": permission denied (" + what + ")");
        }
        if (e instanceof NoSuchFileException || e instanceof java.io.FileNotFoundException) {
            return new BdevException(Errno.ENOENT, where + ": " + what + ": " + e.getMessage());
        }
        return new BdevException(Errno.EIO, where + ": " + what + ": " + e);
    }

    // ------------------------------------------------------------------ the mapping

    /** One mapped file and its dirty-region bitmap. The bitmap is shared by every reactor (atomic bit sets). */
    static final class Mapping {
        private static final VarHandle BITS = MethodHandles.arrayElementVarHandle(long[].class);

        final String name;
        final String filename;
        final Path path;
        final MappedFile file;
        final ReferenceOwner owner;
        final MappedBytesStore store;
        final long base;
        final long size;
        final int blockSize;
        final long numBlocks;
        /** Bit r: region r (1 MiB at r << REGION_SHIFT) has writes not yet msync'ed. */
        final long[] dirty;
        /** The create's {@code huge_pages} (null: the process's policy decides), for save_config. */
        final Boolean hugePagesParam;
        /** What {@link #adviseHugePages} did, for bdev_get_bdevs: "advised", "off (...)", "unavailable: ...". */
        volatile String hugePages = "off";
        private boolean unmapped;

        Mapping(Options o, Path path, MappedFile file, ReferenceOwner owner, MappedBytesStore store, long size) {
            this.name = o.name();
            this.filename = o.filename();
            this.path = path;
            this.file = file;
            this.owner = owner;
            this.store = store;
            this.base = store.addressForRead(0);
            this.size = size;
            this.blockSize = o.blockSize();
            this.numBlocks = size / o.blockSize();
            this.hugePagesParam = o.hugePages();
            long regions = (size + (1L << REGION_SHIFT) - 1) >>> REGION_SHIFT;
            this.dirty = new long[(int) ((regions + 63) >>> 6)];
        }

        /**
         * Asks the kernel to back the mapping with transparent huge pages ({@code madvise(MADV_HUGEPAGE)}): with
         * {@code huge_pages} true, or left out and the process's huge-page policy ({@code spindle.memory.huge-pages}) not
         * {@code off}. Where the file system caches large folios (ext4 and xfs on recent kernels), pages read into
         * the page cache from then on come as 2 MiB folios mapped by one TLB entry each; pages already cached stay
         * as they are. Not fatal when refused: the mapping works with normal pages and bdev_get_bdevs says why.
         * On the creating thread, before the bdev registers.
         */
        void adviseHugePages() {
            Boolean want = hugePagesParam;
            boolean advise = want != null ? want : HugePages.process().mode() != HugePages.Mode.OFF;
            if (!advise) {
                hugePages = want != null ? "off (huge_pages=false)" : "off (spindle.memory.huge-pages=off)";
                return;
            }
            if (Madvise.UNAVAILABLE != null) {
                hugePages = "unavailable: " + Madvise.UNAVAILABLE;
                LOG.info("mapped {}: no huge pages for {} ({})", name, filename, Madvise.UNAVAILABLE);
                return;
            }
            long page = net.openhft.chronicle.core.OS.pageSize();
            if ((base & (page - 1)) != 0) {
                hugePages = "unavailable: the mapping is not page-aligned";
                return;
            }
            int rc = Madvise.hugepage(base, (size + page - 1) & -page);
            if (rc != 0) {
                hugePages = "refused: madvise(MADV_HUGEPAGE) errno=" + rc + " (" + PosixAPI.posix().strerror(rc) + ")";
                LOG.warn("mapped {}: madvise(MADV_HUGEPAGE) on {} refused with errno {}; normal pages", name, filename, rc);
                return;
            }
            hugePages = "advised";
        }

        /**
         * Whether every byte {@code io} would copy or zero lies inside the mapping. The bdev layer checked the
         * range against the bdev's block count; this checks it against the mapped length, which is what the copy
         * touches, so a count the mapping does not back (a layer bug, a resize past {@code acceptResize}, which
         * this module refuses) fails the I/O instead of touching memory it does not own. No allocation.
         */
        boolean withinMapping(ModuleIo io) {
            long offsetBlocks = io.offsetBlocks();
            if (offsetBlocks < 0 || offsetBlocks > numBlocks) {
                return refuse(io, "offset_blocks=" + offsetBlocks);
            }
            long room = size - offsetBlocks * blockSize;
            if (io.type() == IoType.UNMAP || io.type() == IoType.WRITE_ZEROES) {
                long n = io.numBlocks();
                return n >= 0 && n <= room / blockSize || refuse(io, "num_blocks=" + n);
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
            LOG.error("bdev_mapped {}: {} offset_blocks={} num_blocks={}: {} runs past the mapping of {} bytes; failed",
                    io.bdev().name(), io.type(), io.offsetBlocks(), io.numBlocks(), what, size);
            return false;
        }

        /** Marks {@code [pos, pos+len)} dirty; after the copy. A set bit is only read, so steady writes cost loads. */
        void markDirty(long pos, long len) {
            long first = pos >>> REGION_SHIFT;
            long last = (pos + len - 1) >>> REGION_SHIFT;
            for (long r = first; r <= last; r++) {
                int w = (int) (r >>> 6);
                long bit = 1L << (r & 63);
                if (((long) BITS.getAcquire(dirty, w) & bit) == 0) {
                    BITS.getAndBitwiseOr(dirty, w, bit);
                }
            }
        }

        /** I/O thread: msyncs every dirty region (taking its bit first); 0, or the positive errno of a failed msync. */
        int syncDirty() {
            int rc = 0;
            PosixAPI posix = PosixAPI.posix();
            long runStart = -1;
            long runEnd = -1;
            for (int w = 0; w < dirty.length; w++) {
                long bits = (long) BITS.getAndSet(dirty, w, 0L);
                while (bits != 0) {
                    int b = Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    long start = ((long) w * 64 + b) << REGION_SHIFT;
                    long end = Math.min(size, start + (1L << REGION_SHIFT));
                    if (start == runEnd) {
                        runEnd = end;
                    } else {
                        rc = sync(posix, runStart, runEnd, rc);
                        runStart = start;
                        runEnd = end;
                    }
                }
            }
            return sync(posix, runStart, runEnd, rc);
        }

        private int sync(PosixAPI posix, long start, long end, int rc) {
            if (start < 0 || end <= start) {
                return rc;
            }
            // msync's length is rounded up to whole pages by the kernel; the address is page-aligned (a region start)
            if (posix.msync(base + start, end - start, MS_SYNC) != 0) {
                int err = Math.max(1, posix.lastError());
                LOG.error("mapped {}: msync of [{}, {}) of {} failed: errno {}", name, start, end, filename, err);
                markDirty(start, end - start); // not durable: the next flush tries again
                return err;
            }
            return rc;
        }

        /** Releases the mapping (munmap); once, after every channel is gone. */
        synchronized void unmap() {
            if (!unmapped) {
                unmapped = true;
                store.release(owner);
                file.releaseLast();
            }
        }
    }

    /** A FLUSH on its way through an I/O thread: the pooled I/O's context. */
    static final class FlushTask implements IoThreads.Task {
        ModuleIo io;
        Mapping mapping;
        Channel channel;
        IoStatus status;

        @Override
        public void run(IoThreads.Scratch scratch) {
            status = mapping.syncDirty() == 0 ? IoStatus.SUCCESS : IoStatus.FAILED;
            channel.flushes.offer(this);
        }
    }

    // ------------------------------------------------------------------ channel

    /**
     * A mapped bdev's channel on one reactor: a FIFO ring of submitted I/O performed by its poller on the next loop,
     * in submission order (malloc's shape), and the inbox where FLUSHes come back from the I/O thread. Owner: its
     * reactor.
     */
    static final class Channel {
        private final Mapping m;
        private final IoThreads pool;
        private ModuleIo[] ring = new ModuleIo[256];
        private int head;
        private int count;
        final ReactorInbox<FlushTask> flushes;
        int flushesOut;
        Poller poller;
        boolean destroyed;

        Channel(Reactor reactor, Mapping m, IoThreads pool) {
            this.m = m;
            this.pool = pool;
            this.flushes = new ReactorInbox<>(reactor, 1024, this::flushDone);
        }

        void enqueue(ModuleIo io) {
            if (count == ring.length) {
                ModuleIo[] bigger = new ModuleIo[ring.length * 2]; // only at a new high-water mark
                for (int i = 0; i < count; i++) {
                    bigger[i] = ring[(head + i) & (ring.length - 1)];
                }
                ring = bigger;
                head = 0;
            }
            ring[(head + count) & (ring.length - 1)] = io;
            count++;
        }

        /** The poller: performs and completes what was queued before this run. */
        int poll() {
            int n = count;
            if (n == 0) {
                return 0;
            }
            for (int i = 0; i < n; i++) {
                ModuleIo io = ring[head];
                ring[head] = null;
                head = (head + 1) & (ring.length - 1);
                count--;
                perform(io);
            }
            return n;
        }

        /** Performs one I/O: a copy or a zeroing, completed now; a FLUSH goes to the I/O thread. */
        void perform(ModuleIo io) {
            int bs = m.blockSize;
            long pos = io.offsetBlocks() * bs;
            long off = m.base + pos;
            if (io.type() != IoType.FLUSH && io.type() != IoType.RESET && !m.withinMapping(io)) {
                io.complete(IoStatus.FAILED);
                return;
            }
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
                    m.markDirty(pos, io.numBlocks() * bs);
                }
                case UNMAP, WRITE_ZEROES -> {
                    MEM.setMemory(off, io.numBlocks() * bs, (byte) 0);
                    m.markDirty(pos, io.numBlocks() * bs);
                }
                case FLUSH -> {
                    FlushTask t = (FlushTask) io.moduleContext();
                    t.io = io;
                    t.mapping = m;
                    t.channel = this;
                    flushesOut++;
                    if (!pool.submit(t)) {
                        flushesOut--;
                        t.io = null;
                        io.complete(IoStatus.NOMEM);
                    }
                    return;
                }
                default -> {
                    // RESET: every earlier I/O of the channel was performed before it
                }
            }
            io.complete(IoStatus.SUCCESS);
        }

        private void flushDone(FlushTask t) {
            flushesOut--;
            ModuleIo io = t.io;
            t.io = null;
            io.complete(t.status);
        }
    }

    // ------------------------------------------------------------------ driver

    /** The per-bdev driver. */
    static final class Driver implements BdevDriver<Channel> {
        private final MappedModule module;
        final Mapping m;
        private final IoThreads pool;

        Driver(MappedModule module, Mapping m, IoThreads pool) {
            this.module = module;
            this.m = m;
            this.pool = pool;
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
            Channel ch = new Channel(reactor, m, pool);
            ch.flushes.start("bdev_mapped_flush_" + bdev.name());
            ch.poller = reactor.registerPoller("bdev_mapped_" + bdev.name(), ch::poll);
            return ch;
        }

        /** Performs what is queued, then waits for FLUSHes still at the I/O thread (a forced stop only). */
        @Override
        public void destroyChannel(BdevView bdev, Reactor reactor, Channel ch) {
            ch.poller.unregister();
            ch.destroyed = true;
            while (ch.count > 0) {
                ch.poll();
            }
            ch.flushes.stop();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (ch.flushesOut > 0 && System.nanoTime() - deadline < 0) {
                if (ch.flushes.drain() == 0) {
                    LockSupport.parkNanos(10_000);
                }
            }
        }

        @Override
        public void submit(ModuleIo io, Channel ch) {
            if (ch.destroyed) {
                io.complete(IoStatus.ABORTED);
                return;
            }
            switch (io.type()) {
                case READ, WRITE, UNMAP, WRITE_ZEROES, FLUSH, RESET -> ch.enqueue(io);
                default -> io.complete(IoStatus.FAILED);
            }
        }

        @Override
        public CompletionStage<Void> destruct() {
            m.unmap();
            return module.pool.release();
        }

        @Override
        public void dumpInfo(ObjectNode ds) {
            ds.put("filename", m.filename);
            ds.put("size_bytes", m.size);
            // the user's file, mapped: its pages are the file system's page cache; with huge pages advised, the ones the
            // kernel caches as 2 MiB folios are mapped with one TLB entry each (huge_pages_mapped_bytes says how many)
            ds.put("memory", "file page cache");
            String hp = m.hugePages;
            ds.put("huge_pages", hp);
            if ("advised".equals(hp)) {
                long pmd = Madvise.pmdMappedBytes(m.base);
                if (pmd >= 0) {
                    ds.put("huge_pages_mapped_bytes", pmd);
                }
            }
        }

        @Override
        public ObjectNode writeConfig(BdevView bdev) {
            ObjectNode call = JsonNodeFactory.instance.objectNode();
            call.put("method", "bdev_mapped_create");
            ObjectNode p = call.putObject("params");
            p.put("name", bdev.name());
            p.put("filename", m.filename);
            p.put("block_size", bdev.blockSize());
            p.put("num_blocks", bdev.numBlocks());
            p.put("uuid", bdev.uuid().toString());
            if (m.hugePagesParam != null) {
                p.put("huge_pages", m.hugePagesParam);
            }
            return call;
        }
    }
}
