package io.spindle.rpc;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The listening sockets of one RPC server: the Unix domain socket (with its lock file) and, when asked, a TCP
 * socket on 127.0.0.1.
 *
 * <p><b>The Unix socket</b>, as SPDK's {@code lib/rpc} treats it: {@code <path>.lock} is created and locked
 * first, so a second server on the same path fails at once with a message naming the lock; a socket file left
 * at the path by a process that died (its lock is gone with it) is stale and replaced. The socket is bound in
 * a private directory ({@code 0700}) beside the path, set to {@code 0600}, and renamed onto the path, so no
 * client can connect before the mode is set. {@link #close()} removes the socket file and the lock file.
 *
 * <p>Threads: opened on the app actor's thread, then owned by the RPC I/O thread; {@link #close()} is
 * idempotent and may be called from any thread.
 */
final class RpcListener implements AutoCloseable {
    private final Path socketPath;
    private final Path lockPath;
    private final FileChannel lockChannel;
    private final FileLock lock;
    final ServerSocketChannel unix;
    final ServerSocketChannel tcp;
    private boolean closed;

    private RpcListener(Path socketPath, Path lockPath, FileChannel lockChannel, FileLock lock, ServerSocketChannel unix,
                        ServerSocketChannel tcp) {
        this.socketPath = socketPath;
        this.lockPath = lockPath;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.unix = unix;
        this.tcp = tcp;
    }

    /**
     * Binds the sockets of {@code cfg}.
     *
     * @throws IOException with a message naming the path or port and the reason (in use, not a socket, ...)
     */
    static RpcListener open(RpcServerConfig cfg) throws IOException {
        Path path = cfg.socket() == null ? null : cfg.socket().toAbsolutePath();
        Path lockPath = null;
        FileChannel lockCh = null;
        FileLock lock = null;
        ServerSocketChannel unix = null;
        ServerSocketChannel tcp = null;
        try {
            if (path != null) {
                Path dir = path.getParent();
                if (dir == null || !Files.isDirectory(dir)) {
                    throw new IOException("rpc socket " + path + ": directory " + dir + " does not exist");
                }
                lockPath = Path.of(path + ".lock");
                lockCh = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                try {
                    lock = lockCh.tryLock();
                } catch (OverlappingFileLockException e) {
                    lock = null; // held by this JVM
                }
                if (lock == null) {
                    throw new IOException("rpc socket " + path + " is in use by another Spindle target (lock " + lockPath
                            + " is held); choose another path with -r");
                }
                if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                    if (!isSocket(path)) {
                        throw new IOException("rpc socket " + path + ": the path exists and is not a socket; remove it or choose another path with -r");
                    }
                    Files.delete(path); // stale: its server is gone (it held the lock)
                }
                unix = bindUnix(path);
            }
            if (cfg.tcpPort() >= 0) {
                tcp = ServerSocketChannel.open(StandardProtocolFamily.INET);
                try {
                    tcp.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), cfg.tcpPort()), 128);
                } catch (IOException e) {
                    throw new IOException("rpc tcp port " + cfg.tcpPort() + " on 127.0.0.1: " + e.getMessage(), e);
                }
            }
            return new RpcListener(path, lockPath, lockCh, lock, unix, tcp);
        } catch (IOException | RuntimeException e) {
            closeQuietly(tcp);
            closeQuietly(unix);
            if (unix != null) {
                Files.deleteIfExists(path);
            }
            if (lock != null) {
                Files.deleteIfExists(lockPath);
                lock.release();
            }
            closeQuietly(lockCh);
            throw e;
        }
    }

    private static ServerSocketChannel bindUnix(Path path) throws IOException {
        Path dir = path.getParent();
        Path tmp = dir.resolve(".spindle-rpc-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16));
        Files.createDirectory(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path staging = tmp.resolve("s");
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(staging), 128);
            Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString("rw-------"));
            try {
                Files.move(staging, path, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("rpc socket " + path + ": cannot rename the socket into place: " + e.getMessage(), e);
            }
            return ch;
        } catch (IOException e) {
            closeQuietly(ch);
            Files.deleteIfExists(staging);
            throw new IOException("rpc socket " + path + ": " + e.getMessage(), e);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static boolean isSocket(Path p) throws IOException {
        Object mode = Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return mode instanceof Integer m && (m & 0170000) == 0140000;
    }

    /** The Unix socket path, or null. */
    Path socketPath() {
        return socketPath;
    }

    /** The bound TCP address, or null. */
    InetSocketAddress tcpAddress() {
        try {
            return tcp == null ? null : (InetSocketAddress) tcp.getLocalAddress();
        } catch (IOException e) {
            return null;
        }
    }

    /** Closes the sockets, removes the socket and lock files, releases the lock. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(tcp);
        closeQuietly(unix);
        try {
            if (socketPath != null) {
                Files.deleteIfExists(socketPath);
            }
            if (lockPath != null) {
                Files.deleteIfExists(lockPath);
            }
        } catch (NoSuchFileException ignored) {
            // removed already
        } catch (IOException e) {
            RpcServer.LOG.warn("rpc: cannot remove {}: {}", socketPath, e.toString());
        }
        try {
            if (lock != null) {
                lock.release();
            }
        } catch (IOException ignored) {
            // the channel close below releases it too
        }
        closeQuietly(lockChannel);
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort on an error path
            }
        }
    }
}
