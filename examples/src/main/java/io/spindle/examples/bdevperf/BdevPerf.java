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
    /** When the steady-state window ended, from the common start (the end mark's request). */
    private long endMarkNanos;
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
    /** Test hook: a bdev module to load besides ServiceLoader's (for {@link #testBdevs}). */
    io.spindle.bdev.spi.BdevModule testModule;
    /** Test hook: creates the bdevs instead of the embedded Malloc0 (and of --json). */
    java.util.function.Function<BdevLayer, java.util.concurrent.CompletionStage<?>> testBdevs;
    /** Test hook: runs on a separate thread once the jobs started. */
    java.util.function.Consumer<Spindle> duringRun;

    BdevPerf(BdevPerfOptions opts, PrintStream out) {
        this.opts = opts;
        this.out = out;
        this.current = opts;
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
            return perf.runOnce(o, null);
        } catch (UsageException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /**
     * With {@code --huge}: checks up front that huge pages can be had, so a run without them fails with one clear line
     * (exit 1) before anything starts, not with a subsystem's stack trace.
     *
     * @throws SpindleStartException naming the flag and why there are none
     */
    public static void requireHugePages(io.spindle.env.HugePages.Mode mode, Config hocon) {
        if (mode != io.spindle.env.HugePages.Mode.ON) {
            return;
        }
        String dir = hocon.hasPath("spindle.memory.huge-dir") ? hocon.getString("spindle.memory.huge-dir") : "";
        try {
            io.spindle.env.HugePages.process().configure(mode, dir.isEmpty() ? null : java.nio.file.Path.of(dir));
        } catch (IllegalStateException e) {
            throw new SpindleStartException("--huge: " + e.getMessage(), e);
        }
    }

    int execute() throws Exception {
        BdevSubsystem bdevs = new BdevSubsystem();
        if (testBdevs != null) {
            if (testModule != null) {
                bdevs.module(testModule);
            }
            bdevs.onStart(testBdevs);
        } else if (opts.jsonConfig() == null) {
            bdevs.onStart(layer -> layer.module(MallocModule.class).create(layer,
                    MallocModule.Options.of(DEFAULT_BDEV, DEFAULT_BDEV_BYTES / DEFAULT_BLOCK_SIZE, DEFAULT_BLOCK_SIZE)));
        }
        // -j is read and checked before anything starts, as SPDK's read_job_config
        List<JobFile.Section> jobFile = opts.jobFile() == null ? null : JobFile.read(opts.jobFile(), opts);
        if (jobFile != null) {
            out.println("Using job config with " + jobFile.size() + " jobs");
        }
        // enough pooled I/O per reactor for every job's queue (with -C each reactor runs a job per bdev)
        int depth = opts.queueDepth();
        if (jobFile != null) {
            for (JobFile.Section sec : jobFile) {
                depth = Math.max(depth, sec.params().queueDepth() * sec.filenames().size());
            }
        }
        int pool = Math.max(1024, depth * 4 + 64);
        Config hocon = ConfigFactory.parseString("spindle.bdev.io-pool-size = " + pool + "\npekko.loglevel = WARNING\n"
                + (opts.huge() != io.spindle.env.HugePages.Mode.AUTO ? "spindle.memory.huge-pages = " + opts.huge().name().toLowerCase(java.util.Locale.ROOT) + "\n" : "")
                + "pekko.stdout-loglevel = WARNING\n"
                // the drain task returns a stage (drainTask): its phase waits for the report, not a thread
                + "pekko.coordinated-shutdown.phases.before-service-unbind.timeout = " + (DRAIN_WAIT.toSeconds() + 5) + "s")
                .withFallback(ConfigFactory.load());
        requireHugePages(opts.huge(), hocon);
        JsonConfig config = null;
        if (opts.jsonConfig() != null) {
            try {
                config = JsonConfig.read(opts.jsonConfig());
            } catch (JsonConfig.JsonConfigException e) {
                throw new UsageException("--json " + e.getMessage());
            }
        }
        // -z: SPDK forces the RPC server on, at its default address unless -r names one
        java.nio.file.Path socket = opts.rpcSocket() != null ? opts.rpcSocket() : opts.waitForTests() ? SPDK_DEFAULT_RPC_SOCKET : null;
        // with a config, start as SPDK's app does: its startup entries (bdev_set_options) run before the
        // subsystems are initialised, the rest after
        SpindleConfig.Builder builder = SpindleConfig.builder(hocon).name("bdevperf");
        io.spindle.examples.Subsystems.addPlugins(builder.subsystem(bdevs)); // keyring, nvmf (bdev_nvme is a bdev module)
        if (opts.waitForTests()) {
            builder.subsystem(new PerformTests(this));
        }
        Spindle spindle = Spindle.start(builder
                .reactor(ReactorConfig.builder().mask(opts.mask()).idle(opts.idle()).pin(opts.pin()).conclude())
                .waitForStartInit(config != null)
                .shutdownHandler(sp -> onSignal()) // spdk_kill_instance SIGINT/SIGTERM drains the jobs, as a signal does
                .rpc(socket == null ? null : io.spindle.rpc.RpcServerConfig.builder().socket(socket).conclude())
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
            CoordinatedShutdown.get(spindle.system()).addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "bdevperf-drain",
                    this::drainTask);
            if (!opts.waitForTests()) {
                int rc = runOnce(opts, jobFile);
                exitCode.complete(rc);
                return rc;
            }
            return serveTests(jobFile);
        } finally {
            spindle.stopAndWait();
        }
    }

    /** Where {@code -z} listens without {@code -r}: SPDK's default RPC address, which bdevperf.py uses without {@code -s}. */
    static final java.nio.file.Path SPDK_DEFAULT_RPC_SOCKET = java.nio.file.Path.of("/var/tmp/spdk.sock");

    /** One perform_tests request, handed from the RPC dispatcher to the main thread. */
    record TestRequest(BdevPerfOptions opts, CompletableFuture<com.fasterxml.jackson.databind.JsonNode> result) {
    }

    private final java.util.concurrent.LinkedBlockingQueue<TestRequest> requests = new java.util.concurrent.LinkedBlockingQueue<>();
    private final java.util.concurrent.atomic.AtomicBoolean testRunning = new java.util.concurrent.atomic.AtomicBoolean();
    /** The options the next perform_tests starts from: the command line's, then each request's overrides, kept (as SPDK's globals). */
    private volatile BdevPerfOptions current;

    /**
     * {@code -z}: the main thread waits for perform_tests requests and runs each, answering with SPDK's result object; it
     * returns when a signal (or spdk_kill_instance) ends the wait, or after a run that failed, as SPDK's app stops then.
     */
    private int serveTests(List<JobFile.Section> jobFile) throws Exception {
        out.println("Waiting for the perform_tests RPC (bdevperf.py perform_tests [-q -o -t -M -w])...");
        out.flush();
        while (true) {
            TestRequest req = null;
            while (req == null) {
                if (runEnd.isDone()) {
                    exitCode.complete(0);
                    return 0;
                }
                req = requests.poll(100, TimeUnit.MILLISECONDS);
            }
            int rc;
            try {
                jobs.clear();
                reported.set(false);
                lastResults = null;
                rc = runOnce(req.opts(), jobFile);
            } catch (UsageException e) {
                out.println("bdevperf: " + e.getMessage());
                testRunning.set(false); // before the reply, as below
                req.result().completeExceptionally(new io.spindle.rpc.RpcException(io.spindle.rpc.RpcException.INVALID_PARAMS, e.getMessage()));
                continue;
            } catch (Exception e) {
                req.result().completeExceptionally(new io.spindle.rpc.RpcException(io.spindle.rpc.RpcException.INTERNAL_ERROR,
                        "bdevperf failed with error " + e.getMessage()));
                testRunning.set(false);
                exitCode.complete(1);
                return 1;
            }
            boolean terminated = runEnd.isDone();
            // idle again before the reply goes out: a client that sends its next perform_tests as soon as it has the
            // answer must not be told "Operation now in progress" (BdevPerfSpdkOptionsTest saw that race once)
            testRunning.set(false);
            if (rc == 0 || terminated) {
                req.result().complete(BdevPerfOutput.resultJson(lastResults, lastCoreCount));
            } else {
                req.result().completeExceptionally(new io.spindle.rpc.RpcException(io.spindle.rpc.RpcException.INTERNAL_ERROR,
                        "bdevperf failed with error Operation not permitted"));
            }
            if (rc != 0 || terminated) {
                exitCode.complete(rc);
                return rc;
            }
        }
    }

    /**
     * perform_tests, on the RPC dispatcher's thread: SPDK's {@code rpc_perform_tests}. Params (all optional, unknown keys
     * ignored as SPDK's relaxed decoder does): {@code time_in_sec}, {@code workload_type}, {@code queue_depth},
     * {@code io_size} (a string, suffixes allowed), {@code rw_percentage}; they override the command line's for this
     * and later runs. Errors as SPDK's: -32603 "Operation now in progress" while a test runs, -32700 "Invalid
     * parameters provided" (with the reason) for values that do not check.
     */
    java.util.concurrent.CompletionStage<?> performTests(io.spindle.rpc.spi.RpcCall call) throws io.spindle.rpc.RpcException {
        com.fasterxml.jackson.databind.JsonNode p = call.params().raw();
        if (!testRunning.compareAndSet(false, true)) {
            throw new io.spindle.rpc.RpcException(io.spindle.rpc.RpcException.INTERNAL_ERROR, "Operation now in progress");
        }
        BdevPerfOptions o;
        try {
            o = current.withRpcOverrides(intParam(p, "time_in_sec"), p != null && p.hasNonNull("workload_type") ? p.get("workload_type").asText() : null,
                    intParam(p, "queue_depth"), p != null && p.hasNonNull("io_size") ? p.get("io_size").asText() : null, intParam(p, "rw_percentage"));
        } catch (UsageException | io.spindle.rpc.RpcException e) {
            testRunning.set(false);
            throw new io.spindle.rpc.RpcException(io.spindle.rpc.RpcException.PARSE_ERROR, "Invalid parameters provided", e.getMessage());
        }
        current = o;
        CompletableFuture<com.fasterxml.jackson.databind.JsonNode> result = new CompletableFuture<>();
        requests.add(new TestRequest(o, result));
        return result;
    }

    private static Integer intParam(com.fasterxml.jackson.databind.JsonNode p, String key) throws io.spindle.rpc.RpcException {
        if (p == null || !p.hasNonNull(key)) {
            return null;
        }
        com.fasterxml.jackson.databind.JsonNode v = p.get(key);
        if (!v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new io.spindle.rpc.RpcException(io.spindle.rpc.RpcException.PARSE_ERROR, key + "=" + v + ": must be an integer");
        }
        return v.intValue();
    }

    /** The {@code bdevperf} subsystem of a {@code -z} run: it brings the perform_tests method. */
    static final class PerformTests implements io.spindle.app.Subsystem {
        private final BdevPerf perf;

        PerformTests(BdevPerf perf) {
            this.perf = perf;
        }

        @Override
        public String name() {
            return "bdevperf";
        }

        @Override
        public List<String> dependsOn() {
            return List.of("bdev");
        }

        @Override
        public java.util.concurrent.CompletionStage<Void> init(io.spindle.app.SubsystemContext context) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public java.util.concurrent.CompletionStage<Void> fini(io.spindle.app.SubsystemContext context) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public List<io.spindle.rpc.spi.RpcMethod> rpcMethods() {
            return List.of(io.spindle.rpc.spi.RpcMethod.runtime("perform_tests", perf::performTests));
        }
    }

    private volatile List<Row> lastResults;
    private volatile int lastCoreCount;

    /** One run of the jobs with {@code o}: builds them (command line or job file), runs, reports; the exit status. */
    private int runOnce(BdevPerfOptions o, List<JobFile.Section> jobFile) throws Exception {
        if (o.workload() == null && jobFile == null) {
            throw new UsageException("-w: missing; the workload is required (" + BdevPerfOptions.Workload.allowed() + ")");
        }
        Spindle spindle = spindleRef;
        BdevLayer layer = BdevLayer.of(spindle);
        List<BdevPerfUnit> units = new ArrayList<>();
        List<java.util.function.Supplier<java.util.concurrent.CompletionStage<?>>> closers = new ArrayList<>();
        int coreCount = o.mask().size();
        if (jobFile != null) {
            placeJobFile(o, jobFile, spindle.reactors(), layer, units);
        } else {
            List<Bdev> targets = targets(o, layer);
            checkIoSize(o, targets, coreCount);
            if (o.api() == BdevPerfOptions.Api.ACTOR) {
                for (Bdev b : targets) {
                    BdevPerfActorJob aj = new BdevPerfActorJob(spindle, b, o);
                    units.addAll(aj.units);
                    closers.add(() -> {
                        for (String n : aj.notes) {
                            notes.add(n);
                        }
                        return aj.close();
                    });
                }
            } else if (o.api() == BdevPerfOptions.Api.FACADE) {
                for (Bdev b : targets) {
                    BdevPerfFacadeJob fj = new BdevPerfFacadeJob(spindle, b, o, JobParams.of(o, b.name()).range(0, b.numBlocks()));
                    units.addAll(fj.parts);
                    closers.add(fj::close);
                }
            } else {
                place(o, targets, spindle.reactors(), layer, coreCount, units);
            }
        }
        String api = switch (o.api()) {
            case DIRECT -> "";
            case ACTOR -> " (--api actor: requester actors on " + (o.actorOn() == BdevPerfActorJob.Placement.REACTOR ? "the reactors"
                    : "Pekko's default dispatcher") + ", " + (o.actorBatch() == 0 ? "one message per I/O" : "Submit batches of up to " + o.actorBatch()
                    + (o.actorBuffers() == BdevPerfOptions.ActorBuffers.OWN ? ", its own buffers" : ", pooled buffers lent back")) + ")";
            case FACADE -> " (--api facade: BdevFacade " + (o.facadeCompletion() == BdevPerfOptions.FacadeCompletion.CALLBACK ? "callbacks"
                    : "CompletionStages") + " completed on the reactors)";
        };
        return runUnits(o, units, closers, api);
    }

    /** Lines printed after the table (e.g. actor requesters that ended early). */
    private final List<String> notes = new ArrayList<>();

    private List<Bdev> targets(BdevPerfOptions o, BdevLayer layer) {
        if (o.target() != null) {
            Bdev b = layer.get(o.target());
            if (b == null) {
                throw new UsageException("-T " + o.target() + ": no such bdev (have: " + names(layer.bdevs()) + ")");
            }
            return List.of(b);
        }
        List<Bdev> leaves = layer.leafBdevs();
        if (leaves.isEmpty()) {
            throw new UsageException("no bdevs to run on" + (o.jsonConfig() != null ? " in " + o.jsonConfig() : "")
                    + " (every bdev is claimed, or none was created)");
        }
        return leaves;
    }

    /**
     * -o against every target before any job starts: a multiple of the block size, and no larger than a job's
     * range (the bdev, or its share with -C). One clear line naming -o and the bound; exit 2 as other bad values.
     */
    private static void checkIoSize(BdevPerfOptions o, List<Bdev> targets, int coreCount) {
        long io = o.ioSize();
        for (Bdev b : targets) {
            if (io % b.blockSize() != 0) {
                throw new UsageException("-o " + io + ": the I/O size must be a multiple of " + b.name() + "'s block size "
                        + b.blockSize());
            }
            long range = (o.everyCoreEveryBdev() ? b.numBlocks() / coreCount : b.numBlocks()) * b.blockSize();
            if (io > range) {
                throw new UsageException("-o " + io + ": larger than the job's range of " + range + " bytes on " + b.name()
                        + (o.everyCoreEveryBdev() ? " (its share with -C over " + coreCount + " cores)" : ""));
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

    /**
     * SPDK's placement: jobs round-robin over the reactors, or with -C one job per reactor on every bdev. With
     * {@code -E} the jobs of a core share its thread, which in Spindle they always do: a reactor is SPDK's reactor and
     * its spdk_thread in one, so jobs placed on one core run on that one thread and share its channel of the bdev.
     */
    private void place(BdevPerfOptions o, List<Bdev> targets, ReactorGroup reactors, BdevLayer layer, int coreCount, List<BdevPerfUnit> units) {
        CoreMask mask = o.mask();
        long seed = 0x5DEECE66DL;
        if (o.everyCoreEveryBdev()) {
            for (Bdev b : targets) {
                long per = b.numBlocks() / coreCount;
                for (int i = 0; i < coreCount; i++) {
                    long len = i == coreCount - 1 ? b.numBlocks() - per * i : per;
                    JobParams p = JobParams.of(o, b.name()).range(per * i, len);
                    add(units, new BdevPerfJob(p, b.name(), reactors.reactor(i), mask.core(i), hex(mask.core(i)), o, layer, out,
                            seed += 0x9E3779B97F4A7C15L));
                }
            }
        } else {
            int next = 0;
            for (Bdev b : targets) {
                int i = next++ % coreCount;
                add(units, new BdevPerfJob(JobParams.of(o, b.name()), b.name(), reactors.reactor(i), mask.core(i), hex(mask.core(i)), o, layer,
                        out, seed += 0x9E3779B97F4A7C15L));
            }
        }
    }

    private void add(List<BdevPerfUnit> units, BdevPerfJob j) {
        units.add(j);
        jobs.add(j);
    }

    private static String hex(int core) {
        return "0x" + Long.toHexString(1L << core);
    }

    /**
     * {@code -j}: a job per bdev of each section, on a reactor of the section's cpumask (the next core of the app's
     * mask, round-robin, that is in it; every core when no cpumask), its Core Mask printed as configured, as SPDK
     * prints its job thread's mask.
     */
    private void placeJobFile(BdevPerfOptions o, List<JobFile.Section> sections, ReactorGroup reactors, BdevLayer layer,
                              List<BdevPerfUnit> units) {
        CoreMask app = o.mask();
        int next = 0;
        long seed = 0x5DEECE66DL;
        for (JobFile.Section sec : sections) {
            JobParams p = sec.params();
            java.util.Set<Integer> allowed = new java.util.HashSet<>();
            String shown;
            if (p.cpumask() == null) {
                for (int c : app.cores()) {
                    allowed.add(c);
                }
                shown = app.toHex();
            } else {
                CoreMask m = CoreMask.parse(p.cpumask());
                for (int c : m.cores()) {
                    allowed.add(c);
                }
                shown = m.toHex();
            }
            int idx = -1;
            for (int k = 0; k < app.size(); k++) {
                int cand = (next + k) % app.size();
                if (allowed.contains(app.core(cand))) {
                    idx = cand;
                    break;
                }
            }
            if (idx < 0) {
                throw new UsageException("-j " + o.jobFile() + ": job '" + p.name() + "' cpumask " + p.cpumask() + " has no core of -m " + app.toHex());
            }
            next = idx + 1;
            for (String bdev : sec.filenames()) {
                Bdev b = layer.get(bdev);
                if (b == null) {
                    throw new UsageException("-j " + o.jobFile() + ": job '" + p.name() + "': unable to find bdev '" + bdev + "' (have: "
                            + names(layer.bdevs()) + ")");
                }
                if (p.ioSize() % b.blockSize() != 0) {
                    throw new UsageException("-j " + o.jobFile() + ": job '" + p.name() + "' bs " + p.ioSize() + ": not a multiple of " + bdev
                            + "'s block size " + b.blockSize());
                }
                add(units, new BdevPerfJob(p, bdev, reactors.reactor(idx), app.core(idx), shown, o, layer, out, seed += 0x9E3779B97F4A7C15L));
            }
        }
    }

    /**
     * Runs {@code units} from one common start: prints the progress line (or with -S the table) every period, marks the
     * steady-state allocation window on the reactors, ends at -t (or a signal, or when every unit ended), drains,
     * closes what the APIs opened ({@code closers}) and reports.
     */
    private int runUnits(BdevPerfOptions o, List<BdevPerfUnit> units, List<java.util.function.Supplier<java.util.concurrent.CompletionStage<?>>> closers,
                         String api) throws Exception {
        this.units = units;
        this.run = o;
        steadyMark = null;
        endMark = null;
        // every unit set up (bdevs open, channels taken, buffers allocated) before the clock starts, as SPDK's jobs are
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        for (BdevPerfUnit u : units) {
            ready.add(u.prepare());
        }
        for (CompletableFuture<Void> f : ready) {
            f.get(30, TimeUnit.SECONDS); // a unit that failed reports it through started() below
        }
        out.println("Running I/O for " + o.timeSeconds() + " seconds..." + api);
        out.flush();
        long start = System.nanoTime(); // SPDK's g_start_tsc: one start for every job, so their runtimes agree
        commonStartNanos = start;
        for (BdevPerfUnit u : units) {
            u.start(start);
        }
        for (BdevPerfUnit u : units) {
            try {
                u.started().get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                out.println("Job " + u.name() + " failed to start: " + e.getCause().getMessage());
            }
        }
        startTestHook();
        long end = start + TimeUnit.SECONDS.toNanos(o.timeSeconds());
        long periodNanos = TimeUnit.SECONDS.toNanos(o.periodSeconds() > 0 ? o.periodSeconds() : 1);
        long nextReport = start + periodNanos;
        long steadyAt = start + warmupNanos(o.timeSeconds());
        BdevPerfJob.Snapshot[] last = new BdevPerfJob.Snapshot[units.size()];
        double[] ema = new double[units.size()];
        String why = null;
        while (why == null) {
            long now = System.nanoTime();
            if (steadyMark == null && now >= steadyAt && now < end) {
                steadyMark = markReactors(); // the start of the steady-state allocation window
                steadyMarkNanos = System.nanoTime() - start;
                jitAtSteady = jitMillis();
            }
            if (now >= end || allDone()) {
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
                    progress(o, last, ema, periodNanos);
                    nextReport += periodNanos;
                }
            }
        }
        if (steadyMark != null) {
            endMarkNanos = System.nanoTime() - start;
            endMark = markReactors(); // the end of the window: before the drain, whose teardown is not steady state
            jitAtEnd = jitMillis();
        }
        for (BdevPerfUnit u : units) {
            u.drain(why);
        }
        List<BdevPerfJob.Result> results = new ArrayList<>();
        for (BdevPerfUnit u : units) {
            results.add(u.done().get(60, TimeUnit.SECONDS));
        }
        for (java.util.function.Supplier<java.util.concurrent.CompletionStage<?>> c : closers) {
            c.get().toCompletableFuture().get(60, TimeUnit.SECONDS);
        }
        return report(o, results);
    }

    private volatile List<BdevPerfUnit> units = List.of();
    private BdevPerfOptions run;
    private long commonStartNanos;

    /** The run's common start (test hook). */
    long commonStartNanos() {
        return commonStartNanos;
    }

    /** The units of the last run (test hook). */
    List<BdevPerfUnit> units() {
        return units;
    }

    /** The warm-up before the steady-state allocation window: half of {@code -t}, at most 5 s (the JIT settles first). */
    static long warmupNanos(int seconds) {
        return Math.min(TimeUnit.SECONDS.toNanos(seconds) / 2, TimeUnit.SECONDS.toNanos(5));
    }

    /**
     * For each reactor that runs units, in one task on it: the bytes its thread has allocated, then the I/O its units
     * have completed. Nothing is allocated on the reactor (the tasks, the arrays and the latch are made here), so a
     * window between two marks counts only the units' and the runtime's own allocation. Null when a reactor did not
     * answer (it exited) or no unit runs on a reactor.
     */
    private long[][] markReactors() throws InterruptedException {
        List<Reactor> rs = new ArrayList<>();
        for (BdevPerfUnit u : units) {
            if (u.reactor() != null && !rs.contains(u.reactor())) {
                rs.add(u.reactor());
            }
        }
        if (rs.isEmpty()) {
            return null;
        }
        long[][] m = new long[rs.size()][3];
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(rs.size());
        for (int i = 0; i < rs.size(); i++) {
            Reactor r = rs.get(i);
            BdevPerfUnit[] on = units.stream().filter(u -> u.reactor() == r).toArray(BdevPerfUnit[]::new);
            long[] slot = m[i];
            try {
                r.send(() -> {
                    slot[0] = BdevPerfJob.allocatedOnThisThread();
                    long n = 0;
                    for (int k = 0; k < on.length; k++) {
                        n += on[k].completedOnReactor();
                    }
                    slot[1] = n;
                    slot[2] = BdevPerfJob.cpuOfThisThread();
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
        for (BdevPerfUnit u : units) {
            if (!u.done().isDone()) {
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

    /**
     * SPDK's job status ({@code performance_dump_job_json}): {@code terminated} when a shutdown ended the run,
     * {@code failed} when the job failed (an I/O failed without {@code -f}, except under {@code reset}; or a
     * miscompare or a submit error), else {@code finished}.
     */
    static String spdkStatus(String endStatus, long failedIos, boolean continueOnFailure, boolean reset) {
        if ("terminated".equals(endStatus)) {
            return "terminated";
        }
        if ("failed".equals(endStatus) || failedIos > 0 && !reset && !continueOnFailure) {
            return "failed";
        }
        return "finished";
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
        long cpu = 0;
        for (int i = 0; i < a.length; i++) {
            bytes += b[i][0] - a[i][0];
            n += b[i][1] - a[i][1];
            cpu += b[i][2] - a[i][2];
        }
        return new long[] {bytes, n, cpu};
    }

    /** Bytes allocated on the reactor threads per I/O in the steady-state window, or -1 when there was none. */
    private double steadyAllocPerIo() {
        long[] w = steadyWindow();
        if (w == null || w[1] <= 0) {
            return -1;
        }
        return (double) w[0] / w[1];
    }

    /**
     * The line of each period: SPDK's {@code IOPS, MiB/s} summary, or with -S the table; the IOPS of a period is the
     * I/O completed in it (with -P, SPDK's exponential moving average over that many periods:
     * {@code EMA += (IOPS - EMA) * 2 / (n + 1)}).
     */
    private void progress(BdevPerfOptions o, BdevPerfJob.Snapshot[] last, double[] ema, long periodNanos) {
        double iops = 0;
        List<BdevPerfJob.Snapshot> now = new ArrayList<>();
        for (int i = 0; i < units.size(); i++) {
            BdevPerfJob.Snapshot s;
            try {
                s = BdevPerfJob.snapshotOf(units.get(i).counters().get(5, TimeUnit.SECONDS));
            } catch (Exception e) {
                continue;
            }
            BdevPerfJob.Snapshot prev = last[i];
            long dIos = s.ios() - (prev == null ? 0 : prev.ios());
            long dt = s.elapsedNanos() - (prev == null ? 0 : prev.elapsedNanos());
            double rate = dt > 0 ? dIos * 1e9 / dt : 0;
            if (o.emaPeriod() > 0) {
                ema[i] += (dIos * 1e9 / periodNanos - ema[i]) * 2 / (o.emaPeriod() + 1);
                rate = ema[i];
            }
            iops += rate;
            last[i] = s;
            now.add(s);
        }
        if (o.periodSeconds() > 0) {
            List<Row> rows = new ArrayList<>();
            for (int i = 0; i < now.size() && i < units.size(); i++) {
                BdevPerfUnit u = units.get(i);
                BdevPerfJob.Snapshot s = now.get(i);
                if (o.emaPeriod() > 0 && s.elapsedNanos() > 0) {
                    // the IOPS column is the EMA: scale the count so that the table's count / runtime gives it
                    s = new BdevPerfJob.Snapshot(Math.round(ema[i] * s.elapsedNanos() / 1e9), s.bytes(), s.failed(), s.timedOut(),
                            s.latencySumNanos(), s.latencyMinNanos(), s.latencyMaxNanos(), s.elapsedNanos(), s.reactorAllocatedBytes(), null);
                }
                rows.add(new Row(u.header(), u.name(), s, u.coreMask(), "running", u.verifyRange(), u.params()));
            }
            printTable(o, rows);
        } else {
            out.printf(Locale.ROOT, "%10.2f IOPS, %8.2f MiB/s%n", iops, iops * o.ioSize() / (1 << 20));
        }
        out.flush();
    }

    private int report(BdevPerfOptions o, List<BdevPerfJob.Result> results) {
        if (!reported.compareAndSet(false, true)) {
            return 0;
        }
        List<Row> rows = new ArrayList<>();
        for (BdevPerfJob.Result r : results) {
            BdevPerfUnit u = r.job();
            rows.add(new Row(u.header(), u.name(), r.counters(), u.coreMask(), r.status(), u.verifyRange(), u.params()));
        }
        printTable(o, rows);
        for (BdevPerfJob.Result r : results) {
            if (!"finished".equals(r.status())) {
                out.println(" Job " + r.job().name() + " on core mask " + r.job().coreMask() + ": " + r.status()
                        + (r.error() != null ? " (" + r.error() + ")" : ""));
            }
        }
        for (String n : notes) {
            out.println(n);
        }
        notes.clear();
        latencyReport(o, rows);
        lastResults = rows;
        java.util.Set<String> masks = new java.util.HashSet<>();
        for (BdevPerfUnit u : units) {
            if (u.reactor() != null) {
                masks.add("" + u.reactor().core());
            }
        }
        lastCoreCount = masks.isEmpty() ? o.mask().size() : masks.size();
        writeOutputs(o, rows);
        // allocation on the reactor threads while the units ran: each unit measures its own thread, so a reactor
        // running several is counted once per unit; the figure is an upper bound
        long allocated = 0;
        long ios = 0;
        boolean measured = false;
        for (BdevPerfJob.Result r : results) {
            BdevPerfJob.Snapshot s = r.counters();
            if (s.reactorAllocatedBytes() >= 0 && r.job().reactor() != null) {
                measured = true;
                allocated += s.reactorAllocatedBytes();
                ios += s.ios() + s.failed();
            }
        }
        if (measured) {
            out.printf(Locale.ROOT, " Allocated on reactor threads: %.4f bytes per I/O (%d bytes over %d I/O, start-up included)%n",
                    ios > 0 ? (double) allocated / ios : 0.0, allocated, ios);
        }
        int rc = 0;
        double steady = steadyAllocPerIo();
        if (steady >= 0) {
            long[] w = steadyWindow();
            out.printf(Locale.ROOT, " Allocated on reactor threads in the steady state: %.4f bytes per I/O (%d bytes over %d I/O,"
                    + " after a %.2f s warm-up; the JIT compiled for %d ms in that window)%n", steady, w[0], w[1], steadyMarkNanos / 1e9,
                    jitAtEnd - jitAtSteady);
            // CPU time the reactor threads got per I/O in the same window: with --idle busy it includes their spinning, and it
            // does not count time they were descheduled, so it compares paths on a loaded machine better than IOPS do
            out.printf(Locale.ROOT, " Reactor CPU in the steady state: %.1f ns per I/O%n", w[1] > 0 ? (double) w[2] / w[1] : 0.0);
            // the rate in the same window: the run's table counts from the common start, so it includes the JIT's warm-up
            // (a path with more code to compile starts slower), which this figure leaves out
            double window = (endMarkNanos - steadyMarkNanos) / 1e9;
            out.printf(Locale.ROOT, " IOPS in the steady state: %.2f (%d I/O on the reactors' jobs in the last %.2f s)%n",
                    window > 0 ? w[1] / window : 0.0, w[1], window);
        } else if (measured || units.stream().anyMatch(u -> u.reactor() != null)) {
            out.println(" Allocated on reactor threads in the steady state: not measured (the run ended during the warm-up)");
        } else {
            out.println(" Allocated on reactor threads in the steady state: not measured (no job runs on a reactor)");
        }
        if (o.maxAllocPerIo() >= 0) {
            if (steady < 0) {
                rc = 1;
                out.println("bdevperf: --max-alloc-per-io " + o.maxAllocPerIo() + ": no steady-state window to check (the run"
                        + " ended during the warm-up of " + warmupNanos(o.timeSeconds()) / 1_000_000 + " ms)");
            } else if (steady > o.maxAllocPerIo()) {
                rc = 1;
                out.printf(Locale.ROOT, "bdevperf: --max-alloc-per-io %s: the reactor threads allocated %.4f bytes per I/O in the"
                        + " steady state, above the bound%n", o.maxAllocPerIo(), steady);
            }
        }
        for (BdevPerfJob.Result r : results) {
            if (r.error() != null && "failed".equals(r.status())) {
                rc = 1;
                out.println("Job " + r.job().name() + " failed: " + r.error());
            } else if ("failed".equals(r.status())) {
                rc = 1;
            }
        }
        out.flush();
        return rc;
    }

    /** SPDK's percentile cut-offs of {@code -l}'s latency summary. */
    static final double[] LATENCY_CUTOFFS = {0.01, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999, 0.99999, 0.999999, 0.9999999};

    /**
     * {@code -l}: per job, SPDK's latency summary (for each cut-off, the end of the first bucket at which that share of
     * the I/O had completed); {@code -ll}: also the histogram, a line per non-empty bucket with its range, the
     * cumulative share and its count. Buckets are SPDK's histogram layout (granularity 7; Spindle's ticks are ns).
     */
    private void latencyReport(BdevPerfOptions o, List<Row> rows) {
        long total = 0;
        for (Row r : rows) {
            total += r.s().ios() + r.s().failed();
        }
        if (o.latencyLevel() == 0 || total == 0) {
            return;
        }
        out.println();
        out.println(" Latency summary");
        for (Row r : rows) {
            out.println(" =============================================");
            out.println(" Job: " + r.name() + " (Core Mask " + r.coreMask() + ")");
            int[] cut = {0};
            iterateSpdkBuckets(r.s().latency(), (startNs, endNs, count, tot, soFar) -> {
                double pct = (double) soFar / tot;
                while (cut[0] < LATENCY_CUTOFFS.length && pct >= LATENCY_CUTOFFS[cut[0]]) {
                    out.printf(Locale.ROOT, "%9.5f%% : %9.3fus%n", LATENCY_CUTOFFS[cut[0]] * 100, endNs / 1e3);
                    cut[0]++;
                }
            });
            out.println();
        }
        if (o.latencyLevel() < 2) {
            return;
        }
        out.println(" Latency histogram");
        for (Row r : rows) {
            out.println(" =============================================");
            out.println(" Job: " + r.name() + " (Core Mask " + r.coreMask() + ")");
            iterateSpdkBuckets(r.s().latency(), (startNs, endNs, count, tot, soFar) -> out.printf(Locale.ROOT, "%9.3f - %9.3f: %9.4f%%  (%9d)%n",
                    startNs / 1e3, endNs / 1e3, soFar * 100.0 / tot, count));
            out.println();
        }
    }

    /** A non-empty bucket of SPDK's histogram iteration: [start, end) in ns, its count, the total and the running sum. */
    interface BucketVisitor {
        void bucket(long startNs, long endNs, long count, long total, long soFar);
    }

    /** The histogram's granularity SPDK's bdevperf uses ({@code spdk_histogram_data_alloc}). */
    static final int SPDK_GRANULARITY = 7;

    /** Walks {@code h} (ns) in SPDK's bucket layout as {@code spdk_histogram_data_iterate} does, non-empty buckets only. */
    static void iterateSpdkBuckets(org.HdrHistogram.Histogram h, BucketVisitor v) {
        if (h == null || h.getTotalCount() == 0) {
            return;
        }
        io.spindle.bdev.SpdkHistogram.Options opt = new io.spindle.bdev.SpdkHistogram.Options(SPDK_GRANULARITY, 0, Long.MAX_VALUE);
        long[] b = io.spindle.bdev.SpdkHistogram.buckets(h, opt);
        long total = 0;
        for (long x : b) {
            total += x;
        }
        int g = SPDK_GRANULARITY;
        int per = 1 << g;
        long soFar = 0;
        long bucket = 0;
        for (int i = 0; i < b.length; i++) {
            int range = opt.minRange() + i / per;
            int index = i % per;
            long last = bucket;
            long idx = index + 1L;
            bucket = range > 0 ? (1L << (range + g - 1)) + (idx << (range - 1)) : idx;
            long count = b[i];
            soFar += count;
            if (count != 0) {
                v.bucket(last, bucket, count, total, soFar);
            }
        }
    }

    /**
     * One line pair of the table: the job header and its counters; for the JSON, the job's core mask ({@code 0x1}),
     * its status and its verify range (in I/O units; null unless verify/reset).
     */
    record Row(String header, String name, BdevPerfJob.Snapshot s, String coreMask, String status, long[] verifyRange, JobParams p) {
    }

    /** SPDK's table: a header, per job its line and row, then the Total row. */
    private void printTable(BdevPerfOptions o, List<Row> rows) {
        out.printf(Locale.ROOT, "%n%107s%n", "Latency(us)");
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
            double mib = sec > 0 ? s.bytes() / sec / (1 << 20) : 0;
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
    private void writeOutputs(BdevPerfOptions o, List<Row> rows) {
        if (o.jsonOut() != null) {
            try {
                BdevPerfOutput.writeJson(o, rows, o.jsonOut(), lastCoreCount);
                out.println(" Results written to " + o.jsonOut());
            } catch (java.io.IOException | RuntimeException e) {
                out.println(" --json-out " + o.jsonOut() + ": cannot write: " + e.getMessage());
            }
        }
        if (o.plot() != null) {
            try {
                BdevPerfOutput.plot(o, rows, o.plot());
                out.println(" Latency percentile plot written to " + o.plot());
            } catch (java.io.IOException | RuntimeException | LinkageError e) {
                out.println(" --plot " + o.plot() + ": cannot draw: " + e);
            }
        }
    }
}
