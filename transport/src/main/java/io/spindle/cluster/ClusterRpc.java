package io.spindle.cluster;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Errno;

import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * The cluster's JSON-RPC methods (SPDK has none; these follow its conventions: snake-case keys, negative errno
 * codes, strict parameter decoding):
 * <ul>
 *   <li>{@code cluster_get_nodes} (no params): the cluster's name, the node that answers ({@code local_node},
 *       {@code local_address}), the leader, and every member with {@code name}, {@code address}, {@code uid},
 *       {@code status}, {@code reachable}, {@code roles}, {@code local} and {@code exports};</li>
 *   <li>{@code cluster_get_bdevs} ({@code name}: a bdev name or UUID, {@code uuid}, {@code node}; all optional): the
 *       directory's entries: {@code name}, {@code uuid}, {@code block_size}, {@code num_blocks}, {@code node},
 *       {@code address}, {@code status}, {@code reachable}, {@code nqn}, {@code nsid}, {@code listen_addresses};
 *       -19 when a name or UUID was given and nothing matches;</li>
 *   <li>{@code bdev_cluster_attach} ({@code name}, {@code bdev}, optional {@code node}, {@code ctrlr_loss_timeout_sec},
 *       {@code reconnect_delay_sec}, {@code fast_io_fail_timeout_sec}): attaches a remote bdev found in the
 *       directory through the Aeron initiator; answers the bdev names created, as
 *       {@code bdev_nvme_attach_controller} does;</li>
 *   <li>{@code bdev_cluster_detach} ({@code name}): detaches it; answers true.</li>
 * </ul>
 * On a node outside cluster mode every method answers -19 saying so.
 */
public final class ClusterRpc implements RpcMethodProvider {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** The provider, found by ServiceLoader. */
    public ClusterRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(
                RpcMethod.runtime("cluster_get_nodes", ClusterRpc::getNodes),
                RpcMethod.runtime("cluster_get_bdevs", ClusterRpc::getBdevs),
                RpcMethod.runtime("bdev_cluster_attach", ClusterRpc::attach),
                RpcMethod.runtime("bdev_cluster_detach", ClusterRpc::detach));
    }

    private static CompletionStage<?> getNodes(RpcCall c) throws RpcException {
        c.params().none();
        ClusterSubsystem cs = ClusterSubsystem.of(c.spindle());
        return cs.nodes().thenApply(ClusterRpc::toJson);
    }

    static ObjectNode toJson(ClusterView v) {
        ObjectNode o = F.objectNode();
        o.put("cluster_name", v.clusterName());
        o.put("local_node", v.localNode());
        o.put("local_address", v.localAddress());
        if (v.leader() == null) {
            o.putNull("leader");
        } else {
            o.put("leader", v.leader());
        }
        ArrayNode nodes = o.putArray("nodes");
        for (NodeInfo n : v.nodes()) {
            ObjectNode j = nodes.addObject();
            j.put("name", n.name());
            j.put("address", n.address());
            j.put("uid", n.uid());
            j.put("status", n.status());
            j.put("reachable", n.reachable());
            ArrayNode roles = j.putArray("roles");
            n.roles().forEach(roles::add);
            j.put("local", n.local());
            j.put("exports", n.exports());
        }
        return o;
    }

    private static CompletionStage<?> getBdevs(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name", null);
        java.util.UUID uuid = p.uuid("uuid");
        String node = p.string("node", null);
        p.end();
        ClusterSubsystem cs = ClusterSubsystem.of(c.spindle());
        return cs.bdevs().thenApply(entries -> {
            ArrayNode out = F.arrayNode();
            for (DirectoryEntry e : entries) {
                if ((name == null || ClusterNode.matches(e, name)) && (uuid == null || ClusterNode.matches(e, uuid.toString()))
                        && ClusterNode.onNode(e, node)) {
                    out.add(toJson(e));
                }
            }
            if (out.isEmpty() && (name != null || uuid != null)) {
                throw new CompletionException(RpcException.errno(Errno.ENODEV, (name != null ? "name=" + name : "uuid=" + uuid)
                        + (node != null ? " node=" + node : "") + ": not in the cluster directory"));
            }
            return out;
        });
    }

    static ObjectNode toJson(DirectoryEntry e) {
        ObjectNode j = F.objectNode();
        Export x = e.export();
        j.put("name", x.bdev());
        j.put("uuid", x.uuid());
        j.put("block_size", x.blockSize());
        j.put("num_blocks", x.numBlocks());
        j.put("node", e.node());
        j.put("address", e.address());
        j.put("status", e.status());
        j.put("reachable", e.reachable());
        j.put("nqn", x.nqn());
        j.put("nsid", x.nsid());
        ArrayNode ls = j.putArray("listen_addresses");
        for (Listener l : x.listeners()) {
            ObjectNode lj = ls.addObject();
            lj.put("trtype", l.trtype());
            lj.put("adrfam", l.adrfam());
            lj.put("traddr", l.traddr());
            lj.put("trsvcid", l.trsvcid());
        }
        return j;
    }

    private static CompletionStage<?> attach(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        String bdev = p.string("bdev");
        String node = p.string("node", null);
        ClusterSubsystem cs = ClusterSubsystem.of(c.spindle());
        ClusterConfig.AttachDefaults d = cs.config().attachDefaults();
        long loss = p.integer("ctrlr_loss_timeout_sec", d.ctrlrLossTimeoutSec(), -1, Integer.MAX_VALUE);
        long delay = p.integer("reconnect_delay_sec", d.reconnectDelaySec(), 0, Integer.MAX_VALUE);
        long fast = p.integer("fast_io_fail_timeout_sec", d.fastIoFailTimeoutSec(), 0, Integer.MAX_VALUE);
        p.end();
        if (!name.matches("[A-Za-z0-9_.-]{1,64}")) {
            throw RpcException.invalidParams("name=" + name + ": must be 1 to 64 letters, digits, '_', '.' or '-'");
        }
        return cs.attach(name, bdev, node, new ClusterConfig.AttachDefaults(loss, delay, fast)).thenApply(names -> {
            ArrayNode out = F.arrayNode();
            names.forEach(out::add);
            return out;
        });
    }

    private static CompletionStage<?> detach(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        ClusterSubsystem cs = ClusterSubsystem.of(c.spindle());
        return cs.detach(name).thenApply(v -> Boolean.TRUE);
    }
}
