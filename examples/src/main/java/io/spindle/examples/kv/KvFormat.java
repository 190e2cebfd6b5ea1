package io.spindle.examples.kv;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The on-bdev formats of the kv store: log records, checkpoints and the superblock. Pure functions over heap
 * arrays; every instance method uses the scratch state of its instance, so one {@code KvFormat} belongs to one
 * thread (a shard's reactor, or the thread recovering it).
 *
 * <p><b>Log record</b> (little-endian, padded with zeroes to the bdev's block size):
 * <pre>
 *  0 int  magic 0x3152564B ("KVR1")     16 int  key length (1..255)
 *  4 int  total length (header+key+value)   20 int  value length (0..max)
 *  8 long sequence number               24 int  flags (1 = tombstone: a delete)
 *                                       28 int  CRC32C of the record with this field zero
 * 32 key bytes (UTF-8), then value bytes
 * </pre>
 * <b>Checkpoint</b> (one per slot, two slots per shard, written alternately):
 * <pre>
 *  0 int magic "KVC1"  4 int CRC32C (of the whole checkpoint, this field zero)  8 long generation
 * 16 long total length 24 int active half  28 int entries  32 long scan start (device offset)
 * 40 long last sequence written before the scan start   48 long end of the half being compacted (0: none)
 * 56..63 zero; from 64, per entry: u8 key length, key, long record offset, int record length
 * </pre>
 * <b>Superblock</b> (device bytes 0..63): magic "KVS1", version 1, shard count, block size, region size, CRC32C.
 */
final class KvFormat {
    static final int RECORD_MAGIC = 0x3152564B;
    static final int CHECKPOINT_MAGIC = 0x3143564B;
    static final int SUPER_MAGIC = 0x3153564B;
    static final int HEADER = 32;
    static final int CHECKPOINT_HEADER = 64;
    static final int MAX_KEY = 255;
    static final int FLAG_TOMBSTONE = 1;

    /** Parse results. */
    static final int OK = 0;
    static final int NO_MAGIC = 1;
    static final int BAD_LENGTH = 2;
    static final int BAD_CRC = 3;
    static final int SHORT = 4;

    private final CRC32C crc = new CRC32C();
    private final byte[] header = new byte[HEADER];
    private final ByteBuffer headerBuf = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
    final int blockSize;
    final int maxValue;

    KvFormat(int blockSize, int maxValue) {
        this.blockSize = blockSize;
        this.maxValue = maxValue;
    }

    /** {@code n} rounded up to the block size. */
    long pad(long n) {
        return (n + blockSize - 1) / blockSize * blockSize;
    }

    /** The padded size on the bdev of a record with these lengths. */
    int recordSize(int keyLen, int valueLen) {
        return (int) pad(HEADER + (long) keyLen + valueLen);
    }

    /** The largest padded record. */
    int maxRecordSize() {
        return recordSize(MAX_KEY, maxValue);
    }

    /**
     * Fills the header scratch for a record and returns it; the CRC covers the header (CRC field zero), the key
     * and the value. The caller copies {@link #header()} then key then value to the bdev buffer.
     */
    byte[] encodeHeader(long seq, byte[] key, byte[] value, int valueLen, boolean tombstone) {
        headerBuf.putInt(0, RECORD_MAGIC).putInt(4, HEADER + key.length + valueLen).putLong(8, seq)
                .putInt(16, key.length).putInt(20, valueLen).putInt(24, tombstone ? FLAG_TOMBSTONE : 0).putInt(28, 0);
        crc.reset();
        crc.update(header, 0, HEADER);
        crc.update(key, 0, key.length);
        if (valueLen > 0) {
            crc.update(value, 0, valueLen);
        }
        headerBuf.putInt(28, (int) crc.getValue());
        return header;
    }

    byte[] header() {
        return header;
    }

    /** A parsed record: offsets into the array given to {@link #parse}. Reused by its owner. */
    static final class View {
        long seq;
        int total;
        int padded;
        int keyOff;
        int keyLen;
        int valueOff;
        int valueLen;
        boolean tombstone;
    }

    /**
     * Parses the record at {@code b[off..off+avail)} into {@code out}: {@link #OK}; {@link #SHORT} when the header
     * or the record runs past {@code avail} (read more and retry); {@link #NO_MAGIC}, {@link #BAD_LENGTH} (a length
     * out of its bound) or {@link #BAD_CRC}.
     */
    int parse(byte[] b, int off, int avail, View out) {
        if (avail < HEADER) {
            return SHORT;
        }
        if (getInt(b, off) != RECORD_MAGIC) {
            return NO_MAGIC;
        }
        int total = getInt(b, off + 4);
        int keyLen = getInt(b, off + 16);
        int valueLen = getInt(b, off + 20);
        if (keyLen < 1 || keyLen > MAX_KEY || valueLen < 0 || valueLen > maxValue || total != HEADER + keyLen + valueLen) {
            return BAD_LENGTH;
        }
        if (total > avail) {
            return SHORT;
        }
        int stored = getInt(b, off + 28);
        crc.reset();
        crc.update(b, off, 28);
        crc.update(ZERO4, 0, 4);
        crc.update(b, off + HEADER, keyLen + valueLen);
        if ((int) crc.getValue() != stored) {
            return BAD_CRC;
        }
        out.seq = getLong(b, off + 8);
        out.total = total;
        out.padded = (int) pad(total);
        out.keyOff = off + HEADER;
        out.keyLen = keyLen;
        out.valueOff = off + HEADER + keyLen;
        out.valueLen = valueLen;
        out.tombstone = (getInt(b, off + 24) & FLAG_TOMBSTONE) != 0;
        return OK;
    }

    private static final byte[] ZERO4 = new byte[4];

    /** The sequence number of a record whose magic is there, CRC unchecked (to tell a torn record from a stale one). */
    static long rawSeq(byte[] b, int off) {
        return getLong(b, off + 8);
    }

    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    static int getInt(byte[] b, int off) {
        return (int) INT.get(b, off);
    }

    static long getLong(byte[] b, int off) {
        return (long) LONG.get(b, off);
    }

    static void putInt(byte[] b, int off, int v) {
        INT.set(b, off, v);
    }

    static void putLong(byte[] b, int off, long v) {
        LONG.set(b, off, v);
    }

    /** CRC32C of {@code b[off..off+len)} with the 4 bytes at {@code crcOff} read as zero. */
    int crcWithHole(byte[] b, int off, int len, int crcOff) {
        crc.reset();
        crc.update(b, off, crcOff - off);
        crc.update(ZERO4, 0, 4);
        crc.update(b, crcOff + 4, off + len - crcOff - 4);
        return (int) crc.getValue();
    }
}
