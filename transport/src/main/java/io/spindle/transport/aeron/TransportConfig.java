package io.spindle.transport.aeron;

import com.typesafe.config.Config;
import io.aeron.driver.ThreadingMode;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The {@code spindle.transport} settings, validated eagerly: every bad value is refused with the key, the value and
 * the bound. Immutable.
 *
 * @param external        connect to an external driver instead of embedding one
 * @param threadingMode   embedded driver threading
 * @param aeronDir        the driver directory, or null for a private one
 * @param dirBase         where private directories go
 * @param mtu             Aeron MTU of publications to other hosts (and IPC)
 * @param loopbackMtu     Aeron MTU of UDP publications to a loopback address (an embedded driver's)
 * @param termLength      publication term length (UDP and IPC)
 * @param receiveWindow   initial receiver window
 * @param socketBuffer    socket send/receive buffer
 * @param clientLiveness  driver's client liveness timeout
 * @param driverTimeout   client's driver timeout
 * @param imageLiveness   image liveness timeout
 * @param pubConnection   publication connection timeout
 * @param keepAlive       keep-alive timeout (KATO)
 * @param connectTimeout  connect, authentication and I/O queue setup timeout
 * @param ioQueueDepth    I/O queue depth a host asks for (the target grants at most its max_queue_depth)
 */
public record TransportConfig(boolean external, ThreadingMode threadingMode, Path aeronDir, Path dirBase, int mtu, int loopbackMtu, int termLength,
                              int receiveWindow, int socketBuffer, Duration clientLiveness, Duration driverTimeout, Duration imageLiveness,
                              Duration pubConnection, Duration keepAlive, Duration connectTimeout, int ioQueueDepth) {

    /** Reads {@code spindle.transport} from {@code root} (reference.conf supplies the defaults). */
    public static TransportConfig fromConfig(Config root) {
        Config c = root.getConfig("spindle.transport");
        String driver = c.getString("driver");
        boolean external;
        switch (driver) {
            case "embedded" -> external = false;
            case "external" -> external = true;
            default -> throw new IllegalArgumentException("spindle.transport.driver=" + driver + ": must be embedded or external");
        }
        String tm = c.getString("threading-mode");
        ThreadingMode mode = switch (tm) {
            case "invoker" -> ThreadingMode.INVOKER;
            case "shared" -> ThreadingMode.SHARED;
            case "shared-network" -> ThreadingMode.SHARED_NETWORK;
            case "dedicated" -> ThreadingMode.DEDICATED;
            default -> throw new IllegalArgumentException("spindle.transport.threading-mode=" + tm
                    + ": must be invoker, shared, shared-network or dedicated");
        };
        String dir = c.getString("aeron-dir");
        if (external && dir.isEmpty()) {
            throw new IllegalArgumentException("spindle.transport.aeron-dir=\"\": required with spindle.transport.driver=external");
        }
        String base = c.getString("dir-base");
        long term = c.getBytes("term-length");
        if (term < 64 * 1024 || term > (1L << 30) || Long.bitCount(term) != 1) {
            throw new IllegalArgumentException("spindle.transport.term-length=" + term + ": must be a power of two between 64 KiB and 1 GiB");
        }
        int mtu = mtu(c, "mtu", term);
        int loopbackMtu = mtu(c, "loopback-mtu", term);
        long window = c.getBytes("receive-window");
        if (window < Math.max(mtu, loopbackMtu) || window > term / 2) {
            throw new IllegalArgumentException("spindle.transport.receive-window=" + window + ": must be between the larger of mtu and loopback-mtu ("
                    + Math.max(mtu, loopbackMtu) + ") and term-length/2 (" + term / 2 + ")");
        }
        long sock = c.getBytes("socket-buffer");
        if (sock < Math.max(mtu, loopbackMtu) || sock > (1L << 30)) {
            throw new IllegalArgumentException("spindle.transport.socket-buffer=" + sock + ": must be between the larger of mtu and loopback-mtu ("
                    + Math.max(mtu, loopbackMtu) + ") and 1 GiB");
        }
        Duration kato = positive(c, "keep-alive-timeout");
        if (kato.toMillis() < 100 || kato.toMillis() > 3_600_000) {
            throw new IllegalArgumentException("spindle.transport.keep-alive-timeout=" + kato + ": must be between 100ms and 1h");
        }
        int qd = c.getInt("io-queue-depth");
        if (qd < 2 || qd > 65535) {
            throw new IllegalArgumentException("spindle.transport.io-queue-depth=" + qd + ": must be between 2 and 65535");
        }
        return new TransportConfig(external, mode, dir.isEmpty() ? null : Path.of(dir),
                base.isEmpty() ? Path.of(System.getProperty("java.io.tmpdir")) : Path.of(base), mtu, loopbackMtu, (int) term, (int) window, (int) sock,
                positive(c, "client-liveness-timeout"), positive(c, "driver-timeout"), positive(c, "image-liveness-timeout"),
                positive(c, "publication-connection-timeout"), kato, positive(c, "connect-timeout"), qd);
    }

    private static int mtu(Config c, String key, long term) {
        long mtu = c.getBytes(key);
        if (mtu < 1408 || mtu > 65504 || mtu % 32 != 0) {
            throw new IllegalArgumentException("spindle.transport." + key + "=" + mtu + ": must be a multiple of 32 between 1408 and 65504");
        }
        if (mtu > term / 8) {
            throw new IllegalArgumentException("spindle.transport." + key + "=" + mtu + ": must be <= term-length/8 (" + term / 8 + ")");
        }
        return (int) mtu;
    }

    private static Duration positive(Config c, String key) {
        Duration d = c.getDuration(key);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("spindle.transport." + key + "=" + d + ": must be > 0");
        }
        return d;
    }
}
