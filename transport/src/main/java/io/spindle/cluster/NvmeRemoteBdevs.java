package io.spindle.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.app.Spindle;
import io.spindle.bdev.BdevLayer;
import io.spindle.rpc.RpcDispatcher;
import io.spindle.rpc.RpcException;
import io.spindle.runtime.Errno;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Attaches through the Aeron initiator with SPDK's own methods, called in-process through the RPC dispatcher:
 * {@code bdev_nvme_attach_controller} (trtype AERON, the export's listener and subsystem NQN, the controller
 * options) and {@code bdev_nvme_detach_controller}. The bdevs it creates are the initiator's, with its queue pairs
 * per reactor: the cluster adds no hop to the data path. Each bdev it creates gets a {@code driver_specific.cluster}
 * section naming the node it comes from ({@code node}, {@code address}, {@code uid}, {@code nqn}; for the attached
 * namespace also the remote {@code bdev} and {@code uuid}). A node without the initiator answers -95.
 *
 * <p>Thread-safe; the stages complete on the ActorSystem's dispatcher.
 */
public final class NvmeRemoteBdevs implements RemoteBdevs {
    private final Spindle spindle;
    private final Map<String, List<String>> bdevsOf = new ConcurrentHashMap<>();
    private volatile RpcDispatcher rpc;

    /** The initiator of {@code spindle}. */
    public NvmeRemoteBdevs(Spindle spindle) {
        this.spindle = spindle;
    }

    private RpcDispatcher rpc() {
        RpcDispatcher r = rpc;
        if (r == null) {
            r = RpcDispatcher.create(spindle);
            rpc = r;
        }
        return r;
    }

    @Override
    public CompletionStage<List<String>> attach(AttachSpec spec) {
        if (rpc().method("bdev_nvme_attach_controller") == null) {
            return CompletableFuture.failedFuture(RpcException.errno(Errno.ENOTSUP,
                    "this node has no Aeron initiator (bdev_nvme_attach_controller)"));
        }
        ObjectNode p = JsonNodeFactory.instance.objectNode();
        p.put("name", spec.name());
        p.put("trtype", spec.listener().trtype());
        p.put("adrfam", spec.listener().adrfam());
        p.put("traddr", spec.listener().traddr());
        p.put("trsvcid", spec.listener().trsvcid());
        p.put("subnqn", spec.export().nqn());
        p.put("ctrlr_loss_timeout_sec", spec.options().ctrlrLossTimeoutSec());
        p.put("reconnect_delay_sec", spec.options().reconnectDelaySec());
        p.put("fast_io_fail_timeout_sec", spec.options().fastIoFailTimeoutSec());
        return rpc().call("bdev_nvme_attach_controller", p, new ArrayList<>()).thenApply(r -> {
            List<String> names = new ArrayList<>();
            for (JsonNode n : r) {
                names.add(n.asText());
            }
            bdevsOf.put(spec.name(), List.copyOf(names));
            annotate(spec, names);
            return List.copyOf(names);
        });
    }

    /** Names the node each bdev comes from in its {@code driver_specific.cluster}. */
    private void annotate(AttachSpec spec, List<String> names) {
        BdevLayer layer = BdevLayer.of(spindle);
        for (String n : names) {
            io.spindle.bdev.Bdev b = layer.get(n);
            if (b == null) {
                continue;
            }
            ObjectNode c = JsonNodeFactory.instance.objectNode();
            c.put("node", spec.nodeName());
            c.put("address", spec.nodeAddress());
            c.put("uid", spec.nodeUid());
            c.put("nqn", spec.export().nqn());
            if (n.equals(spec.name() + "n" + spec.export().nsid())) {
                c.put("bdev", spec.export().bdev());
                c.put("uuid", spec.export().uuid());
            }
            b.annotate("cluster", c);
        }
    }

    @Override
    public CompletionStage<Void> detach(String name) {
        ObjectNode p = JsonNodeFactory.instance.objectNode();
        p.put("name", name);
        return rpc().call("bdev_nvme_detach_controller", p, new ArrayList<>()).handle((r, err) -> {
            bdevsOf.remove(name);
            if (err != null) {
                throw err instanceof CompletionException c ? c : new CompletionException(err);
            }
            return null;
        });
    }

    @Override
    public boolean attached(String name) {
        List<String> bdevs = bdevsOf.get(name);
        if (bdevs == null) {
            return false;
        }
        BdevLayer layer = BdevLayer.of(spindle);
        for (String b : bdevs) {
            if (layer.get(b) != null) {
                return true;
            }
        }
        return false;
    }
}
