package io.spindle.backends.mapped;

import net.openhft.posix.PosixAPI;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Huge pages for the mapped module: {@code madvise(2)} through Chronicle's {@code PosixAPI} (the binding the module's
 * {@code msync} already uses), and the kernel's account of how much of a mapping is mapped with huge pages
 * ({@code FilePmdMapped} in {@code /proc/self/smaps}). Linux only: elsewhere {@link #UNAVAILABLE} says why and
 * {@link #hugepage} is not called. Thread-safe.
 */
final class Madvise {
    /** {@code MADV_HUGEPAGE}: back the range with transparent huge pages where the kernel can. */
    static final int MADV_HUGEPAGE = 14;

    /** Null on Linux; else why not. */
    static final String UNAVAILABLE = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux") ? null
            : "os.name=" + System.getProperty("os.name") + ": madvise(MADV_HUGEPAGE) is Linux's";

    private Madvise() {
    }

    /**
     * Advises huge pages for {@code [address, address + length)} ({@code address} page-aligned, as a mapping's start
     * is). Returns 0, or the errno of a refusal (EINVAL where the kernel has no transparent huge pages).
     */
    static int hugepage(long address, long length) {
        if (UNAVAILABLE != null) {
            throw new IllegalStateException(UNAVAILABLE);
        }
        PosixAPI posix = PosixAPI.posix();
        return posix.madvise(address, length, MADV_HUGEPAGE) == 0 ? 0 : Math.max(1, posix.lastError());
    }

    /**
     * Bytes of the mapping that starts at {@code address} that the kernel maps with huge pages now
     * ({@code FilePmdMapped} of that VMA in {@code /proc/self/smaps}), or -1 when it cannot be read. Reads the file:
     * control plane only.
     */
    static long pmdMappedBytes(long address) {
        String start = Long.toHexString(address);
        try {
            boolean inVma = false;
            for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
                int dash = line.indexOf('-');
                if (dash > 0 && line.indexOf(' ') > dash && isHex(line, dash)) {
                    // a VMA header: "start-end perms offset dev inode path"; the one whose start is the mapping's
                    inVma = line.substring(0, dash).equals(start);
                } else if (inVma && line.startsWith("FilePmdMapped:")) {
                    return Long.parseLong(line.substring(14).trim().split("\\s+")[0]) * 1024;
                }
            }
            return -1;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static boolean isHex(String line, int end) {
        for (int i = 0; i < end; i++) {
            if (Character.digit(line.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }
}
