package io.spindle.transport.aeron;

import io.aeron.Aeron;
import io.aeron.ChannelUri;
import io.aeron.CommonContext;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spindle.app.Spindle;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Aeron side of one Spindle instance: an embedded media driver (or a connection to an external one), the
 * Aeron client, and the transport's control thread. Started by the first user ({@link #acquire}: the nvmf target's
 * {@code nvmf_create_transport}, the initiator's {@code bdev_nvme_attach_controller}) and stopped when the last one
 * {@link #release}s it, so an app that never uses the transport starts nothing.
 *
 * <p><b>Threads.</b>
 * <ul>
 *   <li>The client conductor never has a thread of its own ({@code useConductorAgentInvoker}): a poller on reactor 0
 *       invokes it, and, in the default {@code invoker} threading mode, the driver's duty cycle as well (Aeron's
 *       INVOKER mode), so on a 2-core machine no extra thread spins. Both invocations run under the client lock,
 *       taken with {@code tryLock}: a reactor never blocks on it.</li>
 *   <li>The control thread {@code spindle-transport-<n>} runs the control plane: Aeron's synchronous calls
 *       (adding and closing publications and subscriptions, which drive the driver while they wait), the admin
 *       frames of the target and the initiator, keep-alives and timers. It idles with a back-off up to 1 ms; its
 *       users hand it work with {@link #execute} and register duty cycles with {@link #addAgent}.</li>
 *   <li>Queue pairs' publications and subscriptions are created here and then used only by their reactor.</li>
 * </ul>
 *
 * <p>The driver directory is private ({@code <dir-base>/spindle-aeron-<pid>-<n>}), deleted at stop; directories of
 * dead processes are deleted at start.
 */
public final class AeronTransport {
    static final Logger LOG = LoggerFactory.getLogger("io.spindle.transport");
    private static final Map<ReactorGroup, AeronTransport> INSTANCES = new HashMap<>();
    private static final AtomicInteger SEQ = new AtomicInteger();
    private static final Pattern DIR_NAME = Pattern.compile("spindle-aeron-(\\d+)-\\d+");

    /** A duty cycle run on the control thread every loop. */
    @FunctionalInterface
    public interface ControlAgent {
        /** Does a bounded amount of work; returns the work count. {@code nowNs} is {@code System.nanoTime()}. */
        int doWork(long nowNs);
    }

    private final ReactorGroup reactors;
    private final TransportConfig config;
    private final ReentrantLock clientLock = new ReentrantLock();
    private final ManyToOneConcurrentLinkedQueue<Runnable> tasks = new ManyToOneConcurrentLinkedQueue<>();
    private final CopyOnWriteArrayList<ControlAgent> agents = new CopyOnWriteArrayList<>();
    private final Thread control;
    private final Path dir;
    private final boolean ownsDir;
    private MediaDriver driver;
    private AgentInvoker driverInvoker;
    private Aeron aeron;
    private AgentInvoker conductorInvoker;
    private volatile Poller poller;
    private volatile boolean running = true;
    private int refs;
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();

    private AeronTransport(ReactorGroup reactors, TransportConfig config) {
        this.reactors = reactors;
        this.config = config;
        if (config.external()) {
            this.dir = config.aeronDir();
            this.ownsDir = false;
        } else {
            this.dir = config.aeronDir() != null ? config.aeronDir()
                    : config.dirBase().resolve("spindle-aeron-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet());
            this.ownsDir = true;
        }
        this.control = new Thread(this::controlLoop, "spindle-transport-" + SEQ.incrementAndGet());
        this.control.setDaemon(true);
    }

    /**
     * The transport of {@code spindle}, started on first use; each acquire must be matched by one {@link #release}.
     * Any thread (not a reactor: starting the driver blocks).
     *
     * @throws IllegalArgumentException for a bad {@code spindle.transport} setting (naming the key)
     * @throws IllegalStateException when the driver cannot be started or reached
     */
    public static AeronTransport acquire(Spindle spindle) {
        return acquire(spindle.reactors(), () -> TransportConfig.fromConfig(spindle.config().config()));
    }

    /** {@link #acquire(Spindle)} for a reactor group and its settings. */
    public static AeronTransport acquire(ReactorGroup reactors, Supplier<TransportConfig> config) {
        synchronized (INSTANCES) {
            AeronTransport t = INSTANCES.get(reactors);
            if (t == null) {
                t = new AeronTransport(reactors, config.get());
                t.start();
                INSTANCES.put(reactors, t);
            }
            t.refs++;
            return t;
        }
    }

    /** The running transport of {@code reactors}, or null (tests and stats). */
    public static AeronTransport running(ReactorGroup reactors) {
        synchronized (INSTANCES) {
            return INSTANCES.get(reactors);
        }
    }

    /**
     * Drops one reference; the last one stops the transport (asynchronously: the returned stage completes once the
     * driver, the client and the control thread are gone). Any thread, reactors included.
     */
    public CompletableFuture<Void> release() {
        synchronized (INSTANCES) {
            if (--refs > 0) {
                return CompletableFuture.completedFuture(null);
            }
            INSTANCES.remove(reactors);
        }
        execute(this::stopOnControl);
        return stopped;
    }

    /** The settings. */
    public TransportConfig config() {
        return config;
    }

    /** The driver directory. */
    public Path aeronDir() {
        return dir;
    }

    /** The reactors. */
    public ReactorGroup reactors() {
        return reactors;
    }

    /** The client; use it on the control thread only. */
    public Aeron aeron() {
        return aeron;
    }

    /** Whether the caller is the control thread. */
    public boolean onControlThread() {
        return Thread.currentThread() == control;
    }

    /** Runs {@code task} on the control thread (FIFO). Any thread. */
    public void execute(Runnable task) {
        tasks.offer(task);
        LockSupport.unpark(control);
    }

    /** Adds a duty cycle run on every control loop. Any thread. */
    public void addAgent(ControlAgent agent) {
        agents.add(agent);
        LockSupport.unpark(control);
    }

    /** Removes a duty cycle. Any thread. */
    public void removeAgent(ControlAgent agent) {
        agents.remove(agent);
    }

    /**
     * Adds an exclusive publication; control thread only (blocks until the driver answered). A UDP channel whose
     * endpoint is a loopback address gets {@code loopback-mtu} (unless it names an {@code mtu}) when the driver is
     * embedded: see {@link #withMtu}.
     */
    public ExclusivePublication addPublication(String channel, int stream) {
        assertControl();
        return aeron.addExclusivePublication(withMtu(channel, config), stream);
    }

    /**
     * {@code channel} with the MTU for its destination: a UDP endpoint on a loopback address (127.0.0.0/8, ::1,
     * a name resolving to one) gets {@code |mtu=<loopback-mtu>}, since the loopback interface carries datagrams
     * up to 64 KiB unfragmented and every datagram costs the driver a system call on each side (at the default
     * {@code mtu} a 4 KiB read's completion is one datagram; at 65504 fifteen share one). Other channels, a channel
     * that already names an {@code mtu}, and an external driver's channels (its term length is not ours to
     * know) are returned as they are. Any thread (a host name may be resolved: not on a reactor).
     */
    static String withMtu(String channel, TransportConfig config) {
        if (config.external() || config.loopbackMtu() == config.mtu() || !channel.startsWith("aeron:udp")) {
            return channel;
        }
        ChannelUri uri = ChannelUri.parse(channel);
        String endpoint = uri.get(CommonContext.ENDPOINT_PARAM_NAME);
        if (endpoint == null || uri.containsKey(CommonContext.MTU_LENGTH_PARAM_NAME) || !isLoopback(endpoint)) {
            return channel;
        }
        uri.put(CommonContext.MTU_LENGTH_PARAM_NAME, Integer.toString(config.loopbackMtu()));
        return uri.toString();
    }

    /** Whether the host part of {@code host:port} (or {@code [v6]:port}) is a loopback address. */
    static boolean isLoopback(String endpoint) {
        int colon = endpoint.lastIndexOf(':');
        String host = colon > 0 ? endpoint.substring(0, colon) : endpoint;
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException | SecurityException e) {
            return false;
        }
    }

    /** Adds a subscription; control thread only. */
    public Subscription addSubscription(String channel, int stream) {
        assertControl();
        return aeron.addSubscription(channel, stream);
    }

    /** A stream id for a new queue pair, random in [2^24, 2^31) so processes sharing one driver do not collide. */
    public static int newStreamId() {
        return ThreadLocalRandom.current().nextInt(1 << 24, Integer.MAX_VALUE);
    }

    private void assertControl() {
        if (Thread.currentThread() != control) {
            throw new IllegalStateException("aeron client call off the transport's control thread: " + Thread.currentThread().getName());
        }
    }

    // ------------------------------------------------------------------ start / stop

    private void start() {
        try {
            if (!config.external()) {
                cleanStaleDirs(config.dirBase());
                MediaDriver.Context mdc = new MediaDriver.Context()
                        .aeronDirectoryName(dir.toString())
                        .threadingMode(config.threadingMode())
                        .dirDeleteOnStart(true)
                        .dirDeleteOnShutdown(true)
                        .warnIfDirectoryExists(false)
                        .termBufferSparseFile(true)
                        .publicationTermBufferLength(config.termLength())
                        .ipcTermBufferLength(config.termLength())
                        .mtuLength(config.mtu())
                        .ipcMtuLength(config.mtu())
                        .initialWindowLength(config.receiveWindow())
                        .socketRcvbufLength(config.socketBuffer())
                        .socketSndbufLength(config.socketBuffer())
                        .clientLivenessTimeoutNs(config.clientLiveness().toNanos())
                        .publicationUnblockTimeoutNs(config.clientLiveness().toNanos() + 10_000_000_000L)
                        .imageLivenessTimeoutNs(config.imageLiveness().toNanos())
                        .publicationConnectionTimeoutNs(config.pubConnection().toNanos())
                        .driverTimeoutMs(config.driverTimeout().toMillis())
                        .sharedIdleStrategy(new BackoffIdleStrategy(10, 10, 1_000, 1_000_000))
                        .conductorIdleStrategy(new BackoffIdleStrategy(10, 10, 1_000, 1_000_000))
                        .senderIdleStrategy(new BackoffIdleStrategy(10, 10, 1_000, 1_000_000))
                        .receiverIdleStrategy(new BackoffIdleStrategy(10, 10, 1_000, 1_000_000))
                        .sharedNetworkIdleStrategy(new BackoffIdleStrategy(10, 10, 1_000, 1_000_000))
                        .errorHandler(e -> LOG.warn("aeron media driver {}: {}", dir, e.toString()));
                if (config.threadingMode() == ThreadingMode.INVOKER) {
                    mdc.asyncExecutorEnabled(false); // name resolution on the invoking thread: no extra thread
                }
                driver = MediaDriver.launch(mdc);
                driverInvoker = driver.sharedAgentInvoker();
            }
            Aeron.Context ac = new Aeron.Context()
                    .aeronDirectoryName(dir.toString())
                    .useConductorAgentInvoker(true)
                    .clientLock(clientLock)
                    .driverTimeoutMs(config.driverTimeout().toMillis())
                    .errorHandler(e -> LOG.warn("aeron client {}: {}", dir, e.toString()));
            if (driverInvoker != null) {
                ac.driverAgentInvoker(driverInvoker);
            }
            aeron = Aeron.connect(ac);
            conductorInvoker = aeron.conductorAgentInvoker();
        } catch (RuntimeException e) {
            closeQuietly();
            throw new IllegalStateException("aeron " + (config.external() ? "external driver aeron-dir=" + dir : "embedded driver aeron-dir=" + dir)
                    + ": cannot start: " + e, e);
        }
        control.start();
        Reactor r0 = reactors.reactor(0);
        if (r0.isCurrent()) {
            poller = r0.registerPoller("aeron_invoker", this::invoke); // started on reactor 0 itself: no hop, no wait
        } else {
            CompletableFuture<Void> registered = new CompletableFuture<>();
            r0.send(() -> {
                poller = r0.registerPoller("aeron_invoker", this::invoke);
                registered.complete(null);
            });
            // off the reactors, wait for the poller so the first publication finds the driver driven; on another
            // reactor, never wait for reactor 0 (it may be waiting for this one): the poller comes when it runs
            if (Reactor.current() == null) {
                try {
                    registered.get(10, TimeUnit.SECONDS);
                } catch (Exception e) {
                    LOG.warn("aeron_invoker poller not registered on {} yet: {}", r0.name(), e.toString());
                }
            }
        }
        LOG.info("aeron transport started: {} driver, aeron-dir={}, threading-mode={}, mtu={}, loopback-mtu={}", config.external() ? "external" : "embedded",
                dir, config.external() ? "-" : config.threadingMode(), config.mtu(), config.external() ? "-" : config.loopbackMtu());
    }

    /** The reactor-0 poller: the driver's duty cycle (INVOKER mode) and the client conductor, never blocking. */
    private int invoke() {
        if (!clientLock.tryLock()) {
            return 0; // the control thread is in a synchronous client call and drives both meanwhile
        }
        try {
            int work = 0;
            if (driverInvoker != null) {
                work += driverInvoker.invoke();
            }
            work += conductorInvoker.invoke();
            return work;
        } finally {
            clientLock.unlock();
        }
    }

    private void controlLoop() {
        IdleStrategy idle = new BackoffIdleStrategy(10, 10, 1_000, 1_000_000);
        while (running) {
            int work = 0;
            Runnable t;
            while ((t = tasks.poll()) != null) {
                try {
                    t.run();
                } catch (Throwable e) {
                    LOG.error("transport control task failed", e);
                }
                work++;
            }
            if (!running) {
                break;
            }
            long now = System.nanoTime();
            for (ControlAgent a : agents) {
                try {
                    work += a.doWork(now);
                } catch (Throwable e) {
                    LOG.error("transport control agent failed", e);
                }
            }
            idle.idle(work);
        }
    }

    /** On the control thread: the poller off reactor 0, the client and driver closed, the directory deleted. */
    private void stopOnControl() {
        agents.clear();
        Poller p = poller;
        if (p != null) {
            CompletableFuture<Void> off = new CompletableFuture<>();
            Reactor r0 = reactors.reactor(0);
            try {
                r0.send(() -> {
                    p.unregister();
                    off.complete(null);
                });
                off.get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.warn("aeron_invoker poller: could not unregister on {}: {}", r0.name(), e.toString());
            }
        }
        closeQuietly();
        running = false;
        // tasks queued after the stop began have no transport to run on: run them so their futures complete
        Runnable t;
        while ((t = tasks.poll()) != null) {
            try {
                t.run();
            } catch (Throwable e) {
                LOG.debug("transport task after stop failed: {}", e.toString());
            }
        }
        LOG.info("aeron transport stopped: aeron-dir={}", dir);
        stopped.complete(null);
    }

    private void closeQuietly() {
        try {
            if (aeron != null) {
                aeron.close();
            }
        } catch (RuntimeException e) {
            LOG.warn("aeron client close: {}", e.toString());
        }
        try {
            if (driver != null) {
                driver.close();
            }
        } catch (RuntimeException e) {
            LOG.warn("aeron media driver close: {}", e.toString());
        }
        if (ownsDir) {
            deleteTree(dir);
        }
    }

    /** Deletes private driver directories of processes that no longer run. */
    static void cleanStaleDirs(Path base) {
        if (!Files.isDirectory(base)) {
            return;
        }
        List<Path> stale = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(base, "spindle-aeron-*")) {
            for (Path p : ds) {
                Matcher m = DIR_NAME.matcher(p.getFileName().toString());
                if (m.matches()) {
                    long pid = Long.parseLong(m.group(1));
                    if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                        continue;
                    }
                    stale.add(p);
                }
            }
        } catch (IOException e) {
            LOG.warn("cannot list {} for stale aeron directories: {}", base, e.toString());
        }
        for (Path p : stale) {
            LOG.info("removing aeron directory {} of a process that no longer runs", p);
            deleteTree(p);
        }
    }

    static void deleteTree(Path p) {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException e) {
                    LOG.warn("cannot delete {}: {}", f, e.toString());
                }
            });
        } catch (IOException e) {
            LOG.warn("cannot delete {}: {}", p, e.toString());
        }
    }

    /** The future completed when this transport has stopped. */
    public CompletableFuture<Void> whenStopped() {
        return stopped;
    }
}
