package io.spindle.backends;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * How much memory this process can still allocate, for modules that allocate a bdev's worth of it (malloc): so a
 * create that cannot fit is refused up front with a clear error instead of being left to the OOM killer half way
 * through zeroing. Reads Linux's {@code MemAvailable} ({@code /proc/meminfo}: free memory plus what the kernel can
 * reclaim) and, when the process runs in a memory cgroup with a limit, what is left under it (v2
 * {@code memory.max - memory.current}, v1 {@code memory.limit_in_bytes - memory.usage_in_bytes}); the smaller one
 * wins. Elsewhere the JVM's view of free physical memory. Any thread; each call reads the files again (a few
 * microseconds: control plane only).
 */
public final class HostMemory {
    private HostMemory() {
    }

    /** The answer of {@link #available()}: the bytes, and where the bound comes from (for error messages). */
    public record Available(long bytes, String source) {
    }

    /** The memory this process can still allocate, or {@code Long.MAX_VALUE} ("unknown") when nothing tells. */
    public static Available available() {
        Available best = new Available(Long.MAX_VALUE, "unknown");
        long memAvailable = meminfo("MemAvailable:");
        if (memAvailable >= 0) {
            best = new Available(memAvailable, "MemAvailable in /proc/meminfo");
        } else {
            long free = jvmFreePhysical();
            if (free >= 0) {
                best = new Available(free, "free physical memory");
            }
        }
        long cg = cgroupRoom();
        if (cg >= 0 && cg < best.bytes()) {
            best = new Available(cg, "memory cgroup limit minus usage");
        }
        return best;
    }

    private static long meminfo(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith(key)) {
                    String[] f = line.substring(key.length()).trim().split("\\s+");
                    long v = Long.parseLong(f[0]);
                    return f.length > 1 && f[1].equalsIgnoreCase("kB") ? v * 1024 : v;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or an unexpected format: fall back
        }
        return -1;
    }

    private static long cgroupRoom() {
        long v2 = room(Path.of("/sys/fs/cgroup/memory.max"), Path.of("/sys/fs/cgroup/memory.current"));
        if (v2 >= 0) {
            return v2;
        }
        return room(Path.of("/sys/fs/cgroup/memory/memory.limit_in_bytes"), Path.of("/sys/fs/cgroup/memory/memory.usage_in_bytes"));
    }

    private static long room(Path limitFile, Path usageFile) {
        try {
            List<String> l = Files.readAllLines(limitFile);
            List<String> u = Files.readAllLines(usageFile);
            if (l.isEmpty() || u.isEmpty() || l.get(0).trim().equals("max")) {
                return -1;
            }
            long limit = Long.parseLong(l.get(0).trim());
            if (limit >= Long.MAX_VALUE / 2) {
                return -1; // v1's "no limit" is a huge number
            }
            return Math.max(0, limit - Long.parseLong(u.get(0).trim()));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static long jvmFreePhysical() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getFreeMemorySize();
        }
        return -1;
    }
}
