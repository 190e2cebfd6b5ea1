package io.spindle.examples.tgt;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleApp;
import io.spindle.app.SpindleConfig;
import io.spindle.app.SpindleStartException;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.rpc.JsonConfig;
import io.spindle.rpc.RpcServerConfig;
import io.spindle.runtime.CoreMask;
import io.spindle.runtime.IdleMode;
import io.spindle.runtime.ReactorConfig;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code spindle tgt}: a Spindle target, SPDK's {@code spdk_tgt} — reactors, the bdev subsystem (plus the
 * {@code keyring} and {@code nvmf} subsystems of the transport module: SPDK's {@code nvmf_*} RPCs with trtype AERON)
 * and the JSON-RPC server, configured from SPDK's JSON config format, running until SIGINT, SIGTERM or
 * {@code spdk_kill_instance}, then stopping cleanly (bdevs unregistered top-down, the socket file removed).
 *
 * <pre>
 * ./spindle tgt -m 0x3 --json examples/configs/malloc-null.json -r /tmp/spindle.sock
 * ./spindle rpc -s /tmp/spindle.sock bdev_get_bdevs
 * </pre>
 *
 * <p>The start, in SPDK's order: the RPC server comes up first (in the STARTUP state); with {@code --json} the
 * config's startup entries ({@code bdev_set_options}) run, then {@code framework_start_init} initialises the
 * subsystems (with {@code --wait-for-rpc} only when a client calls it), then the config's other entries run.
 * A config that fails is reported on one line (file, entry, method, field), whatever it created is removed,
 * and the target exits 1.
 *
 * <p>Exit status: 0 after a clean stop, 1 when the start failed or the stop was not clean, 2 for a bad command
 * line.
 */
public final class SpindleTgt {
    private SpindleTgt() {
    }

    /** The parsed command line. */
    record Options(CoreMask mask, Path json, Path socket, boolean waitForRpc, int tcpPort, IdleMode idle, boolean pin) {
    }

    /** A bad command line. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String m) {
            super(m, null, false, false);
        }
    }

    static String usage() {
        return String.join("\n",
                "usage: spindle tgt [-m MASK] [--json FILE] [-r SOCK] [--wait-for-rpc] [--rpc-tcp PORT] [--idle MODE] [--pin]",
                "",
                "Runs a Spindle target: reactors, the bdev subsystem and the JSON-RPC server (SPDK's spdk_tgt).",
                "Stops on SIGINT, SIGTERM or the spdk_kill_instance RPC.",
                "",
                "  -m, --cpumask MASK   core mask: 0x3, [0,1], 0-3 (default 0x1)",
                "  -c, --json FILE      SPDK JSON config to load at start",
                "  -r, --rpc-socket SOCK  Unix socket of the RPC server (default " + RpcServerConfig.DEFAULT_SOCKET + ")",
                "  --wait-for-rpc       initialise the subsystems only on the framework_start_init RPC",
                "  --rpc-tcp PORT       also listen on 127.0.0.1:PORT (0: any free port, printed at start)",
                "  --idle MODE          reactor idle strategy: backoff (default), busy, park, yield",
                "  --pin                pin each reactor thread to its core",
                "  -h, --help           this text");
    }

    static Options parse(String... args) {
        CoreMask mask = null;
        Path json = null;
        Path sock = RpcServerConfig.DEFAULT_SOCKET;
        boolean wait = false;
        int tcp = -1;
        IdleMode idle = IdleMode.BACKOFF;
        boolean pin = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "-m", "--cpumask" -> {
                    String v = value(args, ++i, a);
                    try {
                        mask = CoreMask.parse(v, Runtime.getRuntime().availableProcessors());
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(a + " " + v + ": " + e.getMessage());
                    }
                }
                case "-c", "--json" -> {
                    json = Path.of(value(args, ++i, a));
                    if (!Files.isReadable(json)) {
                        throw new UsageException(a + " " + json + ": no such readable file");
                    }
                }
                case "-r", "--rpc-socket" -> sock = Path.of(value(args, ++i, a));
                case "--wait-for-rpc" -> wait = true;
                case "--rpc-tcp" -> {
                    String v = value(args, ++i, a);
                    try {
                        tcp = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        tcp = -2;
                    }
                    if (tcp < 0 || tcp > 65535) {
                        throw new UsageException("--rpc-tcp " + v + ": must be a port 0..65535 (0: any free port)");
                    }
                }
                case "--idle" -> {
                    String v = value(args, ++i, a);
                    try {
                        idle = IdleMode.parse("--idle", v);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--idle " + v + ": allowed: backoff, busy, park, yield");
                    }
                }
                case "--pin" -> pin = true;
                default -> throw new UsageException("unknown option " + a + " (spindle tgt --help)");
            }
        }
        return new Options(mask == null ? CoreMask.parse("0x1") : mask, json, sock, wait, tcp, idle, pin);
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new UsageException(flag + ": needs a value");
        }
        return args[i];
    }

    /** Command-line entry point. */
    public static void main(String[] args) {
        org.slf4j.LoggerFactory.getILoggerFactory();
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the target until it is stopped; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help"))) {
            out.println(usage());
            return 0;
        }
        Options o;
        JsonConfig cfg = null;
        try {
            o = parse(args);
            if (o.json() != null) {
                cfg = JsonConfig.read(o.json());
            }
        } catch (UsageException e) {
            err.println("spindle tgt: " + e.getMessage());
            return 2;
        } catch (JsonConfig.JsonConfigException e) {
            err.println("spindle tgt: --json " + e.getMessage());
            return 2;
        }
        Spindle spindle;
        try {
            Config hocon = ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.stdout-loglevel = WARNING")
                    .withFallback(ConfigFactory.load());
            RpcServerConfig rpc = RpcServerConfig.builder().socket(o.socket()).tcpPort(o.tcpPort()).conclude();
            spindle = Spindle.start(io.spindle.examples.Subsystems.addPlugins(SpindleConfig.builder(hocon).name("spindle_tgt")
                    .reactor(ReactorConfig.builder().mask(o.mask()).idle(o.idle()).pin(o.pin()).conclude())
                    .subsystem(new BdevSubsystem()))
                    .rpc(rpc)
                    .waitForStartInit(cfg != null || o.waitForRpc())
                    .conclude());
        } catch (IllegalArgumentException e) {
            err.println("spindle tgt: " + e.getMessage());
            return 2;
        } catch (SpindleStartException e) {
            err.println("spindle tgt: start failed: " + e.getMessage());
            return 1;
        }
        out.println("spindle tgt: reactors on core mask " + o.mask() + "; RPC server listening on " + spindle.rpcSocketPath()
                + (spindle.rpcTcpAddress() != null ? " and tcp " + spindle.rpcTcpAddress() : ""));
        if (cfg != null) {
            try {
                cfg.apply(spindle, !o.waitForRpc());
            } catch (JsonConfig.JsonConfigException e) {
                err.println("spindle tgt: --json " + e.getMessage());
                spindle.stopAndWait();
                return 1;
            }
        }
        // SIGINT/SIGTERM stop Spindle like spdk_kill_instance does, and the process then exits 0 as spdk_tgt does
        // (without these handlers the JVM's own shutdown would still stop Spindle, via CoordinatedShutdown)
        for (String sig : new String[] {"INT", "TERM"}) {
            if (!io.spindle.examples.Signals.onSignal(sig, spindle::requestShutdown)) {
                err.println("spindle tgt: cannot handle SIG" + sig + "; the JVM's shutdown stops Spindle instead");
            }
        }
        out.println(o.waitForRpc() ? "spindle tgt: waiting for framework_start_init" : "spindle tgt: started");
        out.flush();
        SpindleApp.Stopped stopped;
        try {
            stopped = spindle.whenStopped().toCompletableFuture().join();
        } catch (RuntimeException e) {
            err.println("spindle tgt: stop failed: " + e.getMessage());
            return 1;
        }
        spindle.system().getWhenTerminated().toCompletableFuture().join();
        out.println("spindle tgt: stopped" + (stopped.clean() ? "" : " (not clean: " + stopped.leaks() + ")"));
        return stopped.clean() ? 0 : 1;
    }
}
