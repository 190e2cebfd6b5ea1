package io.spindle.backends.raid;

import io.spindle.backends.Vbdevs;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevRpc;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Errno;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * The raid module's JSON-RPC methods, as SPDK's {@code module/bdev/raid/bdev_raid_rpc.c}:
 * <ul>
 *   <li>{@code bdev_raid_create} {name*, raid_level* (raid0/0, raid1/1, concat; any case), base_bdevs* (array),
 *       strip_size_kb, uuid, superblock} → true once the present bases are configured. Errors "Failed to create RAID
 *       bdev NAME: REASON" with SPDK's codes: -17 (name in use), -22 (level, strip, bases), -1 (a base claimed
 *       elsewhere). {@code superblock=true} is -95: Spindle's raid has no superblock.</li>
 *   <li>{@code bdev_raid_delete} {name*} → true; -19 "raid bdev NAME not found".</li>
 *   <li>{@code bdev_raid_get_bdevs} {category* (all, online, configuring, offline)} → the raids.</li>
 *   <li>{@code bdev_raid_add_base_bdev} {raid_bdev*, base_bdev*} → true; -19, -1 (rebuild running), -22 (no empty slot).</li>
 *   <li>{@code bdev_raid_remove_base_bdev} {name*} (the base) → true; -19 when it is not a configured member.</li>
 *   <li>{@code bdev_raid_set_options} {process_window_size_kb, process_max_bandwidth_mb_sec} → true.</li>
 * </ul>
 * Malformed parameters are -32602 naming the key (SPDK answers -32700 "spdk_json_decode_object failed").
 */
public final class RaidRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public RaidRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_raid_create", RaidRpc::create),
                RpcMethod.runtime("bdev_raid_delete", RaidRpc::delete),
                RpcMethod.runtime("bdev_raid_get_bdevs", RaidRpc::getBdevs),
                RpcMethod.runtime("bdev_raid_add_base_bdev", RaidRpc::add),
                RpcMethod.runtime("bdev_raid_remove_base_bdev", RaidRpc::remove),
                RpcMethod.runtime("bdev_raid_set_options", RaidRpc::setOptions));
    }

    private static CompletionStage<?> create(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        String levelText = p.string("raid_level");
        List<String> bases = p.strings("base_bdevs");
        long strip = p.integer("strip_size_kb", 0, 0, Integer.MAX_VALUE);
        UUID uuid = p.uuid("uuid");
        boolean sb = p.bool("superblock", false);
        p.end();
        if (bases == null) {
            throw RpcException.invalidParams("base_bdevs is required (an array of strings)");
        }
        for (String b : bases) {
            if (b.isEmpty()) {
                throw new RpcException(Errno.EINVAL, "The base bdev name cannot be empty: " + Errno.describe(Errno.EINVAL));
            }
        }
        if (sb) {
            throw new RpcException(Errno.ENOTSUP, "Failed to create RAID bdev " + name + ": " + Errno.describe(Errno.ENOTSUP),
                    "superblock=true: Spindle's raid has no superblock; omit it");
        }
        RaidLevel level = RaidLevel.parse(levelText);
        BdevLayer l = BdevRpc.layer(c);
        CompletableFuture<Object> f = new CompletableFuture<>();
        l.module(RaidModule.class).create(l, new RaidModule.Options(name, level, (int) strip, bases, uuid)).whenComplete((v, err) -> {
            if (err == null) {
                f.complete(Boolean.TRUE);
                return;
            }
            Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
            int errno = Vbdevs.errnoOf(cause, Errno.EIO);
            f.completeExceptionally(new RpcException(errno, "Failed to create RAID bdev " + name + ": " + Errno.describe(errno), cause.getMessage()));
        });
        return f;
    }

    private static CompletionStage<?> delete(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.bool("clear_sb", false);
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(RaidModule.class).delete(l, name).thenApply(rc -> {
            if (rc == Errno.ENODEV) {
                throw new CompletionException(new RpcException(Errno.ENODEV, "raid bdev " + name + " not found"));
            }
            if (rc != Errno.OK) {
                throw new CompletionException(new RpcException(RpcException.INTERNAL_ERROR, Errno.describe(rc)));
            }
            return Boolean.TRUE;
        });
    }

    private static CompletionStage<?> getBdevs(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String cat = p.string("category");
        p.end();
        RaidModule.Category category = switch (cat) {
            case "all" -> RaidModule.Category.ALL;
            case "online" -> RaidModule.Category.ONLINE;
            case "configuring" -> RaidModule.Category.CONFIGURING;
            case "offline" -> RaidModule.Category.OFFLINE;
            default -> throw RpcException.invalidParams("category=\"" + cat + "\": must be one of all, online, configuring, offline");
        };
        BdevLayer l = BdevRpc.layer(c);
        return CompletableFuture.completedFuture(l.module(RaidModule.class).getBdevs(category));
    }

    private static CompletionStage<?> add(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String raid = p.string("raid_bdev");
        String base = p.string("base_bdev");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        CompletableFuture<Object> f = new CompletableFuture<>();
        l.module(RaidModule.class).addBaseBdev(l, raid, base).whenComplete((rc, err) -> {
            if (err == null) {
                f.complete(Boolean.TRUE);
                return;
            }
            Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
            int errno = Vbdevs.errnoOf(cause, Errno.EIO);
            String msg = errno == Errno.ENODEV && cause.getMessage() != null && cause.getMessage().contains("not found in config")
                    ? "raid bdev " + raid + " is not found in config"
                    : "Failed to add base bdev " + base + " to RAID bdev " + raid + ": " + Errno.describe(errno);
            f.completeExceptionally(new RpcException(errno, msg, cause.getMessage()));
        });
        return f;
    }

    private static CompletionStage<?> remove(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(RaidModule.class).removeBaseBdev(l, name).thenApply(rc -> {
            if (rc != Errno.OK) {
                throw new CompletionException(new RpcException(rc, "Failed to remove base bdev from raid bdev",
                        "bdev_raid_remove_base_bdev name=" + name + ": not a configured base of any raid"));
            }
            return Boolean.TRUE;
        });
    }

    private static CompletionStage<?> setOptions(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        RaidModule m;
        try {
            m = BdevRpc.layer(c).module(RaidModule.class);
        } catch (RpcException e) {
            throw e;
        }
        long win = p.integer("process_window_size_kb", m.processWindowSizeKb(), 0, 0xFFFFFFFFL);
        long bw = p.integer("process_max_bandwidth_mb_sec", m.processMaxBandwidthMbSec(), 0, 0xFFFFFFFFL);
        p.end();
        if (win == 0) {
            throw RpcException.errno(Errno.EINVAL, "process_window_size_kb=0: must be > 0");
        }
        m.setOptions(win, bw);
        return CompletableFuture.completedFuture(Boolean.TRUE);
    }
}
