package io.spindle.rpc;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.app.Spindle;
import io.spindle.app.Subsystem;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorStats;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The framework's own methods, with SPDK's names, parameters and result shapes: {@code rpc_get_methods},
 * {@code spdk_get_version}, {@code framework_start_init}, {@code framework_wait_init},
 * {@code framework_get_reactors}, {@code framework_get_subsystems}, {@code framework_get_config},
 * {@code thread_get_stats}, {@code thread_get_pollers}, {@code thread_get_io_channels} and
 * {@code spdk_kill_instance}.
 *
 * <p>Spindle runs one SPDK-style thread per reactor, so the {@code thread_*} methods report one thread per
 * reactor (named {@code reactor_<core>}, id = reactor index + 1). Ticks are nanoseconds:
 * {@code tick_rate} is 10^9. Per-reactor figures are each taken on their reactor by a walk the app actor
 * drives.
 */
public final class FrameworkRpc implements RpcMethodProvider {
    /** SPDK's tick rate for Spindle's nanosecond clock. */
    public static final long TICK_RATE = 1_000_000_000L;
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** The provider, found by ServiceLoader. */
    public FrameworkRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(
                RpcMethod.always("rpc_get_methods", FrameworkRpc::rpcGetMethods),
                RpcMethod.always("spdk_get_version", FrameworkRpc::getVersion),
                RpcMethod.startup("framework_start_init", FrameworkRpc::startInit),
                RpcMethod.always("framework_wait_init", FrameworkRpc::waitInit),
                RpcMethod.runtime("framework_get_reactors", FrameworkRpc::getReactors),
                RpcMethod.runtime("framework_get_subsystems", FrameworkRpc::getSubsystems),
                RpcMethod.runtime("framework_get_config", FrameworkRpc::getConfig),
                RpcMethod.runtime("thread_get_stats", FrameworkRpc::threadStats),
                RpcMethod.runtime("thread_get_pollers", FrameworkRpc::threadPollers),
                RpcMethod.runtime("thread_get_io_channels", FrameworkRpc::threadChannels),
                RpcMethod.runtime("spdk_kill_instance", FrameworkRpc::kill));
    }

    // ------------------------------------------------------------------ methods

    private static CompletionStage<?> rpcGetMethods(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        boolean current = p.bool("current", false);
        p.bool("include_aliases", false); // Spindle has no deprecated aliases
        p.end();
        return CompletableFuture.completedFuture(c.dispatcher().methodNames(current));
    }

    private static CompletionStage<?> getVersion(RpcCall c) throws RpcException {
        c.params().none();
        String v = version();
        String core = v.replace("-SNAPSHOT", "");
        String[] parts = core.split("\\.");
        ObjectNode r = F.objectNode();
        String suffix = v.endsWith("-SNAPSHOT") ? "-pre" : "";
        r.put("version", "Spindle v" + core + suffix);
        ObjectNode f = r.putObject("fields");
        f.put("major", parts.length > 0 ? parseInt(parts[0]) : 0);
        f.put("minor", parts.length > 1 ? parseInt(parts[1]) : 0);
        f.put("patch", parts.length > 2 ? parseInt(parts[2]) : 0);
        f.put("suffix", suffix);
        return CompletableFuture.completedFuture(r);
    }

    private static int parseInt(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Spindle's version, from the build ({@code io/spindle/version.properties}). */
    public static String version() {
        try (InputStream in = FrameworkRpc.class.getResourceAsStream("/io/spindle/version.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("version", "0.0.0");
            }
        } catch (IOException ignored) {
            // fall through
        }
        return "0.0.0";
    }

    private static CompletionStage<?> startInit(RpcCall c) throws RpcException {
        c.params().none();
        return c.spindle().startInit().handle((ok, err) -> {
            if (err != null) {
                throw new java.util.concurrent.CompletionException(RpcException.errno(io.spindle.runtime.Errno.EINVAL,
                        "framework_start_init failed: " + cause(err).getMessage()));
            }
            return Boolean.TRUE;
        });
    }

    private static CompletionStage<?> waitInit(RpcCall c) throws RpcException {
        c.params().none();
        return c.spindle().whenInitialized().handle((ok, err) -> {
            if (err != null) {
                throw new java.util.concurrent.CompletionException(RpcException.errno(io.spindle.runtime.Errno.EINVAL,
                        "subsystem init failed: " + cause(err).getMessage()));
            }
            return Boolean.TRUE;
        });
    }

    private static Throwable cause(Throwable t) {
        while (t.getCause() != null && (t instanceof java.util.concurrent.CompletionException
                || t instanceof java.util.concurrent.ExecutionException)) {
            t = t.getCause();
        }
        return t;
    }

    /** What one reactor reports, taken on that reactor. */
    private record ReactorSnapshot(Reactor reactor, ReactorStats stats, long tid, List<PollerSnapshot> pollers,
                                   List<Reactor.ChannelInfo> channels) {
    }

    private record PollerSnapshot(String name, long id, Poller.State state, long runCount, long busyCount, long periodNanos) {
    }

    private static CompletionStage<List<ReactorSnapshot>> snapshot(Spindle spindle) {
        return spindle.onEachReactor(r -> {
            List<PollerSnapshot> ps = new ArrayList<>();
            for (Poller p : r.pollers()) {
                ps.add(new PollerSnapshot(p.name(), p.id(), p.state(), p.runCount(), p.busyCount(), p.periodNanos()));
            }
            return new ReactorSnapshot(r, r.stats(), r.nativeThreadId(), ps, r.channels());
        });
    }

    private static String cpumask(Reactor r) {
        return java.math.BigInteger.ONE.shiftLeft(r.core()).toString(16); // spdk_cpuset_fmt: bare hex, no 0x
    }

    private static CompletionStage<?> getReactors(RpcCall c) throws RpcException {
        if (c.params().present()) {
            throw new RpcException(RpcException.INVALID_PARAMS, "`framework_get_reactors` requires no arguments");
        }
        return snapshot(c.spindle()).thenApplyAsync(list -> {
            ObjectNode r = F.objectNode();
            r.put("tick_rate", TICK_RATE);
            r.put("pid", ProcessHandle.current().pid());
            ArrayNode arr = r.putArray("reactors");
            java.util.Map<Integer, long[]> cpus = procStat();
            for (ReactorSnapshot s : list) {
                ObjectNode o = arr.addObject();
                o.put("lcore", s.reactor().core());
                o.put("numa_id", numaId(s.reactor().core()));
                o.put("tid", s.tid() >= 0 ? s.tid() : s.reactor().javaThread() != null ? s.reactor().javaThread().getId() : 0);
                o.put("busy", s.stats().busyNanos());
                o.put("idle", s.stats().idleNanos());
                o.put("in_interrupt", false);
                long[] cpu = cpus.getOrDefault(s.reactor().core(), new long[3]);
                o.put("irq", cpu[2]);
                o.put("sys", cpu[1]);
                o.put("usr", cpu[0]);
                ArrayNode lw = o.putArray("lw_threads");
                ObjectNode t = lw.addObject();
                t.put("name", s.reactor().name());
                t.put("id", s.reactor().index() + 1);
                t.put("cpumask", cpumask(s.reactor()));
                t.put("elapsed", s.stats().busyNanos() + s.stats().idleNanos());
            }
            return r;
        }, c.executor());
    }

    /** {@code {tick_rate, threads: [...]}} with one object per reactor, filled by {@code thread}. */
    private static CompletionStage<?> perThread(RpcCall c, java.util.function.BiConsumer<ReactorSnapshot, ObjectNode> thread)
            throws RpcException {
        c.params().end();
        return snapshot(c.spindle()).thenApplyAsync(list -> {
            ObjectNode r = F.objectNode();
            r.put("tick_rate", TICK_RATE);
            ArrayNode arr = r.putArray("threads");
            for (ReactorSnapshot s : list) {
                ObjectNode o = arr.addObject();
                o.put("name", s.reactor().name());
                thread.accept(s, o);
            }
            return r;
        }, c.executor());
    }

    private static CompletionStage<?> threadStats(RpcCall c) throws RpcException {
        return perThread(c, (s, o) -> {
            o.put("id", s.reactor().index() + 1);
            o.put("cpumask", cpumask(s.reactor()));
            o.put("busy", s.stats().busyNanos());
            o.put("idle", s.stats().idleNanos());
            o.put("active_pollers_count", s.stats().activePollers());
            o.put("timed_pollers_count", s.stats().timedPollers());
            o.put("paused_pollers_count", s.stats().pausedPollers());
        });
    }

    private static CompletionStage<?> threadPollers(RpcCall c) throws RpcException {
        return perThread(c, (s, o) -> {
            o.put("id", s.reactor().index() + 1);
            ArrayNode active = o.putArray("active_pollers");
            ArrayNode timed = o.putArray("timed_pollers");
            ArrayNode paused = o.putArray("paused_pollers");
            for (PollerSnapshot p : s.pollers()) {
                ArrayNode into = p.state() == Poller.State.PAUSED ? paused : p.periodNanos() > 0 ? timed : active;
                ObjectNode po = into.addObject();
                po.put("name", p.name());
                po.put("id", p.id());
                po.put("state", p.state() == Poller.State.PAUSED ? "paused" : "waiting"); // SPDK: not running while the RPC looks
                po.put("run_count", p.runCount());
                po.put("busy_count", p.busyCount());
                if (p.periodNanos() > 0) {
                    po.put("period_ticks", p.periodNanos());
                }
            }
        });
    }

    private static CompletionStage<?> threadChannels(RpcCall c) throws RpcException {
        return perThread(c, (s, o) -> {
            ArrayNode chs = o.putArray("io_channels");
            for (Reactor.ChannelInfo ch : s.channels()) {
                ObjectNode co = chs.addObject();
                co.put("name", ch.ioDevice());
                co.put("ref", ch.refs());
            }
        });
    }

    private static CompletionStage<?> getSubsystems(RpcCall c) throws RpcException {
        c.params().end();
        ArrayNode arr = F.arrayNode();
        for (Subsystem s : c.spindle().config().subsystems()) {
            ObjectNode o = arr.addObject();
            o.put("subsystem", s.name());
            ArrayNode deps = o.putArray("depends_on");
            for (String d : s.dependsOn()) {
                deps.add(d);
            }
        }
        return CompletableFuture.completedFuture(arr);
    }

    private static CompletionStage<?> getConfig(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.bool("with_batches", false); // Spindle writes no batch arrays: the output is always flat
        p.end();
        List<String> have = new ArrayList<>();
        for (Subsystem s : c.spindle().config().subsystems()) {
            have.add(s.name());
            if (s.name().equals(name)) {
                ArrayNode arr = F.arrayNode();
                for (ObjectNode e : s.writeConfig()) {
                    arr.add(e);
                }
                return CompletableFuture.completedFuture(arr);
            }
        }
        throw RpcException.invalidParams("name=\"" + name + "\": no such subsystem (have " + String.join(", ", have) + ")");
    }

    private static CompletionStage<?> kill(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String sig = p.string("sig_name");
        p.end();
        switch (sig) {
            case "SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP" -> c.afterResponse(() -> c.spindle().requestShutdown());
            case "SIGKILL" -> c.afterResponse(() -> {
                if (c.spindle().isStandalone()) {
                    RpcServer.LOG.warn("spdk_kill_instance SIGKILL: halting the process");
                    Runtime.getRuntime().halt(137);
                } else {
                    c.spindle().requestShutdown(); // embedded: never kill the user's process
                }
            });
            case "SIGUSR1" -> RpcServer.LOG.info("spdk_kill_instance SIGUSR1: nothing to do");
            default -> throw RpcException.invalidParams("sig_name=\"" + sig + "\": must be one of SIGINT, SIGTERM, SIGQUIT, SIGHUP, "
                    + "SIGKILL, SIGUSR1");
        }
        return CompletableFuture.completedFuture(Boolean.TRUE);
    }

    // ------------------------------------------------------------------ /proc and /sys

    /** usr, sys, irq jiffies per cpu from {@code /proc/stat} (SPDK's {@code app_get_proc_stat}); empty when unknown. */
    private static java.util.Map<Integer, long[]> procStat() {
        java.util.Map<Integer, long[]> out = new java.util.HashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
                if (line.startsWith("cpu") && line.length() > 3 && Character.isDigit(line.charAt(3))) {
                    String[] f = line.trim().split("\\s+");
                    out.put(Integer.parseInt(f[0].substring(3)), new long[] {Long.parseLong(f[1]), Long.parseLong(f[3]), Long.parseLong(f[6])});
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux, or an unexpected format
        }
        return out;
    }

    /** The NUMA node of {@code cpu}, or -1 (SPDK's NUMA_ID_ANY) when unknown. */
    private static int numaId(int cpu) {
        try (var nodes = Files.list(Path.of("/sys/devices/system/cpu/cpu" + cpu))) {
            return nodes.map(x -> x.getFileName().toString()).filter(n -> n.matches("node\\d+"))
                    .mapToInt(n -> Integer.parseInt(n.substring(4))).findFirst().orElse(-1);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
