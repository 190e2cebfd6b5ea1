package io.spindle.cluster;

import java.util.Objects;

/**
 * One listener of an exported subsystem, in SPDK's {@code listen_address} terms: {@code trtype} ("AERON"),
 * {@code adrfam} ("IPv4", "IPv6"), {@code traddr} and {@code trsvcid}. Part of {@link NodeExports}, so it crosses
 * nodes (CBOR). Immutable.
 *
 * @param trtype  the transport type, e.g. {@code AERON}
 * @param adrfam  the address family, e.g. {@code IPv4}
 * @param traddr  the address, e.g. {@code 127.0.0.1}
 * @param trsvcid the service id (port), e.g. {@code 4420}
 */
public record Listener(String trtype, String adrfam, String traddr, String trsvcid) implements CborSerializable {
    /** Validates: every field non-null and at most 256 characters. */
    public Listener {
        trtype = NodeExports.text("trtype", trtype);
        adrfam = NodeExports.text("adrfam", adrfam);
        traddr = NodeExports.text("traddr", traddr);
        trsvcid = NodeExports.text("trsvcid", trsvcid);
    }

    @Override
    public String toString() {
        return trtype + " " + traddr + ":" + trsvcid;
    }

    /** Whether both name the same endpoint, case-insensitively in the type and family. */
    public boolean sameEndpoint(Listener o) {
        return o != null && trtype.equalsIgnoreCase(o.trtype) && adrfam.equalsIgnoreCase(o.adrfam) && traddr.equals(o.traddr)
                && Objects.equals(trsvcid, o.trsvcid);
    }
}
