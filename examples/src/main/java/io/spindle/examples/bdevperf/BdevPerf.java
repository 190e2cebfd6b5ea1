package io.spindle.examples.bdevperf;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleConfig;
import io.spindle.app.SpindleStartException;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.examples.bdevperf.BdevPerfOptions.UsageException;
import io.spindle.rpc.JsonConfig;
import io.spindle.runtime.CoreMask;
import io.spindle.runtime.ReactorConfig;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * bdevperf: SPDK's {@code examples/bdev/bdevperf}, Spindle's main job. Starts Spindle on the core mask,
 * creates the bdevs (an embedded {@code Malloc0} of 256 MiB with 4096-byte blocks, or those of a
 * {@code --json} config), places one job per leaf bdev on the reactors round-robin (or, with {@code -C}, a
 * job per reactor on every bdev), runs them for {@code -t} seconds and prints SPDK's table.
 *
 * <p>Exit status: 0 when every job finished without a failed I/O or miscompare (unless {@code -f}), 1 when
 * one failed, 2 on a bad command line. SIGINT/SIGTERM drain the jobs (status {@code terminated}), print the
 * table, then stop Spindle.
 *
 * <p>Threads: the main thread starts, samples and reports; each job runs on its reactor (see
 * {@link BdevPerfJob}); nothing on the I/O path goes through an actor mailbox or allocates. The exceptions
 * are there to measure the actor API: {@code --api actor} ({@link BdevPerfActorJob}: requester actors and
 * a {@code BdevServer}'s shards) and {@code --api facade} ({@link BdevPerfFacadeJob}: CompletionStages).
 */
public final class BdevPerf {
    /** The embedded default bdev: SPDK's test setups' Malloc0. */
    public static final String DEFAULT_BDEV = "Malloc0";
    /** 256 MiB. */
    public static final long DEFAULT_BDEV_BYTES = 256L << 20;
    /** Block size of the default bdev. */
    public static final int DEFAULT_BLOCK_SIZE = 4096;

    private final BdevPerfOptions opts;
    private final PrintStream out;
    private final List<BdevPerfJob> jobs = new ArrayList<>();
    private Spindle spindleRef;
    private final AtomicBoolean reported = new AtomicBoolean();
    private final CompletableFuture<String> runEnd = new CompletableFuture<>();
    /** Per reactor {allocated bytes, completed I/O} at the start and the end of the steady-state window, or null. */
    private volatile long[][] steadyMark;
    private volatile long[][] endMark;
    private long steadyMarkNanos;
    private long jitAtSteady;
    private long jitAtEnd;

    /** Whether the steady-state allocation window has been measured to its end (test hook; any thread). */
    boolean steadyWindowClosed() {
        return endMark != null;
    }

    /** Milliseconds the JIT compilers have spent so far, or -1 when the JVM does not tell. */
    static long jitMillis() {
        java.lang.management.CompilationMXBean c = java.lang.management.ManagementFactory.getCompilationMXBean();
        return c != null && c.isCompilationTimeMonitoringSupported() ? c.getTotalCompilationTime() : -1;
    }
    /** The run's exit status, completed by the main thread once it has reported. */
    final CompletableFuture<Integer> exitCode = new CompletableFuture<>();
    /** Test hook: runs on a separate thread once the jobs started. */
    java.util.function.Consumer<Spindle> duringRun;

    BdevPerf(BdevPerfOptions opts, PrintStream out) {
        this.opts = opts;
        this.out = out;
    }

    /** Command-line entry point: {@code spindle bdevperf ...}. */
    public static void main(String[] args) {
        org.slf4j.LoggerFactory.getILoggerFactory(); // initialise logging before Pekko's threads log concurrently
        System.exit(run(args, System.out, System.err, true));
    }

    /** Runs bdevperf; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out, err, false);
    }

    /**
     * Runs bdevperf; with {@code signals} (the command line), SIGINT and SIGTERM drain the jobs instead of
     * shutting the JVM down, so a clean drain exits with the run's status (0 when nothing failed), as SPDK's.
     */
    static int run(String[] args, PrintStream out, PrintStream err, boolean signals) {
        BdevPerfOptions o;
        try {
            o = BdevPerfOptions.parse(args);
        } catch (UsageException e) {
            err.println("bdevperf: " + e.getMessage());
            return 2;
        }
        if (o.help()) {
            out.println(BdevPerfOptions.usage());
            return 0;
        }
        try {
            BdevPerf perf = new BdevPerf(o, out);
            if (signals) {
                for (String sig : new String[] {"INT", "TERM"}) {
                    io.spindle.examples.Signals.onSignal(sig, () -> perf.runEnd.complete("terminated"));
                }
            }
            return perf.execute();
        } catch (UsageException e) {
            err.println("bdevperf: " + e.getMessage());
            return 2;
        } catch (SpindleStartException e) {
            err.println("bdevperf: start failed: " + e.getMessage());
            return 1;
        } catch (Exception e) {
            err.println("bdevperf: " + e);
            return 1;
        }
    }

    /** A run in progress, as {@link #runOn} hands it to its {@code duringRun}. */
    @FunctionalInterface
    public interface Run {
        /** Ends the run now, as its time running out does: the jobs drain and the table is printed. Any thread. */
        void stop();
    }

    /**
     * Runs bdevperf's jobs on a Spindle that is already running (an embedded node, e.g. the cluster demo's node 1),
     * with the command line's job options ({@code -q -o -w -t -T -M -f -C ...}; {@code -m} names at most as many
     * cores as the Spindle has reactors; without it the jobs go on reactor 0). The Spindle keeps running; the bdevs
     * are its leaf bdevs, or {@code -T}'s. {@code duringRun}, when not null, runs on its own thread once the jobs have
     * started, with a {@link Run} that ends the run early. The table goes to {@code out}.
     *
     * @return bdevperf's exit status: 0 when no job failed
     * @throws IllegalArgumentException for a bad command line or target (the message says which)
     */
    public static int runOn(Spindle spindle, String[] args, PrintStream out, java.util.function.Consumer<Run> duringRun) throws Exception {
        BdevPerfOptions o;
        try {
            o = BdevPerfOptions.parse(args);
        } catch (UsageException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        if (o.mask().size() > spindle.reactors().size()) {
            throw new IllegalArgumentException("-m " + o.mask() + ": more cores than the Spindle's " + spindle.reactors().size() + " reactor(s)");
        }
        BdevPerf perf = new BdevPerf(o, out);
        perf.spindleRef = spindle;
        if (duringRun != null) {
            perf.duringRun = sp -> duringRun.accept(() -> perf.runEnd.complete("finished"));
        }
        try {
            BdevLayer layer = BdevLayer.of(spindle);
            List<Bdev> targets = perf.targets(layer);
            perf.checkIoSize(targets, o.mask().size());
            perf.place(targets, spindle.reactors(), layer, o.mask().size());
        } catch (UsageException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        return perf.runJobs();
    }

    int execute() throws Exception {
        BdevSubsystem bdevs = new BdevSubsystem();
        if (opts.jsonConfig() == null) {
            bdevs.onStart(layer -> layer.module(MallocModule.class).create(layer,
                    MallocModule.Options.of(DEFAULT_BDEV, DEFAULT_BDEV_BYTES / DEFAULT_BLOCK_SIZE, DEFAULT_BLOCK_SIZE)));
        }
        int coreCount = opts.mask().size();
        // enough pooled I/O per reactor for every job's queue (with -C each reactor runs a job per bdev)
        int pool = Math.max(1024, opts.queueDepth() * 4 + 64);
        Config hocon = ConfigFactory.parseString("spindle.bdev.io-pool-size = " + pool + "\npekko.loglevel = WARNING\n"
                + "pekko.stdout-loglevel = WARNING\n"
                // the drain task returns a stage (drainTask): its phase waits for the report, not a thread
                + "pekko.coordinated-shutdown.phases.before-service-unbind.timeout = " + (DRAIN_WAIT.toSeconds() + 5) + "s")
                .withFallback(ConfigFactory.load());
        JsonConfig config = null;
        if (opts.jsonConfig() != null) {
            try {
                config = JsonConfig.read(opts.jsonConfig());
            } catch (JsonConfig.JsonConfigException e) {
                throw new UsageException("--json " + e.getMessage());
            }
        }
        // with a config, start as SPDK's app does: its startup entries (bdev_set_options) run before the
        // subsystems are initialised, the rest after
        SpindleConfig.Builder builder = SpindleConfig.builder(hocon).name("bdevperf");
        io.spindle.examples.Subsystems.addPlugins(builder.subsystem(bdevs)); // keyring, nvmf (bdev_nvme is a bdev module)
        Spindle spindle = Spindle.start(builder
                .reactor(ReactorConfig.builder().mask(opts.mask()).idle(opts.idle()).pin(opts.pin()).conclude())
                .waitForStartInit(config != null)
                .shutdownHandler(sp -> onSignal()) // spdk_kill_instance SIGINT/SIGTERM drains the jobs, as a signal does
                .rpc(opts.rpcSocket() == null ? null : io.spindle.rpc.RpcServerConfig.builder().socket(opts.rpcSocket()).conclude())
                .conclude());
        if (spindle.rpcSocketPath() != null) {
            out.println("RPC server listening on " + spindle.rpcSocketPath() + " (spindle rpc -s " + spindle.rpcSocketPath() + " ...)");
        }
        try {
            spindleRef = spindle;
            if (config != null) {
                try {
                    config.apply(spindle, true);
                } catch (JsonConfig.JsonConfigException e) {
                    throw new UsageException("--json " + e.getMessage());
                }
            }
            BdevLayer layer = BdevLayer.of(spindle);
            List<Bdev> targets = targets(layer);
            checkIoSize(targets, coreCount);
            if (opts.api() == BdevPerfOptions.Api.ACTOR) {
                return runActorJobs(targets, spindle);
            }
            if (opts.api() == BdevPerfOptions.Api.FACADE) {
                return runFacadeJobs(targets, spindle);
            }
            ReactorGroup reactors = spindle.reactors();
            place(targets, reactors, layer, coreCount);
            CoordinatedShutdown.get(spindle.system()).addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "bdevperf-drain",
                    this::drainTask);
            return runJobs();
        } finally {
            spindle.stopAndWait();
        }
    }

    private List<Bdev> targets(BdevLayer layer) {
        if (opts.target() != null) {
            Bdev b = layer.get(opts.target());
            if (b == null) {
                throw new UsageException("-T " + opts.target() + ": no such bdev (have: " + names(layer.bdevs()) + ")");
            }
            return List.of(b);
        }
        List<Bdev> leaves = layer.leafBdevs();
        if (leaves.isEmpty()) {
            throw new UsageException("no bdevs to run on" + (opts.jsonConfig() != null ? " in " + opts.jsonConfig() : "")
                    + " (every bdev is claimed, or none was created)");
        }
        return leaves;
    }

    /**
     * -o against every target before any job starts: a multiple of the block size, and no larger than a job's
     * range (the bdev, or its share with -C). One clear line naming -o and the bound; exit 2 as other bad values.
     */
    private void checkIoSize(List<Bdev> targets, int coreCount) {
        long io = opts.ioSize();
        for (Bdev b : targets) {
            if (io % b.blockSize() != 0) {
                throw new UsageException("-o " + io + ": the I/O size must be a multiple of " + b.name() + "'s block size "
                        + b.blockSize());
            }
            long range = (opts.everyCoreEveryBdev() ? b.numBlocks() / coreCount : b.numBlocks()) * b.blockSize();
            if (io > range) {
                throw new UsageException("-o " + io + ": larger than the job's range of " + range + " bytes on " + b.name()
                        + (opts.everyCoreEveryBdev() ? " (its share with -C over " + coreCount + " cores)" : ""));
            }
        }
    }

    private static String names(List<Bdev> bs) {
        StringBuilder b = new StringBuilder();
        for (Bdev x : bs) {
            b.append(b.length() == 0 ? "" : ", ").append(x.name());
        }
        return b.length() == 0 ? "none" : b.toString();
    }

    /** SPDK's placement: jobs round-robin over the reactors, or with -C one job per reactor on every bdev. */
    private void place(List<Bdev> targets, ReactorGroup reactors, BdevLayer layer, int coreCount) {
        CoreMask mask = opts.mask();
        long seed = 0x5DEECE66DL;
        if (opts.everyCoreEveryBdev()) {
            for (Bdev b : targets) {
                long per = b.numBlocks() / coreCount;
                for (int i = 0; i < coreCount; i++) {
                    BdevPerfJob j = new BdevPerfJob(b.name(), reactors.reactor(i), mask.core(i), opts, layer, out, seed += 0x9E3779B97F4A7C15L);
                    j.rangeStart = per * i;
                    j.rangeBlocks = i == coreCount - 1 ? b.numBlocks() - per * i : per;
                    jobs.add(j);
                }
            }
        } else {
            int next = 0;
            for (Bdev b : targets) {
                int i = next++ % coreCount;
                jobs.add(new BdevPerfJob(b.name(), reactors.reactor(i), mask.core(i), opts, layer, out, seed += 0x9E3779B97F4A7C15L));
            }
        }
    }

    private int runJobs() throws Exception {
        out.println("Running I/O for " + opts.timeSeconds() + " seconds...");
        out.flush();
        for (BdevPerfJob j : jobs) {
            j.start();
        }
        for (BdevPerfJob j : jobs) {
            try {
                j.started().get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                out.println("Job " + j.name + " failed to start: " + e.getCause().getMessage());
            }
        }
        startTestHook();
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(opts.timeSeconds());
        long periodNanos = TimeUnit.SECONDS.toNanos(opts.periodSeconds() > 0 ? opts.periodSeconds() : 1);
        long nextReport = start + periodNanos;
        long steadyAt = start + warmupNanos(opts.timeSeconds());
        BdevPerfJob.Snapshot[] last = new BdevPerfJob.Snapshot[jobs.size()];
        String why = null;
        while (why == null) {
            long now = System.nanoTime();
            if (steadyMark == null && now >= steadyAt && now < end) {
                steadyMark = markReactors(); // the start of the steady-state allocation window
                steadyMarkNanos = System.nanoTime() - start;
                jitAtSteady = jitMillis();
            }
            if (now >= end) {
                why = "finished";
                break;
            }
            if (allDone()) {
                why = "finished";
                break;
            }
            try {
                long wake = Math.min(end, nextReport);
                if (steadyMark == null) {
                    wake = Math.min(wake, steadyAt);
                }
                why = runEnd.get(Math.max(1, wake - now), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                if (System.nanoTime() >= nextReport && System.nanoTime() < end) {
                    progress(last, periodNanos);
                    nextReport += periodNanos;
                }
            }
        }
        if (steadyMark != null) {
            endMark = markReactors(); // the end of the window: before the drain, whose teardown is not steady state
            jitAtEnd = jitMillis();
        }
        return finishRun(why);
    }

    /** The warm-up before the steady-state allocation window: half of {@code -t}, at most 5 s (the JIT settles first). */
    static long warmupNanos(int seconds) {
        return Math.min(TimeUnit.SECONDS.toNanos(seconds) / 2, TimeUnit.SECONDS.toNanos(5));
    }

    /**
     * For each reactor that runs jobs, in one task on it: the bytes its thread has allocated, then the I/O its jobs
     * have completed. Nothing is allocated on the reactor (the tasks, the arrays and the latch are made here), so a
     * window between two marks counts only the jobs' and the runtime's own allocation. Null when a reactor did not
     * answer (it exited).
     */
    private long[][] markReactors() throws InterruptedException {
        List<Reactor> rs = new ArrayList<>();
        for (BdevPerfJob j : jobs) {
            if (!rs.contains(j.reactor())) {
                rs.add(j.reactor());
            }
        }
        long[][] m = new long[rs.size()][2];
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(rs.size());
        for (int i = 0; i < rs.size(); i++) {
            Reactor r = rs.get(i);
            BdevPerfJob[] on = jobs.stream().filter(j -> j.reactor() == r).toArray(BdevPerfJob[]::new);
            long[] slot = m[i];
            try {
                r.send(() -> {
                    slot[0] = BdevPerfJob.allocatedOnThisThread();
                    long n = 0;
                    for (int k = 0; k < on.length; k++) {
                        n += on[k].completedIos();
                    }
                    slot[1] = n;
                    done.countDown();
                });
            } catch (RuntimeException e) {
                return null;
            }
        }
        return done.await(10, TimeUnit.SECONDS) ? m : null;
    }

    private void startTestHook() {
        if (duringRun != null) {
            Spindle sp = spindleRef;
            Thread t = new Thread(() -> duringRun.accept(sp), "bdevperf-test-hook");
            t.setDaemon(true);
            t.start();
        }
    }

    private boolean allDone() {
        for (BdevPerfJob j : jobs) {
            if (!j.done().isDone()) {
                return false;
            }
        }
        return true;
    }

    /**
     * SIGINT/SIGTERM through Spindle's shutdown handler (its own {@code spindle-shutdown} thread, which may wait):
     * drain, report, and let the stop go on.
     */
    private void onSignal() {
        try {
            drainTask().toCompletableFuture().get(DRAIN_WAIT.toSeconds() + 5, TimeUnit.SECONDS);
        } catch (Exception e) {
            // reporting is best effort during shutdown
        }
    }

    /** How long a shutdown waits for the main thread to drain the jobs and print the table. */
    static final java.time.Duration DRAIN_WAIT = java.time.Duration.ofSeconds(30);

    /**
     * The CoordinatedShutdown task (before-service-unbind): ends the run if it is still going, and returns at once
     * a stage that completes when the main thread has drained the jobs and reported (at most {@link #DRAIN_WAIT}), so no
     * CoordinatedShutdown thread waits meanwhile. The phase's timeout is set to cover the wait, so Spindle's stop
     * (service-stop, a later phase) still comes after the report.
     */
    java.util.concurrent.CompletionStage<Done> drainTask() {
        if (!runEnd.complete("terminated")) {
            return CompletableFuture.completedFuture(Done.getInstance()); // the run had ended already: nothing to drain
        }
        return exitCode.copy().orTimeout(DRAIN_WAIT.toMillis(), TimeUnit.MILLISECONDS).handle((rc, e) -> Done.getInstance());
    }

    private int finishRun(String status) throws Exception {
        for (BdevPerfJob j : jobs) {
            j.drain(status);
        }
        List<BdevPerfJob.Result> results = new ArrayList<>();
        for (BdevPerfJob j : jobs) {
            results.add(j.done().get(60, TimeUnit.SECONDS));
        }
        int rc = report(results);
        exitCode.complete(rc);
        return rc;
    }

    /** {bytes, I/O} between the steady mark and the end mark, summed over the reactors; null without both. */
    private long[] steadyWindow() {
        long[][] a = steadyMark;
        long[][] b = endMark;
        if (a == null || b == null) {
            return null;
        }
        long bytes = 0;
        long n = 0;
        for (int i = 0; i < a.length; i++) {
            bytes += b[i][0] - a[i][0];
            n += b[i][1] - a[i][1];
        }
        return new long[] {bytes, n};
    }

    /** Bytes allocated on the reactor threads per I/O in the steady-state window, or -1 when there was none. */
    private double steadyAllocPerIo() {
        long[] w = steadyWindow();
        if (w == null || w[1] <= 0) {
            return -1;
        }
        return (double) w[0] / w[1];
    }

    private void progress(BdevPerfJob.Snapshot[] last, long periodNanos) {
        long ios = 0;
        double iops = 0;
        List<BdevPerfJob.Snapshot> now = new ArrayList<>();
        for (int i = 0; i < jobs.size(); i++) {
            BdevPerfJob.Snapshot s;
            try {
                s = BdevPerfJob.snapshotOf(jobs.get(i).counters().get(5, TimeUnit.SECONDS));
            } catch (Exception e) {
                continue;
            }
            now.add(s);
            BdevPerfJob.Snapshot prev = last[i];
            long dIos = s.ios() - (prev == null ? 0 : prev.ios());
            long dt = s.elapsedNanos() - (prev == null ? 0 : prev.elapsedNanos());
            if (dt > 0) {
                iops += dIos * 1e9 / dt;
            }
            ios += s.ios();
            last[i] = s;
        }
        if (opts.periodSeconds() > 0) {
            table(now, false);
        } else {
            out.printf(Locale.ROOT, "%10.2f IOPS, %8.2f MiB/s%n", iops, iops * opts.ioSize() / (1 << 20));
        }
        out.flush();
    }

    private int report(List<BdevPerfJob.Result> results) {
        if (!reported.compareAndSet(false, true)) {
            return 0;
        }
        List<BdevPerfJob.Snapshot> snaps = new ArrayList<>();
        for (BdevPerfJob.Result r : results) {
            snaps.add(r.counters());
        }
        List<Row> rows = table(snaps, true);
        writeOutputs(rows);
        // allocation on the reactor threads while the jobs ran: each job measures its own thread, so a reactor
        // running several jobs is counted once per job; the figure is an upper bound
        long allocated = 0;
        long ios = 0;
        for (BdevPerfJob.Snapshot s : snaps) {
            allocated += s.reactorAllocatedBytes();
            ios += s.ios() + s.failed();
        }
        out.printf(Locale.ROOT, " Allocated on reactor threads: %.4f bytes per I/O (%d bytes over %d I/O, start-up included)%n",
                ios > 0 ? (double) allocated / ios : 0.0, allocated, ios);
        int rc = 0;
        double steady = steadyAllocPerIo();
        if (steady >= 0) {
            long[] w = steadyWindow();
            out.printf(Locale.ROOT, " Allocated on reactor threads in the steady state: %.4f bytes per I/O (%d bytes over %d I/O,"
                    + " after a %.2f s warm-up; the JIT compiled for %d ms in that window)%n", steady, w[0], w[1], steadyMarkNanos / 1e9,
                    jitAtEnd - jitAtSteady);
        } else {
            out.println(" Allocated on reactor threads in the steady state: not measured (the run ended during the warm-up)");
        }
        if (opts.maxAllocPerIo() >= 0) {
            if (steady < 0) {
                rc = 1;
                out.println("bdevperf: --max-alloc-per-io " + opts.maxAllocPerIo() + ": no steady-state window to check (the run"
                        + " ended during the warm-up of " + warmupNanos(opts.timeSeconds()) / 1_000_000 + " ms)");
            } else if (steady > opts.maxAllocPerIo()) {
                rc = 1;
                out.printf(Locale.ROOT, "bdevperf: --max-alloc-per-io %s: the reactor threads allocated %.4f bytes per I/O in the"
                        + " steady state, above the bound%n", opts.maxAllocPerIo(), steady);
            }
        }
        for (BdevPerfJob.Result r : results) {
            if ("failed".equals(r.status())) {
                rc = 1;
                out.println("Job " + r.job().name + " failed: " + r.error());
            } else if (r.counters().failed() > 0 && !opts.continueOnFailure() && opts.workload() != BdevPerfOptions.Workload.RESET) {
                rc = 1;
            }
        }
        out.flush();
        return rc;
    }

    /**
     * One line pair of the table: the job header and its counters; for {@code --json-out}, the job's core mask
     * ({@code 0x1}), its end status and its verify range (blocks; null unless verify/reset).
     */
    record Row(String header, String name, BdevPerfJob.Snapshot s, String coreMask, String status, long[] verifyRange) {
        Row(String header, String name, BdevPerfJob.Snapshot s) {
            this(header, name, s, null, "finished", null);
        }
    }

    private List<Row> table(List<BdevPerfJob.Snapshot> snaps, boolean withStatus) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < snaps.size() && i < jobs.size(); i++) {
            BdevPerfJob j = jobs.get(i);
            BdevPerfJob.Result r = withStatus ? j.done().getNow(null) : null;
            rows.add(new Row(j.header(), j.name, snaps.get(i), "0x" + Long.toHexString(1L << j.core),
                    r == null ? "running" : r.status(), opts.workload().verifies() ? new long[] {j.rangeStart, j.rangeBlocks} : null));
        }
        printTable(rows);
        if (withStatus) {
            for (int i = 0; i < jobs.size(); i++) {
                BdevPerfJob j = jobs.get(i);
                BdevPerfJob.Result r = j.done().getNow(null);
                if (r != null && !"finished".equals(r.status())) {
                    out.println(" Job " + j.name + " on core " + j.core + ": " + r.status() + (r.error() != null ? " (" + r.error() + ")" : ""));
                }
            }
        }
        return rows;
    }

    /** SPDK's table: a header, per job its line and row, then the Total row. */
    private void printTable(List<Row> rows) {
        out.printf(Locale.ROOT, "%n%98s%n", "Latency(us)");
        out.printf(Locale.ROOT, " %-28s: %10s %10s %10s %10s %8s %10s %10s %10s%n", "Device Information", "runtime(s)", "IOPS", "MiB/s",
                "Fail/s", "TO/s", "Average", "min", "max");
        double tIops = 0;
        double tMib = 0;
        double tFail = 0;
        double tTo = 0;
        long tLatSum = 0;
        long tCount = 0;
        long tMin = Long.MAX_VALUE;
        long tMax = 0;
        for (Row row : rows) {
            BdevPerfJob.Snapshot s = row.s();
            double sec = s.elapsedNanos() / 1e9;
            double iops = sec > 0 ? s.ios() / sec : 0;
            double mib = iops * opts.ioSize() / (1 << 20);
            double fail = sec > 0 ? s.failed() / sec : 0;
            double to = sec > 0 ? s.timedOut() / sec : 0;
            long count = s.ios() + s.failed();
            double avg = count > 0 ? s.latencySumNanos() / 1e3 / count : 0;
            out.println(row.header());
            out.printf(Locale.ROOT, "\t %-20s: %10.2f %10.2f %10.2f %10.2f %8.2f %10.2f %10.2f %10.2f%n", row.name(), sec, iops, mib, fail, to,
                    avg, s.latencyMinNanos() / 1e3, s.latencyMaxNanos() / 1e3);
            tIops += iops;
            tMib += mib;
            tFail += fail;
            tTo += to;
            tLatSum += s.latencySumNanos();
            tCount += count;
            if (count > 0) {
                tMin = Math.min(tMin, s.latencyMinNanos());
                tMax = Math.max(tMax, s.latencyMaxNanos());
            }
        }
        out.println(" " + "=".repeat(115));
        out.printf(Locale.ROOT, " %-28s: %10s %10.2f %10.2f %10.2f %8.2f %10.2f %10.2f %10.2f%n", "Total", "", tIops, tMib, tFail, tTo,
                tCount > 0 ? tLatSum / 1e3 / tCount : 0, tMin == Long.MAX_VALUE ? 0 : tMin / 1e3, tMax / 1e3);
        boolean any = false;
        for (Row row : rows) {
            any |= row.s().latency() != null && row.s().latency().getTotalCount() > 0;
        }
        if (any) {
            // not part of SPDK's table (tools parse that as it is): HdrHistogram percentiles of every I/O's latency
            out.printf(Locale.ROOT, "%n %-28s: %10s %10s %10s%n", "Latency percentiles (us)", "p50", "p99", "p99.9");
            for (Row row : rows) {
                org.HdrHistogram.Histogram h = row.s().latency();
                if (h != null && h.getTotalCount() > 0) {
                    out.printf(Locale.ROOT, "\t %-20s: %10.2f %10.2f %10.2f%n", row.name(), h.getValueAtPercentile(50) / 1e3,
                            h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3);
                }
            }
        }
    }

    /** {@code --json-out} and {@code --plot}, from the final rows; a failure to write is reported, not fatal. */
    private void writeOutputs(List<Row> rows) {
        if (opts.jsonOut() != null) {
            try {
                BdevPerfOutput.writeJson(opts, rows, opts.jsonOut());
                out.println(" Results written to " + opts.jsonOut());
            } catch (java.io.IOException | RuntimeException e) {
                out.println(" --json-out " + opts.jsonOut() + ": cannot write: " + e.getMessage());
            }
        }
        if (opts.plot() != null) {
            try {
                BdevPerfOutput.plot(opts, rows, opts.plot());
                out.println(" Latency percentile plot written to " + opts.plot());
            } catch (java.io.IOException | RuntimeException | LinkageError e) {
                out.println(" --plot " + opts.plot() + ": cannot draw: " + e);
            }
        }
    }

    /** {@code --api actor}: one job per target through the typed actor protocol, driven by requester actors. */
    private int runActorJobs(List<Bdev> targets, Spindle spindle) throws Exception {
        List<BdevPerfActorJob> aj = new ArrayList<>();
        for (Bdev b : targets) {
            aj.add(new BdevPerfActorJob(spindle, b, opts));
        }
        out.println("Running I/O for " + opts.timeSeconds() + " seconds... (--api actor: requester actors on "
                + (opts.actorOn() == BdevPerfActorJob.Placement.REACTOR ? "the reactors" : "Pekko's default dispatcher") + ", "
                + (opts.actorBatch() == 0 ? "one message per I/O" : "Submit batches of up to " + opts.actorBatch()) + ")");
        out.flush();
        for (BdevPerfActorJob j : aj) {
            j.start();
        }
        startTestHook();
        List<CompletableFuture<?>> ends = new ArrayList<>();
        ends.add(runEnd);
        for (BdevPerfActorJob j : aj) {
            ends.add(j.ended());
        }
        CompletableFuture<Object> anyEnd = CompletableFuture.anyOf(runEnd,
                CompletableFuture.allOf(ends.subList(1, ends.size()).toArray(new CompletableFuture<?>[0])));
        try {
            Object why = anyEnd.get(opts.timeSeconds(), TimeUnit.SECONDS);
            if (why instanceof String w) {
                out.println("run " + w);
            }
        } catch (TimeoutException e) {
            // the run time is over
        }
        List<Row> rows = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        long allocated = 0;
        long ios = 0;
        boolean measured = false;
        for (BdevPerfActorJob j : aj) {
            List<BdevPerfActorJob.Outcome> outcomes = j.drain();
            for (int i = 0; i < outcomes.size(); i++) {
                BdevPerfJob.Snapshot s = outcomes.get(i).counters();
                rows.add(new Row(j.headers().get(i), j.names().get(i), s));
                if (outcomes.get(i).terminated()) {
                    notes.add(" Job " + j.name + " (requester " + i + "): terminated (its shards stopped: the bdev was removed); "
                            + outcomes.get(i).dropped() + " I/O not run");
                }
                if (s.reactorAllocatedBytes() >= 0) {
                    measured = true;
                    allocated += s.reactorAllocatedBytes();
                    ios += s.ios() + s.failed();
                }
            }
        }
        printTable(rows);
        writeOutputs(rows);
        for (String n : notes) {
            out.println(n);
        }
        if (measured) {
            // the requesters run on the reactors: this is everything those threads allocated (shard, Pekko, requester)
            out.printf(Locale.ROOT, " Allocated on reactor threads: %.1f bytes per I/O (%d bytes over %d I/O; actor path, by design)%n",
                    ios > 0 ? (double) allocated / ios : 0.0, allocated, ios);
        }
        return finishSimple(rows);
    }

    /** {@code --api facade}: one job per target through BdevFacade's CompletionStages. */
    private int runFacadeJobs(List<Bdev> targets, Spindle spindle) throws Exception {
        List<BdevPerfFacadeJob> fj = new ArrayList<>();
        for (Bdev b : targets) {
            fj.add(new BdevPerfFacadeJob(spindle, b, opts));
        }
        out.println("Running I/O for " + opts.timeSeconds() + " seconds... (--api facade: CompletionStages through BdevServer)");
        out.flush();
        for (BdevPerfFacadeJob j : fj) {
            j.start();
        }
        awaitRunEnd();
        List<Row> rows = new ArrayList<>();
        for (BdevPerfFacadeJob j : fj) {
            rows.add(new Row(" Job: " + j.name + " (facade API, workload: " + opts.workload().flag() + ", depth: " + opts.queueDepth()
                    + ", IO size: " + opts.ioSize() + ")", j.name, j.drain()));
        }
        printTable(rows);
        writeOutputs(rows);
        return finishSimple(rows);
    }

    private void awaitRunEnd() throws Exception {
        try {
            String why = runEnd.get(opts.timeSeconds(), TimeUnit.SECONDS);
            out.println("run " + why);
        } catch (TimeoutException e) {
            // the run time is over
        }
    }

    private int finishSimple(List<Row> rows) {
        int rc = 0;
        for (Row r : rows) {
            if (r.s().failed() > 0 && !opts.continueOnFailure()) {
                rc = 1;
            }
        }
        exitCode.complete(rc);
        out.flush();
        return rc;
    }
}