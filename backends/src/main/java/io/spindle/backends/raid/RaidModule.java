package io.spindle.backends.raid;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.Vbdevs;
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
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The {@code raid} bdev module (SPDK's {@code module/bdev/raid}): raid0, raid1 and concat over any bdevs, with
 * SPDK's RPCs ({@code bdev_raid_create/delete/get_bdevs/add_base_bdev/remove_base_bdev/set_options}) and semantics
 * — see {@link RaidBdev} for the states and base removal, {@link RaidIo} for each level's I/O, {@link Rebuild} for
 * the raid1 rebuild.
 *
 * <p>Each base is opened read-write and module-claimed; a base that does not exist yet leaves the raid CONFIGURING
 * until it registers (examine), so a configuration replays in any order. Without a superblock (Spindle has none:
 * {@code superblock=true} is refused) {@code save_config} writes a {@code bdev_raid_create} per ONLINE raid, removed
 * slots as {@code removed_base_bdev_<slot>}, as SPDK's.
 *
 * <p>Threads: the raid list and every raid's control state on the app thread (the public methods hop there);
 * {@link #getBdevs} reads volatile state from any thread.
 */
public final class RaidModule implements BdevModule {
    private static final Logger LOG = LoggerFactory.getLogger(RaidModule.class);
    /** Longest raid name (SPDK: below 64 characters). */
    public static final int MAX_NAME = 63;
    /** Most base bdevs (SPDK's u8 count). */
    public static final int MAX_BASE_BDEVS = 255;

    private final List<RaidBdev> raids = new CopyOnWriteArrayList<>();
    private volatile long processWindowSizeKb = 1024;
    private volatile long processMaxBandwidthMbSec;
    private volatile boolean optionsSet;
    /** Tests: receives "module channel destroyed on REACTOR" and "destruct begins NAME" as they happen. */
    volatile java.util.function.Consumer<String> trace;

    /** The module, found by ServiceLoader. */
    public RaidModule() {
    }

    @Override
    public String name() {
        return "raid";
    }

    /** One context per pooled I/O. */
    @Override
    public Object newIoContext() {
        return new RaidIo();
    }

    /** Options of {@code bdev_raid_create}. {@code uuid} may be null. */
    public record Options(String name, RaidLevel level, int stripSizeKb, List<String> baseBdevs, UUID uuid) {
    }

    /** {@code bdev_raid_get_bdevs}' categories. */
    public enum Category {
        /** Every raid. */
        ALL,
        /** Registered and serving. */
        ONLINE,
        /** Waiting for bases. */
        CONFIGURING,
        /** Lost a base it cannot do without (or deconfigured). */
        OFFLINE
    }

    // ------------------------------------------------------------------ control plane

    /**
     * {@code bdev_raid_create}: validates, records the raid (CONFIGURING), configures the bases present and
     * completes once they are (the raid registers when every base is there; missing ones are not awaited). Fails
     * with {@link BdevException}: EINVAL (name, strip size, too few bases, an empty base name, block sizes), EEXIST
     * (a raid of that name), EPERM (a base claimed elsewhere: the raid is deleted again), as SPDK's. Any thread.
     */
    public CompletionStage<Void> create(BdevLayer layer, Options o) {
        String where = "bdev_raid_create name=" + o.name();
        if (o.name() == null || o.name().isEmpty() || o.name().length() > MAX_NAME) {
            return Vbdevs.failed(Errno.EINVAL, where + ": name must be 1.." + MAX_NAME + " characters");
        }
        if (o.level() == null) {
            return Vbdevs.failed(Errno.EINVAL, where + ": raid_level must be raid0, raid1 or concat");
        }
        List<String> bases = o.baseBdevs();
        if (bases == null || bases.size() < o.level().minBaseBdevs() || bases.size() > MAX_BASE_BDEVS) {
            return Vbdevs.failed(Errno.EINVAL, where + ": " + o.level().rpcName() + " needs " + o.level().minBaseBdevs() + ".." + MAX_BASE_BDEVS
                    + " base bdevs, got " + (bases == null ? 0 : bases.size()));
        }
        for (String b : bases) {
            if (b == null || b.isEmpty()) {
                return Vbdevs.failed(Errno.EINVAL, where + ": a base bdev name is empty");
            }
        }
        if (o.level().striped()) {
            if (o.stripSizeKb() <= 0 || Integer.bitCount(o.stripSizeKb()) != 1) {
                return Vbdevs.failed(Errno.EINVAL, where + ": strip_size_kb=" + o.stripSizeKb() + ": " + o.level().rpcName()
                        + " needs a power of two");
            }
        } else if (o.stripSizeKb() != 0) {
            return Vbdevs.failed(Errno.EINVAL, where + ": strip_size_kb=" + o.stripSizeKb() + ": raid1 has no strip; omit it or give 0");
        }
        return Vbdevs.onApp(layer, () -> {
            if (find(o.name()) != null) {
                return Vbdevs.failed(Errno.EEXIST, where + ": a raid bdev of that name exists");
            }
            RaidBdev r = new RaidBdev(this, layer, o.name(), o.uuid(), o.level(), o.stripSizeKb(), bases);
            raids.add(r);
            return configurePresent(r, 0).handle((v, err) -> {
                if (err != null) {
                    discard(r); // SPDK: a base that could not be configured deletes the raid again
                    throw err instanceof java.util.concurrent.CompletionException ce ? ce : new java.util.concurrent.CompletionException(err);
                }
                return null;
            });
        });
    }

    /** Configures, one after another, the present bases of the slots from {@code i}. App thread. */
    private CompletionStage<Void> configurePresent(RaidBdev r, int i) {
        for (; i < r.numSlots; i++) {
            RaidBdev.Slot s = r.slots[i];
            if (!s.configured && r.layer.get(s.name) != null) {
                int next = i + 1;
                return r.configureBase(s).thenCompose(v -> configurePresent(r, next));
            }
        }
        return CompletableFuture.completedFuture(null);
    }

    /**
     * {@code bdev_raid_delete}: unregisters the raid bdev (if registered) and releases every base. Completes with 0
     * or ENODEV. Any thread.
     */
    public CompletionStage<Integer> delete(BdevLayer layer, String name) {
        return Vbdevs.onApp(layer, () -> {
            RaidBdev r = find(name);
            if (r == null) {
                return CompletableFuture.completedFuture(Errno.ENODEV);
            }
            r.deleting = true;
            Rebuild p = r.process;
            if (p != null) {
                p.stop(Errno.ENODEV);
            }
            if (r.bdev != null) {
                return layer.unregister(r.name); // destruct releases the bases
            }
            discard(r);
            return CompletableFuture.completedFuture(Errno.OK);
        });
    }

    /** {@code bdev_raid_add_base_bdev}: ENODEV (no such raid), EPERM (rebuild running), EINVAL (no empty slot). */
    public CompletionStage<Integer> addBaseBdev(BdevLayer layer, String raidName, String baseName) {
        return Vbdevs.onApp(layer, () -> {
            RaidBdev r = find(raidName);
            if (r == null) {
                return Vbdevs.failed(Errno.ENODEV, "bdev_raid_add_base_bdev raid_bdev=" + raidName + ": raid bdev is not found in config");
            }
            return r.addBase(baseName).thenApply(v -> Errno.OK);
        });
    }

    /** {@code bdev_raid_remove_base_bdev}: removes base {@code baseName} from its raid; 0 or ENODEV (not a member). */
    public CompletionStage<Integer> removeBaseBdev(BdevLayer layer, String baseName) {
        return Vbdevs.onApp(layer, () -> {
            Bdev b = layer.get(baseName);
            for (RaidBdev r : raids) {
                for (RaidBdev.Slot s : r.slots) {
                    if (s.configured && b != null && s.bdev == b) {
                        return r.removeBaseAndWait(s);
                    }
                }
            }
            return CompletableFuture.completedFuture(Errno.ENODEV);
        });
    }

    /** {@code bdev_raid_get_bdevs}: the raids of {@code category}, as SPDK prints them. Any thread. */
    public List<ObjectNode> getBdevs(Category category) {
        List<ObjectNode> out = new ArrayList<>();
        for (RaidBdev r : raids) {
            if (category == Category.ALL || r.state.name().equals(category.name())) {
                out.add(r.toJson());
            }
        }
        return out;
    }

    /**
     * {@code bdev_raid_set_options}: the rebuild window ({@code process_window_size_kb}, &gt; 0) and bandwidth cap
     * ({@code process_max_bandwidth_mb_sec}, 0 = none) of rebuilds started from now on.
     */
    public void setOptions(long windowSizeKb, long maxBandwidthMbSec) {
        if (windowSizeKb <= 0) {
            throw new BdevException(Errno.EINVAL, "bdev_raid_set_options process_window_size_kb=" + windowSizeKb + ": must be > 0");
        }
        processWindowSizeKb = windowSizeKb;
        processMaxBandwidthMbSec = maxBandwidthMbSec;
        optionsSet = true;
    }

    /** The rebuild window size in KiB. */
    public long processWindowSizeKb() {
        return processWindowSizeKb;
    }

    /** The rebuild bandwidth cap in MiB/s (0: none). */
    public long processMaxBandwidthMbSec() {
        return processMaxBandwidthMbSec;
    }

    long windowBlocks(int blockSize) {
        return Math.max(1, processWindowSizeKb * 1024 / blockSize);
    }

    long maxBandwidthMbSec() {
        return processMaxBandwidthMbSec;
    }

    /**
     * A bdev registered: build what the configuration puts on it. Done in examine_disk (SPDK does it in
     * examine_config, where registering is synchronous) so that the registry tracks the build and
     * {@code bdev_wait_for_examine} waits for the bdevs it registers.
     */
    @Override
    public CompletionStage<Void> examineDisk(BdevView bdev, BdevHost host) {
        List<CompletableFuture<?>> builds = new ArrayList<>();
        for (RaidBdev r : raids) {
            if (r.state != RaidBdev.State.CONFIGURING) {
                continue;
            }
            for (RaidBdev.Slot s : r.slots) {
                if (!s.configured && s.name != null && (s.name.equals(bdev.name()) || bdev.aliases().contains(s.name))) {
                    builds.add(r.configureBase(s).whenComplete((v, err) -> {
                        if (err != null) {
                            LOG.error("raid {}: base {} could not be configured: {}", r.name, bdev.name(), err.getMessage());
                        }
                    }).toCompletableFuture().exceptionally(e -> null));
                    break;
                }
            }
        }
        return CompletableFuture.allOf(builds.toArray(new CompletableFuture<?>[0]));
    }

    /**
     * SPDK's raid {@code fini_start}: a raid that never registered (still configuring) lets go of the bases it
     * claimed, so the layer unregisters them as ordinary bdevs. A registered raid is unregistered by the layer and
     * releases its bases in its destruct. On the app thread.
     */
    @Override
    public CompletionStage<Void> finiStart(BdevHost host) {
        BdevLayer layer = BdevLayer.of(host);
        return Vbdevs.onApp(layer, () -> {
            for (RaidBdev r : raids) {
                if (r.bdev == null) {
                    discard(r);
                }
            }
            return CompletableFuture.completedFuture(null);
        });
    }

    @Override
    public CompletionStage<Void> fini(BdevHost host) {
        for (RaidBdev r : raids) {
            discard(r);
        }
        return CompletableFuture.completedFuture(null);
    }

    /** SPDK's module config_json: {@code bdev_raid_set_options} when they were set. */
    @Override
    public List<ObjectNode> writeConfig(BdevHost host) {
        if (!optionsSet) {
            return List.of();
        }
        ObjectNode call = JsonNodeFactory.instance.objectNode();
        call.put("method", "bdev_raid_set_options");
        ObjectNode p = call.putObject("params");
        p.put("process_window_size_kb", processWindowSizeKb);
        p.put("process_max_bandwidth_mb_sec", processMaxBandwidthMbSec);
        return List.of(call);
    }

    RaidBdev find(String name) {
        for (RaidBdev r : raids) {
            if (r.name.equals(name)) {
                return r;
            }
        }
        return null;
    }

    /**
     * A raid that has no registered bdev (or whose bdev is gone) goes: it takes no more bases, releases the ones it
     * holds and leaves the list. App thread.
     */
    private void discard(RaidBdev r) {
        r.deleting = true;
        r.releaseAll();
        raids.remove(r);
    }

    /** Drops a raid from the list (deleted, or offline with no base left). */
    void forget(RaidBdev r) {
        raids.remove(r);
    }
}
