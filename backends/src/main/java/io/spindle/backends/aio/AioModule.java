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
 * {@code io_context} per channel. Spindle has two engines, chosen by {@value #ENGINE_PROPERTY}
 * ({@code auto}, the default: io_uring when {@code io_uring_setup} works here, else threads, with one log line
 * saying why; {@code uring}; {@code threads}); {@code bdev_get_bdevs} says which engine each bdev's channels
 * actually use ({@code driver_specific.aio.engine}: {@code io_uring}, {@code threads}, or {@code mixed}, with
 * {@code channels_on_io_uring} and {@code channels_on_threads}; see the channel fallback below).
 *
 * <p><b>io_uring</b> (x86_64 Linux 5.6+): each channel (one per reactor per bdev) has a ring of its own
 * ({@link UringQueue}, {@link IoUring}); the reactor fills an SQE per READ, WRITE or FLUSH (fdatasync) on a descriptor
 * the module opened itself with the bdev's flags, submits them with one {@code io_uring_enter} per poller run, and
 * reaps completions from the mapped CQ without a system call. No thread wake-up, no context switch per I/O. Java 17
 * has no foreign-function API and no io_uring library is among Spindle's dependencies, so the three system calls
 * and {@code mmap} go through JNA's direct mapping ({@link LibC}; JNA is already on the classpath for OpenHFT
 * affinity), allocation-free. UNMAP and WRITE_ZEROES ({@code fallocate}) stay on the I/O threads below.
 *
 * <p><b>Ring size.</b> A channel's ring has as many entries as the channel's capacity (the bdev layer's I/O pool per
 * reactor, rounded up to a power of two), at most {@value #MAX_RING_ENTRIES}. A channel asked for a deeper queue
 * ({@code spindle.bdev.io-pool-size} or {@code bdev_io_pool_size} above the cap) keeps {@value #MAX_RING_ENTRIES}
 * requests at the kernel: the I/O beyond them completes {@link IoStatus#NOMEM} at submit, never having left, waits in
 * the bdev layer's NOMEM queue (SPDK's {@code nomem_io}) and is resubmitted as the ring's I/O complete (no spinning:
 * the retry is driven by completions, or by the layer's 10 ms timer when none is outstanding).
 *
 * <p><b>Channel fallback.</b> A channel whose ring cannot be created ({@code io_uring_setup} or the rings' {@code mmap}
 * refused: ENOMEM for RLIMIT_MEMLOCK or the memory cgroup, EMFILE, ...) runs its I/O on the I/O threads instead;
 * the first such channel of a bdev is logged at WARN with the errno and the likely reason (later ones at debug), and
 * {@code bdev_get_bdevs} reports it: {@code engine} is {@code mixed} (or {@code threads} when no channel has a ring),
 * {@code channels_on_threads} counts those channels and {@code io_uring_fallback} gives the reason.
 *
 * <p><b>Threads</b> (the fallback, and UNMAP/WRITE_ZEROES with io_uring): every other file system call runs on a small
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
 * common fork-join pool, never on a reactor. The driver's submit, channel methods and pollers run on the channel's
 * reactor, which alone owns the channel's ring; the blocking system calls on the I/O threads.
 */
public final class AioModule implements BdevModule {
    private static final Logger LOG = LoggerFactory.getLogger(AioModule.class);
    /** System property: the number of I/O threads ({@value #DEFAULT_THREADS} by default). */
    public static final String THREADS_PROPERTY = "spindle.aio.io-threads";
    /** Default number of I/O threads. */
    public static final int DEFAULT_THREADS = 4;
    /** System property: the I/O engine, {@code auto} (default), {@code uring} or {@code threads}. */
    public static final String ENGINE_PROPERTY = "spindle.aio.engine";
    /**
     * Largest io_uring per channel (entries); the channel's capacity when smaller. A channel with a deeper queue keeps
     * this many requests at the kernel and completes the rest NOMEM at submit, for the bdev layer to retry as ring
     * I/O completes.
     */
    static final int MAX_RING_ENTRIES = 4096;
    private static final java.util.concurrent.atomic.AtomicBoolean FALLBACK_LOGGED = new java.util.concurrent.atomic.AtomicBoolean();

    /** The I/O engines ({@value #ENGINE_PROPERTY}). */
    public enum Engine {
        /** io_uring when it works on this kernel and architecture, else threads. */
        AUTO,
        /** io_uring; {@code bdev_aio_create} fails (ENOTSUP, naming the reason) where it cannot work. */
        URING,
        /** The I/O thread pool for every system call. */
        THREADS;

        /** Parses a {@value #ENGINE_PROPERTY} value. */
        static Engine parse(String v) {
            return switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "auto" -> AUTO;
                case "uring", "io_uring" -> URING;
                case "threads" -> THREADS;
                default -> throw new IllegalArgumentException(ENGINE_PROPERTY + "=" + v + ": must be auto, uring or threads");
            };
        }
    }
    /** How often a RESET looks again for I/O still in flight (SPDK: 500 µs). */
    static final long RESET_CHECK_MICROS = 500;

    private final IoThreads.Shared pool;
    private volatile boolean allowRawIo = true;
    /** True: bdevs use io_uring; false: threads. */
    private final boolean uring;
    /** Why io_uring is not used, or null. */
    private final String uringUnavailable;
    private final Engine engine;
    /**
     * Tests: the ring entries of a channel by its reactor's index instead of the channel's capacity (0: from the
     * capacity); null: from the capacity everywhere.
     */
    private volatile java.util.function.IntUnaryOperator ringEntries;
    /** Registered disks by bdev name (for rescan). */
    private final java.util.concurrent.ConcurrentHashMap<String, Disk> disks = new java.util.concurrent.ConcurrentHashMap<>();

    /** The module, found by ServiceLoader; the I/O thread count from {@value #THREADS_PROPERTY}. */
    public AioModule() {
        this(Integer.getInteger(THREADS_PROPERTY, DEFAULT_THREADS));
    }

    /**
     * Tasks the I/O threads' queue holds (every aio bdev's, shared): an I/O that finds it full completes NOMEM at
     * submit, never having left, and the bdev layer retries it as I/O complete.
     */
    static final int IO_QUEUE_CAPACITY = 4096;

    /** A module whose pool has {@code threads} I/O threads; the engine from {@value #ENGINE_PROPERTY}. */
    public AioModule(int threads) {
        this(threads, Engine.parse(System.getProperty(ENGINE_PROPERTY, "auto")));
    }

    /** A module whose pool has {@code threads} I/O threads, on {@code engine}. */
    public AioModule(int threads, Engine engine) {
        this(threads, engine, IO_QUEUE_CAPACITY);
    }

    /** Tests: as {@link #AioModule(int, Engine)}, with the I/O threads' queue holding {@code queueCapacity} tasks. */
    AioModule(int threads, Engine engine, int queueCapacity) {
        if (threads < 1 || threads > 1024) {
            throw new IllegalArgumentException(THREADS_PROPERTY + "=" + threads + ": must be between 1 and 1024");
        }
        this.pool = new IoThreads.Shared("spindle-aio", threads, queueCapacity);
        this.engine = engine;
        String why = engine == Engine.THREADS ? ENGINE_PROPERTY + "=threads" : uringProbe();
        this.uringUnavailable = why;
        this.uring = why == null;
        if (engine == Engine.AUTO && why != null && FALLBACK_LOGGED.compareAndSet(false, true)) {
            LOG.info("aio: io_uring unavailable ({}); file I/O runs on the I/O thread pool", why);
        }
    }

    /** Why io_uring cannot be used in this process, or null when it can (probed once). */
    static String uringProbe() {
        return UringProbe.WHY;
    }

    /** The probe's answer, made once, on the first {@link #uringProbe} (the class-initialisation idiom). */
    private static final class UringProbe {
        static final String WHY = probe();

        private static String probe() {
            try {
                return IoUring.probe();
            } catch (LinkageError e) { // JNA's classes absent or unloadable
                return "JNA cannot load: " + e;
            }
        }
    }

    /** Closes the file of a create that is being refused (its error is the one to report, not the close's). */
    private static void closeRefused(FileIo f) {
        try {
            f.close();
        } catch (IOException ignored) {
            // refused anyway
        }
    }

    /**
     * The engine the module chose for its bdevs: {@code "io_uring"} or {@code "threads"}. A channel whose ring cannot
     * be created still runs on threads; {@code bdev_get_bdevs} ({@code driver_specific.aio.engine}) reports what each
     * bdev's channels really use. Any thread.
     */
    public String engineName() {
        return uring ? "io_uring" : "threads";
    }

    /** Tests: each channel's ring gets {@code entries} (a power of two) instead of the channel's capacity. */
    void ringEntries(int entries) {
        this.ringEntries = r -> entries;
    }

    /**
     * Tests: the channel on the reactor of index {@code r} gets a ring of {@code byReactor(r)} entries (a power of two;
     * 0: from the channel's capacity). Above {@link IoUring#MAX_ENTRIES} the kernel refuses the ring (EINVAL), which
     * makes that channel fall back to the I/O threads.
     */
    void ringEntriesByReactor(java.util.function.IntUnaryOperator byReactor) {
        this.ringEntries = byReactor;
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
        int ringFd = -1;
        if (engine == Engine.URING && !uring) {
            closeRefused(f);
            throw new BdevException(Errno.ENOTSUP, where + ": " + ENGINE_PROPERTY + "=uring but io_uring is unavailable: " + uringUnavailable);
        }
        if (uring) {
            try {
                ringFd = IoUring.open(p.toString(), o.readonly(), direct);
            } catch (IoUring.UringException e) {
                closeRefused(f);
                throw new BdevException(Errno.EIO, where + ": cannot open for io_uring: " + e.getMessage());
            }
        }
        Disk d = new Disk(o, p, f, direct, bs, override, direct ? fsBlock : 1, blockDevice, ringFd);
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

    /** The likely cause of an {@code io_uring_setup} or ring {@code mmap} refusal with {@code errno} (positive). */
    static String ringErrnoCause(int errno) {
        return switch (errno) {
            case 12 -> "ENOMEM: no memory for the ring: RLIMIT_MEMLOCK (ulimit -l; ring memory counts against it before"
                    + " Linux 5.12) or the memory cgroup";
            case 24, 23 -> (errno == 24 ? "EMFILE" : "ENFILE") + ": out of file descriptors";
            case 22 -> "EINVAL: the kernel refuses the ring's parameters (entries above " + IoUring.MAX_ENTRIES + "?)";
            case 1 -> "EPERM: io_uring not permitted (sysctl kernel.io_uring_disabled, seccomp)";
            default -> "errno " + errno;
        };
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
        /** io_uring completions of the channels destroyed so far (statistics, tests). */
        final java.util.concurrent.atomic.AtomicLong ringCompletions = new java.util.concurrent.atomic.AtomicLong();
        /** I/O a full ring refused with NOMEM, for the layer to retry, in the channels destroyed so far (statistics, tests). */
        final java.util.concurrent.atomic.AtomicLong ringFullRefusals = new java.util.concurrent.atomic.AtomicLong();
        /** I/O the full I/O threads' queue refused with NOMEM, in the channels destroyed so far (statistics, tests). */
        final java.util.concurrent.atomic.AtomicLong threadsFullRefusals = new java.util.concurrent.atomic.AtomicLong();
        /** Whether a channel's ring could not be created yet: the first is logged at WARN, the others at debug. */
        private final AtomicBoolean ringFallbackLogged = new AtomicBoolean();
        /** Why the last channel that could not make its ring runs on the I/O threads, or null (bdev_get_bdevs). */
        volatile String ringFallbackReason;
        private final AtomicBoolean errorLogged = new AtomicBoolean();
        /** Live channels, for RESET's in-flight check. */
        final CopyOnWriteArrayList<Channel> channels = new CopyOnWriteArrayList<>();
        private volatile DmaBuffer zeroes;
        /** The descriptor the io_uring engine's rings use (opened with the same flags as {@link #file}); -1: threads. */
        final int ringFd;

        Disk(Options o, Path path, FileIo file, boolean direct, int blockSize, boolean override, int alignment, boolean blockDevice,
             int ringFd) {
            this.ringFd = ringFd;
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

        /**
         * A channel's ring could not be created ({@code e}): remembered for {@code bdev_get_bdevs}, logged at WARN
         * the first time for this bdev (with the errno and its likely cause), at debug after. The channel's reactor.
         */
        void onRingFallback(Reactor reactor, IoUring.UringException e) {
            String why = e.getMessage() + " (" + ringErrnoCause(e.errno) + ")";
            ringFallbackReason = why;
            if (ringFallbackLogged.compareAndSet(false, true)) {
                LOG.warn("aio {}: the io_uring of the channel on {} cannot be created: {}; that channel's I/O runs on the"
                        + " I/O thread pool (bdev_get_bdevs: driver_specific.aio.channels_on_threads; further channels of this"
                        + " bdev at debug level)", name, reactor.name(), why);
            } else {
                LOG.debug("aio {}: the io_uring of the channel on {} cannot be created: {}; I/O thread pool", name, reactor.name(), why);
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
            if (ringFd >= 0) {
                int rc = LibC.close(ringFd);
                if (rc != 0) {
                    LOG.warn("aio {}: close of the io_uring descriptor of {} failed: errno={}", name, filename, rc);
                }
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
        /** The channel's io_uring, or null (threads engine, or its ring could not be created). */
        UringQueue uring;
        /** I/O the full ring refused with NOMEM (owner reactor; added to the disk's total at destroy). */
        long ringFullRefusals;
        /** I/O the full I/O threads' queue refused with NOMEM (owner reactor; added to the disk's total at destroy). */
        long threadsFullRefusals;
        IoThreads pool;
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

        /** Owner reactor: the ring completed {@code t} successfully. */
        void finishFromRing(AioTask t, IoStatus status) {
            t.status = status;
            finish(t);
        }

        /**
         * Owner reactor: the ring failed {@code t}; an I/O thread logs it and checks for a removed device (blocking
         * calls), then the inbox completes it. With the pool's queue full it completes FAILED at once, unchecked.
         */
        void failFromRing(AioTask t) {
            t.failedAtRing = true;
            t.status = IoStatus.FAILED;
            if (!pool.submit(t)) {
                finish(t);
            }
        }

        /** Owner reactor: READ, WRITE and FLUSH to the ring; NOMEM when it is full (the layer retries). */
        void submitRing(AioTask t) {
            addInFlight(1);
            if (!uring.start(t)) {
                ringFullRefusals++;
                refuseFull(t);
            }
        }

        /** The ring or the I/O threads' queue is full: {@code t} never left; NOMEM, and the layer retries it. */
        private void refuseFull(AioTask t) {
            addInFlight(-1);
            ModuleIo io = t.io;
            t.io = null;
            io.complete(IoStatus.NOMEM);
        }

        void submit(AioTask t, IoThreads pool) {
            addInFlight(1);
            if (!pool.submit(t)) {
                threadsFullRefusals++;
                refuseFull(t);
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
            ch.pool = pool;
            ch.inbox.start("bdev_aio_" + bdev.name());
            if (disk.ringFd >= 0) {
                java.util.function.IntUnaryOperator hook = module.ringEntries;
                int asked = hook == null ? 0 : hook.applyAsInt(reactor.index());
                int entries = asked > 0 ? asked : Math.min(cap, MAX_RING_ENTRIES);
                try {
                    IoUring ring = IoUring.create(entries);
                    ch.uring = new UringQueue(ch, ring, disk.ringFd);
                    ch.uring.startPollers(reactor, bdev.name());
                } catch (IoUring.UringException e) {
                    // this channel still works, through the I/O threads; dumpInfo reports it
                    disk.onRingFallback(reactor, e);
                }
            }
            disk.channels.add(ch); // publishes ch.uring to dumpInfo's readers (the list's volatile array)
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
            UringQueue u = ch.uring;
            if (u != null) {
                // what the kernel still holds writes into its callers' memory until its CQE: reap it all first
                if (!u.drain(deadline)) {
                    LOG.error("aio {}: {} I/O still at the io_uring after 30 s at channel destroy on {}", disk.name, u.inFlight(), reactor.name());
                }
                u.close();
                disk.ringCompletions.addAndGet(u.reaped());
                disk.ringFullRefusals.addAndGet(ch.ringFullRefusals);
            }
            while (ch.inFlight() > 0) {
                if (ch.inbox.drain() == 0) {
                    if (System.nanoTime() - deadline > 0) {
                        LOG.error("aio {}: {} I/O still at the I/O threads after 30 s at channel destroy on {}", disk.name, ch.inFlight(), reactor.name());
                        break;
                    }
                    LockSupport.parkNanos(10_000);
                }
            }
            disk.threadsFullRefusals.addAndGet(ch.threadsFullRefusals);
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
            if (ch.uring != null && t != IoType.UNMAP && t != IoType.WRITE_ZEROES) {
                ch.submitRing(task);
            } else {
                ch.submit(task, pool);
            }
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

        /**
         * {@code engine} is what the live channels use: {@code threads} when the bdev has no io_uring descriptor or
         * every channel fell back, {@code mixed} when some did, else {@code io_uring} (also before any channel exists).
         * With io_uring, {@code channels_on_io_uring} and {@code channels_on_threads} count the live channels, and
         * {@code io_uring_fallback} says why the last channel that fell back could not make its ring. Any thread.
         */
        @Override
        public void dumpInfo(ObjectNode ds) {
            ds.put("filename", disk.filename);
            ds.put("block_size_override", disk.blockSizeOverride);
            ds.put("readonly", disk.readonly);
            ds.put("fallocate", disk.fallocate);
            ds.put("nowait", false);
            ds.put("o_direct", disk.direct); // Spindle: whether the file is open with O_DIRECT
            // Spindle: how file I/O reaches the kernel, as the channels really do it
            if (disk.ringFd < 0) {
                ds.put("engine", "threads");
                return;
            }
            int onRing = 0;
            int onThreads = 0;
            for (Channel c : disk.channels) {
                if (c.uring != null) {
                    onRing++;
                } else {
                    onThreads++;
                }
            }
            ds.put("engine", onThreads == 0 ? "io_uring" : onRing == 0 ? "threads" : "mixed");
            ds.put("channels_on_io_uring", onRing);
            ds.put("channels_on_threads", onThreads);
            String why = disk.ringFallbackReason;
            if (onThreads > 0 && why != null) {
                ds.put("io_uring_fallback", why);
            }
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
