package io.spindle.cluster;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Attaching and detaching another node's export through the Aeron initiator (SPDK's {@code bdev_nvme}), so the
 * data path of a cluster-attached bdev is the initiator's queue pairs with no extra hop: what
 * {@code bdev_cluster_attach} and {@code bdev_cluster_detach} call, and what the cluster calls to hot-remove the
 * bdevs of a member that is gone.
 *
 * <p>Called on the cluster actor's thread; the stages may complete on any thread. Failures are
 * {@link io.spindle.rpc.RpcException}s with SPDK's codes (they reach the RPC caller as they are).
 */
public interface RemoteBdevs {
    /**
     * What to attach.
     *
     * @param name        the controller name
     * @param export      the export, as the directory lists it
     * @param listener    the listener to connect to (one of the export's, trtype AERON)
     * @param nodeName    the exporting node's name
     * @param nodeAddress its Pekko address
     * @param nodeUid     its incarnation
     * @param options     the controller options
     */
    record AttachSpec(String name, Export export, Listener listener, String nodeName, String nodeAddress, long nodeUid,
                      ClusterConfig.AttachDefaults options) {
    }

    /**
     * Attaches a controller named {@code spec.name()} to the export's subsystem at {@code spec.listener()}.
     *
     * @return completes with the names of the bdevs created ({@code <name>n<nsid>}), as
     *         {@code bdev_nvme_attach_controller} answers
     */
    CompletionStage<List<String>> attach(AttachSpec spec);

    /**
     * Detaches controller {@code name}: its bdevs are hot-removed (descriptors get REMOVE; every I/O in flight
     * completes once, with an error if it could not finish).
     *
     * @return completes when the controller and its bdevs are gone; fails with {@code -19} when there is none
     */
    CompletionStage<Void> detach(String name);

    /** Whether controller {@code name} exists (it may have gone on its own: a detach, a controller loss). */
    boolean attached(String name);

    /** No initiator: every attach fails with -95 (Operation not supported). */
    RemoteBdevs NONE = new RemoteBdevs() {
        @Override
        public CompletionStage<List<String>> attach(AttachSpec spec) {
            return java.util.concurrent.CompletableFuture.failedFuture(io.spindle.rpc.RpcException.errno(io.spindle.runtime.Errno.ENOTSUP,
                    "this node has no Aeron initiator (the transport subsystem is not configured)"));
        }

        @Override
        public CompletionStage<Void> detach(String name) {
            return java.util.concurrent.CompletableFuture.failedFuture(io.spindle.rpc.RpcException.errno(io.spindle.runtime.Errno.ENODEV, null));
        }

        @Override
        public boolean attached(String name) {
            return false;
        }
    };
}
