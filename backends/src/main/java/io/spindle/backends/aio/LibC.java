package io.spindle.backends.aio;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

import java.util.Locale;

/**
 * The few libc entry points the io_uring engine needs, bound with JNA <b>direct mapping</b>
 * ({@link Native#register(Class, NativeLibrary)}): static native methods with primitive arguments only, so a call
 * allocates nothing and costs one JNI transition. {@code syscall(2)} carries io_uring's three system calls
 * (glibc's {@code syscall} is a register shuffle, so binding its variadic prototype with six {@code long}s is safe
 * on x86_64); {@code mmap}/{@code munmap} map the rings.
 *
 * <p>Only x86_64 Linux is bound (the system call numbers below are that architecture's); elsewhere, or when JNA
 * cannot load, {@link #UNAVAILABLE} says why and nothing here may be called. Thread-safe; errno of the calling
 * thread's last call is {@link #errno()}.
 */
final class LibC {
    /** x86_64 {@code __NR_close}. */
    static final long SYS_CLOSE = 3;
    /** x86_64 {@code __NR_openat}. */
    static final long SYS_OPENAT = 257;
    /** x86_64 {@code __NR_io_uring_setup}. */
    static final long SYS_IO_URING_SETUP = 425;
    /** x86_64 {@code __NR_io_uring_enter}. */
    static final long SYS_IO_URING_ENTER = 426;
    /** x86_64 {@code __NR_io_uring_register}. */
    static final long SYS_IO_URING_REGISTER = 427;

    static final int AT_FDCWD = -100;
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_DIRECT = 0x4000;
    static final int O_CLOEXEC = 0x80000;
    static final int PROT_READ_WRITE = 0x1 | 0x2;
    static final int MAP_SHARED = 0x01;
    static final int MAP_POPULATE = 0x8000;
    static final long MAP_FAILED = -1L;

    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int EBUSY = 16;

    /** Null when bound; else why not (not x86_64 Linux, or JNA failed to load). */
    static final String UNAVAILABLE;

    static {
        String why = null;
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux")) {
            why = "os.name=" + os + ": io_uring is Linux only";
        } else if (!arch.equals("amd64") && !arch.equals("x86_64")) {
            why = "os.arch=" + arch + ": only x86_64 system call numbers are bound";
        } else {
            try {
                Native.register(LibC.class, NativeLibrary.getInstance("c"));
            } catch (Throwable e) { // UnsatisfiedLinkError, NoClassDefFoundError (JNA absent), ...
                why = "JNA cannot bind libc: " + e;
            }
        }
        UNAVAILABLE = why;
    }

    private LibC() {
    }

    /** {@code syscall(nr, a..f)}: -1 with {@link #errno()} on failure, as glibc's wrapper returns. */
    static native long syscall(long nr, long a, long b, long c, long d, long e, long f);

    /** {@code mmap(2)}; {@link #MAP_FAILED} with {@link #errno()} on failure. */
    static native long mmap(long addr, long length, int prot, int flags, int fd, long offset);

    /** {@code munmap(2)}. */
    static native int munmap(long addr, long length);

    /** The calling thread's errno after its last call through this class. */
    static int errno() {
        return Native.getLastError();
    }

    /** {@code close(fd)}: 0, or the errno. */
    static int close(int fd) {
        return syscall(SYS_CLOSE, fd, 0, 0, 0, 0, 0) == 0 ? 0 : errno();
    }
}
