package io.spindle.cluster;

import io.spindle.rpc.RpcException;
import io.spindle.runtime.Errno;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link RemoteBdevs} that records what the cluster asked of the initiator (until the Aeron initiator is wired in,
 * the membership tests check the cluster's side of attach, detach and hot-remove against this record).
 */
final class RecordingRemoteBdevs implements RemoteBdevs {
    final Map<String, AttachSpec> attached = new ConcurrentHashMap<>();
    final List<String> detached = new CopyOnWriteArrayList<>();

    @Override
    public CompletionStage<List<String>> attach(AttachSpec spec) {
        if (attached.putIfAbsent(spec.name(), spec) != null) {
            return CompletableFuture.failedFuture(RpcException.errno(Errno.EEXIST, null));
        }
        return CompletableFuture.completedFuture(List.of(spec.name() + "n" + spec.export().nsid()));
    }

    @Override
    public CompletionStage<Void> detach(String name) {
        if (attached.remove(name) == null) {
            return CompletableFuture.failedFuture(RpcException.errno(Errno.ENODEV, null));
        }
        detached.add(name);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public boolean attached(String name) {
        return attached.containsKey(name);
    }
}
