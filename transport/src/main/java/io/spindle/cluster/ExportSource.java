package io.spindle.cluster;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * What this node exports, as the directory publishes it: the namespaces of its subsystems with their listeners
 * (the NVMe-oF-style target of {@code io.spindle.transport}).
 *
 * <p>{@link #watch} is called once, on the cluster actor's thread, when the cluster subsystem starts. The
 * source calls {@code listener} with the complete current list at once (from any thread) and again after every
 * change; the cluster actor publishes each list as this node's directory entry. {@link Watch#close()} stops it
 * (cluster subsystem fini, before the node unexports). {@link Watch#refresh()} is called before the node joins the
 * cluster, so that it joins with its entry complete.
 */
@FunctionalInterface
public interface ExportSource {
    /** Exports nothing (a member that only attaches). */
    ExportSource NONE = listener -> {
        listener.accept(List.of());
        return () -> {
        };
    };

    /** A started watch. */
    @FunctionalInterface
    interface Watch extends AutoCloseable {
        /** Stops calling the listener. Idempotent; any thread. */
        @Override
        void close();

        /**
         * Reads the exports now: the returned stage completes once the listener has been called with the current
         * list (or was not, because it has not changed since its last call). For a source that calls the listener
         * as soon as something changes (the default) there is nothing to read: it completes at once. Any thread.
         */
        default CompletionStage<Void> refresh() {
            return CompletableFuture.completedFuture(null);
        }
    }

    /**
     * Starts reporting this node's exports to {@code listener}: the full list now and after every change. The
     * listener must not block; it may be called from any thread, one call at a time.
     */
    Watch watch(Consumer<List<Export>> listener);
}
