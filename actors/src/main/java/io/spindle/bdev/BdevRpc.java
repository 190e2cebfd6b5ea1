package io.spindle.bdev;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.app.Spindle;
import io.spindle.rpc.FrameworkRpc;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Errno;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * The bdev layer's JSON-RPC methods (SPDK's {@code lib/bdev/bdev_rpc.c}): {@code bdev_set_options},
 * {@code bdev_get_bdevs}, {@code bdev_get_iostat}, {@code bdev_reset_iostat}, {@code bdev_set_qos_limit},
 * {@code bdev_enable_histogram}, {@code bdev_get_histogram}, {@code bdev_wait_for_examine} and
 * {@code bdev_examine}, with SPDK's parameters and result shapes. Modules bring their own create/delete methods.
 *
 * <p>Errors: an unknown bdev is {@code -19} ("No such device"), as SPDK answers; bad parameters are -32602
 * naming the key and the bound.
 */
public final class BdevRpc implements RpcMethodProvider {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** The provider, found by ServiceLoader. */
    public BdevRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(
                RpcMethod.startup("bdev_set_options", BdevRpc::setOptions),
                RpcMethod.runtime("bdev_get_bdevs", BdevRpc::getBdevs),
                RpcMethod.runtime("bdev_get_iostat", BdevRpc::getIostat),
                RpcMethod.runtime("bdev_reset_iostat", BdevRpc::resetIostat),
                RpcMethod.runtime("bdev_set_qos_limit", BdevRpc::setQos),
                RpcMethod.runtime("bdev_enable_histogram", BdevRpc::enableHistogram),
                RpcMethod.runtime("bdev_get_histogram", BdevRpc::getHistogram),
                RpcMethod.runtime("bdev_wait_for_examine", BdevRpc::waitForExamine),
                RpcMethod.runtime("bdev_examine", BdevRpc::examine));
    }

    /**
     * The bdev layer of the call's Spindle; for module methods too.
     *
     * @throws RpcException -19 when the Spindle has no bdev subsystem (or it is not initialised)
     */
    public static BdevLayer layer(RpcCall c) throws RpcException {
        try {
            return BdevLayer.of(c.spindle());
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw RpcException.errno(Errno.ENODEV, "no bdev subsystem: " + e.getMessage());
        }
    }

    private static RpcException noSuchDevice() {
        return RpcException.errno(Errno.ENODEV, null);
    }

    /** Fails a stage with {@code e} (for use inside stage callbacks). */
    static CompletionException fail(RpcException e) {
        return new CompletionException(e);
    }

    /**
     * {@code true} for an {@link Errno#OK} status, else fails the stage with SPDK's negative-errno error
     * ({@code -19 "No such device"}, ...): the usual end of a module's delete method.
     */
    public static Boolean trueOrErrno(int status) {
        if (status != Errno.OK) {
            throw fail(RpcException.errno(status, null));
        }
        return Boolean.TRUE;
    }

    // ------------------------------------------------------------------ bdev_set_options

    private static CompletionStage<?> setOptions(RpcCall c) throws RpcException {
        Spindle sp = c.spindle();
        BdevSubsystem sub;
        try {
            sub = sp.subsystem(BdevSubsystem.class);
        } catch (IllegalArgumentException e) {
            throw RpcException.errno(Errno.ENODEV, "no bdev subsystem configured");
        }
        BdevOptions cur = sub.options();
        if (cur == null) {
            com.typesafe.config.Config h = sp.config().config();
            cur = BdevOptions.defaults(h.hasPath("spindle.bdev.io-pool-size") ? h.getInt("spindle.bdev.io-pool-size") : 1024);
        }
        int reactors = sp.reactors().size();
        RpcParams p = c.params();
        long given = sub.configuredIoPoolSize();
        long pool = p.integer("bdev_io_pool_size", given >= 0 ? given : (long) cur.ioPoolSize() * reactors, 16, (1L << 20) * reactors);
        long cache = p.integer("bdev_io_cache_size", cur.ioCacheSize(), 0, Integer.MAX_VALUE);
        boolean auto = p.bool("bdev_auto_examine", cur.autoExamine());
        long small = p.integer("iobuf_small_cache_size", cur.iobufSmallCacheSize(), 0, 1 << 16);
        long large = p.integer("iobuf_large_cache_size", cur.iobufLargeCacheSize(), 0, 1 << 12);
        p.end();
        long perReactor = Math.max(16, (pool + reactors - 1) / reactors);
        if (cache * reactors > pool) {
            throw RpcException.invalidParams("Pool size " + pool + " too small for cache size " + cache + " (bdev_io_pool_size must be >= "
                    + "bdev_io_cache_size * " + reactors + " reactors)");
        }
        try {
            sub.options(new BdevOptions((int) perReactor, (int) cache, auto, (int) small, (int) large), pool);
        } catch (IllegalStateException e) {
            throw new RpcException(RpcException.INVALID_STATE, "bdev_set_options: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw RpcException.invalidParams(e.getMessage());
        }
        return CompletableFuture.completedFuture(Boolean.TRUE);
    }

    // ------------------------------------------------------------------ bdev_get_bdevs

    private static CompletionStage<?> getBdevs(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name", null);
        long timeout = p.integer("timeout", 0, 0, Integer.MAX_VALUE);
        p.end();
        BdevLayer l = layer(c);
        if (name == null) {
            ArrayNode arr = F.arrayNode();
            for (Bdev b : l.bdevs()) {
                if (b.status() == Bdev.Status.READY) {
                    arr.add(b.toJson(c.json()));
                }
            }
            return CompletableFuture.completedFuture(arr);
        }
        CompletableFuture<Object> f = new CompletableFuture<>();
        long deadline = System.nanoTime() + Duration.ofMillis(timeout).toNanos();
        lookUp(c, l, name, deadline, f);
        return f;
    }

    /** SPDK's {@code spdk_bdev_open_async} with a timeout: look again every 10 ms until the bdev appears. */
    private static void lookUp(RpcCall c, BdevLayer l, String name, long deadline, CompletableFuture<Object> f) {
        Bdev b = l.get(name);
        if (b != null && b.status() == Bdev.Status.READY) {
            ArrayNode arr = F.arrayNode();
            arr.add(b.toJson(c.json()));
            f.complete(arr);
            return;
        }
        Bdev pending = l.reserved(name);
        boolean registering = pending != null && pending.status() == Bdev.Status.REGISTERING;
        if (System.nanoTime() - deadline >= 0 && !registering) {
            // a bdev still registering is waited for past the timeout: in SPDK a register is synchronous, so a
            // bdev whose create was already answered (e.g. earlier in the same batch) is always found
            f.completeExceptionally(noSuchDevice());
            return;
        }
        c.spindle().system().scheduler().scheduleOnce(Duration.ofMillis(registering ? 1 : 10), () -> lookUp(c, l, name, deadline, f),
                c.spindle().system().executionContext());
    }

    // ------------------------------------------------------------------ iostat

    private static IoStats.ResetMode mode(RpcParams p, String key, String def) throws RpcException {
        return IoStats.ResetMode.of(p.choice(key, def, "all", "maxmin", "error", "none"));
    }

    private static CompletionStage<?> getIostat(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        // SPDK's decoder (schema.yaml, bdev_get_iostat): names, per_channel, reset_mode; there is no "name"
        List<String> names = p.strings("names");
        boolean perChannel = p.bool("per_channel", false);
        IoStats.ResetMode reset = mode(p, "reset_mode", "none");
        p.end();
        if (perChannel && (names == null || names.size() != 1)) {
            throw RpcException.errno(Errno.EINVAL, "per_channel needs exactly one bdev in names");
        }
        BdevLayer l = layer(c);
        List<Bdev> targets = new ArrayList<>();
        if (names == null) {
            for (Bdev b : l.bdevs()) {
                if (b.status() == Bdev.Status.READY) {
                    targets.add(b);
                }
            }
        } else {
            for (String n : names) {
                Bdev b = l.get(n);
                if (b == null || b.status() != Bdev.Status.READY) {
                    throw noSuchDevice();
                }
                targets.add(b);
            }
        }
        long ticks = System.nanoTime();
        if (perChannel) {
            Bdev b = targets.get(0);
            return l.channelStats(b.name(), reset).thenApplyAsync(list -> {
                ObjectNode r = F.objectNode();
                r.put("tick_rate", FrameworkRpc.TICK_RATE);
                r.put("ticks", ticks);
                r.put("name", b.name());
                ArrayNode chs = r.putArray("channels");
                for (BdevLayer.ChannelStats cs : list) {
                    if (cs.reactor() == null) {
                        continue; // merged from destroyed channels: not a channel
                    }
                    ObjectNode o = chs.addObject();
                    o.put("thread_id", cs.reactor().index() + 1);
                    cs.stats().writeJson(o);
                }
                return r;
            }, c.executor());
        }
        List<CompletableFuture<IoStats>> parts = new ArrayList<>();
        for (Bdev b : targets) {
            parts.add(l.stats(b.name(), reset).toCompletableFuture());
        }
        return CompletableFuture.allOf(parts.toArray(new CompletableFuture<?>[0])).thenApplyAsync(v -> {
            ObjectNode r = F.objectNode();
            r.put("tick_rate", FrameworkRpc.TICK_RATE);
            r.put("ticks", ticks);
            ArrayNode arr = r.putArray("bdevs");
            for (int i = 0; i < targets.size(); i++) {
                ObjectNode o = arr.addObject();
                o.put("name", targets.get(i).name());
                parts.get(i).join().writeJson(o);
            }
            return r;
        }, c.executor()).exceptionally(err -> {
            throw fail(noSuchDevice()); // a bdev went away during the walk, as SPDK's open would fail
        });
    }

    private static CompletionStage<?> resetIostat(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name", null);
        IoStats.ResetMode mode = mode(p, "mode", "all");
        p.end();
        BdevLayer l = layer(c);
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        if (name != null) {
            Bdev b = l.get(name);
            if (b == null || b.status() != Bdev.Status.READY) {
                throw noSuchDevice();
            }
            parts.add(l.resetStats(b.name(), mode).toCompletableFuture());
        } else {
            for (Bdev b : l.bdevs()) {
                if (b.status() == Bdev.Status.READY) {
                    parts.add(l.resetStats(b.name(), mode).toCompletableFuture().exceptionally(e -> null));
                }
            }
        }
        return CompletableFuture.allOf(parts.toArray(new CompletableFuture<?>[0])).handle((v, err) -> {
            if (err != null) {
                throw fail(noSuchDevice());
            }
            return Boolean.TRUE;
        });
    }

    // ------------------------------------------------------------------ QoS

    private static CompletionStage<?> setQos(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        long max = 1L << 40;
        long ios = p.integer("rw_ios_per_sec", -1, 0, max);
        long rw = p.integer("rw_mbytes_per_sec", -1, 0, max);
        long r = p.integer("r_mbytes_per_sec", -1, 0, max);
        long w = p.integer("w_mbytes_per_sec", -1, 0, max);
        p.end();
        if (ios < 0 && rw < 0 && r < 0 && w < 0) {
            throw RpcException.errnoMessage(Errno.EINVAL, "No rate limits specified");
        }
        BdevLayer l = layer(c);
        Bdev b = l.get(name);
        if (b == null || b.status() != Bdev.Status.READY) {
            throw noSuchDevice();
        }
        QosLimits cur = b.qosLimits(); // SPDK: a limit not given keeps its current value
        QosLimits next = QosLimits.of(ios >= 0 ? ios : cur.rwIosPerSec(), rw >= 0 ? rw : cur.rwMbytesPerSec(),
                r >= 0 ? r : cur.rMbytesPerSec(), w >= 0 ? w : cur.wMbytesPerSec());
        return l.setQosLimits(b.name(), next).thenApply(BdevRpc::trueOrErrno);
    }

    // ------------------------------------------------------------------ histograms

    private static CompletionStage<?> enableHistogram(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        boolean enable = p.bool("enable");
        String opc = p.string("opc", null);
        long g = p.integer("granularity", SpdkHistogram.DEFAULT_GRANULARITY, 1, 20);
        long min = p.integer("min_nsec", SpdkHistogram.DEFAULT_MIN_NSEC, 0, Long.MAX_VALUE);
        long maxNs = p.integer("max_nsec", SpdkHistogram.DEFAULT_MAX_NSEC, 1, Long.MAX_VALUE);
        p.end();
        if (opc != null) {
            throw RpcException.invalidParams("opc=\"" + opc + "\": Spindle keeps one histogram for all I/O types; omit opc");
        }
        SpdkHistogram.Options o;
        try {
            o = new SpdkHistogram.Options((int) g, min, maxNs);
        } catch (IllegalArgumentException e) {
            throw RpcException.invalidParams(e.getMessage());
        }
        Bdev b = layer(c).get(name);
        if (b == null || b.status() != Bdev.Status.READY || !layer(c).enableHistogram(b.name(), enable, o)) {
            throw noSuchDevice();
        }
        return CompletableFuture.completedFuture(Boolean.TRUE);
    }

    private static CompletionStage<?> getHistogram(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = layer(c);
        Bdev b = l.get(name);
        if (b == null || b.status() != Bdev.Status.READY) {
            throw noSuchDevice();
        }
        if (!b.histogramEnabled()) {
            throw RpcException.errno(Errno.EFAULT, "Bad address: histogram not enabled on " + b.name() + " (bdev_enable_histogram)");
        }
        SpdkHistogram.Options o = b.histogramOptions();
        return l.histogram(b.name()).thenApplyAsync(h -> {
            ObjectNode r = F.objectNode();
            r.put("histogram", SpdkHistogram.encode(SpdkHistogram.buckets(h, o)));
            r.put("granularity", o.granularity());
            r.put("min_range", o.minRange());
            r.put("max_range", o.maxRange());
            r.put("tsc_rate", FrameworkRpc.TICK_RATE);
            return r;
        }, c.executor());
    }

    // ------------------------------------------------------------------ examine

    private static CompletionStage<?> waitForExamine(RpcCall c) throws RpcException {
        if (c.params().present()) {
            throw new RpcException(RpcException.INVALID_PARAMS, "bdev_wait_for_examine requires no parameters");
        }
        return layer(c).waitForExamine().thenApply(v -> Boolean.TRUE);
    }

    private static CompletionStage<?> examine(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        return layer(c).examine(name).thenApply(v -> Boolean.TRUE);
    }
}
