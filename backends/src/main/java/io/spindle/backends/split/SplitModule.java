package io.spindle.backends.split;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.Vbdevs;
import io.spindle.backends.part.Part;
import io.spindle.backends.part.PartBase;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.spi.BdevHost;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevView;
import io.spindle.runtime.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The {@code split} virtual bdev module (SPDK's {@code module/bdev/split}): cuts a base bdev into
 * {@code split_count} parts {@code <base>p0 .. p(n-1)} of {@code split_size_mb} MiB each (or the base divided
 * evenly), built on {@link PartBase}/{@link Part}: the parts share one read-only descriptor of the base and one
 * claim.
 *
 * <p>As SPDK's: the configuration entry is recorded first and the parts are built when the base exists, now or when
 * it registers (examine); a count that does not fit is clamped (with a warning); a hot-removed base takes every
 * part with it and, when the last part is freed, the configuration entry too, so the split is not re-created.
 * {@code bdev_split_delete} drops the entry and unregisters the parts.
 *
 * <p>Threads: configuration on the app thread (the public methods hop there); I/O as {@link Part}'s.
 */
public final class SplitModule implements BdevModule {
    private static final Logger LOG = LoggerFactory.getLogger(SplitModule.class);

    /** One {@code bdev_split_create} entry (SPDK's {@code spdk_vbdev_split_config}). Mutable fields: app thread. */
    static final class Config {
        final String baseName;
        final int splitCount;
        final long splitSizeMb;
        volatile PartBase partBase;

        Config(String baseName, int splitCount, long splitSizeMb) {
            this.baseName = baseName;
            this.splitCount = splitCount;
            this.splitSizeMb = splitSizeMb;
        }
    }

    /** The entries, in creation order; written on the app thread, read by save_config from any thread. */
    private final List<Config> configs = new CopyOnWriteArrayList<>();

    /** The module, found by ServiceLoader. */
    public SplitModule() {
    }

    @Override
    public String name() {
        return "split";
    }

    /**
     * {@code bdev_split_create}: records the entry and, when the base exists, builds its parts. Completes with the
     * parts' names (empty when the base does not exist yet); fails with {@link BdevException}: EINVAL (count 0, a
     * split size that is not a multiple of the block size, or larger than the base), EEXIST (the base already has an
     * entry), EPERM (the base is claimed by another module). A failed create leaves no entry. Any thread.
     */
    public CompletionStage<List<String>> create(BdevLayer layer, String baseName, int splitCount, long splitSizeMb) {
        return Vbdevs.onApp(layer, () -> {
            if (splitCount <= 0) {
                return Vbdevs.failed(Errno.EINVAL, "bdev_split_create base_bdev=" + baseName + ": split_count=" + splitCount + ": must be >= 1");
            }
            if (find(baseName) != null) {
                return Vbdevs.failed(Errno.EEXIST, "bdev_split_create base_bdev=" + baseName + ": a split of this base already exists");
            }
            Config c = new Config(baseName, splitCount, splitSizeMb);
            configs.add(c);
            if (layer.get(baseName) == null) {
                LOG.info("split of {}: base not present; parts deferred until it registers", baseName);
                return CompletableFuture.completedFuture(List.of());
            }
            return build(layer, c);
        });
    }

    /**
     * {@code bdev_split_delete}: drops the entry of {@code baseName} and unregisters its parts (the entry goes when
     * the last part is freed). Completes with 0 (the parts' unregisters are under way), or ENOENT when there is no
     * entry, as SPDK's. Any thread.
     */
    public CompletionStage<Integer> delete(BdevLayer layer, String baseName) {
        return Vbdevs.onApp(layer, () -> {
            Config c = find(baseName);
            if (c == null) {
                return CompletableFuture.completedFuture(Errno.ENOENT);
            }
            if (c.partBase != null && !c.partBase.isFreed()) {
                c.partBase.hotremove(); // the entry is dropped by the base's free callback after the last part
            } else {
                configs.remove(c);
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
        for (Config c : configs) {
            if (c.partBase == null && (c.baseName.equals(bdev.name()) || bdev.aliases().contains(c.baseName))) {
                builds.add(build(BdevLayer.of(host), c).whenComplete((names, err) -> {
                    if (err != null) {
                        LOG.error("split of {}: could not build the parts: {}", c.baseName, err.getMessage());
                    }
                }).toCompletableFuture().exceptionally(e -> null));
            }
        }
        return CompletableFuture.allOf(builds.toArray(new CompletableFuture<?>[0]));
    }

    @Override
    public CompletionStage<Void> fini(BdevHost host) {
        configs.clear();
        return CompletableFuture.completedFuture(null);
    }

    /** The names of the bases with an entry, in order (tests). */
    List<String> configuredBases() {
        List<String> out = new ArrayList<>();
        configs.forEach(c -> out.add(c.baseName));
        return out;
    }

    private Config find(String baseName) {
        for (Config c : configs) {
            if (c.baseName.equals(baseName)) {
                return c;
            }
        }
        return null;
    }

    /** SPDK's {@code vbdev_split_create}: open the base, size the parts, construct them; a failure frees everything. */
    private CompletionStage<List<String>> build(BdevLayer layer, Config c) {
        String where = "bdev_split_create base_bdev=" + c.baseName;
        PartBase pb;
        try {
            pb = PartBase.construct(layer, c.baseName, this, PartBase::hotremove, () -> configs.remove(c));
        } catch (BdevException e) {
            configs.remove(c);
            return CompletableFuture.failedFuture(e);
        }
        c.partBase = pb;
        Bdev base = pb.bdev();
        long sizeBlocks;
        if (c.splitSizeMb > 0) {
            long bytes = c.splitSizeMb << 20;
            if (bytes % base.blockSize() != 0) {
                pb.free();
                return Vbdevs.failed(Errno.EINVAL, where + ": split_size_mb=" + c.splitSizeMb + " is not a multiple of the block size "
                        + base.blockSize());
            }
            sizeBlocks = bytes / base.blockSize();
        } else {
            sizeBlocks = base.numBlocks() / c.splitCount;
        }
        if (sizeBlocks == 0 || sizeBlocks > base.numBlocks()) {
            pb.free();
            return Vbdevs.failed(Errno.EINVAL, where + ": split size " + sizeBlocks + " blocks does not fit in the base's " + base.numBlocks()
                    + " blocks");
        }
        long max = base.numBlocks() / sizeBlocks;
        int count = c.splitCount;
        if (count > max) {
            LOG.warn("{}: split_count={} is greater than the maximum possible split count {} - clamping", where, count, max);
            count = (int) max;
        }
        List<CompletableFuture<Bdev>> all = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Part p = new SplitPart(pb, c, c.baseName + "p" + i, i * sizeBlocks, sizeBlocks);
            all.add(Part.construct(p, "Split Disk", null).toCompletableFuture());
        }
        CompletableFuture<List<String>> f = new CompletableFuture<>();
        CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).whenComplete((v, err) -> {
            if (err != null) {
                // SPDK's error path: every part built so far is removed, then the base (and the entry) freed
                if (pb.ref() > 0) {
                    pb.hotremove();
                } else {
                    pb.free();
                }
                f.completeExceptionally(err instanceof java.util.concurrent.CompletionException && err.getCause() != null ? err.getCause() : err);
                return;
            }
            List<String> names = new ArrayList<>();
            for (CompletableFuture<Bdev> b : all) {
                names.add(b.join().name());
            }
            f.complete(names);
        });
        return f;
    }

    /** A split part: a {@link Part} whose first part writes the split's configuration. */
    static final class SplitPart extends Part {
        private final Config config;

        SplitPart(PartBase base, Config config, String name, long offsetBlocks, long numBlocks) {
            super(base, name, offsetBlocks, numBlocks);
            this.config = config;
        }

        /** {@code bdev_split_create}, written once, by the part at offset 0 (after the base's own create). */
        @Override
        public ObjectNode writeConfig(BdevView bdev) {
            if (offsetBlocks() != 0) {
                return null;
            }
            return createCall(config);
        }
    }

    static ObjectNode createCall(Config c) {
        ObjectNode call = JsonNodeFactory.instance.objectNode();
        call.put("method", "bdev_split_create");
        ObjectNode p = call.putObject("params");
        p.put("base_bdev", c.baseName);
        p.put("split_count", c.splitCount);
        p.put("split_size_mb", c.splitSizeMb);
        return call;
    }

    /** Entries whose base is not registered (no part writes them): SPDK's module config_json keeps them too. */
    @Override
    public List<ObjectNode> writeConfig(BdevHost host) {
        List<ObjectNode> out = new ArrayList<>();
        for (Config c : configs) {
            if (c.partBase == null) {
                out.add(createCall(c));
            }
        }
        return out;
    }
}
