package io.spindle.testing;

import io.spindle.runtime.Reactor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * A schedule explorer for manual reactors: it runs a scenario many times, and in each run (a <em>schedule</em>) it
 * chooses at every step which manual reactor runs its next task, or which of the scenario's external actions
 * (a descriptor close, a channel put, an I/O, a stop...) happens next. Each schedule is one seed; a failure names
 * the seed, the strategy and the last steps, and {@code -Dspindle.seed=S} replays it.
 *
 * <p><b>What is a step.</b> The reactors given to a schedule must be manual and should be built with
 * {@code maxTasksPerLoop(1)} (and {@code dispatcherThroughput(1)}, so that one Pekko mailbox run is one message):
 * a reactor step is then one {@link Reactor#pollOnce()}, which runs at most one queued task (a cross-reactor
 * message, an actor's message) and the reactor's pollers. A reactor is a candidate when it has queued tasks
 * ({@link Reactor#hasQueuedTasks()}), when its last step did work (its pollers may have more), or when its state
 * changed (an exit was requested: stepping it lets it finish exiting). An action is a candidate while its
 * {@code enabled} test holds; it fires at most once, on the test thread. A step that does nothing (a poller with
 * no work) is not recorded and the reactor is not a candidate again until it gets a task.
 *
 * <p><b>Strategies.</b> Each seed picks one (half the seeds each):
 * <ul>
 *   <li>{@link Strategy#RANDOM}: uniform among the candidates at every step;</li>
 *   <li>{@link Strategy#PCT}: probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010). Every reactor and
 *   action gets a random priority, and the candidate with the highest priority runs; at {@code d - 1} random steps
 *   (d drawn from 1 to the configured depth, steps from 1 to the expected schedule length) the source that just ran
 *   drops below every other. A bug that needs d ordering constraints is found with probability at least
 *   1/(n k^(d-1)) per schedule (n sources, k steps), where uniform choices can make it exponentially rarer: these
 *   schedules reach the rare orders (one reactor running far ahead of the others, an action held back until
 *   everything else is idle).</li>
 * </ul>
 *
 * <p><b>Orderings.</b> The sequence of steps that did work (reactor steps and actions, by label) is hashed; the
 * explorer counts distinct hashes overall and per strategy, and scenario notes ({@link Schedule#note}): how many
 * schedules reached a named situation.
 *
 * <p><b>What it does not control.</b> Work that arrives from other threads (Pekko's scheduler, actors on Pekko's
 * own dispatchers, the test kit's guardian) lands in a reactor's queue when it lands; when no candidate is left
 * and the scenario is not done, the explorer waits for such work (and fails after {@link #stuckAfter}). Timed
 * pollers run only when the scenario advances the manual clock.
 *
 * <p>Test thread only; one explorer per scenario.
 */
public final class ScheduleExplorer {
    private static final Logger LOG = LoggerFactory.getLogger(ScheduleExplorer.class);

    /** How a schedule chooses the next step. */
    public enum Strategy {
        /** Uniform among the candidates. */
        RANDOM,
        /** Priority-based (PCT): random priorities, d-1 random priority-change points. */
        PCT
    }

    private final String scenario;
    private final int schedules;
    private int fixedSeeds;
    private int pctMaxDepth = 3;
    private int pctExpectedSteps = 200;
    private Duration stuckAfter = Duration.ofSeconds(10);
    private long maxSteps = 2_000_000;

    // ---- accounting over all schedules ----
    private final Set<Long> random = new HashSet<>();
    private final Set<Long> pct = new HashSet<>();
    private final Map<String, int[]> notes = new TreeMap<>();
    private int randomSchedules;
    private int pctSchedules;
    private long steps;
    private int maxScheduleSteps;
    private long waited;

    private ScheduleExplorer(String scenario, int schedules) {
        this.scenario = scenario;
        this.schedules = schedules;
        this.fixedSeeds = Math.min(100, schedules);
    }

    /**
     * An explorer running {@code schedules} schedules of {@code scenario} (the first 100 with the fixed seeds 0..99,
     * the rest random); {@code -Dspindle.explore=N} runs {@code N} instead, {@code -Dspindle.seed=S} only seed S.
     */
    public static ScheduleExplorer of(String scenario, int schedules) {
        return new ScheduleExplorer(scenario, schedules);
    }

    /** How many of the schedules use the fixed seeds {@code 0..n-1} (the rest are random per run). */
    public ScheduleExplorer fixedSeeds(int n) {
        this.fixedSeeds = n;
        return this;
    }

    /** PCT's depth bound (d is drawn from 1..maxDepth per schedule) and the expected number of steps of a schedule. */
    public ScheduleExplorer pct(int maxDepth, int expectedSteps) {
        if (maxDepth < 1 || expectedSteps < 1) {
            throw new IllegalArgumentException("pct maxDepth=" + maxDepth + " expectedSteps=" + expectedSteps + ": both must be >= 1");
        }
        this.pctMaxDepth = maxDepth;
        this.pctExpectedSteps = expectedSteps;
        return this;
    }

    /** How long a schedule may wait for work from other threads when no candidate is left (default 10 s). */
    public ScheduleExplorer stuckAfter(Duration d) {
        this.stuckAfter = d;
        return this;
    }

    /** The most steps one schedule may take before it is declared a livelock (default 2,000,000). */
    public ScheduleExplorer maxSteps(long n) {
        this.maxSteps = n;
        return this;
    }

    /**
     * Runs the scenario once per seed. {@code body} builds the run on the {@link Schedule} it gets (reactors,
     * actions), calls {@link Schedule#runUntil}, then asserts its invariants. The first failure ends the
     * exploration with an {@link AssertionError} naming the seed, the strategy and the last steps.
     */
    public Report explore(Consumer<Schedule> body) {
        long t0 = System.nanoTime();
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long cpu0 = mx.getCurrentThreadCpuTime();
        Seeds.forEach(Seeds.ofTotal(fixedSeeds, schedules), seed -> {
            Schedule s = new Schedule(this, seed);
            try {
                body.accept(s);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError(s.describe() + ": " + e.getMessage(), e);
            }
            account(s);
        });
        Report r = report(Duration.ofNanos(mx.getCurrentThreadCpuTime() - cpu0), Duration.ofNanos(System.nanoTime() - t0));
        LOG.info("{}", r);
        return r;
    }

    private void account(Schedule s) {
        if (s.strategy == Strategy.RANDOM) {
            randomSchedules++;
            random.add(s.hash);
        } else {
            pctSchedules++;
            pct.add(s.hash);
        }
        steps += s.recorded;
        waited += s.waitedNanos;
        maxScheduleSteps = Math.max(maxScheduleSteps, s.recorded);
        for (String n : s.notes) {
            notes.computeIfAbsent(n, k -> new int[2])[s.strategy.ordinal()]++;
        }
    }

    private Report report(Duration cpu, Duration elapsed) {
        Set<Long> all = new HashSet<>(random);
        all.addAll(pct);
        Set<Long> onlyPct = new HashSet<>(pct);
        onlyPct.removeAll(random);
        Map<String, List<Integer>> n = new TreeMap<>();
        notes.forEach((k, v) -> n.put(k, List.of(v[0], v[1])));
        int total = randomSchedules + pctSchedules;
        return new Report(scenario, total, randomSchedules, pctSchedules, all.size(), random.size(), pct.size(), onlyPct.size(),
                total == 0 ? 0 : (double) steps / total, maxScheduleSteps, Map.copyOf(n), Duration.ofNanos(waited), cpu, elapsed);
    }

    /**
     * What an exploration reached.
     *
     * @param schedules schedules run ({@code randomSchedules + pctSchedules})
     * @param distinctOrderings distinct sequences of steps that did work, over all schedules
     * @param distinctRandom distinct orderings among the uniform-random schedules
     * @param distinctPct distinct orderings among the PCT schedules
     * @param onlyPct orderings that only PCT schedules reached
     * @param meanSteps recorded steps per schedule
     * @param notes per scenario note: how many schedules reached it, [random, PCT]
     * @param waited time spent waiting for work from other threads (Pekko's scheduler), all schedules together
     * @param cpu CPU time of the test thread, which runs every reactor step (what the schedules cost on an idle machine)
     */
    public record Report(String scenario, int schedules, int randomSchedules, int pctSchedules, int distinctOrderings, int distinctRandom,
                         int distinctPct, int onlyPct, double meanSteps, int maxSteps, Map<String, List<Integer>> notes, Duration waited,
                         Duration cpu, Duration elapsed) {
        @Override
        public String toString() {
            return String.format("schedule explorer: scenario=%s schedules=%d (random %d, pct %d) distinct orderings=%d (random %d, pct %d, "
                            + "only pct %d) steps/schedule mean=%.1f max=%d notes [random, pct]=%s waited for other threads=%.1fs test-thread cpu=%.1fs elapsed=%.1fs",
                    scenario, schedules, randomSchedules, pctSchedules, distinctOrderings, distinctRandom, distinctPct, onlyPct,
                    meanSteps, maxSteps, new TreeMap<>(notes), waited.toMillis() / 1000.0, cpu.toMillis() / 1000.0,
                    elapsed.toMillis() / 1000.0);
        }
    }

    // ------------------------------------------------------------------ one schedule

    /** A source of steps: a reactor or an action. */
    private abstract static class Source {
        final String label;
        final long code;
        double priority;

        Source(String label) {
            this.label = label;
            this.code = label.hashCode() * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L;
        }

        abstract boolean candidate();
    }

    private static final class ReactorSource extends Source {
        final Reactor reactor;
        boolean maybe = true; // unknown until stepped: its pollers may have work
        Reactor.State lastState;

        ReactorSource(String label, Reactor reactor) {
            super(label);
            this.reactor = reactor;
            this.lastState = reactor.state();
        }

        @Override
        boolean candidate() {
            Reactor.State st = reactor.state();
            return st != Reactor.State.EXITED && (maybe || st != lastState || reactor.hasQueuedTasks());
        }
    }

    private static final class Action extends Source {
        final BooleanSupplier enabled;
        final Runnable run;
        boolean fired;

        Action(String label, BooleanSupplier enabled, Runnable run) {
            super(label);
            this.enabled = enabled;
            this.run = run;
        }

        @Override
        boolean candidate() {
            return !fired && enabled.getAsBoolean();
        }
    }

    /**
     * One run of the scenario under one seed: the reactors it steps, the actions it may take, the choices made.
     * Test thread only.
     */
    public static final class Schedule {
        private final ScheduleExplorer explorer;
        private final long seed;
        private final Strategy strategy;
        private final int depth;
        private final int[] changePoints;
        private final Random choices;
        private final Random scenarioRandom;
        private final List<Source> sources = new ArrayList<>();
        private final List<Source> candidates = new ArrayList<>();
        private final ArrayList<String> trace = new ArrayList<>();
        private final Set<String> notes = new LinkedHashSet<>();
        private long hash = 0xcbf29ce484222325L;
        private int recorded;
        private long stepped;
        private long waitedNanos;

        Schedule(ScheduleExplorer explorer, long seed) {
            this.explorer = explorer;
            this.seed = seed;
            // mixed first: java.util.Random's first draws are correlated across small consecutive seeds
            this.choices = new Random(mix(seed));
            this.scenarioRandom = new Random(mix(seed ^ 0x5DEECE66DL));
            this.strategy = choices.nextBoolean() ? Strategy.RANDOM : Strategy.PCT;
            this.depth = 1 + choices.nextInt(explorer.pctMaxDepth);
            this.changePoints = new int[depth - 1];
            for (int i = 0; i < changePoints.length; i++) {
                changePoints[i] = 1 + choices.nextInt(explorer.pctExpectedSteps);
            }
        }

        /** SplitMix64's finalizer. */
        private static long mix(long z) {
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }

        /** The seed of this schedule. */
        public long seed() {
            return seed;
        }

        /** The strategy this seed chose. */
        public Strategy strategy() {
            return strategy;
        }

        /** Randomness for the scenario's own choices (sizes, counts); independent of the schedule's step choices. */
        public Random random() {
            return scenarioRandom;
        }

        /** Adds manual reactors whose steps this schedule chooses, labelled by their names. */
        public Schedule reactors(Collection<Reactor> reactors) {
            for (Reactor r : reactors) {
                reactor(r.name(), r);
            }
            return this;
        }

        /** Adds one manual reactor under {@code label} (use distinct labels when several groups are stepped). */
        public Schedule reactor(String label, Reactor r) {
            if (!r.group().isManual()) {
                throw new IllegalArgumentException("schedule reactor=" + label + ": only manual reactors can be stepped");
            }
            add(new ReactorSource(label, r));
            return this;
        }

        /**
         * Adds an action: a schedule choice that runs {@code run} on the test thread, at most once, at a step where
         * {@code enabled} holds. An action usually sends a task to a reactor (whose step then runs it) or completes
         * something the scenario waits on.
         */
        public Schedule action(String label, BooleanSupplier enabled, Runnable run) {
            add(new Action(label, enabled, run));
            return this;
        }

        /** An action enabled from the start. */
        public Schedule action(String label, Runnable run) {
            return action(label, () -> true, run);
        }

        private void add(Source s) {
            // PCT: initial priorities above every change-point priority (1 .. d-1), distinct with probability 1
            s.priority = depth + choices.nextDouble() * 1_000_000;
            sources.add(s);
        }

        /** Counts this schedule as having reached the situation {@code label} (reported per strategy). */
        public void note(String label) {
            notes.add(label);
        }

        /**
         * Steps the reactors and takes actions, one choice at a time, until {@code done} holds. When no reactor has
         * work and no action is enabled, waits for work from other threads.
         *
         * @throws AssertionError when nothing happens for the explorer's stuck timeout, or after its step limit
         */
        public void runUntil(BooleanSupplier done) {
            long idleSince = 0;
            while (!done.getAsBoolean()) {
                Source s = choose(true);
                if (s == null) {
                    long now = System.nanoTime();
                    if (idleSince == 0) {
                        idleSince = now;
                    } else if (now - idleSince > explorer.stuckAfter.toNanos()) {
                        throw new AssertionError("stuck: no reactor has work, no action is enabled and the scenario is not done after "
                                + explorer.stuckAfter);
                    }
                    LockSupport.parkNanos(20_000);
                    waitedNanos += System.nanoTime() - now;
                    continue;
                }
                idleSince = 0;
                step(s);
            }
        }

        /** Steps the reactors (no actions) until none has work left; does not wait for other threads. */
        public void quiesce() {
            Source s;
            while ((s = choose(false)) != null) {
                step(s);
            }
        }

        private Source choose(boolean withActions) {
            candidates.clear();
            for (int i = 0; i < sources.size(); i++) {
                Source s = sources.get(i);
                if ((withActions || s instanceof ReactorSource) && s.candidate()) {
                    candidates.add(s);
                }
            }
            if (candidates.isEmpty()) {
                return null;
            }
            if (strategy == Strategy.RANDOM) {
                return candidates.get(choices.nextInt(candidates.size()));
            }
            Source best = candidates.get(0);
            for (int i = 1; i < candidates.size(); i++) {
                if (candidates.get(i).priority > best.priority) {
                    best = candidates.get(i);
                }
            }
            return best;
        }

        private void step(Source s) {
            if (++stepped > explorer.maxSteps) {
                throw new AssertionError("no end after " + explorer.maxSteps + " steps (livelock?)");
            }
            boolean worked;
            if (s instanceof ReactorSource r) {
                Reactor.State before = r.reactor.state();
                int w = r.reactor.pollOnce();
                Reactor.State after = r.reactor.state();
                worked = w > 0 || before != after;
                r.maybe = worked;
                r.lastState = after;
            } else {
                Action a = (Action) s;
                a.fired = true;
                a.run.run();
                worked = true;
            }
            if (!worked) {
                return;
            }
            recorded++;
            hash = (hash ^ s.code) * 0x100000001b3L;
            trace.add(s.label);
            if (strategy == Strategy.PCT) {
                for (int i = 0; i < changePoints.length; i++) {
                    if (changePoints[i] == recorded) {
                        s.priority = i + 1; // below every initial priority: it runs only when nothing above is a candidate
                    }
                }
            }
            for (int i = 0; i < sources.size(); i++) {
                if (sources.get(i) instanceof ReactorSource r && r.reactor.state() == Reactor.State.EXITING) {
                    r.maybe = true; // what it waited for may be gone now: a step may let it finish exiting
                }
            }
        }

        /** The labels of the steps that did work, in order. */
        public List<String> trace() {
            return List.copyOf(trace);
        }

        /** The hash of {@link #trace()}: equal orderings have equal hashes. */
        public long orderingHash() {
            return hash;
        }

        /** Seed, strategy and the last steps, for failure messages. */
        public String describe() {
            int from = Math.max(0, trace.size() - 60);
            return "schedule seed=" + seed + " strategy=" + strategy + (strategy == Strategy.PCT ? "(d=" + depth + ")" : "")
                    + " steps=" + recorded + " last steps=" + trace.subList(from, trace.size());
        }
    }
}
