package io.spindle.cluster;

import java.util.List;
import java.util.function.Consumer;

/**
 * What this node exports, as the directory publishes it: the namespaces of its subsystems with their listeners
 * (the NVMe-oF-style target of {@code io.spindle.transport}).
 *
 * <p>{@link #watch} is called once, on the cluster actor's thread, when the cluster subsystem starts. The
 * source calls {@code listener} with the complete current list at once (from any thread) and again after every
 * change; the cluster actor publishes each list as this node's directory entry. {@link Watch#close()} stops it
 * (cluster subsystem fini, before the node unexports).
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
    }

    /**
     * Starts reporting this node's exports to {@code listener}: the full list now and after every change. The
     * listener must not block; it may be called from any thread, one call at a time.
     */
    Watch watch(Consumer<List<Export>> listener);
}
