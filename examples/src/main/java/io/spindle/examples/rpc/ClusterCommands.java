package io.spindle.examples.rpc;

import io.spindle.examples.rpc.SpindleRpc.Output;

import java.util.List;

import static io.spindle.examples.rpc.ArgParse.*;

/**
 * The cluster's sub-commands of {@code spindle rpc} (docs/cluster.md; SPDK has none, so rpc.py knows them only
 * through Spindle's rpc.py plugin, {@code examples/rpc-plugin/spindle_cluster.py}, or a generic call). Flags
 * follow {@code bdev_nvme_attach_controller}'s where they mean the same.
 *
 * <p>Stateless; {@link #register} runs once, from {@link SpindleRpc}'s class initialization.
 */
final class ClusterCommands {
    private ClusterCommands() {
    }

    /** Adds the cluster sub-commands to {@code r}. */
    static void register(Registry r) {
        r.add(new Command("cluster_get_nodes", "Display the cluster's members as this node sees them", List.of(), Output.DICT, a -> map()));
        r.add(new Command("cluster_get_bdevs", "Display the cluster-wide bdev directory, or the entries of one bdev", List.of(
                opt("-b|--name", "name", Type.STR, "bdev name or UUID"),
                opt("-u|--uuid", "uuid", Type.STR, "bdev UUID"),
                opt("-n|--node", "node", Type.STR, "only this node's entries (node name or address)")),
                Output.DICT, a -> map("name", a.get("name"), "uuid", a.get("uuid"), "node", a.get("node"))));
        r.add(new Command("bdev_cluster_attach", "Attach another node's bdev found in the cluster directory (through the Aeron initiator)",
                List.of(req("-b|--name", "name", Type.STR, "Name of the controller, prefix for each bdev name"),
                        req("-d|--bdev", "bdev", Type.STR, "the remote bdev's name or UUID"),
                        opt("-n|--node", "node", Type.STR, "the node that exports it (name or address); needed when the name is ambiguous"),
                        opt("-l|--ctrlr-loss-timeout-sec", "ctrlr_loss_timeout_sec", Type.INT,
                                "Time to wait until ctrlr is reconnected before deleting ctrlr. -1 (the cluster default) means the cluster decides"),
                        opt("-o|--reconnect-delay-sec", "reconnect_delay_sec", Type.INT, "Time to delay a reconnect retry"),
                        opt("-u|--fast-io-fail-timeout-sec", "fast_io_fail_timeout_sec", Type.INT,
                                "Time to wait until ctrlr is reconnected before failing I/O to ctrlr. 0 means no such timeout")),
                Output.ARRAY, a -> map("name", a.get("name"), "bdev", a.get("bdev"), "node", a.get("node"), "ctrlr_loss_timeout_sec",
                        a.get("ctrlr_loss_timeout_sec"), "reconnect_delay_sec", a.get("reconnect_delay_sec"), "fast_io_fail_timeout_sec",
                        a.get("fast_io_fail_timeout_sec"))));
        r.add(new Command("bdev_cluster_detach", "Detach a controller made by bdev_cluster_attach and delete its bdevs", List.of(
                pos("name", Type.STR, "Name of the controller")), Output.NONE, a -> map("name", a.get("name"))));
    }
}
