package io.spindle.bdev;

/** Claim types: SPDK's {@code enum spdk_bdev_claim_type}, with the names {@code bdev_get_bdevs} prints. */
public enum ClaimType {
    /** v1 exclusive write (SPDK {@code spdk_bdev_module_claim_bdev}). */
    EXCL_WRITE("exclusive_write"),
    /** v2: the claiming descriptor is the only writer. */
    READ_MANY_WRITE_ONE("read_many_write_one"),
    /** v2: nobody writes; the claiming descriptor must be read-only. */
    READ_MANY_WRITE_NONE("read_many_write_none"),
    /** v2: writers that present the same non-zero key share the bdev. */
    READ_MANY_WRITE_SHARED("read_many_write_shared");

    private final String rpcName;

    ClaimType(String rpcName) {
        this.rpcName = rpcName;
    }

    /** The name in SPDK's JSON. */
    public String rpcName() {
        return rpcName;
    }
}
