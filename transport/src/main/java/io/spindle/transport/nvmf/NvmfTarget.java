package io.spindle.transport.nvmf;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.Subscription;
import io.aeron.logbuffer.Header;
import io.spindle.app.Spindle;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import io.spindle.transport.aeron.AeronTransport;
import io.spindle.transport.keyring.DhChap;
import io.spindle.transport.wire.AdminCodec;
import io.spindle.transport.wire.Frame;
import io.spindle.transport.wire.FrameException;
import io.spindle.transport.wire.FrameType;
import io.spindle.transport.wire.NvmeStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The NVMe-oF-style target of one Spindle (SPDK's {@code spdk_nvmf_tgt} with one transport, {@code AERON}):
 * subsystems (NQNs) with namespaces (open descriptors on bdevs), allowed hosts and listeners; controllers of
 * connected hosts, each with its admin queue (on the transport's control thread) and its I/O queue pairs
 * ({@link TargetQpair}, each a poller on one target reactor, round-robin as SPDK's poll groups).
 *
 * <p><b>Threads.</b> Configuration ({@code nvmf_*} RPCs) is guarded by this object's lock; everything that touches
 * Aeron (listeners, controllers, admin frames, keep-alive timers) runs on the transport's control thread;
 * descriptors are opened and closed on reactor 0; a queue pair's data path runs on its reactor.
 */
public final class NvmfTarget {
    static final Logger LOG = LoggerFactory.getLogger("io.spindle.transport.nvmf");

    /**
     * The module that holds the claim on every exported namespace's bdev (SPDK's {@code ns_bdev_module}, "NVMe-oF
     * Target"): a v1 claim taken when the namespace is added, released before its descriptor closes. It registers
     * no bdev.
     */
    static final BdevModule CLAIM_MODULE = () -> "NVMe-oF Target";
    /** The transport type this target serves. */
    public static final String TRTYPE = "AERON";
    /** Stream id of a UDP listener's admin (connect) stream; an IPC listener's is its trsvcid. */
    public static final int ADMIN_STREAM = 1001;

    /** {@code nvmf_create_transport} options. */
    public record TransportOpts(int maxQueueDepth, int maxIoQpairsPerCtrlr, int inCapsuleDataSize, int maxIoSize, int ioUnitSize,
                                int maxAqDepth) {
    }

    /** A listen address ({@code listen_address}). */
    public record ListenAddr(String trtype, String adrfam, String traddr, String trsvcid) {
        /** Whether it is an Aeron IPC listener (same driver only). */
        public boolean ipc() {
            return "intra_host".equalsIgnoreCase(adrfam) || "ipc".equalsIgnoreCase(traddr);
        }

        /** The Aeron channel. */
        public String channel() {
            if (ipc()) {
                return "aeron:ipc";
            }
            String host = traddr.contains(":") && !traddr.startsWith("[") ? "[" + traddr + "]" : traddr;
            return "aeron:udp?endpoint=" + host + ":" + trsvcid;
        }

        /** The admin stream id. */
        public int adminStream() {
            return ipc() ? Integer.parseInt(trsvcid) : ADMIN_STREAM;
        }

        boolean sameAddress(ListenAddr o) {
            return traddr.equals(o.traddr) && trsvcid.equals(o.trsvcid) && trtype.equalsIgnoreCase(o.trtype);
        }
    }

    /** An allowed host. */
    public record HostEntry(String nqn, String keyName, byte[] key) {
    }

    /** A namespace: an open, writable descriptor on its bdev. */
    public static final class Namespace {
        final long nsid;
        final String bdevName;
        final UUID uuid;
        final int blockSize;
        final long numBlocks;
        final Subsys subsys;
        BdevDescriptor descriptor;
        volatile boolean removing;

        Namespace(long nsid, Bdev bdev, UUID uuid, Subsys subsys) {
            this.nsid = nsid;
            this.bdevName = bdev.name();
            this.uuid = uuid;
            this.blockSize = bdev.blockSize();
            this.numBlocks = bdev.numBlocks();
            this.subsys = subsys;
        }

        /** The namespace id. */
        public long nsid() {
            return nsid;
        }

        /** The bdev's name. */
        public String bdevName() {
            return bdevName;
        }

        /** The namespace UUID. */
        public UUID uuid() {
            return uuid;
        }
    }

    /** A subsystem (NQN). Fields guarded by the target's lock. */
    public static final class Subsys {
        final String nqn;
        boolean allowAnyHost;
        final String serial;
        final String model;
        final int maxNamespaces;
        final List<ListenAddr> listeners = new ArrayList<>();
        final Map<String, HostEntry> hosts = new LinkedHashMap<>();
        final TreeMap<Long, Namespace> namespaces = new TreeMap<>();
        final CopyOnWriteArrayList<TargetController> controllers = new CopyOnWriteArrayList<>();
        boolean deleting;

        Subsys(String nqn, boolean allowAnyHost, String serial, String model, int maxNamespaces) {
            this.nqn = nqn;
            this.allowAnyHost = allowAnyHost;
            this.serial = serial;
            this.model = model;
            this.maxNamespaces = maxNamespaces;
        }
    }

    /** One port the transport listens on (several subsystems may share it). Control thread. */
    final class PortListener implements io.aeron.logbuffer.FragmentHandler {
        final ListenAddr addr;
        final Subscription subscription;
        int refs;

        PortListener(ListenAddr addr, Subscription subscription) {
            this.addr = addr;
            this.subscription = subscription;
        }

        @Override
        public void onFragment(DirectBuffer buffer, int offset, int length, Header header) {
            onAdmin(this, buffer, offset, length, header);
        }
    }

    enum CtrlState { AUTH, READY, CLOSING, CLOSED }

    /** A connected host's controller. State on the control thread; counters readable anywhere. */
    public final class TargetController {
        final int cntlid;
        final String hostNqn;
        final Subsys subsys;
        final PortListener port;
        final int sessionId;
        final ExclusivePublication pub;
        final int queueDepth;
        volatile CtrlState state;
        long lastHeardNs;
        long deadlineNs;
        long outboxDeadlineNs;
        boolean pubConnected;
        byte[] key;
        byte[] hostNonce;
        byte[] targetNonce;
        final TargetQpair[] qpairs;
        int openQpairs;
        final ArrayDeque<byte[]> outbox = new ArrayDeque<>();
        final AtomicLong badFrames = new AtomicLong();
        final CompletableFuture<Void> closed = new CompletableFuture<>();
        volatile String reason;

        TargetController(int cntlid, String hostNqn, Subsys subsys, PortListener port, int sessionId, ExclusivePublication pub, int queueDepth,
                         int maxQpairs) {
            this.cntlid = cntlid;
            this.hostNqn = hostNqn;
            this.subsys = subsys;
            this.port = port;
            this.sessionId = sessionId;
            this.pub = pub;
            this.queueDepth = queueDepth;
            this.qpairs = new TargetQpair[maxQpairs + 1];
        }

        /** Controller id. */
        public int cntlid() {
            return cntlid;
        }

        /** The host's NQN. */
        public String hostNqn() {
            return hostNqn;
        }

        /** Whether it is connected or authenticating (not closing or closed). */
        public boolean live() {
            CtrlState s = state;
            return s == CtrlState.READY || s == CtrlState.AUTH;
        }

        /** Bad frames seen on any of its queues. */
        public long badFrames() {
            return badFrames.get();
        }

        /** Its I/O queue pairs (a snapshot). */
        public List<TargetQpair> ioQpairs() {
            List<TargetQpair> out = new ArrayList<>();
            for (TargetQpair q : qpairs.clone()) {
                if (q != null) {
                    out.add(q);
                }
            }
            return out;
        }
    }

    private final ReactorGroup reactors;
    private final BdevLayer layer;
    private TransportOpts opts;
    private AeronTransport transport;
    private final LinkedHashMap<String, Subsys> subsystems = new LinkedHashMap<>();
    // control thread only
    private final Map<ListenAddr, PortListener> ports = new HashMap<>();
    private final Map<Integer, TargetController> controllers = new HashMap<>();
    private final AeronTransport.ControlAgent agent = this::doWork;
    private int nextCntlid = 1;
    private final AtomicInteger rr = new AtomicInteger();
    private final UnsafeBuffer adminBuf = new UnsafeBuffer(new byte[64 * 1024]);
    private final Frame adminFrame = new Frame();
    private final AtomicLong badAdminFrames = new AtomicLong();
    private long lastTimersNs;
    private boolean loggedBadAdmin;

    NvmfTarget(ReactorGroup reactors, BdevLayer layer) {
        this.reactors = reactors;
        this.layer = layer;
    }

    // ------------------------------------------------------------------ transport

    /** {@code nvmf_create_transport}; EEXIST when the AERON transport exists. Starts the Aeron transport. */
    public synchronized void createTransport(Spindle spindle, TransportOpts o) {
        if (opts != null) {
            throw new BdevException(Errno.EEXIST, "nvmf_create_transport trtype=AERON: transport already exists");
        }
        transport = AeronTransport.acquire(spindle);
        opts = o;
        transport.addAgent(agent);
    }

    /** The transport's options, or null before {@code nvmf_create_transport}. */
    public synchronized TransportOpts transportOpts() {
        return opts;
    }

    int maxIoSize() {
        return opts.maxIoSize();
    }

    int inCapsuleDataSize() {
        return opts.inCapsuleDataSize();
    }

    /** The Aeron transport, or null. */
    public synchronized AeronTransport transport() {
        return transport;
    }

    // ------------------------------------------------------------------ subsystems

    /** {@code nvmf_create_subsystem}. */
    public synchronized void createSubsystem(String nqn, boolean allowAnyHost, String serial, String model, int maxNamespaces) {
        if (subsystems.containsKey(nqn)) {
            throw new BdevException(Errno.EEXIST, "nqn=" + nqn + ": subsystem already exists");
        }
        subsystems.put(nqn, new Subsys(nqn, allowAnyHost, serial, model, maxNamespaces));
    }

    /** The subsystems (a snapshot). */
    public synchronized List<Subsys> subsystems() {
        return new ArrayList<>(subsystems.values());
    }

    Subsys subsys(String nqn) {
        Subsys s = subsystems.get(nqn);
        if (s == null || s.deleting) {
            throw new BdevException(Errno.ENODEV, "nqn=" + nqn + ": no such subsystem");
        }
        return s;
    }

    /** {@code nvmf_delete_subsystem}: closes its controllers, removes its namespaces and listeners. */
    public CompletableFuture<Void> deleteSubsystem(String nqn) {
        Subsys s;
        List<Namespace> nss;
        List<ListenAddr> ls;
        synchronized (this) {
            s = subsys(nqn);
            s.deleting = true;
            nss = new ArrayList<>(s.namespaces.values());
            ls = new ArrayList<>(s.listeners);
        }
        CompletableFuture<Void> all = CompletableFuture.completedFuture(null);
        for (ListenAddr a : ls) {
            all = all.thenCompose(v -> removeListener(s, a));
        }
        for (Namespace n : nss) {
            all = all.thenCompose(v -> removeNamespace(n));
        }
        return all.whenComplete((v, e) -> {
            synchronized (this) {
                subsystems.remove(nqn);
            }
        });
    }

    /** {@code nvmf_subsystem_add_host}. */
    public synchronized void addHost(String nqn, String host, String keyName, byte[] key) {
        Subsys s = subsys(nqn);
        if (s.hosts.containsKey(host)) {
            throw new BdevException(Errno.EEXIST, "nqn=" + nqn + " host=" + host + ": already allowed");
        }
        s.hosts.put(host, new HostEntry(host, keyName, key));
    }

    /** {@code nvmf_subsystem_remove_host}: the host's controllers are disconnected. */
    public void removeHost(String nqn, String host) {
        Subsys s;
        synchronized (this) {
            s = subsys(nqn);
            if (s.hosts.remove(host) == null) {
                throw new BdevException(Errno.ENODEV, "nqn=" + nqn + " host=" + host + ": not in the allowed hosts");
            }
        }
        AeronTransport t = transport();
        if (t != null) {
            t.execute(() -> {
                for (TargetController c : s.controllers) {
                    if (c.hostNqn.equals(host) && !s.allowAnyHost) {
                        closeController(c, "host removed from the subsystem");
                    }
                }
            });
        }
    }

    // ------------------------------------------------------------------ namespaces

    /**
     * {@code nvmf_subsystem_add_ns}: opens the bdev (writable) on reactor 0; completes with the nsid.
     *
     * @param nsid 0 for the lowest free one
     */
    public CompletableFuture<Long> addNamespace(String nqn, String bdevName, long nsid, UUID uuid) {
        Subsys s;
        long id;
        synchronized (this) {
            s = subsys(nqn);
            if (nsid == 0) {
                id = 1;
                while (s.namespaces.containsKey(id)) {
                    id++;
                }
            } else {
                id = nsid;
            }
            if (id > s.maxNamespaces) {
                throw new BdevException(Errno.EINVAL, "nsid=" + id + ": must be between 1 and max_namespaces=" + s.maxNamespaces);
            }
            if (s.namespaces.containsKey(id)) {
                throw new BdevException(Errno.EINVAL, "nsid=" + id + ": already in use in nqn=" + nqn);
            }
        }
        Bdev b = layer.get(bdevName);
        if (b == null) {
            throw new BdevException(Errno.ENODEV, "bdev_name=" + bdevName + ": no such bdev");
        }
        final long fid = id;
        UUID u = uuid != null ? uuid : b.uuid();
        Namespace ns = new Namespace(fid, b, u, s);
        CompletableFuture<Long> f = new CompletableFuture<>();
        Reactor r0 = reactors.reactor(0);
        r0.send(() -> {
            try {
                ns.descriptor = layer.open(bdevName, true, (ev, bdev, desc) -> {
                    if (ev == BdevEvent.REMOVE) {
                        LOG.info("nvmf nqn={} nsid={}: bdev {} is being removed; removing the namespace", s.nqn, ns.nsid, bdev.name());
                        removeNamespace(ns);
                    }
                });
            } catch (BdevException e) {
                f.completeExceptionally(new BdevException(e.errno(), "bdev_name=" + bdevName + ": cannot open: " + e.getMessage()));
                return;
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
                return;
            }
            // SPDK's nvmf claims a namespace's bdev for its "NVMe-oF Target" module: nothing else may write it or
            // stack on it while it is exported
            int rc = layer.claimBdev(ns.descriptor.bdev(), ns.descriptor, CLAIM_MODULE);
            if (rc != 0) {
                ns.descriptor.close();
                f.completeExceptionally(new BdevException(rc, "bdev_name=" + bdevName + ": already claimed"
                        + claimHolder(ns.descriptor.bdev()) + ": a namespace needs an unclaimed bdev"));
                return;
            }
            synchronized (this) {
                if (s.namespaces.containsKey(fid) || s.deleting) {
                    layer.releaseBdev(ns.descriptor.bdev(), CLAIM_MODULE);
                    ns.descriptor.close();
                    f.completeExceptionally(new BdevException(Errno.EINVAL, "nsid=" + fid + ": already in use in nqn=" + nqn));
                    return;
                }
                s.namespaces.put(fid, ns);
            }
            f.complete(fid);
            announceNamespace(ns);
        });
        return f;
    }

    /** " by module NAME" for the module holding a claim on {@code b}, or "". */
    private static String claimHolder(Bdev b) {
        BdevModule m = b.claimModule();
        return m == null ? "" : " by module " + m.name();
    }

    /**
     * Tells every controller connected to the namespace's subsystem that it was added (ASYNC_EVENT NS_ADDED with its
     * identify data, as NVMe's namespace-attribute-changed notice): their hosts create its bdev without reconnecting.
     * A controller still connecting learns it from its connect response instead. Any thread; the frames are sent on
     * the transport's control thread.
     */
    private void announceNamespace(Namespace ns) {
        AeronTransport t = transport();
        if (t == null) {
            return;
        }
        AdminCodec.NsInfo info = new AdminCodec.NsInfo(ns.nsid, ns.blockSize, ns.numBlocks, ns.uuid);
        t.execute(() -> {
            if (ns.removing) {
                return;
            }
            // every queue pair takes its reactor's channel of the namespace first, then the hosts are told, so a
            // host's first command for it finds it served
            List<CompletableFuture<Void>> taken = new ArrayList<>();
            for (TargetQpair q : qpairsOf(ns.subsys)) {
                CompletableFuture<Void> done = new CompletableFuture<>();
                taken.add(done);
                try {
                    q.reactor().send(() -> {
                        try {
                            q.addNamespace(ns);
                        } finally {
                            done.complete(null);
                        }
                    });
                } catch (RuntimeException e) {
                    done.complete(null); // the reactor is stopping: the queue pair goes with it
                }
            }
            CompletableFuture.allOf(taken.toArray(new CompletableFuture<?>[0])).whenComplete((v, e) -> t.execute(() -> {
                if (!ns.removing) {
                    notifyControllers(ns, AdminCodec.EVENT_NS_ADDED, "bdev " + ns.bdevName + " added", info);
                }
            }));
        });
    }

    /** The queue pairs of every controller of {@code s}; control thread. */
    private static List<TargetQpair> qpairsOf(Subsys s) {
        List<TargetQpair> qps = new ArrayList<>();
        for (TargetController c : s.controllers) {
            for (TargetQpair q : c.qpairs) {
                if (q != null) {
                    qps.add(q);
                }
            }
        }
        return qps;
    }

    /**
     * Sends every connected (READY) controller of the namespace's subsystem an ASYNC_EVENT about it; {@code info} is
     * the identify data of NS_ADDED, else null. Control thread.
     */
    private void notifyControllers(Namespace ns, int event, String detail, AdminCodec.NsInfo info) {
        for (TargetController c : ns.subsys.controllers) {
            if (c.state == CtrlState.READY) {
                sendAdmin(c, AdminCodec.encode(adminBuf, 0, new AdminCodec.AsyncEvent(c.cntlid, event, ns.nsid, detail, info)));
            }
        }
    }

    /** {@code nvmf_subsystem_remove_ns}. */
    public CompletableFuture<Void> removeNamespace(String nqn, long nsid) {
        Namespace ns;
        synchronized (this) {
            Subsys s = subsys(nqn);
            ns = s.namespaces.get(nsid);
            if (ns == null) {
                throw new BdevException(Errno.EINVAL, "nsid=" + nsid + ": no such namespace in nqn=" + nqn);
            }
        }
        return removeNamespace(ns);
    }

    private final Map<Namespace, CompletableFuture<Void>> removals = new HashMap<>();

    /**
     * Removes a namespace: new commands for it fail, each queue pair puts its channel once its I/O for it completed,
     * the descriptor is closed on reactor 0, and every connected host is told (its bdev is hot-removed).
     */
    CompletableFuture<Void> removeNamespace(Namespace ns) {
        CompletableFuture<Void> f;
        synchronized (removals) {
            f = removals.get(ns);
            if (f != null) {
                return f;
            }
            f = new CompletableFuture<>();
            removals.put(ns, f);
        }
        ns.removing = true;
        CompletableFuture<Void> result = f;
        AeronTransport t = transport();
        Runnable closeDesc = () -> reactors.reactor(0).send(() -> {
            if (ns.descriptor != null && !ns.descriptor.isClosed()) {
                layer.releaseBdev(ns.descriptor.bdev(), CLAIM_MODULE);
                ns.descriptor.close();
            }
            synchronized (this) {
                ns.subsys.namespaces.remove(ns.nsid, ns);
            }
            AeronTransport tt = transport();
            if (tt != null) {
                tt.execute(() -> notifyControllers(ns, AdminCodec.EVENT_NS_REMOVED, "bdev " + ns.bdevName + " removed", null));
            }
            synchronized (removals) {
                removals.remove(ns);
            }
            result.complete(null);
        });
        if (t == null) {
            closeDesc.run();
            return f;
        }
        t.execute(() -> {
            List<TargetQpair> qps = qpairsOf(ns.subsys);
            if (qps.isEmpty()) {
                closeDesc.run();
                return;
            }
            AtomicInteger left = new AtomicInteger(qps.size());
            for (TargetQpair q : qps) {
                q.reactor().send(() -> q.releaseNamespace((int) ns.nsid, () -> {
                    if (left.decrementAndGet() == 0) {
                        closeDesc.run();
                    }
                }));
            }
        });
        return f;
    }

    // ------------------------------------------------------------------ listeners

    /** {@code nvmf_subsystem_add_listener}; needs the AERON transport. */
    public CompletableFuture<Void> addListener(String nqn, ListenAddr a) {
        Subsys s;
        AeronTransport t;
        synchronized (this) {
            s = subsys(nqn);
            t = transport;
            if (t == null) {
                throw new BdevException(Errno.EINVAL, "listen_address.trtype=" + a.trtype() + ": no such transport (call nvmf_create_transport -t AERON first)");
            }
            for (ListenAddr l : s.listeners) {
                if (l.sameAddress(a)) {
                    throw new BdevException(Errno.EEXIST, "listen_address=" + a.traddr() + ":" + a.trsvcid() + ": already a listener of nqn=" + nqn);
                }
            }
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        t.execute(() -> {
            try {
                PortListener p = portFor(a);
                if (p == null) {
                    Subscription sub = t.addSubscription(a.channel(), a.adminStream());
                    p = new PortListener(a, sub);
                    ports.put(key(a), p);
                }
                p.refs++;
                synchronized (this) {
                    s.listeners.add(a);
                }
                LOG.info("nvmf nqn={}: listening on {} stream {}", nqn, a.channel(), a.adminStream());
                f.complete(null);
            } catch (RuntimeException e) {
                f.completeExceptionally(new BdevException(Errno.EINVAL, "listen_address=" + a.traddr() + ":" + a.trsvcid() + ": cannot listen: " + e.getMessage()));
            }
        });
        return f;
    }

    private static ListenAddr key(ListenAddr a) {
        return new ListenAddr(TRTYPE, "", a.traddr(), a.trsvcid());
    }

    private PortListener portFor(ListenAddr a) {
        return ports.get(key(a));
    }

    /** {@code nvmf_subsystem_remove_listener}: controllers connected through it are disconnected. */
    public CompletableFuture<Void> removeListener(String nqn, ListenAddr a) {
        Subsys s;
        synchronized (this) {
            s = subsystems.get(nqn);
            if (s == null) {
                throw new BdevException(Errno.ENODEV, "nqn=" + nqn + ": no such subsystem");
            }
        }
        return removeListener(s, a);
    }

    private CompletableFuture<Void> removeListener(Subsys s, ListenAddr a) {
        ListenAddr found = null;
        AeronTransport t;
        synchronized (this) {
            for (ListenAddr l : s.listeners) {
                if (l.sameAddress(a)) {
                    found = l;
                }
            }
            if (found == null) {
                throw new BdevException(Errno.ENOENT, "listen_address=" + a.traddr() + ":" + a.trsvcid() + ": not a listener of nqn=" + s.nqn);
            }
            s.listeners.remove(found);
            t = transport;
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        ListenAddr fa = found;
        t.execute(() -> {
            PortListener p = portFor(fa);
            List<CompletableFuture<Void>> closing = new ArrayList<>();
            for (TargetController c : s.controllers) {
                if (c.port == p) {
                    closing.add(closeController(c, "listener " + fa.traddr() + ":" + fa.trsvcid() + " removed"));
                }
            }
            if (p != null && --p.refs == 0) {
                ports.remove(key(fa));
                p.subscription.close();
            }
            CompletableFuture.allOf(closing.toArray(new CompletableFuture<?>[0])).whenComplete((v, e) -> f.complete(null));
        });
        return f;
    }

    // ------------------------------------------------------------------ admin (control thread)

    private int doWork(long now) {
        AeronTransport transport = transport();
        if (transport == null) {
            return 0;
        }
        int work = 0;
        for (PortListener p : ports.values()) {
            work += p.subscription.poll(p, 16); // onAdmin never adds or removes ports
        }
        if (now - lastTimersNs > 5_000_000L) {
            lastTimersNs = now;
            long kato = transport.config().keepAlive().toNanos();
            for (TargetController c : controllers.values().toArray(new TargetController[0])) {
                flushOutbox(c);
                if (c.state == CtrlState.CLOSED) {
                    continue;
                }
                if (c.state == CtrlState.CLOSING) {
                    if (now - c.deadlineNs > 0 || (c.openQpairs == 0 && outboxDone(c, now))) {
                        finishClose(c); // drained, or a queue pair or the host that did not drain in time: give up on it
                    }
                    continue;
                }
                Image img = c.port.subscription.imageBySessionId(c.sessionId);
                if (img == null || img.isClosed()) {
                    closeController(c, "the host's admin publication is gone");
                } else if (c.state == CtrlState.AUTH && now - c.deadlineNs > 0) {
                    closeController(c, "authentication not completed in time");
                } else if (now - c.lastHeardNs > kato) {
                    closeController(c, "no keep-alive for " + transport.config().keepAlive().toMillis() + " ms");
                }
            }
        }
        return work;
    }

    private void badAdmin(String why) {
        badAdminFrames.incrementAndGet();
        if (!loggedBadAdmin) {
            loggedBadAdmin = true;
            LOG.warn("nvmf: bad admin frame discarded: {} (further ones are counted, not logged)", why);
        }
    }

    /** Admin frames discarded before they could be tied to a controller. */
    public long badAdminFrames() {
        return badAdminFrames.get();
    }

    private void onAdmin(PortListener p, DirectBuffer buffer, int offset, int length, Header header) {
        Frame f = adminFrame.wrap(buffer, offset, length);
        String why = f.checkHeader();
        if (why != null) {
            badAdmin(why);
            return;
        }
        try {
            if (f.type() == FrameType.CONNECT) {
                onConnect(p, AdminCodec.connect(f), header.sessionId());
                return;
            }
            TargetController c = controllers.get(f.cntlid());
            if (c == null || c.sessionId != header.sessionId() || c.port != p) {
                badAdmin("cntlid=" + f.cntlid() + " session_id=" + header.sessionId() + ": no controller of this host publication");
                return;
            }
            if (c.state == CtrlState.CLOSING || c.state == CtrlState.CLOSED) {
                return;
            }
            c.lastHeardNs = System.nanoTime();
            switch (f.type()) {
                case AUTH_RESPONSE -> onAuthResponse(c, AdminCodec.authResponse(f));
                case CONNECT_IO -> onConnectIo(c, AdminCodec.connectIo(f));
                case KEEP_ALIVE -> sendAdmin(c, AdminCodec.encodeKeepAlive(adminBuf, 0, c.cntlid));
                case DISCONNECT -> closeController(c, "the host disconnected");
                default -> {
                    c.badFrames.incrementAndGet();
                    badAdmin("type=" + f.type() + ": not allowed on the admin queue (host to target)");
                }
            }
        } catch (FrameException e) {
            TargetController c = controllers.get(f.cntlid());
            if (c != null) {
                c.badFrames.incrementAndGet();
            }
            badAdmin(e.getMessage());
        }
    }

    private void onConnect(PortListener p, AdminCodec.Connect c, int sessionId) {
        String refusal = null;
        int status = NvmeStatus.SUCCESS;
        Subsys s;
        HostEntry host = null;
        synchronized (this) {
            s = subsystems.get(c.subNqn());
            if (s == null || s.deleting) {
                refusal = "subnqn=" + c.subNqn() + ": no such subsystem";
                status = NvmeStatus.CONNECT_INVALID_PARAMETERS;
            } else if (s.listeners.stream().noneMatch(l -> l.sameAddress(p.addr))) {
                refusal = "subnqn=" + c.subNqn() + ": not listening on " + p.addr.traddr() + ":" + p.addr.trsvcid();
                status = NvmeStatus.CONNECT_INVALID_PARAMETERS;
            } else {
                host = s.hosts.get(c.hostNqn());
                if (host == null && !s.allowAnyHost) {
                    refusal = "hostnqn=" + c.hostNqn() + ": host not allowed to connect to subnqn=" + c.subNqn();
                    status = NvmeStatus.CONNECT_INVALID_HOST;
                }
            }
        }
        if (c.queueDepth() < 2 || !c.respChannel().startsWith("aeron:")) {
            refusal = "queue_depth=" + c.queueDepth() + " resp_channel=" + c.respChannel() + ": depth must be >= 2 and the channel an aeron: URI";
            status = NvmeStatus.CONNECT_INVALID_PARAMETERS;
        }
        for (TargetController old : controllers.values()) {
            if (old.sessionId == sessionId && old.port == p && old.state != CtrlState.CLOSED) {
                refusal = "session_id=" + sessionId + ": this host publication already has a controller";
                status = NvmeStatus.COMMAND_SEQUENCE_ERROR;
            }
        }
        ExclusivePublication pub;
        try {
            pub = transport.addPublication(c.respChannel(), c.respStream());
        } catch (RuntimeException e) {
            LOG.warn("nvmf: connect from hostnqn={}: cannot publish to resp_channel={}: {}", c.hostNqn(), c.respChannel(), e.toString());
            return;
        }
        int cntlid = nextCntlid;
        nextCntlid = nextCntlid >= 0xFFEF ? 1 : nextCntlid + 1;
        int depth = Math.min(c.queueDepth(), opts.maxQueueDepth());
        TargetController ctrl = new TargetController(cntlid, c.hostNqn(), s, p, sessionId, pub, depth, opts.maxIoQpairsPerCtrlr());
        ctrl.lastHeardNs = System.nanoTime();
        controllers.put(cntlid, ctrl);
        if (refusal != null) {
            LOG.warn("nvmf: connect refused: {}", refusal);
            ctrl.state = CtrlState.READY;
            sendAdmin(ctrl, AdminCodec.encode(adminBuf, 0, new AdminCodec.ConnectResponse(cntlid, status, 0, 0, 0, List.of(), "", "", refusal)));
            closeController(ctrl, refusal);
            return;
        }
        s.controllers.add(ctrl);
        if (host != null && host.key() != null) {
            ctrl.state = CtrlState.AUTH;
            ctrl.key = host.key();
            ctrl.hostNonce = c.hostNonce();
            ctrl.targetNonce = DhChap.nonce();
            ctrl.deadlineNs = System.nanoTime() + transport.config().connectTimeout().toNanos();
            byte[] proof = DhChap.targetProof(ctrl.key, ctrl.hostNonce, ctrl.targetNonce, c.hostNqn(), c.subNqn());
            sendAdmin(ctrl, AdminCodec.encode(adminBuf, 0, new AdminCodec.AuthChallenge(cntlid, ctrl.targetNonce, proof)));
            return;
        }
        accept(ctrl);
    }

    private void onAuthResponse(TargetController c, AdminCodec.AuthResponse r) {
        if (c.state != CtrlState.AUTH) {
            c.badFrames.incrementAndGet();
            badAdmin("AUTH_RESPONSE cntlid=" + c.cntlid + ": no authentication in progress");
            return;
        }
        byte[] expected = DhChap.hostProof(c.key, c.hostNonce, c.targetNonce, c.hostNqn, c.subsys.nqn);
        if (!DhChap.matches(expected, r.hostProof())) {
            String why = "hostnqn=" + c.hostNqn + ": DH-HMAC-CHAP authentication failed (wrong key)";
            LOG.warn("nvmf nqn={}: {}", c.subsys.nqn, why);
            sendAdmin(c, AdminCodec.encode(adminBuf, 0, new AdminCodec.ConnectResponse(c.cntlid, NvmeStatus.AUTH_FAILED, 0, 0, 0, List.of(), "", "", why)));
            closeController(c, why);
            return;
        }
        accept(c);
    }

    private void accept(TargetController c) {
        c.state = CtrlState.READY;
        List<AdminCodec.NsInfo> ns = new ArrayList<>();
        synchronized (this) {
            for (Namespace n : c.subsys.namespaces.values()) {
                if (!n.removing) {
                    ns.add(new AdminCodec.NsInfo(n.nsid, n.blockSize, n.numBlocks, n.uuid));
                }
            }
        }
        LOG.info("nvmf nqn={}: host {} connected, cntlid={}, {} namespace(s)", c.subsys.nqn, c.hostNqn, c.cntlid, ns.size());
        sendAdmin(c, AdminCodec.encode(adminBuf, 0, new AdminCodec.ConnectResponse(c.cntlid, NvmeStatus.SUCCESS, opts.maxIoSize(),
                opts.inCapsuleDataSize(), c.queueDepth, ns, c.subsys.serial, c.subsys.model, "")));
    }

    private void onConnectIo(TargetController c, AdminCodec.ConnectIo r) {
        String refusal = null;
        if (c.state != CtrlState.READY) {
            refusal = "cntlid=" + c.cntlid + ": not authenticated";
        } else if (r.qid() < 1 || r.qid() >= c.qpairs.length) {
            refusal = "qid=" + r.qid() + ": must be between 1 and max_io_qpairs_per_ctrlr=" + (c.qpairs.length - 1);
        } else if (c.qpairs[r.qid()] != null) {
            refusal = "qid=" + r.qid() + ": already connected";
        } else if (r.depth() < 2 || r.depth() > c.queueDepth) {
            refusal = "depth=" + r.depth() + ": must be between 2 and " + c.queueDepth;
        }
        if (refusal != null) {
            c.badFrames.incrementAndGet();
            sendAdmin(c, AdminCodec.encode(adminBuf, 0, new AdminCodec.ConnectIoResponse(c.cntlid, r.qid(), NvmeStatus.CONNECT_INVALID_PARAMETERS, 0, refusal)));
            return;
        }
        Subscription sub;
        ExclusivePublication pub;
        try {
            sub = transport.addSubscription(c.port.addr.channel(), r.cmdStream());
            pub = transport.addPublication(respChannelOf(c), r.respStream());
        } catch (RuntimeException e) {
            sendAdmin(c, AdminCodec.encode(adminBuf, 0, new AdminCodec.ConnectIoResponse(c.cntlid, r.qid(), NvmeStatus.INTERNAL_DEVICE_ERROR, 0,
                    "cannot open the queue pair's streams: " + e.getMessage())));
            return;
        }
        Namespace[] byIndex;
        synchronized (this) {
            byIndex = new Namespace[c.subsys.maxNamespaces + 1];
            for (Namespace n : c.subsys.namespaces.values()) {
                if (!n.removing && n.nsid < byIndex.length) {
                    byIndex[(int) n.nsid] = n;
                }
            }
        }
        Reactor reactor = reactors.reactor(Math.floorMod(rr.getAndIncrement(), reactors.size()));
        TargetQpair q = new TargetQpair(this, c, reactor, r.qid(), r.depth(), r.cmdSession(), sub, pub, byIndex);
        c.qpairs[r.qid()] = q;
        c.openQpairs++;
        reactor.send(() -> {
            q.start();
            transport.execute(() -> sendAdmin(c, AdminCodec.encode(adminBuf, 0, new AdminCodec.ConnectIoResponse(c.cntlid, r.qid(), NvmeStatus.SUCCESS,
                    r.cmdStream(), ""))));
        });
    }

    private String respChannelOf(TargetController c) {
        return c.pub.channel();
    }

    /** Sends an admin frame encoded in {@link #adminBuf}; queued when the publication cannot take it yet. */
    private void sendAdmin(TargetController c, int len) {
        if (c.outbox.isEmpty() && c.pub.offer(adminBuf, 0, len) > 0) {
            return;
        }
        byte[] copy = new byte[len];
        adminBuf.getBytes(0, copy);
        c.outbox.add(copy);
    }

    private void flushOutbox(TargetController c) {
        while (!c.outbox.isEmpty()) {
            byte[] b = c.outbox.peek();
            if (c.pub.offer(new UnsafeBuffer(b), 0, b.length) < 0) {
                return;
            }
            c.outbox.poll();
        }
    }

    /** Closes a controller: DISCONNECT to the host, every queue pair drained and closed, the publication closed. */
    CompletableFuture<Void> closeController(TargetController c, String why) {
        if (c.state == CtrlState.CLOSING || c.state == CtrlState.CLOSED) {
            return c.closed;
        }
        boolean connected = c.state == CtrlState.READY && c.subsys != null && c.subsys.controllers.contains(c);
        c.reason = why;
        c.state = CtrlState.CLOSING;
        c.deadlineNs = System.nanoTime() + 10_000_000_000L;
        if (connected) {
            LOG.info("nvmf nqn={}: controller cntlid={} of host {} closed: {}", c.subsys.nqn, c.cntlid, c.hostNqn, why);
            sendAdmin(c, AdminCodec.encode(adminBuf, 0, new AdminCodec.Disconnect(c.cntlid, 0, 1, why)));
        }
        for (TargetQpair q : c.qpairs) {
            if (q != null) {
                q.reactor().send(q::close);
            }
        }
        c.outboxDeadlineNs = System.nanoTime() + 2_000_000_000L;
        if (c.openQpairs == 0 && outboxDone(c, System.nanoTime())) {
            finishClose(c);
        }
        return c.closed;
    }

    /** On a reactor: a queue pair has drained and let go of everything on its reactor. */
    void qpairFinished(TargetQpair q, TargetController c) {
        AeronTransport t = transport();
        if (t == null) {
            LOG.warn("nvmf cntlid={} qid={}: finished after the transport stopped", c.cntlid, q.qid());
            return;
        }
        t.execute(() -> {
            q.subscription.close();
            q.publication.close();
            if (c.qpairs[q.qid()] == q) {
                c.qpairs[q.qid()] = null;
                c.openQpairs--;
            }
            if (c.state == CtrlState.CLOSING && c.openQpairs == 0 && outboxDone(c, System.nanoTime())) {
                finishClose(c);
            }
        });
    }

    /** On a reactor: the host sent DISCONNECT on an I/O queue. */
    void hostClosedQpair(TargetController c, int qid) {
        TargetQpair q = c.qpairs[qid];
        if (q != null) {
            q.close();
        }
    }

    void countBadFrame(TargetController c) {
        c.badFrames.incrementAndGet();
    }

    /** Whether a closing controller's last admin frames are out, or cannot go out (host gone, or 2 s passed). */
    private static boolean outboxDone(TargetController c, long now) {
        if (c.pub.isConnected()) {
            c.pubConnected = true;
        }
        return c.outbox.isEmpty() || (c.pubConnected && !c.pub.isConnected()) || now - c.outboxDeadlineNs > 0;
    }

    private void finishClose(TargetController c) {
        if (c.state == CtrlState.CLOSED) {
            return;
        }
        c.state = CtrlState.CLOSED;
        flushOutbox(c);
        // the publication lingers in the driver until its last frames are sent
        c.pub.close();
        controllers.remove(c.cntlid);
        if (c.subsys != null) {
            c.subsys.controllers.remove(c);
        }
        c.closed.complete(null);
    }

    // ------------------------------------------------------------------ stop

    /** Deletes every subsystem and releases the transport; for the nvmf subsystem's fini. */
    public CompletableFuture<Void> shutdown() {
        CompletableFuture<Void> all = CompletableFuture.completedFuture(null);
        for (Subsys s : subsystems()) {
            all = all.thenCompose(v -> deleteSubsystem(s.nqn).exceptionally(e -> null));
        }
        return all.thenCompose(v -> {
            AeronTransport t = transport();
            if (t == null) {
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<Void> drained = new CompletableFuture<>();
            t.execute(() -> {
                List<CompletableFuture<Void>> cs = new ArrayList<>();
                for (TargetController c : controllers.values().toArray(new TargetController[0])) {
                    cs.add(closeController(c, "target stopping"));
                }
                CompletableFuture.allOf(cs.toArray(new CompletableFuture<?>[0])).whenComplete((x, e) -> t.execute(() -> {
                    for (PortListener p : ports.values()) {
                        p.subscription.close();
                    }
                    ports.clear();
                    t.removeAgent(agent);
                    synchronized (this) {
                        transport = null;
                        opts = null;
                    }
                    drained.complete(null);
                }));
            });
            return drained.thenCompose(x -> t.release());
        });
    }
}
