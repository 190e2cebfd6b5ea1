package io.spindle.backends.passthru;

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
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
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

/**
 * The {@code passthru} virtual bdev module: SPDK's {@code module/bdev/passthru}, and Spindle's reference virtual
 * bdev — copy this file to write a module that stacks on another bdev (as {@code NullModule} is the one to copy for a
 * module on a device). A passthru bdev forwards every I/O, unchanged, to its base bdev.
 *
 * <p><b>What a virtual bdev does, step by step</b> (each step is marked in the code):
 * <ol>
 *   <li><b>Remember the configuration first.</b> {@code bdev_passthru_create} records the association
 *       (passthru name → base name, UUID) before it looks for the base. When the base does not exist yet the call
 *       still succeeds: the passthru is built by {@link #examineDisk} when a bdev of that name registers, so a
 *       configuration replays in any order (SPDK's deferred creation).</li>
 *   <li><b>Open and claim the base</b> on the app thread (reactor 0): a writable descriptor with an event handler,
 *       then a v1 module claim ({@code spdk_bdev_module_claim_bdev}: exclusive writer; a second claimer gets EPERM, and
 *       nobody else can open the base for writing).</li>
 *   <li><b>Register the bdev</b> with the base's geometry. Its driver's {@link BdevDriver#start} registers the
 *       module's own io_device through {@link BdevContext#registerIoDevice}, as SPDK's passthru registers its
 *       {@code pt_node}: each channel of it holds this reactor's channel of the base (a nested channel, got in the
 *       factory's create and put in its destroy). The bdev's {@code createChannel} gets a channel of that io_device
 *       and {@code destroyChannel} puts it. Because that io_device is a child of the bdev's actor, the bdev's
 *       {@code destruct} runs only after every such channel, and so every base channel, is gone: the SPDK #3252
 *       bug cannot happen, and {@code destruct} may close the base descriptor at once.</li>
 *   <li><b>Forward I/O</b> with {@link BdevDescriptor#forward} (the caller's data vector, no copy) and complete the
 *       original from the base I/O's callback with the base's status. One static callback and the original I/O as
 *       its argument: nothing is allocated per I/O. A base with no free I/O (ENOMEM) is answered by completing
 *       the original NOMEM: the bdev layer requeues and retries it, as SPDK's {@code spdk_bdev_queue_io_wait}.</li>
 *   <li><b>Hot-remove.</b> REMOVE on the base descriptor unregisters the passthru bdev: its users get REMOVE and
 *       close, their I/O completes, the channels go, then {@code destruct} releases the claim and closes the base
 *       descriptor, which lets the base's unregister finish. The association stays: the passthru comes back when
 *       a bdev of the base's name registers again.</li>
 *   <li><b>Delete</b> ({@code bdev_passthru_delete}) drops the association and unregisters the bdev.</li>
 * </ol>
 *
 * <p><b>Threads.</b> The associations, the live nodes and every descriptor of a base belong to the app thread
 * (reactor 0, where the registry calls {@link #examineDisk} and bdev actors call {@code destruct}); the public
 * methods hop there. {@code submit} and the channel methods run on the I/O's reactor. {@code driverSpecific},
 * {@code writeConfig} and {@code baseBdevs} read only final fields (they may run on the RPC thread).
 */
public final class PassthruModule implements BdevModule {
    private static final Logger LOG = LoggerFactory.getLogger(PassthruModule.class);
    /** SPDK's {@code BDEV_PASSTHRU_NAMESPACE_UUID}: the namespace of UUIDs derived from the base's. */
    public static final UUID NAMESPACE = UUID.fromString("7e25812e-c8c0-4d3f-8599-16d790555b85");

    /** One association from {@code bdev_passthru_create}: passthru name → base name, optional UUID. */
    record Assoc(String name, String baseName, UUID uuid) {
    }

    /** Associations by passthru name, in creation order (SPDK's {@code g_bdev_names}). App thread. */
    private final Map<String, Assoc> assocs = new LinkedHashMap<>();
    /** Live passthru bdevs (registering or registered) by name (SPDK's {@code g_pt_nodes}). App thread. */
    private final Map<String, Node> nodes = new LinkedHashMap<>();
    /** Tests: receives "module channel destroyed on REACTOR" and "destruct begins NAME" as they happen. */
    volatile java.util.function.Consumer<String> trace;

    /** The module, found by ServiceLoader. */
    public PassthruModule() {
    }

    @Override
    public String name() {
        return "passthru";
    }

    // ------------------------------------------------------------------ control plane (app thread)

    /**
     * {@code bdev_passthru_create}: records the association and builds the passthru if its base exists. Completes
     * with the passthru's name, also when the base is missing (creation deferred until it registers); fails with
     * {@link BdevException}: EEXIST (the name is in use as a passthru), ENODEV/EPERM/EINVAL from opening, claiming
     * or registering (then the association is dropped again). Any thread.
     */
    public CompletionStage<String> create(BdevLayer layer, String name, String baseName, UUID uuid) {
        return Vbdevs.onApp(layer, () -> {
            if (assocs.containsKey(name)) {
                return Vbdevs.failed(Errno.EEXIST, "bdev_passthru_create name=" + name + ": passthru bdev already exists");
            }
            Assoc a = new Assoc(name, baseName, uuid);
            assocs.put(name, a); // step 1: remember first, so examine finds it whenever the base comes
            if (layer.get(baseName) == null) {
                LOG.info("passthru {}: base {} not present; creation deferred until it registers", name, baseName);
                return CompletableFuture.completedFuture(name);
            }
            CompletableFuture<String> f = new CompletableFuture<>();
            build(layer, a).whenComplete((b, err) -> {
                if (err != null) {
                    assocs.remove(name, a); // a create that failed leaves nothing behind
                    f.completeExceptionally(err);
                } else {
                    f.complete(name);
                }
            });
            return f;
        });
    }

    /**
     * {@code bdev_passthru_delete}: drops the association and unregisters the passthru bdev. Completes with 0, or
     * ENODEV when there is neither a passthru bdev nor an association of that name. A deferred passthru (base not
     * present) is forgotten and answered 0. Any thread.
     */
    public CompletionStage<Integer> delete(BdevLayer layer, String name) {
        return Vbdevs.onApp(layer, () -> {
            Assoc a = assocs.remove(name);
            Node n = nodes.get(name);
            if (n == null) {
                return CompletableFuture.completedFuture(a == null ? Errno.ENODEV : Errno.OK);
            }
            return layer.unregister(name);
        });
    }

    /** Registry side (app thread): a bdev registered; build every passthru whose base it is (step 1's other half). */
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
                        LOG.error("passthru {}: could not be built on {}: {}", a.name(), bdev.name(), err.getMessage());
                    }
                }).toCompletableFuture().exceptionally(e -> null));
            }
        }
        return CompletableFuture.allOf(builds.toArray(new CompletableFuture<?>[0]));
    }

    @Override
    public CompletionStage<Void> fini(BdevHost host) {
        assocs.clear(); // every passthru bdev was unregistered before module fini
        return CompletableFuture.completedFuture(null);
    }

    /** The associations, as {@code passthru name -> base name}, in creation order (tests, diagnostics). App thread. */
    Map<String, String> associations() {
        Map<String, String> m = new LinkedHashMap<>();
        assocs.values().forEach(a -> m.put(a.name(), a.baseName()));
        return m;
    }

    /** Steps 2 and 3 on the app thread: open and claim the base, then register the passthru bdev. */
    private CompletionStage<Bdev> build(BdevLayer layer, Assoc a) {
        Node n = new Node(this, layer, a.name());
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
            return Vbdevs.failed(rc, "bdev_passthru_create name=" + a.name() + ": base " + base.name() + " is already claimed by module "
                    + (base.claimModule() == null ? "?" : base.claimModule().name()));
        }
        n.base = base;
        n.desc = desc;
        nodes.put(a.name(), n);
        UUID uuid = a.uuid() != null ? a.uuid() : Vbdevs.sha1Uuid(NAMESPACE, base.uuid());
        Driver d = new Driver(n);
        BdevSpec spec = BdevSpec.builder(this, d).name(a.name()).productName("passthru")
                .blockSize(base.blockSize()).numBlocks(base.numBlocks()).uuid(uuid)
                .writeCache(base.writeCache()).requiredAlignment(base.requiredAlignment()).optimalIoBoundary(base.optimalIoBoundary())
                .build();
        return layer.register(spec).whenComplete((b, err) -> {
            if (err != null) {
                n.releaseBase(); // nothing else holds the claim or the descriptor
                nodes.remove(a.name(), n);
            } else {
                n.registered = true;
                if (n.baseRemoved) {
                    n.unregisterSelf(); // the base's REMOVE came while we were registering
                }
            }
        });
    }

    /** One passthru bdev and its base: SPDK's {@code struct vbdev_passthru}. Mutable fields: app thread. */
    static final class Node {
        final PassthruModule module;
        final BdevLayer layer;
        final String name;
        Bdev base;
        BdevDescriptor desc;
        boolean registered;
        boolean baseRemoved;
        boolean released;

        Node(PassthruModule module, BdevLayer layer, String name) {
            this.module = module;
            this.layer = layer;
            this.name = name;
        }

        /** Step 5: the base's events, on the app thread (where the descriptor was opened). */
        void onBaseEvent(BdevEvent event, Bdev bdev, BdevDescriptor d) {
            if (event != BdevEvent.REMOVE) {
                return; // SPDK's passthru ignores RESIZE and media events
            }
            baseRemoved = true;
            if (registered) {
                unregisterSelf();
            }
        }

        void unregisterSelf() {
            layer.unregister(name).whenComplete((st, err) -> {
                if (st != null && st != Errno.OK && st != Errno.EBUSY) {
                    LOG.warn("passthru {}: unregister after the base's REMOVE answered {}", name, Errno.name(st));
                }
            });
        }

        /** Releases the claim and closes the base descriptor; on the app thread, once. */
        void releaseBase() {
            if (released) {
                return;
            }
            released = true;
            layer.releaseBdev(base, module);
            desc.close();
        }
    }

    /**
     * The module's per-reactor channel context: this reactor's channel of the base bdev (SPDK's
     * {@code struct pt_io_channel}). Built and destroyed by the module io_device's factory, on its reactor.
     */
    static final class PtChannel {
        final IoChannel<BdevChannel> base;

        PtChannel(IoChannel<BdevChannel> base) {
            this.base = base;
        }
    }

    /** Completes the original I/O (the argument) with the base I/O's status; shared by every I/O. */
    private static final IoCallback COMPLETE_ORIGINAL = (BdevIo baseIo, IoStatus status, Object arg) -> ((ModuleIo) arg).complete(status);

    /** The passthru bdev's driver (SPDK's {@code vbdev_passthru_fn_table}). */
    static final class Driver implements BdevDriver<IoChannel<PtChannel>> {
        private final Node node;
        private IoDevice<PtChannel> ioDevice;

        Driver(Node node) {
            this.node = node;
        }

        @Override
        public boolean supports(IoType type) {
            return switch (type) {
                // what the base accepts (natively or emulated by the layer) we forward; abort cannot be mapped to the
                // base's I/O, and compare_and_write is emulated on the passthru itself
                case READ, WRITE, UNMAP, FLUSH, RESET, WRITE_ZEROES, COMPARE -> node.base.supports(type);
                default -> false;
            };
        }

        /** Step 3: the module's io_device, a child of the bdev's actor; its channels hold the base's channels. */
        @Override
        public void start(BdevContext context) {
            BdevDescriptor desc = node.desc;
            ioDevice = context.registerIoDevice("passthru_" + node.name, new ChannelFactory<>() {
                @Override
                public PtChannel create(IoDevice<PtChannel> device, Reactor reactor) {
                    IoChannel<BdevChannel> base = desc.getIoChannel();
                    if (base == null) {
                        throw new BdevException(Errno.ENODEV, "passthru " + node.name + ": no channel of base " + node.base.name() + " on "
                                + reactor.name());
                    }
                    return new PtChannel(base);
                }

                @Override
                public void destroy(IoDevice<PtChannel> device, Reactor reactor, PtChannel ch) {
                    ch.base.put();
                    java.util.function.Consumer<String> t = node.module.trace;
                    if (t != null) {
                        t.accept("module channel destroyed on " + reactor.name());
                    }
                }
            });
        }

        @Override
        public IoChannel<PtChannel> createChannel(BdevView bdev, Reactor reactor) {
            return ioDevice.getChannelOrThrow();
        }

        @Override
        public void destroyChannel(BdevView bdev, Reactor reactor, IoChannel<PtChannel> ch) {
            ch.put();
        }

        /** Step 4. */
        @Override
        public void submit(ModuleIo io, IoChannel<PtChannel> ch) {
            IoChannel<BdevChannel> base = ch.context().base;
            int rc = io.type() == IoType.RESET
                    ? node.desc.reset(base, COMPLETE_ORIGINAL, io)
                    : node.desc.forward(base, io.type(), io, io.offsetBlocks(), COMPLETE_ORIGINAL, io);
            if (rc == Errno.ENOMEM) {
                io.complete(IoStatus.NOMEM); // the layer requeues it and retries when I/O completes
            } else if (rc != 0) {
                LOG.error("passthru {}: base {} refused {} with {}", node.name, node.base.name(), io, Errno.name(rc));
                io.complete(IoStatus.FAILED);
            }
        }

        /** Runs after every channel of the bdev and of the module io_device was destroyed (step 5). */
        @Override
        public CompletionStage<Void> destruct() {
            java.util.function.Consumer<String> t = node.module.trace;
            if (t != null) {
                t.accept("destruct begins " + node.name + " module channels alive " + ioDevice.liveChannels());
            }
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

        @Override
        public void dumpInfo(ObjectNode driverSpecific) {
            driverSpecific.put("name", node.name);
            driverSpecific.put("base_bdev_name", node.base.name());
        }

        @Override
        public List<String> baseBdevs() {
            return List.of(node.base.name());
        }

        /** SPDK writes live nodes only: {@code bdev_passthru_create {base_bdev_name, name, uuid}}. */
        @Override
        public ObjectNode writeConfig(BdevView bdev) {
            ObjectNode call = JsonNodeFactory.instance.objectNode();
            call.put("method", "bdev_passthru_create");
            ObjectNode p = call.putObject("params");
            p.put("base_bdev_name", node.base.name());
            p.put("name", bdev.name());
            p.put("uuid", bdev.uuid().toString());
            return call;
        }
    }
}
