package io.spindle.examples.bdevperf;

import io.spindle.runtime.CoreMask;
import io.spindle.runtime.IdleMode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * bdevperf's command line, with SPDK's flags ({@code examples/bdev/bdevperf}): parsed and checked before
 * anything starts. A bad flag or value throws {@link UsageException} whose message is the one line to print:
 * it names the flag and what is allowed.
 *
 * <p>Immutable; built by {@link #parse(String...)}.
 */
public record BdevPerfOptions(
        int queueDepth,
        long ioSize,
        Workload workload,
        int rwMixRead,
        int timeSeconds,
        CoreMask mask,
        Path jsonConfig,
        String target,
        boolean everyCoreEveryBdev,
        int periodSeconds,
        int timeoutSeconds,
        boolean abortOnTimeout,
        boolean continueOnFailure,
        IdleMode idle,
        boolean pin,
        Api api,
        BdevPerfActorJob.Placement actorOn,
        int actorBatch,
        Path rpcSocket,
        Path jsonOut,
        Path plot,
        double maxAllocPerIo,
        boolean waitForTests,
        Path jobFile,
        int latencyLevel,
        boolean randomMap,
        boolean uniqueWrites,
        double zipfTheta,
        int emaPeriod,
        boolean perLcoreThread,
        FacadeCompletion facadeCompletion,
        ActorBuffers actorBuffers,
        io.spindle.env.HugePages.Mode huge,
        java.util.Set<String> given,
        boolean help) {

    /** {@code -q} when not given (SPDK's bdevperf requires it). */
    public static final int DEFAULT_QUEUE_DEPTH = 128;
    /** {@code -o} when not given (SPDK's bdevperf requires it). */
    public static final long DEFAULT_IO_SIZE = 4096;
    /** Upper bound of {@code -q}. */
    public static final int MAX_QUEUE_DEPTH = 65536;
    /** {@code --actor-batch} when not given. */
    public static final int DEFAULT_ACTOR_BATCH = 64;
    /** Upper bound of {@code -o}: 16 MiB. */
    public static final long MAX_IO_SIZE = 16L << 20;

    /** {@code -w}: SPDK's workload names. */
    public enum Workload {
        READ, WRITE, RANDREAD, RANDWRITE, RW, RANDRW, VERIFY, RESET, UNMAP, FLUSH, WRITE_ZEROES;

        /** The name on the command line and in the output. */
        public String flag() {
            return name().toLowerCase(Locale.ROOT);
        }

        boolean random() {
            return this == RANDREAD || this == RANDWRITE || this == RANDRW;
        }

        boolean mixed() {
            return this == RW || this == RANDRW;
        }

        boolean verifies() {
            return this == VERIFY || this == RESET;
        }

        boolean writes() {
            return this != READ && this != RANDREAD;
        }

        static Workload parse(String s) {
            for (Workload w : values()) {
                if (w.flag().equals(s)) {
                    return w;
                }
            }
            throw new UsageException("-w " + s + ": unknown workload; allowed: " + allowed());
        }

        static String allowed() {
            StringBuilder b = new StringBuilder();
            for (Workload w : values()) {
                b.append(b.length() == 0 ? "" : ", ").append(w.flag());
            }
            return b.toString();
        }
    }

    /** {@code --api}: how jobs reach the bdevs. */
    public enum Api {
        /** Descriptor and channel calls on the reactor: the data path. */
        DIRECT,
        /** The typed actor protocol ({@code BdevServer} and its shards), driven by requester actors. */
        ACTOR,
        /** {@code BdevFacade}'s CompletionStages: what plain Java code outside actors would use. */
        FACADE
    }

    /** {@code --facade}: how the facade job learns of completions. */
    public enum FacadeCompletion {
        /** {@code CompletionStage}s, one {@code whenComplete} per I/O. */
        STAGE,
        /** The callback methods: no allocation per I/O. */
        CALLBACK
    }

    /** {@code --actor-buffers}: where the actor job's batched data lives. */
    public enum ActorBuffers {
        /** The requester's own off-heap buffer per slot, lent with each batch entry (no copy, no lent buffer back). */
        OWN,
        /** The shard's pooled buffers: reads come back as lent buffers that the requester releases; writes copy a byte[]. */
        POOL
    }

    /** A bad command line; the message is the line to print. */
    public static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        /** @param message names the flag and what is allowed */
        public UsageException(String message) {
            super(message);
        }
    }

    /** The help text. */
    public static String usage() {
        return String.join("\n",
                "usage: spindle bdevperf [options]",
                "  Runs I/O jobs on bdevs and prints SPDK bdevperf's table. Without --json it runs on an embedded",
                "  Malloc0 (256 MiB, 4096-byte blocks).",
                "",
                "  -q <depth>      I/O queue depth per job (1.." + MAX_QUEUE_DEPTH + ", default " + DEFAULT_QUEUE_DEPTH + ")",
                "  -o <size>       I/O size in bytes, suffixes k/m/g allowed (e.g. 4096, 4k, 128K; default " + DEFAULT_IO_SIZE + ")",
                "  -w <type>       workload: " + Workload.allowed() + " (required)",
                "  -M <pct>        rwmixread 0..100 for rw/randrw (default 50)",
                "  -t <sec>        run time in seconds (required, >= 1)",
                "  -m <mask>       reactor core mask: 0x3, [0,1], 0-1 (default 0x1)",
                "  -c, --json <f>  JSON config file (SPDK format) that creates the bdevs",
                "  -T <bdev>       run only on this bdev (default: every leaf bdev)",
                "  -C              every reactor runs a job on each bdev, the LBA range split between them",
                "  -S <sec>        print the per-job table every <sec> seconds (default: a one-line summary each second)",
                "  -k <sec>        I/O timeout in seconds, counted in TO/s (0 = off)",
                "  -X              abort timed-out I/O (with -k)",
                "  -f              continue on I/O failure (default: a failed I/O stops its job and fails the run)",
                "  --idle <mode>   reactor idle strategy: backoff (default), busy (spin, for benchmarks), park, yield",
                "  --pin           pin each reactor thread to its core",
                "  --huge          malloc bdevs and I/O buffers on huge pages (hugetlbfs), required: fail without them",
                "  --no-huge       normal pages only (default: huge pages when a hugetlbfs mount has free pages, else normal",
                "                  pages and one log line; spindle.memory.huge-pages)",
                "  --api <api>     direct (default: descriptor calls on the reactor), actor (typed actor protocol, requester",
                "                  actors) or facade (BdevFacade: stages or callbacks completed by the reactors)",
                "  --actor-on <p>  --api actor: where the requester actors run: reactor (default: one per reactor, next to",
                "                  its shard) or pekko (one on Pekko's default dispatcher, talking to every shard)",
                "  --actor-batch <n>  --api actor: I/O per Submit message, 1.." + io.spindle.bdev.actor.IoBatch.MAX_ENTRIES
                        + " (default " + DEFAULT_ACTOR_BATCH + "); 0 = one Read/Write message per I/O",
                "  --actor-buffers <b>  --api actor with batches: own (default: the requester's off-heap buffer per slot, lent",
                "                  with each entry, no copy) or pool (the shard's pooled buffers, reads lent back and released)",
                "  -r <sock>       also run the JSON-RPC server on this Unix socket while the jobs run (SPDK's -r):",
                "                  create, delete and inspect bdevs with spindle rpc during the run",
                "  --json-out <f>  write the results as JSON, in the shape of SPDK's perform_tests result",
                "  --plot <f.png>  draw each job's latency percentile curve into a PNG",
                "  --max-alloc-per-io <bytes>  fail the run (exit 1) when the reactor threads allocate more than this per",
                "                  I/O in the steady state (after the warm-up, see the allocation line); e.g. 0.01",
                "  -z              wait for the perform_tests RPC (SPDK's bdevperf.py perform_tests [-q -o -t -M -w]) to run the",
                "                  tests; the JSON-RPC server listens on -r <sock>, default /var/tmp/spdk.sock; -w and -t may then",
                "                  come with the RPC",
                "  -j <file>       job file (FIO-like INI: [global] defaults, then one section per job with filename=Bdev0:Bdev1,",
                "                  cpumask, bs, iodepth, rwmixread, offset, length, rw); -q -o -M -w -T override [global]",
                "  -l              after the table, a latency summary per job (percentile cut-offs); -ll also the histogram",
                "  -D              random map: a random workload uses every offset once before any repeats",
                "  -U              unique data in every write (a per-write counter in each 8-byte word)",
                "  -F <theta>      zipf distribution of the random offsets with this theta (> 0, != 1)",
                "  -P <n>          with -S: IOPS as an exponential moving average over n periods",
                "  -E              one shared thread per core (Spindle's reactors always are: accepted for SPDK's command lines;",
                "                  cannot be combined with -j)",
                "  --facade <c>    --api facade: stage (default: CompletionStages) or callback (the zero-allocation methods)",
                "  -h, --help      this text");
    }

    /** Parses and checks {@code args}; throws {@link UsageException} on the first problem. */
    public static BdevPerfOptions parse(String... args) {
        Integer q = null;
        Long o = null;
        Workload w = null;
        Integer mix = null;
        Integer t = null;
        CoreMask mask = null;
        Path json = null;
        String target = null;
        boolean everyCore = false;
        int period = 0;
        int timeout = 0;
        boolean abort = false;
        boolean cont = false;
        IdleMode idle = IdleMode.BACKOFF;
        boolean pin = false;
        Api api = Api.DIRECT;
        BdevPerfActorJob.Placement actorOn = null;
        Integer actorBatch = null;
        Path rpc = null;
        Path jsonOut = null;
        Path plot = null;
        double maxAlloc = -1;
        boolean z = false;
        Path jobFile = null;
        int latency = 0;
        boolean randomMap = false;
        boolean unique = false;
        double zipf = 0;
        Integer ema = null;
        boolean perLcore = false;
        FacadeCompletion facade = null;
        ActorBuffers actorBuffers = null;
        io.spindle.env.HugePages.Mode huge = io.spindle.env.HugePages.Mode.AUTO;
        java.util.Set<String> given = new java.util.LinkedHashSet<>();
        List<String> a = List.of(args);
        for (int i = 0; i < a.size(); i++) {
            String f = a.get(i);
            if (f.matches("-l+")) { // SPDK's getopt: -l summary, -ll (or -l -l) histogram too
                latency += f.length() - 1;
                continue;
            }
            given.add(f);
            switch (f) {
                case "-z" -> z = true;
                case "-j" -> {
                    String v = value(a, ++i, f);
                    jobFile = Path.of(v);
                    if (!Files.isReadable(jobFile)) {
                        throw new UsageException("-j " + v + ": no such readable job file");
                    }
                }
                case "-D" -> randomMap = true;
                case "-U" -> unique = true;
                case "-E" -> perLcore = true;
                case "-F" -> {
                    String v = value(a, ++i, f);
                    try {
                        zipf = Double.parseDouble(v.trim());
                    } catch (NumberFormatException e) {
                        zipf = Double.NaN;
                    }
                    if (!(zipf >= 0) || Double.isInfinite(zipf) || zipf == 1.0) {
                        throw new UsageException("-F " + v + ": illegal zipf theta; a number >= 0 and != 1 (e.g. 1.2; 0 = uniform)");
                    }
                }
                case "-P" -> ema = intIn(f, value(a, ++i, f), 1, 1_000_000, "number of moving-average periods");
                case "--actor-buffers" -> {
                    String v = value(a, ++i, f);
                    actorBuffers = switch (v) {
                        case "own" -> ActorBuffers.OWN;
                        case "pool" -> ActorBuffers.POOL;
                        default -> throw new UsageException("--actor-buffers " + v + ": allowed: own, pool");
                    };
                }
                case "--facade" -> {
                    String v = value(a, ++i, f);
                    facade = switch (v) {
                        case "stage" -> FacadeCompletion.STAGE;
                        case "callback" -> FacadeCompletion.CALLBACK;
                        default -> throw new UsageException("--facade " + v + ": allowed: stage, callback");
                    };
                }
                case "-h", "--help" -> {
                    return new BdevPerfOptions(1, 4096, Workload.READ, 50, 1, null, null, null, false, 0, 0, false, false,
                            IdleMode.BACKOFF, false, Api.DIRECT, BdevPerfActorJob.Placement.REACTOR, DEFAULT_ACTOR_BATCH, null, null, null,
                            -1, false, null, 0, false, false, 0, 0, false, FacadeCompletion.STAGE, ActorBuffers.OWN, io.spindle.env.HugePages.Mode.AUTO, java.util.Set.of(), true);
                }
                case "-q" -> q = intIn(f, value(a, ++i, f), 1, MAX_QUEUE_DEPTH, "queue depth");
                case "-r", "--rpc-socket" -> rpc = Path.of(value(a, ++i, f));
                case "--json-out" -> jsonOut = writable(f, value(a, ++i, f));
                case "--plot" -> {
                    plot = writable(f, value(a, ++i, f));
                    if (!plot.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
                        throw new UsageException("--plot " + plot + ": the plot is a PNG file; name it *.png");
                    }
                }
                case "-o" -> o = size(f, value(a, ++i, f));
                case "--max-alloc-per-io" -> {
                    String v = value(a, ++i, f);
                    try {
                        maxAlloc = Double.parseDouble(v.trim());
                    } catch (NumberFormatException e) {
                        maxAlloc = Double.NaN;
                    }
                    if (!(maxAlloc >= 0) || Double.isInfinite(maxAlloc)) {
                        throw new UsageException("--max-alloc-per-io " + v + ": bytes per I/O, a number >= 0 (e.g. 0.01)");
                    }
                }
                case "-w" -> w = Workload.parse(value(a, ++i, f));
                case "-M" -> mix = intIn(f, value(a, ++i, f), 0, 100, "read percentage");
                case "-t" -> t = intIn(f, value(a, ++i, f), 1, 24 * 3600, "run time in seconds");
                case "-m", "--cpumask" -> {
                    String v = value(a, ++i, f);
                    try {
                        mask = CoreMask.parse(v, Runtime.getRuntime().availableProcessors());
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(f + " " + v + ": " + e.getMessage());
                    }
                }
                case "-c", "--json", "--config" -> {
                    String v = value(a, ++i, f);
                    json = Path.of(v);
                    if (!Files.isReadable(json)) {
                        throw new UsageException(f + " " + v + ": no such readable file");
                    }
                }
                case "-T" -> target = value(a, ++i, f);
                case "-C" -> everyCore = true;
                case "-S" -> period = intIn(f, value(a, ++i, f), 1, 3600, "period in seconds");
                case "-k" -> timeout = intIn(f, value(a, ++i, f), 0, 3600, "timeout in seconds");
                case "-X" -> abort = true;
                case "-f" -> cont = true;
                case "--idle" -> {
                    String v = value(a, ++i, f);
                    try {
                        idle = IdleMode.parse("--idle", v);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--idle " + v + ": allowed: backoff, busy, park, yield");
                    }
                }
                case "--pin" -> pin = true;
                case "--huge" -> huge = io.spindle.env.HugePages.Mode.ON;
                case "--no-huge" -> huge = io.spindle.env.HugePages.Mode.OFF;
                case "--api" -> {
                    String v = value(a, ++i, f);
                    api = switch (v) {
                        case "direct" -> Api.DIRECT;
                        case "actor" -> Api.ACTOR;
                        case "facade" -> Api.FACADE;
                        default -> throw new UsageException("--api " + v + ": allowed: direct, actor, facade");
                    };
                }
                case "--actor-on" -> {
                    String v = value(a, ++i, f);
                    actorOn = switch (v) {
                        case "reactor" -> BdevPerfActorJob.Placement.REACTOR;
                        case "pekko" -> BdevPerfActorJob.Placement.PEKKO;
                        default -> throw new UsageException("--actor-on " + v + ": allowed: reactor, pekko");
                    };
                }
                case "--actor-batch" -> actorBatch = intIn(f, value(a, ++i, f), 0, io.spindle.bdev.actor.IoBatch.MAX_ENTRIES,
                        "entries per Submit (0 = single messages)");
                default -> throw new UsageException(f.startsWith("-") ? f + ": unknown option (see --help)"
                        : f + ": unexpected argument (see --help)");
            }
        }
        if (q == null) {
            q = DEFAULT_QUEUE_DEPTH; // SPDK requires -q; Spindle defaults it
        }
        if (o == null) {
            o = DEFAULT_IO_SIZE; // SPDK requires -o; Spindle defaults it
        }
        if (w == null && jobFile == null && !z) {
            throw new UsageException("-w: missing; the workload is required (" + Workload.allowed() + ")");
        }
        if (t == null && !z) {
            throw new UsageException("-t: missing; the run time in seconds is required (>= 1)");
        }
        if (jobFile != null && perLcore) {
            throw new UsageException("-E: cannot be combined with -j (SPDK: if bdevperf's config file is used, per lcore thread cannot be used)");
        }
        if (ema != null && period == 0) {
            throw new UsageException("-P " + ema + ": only valid with -S <sec> (the moving average is of the periodic table)");
        }
        if (randomMap && w != null && !w.random()) {
            throw new UsageException("-D: only valid with -w randread, randwrite or randrw, not -w " + w.flag());
        }
        if (facade != null && api != Api.FACADE) {
            throw new UsageException("--facade: only valid with --api facade");
        }
        if (jobFile != null && api != Api.DIRECT) {
            throw new UsageException("-j: only valid with --api direct");
        }
        if (given.contains("--huge") && given.contains("--no-huge")) {
            throw new UsageException("--huge, --no-huge: give one of them");
        }
        if (w == null) {
            return new BdevPerfOptions(q, o, null, mix == null ? 50 : mix, t == null ? 0 : t, mask == null ? CoreMask.parse("0x1") : mask, json,
                    target, everyCore, period, timeout, abort, cont, idle, pin, api, BdevPerfActorJob.Placement.REACTOR, DEFAULT_ACTOR_BATCH, rpc,
                    jsonOut, plot, maxAlloc, z, jobFile, latency, randomMap, unique, zipf, ema == null ? 0 : ema, perLcore,
                    facade == null ? FacadeCompletion.STAGE : facade, actorBuffers == null ? ActorBuffers.OWN : actorBuffers,
                    huge, java.util.Set.copyOf(given), false);
        }
        if (mix != null && !w.mixed()) {
            throw new UsageException("-M " + mix + ": only valid with -w rw or -w randrw, not -w " + w.flag());
        }
        if (abort && timeout == 0) {
            throw new UsageException("-X: needs an I/O timeout (-k <sec> > 0)");
        }
        if ((actorOn != null || actorBatch != null || actorBuffers != null) && api != Api.ACTOR) {
            throw new UsageException((actorOn != null ? "--actor-on" : actorBatch != null ? "--actor-batch" : "--actor-buffers")
                    + ": only valid with --api actor");
        }
        if (everyCore && api == Api.ACTOR && actorOn == BdevPerfActorJob.Placement.PEKKO) {
            // -C means a job per reactor; --actor-on pekko has one requester, on Pekko's dispatcher, for the whole run
            throw new UsageException("-C: with --api actor needs --actor-on reactor (one requester per reactor); "
                    + "--actor-on pekko runs a single requester on Pekko's dispatcher");
        }
        if (api != Api.DIRECT && !(w == Workload.READ || w == Workload.RANDREAD || w == Workload.WRITE || w == Workload.RANDWRITE
                || w == Workload.RW || w == Workload.RANDRW)) {
            throw new UsageException("--api " + api.name().toLowerCase(Locale.ROOT) + ": supports -w read, write, randread, randwrite, rw, randrw; not " + w.flag());
        }
        return new BdevPerfOptions(q, o, w, mix == null ? 50 : mix, t, mask == null ? CoreMask.parse("0x1") : mask, json, target,
                everyCore, period, timeout, abort, cont, idle, pin, api, actorOn == null ? BdevPerfActorJob.Placement.REACTOR : actorOn,
                actorBatch == null ? DEFAULT_ACTOR_BATCH : actorBatch, rpc, jsonOut, plot, maxAlloc, z, jobFile, latency, randomMap, unique, zipf,
                ema == null ? 0 : ema, perLcore, facade == null ? FacadeCompletion.STAGE : facade, actorBuffers == null ? ActorBuffers.OWN : actorBuffers,
                huge, java.util.Set.copyOf(given), false);
    }

    /**
     * These options with {@code perform_tests}' overrides (SPDK's {@code rpc_apply_bdevperf_params}: a value is
     * applied when present and non-zero; {@code rw_percentage} 0 counts as absent, as in SPDK), checked as the command
     * line is. Null arguments are absent.
     *
     * @throws UsageException naming the parameter and what is allowed
     */
    BdevPerfOptions withRpcOverrides(Integer timeInSec, String workloadType, Integer queueDepth, String ioSize, Integer rwPercentage) {
        Workload w = workload;
        if (workloadType != null) {
            w = Workload.parse(workloadType);
        }
        int q = queueDepth != null && queueDepth != 0 ? queueDepth : queueDepth();
        if (q < 1 || q > MAX_QUEUE_DEPTH) {
            throw new UsageException("queue_depth " + q + ": out of range; queue depth must be 1.." + MAX_QUEUE_DEPTH);
        }
        long o = ioSize != null ? size("io_size", ioSize) : ioSize();
        int t = timeInSec != null && timeInSec != 0 ? timeInSec : timeSeconds();
        if (t < 1 || t > 24 * 3600) {
            throw new UsageException("time_in_sec " + t + ": out of range; run time in seconds must be 1..86400");
        }
        boolean mixGiven = rwPercentage != null && rwPercentage != 0;
        int mix = mixGiven ? rwPercentage : rwMixRead();
        if (mix < 0 || mix > 100) {
            throw new UsageException("rw_percentage " + mix + ": out of range; read percentage must be 0..100");
        }
        if (w == null && jobFile == null) {
            throw new UsageException("workload_type: missing; give -w on the command line or workload_type (" + Workload.allowed() + ")");
        }
        if (w != null && randomMap && !w.random()) {
            throw new UsageException("-D: only valid with randread, randwrite or randrw, not " + w.flag());
        }
        if (w != null && api != Api.DIRECT && !(w == Workload.READ || w == Workload.RANDREAD || w == Workload.WRITE
                || w == Workload.RANDWRITE || w == Workload.RW || w == Workload.RANDRW)) {
            throw new UsageException("--api " + api.name().toLowerCase(Locale.ROOT) + ": supports read, write, randread, randwrite, rw, randrw; not "
                    + w.flag());
        }
        java.util.Set<String> g = new java.util.LinkedHashSet<>(given);
        if (workloadType != null) {
            g.add("-w");
        }
        if (queueDepth != null && queueDepth != 0) {
            g.add("-q");
        }
        if (ioSize != null) {
            g.add("-o");
        }
        if (mixGiven) {
            g.add("-M");
        }
        return new BdevPerfOptions(q, o, w, mix, t, mask, jsonConfig, target, everyCoreEveryBdev, periodSeconds, timeoutSeconds, abortOnTimeout,
                continueOnFailure, idle, pin, api, actorOn, actorBatch, rpcSocket, jsonOut, plot, maxAllocPerIo, waitForTests, jobFile, latencyLevel,
                randomMap, uniqueWrites, zipfTheta, emaPeriod, perLcoreThread, facadeCompletion, actorBuffers, huge, java.util.Set.copyOf(g), false);
    }

    /** Whether the flag was given on the command line (or by a perform_tests override). */
    boolean given(String flag) {
        return given.contains(flag);
    }

    /** A path whose directory exists, for an output file. */
    private static Path writable(String flag, String v) {
        Path p = Path.of(v).toAbsolutePath();
        Path dir = p.getParent();
        if (dir == null || !Files.isDirectory(dir) || !Files.isWritable(dir)) {
            throw new UsageException(flag + " " + v + ": directory " + dir + " does not exist or is not writable");
        }
        return p;
    }

    private static String value(List<String> a, int i, String flag) {
        if (i >= a.size()) {
            throw new UsageException(flag + ": missing value (see --help)");
        }
        return a.get(i);
    }

    private static int intIn(String flag, String v, int min, int max, String what) {
        long n;
        try {
            n = Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " " + v + ": not a number; " + what + " must be " + min + ".." + max);
        }
        if (n < min || n > max) {
            throw new UsageException(flag + " " + v + ": out of range; " + what + " must be " + min + ".." + max);
        }
        return (int) n;
    }

    /** A byte count with an optional k/m/g suffix (binary, as SPDK's capacity parser). */
    static long size(String flag, String v) {
        String s = v.trim().toLowerCase(Locale.ROOT);
        long mul = 1;
        if (s.endsWith("b")) {
            s = s.substring(0, s.length() - 1);
        }
        if (!s.isEmpty()) {
            char c = s.charAt(s.length() - 1);
            mul = switch (c) {
                case 'k' -> 1L << 10;
                case 'm' -> 1L << 20;
                case 'g' -> 1L << 30;
                default -> 1;
            };
            if (mul != 1) {
                s = s.substring(0, s.length() - 1);
            }
        }
        long n;
        try {
            n = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " " + v + ": not a size; use bytes with an optional k/m/g suffix, 1.." + MAX_IO_SIZE);
        }
        if (n <= 0 || n > MAX_IO_SIZE / mul) {
            throw new UsageException(flag + " " + v + ": out of range; the I/O size must be 1.." + MAX_IO_SIZE + " bytes (16m)");
        }
        return n * mul;
    }
}
