package io.spindle.runtime;

import net.openhft.affinity.Affinity;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One reactor: a single platform thread (or, in manual mode, a test) that runs a poll loop for one core of
 * the core mask. SPDK's reactor and its {@code spdk_thread} in one.
 *
 * <p>Each loop iteration: run up to {@code max-tasks-per-loop} queued tasks (cross-thread messages and Pekko
 * mailbox runs of the actors placed on this reactor's dispatcher), run every active poller (newest first),
 * run every timed poller that is due (in deadline order, ties in registration order), then, if nothing was
 * done, apply the {@link IdleMode}. The iteration is accounted busy when any task ran or any poller
 * returned a positive work count.
 *
 * <p><b>Threads.</b> {@link #send(Runnable)} is callable from any thread. Everything else that touches
 * reactor-owned state (pollers, channels) must run on this reactor: {@link #current()} is this reactor
 * exactly while its loop, or a manual {@link #pollOnce()}, is running on the calling thread.
 *
 * <p><b>Exit.</b> {@link ReactorGroup#requestStop()} moves a reactor to {@link State#EXITING}. It keeps
 * looping until its task queue is empty and it holds no poller, no io_channel and no fan-out it
 * originated, or until {@code exit-timeout} passes (then it logs what it still held and is forced), then
 * it is {@link State#EXITED}: sends fail with {@link ReactorStoppedException} from then on.
 */
public final class Reactor {
    private static final Logger LOG = LoggerFactory.getLogger(Reactor.class);
    private static final ThreadLocal<Reactor> CURRENT = new ThreadLocal<>();
    private static final VarHandle LONG_OPAQUE;

    static {
        try {
            LONG_OPAQUE = MethodHandles.lookup().findVarHandle(Counters.class, "value", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Life-cycle of a reactor. */
    public enum State {
        /** Running its loop. */
        RUNNING,
        /** Stop requested: draining tasks, channels, pollers and fan-outs. */
        EXITING,
        /** Gone: sends are refused. */
        EXITED
    }

    /** A counter written by the owner with opaque stores and read by anyone without tearing. */
    static final class Counters {
        long value;

        void add(long delta) {
            LONG_OPAQUE.setOpaque(this, value + delta);
        }

        long get() {
            return (long) LONG_OPAQUE.getOpaque(this);
        }
    }

    final ReactorGroup group;
    final int index;
    final int core;
    /**
     * The thread this reactor is current on, or null: the owner checks' fast path ({@code currentThread()} is
     * an intrinsic, a {@link ThreadLocal} lookup is not). Written only by that thread, together with
     * {@link #CURRENT}; a thread reading it sees either its own write or another thread's, never a stale
     * value naming itself, so the check is exact. When a manual reactor is stepped inside another's step,
     * the outer one's field is cleared for the duration.
     */
    private Thread runningThread;
    /** See {@link #runSeq()}: bumped before each task and each poller run. */
    private long runSeq;
    private long pollerIds;
    private volatile long nativeTid = -1;

    private final String name;
    private final String dispatcherId;
    private final ReactorConfig config;
    private final ReactorClock clock;
    private final ManyToOneConcurrentLinkedQueue<Runnable> tasks = new ManyToOneConcurrentLinkedQueue<>();
    /** What senders touch on every send, padded off the lines this reactor writes each loop (see its Javadoc). */
    private final ReactorSendSide sendSide = new ReactorSendSide();
    private volatile State state = State.RUNNING;
    private volatile Thread thread;
    private volatile long exitDeadline;

    // ---- owner-thread state ----
    private final ArrayList<Poller> activePollers = new ArrayList<>();
    private final PriorityQueue<Poller> timedPollers = new PriorityQueue<>(
            (a, b) -> a.nextRun != b.nextRun ? Long.compare(a.nextRun, b.nextRun) : Long.compare(a.seq, b.seq));
    private final ArrayList<Poller> pausedPollers = new ArrayList<>();
    private final ArrayList<FanOuts> originators = new ArrayList<>();
    private long pollerSeq;
    private int registeredPollers;
    int channelCount;
    int pendingUnregisters;
    /**
     * The channel whose {@link ChannelFactory#create create} or {@link ChannelFactory#destroy destroy} is running
     * on this reactor now, or null: gets during a create and puts during a destroy are recorded against it
     * (nested channels, see {@link IoChannel}). Owner thread only.
     */
    IoChannel<?> creatingChannel;
    IoChannel<?> destroyingChannel;
    private long now;
    private long lastLoopStart;
    private boolean lastBusy;
    private int idleSpins;
    private int idleYields;
    private long idleParkNanos;

    private final Counters busyNanos = new Counters();
    private final Counters idleNanos = new Counters();
    private final Counters loops = new Counters();
    private final Counters tasksRun = new Counters();
    private final Counters pollerRuns = new Counters();

    Reactor(ReactorGroup group, int index, int core, ReactorConfig config) {
        this.group = group;
        this.index = index;
        this.core = core;
        this.name = "reactor_" + core;
        this.dispatcherId = "spindle-reactor-" + group.id() + "-" + core;
        this.config = config;
        this.clock = config.clock();
        this.now = clock.nanoTime();
    }

    // ------------------------------------------------------------------ identity

    /** The reactor running on the calling thread, or {@code null} when the caller is not a reactor. */
    public static Reactor current() {
        return CURRENT.get();
    }

    /**
     * The reactor running on the calling thread.
     *
     * @throws IllegalStateException naming the calling thread when it is not a reactor
     */
    public static Reactor currentOrThrow(String what) {
        Reactor r = CURRENT.get();
        if (r == null) {
            throw new IllegalStateException(what + ": must be called on a reactor, caller thread=" + Thread.currentThread().getName());
        }
        return r;
    }

    /**
     * Refuses a blocking call on a reactor thread: throws {@link BlockingCallOnReactorException} naming
     * {@code what} when the caller is a reactor (of any group; a manual reactor while it is stepped), returns
     * otherwise. Every Spindle call that waits for reactors or actors ({@code Spindle.stopAndWait},
     * {@code JsonConfig.apply}, {@link ReactorGroup#close}, a join on an {@link OffReactorFuture}) starts with it.
     */
    public static void refuseBlockingCall(String what) {
        OffReactorFuture.refuseOnReactor(what);
    }

    /** Thread name, {@code reactor_<core>}. */
    public String name() {
        return name;
    }

    /** Position in the group, 0-based, ascending with the core. Fan-outs walk in this order. */
    public int index() {
        return index;
    }

    /** The core of the core mask this reactor serves. */
    public int core() {
        return core;
    }

    /** The group this reactor belongs to. */
    public ReactorGroup group() {
        return group;
    }

    /** Current state; readable from any thread. */
    public State state() {
        return state;
    }

    /** Whether the calling thread is currently running this reactor. */
    public boolean isCurrent() {
        return runningThread == Thread.currentThread();
    }

    /** The Pekko dispatcher id of this reactor (registered by {@link ReactorGroup#registerDispatchers}). */
    public String dispatcherId() {
        return dispatcherId;
    }

    /** Selector that places an actor on this reactor: it then runs on this reactor's thread and no other. */
    public DispatcherSelector dispatcher() {
        return DispatcherSelector.fromConfig(dispatcherId);
    }

    /** Time of the current loop iteration, from the group's clock. Owner thread only for exactness. */
    public long now() {
        return now;
    }

    /**
     * A number that changes each time this reactor starts a task or a poller run (it never repeats while the reactor
     * lives). Code that may read the clock many times within one run can read it once per run instead (the bdev
     * layer's I/O timestamps). Owner thread only.
     */
    public long runSeq() {
        return runSeq;
    }

    /**
     * Throws unless the calling thread is running this reactor; for code outside this package that must
     * enforce reactor ownership (descriptors, I/O).
     *
     * @throws IllegalStateException naming {@code what}, the owner and the caller
     */
    public void assertCurrent(String what) {
        if (runningThread != Thread.currentThread()) {
            checkOwner(what);
        }
    }

    /** {@link #assertCurrent(String)} with the message built only on failure: {@code what + subject}. */
    public void assertCurrent(String what, String subject) {
        checkOwner(what, subject);
    }

    /** Owner check that builds its message only on failure: {@code what + subject}. No allocation when it passes. */
    void checkOwner(String what, String subject) {
        if (runningThread != Thread.currentThread()) {
            checkOwner(what + subject);
        }
    }

    void checkOwner(String what) {
        if (runningThread != Thread.currentThread()) {
            Reactor cur = CURRENT.get();
            throw new IllegalStateException(what + ": owner=" + name + " but caller=" + (cur == null ? "thread " + Thread.currentThread().getName() : cur.name));
        }
    }

    // ------------------------------------------------------------------ messages

    /**
     * Queues {@code task} to run on this reactor: SPDK's {@code spdk_thread_send_msg}. Never runs inline
     * (even when called on this reactor), FIFO per reactor, callable from any thread.
     *
     * @throws ReactorStoppedException when this reactor has exited; the task was not queued
     */
    public void send(Runnable task) {
        Objects.requireNonNull(task, "task");
        ReactorSendSide side = sendSide;
        if (runningThread == Thread.currentThread()) {
            // On this reactor's own thread (an actor on its dispatcher telling a neighbour, a task queueing the next):
            // the exit runs on this thread too, so nothing can set EXITED between the check and the enqueue, and
            // the reactor is running, not parked. No window counter and no unpark: two atomic operations less.
            if (side.exited) {
                throw new ReactorStoppedException("send to " + name + " refused: reactor state=EXITED");
            }
            tasks.offer(task);
            return;
        }
        // The counter closes the race with exit: the reactor waits until no send is between its state
        // check and its enqueue before the final drain, so an accepted task is always run.
        side.enterSend();
        try {
            if (side.exited) {
                throw new ReactorStoppedException("send to " + name + " refused: reactor state=EXITED");
            }
            tasks.offer(task);
        } finally {
            side.leaveSend();
        }
        if (side.sleeping) {
            Thread t = side.thread;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    /**
     * Whether tasks are queued on this reactor and not yet run. Any thread; exact on this reactor, and on a manual
     * reactor between its steps when no other thread sends to it; elsewhere a hint that may be stale by the time it
     * is used. For test schedulers that choose which manual reactor steps next.
     */
    public boolean hasQueuedTasks() {
        return !tasks.isEmpty();
    }

    // ------------------------------------------------------------------ pollers

    /**
     * Registers a poller that runs on every loop iteration. Must be called on this reactor.
     *
     * @throws IllegalStateException when called elsewhere or after the reactor exited
     */
    public Poller registerPoller(String name, PollerFn fn) {
        return registerPoller(name, fn, 0, TimeUnit.NANOSECONDS);
    }

    /**
     * Registers a poller: every loop when {@code period == 0}, else every {@code period} (re-armed at the
     * start time of the iteration that ran it plus the period; no catch-up). Must be called on this reactor.
     *
     * @throws IllegalStateException when called elsewhere or after the reactor exited
     * @throws IllegalArgumentException for a negative period
     */
    public Poller registerPoller(String name, PollerFn fn, long period, TimeUnit unit) {
        checkOwner("registerPoller poller=" + name);
        Objects.requireNonNull(fn, "fn");
        Objects.requireNonNull(name, "name");
        if (period < 0) {
            throw new IllegalArgumentException("poller=" + name + " period=" + period + ": must be >= 0");
        }
        if (state == State.EXITED) {
            throw new IllegalStateException("registerPoller poller=" + name + ": reactor " + this.name + " has exited");
        }
        Poller p = new Poller(this, name, fn, unit.toNanos(period));
        p.id = ++pollerIds;
        registeredPollers++;
        if (p.periodNanos == 0) {
            activePollers.add(p);
        } else {
            p.nextRun = now + p.periodNanos;
            p.seq = ++pollerSeq;
            timedPollers.add(p);
        }
        return p;
    }

    void unregisterPoller(Poller p) {
        if (p.state == Poller.State.UNREGISTERED) {
            return;
        }
        Poller.State was = p.state;
        p.state = Poller.State.UNREGISTERED;
        p.pausePending = false;
        registeredPollers--;
        if (was == Poller.State.PAUSED) {
            pausedPollers.remove(p);
        } else if (p.periodNanos > 0 && !p.running) {
            timedPollers.remove(p);
        }
        // an active poller is reaped when the loop next reaches it (it may be mid-iteration now)
    }

    void pausePoller(Poller p) {
        if (p.state != Poller.State.ACTIVE || p.pausePending) {
            return;
        }
        if (p.periodNanos > 0 && !p.running) {
            timedPollers.remove(p);
            p.state = Poller.State.PAUSED;
            pausedPollers.add(p);
        } else {
            p.pausePending = true; // takes effect when the loop next reaches it
        }
    }

    void resumePoller(Poller p) {
        if (p.pausePending) {
            p.pausePending = false;
            return;
        }
        if (p.state != Poller.State.PAUSED) {
            return;
        }
        pausedPollers.remove(p);
        p.state = Poller.State.ACTIVE;
        if (p.periodNanos == 0) {
            activePollers.add(p);
        } else {
            p.nextRun = now + p.periodNanos;
            p.seq = ++pollerSeq;
            timedPollers.add(p);
        }
    }

    /** Names of the registered (not unregistered) pollers. Owner thread only. */
    public List<String> pollerNames() {
        checkOwner("pollerNames");
        List<String> out = new ArrayList<>();
        for (Poller p : activePollers) {
            if (p.state != Poller.State.UNREGISTERED) {
                out.add(p.name);
            }
        }
        for (Poller p : timedPollers) {
            out.add(p.name);
        }
        for (Poller p : pausedPollers) {
            out.add(p.name);
        }
        return out;
    }

    /** Every registered poller (active, timed, paused). Owner thread only. */
    public List<Poller> pollers() {
        checkOwner("pollers");
        List<Poller> out = new ArrayList<>();
        for (Poller p : activePollers) {
            if (p.state != Poller.State.UNREGISTERED) {
                out.add(p);
            }
        }
        out.addAll(timedPollers);
        out.addAll(pausedPollers);
        return out;
    }

    /** An io_channel on this reactor as {@code thread_get_io_channels} reports it. */
    public record ChannelInfo(String ioDevice, int refs) {
    }

    /** The io_channels on this reactor, in io_device registration order. Owner thread only. */
    public List<ChannelInfo> channels() {
        checkOwner("channels");
        List<ChannelInfo> out = new ArrayList<>();
        for (IoDevice<?> d : group.devices()) {
            IoChannel<?> ch = d.channelOn(this);
            if (ch != null) {
                out.add(new ChannelInfo(d.name(), ch.refs));
            }
        }
        return out;
    }

    /**
     * The operating system's id of the reactor thread (Linux {@code gettid}, SPDK's {@code tid}), or -1 when
     * unknown (manual mode, or not Linux). Any thread.
     */
    public long nativeThreadId() {
        return nativeTid;
    }

    /** The Java thread running this reactor, or null in manual mode or before start. Any thread. */
    public Thread javaThread() {
        return thread;
    }

    private static long readNativeTid() {
        try {
            // /proc/thread-self -> <pid>/task/<tid>
            java.nio.file.Path link = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/thread-self"));
            return Long.parseLong(link.getFileName().toString());
        } catch (Exception | LinkageError e) {
            return -1;
        }
    }

    // ------------------------------------------------------------------ fan-out originators

    void addOriginator(FanOuts f) {
        originators.add(f);
    }

    private int originatedWalks() {
        int n = 0;
        for (int i = 0; i < originators.size(); i++) {
            n += originators.get(i).inFlight();
        }
        return n;
    }

    // ------------------------------------------------------------------ loop

    /**
     * One loop iteration, for manual mode: SPDK's {@code poll_thread_times(i, 1)}. Sets this reactor as
     * current on the calling thread for the duration.
     *
     * <p>Stepping an {@link State#EXITED} reactor is not an error: nothing runs and the work count is 0, as
     * SPDK's {@code poll_threads()} keeps polling threads that have exited. This lets a test step the whole
     * group ({@link ReactorGroup#pollUntilIdle()}) while some of its reactors are already gone.
     *
     * @return the work count (0 when idle or exited)
     * @throws IllegalStateException on a threaded reactor
     */
    public int pollOnce() {
        if (!config.manual()) {
            throw new IllegalStateException("pollOnce on " + name + ": only reactors in manual mode can be stepped");
        }
        if (state == State.EXITED) {
            return 0;
        }
        Reactor prev = enter();
        try {
            int work = runOnce();
            if (state == State.EXITING && exitReady()) {
                finishExit();
            }
            return work;
        } finally {
            leave(prev);
        }
    }

    /** Makes this reactor current on the calling thread; returns the one it replaces (restored by leave). */
    private Reactor enter() {
        Reactor prev = CURRENT.get();
        if (prev != null) {
            prev.runningThread = null;
        }
        CURRENT.set(this);
        runningThread = Thread.currentThread();
        return prev;
    }

    private void leave(Reactor prev) {
        runningThread = null;
        // set, not remove(): a removed entry is re-created (allocated) by the next pollOnce's get()
        CURRENT.set(prev);
        if (prev != null) {
            prev.runningThread = Thread.currentThread();
        }
    }

    /** Runs one iteration; owner thread. */
    int runOnce() {
        long t = clock.nanoTime();
        if (lastLoopStart != 0) {
            if (lastBusy) {
                busyNanos.add(t - lastLoopStart);
            } else {
                idleNanos.add(t - lastLoopStart);
            }
        }
        lastLoopStart = t;
        now = t;
        int work = runTasks();
        work += runActivePollers();
        if (!timedPollers.isEmpty()) {
            work += runTimedPollers(t);
        }
        loops.add(1);
        lastBusy = work > 0;
        return work;
    }

    private int runTasks() {
        int n = 0;
        int max = config.maxTasksPerLoop();
        for (; n < max; n++) {
            Runnable r = tasks.poll();
            if (r == null) {
                break;
            }
            runSeq++;
            try {
                r.run();
            } catch (Throwable e) {
                LOG.error("{}: task {} threw; the reactor keeps running", name, r, e);
            }
        }
        if (n > 0) {
            tasksRun.add(n);
        }
        return n;
    }

    private int runActivePollers() {
        ArrayList<Poller> list = activePollers;
        int work = 0;
        // newest first, as SPDK; only the element at i is ever removed during the walk, which keeps the
        // indices below i valid. Pollers registered meanwhile are appended above i and run next time.
        for (int i = list.size() - 1; i >= 0; i--) {
            Poller p = list.get(i);
            if (settle(list, i, p)) {
                continue;
            }
            work += runPoller(p);
            settle(list, i, p);
        }
        return work;
    }

    /** Moves an unregistered or pause-pending poller out of the active list; true if it did. */
    private boolean settle(ArrayList<Poller> list, int i, Poller p) {
        if (p.state == Poller.State.UNREGISTERED) {
            list.remove(i);
            return true;
        }
        if (p.pausePending) {
            list.remove(i);
            p.pausePending = false;
            p.state = Poller.State.PAUSED;
            pausedPollers.add(p);
            return true;
        }
        return false;
    }

    private int runTimedPollers(long t) {
        int work = 0;
        Poller p;
        while ((p = timedPollers.peek()) != null && p.nextRun <= t) {
            timedPollers.poll();
            work += runPoller(p);
            if (p.state == Poller.State.UNREGISTERED) {
                continue;
            }
            if (p.pausePending) {
                p.pausePending = false;
                p.state = Poller.State.PAUSED;
                pausedPollers.add(p);
                continue;
            }
            p.nextRun = t + p.periodNanos;
            p.seq = ++pollerSeq;
            timedPollers.add(p);
        }
        return work;
    }

    private int runPoller(Poller p) {
        int rc;
        p.running = true;
        runSeq++;
        try {
            rc = p.fn.poll();
        } catch (Throwable e) {
            LOG.error("{}: poller {} threw; counted idle", name, p.name, e);
            rc = 0;
        } finally {
            p.running = false;
        }
        p.runCount++;
        pollerRuns.add(1);
        if (rc > 0) {
            p.busyCount++;
            return rc;
        }
        return 0;
    }

    // ------------------------------------------------------------------ threaded mode

    void startThread() {
        Thread t = new Thread(this::threadMain, name);
        t.setDaemon(false);
        thread = t;
        sendSide.thread = t;
        t.start();
    }

    private void threadMain() {
        CURRENT.set(this);
        runningThread = Thread.currentThread();
        nativeTid = readNativeTid();
        if (config.pin()) {
            pin();
        }
        try {
            while (true) {
                int work = runOnce();
                if (state == State.EXITING && exitReady()) {
                    break;
                }
                if (work == 0) {
                    idle();
                } else {
                    idleSpins = 0;
                    idleYields = 0;
                    idleParkNanos = 0;
                }
            }
            finishExit();
        } catch (Throwable e) {
            LOG.error("{}: loop failed; reactor exits", name, e);
            forceExited();
        } finally {
            runningThread = null;
            CURRENT.remove();
        }
    }

    private void pin() {
        try {
            config.pinner().accept(core);
            LOG.info("{}: pinned to core {}", name, core);
        } catch (Throwable e) {
            LOG.warn("{}: could not pin to core {} ({}); running unpinned", name, core, e.toString());
        }
    }

    /**
     * Pins the calling thread to {@code core} with OpenHFT affinity and reads the mask back: without JNA,
     * OpenHFT falls back to an implementation whose set is a silent no-op, which must count as a failure.
     *
     * @throws IllegalStateException when the thread's affinity afterwards is not exactly {@code core}
     */
    static void pinWithAffinity(int core) {
        Affinity.setAffinity(core);
        BitSet now = Affinity.getAffinity();
        if (now.cardinality() != 1 || !now.get(core)) {
            throw new IllegalStateException("affinity after setAffinity(" + core + ") is " + now + " ("
                    + Affinity.getAffinityImpl().getClass().getSimpleName() + ")");
        }
    }

    private void idle() {
        switch (config.idle()) {
            case BUSY -> Thread.onSpinWait();
            case YIELD -> Thread.yield();
            // with pollers registered they must run again soon; with none, only a send (which unparks) brings work
            case PARK -> park(registeredPollers > 0 ? config.maxParkNanos() : config.parkMaxParkNanos());
            case BACKOFF -> {
                if (idleSpins < config.backoffSpins()) {
                    idleSpins++;
                    Thread.onSpinWait();
                } else if (idleYields < config.backoffYields()) {
                    idleYields++;
                    Thread.yield();
                } else {
                    idleParkNanos = idleParkNanos == 0 ? config.minParkNanos() : Math.min(idleParkNanos << 1, config.maxParkNanos());
                    park(idleParkNanos);
                }
            }
            default -> throw new IllegalStateException("idle mode " + config.idle());
        }
    }

    private void park(long nanos) {
        Poller next = timedPollers.peek();
        if (next != null) {
            nanos = Math.min(nanos, next.nextRun - clock.nanoTime());
        }
        if (state == State.EXITING) {
            nanos = Math.min(nanos, TimeUnit.MILLISECONDS.toNanos(1));
        }
        if (nanos <= 0) {
            return;
        }
        ReactorSendSide side = sendSide;
        side.sleeping = true;
        // re-check after publishing 'sleeping': a sender that enqueued before seeing it is caught here
        if (tasks.isEmpty()) {
            LockSupport.parkNanos(this, nanos);
        }
        side.sleeping = false;
    }

    void wake() {
        Thread t = thread;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    Thread thread() {
        return thread;
    }

    // ------------------------------------------------------------------ exit

    void requestExit() {
        synchronized (this) {
            if (state != State.RUNNING) {
                return;
            }
            exitDeadline = clock.nanoTime() + config.exitTimeout().toNanos();
            state = State.EXITING;
        }
        wake();
    }

    private boolean exitReady() {
        if (tasks.isEmpty() && registeredPollers == 0 && channelCount == 0 && pendingUnregisters == 0 && originatedWalks() == 0) {
            return true;
        }
        if (!config.manual() && clock.nanoTime() - exitDeadline >= 0) {
            LOG.error("{}: still held after exit-timeout={}: {}; forcing exit", name, config.exitTimeout(), leakReport());
            return true;
        }
        return false;
    }

    /** Forces a manual reactor out of EXITING even though it still holds resources (test teardown). */
    void forceExitManual() {
        Reactor prev = enter();
        try {
            if (state != State.EXITED) {
                if (!exitReady()) {
                    LOG.error("{}: forced exit while holding: {}", name, leakReport());
                }
                finishExit();
            }
        } finally {
            leave(prev);
        }
    }

    private void finishExit() {
        for (FanOuts f : new ArrayList<>(originators)) {
            f.close();
        }
        state = State.EXITED;
        sendSide.exited = true;
        while (sendSide.sendsInProgress != 0) {
            Thread.onSpinWait();
        }
        // tasks accepted before EXITED was visible still run, exactly once
        Runnable r;
        while ((r = tasks.poll()) != null) {
            try {
                r.run();
            } catch (Throwable e) {
                LOG.error("{}: task {} threw during exit", name, r, e);
            }
        }
        LOG.debug("{}: exited", name);
    }

    private void forceExited() {
        state = State.EXITED;
        sendSide.exited = true;
    }

    /**
     * What this reactor still holds, as SPDK warns at thread exit: registered pollers, live io_channels and
     * fan-outs it originated. Owner thread (or after exit).
     */
    public String leakReport() {
        List<String> held = new ArrayList<>();
        for (Poller p : activePollers) {
            if (p.state != Poller.State.UNREGISTERED) {
                held.add("poller " + p.name);
            }
        }
        for (Poller p : timedPollers) {
            held.add("poller " + p.name);
        }
        for (Poller p : pausedPollers) {
            held.add("poller " + p.name + " (paused)");
        }
        for (IoDevice<?> d : group.devices()) {
            IoChannel<?> ch = d.channelOn(this);
            if (ch != null) {
                held.add("io_channel " + d.name() + " refs=" + ch.refs);
            }
        }
        int walks = originatedWalks();
        if (walks > 0) {
            held.add(walks + " fan-out(s) in flight");
        }
        if (pendingUnregisters > 0) {
            held.add(pendingUnregisters + " io_device unregister(s) pending");
        }
        if (!tasks.isEmpty()) {
            held.add("queued tasks");
        }
        return held.isEmpty() ? "nothing" : String.join(", ", held);
    }

    /** Whether the reactor holds nothing a clean exit would wait for. Owner thread. */
    public boolean holdsNothing() {
        checkOwner("holdsNothing");
        return registeredPollers == 0 && channelCount == 0 && pendingUnregisters == 0 && originatedWalks() == 0;
    }

    // ------------------------------------------------------------------ stats

    /**
     * The counters of this reactor. Callable from any thread: each counter is read atomically, though the set
     * is not one atomic snapshot unless taken on the reactor itself. Poller and channel counts are read only
     * on the owner thread; elsewhere they are -1 (see {@link ReactorStats}).
     */
    public ReactorStats stats() {
        int active = 0;
        int timed;
        int pausedN;
        if (isCurrent()) {
            for (Poller p : activePollers) {
                if (p.state != Poller.State.UNREGISTERED) {
                    active++;
                }
            }
            timed = timedPollers.size();
            pausedN = pausedPollers.size();
        } else {
            timed = -1;
            pausedN = -1;
            active = -1;
        }
        return new ReactorStats(name, core, busyNanos.get(), idleNanos.get(), loops.get(), tasksRun.get(), pollerRuns.get(),
                active, timed, pausedN, isCurrent() ? channelCount : -1);
    }

    @Override
    public String toString() {
        return name;
    }
}
