package io.spindle.backends.part;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.Vbdevs;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevContext;
import io.spindle.bdev.spi.BdevDriver;
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

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One partition of a {@link PartBase}: a bdev of {@code numBlocks} blocks starting at {@code offsetBlocks} of the
 * base (SPDK's {@code spdk_bdev_part}). It is the driver of its bdev; modules built on parts (split, error) extend
 * it and override {@link #submit} (calling {@link #submitToBase}) and the channel hooks.
 *
 * <p>As SPDK's, each part is an io_device of its own ({@link #start}), whose channel holds this reactor's channel of
 * the base; the part bdev's channel holds a channel of it. A RESET of a part resets the whole base.
 *
 * <p><b>Threads.</b> {@link #construct} and {@link #destruct} on the app thread; submit and channels on the I/O's
 * reactor; {@code dumpInfo}, {@code baseBdevs} and {@code writeConfig} read final fields only.
 */
public class Part implements BdevDriver<IoChannel<Part.Channel>> {
    private static final Logger LOG = LoggerFactory.getLogger(Part.class);
    /** SPDK's {@code BDEV_PART_NAMESPACE_UUID}. */
    public static final UUID NAMESPACE = UUID.fromString("976b899e-3e1e-4d71-ab69-c2b08e9df8b8");

    /** A part's per-reactor channel: this reactor's channel of the base, and the module's own state. */
    public static final class Channel {
        /** The base bdev's channel on this reactor. */
        public final IoChannel<BdevChannel> base;
        /** What {@link Part#createChannelState} made for this channel. */
        public final Object state;

        Channel(IoChannel<BdevChannel> base, Object state) {
            this.base = base;
            this.state = state;
        }
    }

    /** Completes the part's I/O (the argument) with the base I/O's status. */
    protected static final IoCallback COMPLETE_ORIGINAL = (BdevIo baseIo, IoStatus status, Object arg) -> ((ModuleIo) arg).complete(status);

    protected final PartBase base;
    private final String name;
    private final long offsetBlocks;
    private final long numBlocks;
    private IoDevice<Channel> ioDevice;
    private boolean constructed;

    /** A part named {@code name} of {@code numBlocks} blocks at {@code offsetBlocks} of {@code base}. */
    protected Part(PartBase base, String name, long offsetBlocks, long numBlocks) {
        this.base = base;
        this.name = name;
        this.offsetBlocks = offsetBlocks;
        this.numBlocks = numBlocks;
    }

    /** The part's name. */
    public final String name() {
        return name;
    }

    /** Its first block on the base. */
    public final long offsetBlocks() {
        return offsetBlocks;
    }

    /** Its block count. */
    public final long numBlocks() {
        return numBlocks;
    }

    /** Its base. */
    public final PartBase partBase() {
        return base;
    }

    /**
     * SPDK's {@code spdk_bdev_part_construct_ext}: claims the base if no part has yet (a v1 claim of the module, on
     * the shared descriptor), then registers the part bdev with the base's block size, write cache and alignment.
     * Without {@code uuid}, the UUID is SHA-1 of (base UUID, offset, count) in SPDK's part namespace. Completes with
     * the bdev; on failure nothing is left (the claim is given back if this part took it). App thread.
     */
    public static CompletionStage<Bdev> construct(Part part, String productName, UUID uuid) {
        PartBase b = part.base;
        if (part.offsetBlocks < 0 || part.numBlocks <= 0 || part.offsetBlocks + part.numBlocks > b.bdev.numBlocks()) {
            return Vbdevs.failed(Errno.EINVAL, "part " + part.name + ": blocks [" + part.offsetBlocks + ", " + (part.offsetBlocks + part.numBlocks)
                    + ") do not fit in base " + b.bdev.name() + " of " + b.bdev.numBlocks() + " blocks");
        }
        b.ref++;
        boolean firstClaim = false;
        if (!b.claimed) {
            int rc = b.layer.claimBdev(b.bdev, b.desc, b.module);
            if (rc != 0) {
                b.ref--;
                return Vbdevs.failed(rc, "part " + part.name + ": could not claim bdev " + b.bdev.name() + " (claimed by module "
                        + (b.bdev.claimModule() == null ? "?" : b.bdev.claimModule().name()) + ")");
            }
            b.claimed = true;
            firstClaim = true;
        }
        UUID u = uuid != null ? uuid : defaultUuid(b.bdev.uuid(), part.offsetBlocks, part.numBlocks);
        BdevSpec spec = BdevSpec.builder(b.module, part).name(part.name).productName(productName).blockSize(b.bdev.blockSize())
                .numBlocks(part.numBlocks).uuid(u).writeCache(b.bdev.writeCache()).requiredAlignment(b.bdev.requiredAlignment()).build();
        boolean tookClaim = firstClaim;
        b.parts.add(part);
        CompletableFuture<Bdev> f = new CompletableFuture<>();
        b.layer.register(spec).whenComplete((bdev, err) -> {
            if (err != null) {
                b.parts.remove(part);
                if (--b.ref == 0 && tookClaim) {
                    b.layer.releaseBdev(b.bdev, b.module);
                    b.claimed = false;
                }
                f.completeExceptionally(err);
            } else {
                part.constructed = true;
                f.complete(bdev);
            }
        });
        return f;
    }

    /** SPDK's part UUID: SHA-1 of {base UUID, offset_blocks, num_blocks} (the integers in host order) in {@link #NAMESPACE}. */
    public static UUID defaultUuid(UUID base, long offsetBlocks, long numBlocks) {
        ByteBuffer n = ByteBuffer.allocate(32);
        n.putLong(base.getMostSignificantBits()).putLong(base.getLeastSignificantBits());
        n.order(ByteOrder.nativeOrder()).putLong(offsetBlocks).putLong(numBlocks);
        return Vbdevs.sha1Uuid(NAMESPACE, n.array());
    }

    // ------------------------------------------------------------------ hooks for modules built on parts

    /** Makes the module's state of a new channel (on its reactor), given the base's channel there; none by default. */
    protected Object createChannelState(Reactor reactor, IoChannel<BdevChannel> baseChannel) {
        return null;
    }

    /** The part's own io_device (for channel walks of modules built on parts); set at {@link #start}. */
    protected final IoDevice<Channel> ioDevice() {
        return ioDevice;
    }

    /** Releases a channel's module state (on its reactor); complete any I/O it holds here. */
    protected void destroyChannelState(Reactor reactor, Object state) {
    }

    // ------------------------------------------------------------------ driver

    @Override
    public boolean supports(IoType type) {
        return switch (type) {
            case READ, WRITE, UNMAP, FLUSH, RESET, WRITE_ZEROES, COMPARE -> base.bdev.supports(type);
            default -> false;
        };
    }

    /** Registers the part's own io_device (a child of the part bdev's actor), as SPDK registers each part. */
    @Override
    public void start(BdevContext context) {
        ioDevice = context.registerIoDevice("part_" + name, new ChannelFactory<>() {
            @Override
            public Channel create(IoDevice<Channel> device, Reactor reactor) {
                IoChannel<BdevChannel> b = base.desc.getIoChannel();
                if (b == null) {
                    throw new BdevException(Errno.ENODEV, "part " + name + ": no channel of base " + base.bdev.name() + " on " + reactor.name());
                }
                try {
                    return new Channel(b, createChannelState(reactor, b));
                } catch (RuntimeException e) {
                    b.put(); // a failed create gives back what it got
                    throw e;
                }
            }

            @Override
            public void destroy(IoDevice<Channel> device, Reactor reactor, Channel ch) {
                try {
                    destroyChannelState(reactor, ch.state);
                } finally {
                    ch.base.put();
                }
            }
        });
    }

    @Override
    public IoChannel<Channel> createChannel(BdevView bdev, Reactor reactor) {
        return ioDevice.getChannelOrThrow();
    }

    @Override
    public void destroyChannel(BdevView bdev, Reactor reactor, IoChannel<Channel> ch) {
        ch.put();
    }

    /** Forwards {@code io} to the base at its offset (override to do more, then call {@link #submitToBase}). */
    @Override
    public void submit(ModuleIo io, IoChannel<Channel> ch) {
        submitToBase(io, ch.context(), COMPLETE_ORIGINAL, io);
    }

    /**
     * SPDK's {@code spdk_bdev_part_submit_request_ext}: sends {@code io} to the base, its offset moved by the part's
     * first block, with {@code cb(arg)} as the base I/O's completion. A base without a free I/O completes {@code io}
     * NOMEM (the layer retries); any other refusal completes it FAILED.
     */
    protected final void submitToBase(ModuleIo io, Channel ch, IoCallback cb, Object arg) {
        int rc = io.type() == IoType.RESET
                ? base.desc.reset(ch.base, cb, arg)
                : base.desc.forward(ch.base, io.type(), io, io.offsetBlocks() + offsetBlocks, cb, arg);
        if (rc == Errno.ENOMEM) {
            io.complete(IoStatus.NOMEM);
        } else if (rc != 0) {
            LOG.error("part {}: base {} refused {} with {}", name, base.bdev.name(), io, Errno.name(rc));
            io.complete(IoStatus.FAILED);
        }
    }

    /** SPDK's {@code spdk_bdev_part_free}: runs after every channel of the part is gone; the last part frees the base. */
    @Override
    public CompletionStage<Void> destruct() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Runnable r = () -> {
            if (constructed) {
                base.partGone(this);
            }
            done.complete(null);
        };
        if (Vbdevs.onAppThread(base.layer)) {
            r.run();
        } else {
            Vbdevs.appThread(base.layer).send(r);
        }
        return done;
    }

    @Override
    public List<String> baseBdevs() {
        return List.of(base.bdev.name());
    }

    /** {@code {base_bdev, offset_blocks}} (SPDK's split writes this under {@code split}). */
    @Override
    public void dumpInfo(ObjectNode ds) {
        ds.put("base_bdev", base.bdev.name());
        ds.put("offset_blocks", offsetBlocks);
    }
}
