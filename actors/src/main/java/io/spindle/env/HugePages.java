package io.spindle.env;

import net.openhft.chronicle.core.OS;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Huge-page backed memory from a hugetlbfs mount, the way SPDK's env layer gets its memory: a file is created on the
 * mount, sized to a multiple of the huge page size, mapped read-write shared, and unlinked at once (the mapping keeps
 * its pages; a crash leaks none, the kernel frees them with the last mapping). Linux reserves a shared hugetlbfs
 * mapping's pages at {@code mmap} time, so a mapping either fails there (ENOMEM) or can be touched in full without a
 * SIGBUS later ({@code HugePagesTest} checks the ENOMEM on this machine). Why hugetlbfs and not
 * {@code madvise(MADV_HUGEPAGE)}: Spindle may use no native-access library, and hugetlbfs needs none (a file, an
 * ftruncate and a map through Chronicle Core's {@link OS#map}); it also gives guaranteed 2 MiB pages where THP's
 * madvise gives them only when the kernel finds them, and it is what SPDK measures on.
 *
 * <p><b>Policy</b> (process-wide; {@code spindle.memory.huge-pages}, bdevperf's and tgt's {@code --huge}/{@code --no-huge}):
 * {@link Mode#AUTO} (default) uses huge pages when a hugetlbfs mount with free pages is there and otherwise falls back
 * to normal pages with one log line per process; {@link Mode#ON} makes a start fail when there is no usable mount
 * ({@link #configure}) and a malloc bdev create fail when its pages cannot be had (DMA buffers, which cannot fail,
 * still fall back with the log line); {@link Mode#OFF} never uses them.
 *
 * <p><b>Threads:</b> every method may be called from any thread. {@link #map} creates, maps and unlinks a file: a
 * control-plane call (tens of microseconds plus the kernel's zeroing of each page on first touch), never per I/O.
 *
 * <p><b>Ownership:</b> a {@link HugeRegion} from {@link #map} belongs to its caller, who must {@link HugeRegion#close()}
 * it (unmapped exactly once; a second close does nothing). {@link #liveRegions()} lists the regions not closed yet,
 * for the tests' leak check.
 */
public final class HugePages {
    private static final Logger LOG = LoggerFactory.getLogger(HugePages.class);

    /** The policy: {@code auto}, {@code on} or {@code off}. */
    public enum Mode {
        /** Huge pages when a hugetlbfs mount has free pages, else normal pages and one log line. */
        AUTO,
        /** Huge pages required: no usable mount fails the start; a malloc create without pages fails (ENOMEM). */
        ON,
        /** Normal pages only. */
        OFF;

        /**
         * Parses {@code auto}/{@code on}/{@code off} (also {@code true}/{@code false}, as HOCON writes booleans).
         *
         * @throws IllegalArgumentException naming {@code key} and the allowed values
         */
        public static Mode parse(String key, String value) {
            return switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "on", "true", "yes" -> ON;
                case "off", "false", "no" -> OFF;
                default -> throw new IllegalArgumentException(key + "=" + value + ": allowed: auto, on, off");
            };
        }
    }

    /** A hugetlbfs directory and its page size. */
    public record Mount(Path dir, long pageSize) {
        /** "hugetlbfs 2MiB", as {@code bdev_get_bdevs} names the backing. */
        public String describe() {
            return "hugetlbfs " + sizeName(pageSize);
        }
    }

    /** The process-wide instance, reading the real {@code /proc} and {@code /sys}. */
    private static final HugePages PROCESS = new HugePages(Path.of("/proc/mounts"), Path.of("/sys/kernel/mm/hugepages"));

    private final Path procMounts;
    private final Path sysHugepages;
    private volatile Mode mode = Mode.AUTO;
    private volatile Path configuredDir;
    /** The usable mount, or null; resolved on first use after each configure. */
    private volatile Mount mount;
    private volatile String unavailable;
    private volatile boolean resolved;
    private final AtomicBoolean fallbackLogged = new AtomicBoolean();
    private final Map<HugeRegion, String> live = new ConcurrentHashMap<>();
    private final AtomicLong fileSeq = new AtomicLong();

    /** For tests: an instance that reads another mounts table and hugepages sysfs directory. */
    HugePages(Path procMounts, Path sysHugepages) {
        this.procMounts = procMounts;
        this.sysHugepages = sysHugepages;
    }

    /** The process-wide instance every allocation of Spindle uses. */
    public static HugePages process() {
        return PROCESS;
    }

    /**
     * Sets the policy and, when {@code dir} is not null, the directory to map in (it must lie on a hugetlbfs mount;
     * null = the first hugetlbfs mount in {@code /proc/mounts}). Mappings made before keep their backing. A policy or
     * directory other than the one in force looks for the mount again and resets the one-line fallback log (so the new
     * policy reports its own fallback); the same one again (each app start configures) changes nothing.
     *
     * @throws IllegalStateException with {@link Mode#ON} when no usable mount is there, saying why
     */
    public synchronized void configure(Mode newMode, Path dir) {
        if (newMode == mode && java.util.Objects.equals(dir, configuredDir)) {
            // the same policy again (every app start configures): keep the mount found and the one log line logged
            if (newMode == Mode.ON && mount() == null) {
                throw new IllegalStateException("spindle.memory.huge-pages=on: no huge pages: " + unavailable);
            }
            return;
        }
        mode = newMode;
        configuredDir = dir;
        resolved = false;
        mount = null;
        unavailable = null;
        fallbackLogged.set(false);
        if (newMode == Mode.ON && mount() == null) {
            throw new IllegalStateException("spindle.memory.huge-pages=on: no huge pages: " + unavailable);
        }
    }

    /** The policy in force. */
    public Mode mode() {
        return mode;
    }

    /** The usable hugetlbfs mount (null when the policy is off or there is none). Any thread; cached. */
    public Mount mount() {
        if (mode == Mode.OFF) {
            return null;
        }
        if (!resolved) {
            synchronized (this) {
                if (!resolved) {
                    try {
                        mount = findMount(configuredDir);
                        unavailable = null;
                    } catch (IllegalStateException e) {
                        mount = null;
                        unavailable = e.getMessage();
                    }
                    resolved = true;
                }
            }
        }
        return mount;
    }

    /** Why huge pages cannot be used ({@code null} when a mount is there). */
    public String whyUnavailable() {
        if (mode == Mode.OFF) {
            return "spindle.memory.huge-pages=off";
        }
        return mount() == null ? unavailable : null;
    }

    /**
     * Maps {@code size} bytes of huge pages (rounded up to the page size) for {@code purpose}, or returns null when
     * the policy is off, there is no usable mount, the mount has too few free pages, or the map fails; in the last
     * three cases the first such null of the process logs one line saying why (later ones log at debug).
     * The memory reads as zero; its pages are faulted in on first touch.
     */
    public HugeRegion map(long size, String purpose) {
        if (size <= 0) {
            throw new IllegalArgumentException("huge page region size=" + size + ": must be > 0");
        }
        Mount m = mount();
        if (m == null) {
            fallback(purpose, whyUnavailable());
            return null;
        }
        long pages = (size + m.pageSize() - 1) / m.pageSize();
        long free = freePages(m.pageSize());
        if (free >= 0 && pages > free) {
            fallback(purpose, "needs " + pages + " pages of " + sizeName(m.pageSize()) + ", " + free + " free (" + sysDir(m.pageSize())
                    + "/free_hugepages - resv_hugepages)");
            return null;
        }
        try {
            return mapUnchecked(m, pages * m.pageSize(), purpose);
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            fallback(purpose, "mapping " + pages + " pages of " + sizeName(m.pageSize()) + " in " + m.dir() + " failed: " + e);
            return null;
        }
    }

    /**
     * Creates a file of {@code bytes} (a multiple of the page size) in the mount, maps it shared read-write, unlinks
     * it, and returns the region; no free-page check first (what {@link #map} adds). Package-private: tests use it to
     * see what the kernel does when the pages cannot be reserved.
     *
     * @throws IOException when the file cannot be created or sized, or the map fails (ENOMEM when pages are short)
     */
    HugeRegion mapUnchecked(Mount m, long bytes, String purpose) throws IOException {
        Path file = m.dir().resolve("spindle." + ProcessHandle.current().pid() + "." + fileSeq.incrementAndGet());
        long address;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(bytes);
            address = OS.map(raf.getChannel(), FileChannel.MapMode.READ_WRITE, 0, bytes, (int) Math.min(m.pageSize(), 1 << 30));
        } finally {
            Files.deleteIfExists(file); // the mapping keeps the pages; nothing is left on the mount
        }
        HugeRegion r = new HugeRegion(this, address, bytes, m.pageSize());
        live.put(r, purpose);
        return r;
    }

    void unmapped(HugeRegion r) {
        live.remove(r);
    }

    /** Regions mapped and not closed yet, each with the purpose it was mapped for (the tests' leak check reads it). */
    public Map<HugeRegion, String> liveRegions() {
        return Map.copyOf(live);
    }

    /**
     * Free huge pages of {@code pageSize} that a new mapping can reserve ({@code free_hugepages - resv_hugepages}), or
     * -1 when sysfs does not tell.
     */
    public long freePages(long pageSize) {
        Path d = sysDir(pageSize);
        long free = readLong(d.resolve("free_hugepages"));
        long resv = readLong(d.resolve("resv_hugepages"));
        return free < 0 ? -1 : free - Math.max(0, resv);
    }

    private Path sysDir(long pageSize) {
        return sysHugepages.resolve("hugepages-" + (pageSize / 1024) + "kB");
    }

    private void fallback(String purpose, String why) {
        if (mode == Mode.OFF) {
            return; // asked for: nothing to report
        }
        if (fallbackLogged.compareAndSet(false, true)) {
            LOG.info("huge pages: not used for {} ({}); using normal pages (further fallbacks are logged at debug)", purpose, why);
        } else {
            LOG.debug("huge pages: not used for {} ({})", purpose, why);
        }
    }

    /** The hugetlbfs mount to use: the configured directory's, or the first in the mounts table. */
    private Mount findMount(Path dir) {
        List<String> lines;
        try {
            lines = Files.readAllLines(procMounts);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + procMounts + ": " + e.getMessage());
        }
        Path want = dir == null ? null : dir.toAbsolutePath().normalize();
        String bestPoint = null;
        String bestType = null;
        String bestOpts = null;
        for (String line : lines) {
            String[] f = line.split(" ");
            if (f.length < 4) {
                continue;
            }
            String point = unescape(f[1]);
            if (want == null) {
                if (f[2].equals("hugetlbfs")) {
                    return new Mount(Path.of(point), pageSize(f[3]));
                }
            } else if (want.startsWith(Path.of(point)) && (bestPoint == null || point.length() >= bestPoint.length())) {
                bestPoint = point; // the longest mount point containing the directory holds it (later lines win ties: they mount over)
                bestType = f[2];
                bestOpts = f[3];
            }
        }
        if (want == null) {
            throw new IllegalStateException("no hugetlbfs mount in " + procMounts);
        }
        if (bestPoint == null || !bestType.equals("hugetlbfs")) {
            throw new IllegalStateException("spindle.memory.huge-dir=" + dir + " is not on a hugetlbfs mount"
                    + (bestPoint == null ? "" : " (it is on " + bestPoint + ", type " + bestType + ")"));
        }
        if (!Files.isDirectory(want) || !Files.isWritable(want)) {
            throw new IllegalStateException("spindle.memory.huge-dir=" + dir + " is not a writable directory");
        }
        return new Mount(want, pageSize(bestOpts));
    }

    /** The {@code pagesize=} mount option, else the default huge page size ({@code Hugepagesize} in /proc/meminfo), else 2 MiB. */
    private static long pageSize(String opts) {
        for (String o : opts.split(",")) {
            if (o.startsWith("pagesize=")) {
                return parseSize(o.substring("pagesize=".length()));
            }
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("Hugepagesize:")) {
                    return Long.parseLong(line.substring(13).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through to the usual size
        }
        return 2L << 20;
    }

    static long parseSize(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        long mul = 1;
        char last = t.charAt(t.length() - 1);
        if (last == 'K' || last == 'M' || last == 'G') {
            mul = last == 'K' ? 1L << 10 : last == 'M' ? 1L << 20 : 1L << 30;
            t = t.substring(0, t.length() - 1);
        }
        return Long.parseLong(t) * mul;
    }

    /** "2MiB", "1GiB", "4KiB". */
    public static String sizeName(long bytes) {
        if (bytes % (1L << 30) == 0) {
            return (bytes >> 30) + "GiB";
        }
        if (bytes % (1L << 20) == 0) {
            return (bytes >> 20) + "MiB";
        }
        return (bytes >> 10) + "KiB";
    }

    /** /proc/mounts escapes space, tab, newline and backslash as octal. */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static long readLong(Path p) {
        try {
            return Long.parseLong(Files.readString(p).trim());
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
