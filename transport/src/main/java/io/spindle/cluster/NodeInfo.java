package io.spindle.cluster;

import java.util.List;

/**
 * One member as {@code cluster_get_nodes} shows it, seen from the node that answers. Immutable.
 *
 * @param name      its node name ({@code spindle.cluster.node-name}; "" for a member without one)
 * @param address   its Pekko address, {@code pekko://cluster@host:port}
 * @param uid       its incarnation: a restarted node has the same address and a new uid
 * @param status    Pekko's member status in snake case: joining, weakly_up, up, leaving, exiting, down, removed,
 *                  preparing_for_shutdown, ready_for_shutdown
 * @param reachable false when some member's failure detector has marked it unreachable
 * @param roles     its roles, without the node-name role
 * @param local     whether it is the node that answers
 * @param exports   how many bdevs it publishes in the directory
 */
public record NodeInfo(String name, String address, long uid, String status, boolean reachable, List<String> roles, boolean local,
                       int exports) {
}
