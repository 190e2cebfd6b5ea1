package io.spindle.examples.kv;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How to open a {@link KvStore}. Immutable; each {@code with*} returns a copy.
 *
 * @param file          the mapped bdev's file (created sparse when missing); ignored with {@code malloc}
 * @param malloc        a RAM disk instead of the file: nothing survives the process (a demo)
 * @param sizeBytes     the bdev's size when it is created (an existing file keeps its size)
 * @param reactorMask   Spindle's core mask; a new store gets one shard per reactor
 * @param maxValueBytes the largest value accepted (1..1 MiB)
 */
public record KvOptions(Path file, boolean malloc, long sizeBytes, String reactorMask, int maxValueBytes) {
    /** The default file, relative to the working directory. */
    public static final Path DEFAULT_FILE = Path.of("kv-data", "kv.img");
    /** The default size of a new bdev: 512 MiB (the file is sparse). */
    public static final long DEFAULT_SIZE = 512L << 20;
    /** The default largest value: 64 KiB. */
    public static final int DEFAULT_MAX_VALUE = 64 << 10;
    /** The bound of {@link #maxValueBytes}. */
    public static final int MAX_VALUE_LIMIT = 1 << 20;
    /** The block size of the kv bdev. */
    public static final int BLOCK_SIZE = 512;

    /** Validates the fields; errors name the field and its bound. */
    public KvOptions {
        Objects.requireNonNull(reactorMask, "reactorMask");
        if (!malloc) {
            Objects.requireNonNull(file, "file");
        }
        if (sizeBytes < (4L << 20) || sizeBytes % BLOCK_SIZE != 0) {
            throw new IllegalArgumentException("size=" + sizeBytes + ": must be >= 4194304 and a multiple of " + BLOCK_SIZE);
        }
        if (maxValueBytes < 1 || maxValueBytes > MAX_VALUE_LIMIT) {
            throw new IllegalArgumentException("max value length " + maxValueBytes + " out of 1.." + MAX_VALUE_LIMIT);
        }
    }

    /** The durable default: {@link #DEFAULT_FILE}, 512 MiB, mask 0x3, values up to 64 KiB. */
    public static KvOptions defaults() {
        return new KvOptions(DEFAULT_FILE, false, DEFAULT_SIZE, "0x3", DEFAULT_MAX_VALUE);
    }

    /** These options on the mapped bdev in file {@code f}. */
    public KvOptions withFile(Path f) {
        return new KvOptions(f, false, sizeBytes, reactorMask, maxValueBytes);
    }

    /** These options on a RAM disk ({@code true}) or on the file. */
    public KvOptions withMalloc(boolean m) {
        return new KvOptions(file, m, sizeBytes, reactorMask, maxValueBytes);
    }

    /** These options with a new bdev of {@code bytes}. */
    public KvOptions withSize(long bytes) {
        return new KvOptions(file, malloc, bytes, reactorMask, maxValueBytes);
    }

    /** These options on the reactors of core mask {@code mask}. */
    public KvOptions withMask(String mask) {
        return new KvOptions(file, malloc, sizeBytes, mask, maxValueBytes);
    }

    /** These options accepting values up to {@code bytes}. */
    public KvOptions withMaxValue(int bytes) {
        return new KvOptions(file, malloc, sizeBytes, reactorMask, bytes);
    }
}
