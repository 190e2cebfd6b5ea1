package io.spindle.rpc;

import com.typesafe.config.Config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Settings of the JSON-RPC server ({@code spindle.rpc} in HOCON; defaults and comments in
 * {@code reference.conf}). Built with {@link #builder()} or {@link #fromConfig(Config)};
 * {@link Builder#conclude()} rejects bad values with a message naming the key and the bound. Immutable.
 */
public final class RpcServerConfig {
    /** SPDK's default is {@code /var/tmp/spdk.sock}; Spindle's own path keeps the two apart. */
    public static final Path DEFAULT_SOCKET = Path.of("/var/tmp/spindle.sock");

    private final Path socket;
    private final int tcpPort;
    private final int maxRequestBytes;
    private final int maxConnections;
    private final long maxPendingOutputBytes;
    private final java.time.Duration idleTimeout;
    private final int maxBatchSize;

    private RpcServerConfig(Builder b) {
        this.socket = b.socket;
        this.tcpPort = b.tcpPort;
        this.maxRequestBytes = b.maxRequestBytes;
        this.maxConnections = b.maxConnections;
        this.maxPendingOutputBytes = b.maxPendingOutputBytes;
        this.idleTimeout = b.idleTimeout;
        this.maxBatchSize = b.maxBatchSize;
    }

    /** A builder with the defaults of {@code reference.conf}. */
    public static Builder builder() {
        return new Builder();
    }

    /** The server settings of {@code config}'s {@code spindle.rpc} block, or null when {@code enabled = off}. */
    public static RpcServerConfig fromConfig(Config config) {
        if (!config.hasPath("spindle.rpc") || !config.getBoolean("spindle.rpc.enabled")) {
            return null;
        }
        Config c = config.getConfig("spindle.rpc");
        Builder b = builder();
        String listen = c.getString("listen");
        b.socket(listen.isEmpty() ? null : Path.of(listen));
        b.tcpPort(c.getInt("tcp-port"));
        b.maxRequestBytes(checkedInt("spindle.rpc.max-request-size", c.getBytes("max-request-size")));
        b.maxConnections(c.getInt("max-connections"));
        b.maxPendingOutputBytes(c.getBytes("max-pending-output"));
        b.idleTimeout(c.getDuration("idle-timeout"));
        b.maxBatchSize(c.getInt("max-batch-size"));
        return b.conclude();
    }

    private static int checkedInt(String key, long v) {
        if (v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(key + "=" + v + ": must be <= " + Integer.MAX_VALUE);
        }
        return (int) v;
    }

    /** The Unix socket path, or null for none. */
    public Path socket() {
        return socket;
    }

    /** The TCP port on 127.0.0.1: -1 none, 0 any free port. */
    public int tcpPort() {
        return tcpPort;
    }

    /** The largest request, in bytes. */
    public int maxRequestBytes() {
        return maxRequestBytes;
    }

    /** Concurrent connections. */
    public int maxConnections() {
        return maxConnections;
    }

    /** A connection with nothing in flight and no byte received for this long is closed; zero: never. */
    public java.time.Duration idleTimeout() {
        return idleTimeout;
    }

    /** The most requests in one batch (a larger batch is answered -32600). */
    public int maxBatchSize() {
        return maxBatchSize;
    }

    /** Reply bytes queued for one connection before the server stops reading it. */
    public long maxPendingOutputBytes() {
        return maxPendingOutputBytes;
    }

    @Override
    public String toString() {
        return "RpcServerConfig[socket=" + socket + ", tcp-port=" + tcpPort + "]";
    }

    /** Mutable builder; not thread-safe. */
    public static final class Builder {
        private Path socket = DEFAULT_SOCKET;
        private int tcpPort = -1;
        private int maxRequestBytes = 4 << 20;
        private int maxConnections = 128;
        private long maxPendingOutputBytes = 16L << 20;
        private java.time.Duration idleTimeout = java.time.Duration.ofMinutes(10);
        private int maxBatchSize = 1024;

        private Builder() {
        }

        /** The Unix socket path (SPDK's {@code -r}); null for no Unix listener. */
        public Builder socket(Path path) {
            this.socket = path;
            return this;
        }

        /** The TCP port on 127.0.0.1; -1 for none, 0 for any free port. */
        public Builder tcpPort(int port) {
            this.tcpPort = port;
            return this;
        }

        /** The largest request in bytes (at least 1 KiB). */
        public Builder maxRequestBytes(int n) {
            this.maxRequestBytes = n;
            return this;
        }

        /** Concurrent connections (at least 1); more clients wait in the listen backlog until one closes. */
        public Builder maxConnections(int n) {
            this.maxConnections = n;
            return this;
        }

        /** Closes a connection idle this long (nothing in flight, nothing received); zero: never. */
        public Builder idleTimeout(java.time.Duration d) {
            this.idleTimeout = d;
            return this;
        }

        /** The most requests in one batch (at least 1). */
        public Builder maxBatchSize(int n) {
            this.maxBatchSize = n;
            return this;
        }

        /** Reply bytes queued for one connection before it is no longer read (at least 64 KiB). */
        public Builder maxPendingOutputBytes(long n) {
            this.maxPendingOutputBytes = n;
            return this;
        }

        /**
         * Validates.
         *
         * @throws IllegalArgumentException naming the key and the bound
         */
        public RpcServerConfig conclude() {
            if (socket == null && tcpPort < 0) {
                throw new IllegalArgumentException("spindle.rpc: listen=\"\" and tcp-port=-1: the server needs a Unix socket or a TCP port");
            }
            if (socket != null) {
                Objects.requireNonNull(socket.getFileName(), "spindle.rpc.listen");
                int len = socket.toAbsolutePath().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
                if (len > 107) {
                    throw new IllegalArgumentException("spindle.rpc.listen=" + socket + ": a Unix socket path must be at most 107 bytes (is " + len + ")");
                }
            }
            if (tcpPort < -1 || tcpPort > 65535) {
                throw new IllegalArgumentException("spindle.rpc.tcp-port=" + tcpPort + ": must be -1 (none), 0 (any) or 1..65535");
            }
            if (maxRequestBytes < 1024) {
                throw new IllegalArgumentException("spindle.rpc.max-request-size=" + maxRequestBytes + ": must be >= 1024 bytes");
            }
            if (maxConnections < 1) {
                throw new IllegalArgumentException("spindle.rpc.max-connections=" + maxConnections + ": must be >= 1");
            }
            if (idleTimeout == null || idleTimeout.isNegative()) {
                throw new IllegalArgumentException("spindle.rpc.idle-timeout=" + idleTimeout + ": must be >= 0 (0: never)");
            }
            if (maxBatchSize < 1) {
                throw new IllegalArgumentException("spindle.rpc.max-batch-size=" + maxBatchSize + ": must be >= 1");
            }
            if (maxPendingOutputBytes < 64 * 1024) {
                throw new IllegalArgumentException("spindle.rpc.max-pending-output=" + maxPendingOutputBytes + ": must be >= 65536 bytes");
            }
            return new RpcServerConfig(this);
        }
    }
}
