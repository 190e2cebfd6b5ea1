package io.spindle.examples.bdevperf;

import io.spindle.examples.bdevperf.BdevPerfOptions.Workload;

/**
 * What one job runs, from the command line or from a section of a {@code -j} job file (SPDK's
 * {@code struct job_config}): its workload, depth, I/O size and read percentage, the LBA range it covers and the
 * core mask it was given.
 *
 * @param name         the job's name (the bdev's, or the job file section's)
 * @param workload     {@code rw=} / {@code -w}
 * @param queueDepth   {@code iodepth=} / {@code -q}
 * @param ioSize       {@code bs=} / {@code -o}, bytes
 * @param rwMixRead    {@code rwmixread=} / {@code -M}, 0..100
 * @param offsetBlocks {@code offset=}, in blocks (SPDK divides it by the blocks per I/O)
 * @param lengthBlocks {@code length=}, in blocks; 0 = to the end of the bdev
 * @param cpumask      the job file's {@code cpumask=} as written (null: one core chosen round-robin)
 */
record JobParams(String name, Workload workload, int queueDepth, long ioSize, int rwMixRead, long offsetBlocks, long lengthBlocks,
                 String cpumask) {
    /** The command line's parameters for a job on {@code bdev}'s whole range. */
    static JobParams of(BdevPerfOptions o, String bdev) {
        return new JobParams(bdev, o.workload(), o.queueDepth(), o.ioSize(), o.rwMixRead(), 0, 0, null);
    }

    /** A copy for an LBA range (with {@code -C}, a core's share). */
    JobParams range(long offset, long length) {
        return new JobParams(name, workload, queueDepth, ioSize, rwMixRead, offset, length, cpumask);
    }
}
