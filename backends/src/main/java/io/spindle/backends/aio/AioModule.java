package io.spindle.backends.aio;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.IoThreads;
import io.spindle.backends.ReactorInbox;
import io.spindle.backends.Vbdevs;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevHost;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@code aio} bdev module: a bdev on a regular file or a block device (SPDK's {@code module/bdev/aio}).
 *
 * <p><b>No I/O blocks a reactor.</b> SPDK hands reads and writes to the kernel with libaio and polls an
 * {@code io_context} per channel. A JVM has no libaio, and io_uring would need a native library outside Spindle's
 * dependencies (Java 17 has no foreign-function API), so every file system call of every aio bdev runs on a small
 * bounded pool of I/O threads ({@link IoThreads}, {@value #THREADS_PROPERTY} threads, default
 * {@value #DEFAULT_THREADS}): the reactor fills the I/O's preallocated {@link AioTask} and queues it; an I/O thread
 * does {@code pread}/{@code pwrite} straight into the caller's memory ({@link FileIo}), {@code fdatasync} for
 * FLUSH, {@code fallocate(PUNCH_HOLE)} for UNMAP and WRITE_ZEROES (zeroes written where the file system cannot punch
 * holes), then hands the task to the channel's {@link ReactorInbox} (a lock-free queue, and an unpark of the reactor once
 * per batch); the channel's poller completes the I/O on the submitting reactor. Nothing is allocated per I/O on either side.
 *
 * <p><b>O_DIRECT</b> is used when the bdev's block size is a multiple of the file system's block size (the
 * alignment direct I/O needs) and the file system accepts it; buffers the caller gives misaligned are bounced by
 * the bdev layer ({@code required_alignment}). Otherwise the file is opened buffered. {@code bdev_get_bdevs} says
 * which ({@code driver_specific.aio.o_direct}).
 *
 * <p><b>Durability.</b> A write is complete when {@code pwrite} returned: with O_DIRECT the device has it, buffered
 * it is in the page cache. FLUSH ({@code fdatasync}) makes every write completed before it durable; the bdev has a
 * write cache ({@code write_cache = 1}, as SPDK's).
 *
 * <p><b>Hot-remove</b>, as SPDK's: an I/O that fails on a device whose size now reads 0 completes FAILED and the
 * bdev is deleted (once); {@code bdev_aio_rescan} does the same on size 0, else reports a new size to the
 * descriptors (RESIZE).
 *
 * <p>Threads: {@link #create}, {@link #delete} and {@link #rescan} from anywhere; file opens and checks run on the
 * common fork-join pool, never on a reactor. The driver's submit, channel methods and poller run on the channel's
 * reactor; the system calls on the I/O threads.
 */
public final class AioModule implements BdevModule {
    private static final Logger LOG = LoggerFactory.getLogger(AioModule.class);
    /** System property: the number of I/O threads ({@value #DEFAULT_THREADS} by default). */
    public static final String THREADS_PROPERTY = "spindle.aio.io-threads";
    /** Default number of I/O threads. */
    public static final int DEFAULT_THREADS = 4;
    /** How often a RESET looks again for I/O still in flight (SPDK: 500 µs). */
    static final long RESET_CHECK_MICROS = 500;

    private final IoThreads.Shared pool;
    private volatile boolean allowRawIo = true;
    /** Registered disks by bdev name (for rescan). */
    private final java.util.concurrent.ConcurrentHashMap<String, Disk> disks = new java.util.concurrent.ConcurrentHashMap<>();

    /** The module, found by ServiceLoader; the I/O thread count from {@value #THREADS_PROPERTY}. */
    public AioModule() {
        this(Integer.getInteger(THREADS_PROPERTY, DEFAULT_THREADS));
    }

    /** A module whose pool has {@code threads} I/O threads. */
    public AioModule(int threads) {
        if (threads < 1 || threads > 1024) {
            throw new IllegalArgumentException(THREADS_PROPERTY + "=" + threads + ": must be between 1 and 1024");
        }
        this.pool = new IoThreads.Shared("spindle-aio", threads, 4096);
    }

    @Override
    public String name() {
        return "aio";
    }

    /** One task per pooled I/O (SPDK's {@code get_ctx_size}). */
    @Override
    public Object newIoContext() {
        return new AioTask();
    }

    /** Tests: false makes bdevs created afterwards copy through bounce buffers instead of raw pread/pwrite. */
    void allowRawIo(boolean allow) {
        this.allowRawIo = allow;
    }

    /**
     * Options of {@code bdev_aio_create}.
     *
     * @param blockSize 0: detect it (a block device's logical block size; a regular file has none, as in SPDK)
     * @param fallocate accepted and reported as SPDK's; Spindle supports UNMAP and WRITE_ZEROES either way
     */
    public record Options(String name, String filename, int blockSize, boolean readonly, boolean fallocate, UUID uuid) {
        /** A writable aio bdev on {@code filename} with the given block size. */
        public static Options of(String name, String filename, int blockSize) {
            return new Options(name, filename, blockSize, false, false, null);
        }
    }

    // ------------------------------------------------------------------ control plane

    /**
     * Opens the file and registers an aio bdev (SPDK's {@code bdev_aio_create}). Fails with {@link BdevException}
     * naming the file: ENOENT (missing), EISDIR (a directory), EACCES (no permission), EINVAL (not a regular file or
     * block device; block size absent for a regular file, below the detected one, below 512 or not a power of two;
     * file size not a multiple of the block size or 0), EEXIST (name in use). Any thread.
     */
    public CompletionStage<Bdev> create(BdevLayer layer, Options o) {
        return CompletableFuture.supplyAsync(() -> open(o), layer.blockingExecutor()).thenCompose(disk -> {
            Driver d = new Driver(this, disk, layer, pool.acquire());
            BdevSpec spec = BdevSpec.builder(this, d).name(o.name()).productName("AIO disk").blockSize(disk.blockSize)
                    .numBlocks(disk.numBlocks).uuid(o.uuid()).writeCache(true).requiredAlignment(disk.alignment).build();
            return layer.register(spec).whenComplete((b, err) -> {
                if (err != null) {
                    disk.closeQuietly();
                    pool.release();
                } else {
                    disks.put(b.name(), disk);
                }
            });
        });
    }

    /** Unregisters an aio bdev (SPDK's {@code bdev_aio_delete}): 0, or ENODEV when {@code name} is not one. */
    public CompletionStage<Integer> delete(BdevLayer layer, String name) {
        Bdev b = layer.get(name);
        if (b == null || b.module() != this) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        return layer.unregister(name);
    }

    /**
     * SPDK's {@code bdev_aio_rescan}: reads the file's size again. Size 0: the device is gone, the bdev is deleted.
     * Another size: the block count changes and open descriptors get RESIZE (shrinking while descriptors are open
     * is EBUSY, as the layer refuses it). Completes with 0, ENODEV (not an aio bdev), or the resize's errno.
     */
    public CompletionStage<Integer> rescan(BdevLayer layer, String name) {
        Bdev b = layer.get(name);
        if (b == null || b.module() != this) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        Disk disk = disks.get(b.name());
        if (disk == null) {
            return CompletableFuture.completedFuture(Errno.ENODEV);
        }
        return CompletableFuture.supplyAsync(() -> {
            try {
                return disk.currentSize();
            } catch (IOException e) {
                return 0L;
            }
        }, layer.blockingExecutor()).thenCompose(size -> {
            if (size == 0) {
                disk.tryHotRemove(layer);
                return CompletableFuture.completedFuture(Errno.OK);
            }
            long blocks = size / disk.blockSize;
            if (blocks == b.numBlocks()) {
                return CompletableFuture.completedFuture(Errno.OK);
            }
            LOG.info("aio {}: {} resized: old block count {}, new block count {}", name, disk.path, b.numBlocks(), blocks);
            disk.fileBlocks = blocks;
            return layer.resize(name, blocks).thenApply(rc -> {
                if (rc == Errno.OK) {
                    disk.numBlocks = blocks;
                }
                return rc;
            });
        });
    }

    @Override
    public CompletionStage<Void> fini(BdevHost host) {
        return pool.shutdown();
    }

    /** The disk of the aio bdev {@code name}, or null (tests). */
    Disk disk(String name) {
        return disks.get(name);
    }

    /** Opens and checks the file, as SPDK's {@code create_aio_bdev}; on a fork-join thread. */
    private Disk open(Options o) {
        String where = "bdev_aio_create name=" + o.name() + " filename=" + o.filename();
        if (o.name() == null || o.name().isEmpty()) {
            throw new BdevException(Errno.EINVAL, where + ": name must not be empty");
        }
        Path p = Path.of(o.filename());
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(p, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new BdevException(Errno.ENOENT, where + ": no such file");
        } catch (AccessDeniedException e) {
            throw new BdevException(Errno.EACCES, where + ": permission denied");
        } catch (IOException e) {
            throw new BdevException(Errno.EIO, where + ": " + e);
        }
        if (a.isDirectory()) {
            throw new BdevException(Errno.EISDIR, where + ": is a directory, not a file or block device");
        }
        boolean blockDevice = a.isOther() && isBlockDevice(p);
        if (!a.isRegularFile() && !blockDevice) {
            throw new BdevException(Errno.EINVAL, where + ": not a regular file or a block device");
        }
        int detected = blockDevice ? sysfsInt(p, "queue/logical_block_size") : 0;
        int bs = o.blockSize();
        boolean override = bs != 0;
        if (bs == 0) {
            if (detected == 0) {
                throw new BdevException(Errno.EINVAL, where + ": block_size cannot be detected for a regular file; give block_size");
            }
            bs = detected;
        } else if (bs < detected) {
            throw new BdevException(Errno.EINVAL, where + ": block_size=" + bs + " is below the device's logical block size " + detected);
        } else if (detected != 0 && bs != detected) {
            LOG.warn("{}: block_size={} differs from the detected {}", where, bs, detected);
        }
        if (bs < 512 || Integer.bitCount(bs) != 1) {
            throw new BdevException(Errno.EINVAL, where + ": block_size=" + bs + ": must be a power of two >= 512");
        }
        int fsBlock;
        try {
            fsBlock = (int) Math.min(4096, Math.max(512, Files.getFileStore(p).getBlockSize()));
        } catch (IOException | UnsupportedOperationException e) {
            fsBlock = 4096;
        }
        if (blockDevice && detected > 0) {
            fsBlock = detected;
        }
        boolean tryDirect = bs % fsBlock == 0;
        FileIo f = null;
        boolean direct = false;
        try {
            if (tryDirect) {
                try {
                    f = FileIo.open(p, o.readonly(), true, allowRawIo);
                    direct = true;
                } catch (IOException e) {
                    LOG.info("{}: O_DIRECT refused ({}); opening buffered", where, e.toString());
                }
            }
            if (f == null) {
                f = FileIo.open(p, o.readonly(), false, allowRawIo);
            }
        } catch (AccessDeniedException e) {
            throw new BdevException(Errno.EACCES, where + ": permission denied (open " + (o.readonly() ? "read-only" : "read-write")
                    + (o.readonly() ? "" : "; readonly=true opens it read-only") + ")");
        } catch (NoSuchFileException e) {
            throw new BdevException(Errno.ENOENT, where + ": no such file");
        } catch (IOException e) {
            throw new BdevException(Errno.EIO, where + ": cannot open: " + e);
        }
        Disk d = new Disk(o, p, f, direct, bs, override, direct ? fsBlock : 1, blockDevice);
        long size;
        try {
            size = d.currentSize();
        } catch (IOException e) {
            d.closeQuietly();
            throw new BdevException(Errno.EIO, where + ": cannot read the size: " + e);
        }
        if (size == 0 || size % bs != 0) {
            d.closeQuietly();
            throw new BdevException(Errno.EINVAL, where + ": size " + size + " bytes is " + (size == 0 ? "empty" : "not a multiple of block_size=" + bs));
        }
        d.numBlocks = size / bs;
        d.fileBlocks = d.numBlocks;
        return d;
    }

    private static boolean isBlockDevice(Path p) {
        try {
            Object mode = Files.getAttribute(p, "unix:mode");
            return mode instanceof Integer m && (m & 0170000) == 0060000;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return false;
        }
    }

    /** An integer from {@code /sys/class/block/<dev>/<file>} (or the parent device's, for a partition); 0 when unknown. */
    static long sysfsLong(Path dev, String file) {
        try {
            String name = dev.toRealPath().getFileName().toString();
            Path base = Path.of("/sys/class/block", name);
            Path f = base.resolve(file);
            if (!Files.exists(f)) {
                f = base.toRealPath().getParent().resolve(file);
            }
            return Long.parseLong(Files.readString(f).trim());
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static int sysfsInt(Path dev, String file) {
        return (int) sysfsLong(dev, file);
    }

    // ------------------------------------------------------------------ the disk

    /** One open file: SPDK's {@code struct file_disk}. Immutable after create except the block count and flags. */
    static final class Disk {
        final String name;
        final String filename;
        final Path path;
        final FileIo file;
        final boolean direct;
        final int blockSize;
        final boolean blockSizeOverride;
        final int alignment;
        final boolean readonly;
        final boolean fallocate;
        final boolean blockDevice;
        volatile long numBlocks;
        /** The blocks the file held when last measured (create, rescan): what {@code acceptResize} allows. */
        volatile long fileBlocks;
        /** The file system said it cannot punch holes: zero ranges by writing. */
        volatile boolean noPunchHole;
        final AtomicBoolean hotRemoveInProgress = new AtomicBoolean();
        private final AtomicBoolean errorLogged = new AtomicBoolean();
        /** Live channels, for RESET's in-flight check. */
        final CopyOnWriteArrayList<Channel> channels = new CopyOnWriteArrayList<>();
        private volatile DmaBuffer zeroes;

        Disk(Options o, Path path, FileIo file, boolean direct, int blockSize, boolean override, int alignment, boolean blockDevice) {
            this.name = o.name();
            this.filename = o.filename();
            this.path = path;
            this.file = file;
            this.direct = direct;
            this.blockSize = blockSize;
            this.blockSizeOverride = override;
            this.alignment = alignment;
            this.readonly = o.readonly();
            this.fallocate = o.fallocate();
            this.blockDevice = blockDevice;
        }

        long currentSize() throws IOException {
            return blockDevice ? sysfsLong(path, "size") * 512 : file.size();
        }

        /** I/O thread, after a failure: whether the device now reads as size 0 (gone). */
        boolean looksRemoved() {
            try {
                return currentSize() == 0;
            } catch (IOException e) {
                return true;
            }
        }

        void reportError(AioTask t, Throwable e) {
            if (errorLogged.compareAndSet(false, true)) {
                LOG.error("aio {}: {} failed: {} (further errors of this bdev at debug level)", name, t, e.toString());
            } else {
                LOG.debug("aio {}: {} failed: {}", name, t, e.toString());
            }
        }

        /** I/O thread: the range reads back as zeroes afterwards; a hole where possible, else written zeroes. */
        void zero(long pos, long len, IoThreads.Scratch b) throws IOException {
            if (!noPunchHole) {
                int rc = file.punchHole(pos, len);
                if (rc == 0) {
                    return;
                }
                LOG.info("aio {}: fallocate(PUNCH_HOLE) failed with errno {}; zero ranges are written from now on", name, rc);
                noPunchHole = true;
            }
            DmaBuffer z = zeroBuffer();
            long chunk = z.capacity();
            while (len > 0) {
                long n = Math.min(len, chunk);
                file.write(z.address(), n, pos, b.bounce());
                pos += n;
                len -= n;
            }
        }

        private DmaBuffer zeroBuffer() {
            DmaBuffer z = zeroes;
            if (z == null) {
                synchronized (this) {
                    z = zeroes;
                    if (z == null) {
                        z = DmaBuffer.allocate(128 * 1024, 4096); // once per disk that cannot punch holes; zeroed below
                        z.fill(0, z.capacity(), (byte) 0);
                        zeroes = z;
                    }
                }
            }
            return z;
        }

        /** Deletes the bdev once, on the app thread (SPDK's {@code bdev_aio_try_hot_remove}). */
        void tryHotRemove(BdevLayer layer) {
            if (hotRemoveInProgress.compareAndSet(false, true)) {
                LOG.error("aio {}: hot-remove detected ({} reads size 0), unregistering the bdev", name, filename);
                Vbdevs.onApp(layer, () -> layer.unregister(name));
            }
        }

        long totalInFlight() {
            long n = 0;
            for (Channel c : channels) {
                n += c.inFlight();
            }
            return n;
        }

        void closeQuietly() {
            try {
                file.close();
            } catch (IOException e) {
                LOG.warn("aio {}: close of {} failed: {}", name, filename, e.toString());
            }
            DmaBuffer z = zeroes;
            if (z != null) {
                z.close();
            }
        }
    }

    // ------------------------------------------------------------------ channel

    /**
     * One reactor's channel of an aio bdev: the inbox the I/O threads hand finished tasks to, drained by its poller.
     * {@link #inFlight} is written by the owner reactor only (release) and read by RESET from any reactor (acquire).
     */
    static final class Channel {
        private static final VarHandle IN_FLIGHT;

        static {
            try {
                IN_FLIGHT = MethodHandles.lookup().findVarHandle(Channel.class, "inFlightField", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final Disk disk;
        final BdevLayer layer;
        final ReactorInbox<AioTask> inbox;
        boolean destroyed;
        @SuppressWarnings("unused") // through IN_FLIGHT
        private int inFlightField;

        Channel(Reactor reactor, Disk disk, BdevLayer layer, int capacity) {
            this.disk = disk;
            this.layer = layer;
            this.inbox = new ReactorInbox<>(reactor, capacity, this::finish);
        }

        int inFlight() {
            return (int) IN_FLIGHT.getAcquire(this);
        }

        private void addInFlight(int d) {
            IN_FLIGHT.setRelease(this, (int) IN_FLIGHT.get(this) + d);
        }

        /** Owner reactor: a task came back from an I/O thread; complete its I/O. */
        private void finish(AioTask t) {
            addInFlight(-1);
            ModuleIo io = t.io;
            t.io = null;
            if (t.detached) {
                disk.tryHotRemove(layer);
            }
            io.complete(t.status);
        }

        void submit(AioTask t, IoThreads pool) {
            addInFlight(1);
            if (!pool.submit(t)) {
                addInFlight(-1);
                ModuleIo io = t.io;
                t.io = null;
                io.complete(IoStatus.NOMEM); // the submission queue is full: the layer retries
            }
        }
    }

    // ------------------------------------------------------------------ driver

    /** The per-bdev driver. */
    static final class Driver implements BdevDriver<Channel> {
        final AioModule module;
        final Disk disk;
        final BdevLayer layer;
        private final IoThreads pool;

        Driver(AioModule module, Disk disk, BdevLayer layer, IoThreads pool) {
            this.module = module;
            this.disk = disk;
            this.layer = layer;
            this.pool = pool;
        }

        @Override
        public boolean supports(IoType type) {
            return switch (type) {
                case READ, WRITE, FLUSH, RESET -> true;
                case UNMAP, WRITE_ZEROES -> !disk.readonly;
                default -> false;
            };
        }

        /**
         * The resize capability: any count the file holds, as last measured (at create and by
         * {@code bdev_aio_rescan}, which asks for exactly that); more would read past the end of the file. Shrinks
         * are accepted (the layer refuses them with EBUSY while descriptors are open).
         */
        @Override
        public int acceptResize(BdevView bdev, long newNumBlocks) {
            return newNumBlocks <= disk.fileBlocks ? Errno.OK : Errno.EINVAL;
        }

        @Override
        public Channel createChannel(BdevView bdev, Reactor reactor) {
            int cap = Integer.highestOneBit(Math.max(64, layer.options().ioPoolSize()) * 2 - 1);
            Channel ch = new Channel(reactor, disk, layer, cap);
            ch.inbox.start("bdev_aio_" + bdev.name());
            disk.channels.add(ch);
            return ch;
        }

        /**
         * I/O still at an I/O thread writes into its caller's memory until it comes back, so it cannot be aborted:
         * wait for it (a reactor gives its channels back only after its I/O completed, so this is the abnormal
         * case of a forced stop), then complete it.
         */
        @Override
        public void destroyChannel(BdevView bdev, Reactor reactor, Channel ch) {
            ch.inbox.stop();
            ch.destroyed = true;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (ch.inFlight() > 0) {
                if (ch.inbox.drain() == 0) {
                    if (System.nanoTime() - deadline > 0) {
                        LOG.error("aio {}: {} I/O still at the I/O threads after 30 s at channel destroy on {}", disk.name, ch.inFlight(), reactor.name());
                        break;
                    }
                    LockSupport.parkNanos(10_000);
                }
            }
            disk.channels.remove(ch);
        }

        @Override
        public void submit(ModuleIo io, Channel ch) {
            if (ch.destroyed) {
                io.complete(IoStatus.ABORTED);
                return;
            }
            IoType t = io.type();
            switch (t) {
                case READ, FLUSH -> {
                    // below
                }
                case WRITE, UNMAP, WRITE_ZEROES -> {
                    if (disk.readonly) {
                        io.complete(IoStatus.FAILED); // SPDK: a write to a readonly aio bdev fails
                        return;
                    }
                }
                case RESET -> {
                    reset(io);
                    return;
                }
                default -> {
                    io.complete(IoStatus.FAILED);
                    return;
                }
            }
            AioTask task = (AioTask) io.moduleContext();
            task.prepare(io, disk, ch);
            ch.submit(task, pool);
        }

        /**
         * SPDK's {@code bdev_aio_reset}: the layer has frozen every channel; complete once no channel of this bdev has
         * I/O at the I/O threads, looking every {@value AioModule#RESET_CHECK_MICROS} µs (nothing can be cancelled
         * there).
         */
        private void reset(ModuleIo io) {
            if (disk.totalInFlight() == 0) {
                io.complete(IoStatus.SUCCESS);
                return;
            }
            Reactor r = Reactor.currentOrThrow("bdev_aio reset");
            Poller[] holder = new Poller[1];
            holder[0] = r.registerPoller("bdev_aio_reset_" + disk.name, () -> {
                if (disk.totalInFlight() != 0) {
                    return 0;
                }
                holder[0].unregister();
                io.complete(IoStatus.SUCCESS);
                return 1;
            }, RESET_CHECK_MICROS, TimeUnit.MICROSECONDS);
        }

        @Override
        public CompletionStage<Void> destruct() {
            module.disks.remove(disk.name, disk);
            disk.closeQuietly();
            return module.pool.release();
        }

        @Override
        public void dumpInfo(ObjectNode ds) {
            ds.put("filename", disk.filename);
            ds.put("block_size_override", disk.blockSizeOverride);
            ds.put("readonly", disk.readonly);
            ds.put("fallocate", disk.fallocate);
            ds.put("nowait", false);
            ds.put("o_direct", disk.direct); // Spindle: whether the file is open with O_DIRECT
        }

        @Override
        public ObjectNode writeConfig(BdevView bdev) {
            ObjectNode call = JsonNodeFactory.instance.objectNode();
            call.put("method", "bdev_aio_create");
            ObjectNode p = call.putObject("params");
            p.put("name", bdev.name());
            if (disk.blockSizeOverride) {
                p.put("block_size", disk.blockSize);
            }
            p.put("filename", disk.filename);
            p.put("readonly", disk.readonly);
            p.put("fallocate", disk.fallocate);
            p.put("uuid", bdev.uuid().toString());
            p.put("nowait", false);
            return call;
        }
    }
}
