package io.spindle.runtime;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.dispatch.DispatcherConfigurator;
import org.apache.pekko.dispatch.Dispatchers;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The reactors of one Spindle instance, one per core of the core mask, in ascending core order.
 *
 * <p>Threaded mode ({@link #start(ReactorConfig)}) gives each reactor a platform thread named
 * {@code reactor_<core>} that lives until {@link #close()}. Manual mode ({@link #manual(ReactorConfig)})
 * gives none: a test steps reactors with {@link #pollOnce(int)}, {@link #pollUntilIdle()} and
 * {@link #advanceTime(Duration)}, as SPDK's {@code ut_multithread} does, and actors placed on a reactor run
 * only while it is stepped.
 *
 * <p>{@link #registerDispatchers(ActorSystem)} exposes every reactor to Pekko as a dispatcher (type
 * {@code Dispatcher} with {@link ReactorExecutorConfigurator} as its executor); actors spawned with
 * {@link Reactor#dispatcher()} run on that reactor and no other.
 *
 * <p>Thread-safe, except the manual stepping methods, which one test thread calls.
 */
public final class ReactorGroup implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReactorGroup.class);
    private static final AtomicLong IDS = new AtomicLong();
    private static final Map<String, Reactor> DISPATCHER_REACTORS = new ConcurrentHashMap<>();
    /** Config key, inside a reactor dispatcher's config, naming the reactor it runs on. */
    static final String REACTOR_KEY = "spindle-reactor";

    private final long id;
    private final ReactorConfig config;
    private final Reactor[] reactors;
    private final Set<IoDevice<?>> devices = ConcurrentHashMap.newKeySet();
    private final List<Reactor> reactorList;

    private ReactorGroup(ReactorConfig config) {
        this.id = IDS.incrementAndGet();
        this.config = config;
        CoreMask mask = config.mask();
        this.reactors = new Reactor[mask.size()];
        for (int i = 0; i < reactors.length; i++) {
            reactors[i] = new Reactor(this, i, mask.core(i), config);
            DISPATCHER_REACTORS.put(dispatcherKey(reactors[i]), reactors[i]);
        }
        this.reactorList = List.of(reactors);
    }

    /**
     * Creates the reactors and starts one thread each.
     *
     * @throws IllegalArgumentException if {@code config} is in manual mode
     */
    public static ReactorGroup start(ReactorConfig config) {
        if (config.manual()) {
            throw new IllegalArgumentException("ReactorGroup.start: mode=manual, use ReactorGroup.manual(config)");
        }
        ReactorGroup g = new ReactorGroup(config);
        for (Reactor r : g.reactors) {
            r.startThread();
        }
        LOG.info("started {} reactor(s) on core mask {} idle={}{}", g.reactors.length, config.mask(), config.idle().configName(),
                config.pin() ? " pinned" : "");
        return g;
    }

    /**
     * Creates reactors that own no thread, for tests.
     *
     * @throws IllegalArgumentException if {@code config} is not in manual mode
     */
    public static ReactorGroup manual(ReactorConfig config) {
        if (!config.manual()) {
            throw new IllegalArgumentException("ReactorGroup.manual: mode=threaded, build the config with manual(true)");
        }
        return new ReactorGroup(config);
    }

    /** Manual group of {@code n} reactors (cores 0..n-1) on a fresh {@link ManualClock}. */
    public static ReactorGroup manual(int n) {
        return manual(ReactorConfig.builder().mask(CoreMask.firstN(n)).manual(true).conclude());
    }

    /** Either {@link #start} or {@link #manual}, as the config says. */
    public static ReactorGroup create(ReactorConfig config) {
        return config.manual() ? manual(config) : start(config);
    }

    static Reactor dispatcherReactor(String key) {
        return DISPATCHER_REACTORS.get(key);
    }

    private static String dispatcherKey(Reactor r) {
        return r.group.id + "/" + r.index;
    }

    /** Unique id of this group within the JVM; part of its dispatcher ids. */
    public long id() {
        return id;
    }

    /** The configuration the group was built from. */
    public ReactorConfig config() {
        return config;
    }

    /** Number of reactors. */
    public int size() {
        return reactors.length;
    }

    /** The reactor at {@code index} (0-based, ascending core). */
    public Reactor reactor(int index) {
        if (index < 0 || index >= reactors.length) {
            throw new IndexOutOfBoundsException("reactor index=" + index + ": group has " + reactors.length + " reactor(s)");
        }
        return reactors[index];
    }

    /** All reactors in ascending core order. */
    public List<Reactor> reactors() {
        return reactorList;
    }

    /** The clock of this group. */
    public ReactorClock clock() {
        return config.clock();
    }

    /** Whether this group is stepped by hand. */
    public boolean isManual() {
        return config.manual();
    }

    void addDevice(IoDevice<?> d) {
        devices.add(d);
    }

    void removeDevice(IoDevice<?> d) {
        devices.remove(d);
    }

    /** The io_devices registered on this group and not yet fully unregistered. */
    public Collection<IoDevice<?>> devices() {
        return Collections.unmodifiableSet(devices);
    }

    // ------------------------------------------------------------------ Pekko

    /**
     * Registers one dispatcher per reactor with {@code system}, so {@link Reactor#dispatcher()} can be used to
     * spawn actors there. Idempotent per system. Call before spawning on a reactor.
     */
    public void registerDispatchers(ActorSystem<?> system) {
        Dispatchers dispatchers = Adapter.toClassic(system).dispatchers();
        Config base = system.settings().config().getConfig("pekko.actor.default-dispatcher");
        for (Reactor r : reactors) {
            Map<String, Object> m = new HashMap<>();
            m.put("id", r.dispatcherId());
            m.put("type", "Dispatcher");
            m.put("executor", ReactorExecutorConfigurator.class.getName());
            m.put("throughput", config.dispatcherThroughput());
            m.put(REACTOR_KEY, dispatcherKey(r));
            // The reactor thread lives as long as the group; a Pekko dispatcher shutdown after its last actor
            // stops only drops the executor view, so a longer timeout merely avoids needless churn.
            m.put("shutdown-timeout", "60s");
            Config c = ConfigFactory.parseMap(m).withFallback(base);
            dispatchers.registerConfigurator(r.dispatcherId(), new DispatcherConfigurator(c, dispatchers.prerequisites()));
        }
    }

    // ------------------------------------------------------------------ manual stepping

    /** One iteration of reactor {@code index}; manual mode only. */
    public int pollOnce(int index) {
        return reactor(index).pollOnce();
    }

    /**
     * Polls reactor {@code index} until an iteration does no work.
     *
     * @return total work count
     * @throws IllegalStateException when it is still busy after 1,000,000 iterations (a poller that is never idle)
     */
    public int pollUntilIdle(int index) {
        Reactor r = reactor(index);
        int total = 0;
        for (int i = 0; i < 1_000_000; i++) {
            int w = r.pollOnce();
            if (w == 0) {
                return total;
            }
            total += w;
        }
        throw new IllegalStateException("pollUntilIdle " + r.name() + ": still busy after 1000000 iterations");
    }

    /**
     * Polls every reactor, in index order, until a full round does no work: SPDK's {@code poll_threads()}.
     *
     * @return total work count
     */
    public int pollUntilIdle() {
        int total = 0;
        for (int round = 0; round < 1_000_000; round++) {
            int w = 0;
            for (Reactor r : reactors) {
                w += r.pollOnce();
            }
            if (w == 0) {
                return total;
            }
            total += w;
        }
        throw new IllegalStateException("pollUntilIdle: reactors still busy after 1000000 rounds");
    }

    /**
     * Steps every reactor until {@code done} holds, sleeping briefly between idle rounds so work that arrives
     * from Pekko's own threads (spawns, replies to test probes) can land.
     *
     * @throws AssertionError when {@code timeout} passes first
     */
    public void pollUntil(BooleanSupplier done, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            if (pollUntilIdle() == 0) {
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("condition not met within " + timeout);
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError("interrupted", e);
                }
            }
        }
    }

    /** Moves the manual clock forward. */
    public void advanceTime(Duration d) {
        if (!(config.clock() instanceof ManualClock mc)) {
            throw new IllegalStateException("advanceTime: the group's clock is not a ManualClock");
        }
        mc.advance(d);
    }

    // ------------------------------------------------------------------ stop

    /** Whether every reactor thread has ended (always true in manual mode). Any thread. */
    public boolean threadsEnded() {
        for (Reactor r : reactors) {
            Thread t = r.thread();
            if (t != null && t.isAlive()) {
                return false;
            }
        }
        return true;
    }

    /** Asks every reactor to exit (see {@link Reactor} for the exit rule). Idempotent, any thread. */
    public void requestStop() {
        for (Reactor r : reactors) {
            r.requestExit();
        }
    }

    /**
     * Waits for every reactor thread to end (threaded), or steps manual reactors until they exited.
     *
     * @return true when all reactors exited within {@code timeout}
     */
    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        if (!config.manual()) {
            Reactor.refuseBlockingCall("ReactorGroup.awaitStopped");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        if (config.manual()) {
            while (System.nanoTime() - deadline < 0) {
                boolean all = true;
                for (Reactor r : reactors) {
                    r.pollOnce();
                    all &= r.state() == Reactor.State.EXITED;
                }
                if (all) {
                    return true;
                }
            }
            return false;
        }
        for (Reactor r : reactors) {
            Thread t = r.thread();
            long left = deadline - System.nanoTime();
            if (t != null) {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                if (t.isAlive()) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * Stops the reactors and waits for them: a clean exit within {@code exit-timeout} each, forced after.
     * Manual reactors still holding resources after their exit check are forced out with an error log.
     * Idempotent, any thread except a reactor ({@link BlockingCallOnReactorException}); on an actor's thread use
     * {@link #release()}, which does not wait.
     */
    @Override
    public void close() {
        if (!config.manual()) {
            Reactor.refuseBlockingCall("ReactorGroup.close");
        }
        requestStop();
        try {
            Duration wait = config.exitTimeout().plusSeconds(5);
            if (!awaitStopped(config.manual() ? Duration.ofMillis(200) : wait)) {
                if (config.manual()) {
                    for (Reactor r : reactors) {
                        r.forceExitManual();
                    }
                } else {
                    List<String> alive = new ArrayList<>();
                    for (Reactor r : reactors) {
                        if (r.thread() != null && r.thread().isAlive()) {
                            alive.add(r.name());
                        }
                    }
                    LOG.error("reactor thread(s) {} did not end within {}", alive, wait);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            for (Reactor r : reactors) {
                DISPATCHER_REACTORS.remove(dispatcherKey(r));
            }
        }
    }

    /**
     * Asks every reactor to exit and drops the group's dispatcher registrations, without waiting for the threads:
     * the stop for a caller that must not block (an actor, such as the app actor once it has seen the reactors
     * exit or given up waiting). Threads still running end on their own; {@link #threadsEnded()} tells when.
     * Idempotent, any thread.
     */
    public void release() {
        requestStop();
        for (Reactor r : reactors) {
            DISPATCHER_REACTORS.remove(dispatcherKey(r));
        }
    }

    @Override
    public String toString() {
        return "ReactorGroup[" + id + ", " + config + "]";
    }
}
