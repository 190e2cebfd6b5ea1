package io.spindle.transport.initiator;

import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.logbuffer.Header;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Reactor;
import io.spindle.transport.aeron.AeronTransport;
import io.spindle.transport.keyring.DhChap;
import io.spindle.transport.wire.AdminCodec;
import io.spindle.transport.wire.Frame;
import io.spindle.transport.wire.FrameException;
import io.spindle.transport.wire.NvmeStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One attached controller (SPDK's {@code nvme_ctrlr} of {@code bdev_nvme}): the admin queue to the target, one
 * {@link HostQpair} per host reactor, one bdev {@code <name>n<nsid>} per namespace, and bdev_nvme's fault handling.
 *
 * <p><b>States</b> (an explicit state machine driven on the transport's control thread):
 * {@code CONNECTING} (admin streams up, CONNECT sent) → {@code AUTHENTICATING} (with a dhchap_key) →
 * {@code CREATING_QPAIRS} (CONNECT_IO per reactor) → {@code ENABLED}. A fault (the target's streams gone, no
 * keep-alive answer within the keep-alive timeout, a DISCONNECT) in {@code ENABLED} starts a reset: the queue pairs
 * let go of their streams (their I/O waits, or fails when {@code reconnect_delay_sec} is 0), the streams are closed,
 * and {@code RESETTING} reconnects at once and then every {@code reconnect_delay_sec}; after
 * {@code fast_io_fail_timeout_sec} since the fault, waiting and new I/O fail; after {@code ctrlr_loss_timeout_sec}
 * the controller is deleted and its bdevs hot-removed. With {@code ctrlr_loss_timeout_sec} 0 a failed reset leaves
 * the controller {@code FAILED} (I/O fails, the bdevs stay), as SPDK's.
 */
public final class NvmeController {
    static final Logger LOG = LoggerFactory.getLogger("io.spindle.transport.initiator");

    /** What {@code bdev_nvme_attach_controller} asked for. */
    public record Options(String name, String trtype, String adrfam, String traddr, String trsvcid, String subnqn, String hostnqn,
                          String hostaddr, String dhchapKeyName, byte[] dhchapKey, int ctrlrLossTimeoutSec, int reconnectDelaySec,
                          int fastIoFailTimeoutSec, int queueDepth) {
        /** Whether the target is reached over Aeron IPC. */
        public boolean ipc() {
            return "intra_host".equalsIgnoreCase(adrfam) || "ipc".equalsIgnoreCase(traddr);
        }

        String targetChannel() {
            if (ipc()) {
                return "aeron:ipc";
            }
            String h = traddr.contains(":") && !traddr.startsWith("[") ? "[" + traddr + "]" : traddr;
            return "aeron:udp?endpoint=" + h + ":" + trsvcid;
        }

        int adminStream() {
            return ipc() ? Integer.parseInt(trsvcid) : 1001;
        }
    }

    enum State { CONNECTING, AUTHENTICATING, CREATING_QPAIRS, ENABLED, RESETTING, FAILED, DELETING, DELETED }

    private final NvmeBdevModule module;
    private final BdevLayer layer;
    private final AeronTransport transport;
    private final Options opts;
    private final HostQpair[] qpairs;
    private final AeronTransport.ControlAgent agent = this::doWork;
    volatile int cntlid;
    /** Read by the queue pairs on their reactors: fail I/O instead of waiting for a reconnect. */
    volatile boolean failIo;
    private volatile State state = State.CONNECTING;
    private final CompletableFuture<List<String>> attached = new CompletableFuture<>();
    private boolean everEnabled;
    // the attempt in progress
    private Subscription adminSub;
    private ExclusivePublication adminPub;
    private String hostChannel;
    private String hostTagChannel;
    private int respStream;
    private byte[] hostNonce;
    private long deadlineNs;
    private boolean connectSent;
    private final ExclusivePublication[] ioPubs;
    private final Subscription[] ioSubs;
    private final int[] ioRespStreams;
    private int qpairsUp;
    private int inCapsuleSize;
    private int grantedDepth;
    private int maxIoSize;
    private final Map<Long, AdminCodec.NsInfo> namespaces = new LinkedHashMap<>();
    private final Map<Long, String> bdevs = new LinkedHashMap<>();
    private String serial = "";
    private String model = "";
    private long lastHeardNs;
    private long enabledAtNs;
    private long lastKeepAliveNs;
    private long lossStartNs;
    private long nextAttemptNs;
    private volatile String lastError;
    private final UnsafeBuffer adminBuf = new UnsafeBuffer(new byte[8192]);
    private final Frame adminFrame = new Frame();
    private final CompletableFuture<Void> deleted = new CompletableFuture<>();

    NvmeController(NvmeBdevModule module, BdevLayer layer, AeronTransport transport, Options opts) {
        this.module = module;
        this.layer = layer;
        this.transport = transport;
        this.opts = opts;
        int n = layer.reactors().size();
        this.qpairs = new HostQpair[n];
        this.ioPubs = new ExclusivePublication[n];
        this.ioSubs = new Subscription[n];
        this.ioRespStreams = new int[n];
        for (int i = 0; i < n; i++) {
            qpairs[i] = new HostQpair(this, layer.reactors().reactor(i), i + 1, opts.queueDepth());
        }
    }

    /** The controller's name (its bdevs are {@code <name>n<nsid>}). */
    public String name() {
        return opts.name();
    }

    /** The attach options. */
    public Options options() {
        return opts;
    }

    /** SPDK's controller state name for {@code bdev_nvme_get_controllers}. */
    public String stateName() {
        return switch (state) {
            case ENABLED -> "enabled";
            case RESETTING, CONNECTING, AUTHENTICATING, CREATING_QPAIRS -> everEnabled ? "resetting" : "connecting";
            case FAILED -> "failed";
            case DELETING, DELETED -> "deleting";
        };
    }

    /** The current controller id. */
    public int cntlid() {
        return cntlid;
    }

    /** The names of its bdevs. */
    public synchronized List<String> bdevNames() {
        return new ArrayList<>(bdevs.values());
    }

    /** The last fault, or null. */
    public String lastError() {
        return lastError;
    }

    /** The host-side I/O queue pairs (one per reactor). */
    public List<HostQpair> qpairs() {
        return List.of(qpairs);
    }

    HostQpair qpair(Reactor r) {
        return qpairs[r.index()];
    }

    /** Starts attaching; completes with the bdev names, or fails with a {@link BdevException}. */
    CompletableFuture<List<String>> attach() {
        CompletableFuture<Void> started = new CompletableFuture<>();
        AtomicInteger left = new AtomicInteger(qpairs.length);
        for (HostQpair q : qpairs) {
            q.reactor().send(() -> {
                q.start();
                if (left.decrementAndGet() == 0) {
                    started.complete(null);
                }
            });
        }
        started.thenRun(() -> transport.execute(() -> {
            beginAttempt(System.nanoTime());
            transport.addAgent(agent);
        }));
        return attached;
    }

    // ------------------------------------------------------------------ attempts (control thread)

    private void beginAttempt(long now) {
        state = State.CONNECTING;
        connectSent = false;
        qpairsUp = 0;
        deadlineNs = now + transport.config().connectTimeout().toNanos();
        try {
            respStream = AeronTransport.newStreamId();
            // the host's receive endpoint: an ephemeral UDP port, tagged so the I/O queues' subscriptions share it
            long tag = transport.aeron().nextCorrelationId();
            hostTagChannel = opts.ipc() ? "aeron:ipc" : "aeron:udp?tags=" + tag;
            String h = opts.ipc() ? "aeron:ipc" : "aeron:udp?endpoint=" + hostAddr() + ":0|tags=" + tag;
            adminSub = transport.addSubscription(h, respStream);
            adminPub = transport.addPublication(opts.targetChannel(), opts.adminStream());
            hostChannel = opts.ipc() ? "aeron:ipc" : null;
        } catch (RuntimeException e) {
            attemptFailed("cannot open the admin streams: " + e.getMessage());
        }
    }

    private String hostAddr() {
        if (opts.hostaddr() != null) {
            return opts.hostaddr();
        }
        String t = opts.traddr();
        if (t.startsWith("127.") || t.equals("localhost") || t.equals("::1")) {
            return t.equals("localhost") ? "127.0.0.1" : t.equals("::1") ? "[::1]" : t;
        }
        try (java.net.DatagramSocket s = new java.net.DatagramSocket()) {
            s.connect(java.net.InetAddress.getByName(t), 9);
            return s.getLocalAddress().getHostAddress();
        } catch (java.io.IOException e) {
            return "0.0.0.0";
        }
    }

    private int doWork(long now) {
        if (everEnabled && state != State.ENABLED && state != State.DELETING && state != State.DELETED && checkLoss(now)) {
            return 1;
        }
        State s = state;
        int work = 0;
        switch (s) {
            case CONNECTING, AUTHENTICATING, CREATING_QPAIRS -> {
                if (adminSub == null) {
                    return 0;
                }
                if (hostChannel == null) {
                    // the endpoint the driver bound (port 0 resolved); without the tag, which means nothing in the target's driver
                    String resolved = adminSub.resolvedEndpoint();
                    if (resolved == null) {
                        return checkDeadline(now);
                    }
                    hostChannel = "aeron:udp?endpoint=" + resolved;
                }
                if (!connectSent) {
                    if (!adminPub.isConnected()) {
                        return checkDeadline(now);
                    }
                    hostNonce = DhChap.nonce();
                    int len = AdminCodec.encode(adminBuf, 0, new AdminCodec.Connect(opts.queueDepth(), respStream,
                            (int) transport.config().keepAlive().toMillis(), hostNonce, opts.hostnqn(), opts.subnqn(), hostChannel));
                    if (adminPub.offer(adminBuf, 0, len) < 0) {
                        return checkDeadline(now);
                    }
                    connectSent = true;
                    lastHeardNs = now;
                    work++;
                }
                work += adminSub.poll(this::onAdmin, 16);
                if (state == s) {
                    work += checkDeadline(now);
                }
            }
            case ENABLED -> {
                work += adminSub.poll(this::onAdmin, 16);
                if (state != State.ENABLED) {
                    return work;
                }
                long kato = transport.config().keepAlive().toNanos();
                if (now - lastKeepAliveNs > kato / 3) {
                    lastKeepAliveNs = now;
                    adminPub.offer(adminBuf, 0, AdminCodec.encodeKeepAlive(adminBuf, 0, cntlid));
                }
                if (now - lastHeardNs > kato) {
                    fault("no keep-alive answer from the target for " + transport.config().keepAlive().toMillis() + " ms");
                } else if (!adminPub.isConnected() || adminSub.imageCount() == 0) {
                    fault("the target's admin streams are gone");
                } else {
                    for (int i = 0; i < ioSubs.length; i++) {
                        if (ioSubs[i] != null && ioSubs[i].imageCount() == 0 && now - enabledAtNs > 2_000_000_000L) {
                            fault("the target's I/O queue " + (i + 1) + " is gone");
                            break;
                        }
                    }
                }
            }
            case RESETTING -> {
                if (now - nextAttemptNs >= 0) {
                    LOG.info("bdev_nvme {}: reconnecting to {} {}:{}", opts.name(), opts.subnqn(), opts.traddr(), opts.trsvcid());
                    beginAttempt(now);
                    return 1;
                }
            }
            default -> {
            }
        }
        return work;
    }

    private int checkDeadline(long now) {
        if (now - deadlineNs > 0) {
            attemptFailed(state == State.CONNECTING ? "no answer from the target at " + opts.traddr() + ":" + opts.trsvcid() + " within "
                    + transport.config().connectTimeout().toMillis() + " ms" : "the target did not complete " + state + " in time");
            return 1;
        }
        return 0;
    }

    /** fast_io_fail and ctrlr_loss; true when the controller was deleted. */
    private boolean checkLoss(long now) {
        if (lossStartNs == 0) {
            return false;
        }
        long since = now - lossStartNs;
        if (opts.fastIoFailTimeoutSec() > 0 && !failIo && since >= opts.fastIoFailTimeoutSec() * 1_000_000_000L) {
            LOG.warn("bdev_nvme {}: fast_io_fail_timeout_sec={} elapsed: failing queued and new I/O", opts.name(), opts.fastIoFailTimeoutSec());
            setFailIo(true);
        }
        if (opts.ctrlrLossTimeoutSec() > 0 && since >= opts.ctrlrLossTimeoutSec() * 1_000_000_000L) {
            LOG.warn("bdev_nvme {}: ctrlr_loss_timeout_sec={} elapsed: deleting the controller and its bdevs", opts.name(), opts.ctrlrLossTimeoutSec());
            delete("ctrlr_loss_timeout_sec=" + opts.ctrlrLossTimeoutSec() + " elapsed: " + lastError);
            return true;
        }
        return false;
    }

    private void setFailIo(boolean fail) {
        failIo = fail;
        if (fail) {
            for (HostQpair q : qpairs) {
                q.reactor().send(q::failQueued);
            }
        }
    }

    private void onAdmin(DirectBuffer buffer, int offset, int length, Header header) {
        Frame f = adminFrame.wrap(buffer, offset, length);
        String why = f.checkHeader();
        if (why != null) {
            LOG.warn("bdev_nvme {}: bad admin frame discarded: {}", opts.name(), why);
            return;
        }
        lastHeardNs = System.nanoTime();
        try {
            switch (f.type()) {
                case CONNECT_RESPONSE -> onConnectResponse(AdminCodec.connectResponse(f));
                case AUTH_CHALLENGE -> onAuthChallenge(AdminCodec.authChallenge(f));
                case CONNECT_IO_RESPONSE -> onConnectIoResponse(AdminCodec.connectIoResponse(f));
                case KEEP_ALIVE -> {
                }
                case DISCONNECT -> {
                    AdminCodec.Disconnect d = AdminCodec.disconnect(f);
                    if (state == State.ENABLED) {
                        fault("the target disconnected: " + d.message());
                    } else {
                        attemptFailed("the target disconnected: " + d.message());
                    }
                }
                case ASYNC_EVENT -> onAsyncEvent(AdminCodec.asyncEvent(f));
                default -> LOG.warn("bdev_nvme {}: unexpected {} on the admin queue", opts.name(), f.type());
            }
        } catch (FrameException e) {
            LOG.warn("bdev_nvme {}: bad admin frame discarded: {}", opts.name(), e.getMessage());
        }
    }

    private void onAuthChallenge(AdminCodec.AuthChallenge c) {
        if (state != State.CONNECTING) {
            return;
        }
        cntlid = c.cntlid(); // so that a refusal below tells the target (DISCONNECT) instead of leaving it waiting
        if (opts.dhchapKey() == null) {
            refused("the target requires DH-HMAC-CHAP authentication for hostnqn=" + opts.hostnqn() + " and no dhchap_key was given");
            return;
        }
        byte[] expected = DhChap.targetProof(opts.dhchapKey(), hostNonce, c.targetNonce(), opts.hostnqn(), opts.subnqn());
        if (!DhChap.matches(expected, c.targetProof())) {
            refused("DH-HMAC-CHAP: the target's proof does not match dhchap_key=" + opts.dhchapKeyName() + " (wrong key on one side)");
            return;
        }
        cntlid = c.cntlid();
        state = State.AUTHENTICATING;
        byte[] proof = DhChap.hostProof(opts.dhchapKey(), hostNonce, c.targetNonce(), opts.hostnqn(), opts.subnqn());
        adminPub.offer(adminBuf, 0, AdminCodec.encode(adminBuf, 0, new AdminCodec.AuthResponse(cntlid, proof)));
    }

    private void onConnectResponse(AdminCodec.ConnectResponse r) {
        if (state != State.CONNECTING && state != State.AUTHENTICATING) {
            return;
        }
        if (r.status() != NvmeStatus.SUCCESS) {
            refused("the target refused the connection (" + NvmeStatus.name(r.status()) + "): " + r.message());
            return;
        }
        if (opts.dhchapKey() != null && state != State.AUTHENTICATING) {
            refused("dhchap_key=" + opts.dhchapKeyName() + " given but the target did not authenticate: refusing an unauthenticated controller");
            return;
        }
        cntlid = r.cntlid();
        inCapsuleSize = r.inCapsuleSize();
        maxIoSize = r.maxIoSize();
        serial = r.serial();
        model = r.model();
        if (!everEnabled) {
            for (AdminCodec.NsInfo n : r.namespaces()) {
                namespaces.put(n.nsid(), n);
            }
        } else {
            List<Long> gone = new ArrayList<>();
            for (Long id : namespaces.keySet()) {
                if (r.namespaces().stream().noneMatch(n -> n.nsid() == id)) {
                    gone.add(id);
                }
            }
            for (Long id : gone) {
                removeNamespace(id, "namespace no longer exported after reconnect");
            }
            for (AdminCodec.NsInfo n : r.namespaces()) {
                addNamespace(n, "listed after a reconnect");
            }
        }
        int depth = Math.min(opts.queueDepth(), r.queueDepth());
        grantedDepth = depth;
        state = State.CREATING_QPAIRS;
        deadlineNs = System.nanoTime() + transport.config().connectTimeout().toNanos();
        try {
            for (int i = 0; i < qpairs.length; i++) {
                ioRespStreams[i] = AeronTransport.newStreamId();
                ioSubs[i] = transport.addSubscription(hostTagChannel, ioRespStreams[i]);
                int cmdStream = AeronTransport.newStreamId();
                ioPubs[i] = transport.addPublication(opts.targetChannel(), cmdStream);
                adminPub.offer(adminBuf, 0, AdminCodec.encode(adminBuf, 0, new AdminCodec.ConnectIo(cntlid, i + 1, depth, ioRespStreams[i], cmdStream,
                        ioPubs[i].sessionId())));
            }
        } catch (RuntimeException e) {
            attemptFailed("cannot open the I/O streams: " + e.getMessage());
        }
    }

    private void onConnectIoResponse(AdminCodec.ConnectIoResponse r) {
        if (state != State.CREATING_QPAIRS) {
            return;
        }
        int i = r.qid() - 1;
        if (i < 0 || i >= qpairs.length || ioPubs[i] == null) {
            return;
        }
        if (r.status() != NvmeStatus.SUCCESS) {
            attemptFailed("the target refused I/O queue " + r.qid() + ": " + r.message());
            return;
        }
        HostQpair q = qpairs[i];
        ExclusivePublication p = ioPubs[i];
        Subscription s = ioSubs[i];
        int icd = inCapsuleSize;
        int granted = grantedDepth;
        q.reactor().send(() -> q.bind(p, s, icd, granted));
        if (++qpairsUp == qpairs.length) {
            enabled();
        }
    }

    private void enabled() {
        state = State.ENABLED;
        lossStartNs = 0;
        lastError = null;
        lastKeepAliveNs = System.nanoTime();
        lastHeardNs = lastKeepAliveNs;
        enabledAtNs = lastKeepAliveNs;
        if (failIo) {
            failIo = false;
        }
        if (everEnabled) {
            LOG.info("bdev_nvme {}: reconnected to {} (cntlid={})", opts.name(), opts.subnqn(), cntlid);
            return;
        }
        everEnabled = true;
        registerBdevs();
    }

    private void registerBdevs() {
        List<CompletableFuture<Bdev>> regs = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (AdminCodec.NsInfo n : namespaces.values()) {
            String bname = opts.name() + "n" + n.nsid();
            names.add(bname);
            regs.add(registerNamespace(n, bname));
        }
        CompletableFuture.allOf(regs.toArray(new CompletableFuture<?>[0])).whenComplete((v, e) -> {
            if (e != null) {
                transport.execute(() -> {
                    delete("registering its bdevs failed: " + e.getMessage());
                    failAttachWhenDeleted(e.getCause() != null ? e.getCause() : e);
                });
            } else {
                LOG.info("bdev_nvme {}: attached {} at {}:{} (cntlid={}): {}", opts.name(), opts.subnqn(), opts.traddr(), opts.trsvcid(), cntlid, names);
                attached.complete(names);
            }
        });
    }

    /** Registers the bdev {@code bname} of namespace {@code n}; control thread. */
    private CompletableFuture<Bdev> registerNamespace(AdminCodec.NsInfo n, String bname) {
        NvmeNsDriver d = new NvmeNsDriver(this, n.nsid());
        BdevSpec spec = BdevSpec.builder(module, d).name(bname).productName("NVMe disk").blockSize(n.blockSize()).numBlocks(n.numBlocks())
                .uuid(n.uuid()).maxRwSize(Math.max(1, maxIoSize / n.blockSize())).writeCache(true).build();
        synchronized (this) {
            bdevs.put(n.nsid(), bname);
        }
        return layer.register(spec).toCompletableFuture();
    }

    private void onAsyncEvent(AdminCodec.AsyncEvent e) {
        if (e.event() == AdminCodec.EVENT_NS_REMOVED) {
            removeNamespace(e.nsid(), e.detail());
        } else if (e.event() == AdminCodec.EVENT_NS_ADDED) {
            addNamespace(e.ns(), "added on the target (" + e.detail() + ")");
        }
    }

    /**
     * A namespace the target added while connected (an ASYNC_EVENT), or one a reconnect's response lists that was
     * not there before: its bdev {@code <name>n<nsid>} is registered, as SPDK's bdev_nvme does on a
     * namespace-attribute-changed notice. A namespace already known is left as it is. Before the controller was
     * first enabled it is only recorded (registered with the others). Control thread.
     */
    private void addNamespace(AdminCodec.NsInfo n, String why) {
        if (namespaces.containsKey(n.nsid()) || state == State.DELETING || state == State.DELETED) {
            return;
        }
        namespaces.put(n.nsid(), n);
        if (!everEnabled) {
            return;
        }
        String bname = opts.name() + "n" + n.nsid();
        LOG.info("bdev_nvme {}: namespace {} {}: registering {}", opts.name(), n.nsid(), why, bname);
        registerNamespace(n, bname).whenComplete((b, e) -> {
            if (e != null) {
                LOG.warn("bdev_nvme {}: namespace {}: cannot register {}: {}", opts.name(), n.nsid(), bname, e.getMessage());
                transport.execute(() -> {
                    namespaces.remove(n.nsid());
                    synchronized (this) {
                        bdevs.remove(n.nsid(), bname);
                    }
                });
            }
        });
    }

    private void removeNamespace(long nsid, String why) {
        namespaces.remove(nsid);
        String b;
        synchronized (this) {
            b = bdevs.remove(nsid);
        }
        if (b != null) {
            LOG.info("bdev_nvme {}: namespace {} removed by the target ({}): hot-removing {}", opts.name(), nsid, why, b);
            layer.unregister(b);
        }
    }

    // ------------------------------------------------------------------ faults

    /** From a queue pair's reactor: its stream says the target went away. */
    void qpairLost(HostQpair q, String why) {
        transport.execute(() -> {
            if (state == State.ENABLED) {
                fault(why);
            }
        });
    }

    /** A fault of an enabled controller: start a reset. */
    private void fault(String why) {
        lastError = why;
        LOG.warn("bdev_nvme {}: {}: resetting the controller", opts.name(), why);
        if (lossStartNs == 0) {
            lossStartNs = System.nanoTime();
        }
        // SPDK: while resetting with reconnect_delay_sec 0 the controller counts as failed, so I/O fails at once
        if (opts.reconnectDelaySec() == 0) {
            failIo = true;
        }
        dropStreams();
        state = State.RESETTING;
        nextAttemptNs = System.nanoTime(); // the first reconnect is immediate
    }

    /** A connect attempt failed. */
    private void attemptFailed(String why) {
        lastError = why;
        dropStreams();
        if (!everEnabled) {
            LOG.warn("bdev_nvme {}: attach failed: {}", opts.name(), why);
            deleteNow(IoStatus.FAILED);
            failAttachWhenDeleted(new BdevException(Errno.EIO, "bdev_nvme_attach_controller name=" + opts.name() + ": " + why));
            return;
        }
        if (opts.reconnectDelaySec() == 0 || opts.ctrlrLossTimeoutSec() == 0) {
            LOG.warn("bdev_nvme {}: reconnect failed ({}); the controller stays failed (reconnect_delay_sec={}, ctrlr_loss_timeout_sec={})",
                    opts.name(), why, opts.reconnectDelaySec(), opts.ctrlrLossTimeoutSec());
            state = State.FAILED;
            setFailIo(true);
            return;
        }
        LOG.info("bdev_nvme {}: reconnect failed ({}); next attempt in {} s", opts.name(), why, opts.reconnectDelaySec());
        state = State.RESETTING;
        nextAttemptNs = System.nanoTime() + opts.reconnectDelaySec() * 1_000_000_000L;
    }

    /**
     * Fails the attach once the controller is deleted (its queue pairs shut down, its name free again), so a caller
     * that retries the same name right after the error does not find it still in use, as SPDK frees a failed
     * controller before its attach RPC answers.
     */
    private void failAttachWhenDeleted(Throwable why) {
        deleted.whenComplete((v, e) -> attached.completeExceptionally(why));
    }

    /** A refusal (host not allowed, authentication failed): not retried on first attach. */
    private void refused(String why) {
        attemptFailed(why);
    }

    /** Detaches every queue pair from its streams (on their reactors), then closes the streams here. */
    private void dropStreams() {
        ExclusivePublication[] pubs = ioPubs.clone();
        Subscription[] subs = ioSubs.clone();
        ExclusivePublication ap = adminPub;
        Subscription as = adminSub;
        if (ap != null && ap.isConnected() && cntlid != 0 && state != State.RESETTING && state != State.FAILED) {
            ap.offer(adminBuf, 0, AdminCodec.encode(adminBuf, 0, new AdminCodec.Disconnect(cntlid, 0, 0, "host resetting")));
        }
        adminPub = null;
        adminSub = null;
        for (int i = 0; i < ioPubs.length; i++) {
            ioPubs[i] = null;
            ioSubs[i] = null;
        }
        AtomicInteger left = new AtomicInteger(qpairs.length);
        Runnable close = () -> transport.execute(() -> {
            for (int i = 0; i < pubs.length; i++) {
                if (pubs[i] != null) {
                    pubs[i].close();
                }
                if (subs[i] != null) {
                    subs[i].close();
                }
            }
            if (ap != null) {
                ap.close();
            }
            if (as != null) {
                as.close();
            }
        });
        for (HostQpair q : qpairs) {
            q.reactor().send(() -> {
                q.disconnect();
                if (left.decrementAndGet() == 0) {
                    close.run();
                }
            });
        }
    }

    // ------------------------------------------------------------------ delete

    /** {@code bdev_nvme_detach_controller}, or ctrlr_loss: hot-removes the bdevs, then closes everything. */
    CompletableFuture<Void> detach() {
        transport.execute(() -> delete("detached"));
        return deleted;
    }

    private void delete(String why) {
        if (state == State.DELETING || state == State.DELETED) {
            return;
        }
        lastError = why;
        state = State.DELETING;
        setFailIo(true);
        List<String> names;
        synchronized (this) {
            names = new ArrayList<>(bdevs.values());
            bdevs.clear();
        }
        List<CompletableFuture<Integer>> uns = new ArrayList<>();
        for (String b : names) {
            uns.add(layer.unregister(b).toCompletableFuture());
        }
        CompletableFuture.allOf(uns.toArray(new CompletableFuture<?>[0])).whenComplete((v, e) -> transport.execute(() -> deleteNow(IoStatus.FAILED)));
    }

    /** After the bdevs are gone (or never were): streams closed, queue pairs shut down, the transport released. */
    private void deleteNow(IoStatus leftover) {
        state = State.DELETING;
        failIo = true;
        if (adminPub != null || adminSub != null) {
            dropStreams();
        }
        transport.removeAgent(agent);
        AtomicInteger left = new AtomicInteger(qpairs.length);
        for (HostQpair q : qpairs) {
            q.reactor().send(() -> {
                q.shutdown(leftover);
                if (left.decrementAndGet() == 0) {
                    transport.execute(() -> {
                        state = State.DELETED;
                        module.removed(this);
                        transport.release().whenComplete((x, e) -> deleted.complete(null));
                    });
                }
            });
        }
    }

    /** Completes when the controller has been deleted. */
    public CompletableFuture<Void> whenDeleted() {
        return deleted;
    }

    /** {@code bdev_nvme_get_controllers}' trid fields. */
    Map<String, Object> trid() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("trtype", "AERON");
        m.put("adrfam", opts.adrfam());
        m.put("traddr", opts.traddr());
        m.put("trsvcid", opts.trsvcid());
        m.put("subnqn", opts.subnqn());
        return m;
    }

    String serial() {
        return serial;
    }

    String model() {
        return model;
    }
}
