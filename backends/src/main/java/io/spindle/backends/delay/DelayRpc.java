package io.spindle.backends.delay;

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
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * The delay module's JSON-RPC methods, as SPDK's {@code module/bdev/delay/vbdev_delay_rpc.c}:
 * <ul>
 *   <li>{@code bdev_delay_create} {name*, base_bdev_name*, avg_read_latency*, p99_read_latency*, avg_write_latency*,
 *       p99_write_latency* (µs), uuid} → the name (also when the base is missing: built when it registers); -22 for a
 *       p99 latency below its average, -17 for a name in use.</li>
 *   <li>{@code bdev_delay_delete} {name*} → true; -19 without such a delay bdev.</li>
 *   <li>{@code bdev_delay_update_latency} {delay_bdev_name*, latency_type* (avg_read, p99_read, avg_write, p99_write),
 *       latency_us*} → true; -32602 "The requested bdev does not exist." as SPDK answers.</li>
 * </ul>
 */
public final class DelayRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public DelayRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_delay_create", DelayRpc::create),
                RpcMethod.runtime("bdev_delay_delete", DelayRpc::delete),
                RpcMethod.runtime("bdev_delay_update_latency", DelayRpc::update));
    }

    private static CompletionStage<?> create(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        String base = p.string("base_bdev_name");
        long max = Long.MAX_VALUE / 1000;
        long ar = p.integer("avg_read_latency", 0, max);
        long pr = p.integer("p99_read_latency", 0, max);
        long aw = p.integer("avg_write_latency", 0, max);
        long pw = p.integer("p99_write_latency", 0, max);
        UUID uuid = p.uuid("uuid");
        p.end();
        if (name.isEmpty()) {
            throw RpcException.invalidParams("name=\"\": must not be empty");
        }
        BdevLayer l = BdevRpc.layer(c);
        return l.module(DelayModule.class).create(l, name, base, uuid, new DelayModule.Latencies(ar, pr, aw, pw));
    }

    private static CompletionStage<?> delete(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(DelayModule.class).delete(l, name).thenApply(BdevRpc::trueOrErrno);
    }

    private static CompletionStage<?> update(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("delay_bdev_name");
        String type = p.string("latency_type");
        long us = p.integer("latency_us", 0, Long.MAX_VALUE / 1000);
        p.end();
        DelayModule.LatencyType t = null;
        for (DelayModule.LatencyType x : DelayModule.LatencyType.values()) {
            if (x.rpcName().equals(type)) {
                t = x;
            }
        }
        if (t == null) {
            throw new RpcException(RpcException.INVALID_REQUEST, "Invalid request",
                    "latency_type=\"" + type + "\": must be one of avg_read, p99_read, avg_write, p99_write");
        }
        BdevLayer l = BdevRpc.layer(c);
        return l.module(DelayModule.class).updateLatency(l, name, t, us).thenApply(rc -> {
            if (rc == Errno.ENODEV) {
                throw new CompletionException(new RpcException(RpcException.INVALID_PARAMS, "The requested bdev does not exist.",
                        "delay_bdev_name=" + name + ": no delay bdev of that name"));
            }
            return Boolean.TRUE;
        });
    }
}
