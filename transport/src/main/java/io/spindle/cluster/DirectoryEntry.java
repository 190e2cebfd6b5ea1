package io.spindle.cluster;

/**
 * One exported bdev as the directory shows it ({@code cluster_get_bdevs}), with its node's state as the answering
 * node sees it. Immutable.
 *
 * @param node        the exporting node's name
 * @param address     its Pekko address
 * @param uid         its incarnation
 * @param status      its member status (see {@link NodeInfo#status()})
 * @param reachable   whether it is reachable
 * @param export      the export
 */
public record DirectoryEntry(String node, String address, long uid, String status, boolean reachable, Export export) {
    /** Whether {@code bdev_cluster_attach} may attach it: the node is up (or weakly up) and reachable. */
    public boolean attachable() {
        return reachable && (status.equals("up") || status.equals("weakly_up"));
    }
}
