package io.spindle.examples.bdevperf;

import org.HdrHistogram.Histogram;

/**
 * The counters of one unit of a run (a job, an actor requester, a facade job's part on one reactor): written by
 * the one thread that runs the unit and read only there (by a task or message that runs on that thread), so they
 * are plain fields. Recording allocates nothing.
 *
 * <p>Time: {@link #startNanos} is the run's common start, taken once by bdevperf's main thread before any unit
 * starts (SPDK's {@code g_start_tsc}), so the runtimes of all units agree; {@link #endNanos} is set when the unit
 * stops submitting.
 */
final class JobCounters {
    long ios;
    long failed;
    long timedOut;
    long latSum;
    long latMin = Long.MAX_VALUE;
    long latMax;
    final Histogram latency = BdevPerfJob.newHistogram();
    /** The run's common start (System.nanoTime), the same for every unit. */
    long startNanos;
    long endNanos;
    /** The unit's thread's allocated bytes at its start and at its end; -1 when not measured. */
    long allocStart = -1;
    long allocEnd = -1;

    /** One finished I/O with its latency. */
    void record(long lat, boolean ok) {
        latency.recordValue(Math.min(lat, BdevPerfJob.HISTOGRAM_MAX_NANOS));
        latSum += lat;
        if (lat < latMin) {
            latMin = lat;
        }
        if (lat > latMax) {
            latMax = lat;
        }
        if (ok) {
            ios++;
        } else {
            failed++;
        }
    }

    /** Completed I/O, successful or failed. */
    long completed() {
        return ios + failed;
    }

    /** Copies the counters into {@code v} (9 longs, see {@link BdevPerfJob#snapshotOf}); allocates nothing. */
    void copyTo(long[] v, long ioSize, boolean measureAlloc) {
        long end = endNanos != 0 ? endNanos : System.nanoTime();
        v[0] = ios;
        v[1] = ios * ioSize;
        v[2] = failed;
        v[3] = timedOut;
        v[4] = latSum;
        v[5] = latMin == Long.MAX_VALUE ? 0 : latMin;
        v[6] = latMax;
        v[7] = startNanos == 0 ? 0 : end - startNanos;
        v[8] = !measureAlloc || allocStart < 0 ? -1 : (allocEnd >= 0 ? allocEnd : BdevPerfJob.allocatedOnThisThread()) - allocStart;
    }

    /** The final snapshot, with a copy of the histogram. */
    BdevPerfJob.Snapshot finalSnapshot(long ioSize, boolean measureAlloc) {
        long[] v = new long[9];
        copyTo(v, ioSize, measureAlloc);
        return new BdevPerfJob.Snapshot(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], latency.copy());
    }
}
