package io.spindle.cluster;

import java.util.List;
import java.util.UUID;

/**
 * One bdev a node exports: a namespace of one of its subsystems, with what a host needs to attach it and what a
 * user needs to recognise it. Part of {@link NodeExports}, so it crosses nodes (CBOR). Immutable.
 *
 * @param nqn        the subsystem NQN
 * @param nsid       the namespace id (1 or more)
 * @param bdev       the bdev's name on the exporting node
 * @param uuid       the bdev's UUID (the namespace UUID)
 * @param blockSize  the block size in bytes
 * @param numBlocks  the block count
 * @param listeners  the subsystem's listeners (may be empty: then it cannot be attached)
 */
public record Export(String nqn, int nsid, String bdev, String uuid, int blockSize, long numBlocks, List<Listener> listeners)
        implements CborSerializable {
    /** Validates every field (what another node sends is checked before use). */
    public Export {
        nqn = NodeExports.text("nqn", nqn);
        bdev = NodeExports.text("bdev", bdev);
        uuid = NodeExports.text("uuid", uuid);
        try {
            UUID.fromString(uuid);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("export uuid=" + uuid + ": must be a UUID");
        }
        if (nsid < 1) {
            throw new IllegalArgumentException("export nsid=" + nsid + ": must be >= 1");
        }
        if (blockSize < 1) {
            throw new IllegalArgumentException("export block_size=" + blockSize + ": must be >= 1");
        }
        if (numBlocks < 0) {
            throw new IllegalArgumentException("export num_blocks=" + numBlocks + ": must be >= 0");
        }
        listeners = listeners == null ? List.of() : List.copyOf(listeners);
        if (listeners.size() > NodeExports.MAX_LISTENERS) {
            throw new IllegalArgumentException("export listeners=" + listeners.size() + ": must be <= " + NodeExports.MAX_LISTENERS);
        }
    }

    /** The first listener of type {@code trtype} (case-insensitive), or null. */
    public Listener listener(String trtype) {
        for (Listener l : listeners) {
            if (l.trtype().equalsIgnoreCase(trtype)) {
                return l;
            }
        }
        return null;
    }
}
