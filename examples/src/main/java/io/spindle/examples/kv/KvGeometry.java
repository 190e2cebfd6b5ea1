package io.spindle.examples.kv;

/**
 * Where things live on the kv bdev. Bytes 0..64 KiB: the superblock. Then one region per shard, each of four equal
 * quarters: checkpoint slot 0, checkpoint slot 1, log half 0, log half 1. The log appends in its active half; a
 * compaction switches to the other half and copies the live records there. Immutable.
 *
 * <p>A checkpoint slot is as large as a half, so an index snapshot always fits: an entry (key length, key, offset,
 * length) is smaller than the padded record it points to.
 */
record KvGeometry(int shards, int blockSize, long regionSize) {
    static final long SUPER_AREA = 64 << 10;
    static final long ALIGN = 64 << 10;

    /** The geometry of a new store on a bdev of {@code deviceBytes}. */
    static KvGeometry forDevice(long deviceBytes, int shards, int blockSize) {
        long region = (deviceBytes - SUPER_AREA) / shards / (4 * ALIGN) * (4 * ALIGN);
        return new KvGeometry(shards, blockSize, region);
    }

    long quarter() {
        return regionSize / 4;
    }

    long regionBase(int shard) {
        return SUPER_AREA + shard * regionSize;
    }

    long slot(int shard, int slot) {
        return regionBase(shard) + slot * quarter();
    }

    long halfStart(int shard, int half) {
        return regionBase(shard) + (2 + half) * quarter();
    }

    long halfEnd(int shard, int half) {
        return halfStart(shard, half) + quarter();
    }
}
