package io.spindle.examples.kv;

import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.actor.BdevFacade;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Rebuilds a shard's index when the store opens: the newest valid checkpoint (CRC32C checked; a torn one is passed
 * over for the other slot), then the log from the checkpoint's scan start onwards.
 *
 * <p><b>What the scan accepts.</b> A record whose magic, lengths, CRC32C are right and whose sequence number is
 * above the last one accepted. A block that is not such a record is skipped, and the scan goes on block by block
 * for one staging buffer's length past the last good record: records after a corrupt one are recovered when their
 * CRC is right (one warning names the skipped range). Stale records of the half's earlier use carry lower sequence
 * numbers and are never taken. Where nothing valid follows, the log ends; a record with a newer sequence number and
 * a bad CRC there is a torn write (never acknowledged) and is dropped with one warning.
 *
 * <p><b>Threads.</b> Runs on the thread opening the store (never a reactor): it waits on the facade's stages.
 */
final class KvRecovery {
    private static final Logger LOG = LoggerFactory.getLogger(KvRecovery.class);

    /** What a recovery found, for logs and tests. */
    record Report(int shard, long checkpointGeneration, int fromCheckpoint, int replayed, long skippedBytes, boolean tornTail) {
    }

    private final BdevFacade facade;
    private final KvGeometry geo;
    private final KvFormat fmt;
    private final int chunk;

    KvRecovery(BdevFacade facade, KvGeometry geo, KvFormat fmt) {
        this.facade = facade;
        this.geo = geo;
        this.fmt = fmt;
        this.chunk = KvShard.batchCapacity(fmt);
    }

    private static void read(BdevFacade f, long at, DmaBuffer buf, int len) throws Exception {
        f.read(at, buf, 0, len).toCompletableFuture().get(60, TimeUnit.SECONDS);
    }

    /** Recovers shard {@code id} into {@code s}. */
    Report recover(int id, KvShard.State s) throws Exception {
        // 1. the newest valid checkpoint
        byte[] best = null;
        long bestGen = -1;
        try (DmaBuffer first = DmaBuffer.allocate(fmt.blockSize, 4096)) {
            for (int slot = 0; slot < 2; slot++) {
                long at = geo.slot(id, slot);
                read(facade, at, first, fmt.blockSize);
                byte[] h = first.get(0, fmt.blockSize);
                if (KvFormat.getInt(h, 0) != KvFormat.CHECKPOINT_MAGIC) {
                    continue;
                }
                long size = KvFormat.getLong(h, 16);
                long gen = KvFormat.getLong(h, 8);
                if (size < KvFormat.CHECKPOINT_HEADER || size > geo.quarter() || gen <= bestGen) {
                    continue;
                }
                int padded = (int) fmt.pad(size);
                byte[] all;
                try (DmaBuffer b = DmaBuffer.allocate(padded, 4096)) {
                    read(facade, at, b, padded);
                    all = b.get(0, (int) size);
                }
                if (fmt.crcWithHole(all, 0, (int) size, 4) != KvFormat.getInt(all, 4)) {
                    LOG.warn("kv shard {}: checkpoint slot {} (generation {}) fails its CRC; using the other slot", id, slot, gen);
                    continue;
                }
                best = all;
                bestGen = gen;
            }
        }
        int fromCheckpoint = 0;
        long scanFrom;
        if (best == null) {
            s.activeHalf = 0;
            s.generation = 0;
            s.lastSeq = 0;
            s.compactEnd = 0;
            scanFrom = geo.halfStart(id, 0);
        } else {
            s.generation = bestGen;
            s.activeHalf = KvFormat.getInt(best, 24);
            int n = KvFormat.getInt(best, 28);
            scanFrom = KvFormat.getLong(best, 32);
            s.lastSeq = KvFormat.getLong(best, 40);
            s.compactEnd = KvFormat.getLong(best, 48);
            int p = KvFormat.CHECKPOINT_HEADER;
            for (int i = 0; i < n; i++) {
                int kl = best[p++] & 0xff;
                String key = new String(best, p, kl, StandardCharsets.UTF_8);
                p += kl;
                s.index.put(key, new KvShard.Entry(KvFormat.getLong(best, p), KvFormat.getInt(best, p + 8)));
                p += 12;
            }
            fromCheckpoint = n;
        }
        // 2. the log after it
        long end = geo.halfEnd(id, s.activeHalf);
        long window = chunk;
        int replayed = 0;
        long skipped = 0;
        long lastGood = scanFrom;
        long badFrom = -1;
        boolean tornCandidate = false;
        long tornAt = -1;
        KvFormat.View v = new KvFormat.View();
        byte[] heap = new byte[chunk];
        long heapAt = -1;
        int heapLen = 0;
        try (DmaBuffer buf = DmaBuffer.allocate(chunk, 4096)) {
            long pos = scanFrom;
            while (pos < end && pos < lastGood + window) {
                int need = (int) Math.min(fmt.maxRecordSize(), end - pos);
                if (heapAt < 0 || pos < heapAt || pos + need > heapAt + heapLen) {
                    heapLen = (int) Math.min(chunk, end - pos);
                    read(facade, pos, buf, heapLen);
                    buf.getBytes(0, heap, 0, heapLen);
                    heapAt = pos;
                }
                int off = (int) (pos - heapAt);
                int st = fmt.parse(heap, off, heapLen - off, v);
                if (st == KvFormat.OK && v.seq > s.lastSeq) {
                    if (badFrom >= 0) {
                        LOG.warn("kv shard {}: skipped {} bytes of corrupt log at offset {}; the records after them are recovered",
                                id, pos - badFrom, badFrom);
                        skipped += pos - badFrom;
                        badFrom = -1;
                        tornCandidate = false;
                    }
                    String key = new String(heap, v.keyOff, v.keyLen, StandardCharsets.UTF_8);
                    if (v.tombstone) {
                        s.index.remove(key);
                    } else {
                        KvShard.Entry e = s.index.get(key);
                        if (e == null) {
                            s.index.put(key, new KvShard.Entry(pos, v.total));
                        } else {
                            e.pos = pos;
                            e.len = v.total;
                        }
                    }
                    s.lastSeq = v.seq;
                    replayed++;
                    pos += v.padded;
                    lastGood = pos;
                } else {
                    if (badFrom < 0) {
                        badFrom = pos;
                        // a record that is newer than the last one but fails its check: torn or corrupt
                        tornCandidate = KvFormat.getInt(heap, off) == KvFormat.RECORD_MAGIC && KvFormat.rawSeq(heap, off) > s.lastSeq;
                        tornAt = pos;
                    }
                    pos += fmt.blockSize;
                }
            }
        }
        if (tornCandidate) {
            LOG.warn("kv shard {}: dropped a torn or corrupt record at the end of the log, offset {}", id, tornAt);
        }
        s.head = lastGood;
        return new Report(id, bestGen, fromCheckpoint, replayed, skipped, tornCandidate);
    }
}
