package io.spindle.cluster;

import java.util.List;

/**
 * The membership as one node sees it ({@code cluster_get_nodes}). Immutable.
 *
 * @param clusterName  the cluster's name
 * @param localNode    the name of the node that answers
 * @param localAddress its address
 * @param leader       the leader's address, or null while there is none
 * @param nodes        every member, ordered by address
 */
public record ClusterView(String clusterName, String localNode, String localAddress, String leader, List<NodeInfo> nodes) {
}
