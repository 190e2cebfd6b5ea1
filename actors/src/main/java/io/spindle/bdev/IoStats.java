package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;

/**
 * I/O statistics of a channel or a bdev: SPDK's {@code spdk_bdev_io_stat}. Latencies are in nanoseconds.
 * A channel's counters are written on its reactor only; a bdev's merged counters are guarded by the bdev.
 *
 * <p><b>What counts</b>, as SPDK's {@code bdev_io_update_io_stat}: every I/O the layer sends to the module is
 * counted when it completes, by the type it was sent as. A split I/O counts once per child, an emulated
 * write_zeroes as the writes of zeroes it was done with, an emulated compare as its reads, a compare_and_write as
 * its read and its write; the parent itself adds nothing. Bytes, operations and latency (sum, min, max) are kept
 * for successful READ, WRITE and UNMAP only; a native WRITE_ZEROES, FLUSH, RESET, COMPARE or ABORT adds to no
 * byte or operation counter (SPDK's COPY counters exist in the JSON and stay 0: Spindle has no copy). Every
 * failed I/O of any type counts once in {@link #ioErrors()} and in {@link #errors(IoStatus)} for its status.
 */
public final class IoStats {
    long bytesRead;
    long numReadOps;
    long bytesWritten;
    long numWriteOps;
    long bytesUnmapped;
    long numUnmapOps;
    long readLatencySum;
    long readLatencyMin = Long.MAX_VALUE;
    long readLatencyMax;
    long writeLatencySum;
    long writeLatencyMin = Long.MAX_VALUE;
    long writeLatencyMax;
    long unmapLatencySum;
    long unmapLatencyMin = Long.MAX_VALUE;
    long unmapLatencyMax;
    long ioErrors;
    final long[] errorsByStatus = new long[IoStatus.values().length];

    /** What {@code bdev_reset_iostat} and {@code bdev_get_iostat}'s {@code reset_mode} clear (SPDK's names). */
    public enum ResetMode {
        /** Every counter. */
        ALL("all"),
        /** Only the min and max latencies. */
        MAXMIN("maxmin"),
        /** Only the error counters. */
        ERROR("error"),
        /** Nothing. */
        NONE("none");

        private final String rpcName;

        ResetMode(String rpcName) {
            this.rpcName = rpcName;
        }

        /** SPDK's name of the mode. */
        public String rpcName() {
            return rpcName;
        }

        /** The mode named {@code name} ({@code all}, {@code maxmin}, {@code error}, {@code none}), or null. */
        public static ResetMode of(String name) {
            for (ResetMode m : values()) {
                if (m.rpcName.equals(name)) {
                    return m;
                }
            }
            return null;
        }
    }

    void record(IoType type, IoStatus status, long bytes, long latency) {
        if (status != IoStatus.SUCCESS) {
            ioErrors++;
            errorsByStatus[status.ordinal()]++;
            return;
        }
        switch (type) {
            case READ -> {
                bytesRead += bytes;
                numReadOps++;
                readLatencySum += latency;
                readLatencyMin = Math.min(readLatencyMin, latency);
                readLatencyMax = Math.max(readLatencyMax, latency);
            }
            case WRITE -> {
                bytesWritten += bytes;
                numWriteOps++;
                writeLatencySum += latency;
                writeLatencyMin = Math.min(writeLatencyMin, latency);
                writeLatencyMax = Math.max(writeLatencyMax, latency);
            }
            case UNMAP -> {
                bytesUnmapped += bytes;
                numUnmapOps++;
                unmapLatencySum += latency;
                unmapLatencyMin = Math.min(unmapLatencyMin, latency);
                unmapLatencyMax = Math.max(unmapLatencyMax, latency);
            }
            default -> {
            }
        }
    }

    void add(IoStats o) {
        bytesRead += o.bytesRead;
        numReadOps += o.numReadOps;
        bytesWritten += o.bytesWritten;
        numWriteOps += o.numWriteOps;
        bytesUnmapped += o.bytesUnmapped;
        numUnmapOps += o.numUnmapOps;
        readLatencySum += o.readLatencySum;
        readLatencyMin = Math.min(readLatencyMin, o.readLatencyMin);
        readLatencyMax = Math.max(readLatencyMax, o.readLatencyMax);
        writeLatencySum += o.writeLatencySum;
        writeLatencyMin = Math.min(writeLatencyMin, o.writeLatencyMin);
        writeLatencyMax = Math.max(writeLatencyMax, o.writeLatencyMax);
        unmapLatencySum += o.unmapLatencySum;
        unmapLatencyMin = Math.min(unmapLatencyMin, o.unmapLatencyMin);
        unmapLatencyMax = Math.max(unmapLatencyMax, o.unmapLatencyMax);
        ioErrors += o.ioErrors;
        for (int i = 0; i < errorsByStatus.length; i++) {
            errorsByStatus[i] += o.errorsByStatus[i];
        }
    }

    void reset(ResetMode mode) {
        switch (mode) {
            case ALL -> {
                bytesRead = numReadOps = bytesWritten = numWriteOps = bytesUnmapped = numUnmapOps = 0;
                readLatencySum = writeLatencySum = unmapLatencySum = 0;
                resetMaxMin();
                resetErrors();
            }
            case MAXMIN -> resetMaxMin();
            case ERROR -> resetErrors();
            case NONE -> {
            }
            default -> throw new IllegalArgumentException(String.valueOf(mode));
        }
    }

    private void resetMaxMin() {
        readLatencyMin = writeLatencyMin = unmapLatencyMin = Long.MAX_VALUE;
        readLatencyMax = writeLatencyMax = unmapLatencyMax = 0;
    }

    private void resetErrors() {
        ioErrors = 0;
        java.util.Arrays.fill(errorsByStatus, 0);
    }

    /** A copy. */
    public IoStats copy() {
        IoStats c = new IoStats();
        c.add(this);
        return c;
    }

    /** Bytes read. */
    public long bytesRead() {
        return bytesRead;
    }

    /** Read operations. */
    public long numReadOps() {
        return numReadOps;
    }

    /** Bytes written by WRITE I/O (an emulated write_zeroes's writes included, a native one not: SPDK's rule). */
    public long bytesWritten() {
        return bytesWritten;
    }

    /** Write operations. */
    public long numWriteOps() {
        return numWriteOps;
    }

    /** Bytes unmapped. */
    public long bytesUnmapped() {
        return bytesUnmapped;
    }

    /** Unmap operations. */
    public long numUnmapOps() {
        return numUnmapOps;
    }

    /** Sum of read latencies, ns. */
    public long readLatencySum() {
        return readLatencySum;
    }

    /** Max read latency, ns (0 when none). */
    public long readLatencyMax() {
        return readLatencyMax;
    }

    /** Min read latency, ns (0 when none). */
    public long readLatencyMin() {
        return numReadOps == 0 ? 0 : readLatencyMin;
    }

    /** Sum of write latencies, ns. */
    public long writeLatencySum() {
        return writeLatencySum;
    }

    /** Min write latency, ns (0 when none). */
    public long writeLatencyMin() {
        return writeLatencyMin == Long.MAX_VALUE ? 0 : writeLatencyMin;
    }

    /** Max write latency, ns (0 when none). */
    public long writeLatencyMax() {
        return writeLatencyMax;
    }

    /** Sum of unmap latencies, ns. */
    public long unmapLatencySum() {
        return unmapLatencySum;
    }

    /** Min unmap latency, ns (0 when none). */
    public long unmapLatencyMin() {
        return unmapLatencyMin == Long.MAX_VALUE ? 0 : unmapLatencyMin;
    }

    /** Max unmap latency, ns (0 when none). */
    public long unmapLatencyMax() {
        return unmapLatencyMax;
    }

    /** I/O completed with a status other than SUCCESS. */
    public long ioErrors() {
        return ioErrors;
    }

    /** I/O completed with {@code status} (0 for SUCCESS, which is not counted here). */
    public long errors(IoStatus status) {
        return errorsByStatus[status.ordinal()];
    }

    /**
     * These counters as SPDK's {@code spdk_bdev_dump_io_stat_json} writes them into {@code o}: bytes and
     * operations per type, latencies in ticks (Spindle's ticks are nanoseconds), and {@code io_error} with a
     * count per failed status.
     */
    public void writeJson(com.fasterxml.jackson.databind.node.ObjectNode o) {
        o.put("bytes_read", bytesRead);
        o.put("num_read_ops", numReadOps);
        o.put("bytes_written", bytesWritten);
        o.put("num_write_ops", numWriteOps);
        o.put("bytes_unmapped", bytesUnmapped);
        o.put("num_unmap_ops", numUnmapOps);
        o.put("bytes_copied", 0L);
        o.put("num_copy_ops", 0L);
        o.put("read_latency_ticks", readLatencySum);
        o.put("max_read_latency_ticks", readLatencyMax);
        o.put("min_read_latency_ticks", readLatencyMin == Long.MAX_VALUE ? 0 : readLatencyMin);
        o.put("write_latency_ticks", writeLatencySum);
        o.put("max_write_latency_ticks", writeLatencyMax);
        o.put("min_write_latency_ticks", writeLatencyMin());
        o.put("unmap_latency_ticks", unmapLatencySum);
        o.put("max_unmap_latency_ticks", unmapLatencyMax);
        o.put("min_unmap_latency_ticks", unmapLatencyMin());
        o.put("copy_latency_ticks", 0L);
        o.put("max_copy_latency_ticks", 0L);
        o.put("min_copy_latency_ticks", 0L);
        com.fasterxml.jackson.databind.node.ObjectNode e = o.putObject("io_error");
        for (IoStatus st : IoStatus.values()) {
            if (errorsByStatus[st.ordinal()] != 0) {
                e.put(st.name().toLowerCase(java.util.Locale.ROOT), errorsByStatus[st.ordinal()]);
            }
        }
    }
}
