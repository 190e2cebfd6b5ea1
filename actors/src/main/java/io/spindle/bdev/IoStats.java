package io.spindle.bdev;

/**
 * I/O statistics of a channel or a bdev: SPDK's {@code spdk_bdev_io_stat}. Latencies are in nanoseconds.
 * A channel's counters are written on its reactor only; a bdev's merged counters are guarded by the bdev.
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

    void record(IoType type, IoStatus status, long bytes, long latency) {
        if (status != IoStatus.SUCCESS) {
            ioErrors++;
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
            case WRITE, WRITE_ZEROES -> {
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

    /** Bytes written (write_zeroes included). */
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

    /** I/O completed with a status other than SUCCESS. */
    public long ioErrors() {
        return ioErrors;
    }
}
