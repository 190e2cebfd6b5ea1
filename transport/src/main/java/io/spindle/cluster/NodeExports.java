package io.spindle.cluster;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One node's entry in the cluster-wide bdev directory: its name and what it exports. The directory is a
 * Distributed Data {@code LWWMap} from a member's unique address ({@code pekko://spindle@host:port#uid}) to this
 * value; only that member writes its entry, so the last-writer-wins register never sees two writers. Crosses
 * nodes as CBOR ({@link CborSerializable}). Immutable.
 *
 * @param node    the node's name ({@code spindle.cluster.node-name})
 * @param exports what it exports, in its subsystems' order
 */
public record NodeExports(String node, List<Export> exports) implements CborSerializable {
    /** Most exports one node may publish. */
    public static final int MAX_EXPORTS = 4096;
    /** Most listeners per export. */
    public static final int MAX_LISTENERS = 16;
    /** Longest string field. */
    public static final int MAX_TEXT = 256;

    /** Validates: a name, at most {@link #MAX_EXPORTS} exports, no (nqn, nsid) twice. */
    public NodeExports {
        node = text("node", node);
        exports = exports == null ? List.of() : List.copyOf(exports);
        if (exports.size() > MAX_EXPORTS) {
            throw new IllegalArgumentException("node=" + node + " exports=" + exports.size() + ": must be <= " + MAX_EXPORTS);
        }
        Set<String> seen = new HashSet<>();
        for (Export e : exports) {
            if (!seen.add(e.nqn() + "/" + e.nsid())) {
                throw new IllegalArgumentException("node=" + node + " export nqn=" + e.nqn() + " nsid=" + e.nsid() + ": listed twice");
            }
        }
    }

    static String text(String key, String v) {
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException(key + " is required");
        }
        if (v.length() > MAX_TEXT) {
            throw new IllegalArgumentException(key + " length=" + v.length() + ": must be <= " + MAX_TEXT);
        }
        return v;
    }
}
