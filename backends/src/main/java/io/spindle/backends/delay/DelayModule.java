package io.spindle.backends.delay;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.Vbdevs;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevContext;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevHost;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * The {@code delay} virtual bdev module (SPDK's {@code module/bdev/delay}): adds a latency to the reads and writes
 * of its base, for testing how an application copes with a slow device.
 *
 * <p><b>The delay model, as SPDK's.</b> The delay is added on the completion path: an I/O goes to the base at once;
 * when the base completes it, the I/O waits on its channel until {@code now + latency}, then completes with the
 * base's status. Each read or write takes the p99 latency with probability 1% (else the average). Only READ and
 * WRITE are delayed; UNMAP, FLUSH, WRITE_ZEROES and COMPARE complete when the base does. The waiting I/O sit in four
 * queues per channel (average/p99 × read/write, each kept in due order, so an I/O completed after a latency was
 * lowered does not wait behind older ones as in SPDK's FIFOs), released by the channel's <em>timed poller</em>:
 * it is paused while nothing waits and runs every {@code period} (an eighth of the smallest configured latency,
 * between 1 µs and 1 ms) while something does, so an idle delay bdev costs nothing and the reactor's idle strategy
 * can park until the next due time. A RESET aborts every waiting I/O on every channel (ABORTED), then resets the
 * base. {@code bdev_delay_update_latency} changes a latency for completions from then on.
 *
 * <p>Creation, claim, hot-remove and delete are the passthru's ({@link io.spindle.backends.passthru.PassthruModule}):
 * deferred creation by examine, a v1 claim of the base, its own io_device whose channels hold the base's, a REMOVE of
 * the base unregisters the delay bdev and keeps the association (it comes back with the base).
 *
 * <p>Threads: configuration on the app thread (the public methods hop there); I/O, FIFOs and pollers on each
 * channel's reactor; the latencies are volatile (updated from the app thread, read at completion).
 */
public final class DelayModule implements BdevModule {
    private static final Logger LOG = LoggerFactory.getLogger(DelayModule.class);
    /** SPDK's {@code BDEV_DELAY_NAMESPACE_UUID}. */
    public static final UUID NAMESPACE = UUID.fromString("4009b574-6430-4f1b-bc40-ace811091027");

    /** The four latencies ({@code bdev_delay_update_latency}'s {@code latency_type}). */
    public enum LatencyType {
        /** Average read latency. */
        AVG_READ("avg_read"),
        /** 99th percentile read latency. */
        P99_READ("p99_read"),
        /** Average write latency. */
        AVG_WRITE("avg_write"),
        /** 99th percentile write latency. */
        P99_WRITE("p99_write");

        private final String rpcName;

        LatencyType(String rpcName) {
            this.rpcName = rpcName;
        }

        /** The name in the RPC. */
        public String rpcName() {
            return rpcName;
        }
    }

    /** The latencies of a delay bdev, in microseconds. */
    public record Latencies(long avgReadUs, long p99ReadUs, long avgWriteUs, long p99WriteUs) {
        /** Each latency the same. */
        public static Latencies all(long us) {
            return new Latencies(us, us, us, us);
        }
    }

    /** One association: delay name → base name, latencies, UUID. */
    record Assoc(String name, String baseName, UUID uuid, Latencies latencies) {
    }

    private final Map<String, Assoc> assocs = new LinkedHashMap<>();
    private final Map<String, Node> nodes = new LinkedHashMap<>();

    /** The module, found by ServiceLoader. */
    public DelayModule() {
    }

    @Override
    public String name() {
        return "delay";
    }

    /** One context per pooled I/O: its FIFO link and due time. */
    @Override
    public Object newIoContext() {
        return new DelayIo();
    }

    // ------------------------------------------------------------------ control plane (app thread)

    /**
     * {@code bdev_delay_create}: completes with the name (also when the base is missing: deferred); fails with
     * {@link BdevException} EINVAL (a p99 latency below its average), EEXIST (a delay of that name), or what
     * opening, claiming or registering answered (the association is dropped then). Any thread.
     */
    public CompletionStage<String> create(BdevLayer layer, String name, String baseName, UUID uuid, Latencies l) {
        return Vbdevs.onApp(layer, () -> {
            if (l.p99ReadUs() < l.avgReadUs() || l.p99WriteUs() < l.avgWriteUs()) {
                return Vbdevs.failed(Errno.EINVAL, "bdev_delay_create name=" + name + ": p99 latency below average (p99_read_latency="
                        + l.p99ReadUs() + " avg_read_latency=" + l.avgReadUs() + " p99_write_latency=" + l.p99WriteUs() + " avg_write_latency="
                        + l.avgWriteUs() + ")");
            }
            if (assocs.containsKey(name)) {
                return Vbdevs.failed(Errno.EEXIST, "bdev_delay_create name=" + name + ": delay bdev already exists");
            }
            Assoc a = new Assoc(name, baseName, uuid, l);
            assocs.put(name, a);
            if (layer.get(baseName) == null) {
                LOG.info("delay {}: base {} not present; creation deferred until it registers", name, baseName);
                return CompletableFuture.completedFuture(name);
            }
            CompletableFuture<String> f = new CompletableFuture<>();
            build(layer, a).whenComplete((b, err) -> {
                if (err != null) {
                    assocs.remove(name, a);
                    f.completeExceptionally(err);
                } else {
                    f.complete(name);
                }
            });
            return f;
        });
    }

    /** {@code bdev_delay_delete}: drops the association and unregisters; 0 or ENODEV. Any thread. */
    public CompletionStage<Integer> delete(BdevLayer layer, String name) {
        return Vbdevs.onApp(layer, () -> {
            Assoc a = assocs.remove(name);
            if (!nodes.containsKey(name)) {
                return CompletableFuture.completedFuture(a == null ? Errno.ENODEV : Errno.OK);
            }
            return layer.unregister(name);
        });
    }

    /**
     * {@code bdev_delay_update_latency}: sets one latency of a live delay bdev (and of its association, so a
     * re-creation keeps it). As SPDK's it does not check p99 against the average. 0, or ENODEV. Any thread.
     */
    public CompletionStage<Integer> updateLatency(BdevLayer layer, String name, LatencyType type, long us) {
        return Vbdevs.onApp(layer, () -> {
            Node n = nodes.get(name);
            if (n == null) {
                return CompletableFuture.completedFuture(Errno.ENODEV);
            }
            long ns = TimeUnit.MICROSECONDS.toNanos(us);
            switch (type) {
                case AVG_READ -> n.avgRead = ns;
                case P99_READ -> n.p99Read = ns;
                case AVG_WRITE -> n.avgWrite = ns;
                case P99_WRITE -> n.p99Write = ns;
                default -> throw new IllegalArgumentException(type.name());
            }
            Assoc a = assocs.get(name);
            if (a != null) {
                assocs.put(name, new Assoc(a.name(), a.baseName(), a.uuid(), n.latencies()));
            }
            return CompletableFuture.completedFuture(Errno.OK);
        });
    }

    /**
     * A bdev registered: build what the configuration puts on it. Done in examine_disk (SPDK does it in
     * examine_config, where registering is synchronous) so that the registry tracks the build and
     * {@code bdev_wait_for_examine} waits for the bdevs it registers.
     */
    @Override
    public CompletionStage<Void> examineDisk(BdevView bdev, BdevHost host) {
        List<CompletableFuture<?>> builds = new ArrayList<>();
        for (Assoc a : new ArrayList<>(assocs.values())) {
            if (!nodes.containsKey(a.name()) && (a.baseName().equals(bdev.name()) || bdev.aliases().contains(a.baseName()))) {
                builds.add(build(BdevLayer.of(host), a).whenComplete((b, err) -> {
                    if (err != null) {
                        LOG.error("delay {}: could not be built on {}: {}", a.name(), bdev.name(), err.getMessage());
                    }
                }).toCompletableFuture().exceptionally(e -> null));
            }
        }
        return CompletableFuture.allOf(builds.toArray(new CompletableFuture<?>[0]));
    }

    @Override
    public CompletionStage<Void> fini(BdevHost host) {
        assocs.clear();
        return CompletableFuture.completedFuture(null);
    }

    /** Associations by delay name → base name (tests). App thread. */
    Map<String, String> associations() {
        Map<String, String> m = new LinkedHashMap<>();
        assocs.values().forEach(a -> m.put(a.name(), a.baseName()));
        return m;
    }

    private CompletionStage<Bdev> build(BdevLayer layer, Assoc a) {
        Node n = new Node(this, layer, a.name(), a.latencies());
        BdevDescriptor desc;
        try {
            desc = layer.open(a.baseName(), true, n::onBaseEvent);
        } catch (BdevException e) {
            return CompletableFuture.failedFuture(e);
        }
        Bdev base = desc.bdev();
        int rc = layer.claimBdev(base, desc, this);
        if (rc != 0) {
            desc.close();
            return Vbdevs.failed(rc, "bdev_delay_create name=" + a.name() + ": base " + base.name() + " is already claimed by module "
                    + (base.claimModule() == null ? "?" : base.claimModule().name()));
        }
        n.base = base;
        n.desc = desc;
        nodes.put(a.name(), n);
        UUID uuid = a.uuid() != null ? a.uuid() : Vbdevs.sha1Uuid(NAMESPACE, base.uuid());
        BdevSpec spec = BdevSpec.builder(this, new Driver(n)).name(a.name()).productName("delay")
                .blockSize(base.blockSize()).numBlocks(base.numBlocks()).uuid(uuid)
                .writeCache(base.writeCache()).requiredAlignment(base.requiredAlignment()).optimalIoBoundary(base.optimalIoBoundary())
                .build();
        return layer.register(spec).whenComplete((b, err) -> {
            if (err != null) {
                n.releaseBase();
                nodes.remove(a.name(), n);
            } else {
                n.registered = true;
                if (n.baseRemoved) {
                    n.unregisterSelf();
                }
            }
        });
    }

    /** One delay bdev: SPDK's {@code struct vbdev_delay}. Latencies (ns) volatile; the rest app thread. */
    static final class Node {
        final DelayModule module;
        final BdevLayer layer;
        final String name;
        volatile long avgRead;
        volatile long p99Read;
        volatile long avgWrite;
        volatile long p99Write;
        Bdev base;
        BdevDescriptor desc;
        boolean registered;
        boolean baseRemoved;
        boolean released;

        Node(DelayModule module, BdevLayer layer, String name, Latencies l) {
            this.module = module;
            this.layer = layer;
            this.name = name;
            this.avgRead = TimeUnit.MICROSECONDS.toNanos(l.avgReadUs());
            this.p99Read = TimeUnit.MICROSECONDS.toNanos(l.p99ReadUs());
            this.avgWrite = TimeUnit.MICROSECONDS.toNanos(l.avgWriteUs());
            this.p99Write = TimeUnit.MICROSECONDS.toNanos(l.p99WriteUs());
        }

        Latencies latencies() {
            return new Latencies(avgRead / 1000, p99Read / 1000, avgWrite / 1000, p99Write / 1000);
        }

        long latency(int kind) {
            return switch (kind) {
                case DelayIo.AVG_READ -> avgRead;
                case DelayIo.P99_READ -> p99Read;
                case DelayIo.AVG_WRITE -> avgWrite;
                default -> p99Write;
            };
        }

        void onBaseEvent(BdevEvent event, Bdev bdev, BdevDescriptor d) {
            if (event != BdevEvent.REMOVE) {
                return;
            }
            baseRemoved = true;
            if (registered) {
                unregisterSelf();
            }
        }

        void unregisterSelf() {
            layer.unregister(name);
        }

        void releaseBase() {
            if (!released) {
                released = true;
                layer.releaseBdev(base, module);
                desc.close();
            }
        }
    }

    // ------------------------------------------------------------------ per I/O and per channel

    /** A pooled I/O's delay context (SPDK's {@code struct delay_bdev_io}). Owner: the I/O's reactor. */
    static final class DelayIo {
        static final int NONE = -1;
        static final int AVG_READ = 0;
        static final int P99_READ = 1;
        static final int AVG_WRITE = 2;
        static final int P99_WRITE = 3;

        ModuleIo io;
        DelayChannel ch;
        int kind;
        long due;
        IoStatus status;
        DelayIo next;
    }

    /**
     * A delay bdev's module channel on one reactor (SPDK's {@code struct delay_io_channel}): the base's channel, the
     * four FIFOs of I/O waiting for their due time, the timed poller that releases them, and a PRNG for the p99 draw.
     */
    static final class DelayChannel {
        final Node node;
        final Reactor reactor;
        final IoChannel<BdevChannel> base;
        final DelayIo[] heads = new DelayIo[4];
        final DelayIo[] tails = new DelayIo[4];
        int waiting;
        Poller poller;
        FanOuts fanOuts;
        long seed;

        DelayChannel(Node node, Reactor reactor, IoChannel<BdevChannel> base) {
            this.node = node;
            this.reactor = reactor;
            this.base = base;
            this.seed = System.nanoTime() | 1;
        }

        /** 1 in 100, from a per-channel xorshift generator (SPDK: {@code rand_r(&seed) % 100 == 0}). */
        boolean drawP99() {
            long x = seed;
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            seed = x;
            return Long.remainderUnsigned(x, 100) == 0;
        }

        /**
         * Adds {@code d} to its FIFO in due order: appended when due no earlier than the tail (always, unless a
         * latency was lowered while I/O waited, where SPDK's plain FIFO would hold the new I/O behind the old).
         */
        void enqueue(DelayIo d) {
            int k = d.kind;
            DelayIo tail = tails[k];
            if (tail == null) {
                d.next = null;
                heads[k] = d;
                tails[k] = d;
            } else if (tail.due - d.due <= 0) {
                d.next = null;
                tail.next = d;
                tails[k] = d;
            } else if (heads[k].due - d.due > 0) {
                d.next = heads[k];
                heads[k] = d;
            } else {
                DelayIo p = heads[k];
                while (p.next != null && p.next.due - d.due <= 0) {
                    p = p.next;
                }
                d.next = p.next;
                p.next = d;
            }
            if (waiting++ == 0) {
                poller.resume();
            }
        }

        /** The timed poller: completes every waiting I/O that is due (in each FIFO, up to the first not yet due). */
        int poll() {
            long now = reactor.now();
            int n = 0;
            for (int k = 0; k < 4; k++) {
                DelayIo d;
                while ((d = heads[k]) != null && d.due - now <= 0) {
                    pop(k);
                    n++;
                    finish(d, d.status);
                }
            }
            return n;
        }

        private void pop(int k) {
            DelayIo d = heads[k];
            heads[k] = d.next;
            if (heads[k] == null) {
                tails[k] = null;
            }
            d.next = null;
            if (--waiting == 0) {
                poller.pause();
            }
        }

        /** Completes every waiting I/O with {@code status} (RESET: ABORTED; a channel going away: their own). */
        int releaseAll(IoStatus status) {
            int n = 0;
            for (int k = 0; k < 4; k++) {
                DelayIo d;
                while ((d = heads[k]) != null) {
                    pop(k);
                    n++;
                    finish(d, status == null ? d.status : status);
                }
            }
            return n;
        }

        private static void finish(DelayIo d, IoStatus status) {
            ModuleIo io = d.io;
            d.io = null;
            d.ch = null;
            io.complete(status);
        }
    }

    /** Base I/O completion: wait for the I/O's latency (READ/WRITE) or complete at once. */
    private static final IoCallback BASE_DONE = (BdevIo baseIo, IoStatus status, Object arg) -> {
        DelayIo d = (DelayIo) arg;
        DelayChannel ch = d.ch;
        if (d.kind == DelayIo.NONE) {
            DelayChannel.finish(d, status);
            return;
        }
        long lat = ch.node.latency(d.kind);
        if (lat <= 0) {
            DelayChannel.finish(d, status);
            return;
        }
        d.status = status;
        d.due = ch.reactor.now() + lat;
        ch.enqueue(d);
    };

    /** The delay bdev's driver. */
    static final class Driver implements BdevDriver<IoChannel<DelayChannel>> {
        private final Node node;
        private IoDevice<DelayChannel> ioDevice;

        Driver(Node node) {
            this.node = node;
        }

        @Override
        public boolean supports(IoType type) {
            return switch (type) {
                case READ, WRITE, UNMAP, FLUSH, RESET, WRITE_ZEROES, COMPARE -> node.base.supports(type);
                default -> false;
            };
        }

        @Override
        public void start(BdevContext context) {
            ioDevice = context.registerIoDevice("delay_" + node.name, new ChannelFactory<>() {
                @Override
                public DelayChannel create(IoDevice<DelayChannel> device, Reactor reactor) {
                    IoChannel<BdevChannel> base = node.desc.getIoChannel();
                    if (base == null) {
                        throw new BdevException(Errno.ENODEV, "delay " + node.name + ": no channel of base " + node.base.name());
                    }
                    DelayChannel ch = new DelayChannel(node, reactor, base);
                    ch.poller = reactor.registerPoller("bdev_delay_" + node.name, ch::poll, pollPeriodNanos(node), TimeUnit.NANOSECONDS);
                    ch.poller.pause();
                    ch.fanOuts = FanOuts.forReactor(reactor);
                    return ch;
                }

                @Override
                public void destroy(IoDevice<DelayChannel> device, Reactor reactor, DelayChannel ch) {
                    ch.releaseAll(null);
                    ch.poller.unregister();
                    ch.fanOuts.close();
                    ch.base.put();
                }
            });
        }

        /** An eighth of the smallest non-zero latency, between 1 µs and 1 ms. */
        static long pollPeriodNanos(Node n) {
            long min = Long.MAX_VALUE;
            for (long l : new long[] {n.avgRead, n.p99Read, n.avgWrite, n.p99Write}) {
                if (l > 0) {
                    min = Math.min(min, l);
                }
            }
            long p = min == Long.MAX_VALUE ? 1000 : min / 8;
            return Math.max(1_000, Math.min(1_000_000, p));
        }

        @Override
        public IoChannel<DelayChannel> createChannel(BdevView bdev, Reactor reactor) {
            return ioDevice.getChannelOrThrow();
        }

        /** The bdev's channel goes: what still waits on this reactor completes now (with the base's status). */
        @Override
        public void destroyChannel(BdevView bdev, Reactor reactor, IoChannel<DelayChannel> ch) {
            ch.context().releaseAll(null);
            ch.put();
        }

        @Override
        public void submit(ModuleIo io, IoChannel<DelayChannel> chan) {
            DelayChannel ch = chan.context();
            if (io.type() == IoType.RESET) {
                reset(io, ch);
                return;
            }
            DelayIo d = (DelayIo) io.moduleContext();
            d.io = io;
            d.ch = ch;
            d.kind = switch (io.type()) {
                case READ -> ch.drawP99() ? DelayIo.P99_READ : DelayIo.AVG_READ;
                case WRITE -> ch.drawP99() ? DelayIo.P99_WRITE : DelayIo.AVG_WRITE;
                default -> DelayIo.NONE;
            };
            int rc = node.desc.forward(ch.base, io.type(), io, io.offsetBlocks(), BASE_DONE, d);
            if (rc != 0) {
                d.io = null;
                d.ch = null;
                io.complete(rc == Errno.ENOMEM ? IoStatus.NOMEM : IoStatus.FAILED);
            }
        }

        /**
         * SPDK's delay reset: abort every waiting I/O on every channel of the module io_device (a walk from this
         * reactor), then reset the base; the RESET completes with the base's.
         */
        private void reset(ModuleIo io, DelayChannel origin) {
            origin.fanOuts.forEachChannel(ioDevice, io, new FanOuts.ChannelVisitor<ModuleIo, DelayChannel, Object>() {
                @Override
                public void visit(FanOuts.ChannelHop<DelayChannel, Object> hop) {
                    hop.context().releaseAll(IoStatus.ABORTED);
                    hop.continueWalk(Errno.OK);
                }

                @Override
                public void complete(ModuleIo reset, int status) {
                    int rc = node.desc.reset(origin.base, (b, st, arg) -> reset.complete(st), null);
                    if (rc != 0) {
                        reset.complete(rc == Errno.ENOMEM ? IoStatus.NOMEM : IoStatus.FAILED);
                    }
                }
            });
        }

        @Override
        public CompletionStage<Void> destruct() {
            CompletableFuture<Void> done = new CompletableFuture<>();
            Runnable r = () -> {
                node.releaseBase();
                node.module.nodes.remove(node.name, node);
                done.complete(null);
            };
            if (Vbdevs.onAppThread(node.layer)) {
                r.run();
            } else {
                Vbdevs.appThread(node.layer).send(r);
            }
            return done;
        }

        private void writeValues(ObjectNode p, BdevView bdev) {
            p.put("name", node.name);
            p.put("base_bdev_name", node.base.name());
            p.put("uuid", bdev.uuid().toString());
            Latencies l = node.latencies();
            p.put("avg_read_latency", l.avgReadUs());
            p.put("p99_read_latency", l.p99ReadUs());
            p.put("avg_write_latency", l.avgWriteUs());
            p.put("p99_write_latency", l.p99WriteUs());
        }

        @Override
        public void dumpInfo(ObjectNode ds) {
            Bdev self = node.layer.get(node.name);
            if (self != null) {
                writeValues(ds, self);
            }
        }

        @Override
        public List<String> baseBdevs() {
            return List.of(node.base.name());
        }

        @Override
        public ObjectNode writeConfig(BdevView bdev) {
            ObjectNode call = JsonNodeFactory.instance.objectNode();
            call.put("method", "bdev_delay_create");
            writeValues(call.putObject("params"), bdev);
            return call;
        }
    }
}
