package io.spindle.backends.raid;

import java.util.Locale;

/** The raid levels Spindle has (SPDK's {@code enum spdk_bdev_raid_level} without raid5f), with SPDK's names. */
public enum RaidLevel {
    /** Striping: blocks spread over every base in strips; no redundancy. */
    RAID0("raid0", true),
    /** Mirroring: every base holds every block; serves while one base is left. */
    RAID1("raid1", false),
    /** Concatenation: the bases one after the other. */
    CONCAT("concat", true);

    private final String rpcName;
    private final boolean striped;

    RaidLevel(String rpcName, boolean striped) {
        this.rpcName = rpcName;
        this.striped = striped;
    }

    /** The name SPDK prints ({@code raid_level}). */
    public String rpcName() {
        return rpcName;
    }

    /** Whether the level has a strip size (raid0, concat); raid1 must have none. */
    public boolean striped() {
        return striped;
    }

    /** Fewest bases for a create: raid0 and concat 1, raid1 2. */
    public int minBaseBdevs() {
        return this == RAID1 ? 2 : 1;
    }

    /** Fewest operational bases to stay online: all for raid0 and concat, 1 for raid1. */
    public int minOperational(int numBaseBdevs) {
        return this == RAID1 ? 1 : numBaseBdevs;
    }

    /**
     * SPDK's {@code raid_bdev_str_to_level}: "raid0"/"0", "raid1"/"1", "concat", case-insensitive; null for anything
     * else (raid5f included: Spindle has no raid5f).
     */
    public static RaidLevel parse(String s) {
        if (s == null) {
            return null;
        }
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "raid0", "0" -> RAID0;
            case "raid1", "1" -> RAID1;
            case "concat" -> CONCAT;
            default -> null;
        };
    }
}
