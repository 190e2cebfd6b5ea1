package io.spindle.bdev;

import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.runtime.IoDevice;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * A registered block device: SPDK's {@code spdk_bdev}. Its identity and geometry are immutable (the block
 * count changes only by resize); its life-cycle (descriptors, claims, unregister) is guarded by the bdev
 * itself and driven by its actor.
 *
 * <p>Modules see it as a {@link BdevView} (the SPI's view of a bdev, which this class is the one implementation
 * of): the same object, so a driver gets no copy and no wrapper on the I/O path.
 *
 * <p>Thread-safe to read from anywhere. The fields every submit reads sit a cache line away from the object's lock
 * word (see {@code BdevHeaderPadding}).
 */
public final class Bdev extends BdevHeaderPadding implements BdevView {
    /** Life-cycle states. */
    public enum Status {
        /**
         * Being set up (its actor and io_devices are starting): its names are reserved, but lookups by name do
         * not find it yet, so opens, unregister, resize and QoS answer ENODEV as for an unknown name.
         */
        REGISTERING,
        /** Open for business. */
        READY,
        /** Unregister started: new opens fail with ENODEV, queued I/O is aborted. */
        UNREGISTERING,
        /** REMOVE sent to every descriptor; waiting for them to close. */
        REMOVING,
        /** Gone. */
        REMOVED
    }

    final BdevLayer layer;
    private final String name;
    private final List<String> aliases;
    private final UUID uuid;
    private final String productName;
    final int blockSize;
    private volatile long numBlocks;
    final long optimalIoBoundary;
    final long maxRwSize;
    final int requiredAlignment;
    private final boolean writeCache;
    /** SPDK's {@code reset_io_drain_timeout}, seconds (0: a reset goes to the module at once). */
    final int resetIoDrainTimeout;
    private final BdevModule module;
    final int moduleSlot;
    final BdevDriver<?> driver;
    private final Set<IoType> nativeTypes;
    /** {@link #supports} as a bit per {@link IoType#ordinal()}, computed once: it is on every submit. */
    private final long acceptedTypes;
    final boolean nativeWriteZeroes;
    final boolean nativeCompare;
    volatile IoDevice<BdevChannel> ioDevice;
    /** Current QoS, null when no limit is set. Read on every submit by every channel. */
    volatile Qos qos;
    /** Whether channels record latency histograms. */
    volatile boolean histogramEnabled;
    volatile SpdkHistogram.Options histogramOptions = SpdkHistogram.Options.DEFAULT;
    private org.HdrHistogram.Histogram mergedHistogram;
    /**
     * The bdev's actor: set by the registry from the spawn, before the bdev's names are reserved, so it is never
     * null once the bdev can be looked up (messages sent before the actor has started wait in its mailbox).
     */
    volatile ActorRef<BdevActor.Command> actor;
    /**
     * Requests sent to {@link #actor} and not answered yet, each able to answer ENODEV should the actor stop first;
     * lock-free, so completing a future never takes the bdev's lock.
     */
    private final java.util.concurrent.ConcurrentHashMap<java.util.concurrent.CompletableFuture<?>, BdevActor.Request> requests =
            new java.util.concurrent.ConcurrentHashMap<>();
    private volatile boolean actorStopped;

    // ---- guarded by this ----
    private Status status = Status.REGISTERING;
    private final List<BdevDescriptor> descs = new ArrayList<>();
    private ClaimType claimType;
    /** The v1 ({@link ClaimType#EXCL_WRITE}) claimer; null under v2 claims. */
    private BdevModule claimModule;
    /** v2 claims in the order taken (SPDK's {@code claim.v2.claims}); empty unless {@link #claimType} is v2. */
    private final List<V2Claim> v2Claims = new ArrayList<>();
    /** The shared key of a {@link ClaimType#READ_MANY_WRITE_SHARED} claim, 0 otherwise. */
    private long claimKey;
    private final IoStats mergedStats = new IoStats();
    /** Sections other parts of Spindle add to {@code driver_specific} (see {@link #annotate}). */
    private final java.util.concurrent.ConcurrentSkipListMap<String, com.fasterxml.jackson.databind.JsonNode> annotations =
            new java.util.concurrent.ConcurrentSkipListMap<>();
    private BdevIo resetInProgress;
    /** LBA ranges locked by compare_and_write; {@link #lockCount} is the lock-free fast-path check. */
    private final java.util.List<BdevIo> lockedRanges = new java.util.ArrayList<>();
    volatile int lockCount;
    private final java.util.ArrayDeque<BdevIo> pendingResets = new java.util.ArrayDeque<>();

    Bdev(BdevLayer layer, BdevSpec spec, UUID uuid) {
        this.layer = layer;
        this.name = spec.name();
        this.uuid = uuid;
        List<String> al = new ArrayList<>(spec.aliases());
        al.add(uuid.toString());
        this.aliases = List.copyOf(al);
        this.productName = spec.productName();
        this.blockSize = spec.blockSize();
        this.numBlocks = spec.numBlocks();
        this.optimalIoBoundary = spec.optimalIoBoundary();
        this.maxRwSize = spec.maxRwSize();
        this.requiredAlignment = spec.requiredAlignment();
        this.writeCache = spec.writeCache();
        this.resetIoDrainTimeout = spec.resetIoDrainTimeout();
        this.module = spec.module();
        this.moduleSlot = layer.slotOf(spec.module());
        this.driver = spec.driver();
        EnumSet<IoType> t = EnumSet.noneOf(IoType.class);
        for (IoType type : IoType.values()) {
            if (driver.supports(type)) {
                t.add(type);
            }
        }
        this.nativeTypes = java.util.Collections.unmodifiableSet(t);
        this.nativeWriteZeroes = t.contains(IoType.WRITE_ZEROES);
        this.nativeCompare = t.contains(IoType.COMPARE);
        long accepted = 0;
        for (IoType type : IoType.values()) {
            boolean ok = switch (type) {
                case WRITE_ZEROES -> nativeWriteZeroes || t.contains(IoType.WRITE);
                case COMPARE -> nativeCompare || t.contains(IoType.READ);
                case COMPARE_AND_WRITE -> t.contains(IoType.READ) && t.contains(IoType.WRITE);
                default -> t.contains(type);
            };
            if (ok) {
                accepted |= 1L << type.ordinal();
            }
        }
        this.acceptedTypes = accepted;
    }

    /** The name. */
    public String name() {
        return name;
    }

    /** Aliases; the UUID's text is always one of them. */
    public List<String> aliases() {
        return aliases;
    }

    /** The UUID (generated at register when the module gave none). */
    public UUID uuid() {
        return uuid;
    }

    /** Product name, e.g. {@code Malloc disk}. */
    public String productName() {
        return productName;
    }

    /** Block size in bytes. */
    public int blockSize() {
        return blockSize;
    }

    /** Block count. */
    public long numBlocks() {
        return numBlocks;
    }

    /** Size in bytes. */
    public long sizeBytes() {
        return numBlocks * blockSize;
    }

    /** Split boundary in blocks (0 = none). */
    public long optimalIoBoundary() {
        return optimalIoBoundary;
    }

    /** Largest read/write in blocks (0 = unlimited); larger I/O is split. */
    public long maxRwSize() {
        return maxRwSize;
    }

    /** Buffer alignment the module needs; misaligned buffers are bounced. */
    public int requiredAlignment() {
        return requiredAlignment;
    }

    /** Whether the device has a volatile write cache. */
    public boolean writeCache() {
        return writeCache;
    }

    /**
     * Seconds a reset waits for outstanding I/O to drain before it reaches the module (SPDK's
     * {@code reset_io_drain_timeout}); 0: the module is reset at once. See {@link BdevDescriptor#reset}.
     */
    public int resetIoDrainTimeout() {
        return resetIoDrainTimeout;
    }

    /** Whether data written can be read back ({@link io.spindle.bdev.spi.BdevDriver#retainsData()}). */
    public boolean retainsData() {
        return driver.retainsData();
    }

    /** The module that created this bdev. */
    public BdevModule module() {
        return module;
    }

    /**
     * Whether I/O of {@code type} is accepted: natively, or emulated (WRITE_ZEROES with writes, COMPARE with
     * a read) — SPDK's {@code spdk_bdev_io_type_supported}.
     */
    public boolean supports(IoType type) {
        return (acceptedTypes & (1L << type.ordinal())) != 0;
    }

    /** Types the module handles itself. */
    public Set<IoType> nativeIoTypes() {
        return nativeTypes;
    }

    /** Current status. */
    public synchronized Status status() {
        return status;
    }

    /** Whether a module holds a claim (claimed bdevs are not leaves). */
    public synchronized boolean claimed() {
        return claimType != null;
    }

    /** The claim type, or null. */
    public synchronized ClaimType claimType() {
        return claimType;
    }

    /** The claiming module (under v2 claims, the module of the first claim still held), or null. */
    public synchronized BdevModule claimModule() {
        if (claimType == ClaimType.EXCL_WRITE) {
            return claimModule;
        }
        return v2Claims.isEmpty() ? null : v2Claims.get(0).module();
    }

    /**
     * Every module that holds a claim, in claim order, each once: the v1 claimer, or the module of each v2 claim.
     * Empty when unclaimed. The registry runs {@code examine_disk} of exactly these when the bdev is claimed.
     */
    synchronized List<BdevModule> claimModules() {
        if (claimType == null) {
            return List.of();
        }
        if (claimType == ClaimType.EXCL_WRITE) {
            return List.of(claimModule);
        }
        List<BdevModule> out = new ArrayList<>();
        for (V2Claim c : v2Claims) {
            if (!out.contains(c.module())) {
                out.add(c.module());
            }
        }
        return out;
    }

    /** Number of v2 claims held (SPDK's {@code claim.v2.claims} length); 0 under a v1 claim. */
    synchronized int v2ClaimCount() {
        return v2Claims.size();
    }

    /** Number of open descriptors. */
    public synchronized int openDescriptors() {
        return descs.size();
    }

    /**
     * Stats merged from channels already destroyed (each channel's own counters join when it goes).
     */
    public synchronized IoStats mergedStats() {
        return mergedStats.copy();
    }

    /** A copy of the merged stats, then reset as {@code mode} says. */
    synchronized IoStats takeMergedStats(IoStats.ResetMode mode) {
        IoStats c = mergedStats.copy();
        mergedStats.reset(mode);
        return c;
    }

    synchronized void mergeStats(IoStats s) {
        mergedStats.add(s);
    }

    synchronized void mergeHistogram(org.HdrHistogram.Histogram h) {
        if (mergedHistogram == null) {
            mergedHistogram = new org.HdrHistogram.Histogram(h.getHighestTrackableValue(), 3);
        }
        mergedHistogram.add(h);
    }

    synchronized org.HdrHistogram.Histogram mergedHistogramCopy() {
        return mergedHistogram == null ? null : mergedHistogram.copy();
    }

    /** The QoS limits in force ({@link QosLimits#NONE} when none). */
    public QosLimits qosLimits() {
        Qos q = qos;
        return q == null ? QosLimits.NONE : q.limits;
    }

    /** Whether latency histograms are being recorded. */
    public boolean histogramEnabled() {
        return histogramEnabled;
    }

    /** The SPDK histogram options given when the histogram was last enabled (SPDK's defaults before). */
    public SpdkHistogram.Options histogramOptions() {
        return histogramOptions;
    }

    // ------------------------------------------------------------------ life-cycle (package)

    /**
     * Locks {@code owner}'s range unless a range locked by another I/O overlaps it (SPDK's {@code bdev_lock_lba_range}
     * queues such a lock as pending); true when locked. Atomic with respect to every reactor.
     */
    synchronized boolean tryLockRange(BdevIo owner) {
        if (lockedAgainst(owner.offsetBlocks, owner.numBlocks, owner)) {
            return false;
        }
        lockedRanges.add(owner);
        lockCount = lockedRanges.size();
        return true;
    }

    synchronized void unlockRange(BdevIo owner) {
        lockedRanges.remove(owner);
        lockCount = lockedRanges.size();
    }

    /** Whether {@code [offset, offset+n)} overlaps a range locked by an I/O other than {@code self}. */
    synchronized boolean lockedAgainst(long offset, long n, BdevIo self) {
        for (BdevIo l : lockedRanges) {
            if (l != self && offset < l.offsetBlocks + l.numBlocks && l.offsetBlocks < offset + n) {
                return true;
            }
        }
        return false;
    }

    /** True when {@code reset} may start now; otherwise it is queued behind the reset in progress. */
    synchronized boolean beginReset(BdevIo reset) {
        if (resetInProgress == null) {
            resetInProgress = reset;
            return true;
        }
        pendingResets.add(reset);
        return false;
    }

    /** The next queued reset, which becomes the one in progress, or null. */
    synchronized BdevIo endReset() {
        resetInProgress = pendingResets.poll();
        return resetInProgress;
    }

    /**
     * Sends {@code r} to the bdev's actor so that its future completes whatever happens: answered by the actor, or,
     * when the actor has stopped (after its unregister) or stops before answering, with ENODEV
     * ({@link BdevActor.Request#answerGone}). Any thread. Control plane only: it allocates.
     */
    <R extends BdevActor.Command & BdevActor.Request> void request(R r) {
        java.util.concurrent.CompletableFuture<?> f = r.replyTo();
        requests.put(f, r);
        f.whenComplete((v, e) -> requests.remove(f));
        // Ordering with actorStopped(): either this read sees the flag (and answers here), or the put above came
        // before the flag was set, so the sweep there sees the entry. Both may answer; a future completes once.
        if (actorStopped) {
            r.answerGone(name);
            return;
        }
        actor.tell(r);
    }

    /** From the actor's PostStop: answers ENODEV to every request it did not answer, and to those sent later. */
    void actorStopped() {
        actorStopped = true;
        for (BdevActor.Request r : requests.values()) {
            r.answerGone(name);
        }
    }

    /** Resize; called by the bdev actor under the bdev's lock. */
    void setNumBlocks(long n) {
        numBlocks = n;
    }

    synchronized void setStatus(Status s) {
        status = s;
    }

    synchronized BdevDescriptor open(io.spindle.runtime.Reactor reactor, boolean writable, BdevEventHandler handler) {
        if (status != Status.READY) {
            throw new BdevException(io.spindle.runtime.Errno.ENODEV, "bdev_open name=" + name + ": bdev is " + status.name().toLowerCase());
        }
        if (writable && claimType != null) {
            throw new BdevException(io.spindle.runtime.Errno.EPERM, "bdev_open name=" + name + ": write open of a bdev claimed by module "
                    + claimModule().name() + " (" + claimType.rpcName() + ")");
        }
        BdevDescriptor d = new BdevDescriptor(this, reactor, writable, handler);
        descs.add(d);
        return d;
    }

    /** Removes a closed descriptor and releases its v2 claim; true when it was the last one while the bdev is being removed. */
    synchronized boolean close(BdevDescriptor d) {
        descs.remove(d);
        if (v2Claims.removeIf(c -> c.desc() == d) && v2Claims.isEmpty()) {
            claimType = null; // SPDK claim_reset: the last v2 claim went with its descriptor
            claimKey = 0;
        }
        return descs.isEmpty() && status == Status.REMOVING;
    }

    synchronized List<BdevDescriptor> descriptors() {
        return new ArrayList<>(descs);
    }

    /** SPDK's {@code spdk_bdev_module_claim_bdev}: 0, or EPERM when any claim is held. */
    synchronized int claimV1(BdevDescriptor desc, BdevModule m) {
        if (claimType != null) {
            return io.spindle.runtime.Errno.EPERM;
        }
        claimType = ClaimType.EXCL_WRITE;
        claimModule = m;
        if (desc != null) {
            desc.writable = true;
        }
        return 0;
    }

    synchronized int claimV1Release(BdevModule m) {
        if (claimType != ClaimType.EXCL_WRITE || claimModule != m) {
            return io.spindle.runtime.Errno.EINVAL;
        }
        claimType = null;
        claimModule = null;
        return 0;
    }

    /**
     * SPDK's {@code spdk_bdev_module_claim_bdev_desc}, with its checks in its order: a claim of another type is
     * EPERM; EXCL_WRITE is the v1 claim; a descriptor with a v2 claim already is EPERM; then
     * {@code claim_verify_rwo/rom/rwm}. Descriptors upgraded to write by a claim count as writers.
     */
    synchronized int claimV2(BdevDescriptor desc, ClaimType type, long key, BdevModule m) {
        if (type == null || m == null || desc.bdev != this || desc.closed) {
            return io.spindle.runtime.Errno.EINVAL;
        }
        if (claimType != null && claimType != type) {
            return io.spindle.runtime.Errno.EPERM;
        }
        if (type == ClaimType.EXCL_WRITE) {
            return claimV1(desc, m);
        }
        for (V2Claim c : v2Claims) {
            if (c.desc() == desc) {
                return io.spindle.runtime.Errno.EPERM; // this descriptor already holds a claim
            }
        }
        int rc = switch (type) {
            case READ_MANY_WRITE_ONE -> verifyRwo(desc, key);
            case READ_MANY_WRITE_NONE -> verifyRom(desc, key);
            case READ_MANY_WRITE_SHARED -> verifyRwm(desc, key);
            default -> io.spindle.runtime.Errno.EINVAL;
        };
        if (rc != 0) {
            return rc;
        }
        if (claimType == null) {
            claimType = type;
            claimKey = key;
        }
        v2Claims.add(new V2Claim(desc, m));
        if (type != ClaimType.READ_MANY_WRITE_NONE) {
            desc.writable = true; // read_many_write_one and _shared promote the descriptor to write
        }
        return 0;
    }

    /** claim_verify_rwo: no key; unclaimed; no other descriptor open for writing. */
    private int verifyRwo(BdevDescriptor desc, long key) {
        if (key != 0) {
            return io.spindle.runtime.Errno.EINVAL;
        }
        if (claimType != null) {
            return io.spindle.runtime.Errno.EPERM;
        }
        for (BdevDescriptor d : descs) {
            if (d != desc && d.writable) {
                return io.spindle.runtime.Errno.EPERM;
            }
        }
        return 0;
    }

    /** claim_verify_rom: a read-only descriptor; no key; when unclaimed, no descriptor open for writing. */
    private int verifyRom(BdevDescriptor desc, long key) {
        if (desc.writable || key != 0) {
            return io.spindle.runtime.Errno.EINVAL;
        }
        if (claimType == null) {
            for (BdevDescriptor d : descs) {
                if (d.writable) {
                    return io.spindle.runtime.Errno.EPERM;
                }
            }
        }
        return 0;
    }

    /**
     * claim_verify_rwm: a non-zero key; when unclaimed, no other descriptor open for writing (a writer without a
     * claim); when already shared, the same key.
     */
    private int verifyRwm(BdevDescriptor desc, long key) {
        if (key == 0) {
            return io.spindle.runtime.Errno.EINVAL;
        }
        if (claimType == null) {
            for (BdevDescriptor d : descs) {
                if (d != desc && d.writable) {
                    return io.spindle.runtime.Errno.EPERM;
                }
            }
            return 0;
        }
        if (claimType == ClaimType.READ_MANY_WRITE_SHARED) {
            return claimKey == key ? 0 : io.spindle.runtime.Errno.EPERM;
        }
        return io.spindle.runtime.Errno.EBUSY;
    }

    /** One v2 claim: the descriptor it lives and dies with, and the claiming module. */
    private record V2Claim(BdevDescriptor desc, BdevModule module) {
    }

    /**
     * Adds (or with a null {@code value}, removes) a section of this bdev's {@code driver_specific} written by a part of
     * Spindle other than its module, next to the module's own section: the cluster names the node a cluster-attached
     * bdev comes from under {@code "cluster"}. A section named after the module is refused (it is the module's).
     * Any thread; {@code value} must not be changed afterwards.
     *
     * @throws IllegalArgumentException when {@code section} is the module's name or not a lower-case identifier
     */
    public void annotate(String section, com.fasterxml.jackson.databind.JsonNode value) {
        if (section == null || !section.matches("[a-z][a-z0-9_]*") || section.equals(module.name())) {
            throw new IllegalArgumentException("driver_specific section=" + section + ": must be a lower-case identifier other than the module's ("
                    + module.name() + ")");
        }
        if (value == null) {
            annotations.remove(section);
        } else {
            annotations.put(section, value);
        }
    }

    /** SPDK's I/O type names in {@code supported_io_types}, in SPDK's order (types Spindle lacks are false). */
    private static final String[] SPDK_IO_TYPES = {"read", "write", "unmap", "flush", "reset", "nvme_admin", "nvme_io", "nvme_io_md",
        "write_zeroes", "zcopy", "get_zone_info", "zone_management", "zone_append", "compare", "compare_and_write", "abort",
        "seek_hole", "seek_data", "copy", "nvme_iov_md", "nvme_nssr", "write_uncorrectable"};

    /**
     * This bdev as {@code bdev_get_bdevs} describes it, with SPDK's fields in SPDK's order: name, aliases,
     * product_name, block_size, num_blocks, the preferred/optimal write and unmap geometry (0: none), uuid,
     * assigned_rate_limits, claimed, claim_type (when claimed), zoned, supported_io_types (every SPDK type; those
     * Spindle lacks are false), driver_specific (an object named after the module, when it has information, and the sections added with
     * {@link #annotate}; else empty). Any thread.
     */
    public com.fasterxml.jackson.databind.node.ObjectNode toJson(com.fasterxml.jackson.databind.ObjectMapper mapper) {
        com.fasterxml.jackson.databind.node.ObjectNode o = mapper.createObjectNode();
        o.put("name", name);
        com.fasterxml.jackson.databind.node.ArrayNode al = o.putArray("aliases");
        for (String a : aliases) {
            if (!a.equals(uuid.toString())) {
                al.add(a);
            }
        }
        o.put("product_name", productName);
        o.put("block_size", blockSize);
        o.put("num_blocks", numBlocks());
        o.put("preferred_write_alignment", 0);
        o.put("preferred_write_granularity", 0);
        o.put("optimal_write_size", 0);
        o.put("preferred_unmap_alignment", 0);
        o.put("preferred_unmap_granularity", 0);
        o.put("uuid", uuid.toString());
        QosLimits q = qosLimits();
        com.fasterxml.jackson.databind.node.ObjectNode rl = o.putObject("assigned_rate_limits");
        rl.put("rw_ios_per_sec", q.rwIosPerSec());
        rl.put("rw_mbytes_per_sec", q.rwMbytesPerSec());
        rl.put("r_mbytes_per_sec", q.rMbytesPerSec());
        rl.put("w_mbytes_per_sec", q.wMbytesPerSec());
        ClaimType ct = claimType();
        o.put("claimed", ct != null);
        if (ct != null) {
            o.put("claim_type", ct.rpcName());
        }
        o.put("zoned", false);
        com.fasterxml.jackson.databind.node.ObjectNode types = o.putObject("supported_io_types");
        for (String t : SPDK_IO_TYPES) {
            types.put(t, false);
        }
        for (IoType t : IoType.values()) {
            types.put(t.rpcName(), supports(t));
        }
        com.fasterxml.jackson.databind.node.ObjectNode ds = o.putObject("driver_specific");
        com.fasterxml.jackson.databind.node.ObjectNode mine = ds.objectNode();
        driver.dumpInfo(mine);
        if (!mine.isEmpty()) {
            // as SPDK: a module without dump_info_json leaves driver_specific {}
            ds.set(module.name(), driver.dumpInfoAsArray() ? ds.arrayNode().add(mine) : mine);
        }
        for (java.util.Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> a : annotations.entrySet()) {
            ds.set(a.getKey(), a.getValue().deepCopy());
        }
        return o;
    }

    @Override
    public String toString() {
        return "Bdev[" + name + "]";
    }
}
