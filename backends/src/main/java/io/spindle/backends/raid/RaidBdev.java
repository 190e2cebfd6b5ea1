package io.spindle.backends.raid;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.Vbdevs;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevContext;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.Reactor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * One raid bdev and its base slots (SPDK's {@code struct raid_bdev} with its {@code raid_base_bdev_info}s).
 *
 * <p><b>States, as SPDK's.</b> CONFIGURING until every slot has its base (opened read-write and module-claimed, now
 * or when it registers: examine); then the raid bdev registers and is ONLINE. A base removed (hot-remove,
 * {@code bdev_raid_remove_base_bdev}, or a raid1 base failed by I/O) from an ONLINE raid0 or concat makes it OFFLINE
 * and unregisters it (the other bases stay claimed until {@code bdev_raid_delete}); raid1 drops the slot (the
 * raid is degraded and keeps serving) until no base is left. From a raid that is not ONLINE, a removed base is just
 * released. {@code bdev_raid_add_base_bdev} fills an empty slot: on an ONLINE raid1 it is rebuilt ({@link Rebuild})
 * while I/O runs.
 *
 * <p><b>Slot changes on live channels</b> are channel walks over the raid's own io_device (registered in the driver's
 * {@code start}, as SPDK registers the raid as an io_device): a dropped slot's channel is put on each reactor once its
 * I/O there is done, and the slot's descriptor is closed (and its claim released) when the last channel holding it
 * put it ({@link Slot#holders}).
 *
 * <p><b>Threads.</b> Control (slots, state, counters) on the app thread; {@code toJson} and the driver's
 * {@code writeConfig} may run on the RPC thread and read volatile fields; I/O on each channel's reactor with
 * immutable geometry.
 */
final class RaidBdev {
    private static final Logger LOG = LoggerFactory.getLogger(RaidBdev.class);

    /** SPDK's {@code enum raid_bdev_state}, with its names. */
    enum State {
        ONLINE("online"), CONFIGURING("configuring"), OFFLINE("offline");

        final String rpcName;

        State(String rpcName) {
            this.rpcName = rpcName;
        }
    }

    /** One base slot (SPDK's {@code struct raid_base_bdev_info}). */
    static final class Slot {
        final int index;
        /** The base's name; null once removed (saved as {@code removed_base_bdev_<slot>}). */
        volatile String name;
        volatile UUID uuid;
        volatile boolean configured;
        volatile long dataSize;
        BdevDescriptor desc;
        Bdev bdev;
        /** Removal under way: its descriptor closes when {@link #holders} reaches 0. */
        boolean removing;
        /** Raid channels holding a channel of this base. */
        final AtomicInteger holders = new AtomicInteger();
        /** The base is being rebuilt: written, not read. */
        volatile boolean rebuilding;
        /** Completed when the removal under way has released the base. App thread. */
        final List<CompletableFuture<Integer>> releaseWaiters = new ArrayList<>();

        Slot(int index, String name) {
            this.index = index;
            this.name = name;
        }
    }

    final RaidModule module;
    final BdevLayer layer;
    final String name;
    final UUID uuid;
    final RaidLevel level;
    final int stripSizeKb;
    final int numSlots;
    final Slot[] slots;
    volatile State state = State.CONFIGURING;
    volatile int discovered;
    volatile int operational;
    volatile Rebuild process;
    boolean deleting;

    // geometry, fixed at configure
    int blockSize;
    long stripBlocks;
    /**
     * log2 of {@link #stripBlocks} when it is a power of two (SPDK's {@code strip_size_shift}; strip_size_kb is one, so
     * with a power-of-two block size it always is), else -1; and log2 of {@link #numSlots} likewise. raid0's address
     * map uses shifts and masks then: four 64-bit divisions per I/O were the largest cost of the raid0 read path.
     */
    int stripShift = -1;
    int slotShift = -1;
    long numBlocks;
    long[] concatStart;
    long[] concatEnd;
    volatile Bdev bdev;
    private IoDevice<RaidChannel> ioDevice;
    private FanOuts fanOuts;

    RaidBdev(RaidModule module, BdevLayer layer, String name, UUID uuid, RaidLevel level, int stripSizeKb, List<String> baseNames) {
        this.module = module;
        this.layer = layer;
        this.name = name;
        this.uuid = uuid != null ? uuid : UUID.randomUUID();
        this.level = level;
        this.stripSizeKb = stripSizeKb;
        this.numSlots = baseNames.size();
        this.slots = new Slot[numSlots];
        for (int i = 0; i < numSlots; i++) {
            slots[i] = new Slot(i, baseNames.get(i));
        }
        this.operational = numSlots;
    }

    // ------------------------------------------------------------------ configure (app thread)

    /**
     * Opens and claims the base for {@code slot} (SPDK's {@code raid_bdev_configure_base_bdev}); when every slot is
     * discovered, registers the raid. Completes with 0, or fails with the open's/claim's errno (EPERM: claimed).
     */
    CompletionStage<Void> configureBase(Slot slot) {
        BdevDescriptor d;
        try {
            d = layer.open(slot.name, true, (e, b, desc) -> onBaseEvent(slot, e));
        } catch (BdevException e) {
            return CompletableFuture.failedFuture(e);
        }
        Bdev b = d.bdev();
        if (slot.uuid != null && !slot.uuid.equals(b.uuid())) {
            d.close();
            return Vbdevs.failed(Errno.EINVAL, "bdev_raid name=" + name + ": base " + b.name() + " has UUID " + b.uuid() + ", slot " + slot.index
                    + " expects " + slot.uuid);
        }
        int rc = layer.claimBdev(b, d, module);
        if (rc != 0) {
            d.close();
            return Vbdevs.failed(rc, "bdev_raid name=" + name + ": base " + b.name() + " is already claimed by module "
                    + (b.claimModule() == null ? "?" : b.claimModule().name()));
        }
        if (bdev != null || discovered > 0) {
            int bs = blockSize != 0 ? blockSize : firstConfiguredBlockSize();
            if (bs != 0 && b.blockSize() != bs) {
                layer.releaseBdev(b, module);
                d.close();
                return Vbdevs.failed(Errno.EINVAL, "bdev_raid name=" + name + ": base " + b.name() + " has block size " + b.blockSize()
                        + ", the raid's bases have " + bs);
            }
        }
        if (bdev != null && b.numBlocks() < requiredBaseBlocks()) {
            layer.releaseBdev(b, module);
            d.close();
            return Vbdevs.failed(Errno.EINVAL, "bdev_raid name=" + name + ": base " + b.name() + " has " + b.numBlocks() + " blocks, slot "
                    + slot.index + " needs " + requiredBaseBlocks());
        }
        slot.desc = d;
        slot.bdev = b;
        slot.uuid = b.uuid();
        slot.name = b.name();
        slot.configured = true;
        slot.dataSize = b.numBlocks();
        discovered++;
        if (state == State.CONFIGURING && discovered == numSlots) {
            return configure();
        }
        return CompletableFuture.completedFuture(null);
    }

    private int firstConfiguredBlockSize() {
        for (Slot s : slots) {
            if (s.configured && s.bdev != null) {
                return s.bdev.blockSize();
            }
        }
        return 0;
    }

    /** Blocks a base needs for the raid as configured (raid1: the raid's size; raid0: per-base data size). */
    long requiredBaseBlocks() {
        return switch (level) {
            case RAID1 -> numBlocks;
            case RAID0 -> numBlocks / numSlots;
            default -> 0;
        };
    }

    /** Every slot has its base: geometry, then register (SPDK's {@code raid_bdev_configure}). */
    private CompletionStage<Void> configure() {
        int bs = firstConfiguredBlockSize();
        for (Slot s : slots) {
            if (s.bdev.blockSize() != bs) {
                return Vbdevs.failed(Errno.EINVAL, "bdev_raid name=" + name + ": bases have different block sizes");
            }
        }
        blockSize = bs;
        if (level.striped()) {
            long stripBytes = (long) stripSizeKb * 1024;
            if (stripBytes < bs) {
                return Vbdevs.failed(Errno.EINVAL, "bdev_raid name=" + name + ": strip_size_kb=" + stripSizeKb + " is below the block size " + bs);
            }
            stripBlocks = stripBytes / bs;
            stripShift = Long.bitCount(stripBlocks) == 1 ? Long.numberOfTrailingZeros(stripBlocks) : -1;
        }
        slotShift = Integer.bitCount(numSlots) == 1 ? Integer.numberOfTrailingZeros(numSlots) : -1;
        long minData = Long.MAX_VALUE;
        for (Slot s : slots) {
            minData = Math.min(minData, s.dataSize);
        }
        switch (level) {
            case RAID0 -> {
                long perBase = minData / stripBlocks * stripBlocks;
                numBlocks = perBase * numSlots;
            }
            case RAID1 -> numBlocks = minData;
            default -> {
                concatStart = new long[numSlots];
                concatEnd = new long[numSlots];
                long total = 0;
                for (int i = 0; i < numSlots; i++) {
                    long n = slots[i].dataSize / stripBlocks * stripBlocks;
                    concatStart[i] = total;
                    total += n;
                    concatEnd[i] = total;
                }
                numBlocks = total;
            }
        }
        if (numBlocks <= 0) {
            return Vbdevs.failed(Errno.EINVAL, "bdev_raid name=" + name + ": the bases are smaller than one strip");
        }
        int align = 1;
        boolean writeCache = false;
        for (Slot s : slots) {
            align = Math.max(align, s.bdev.requiredAlignment());
            writeCache |= s.bdev.writeCache();
        }
        long boundary = level == RaidLevel.RAID1 || level == RaidLevel.RAID0 && numSlots == 1 ? 0 : stripBlocks;
        BdevSpec spec = BdevSpec.builder(module, new Driver()).name(name).productName("Raid Volume").blockSize(bs).numBlocks(numBlocks)
                .uuid(uuid).optimalIoBoundary(boundary).requiredAlignment(align).writeCache(writeCache).build();
        operational = numSlots;
        CompletableFuture<Void> f = new CompletableFuture<>();
        layer.register(spec).whenComplete((b, err) -> {
            if (err != null) {
                f.completeExceptionally(err);
            } else {
                bdev = b;
                state = State.ONLINE;
                LOG.info("raid {}: {} of {} bases, {} blocks of {} bytes, online", name, level.rpcName(), numSlots, numBlocks, bs);
                f.complete(null);
            }
        });
        return f;
    }

    // ------------------------------------------------------------------ removal (app thread)

    private void onBaseEvent(Slot slot, BdevEvent e) {
        if (e == BdevEvent.REMOVE) {
            removeBase(slot, false);
        }
    }

    /** I/O path: slot {@code i} failed an I/O (raid1); removed from the raid on the app thread. Any reactor. */
    void failBase(int i) {
        Vbdevs.onApp(layer, () -> {
            Slot s = slots[i];
            if (s.configured && !s.removing) {
                LOG.error("raid {}: base {} (slot {}) failed I/O; removing it", name, s.name, i);
                removeBase(s, true);
            }
            return CompletableFuture.completedFuture(null);
        });
    }

    /**
     * SPDK's {@code _raid_bdev_remove_base_bdev}: 0, or ENODEV when the slot has no configured base. App thread.
     */
    int removeBase(Slot slot, boolean failed) {
        if (!slot.configured || slot.removing) {
            return Errno.ENODEV;
        }
        if (state != State.ONLINE) {
            // not serving: just give the base back; the slot keeps its name so the base is found again
            releaseSlot(slot);
            discovered--;
            if (state == State.OFFLINE && discovered == 0 && !deleting) {
                module.forget(this); // offline with no base left: nothing to keep
            }
            return Errno.OK;
        }
        slot.removing = true;
        discovered--;
        operational--;
        if (level.minOperational(numSlots) == numSlots || operational < level.minOperational(numSlots)) {
            LOG.error("raid {}: base {} removed; {} cannot serve without it: going offline", name, slot.name, level.rpcName());
            goOffline();
            dropSlotEverywhere(slot);
            return Errno.OK;
        }
        Rebuild p = process;
        if (p != null && p.target == slot) {
            p.stop(Errno.ENODEV);
        }
        LOG.warn("raid {}: base {} (slot {}) {}; degraded, {} of {} bases operational", name, slot.name, slot.index, failed ? "failed" : "removed",
                operational, numSlots);
        slot.name = null; // written as removed_base_bdev_<slot> from now on
        dropSlotEverywhere(slot);
        return Errno.OK;
    }

    private void goOffline() {
        state = State.OFFLINE;
        Rebuild p = process;
        if (p != null) {
            p.stop(Errno.ENODEV);
        }
        if (bdev != null) {
            layer.unregister(name);
        }
    }

    /** Drops {@code slot} on every raid channel; its descriptor closes when the last one put it. */
    private void dropSlotEverywhere(Slot slot) {
        if (ioDevice == null) {
            if (slot.holders.get() == 0) {
                releaseSlot(slot);
            }
            return;
        }
        walk(ch -> ch.drop(slot.index), () -> {
            if (slot.holders.get() == 0 && slot.configured && slot.removing) {
                releaseSlot(slot);
            }
        });
    }

    /** A raid channel put its channel of slot {@code i} (any reactor): the last one lets the slot's descriptor close. */
    void slotReleasedOnChannel(int i) {
        Slot s = slots[i];
        if (s.holders.decrementAndGet() == 0) {
            Vbdevs.onApp(layer, () -> {
                if (s.removing && s.configured && s.holders.get() == 0) {
                    releaseSlot(s);
                }
                return CompletableFuture.completedFuture(null);
            });
        }
    }

    /** Releases the claim and closes the descriptor of {@code slot}; app thread. */
    void releaseSlot(Slot slot) {
        if (!slot.configured) {
            return;
        }
        slot.configured = false;
        slot.removing = false;
        slot.rebuilding = false;
        layer.releaseBdev(slot.bdev, module);
        slot.desc.close();
        slot.desc = null;
        slot.bdev = null;
        List<CompletableFuture<Integer>> w = new ArrayList<>(slot.releaseWaiters);
        slot.releaseWaiters.clear();
        w.forEach(f -> f.complete(Errno.OK));
    }

    /**
     * {@link #removeBase} for {@code bdev_raid_remove_base_bdev}: completes once the base is released (its channels
     * dropped on every reactor, its claim released and its descriptor closed), as SPDK answers after the removal.
     */
    CompletionStage<Integer> removeBaseAndWait(Slot slot) {
        CompletableFuture<Integer> f = new CompletableFuture<>();
        slot.releaseWaiters.add(f);
        int rc = removeBase(slot, false);
        if (rc != Errno.OK) {
            slot.releaseWaiters.remove(f);
            f.complete(rc);
        } else if (!slot.configured) {
            slot.releaseWaiters.remove(f);
            f.complete(Errno.OK);
        }
        return f;
    }

    /** Releases every base (delete, destruct of a deleted raid); app thread. */
    void releaseAll() {
        for (Slot s : slots) {
            if (s.configured && s.holders.get() == 0) {
                releaseSlot(s);
            }
        }
    }

    // ------------------------------------------------------------------ add (app thread)

    /**
     * {@code bdev_raid_add_base_bdev}: fills the first empty slot with {@code baseName}; on an ONLINE raid1, starts
     * its rebuild. EPERM while a rebuild runs, EINVAL without an empty slot (or a base that does not fit),
     * errors of open/claim.
     */
    CompletionStage<Void> addBase(String baseName) {
        if (process != null) {
            return Vbdevs.failed(Errno.EPERM, "bdev_raid_add_base_bdev raid_bdev=" + name + ": a rebuild is running");
        }
        Slot empty = null;
        for (Slot s : slots) {
            if (!s.configured && (s.name == null || state == State.CONFIGURING && s.name.equals(baseName))) {
                empty = s;
                break;
            }
        }
        if (empty == null || state == State.OFFLINE) {
            return Vbdevs.failed(Errno.EINVAL, "bdev_raid_add_base_bdev raid_bdev=" + name + ": no empty slot" + (state == State.OFFLINE
                    ? " (the raid is offline)" : ""));
        }
        Slot slot = empty;
        String before = slot.name;
        slot.name = baseName;
        slot.uuid = null;
        return configureBase(slot).whenComplete((v, err) -> {
            if (err != null) {
                slot.name = before;
                return;
            }
            if (state == State.ONLINE && level == RaidLevel.RAID1) {
                startRebuild(slot);
            }
        });
    }

    private void startRebuild(Slot target) {
        target.rebuilding = true;
        Rebuild r = new Rebuild(this, target, module.windowBlocks(blockSize), module.maxBandwidthMbSec());
        process = r;
        r.start();
    }

    /** The rebuild ended (done, or stopped with {@code status}); app thread. */
    void rebuildEnded(Rebuild r, int status) {
        if (process == r) {
            process = null;
        }
        Slot t = r.target;
        if (status == Errno.OK) {
            t.rebuilding = false;
            operational++;
            discovered++;
            LOG.info("raid {}: rebuild of {} (slot {}) done; {} of {} bases operational", name, t.name, t.index, operational, numSlots);
        } else if (t.configured && !t.removing) {
            LOG.error("raid {}: rebuild of {} stopped ({}); the base is dropped", name, t.name, Errno.name(status));
            t.removing = true;
            t.name = null;
            dropSlotEverywhere(t);
        }
    }

    // ------------------------------------------------------------------ walks (app thread)

    /** Runs {@code visit} on every raid channel, then {@code done} on the app thread. */
    void walk(Consumer<RaidChannel> visit, Runnable done) {
        if (ioDevice == null) {
            done.run();
            return;
        }
        fanOuts().forEachChannel(ioDevice, null, new FanOuts.ChannelVisitor<Object, RaidChannel, Object>() {
            @Override
            public void visit(FanOuts.ChannelHop<RaidChannel, Object> hop) {
                visit.accept(hop.context());
                hop.continueWalk(Errno.OK);
            }

            @Override
            public void complete(Object ctx, int status) {
                done.run();
            }
        });
    }

    /** A walk whose visit continues the hop itself (the rebuild's window lock). */
    void walkHops(FanOuts.ChannelVisitor<Object, RaidChannel, Object> v) {
        fanOuts().forEachChannel(ioDevice, null, v);
    }

    private FanOuts fanOuts() {
        if (fanOuts == null) {
            fanOuts = FanOuts.forReactor(Vbdevs.appThread(layer));
        }
        return fanOuts;
    }

    IoDevice<RaidChannel> ioDevice() {
        return ioDevice;
    }

    // ------------------------------------------------------------------ geometry for I/O (any reactor)

    /** The slot of the base whose bdev is {@code b}, or -1 (SPDK's {@code raid_bdev_channel_get_base_info}). */
    int slotOf(Bdev b) {
        for (int i = 0; i < numSlots; i++) {
            if (slots[i].bdev == b) {
                return i;
            }
        }
        return -1;
    }

    /** concat: the slot holding block {@code off}. */
    int concatSlot(long off) {
        for (int i = 0; i < numSlots; i++) {
            if (off < concatEnd[i]) {
                return i;
            }
        }
        return numSlots - 1;
    }

    /**
     * The range {@code {offset, count}} of slot {@code slot} that {@code [off, off+n)} of the raid covers, or null
     * (raid0: SPDK's {@code _raid0_get_io_range}/{@code _raid0_split_io_range}; concat: the overlap with the
     * base's range).
     */
    long[] baseRange(int slot, long off, long n) {
        if (level == RaidLevel.CONCAT) {
            long s = Math.max(off, concatStart[slot]);
            long e = Math.min(off + n, concatEnd[slot]);
            return s < e ? new long[] {s - concatStart[slot], e - s} : null;
        }
        long strip = stripBlocks;
        long last = off + n - 1;
        long startStrip = off / strip;
        long endStrip = last / strip;
        int startDisk = (int) (startStrip % numSlots);
        int endDisk = (int) (endStrip % numSlots);
        long involved = Math.min(endStrip - startStrip + 1, numSlots);
        long rel = ((slot - startDisk) % numSlots + numSlots) % numSlots;
        if (rel >= involved) {
            return null;
        }
        long startStripInDisk = startStrip / numSlots + (slot < startDisk ? 1 : 0);
        long endStripInDisk = endStrip / numSlots - (slot > endDisk ? 1 : 0);
        long startOff = slot == startDisk ? off % strip : 0;
        long endOff = slot == endDisk ? last % strip : strip - 1;
        long offset = startStripInDisk * strip + startOff;
        long blocks = (endStripInDisk - startStripInDisk) * strip + endOff - startOff + 1;
        return new long[] {offset, blocks};
    }

    // ------------------------------------------------------------------ JSON (any thread)

    /** SPDK's {@code raid_bdev_write_info_json} fields (after name and uuid). */
    void writeInfo(ObjectNode o) {
        o.put("strip_size_kb", stripSizeKb);
        o.put("state", state.rpcName);
        o.put("raid_level", level.rpcName());
        o.put("superblock", false);
        o.put("num_base_bdevs", numSlots);
        o.put("num_base_bdevs_discovered", discovered);
        o.put("num_base_bdevs_operational", operational);
        Rebuild p = process;
        if (p != null) {
            ObjectNode pr = o.putObject("process");
            pr.put("type", "rebuild");
            pr.put("target", p.targetName);
            ObjectNode prog = pr.putObject("progress");
            long blocks = p.offset();
            prog.put("blocks", blocks);
            prog.put("percent", numBlocks == 0 ? 0 : (int) (blocks * 100 / numBlocks));
        }
        ArrayNode list = o.putArray("base_bdevs_list");
        for (Slot s : slots) {
            ObjectNode b = list.addObject();
            String n = s.name;
            if (n == null) {
                b.putNull("name");
            } else {
                b.put("name", n);
            }
            UUID u = s.uuid;
            b.put("uuid", u == null ? "00000000-0000-0000-0000-000000000000" : u.toString());
            b.put("is_configured", s.configured);
            b.put("data_offset", 0);
            b.put("data_size", s.configured ? s.dataSize : 0);
        }
    }

    /** One entry of {@code bdev_raid_get_bdevs}: name, uuid, then the info (SPDK writes uuid twice; JSON here once). */
    ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("name", name);
        o.put("uuid", uuid.toString());
        writeInfo(o);
        return o;
    }

    /** {@code bdev_raid_create} recreating this raid (SPDK's {@code raid_bdev_write_config_json}). */
    ObjectNode createCall() {
        ObjectNode call = JsonNodeFactory.instance.objectNode();
        call.put("method", "bdev_raid_create");
        ObjectNode p = call.putObject("params");
        p.put("name", name);
        p.put("uuid", uuid.toString());
        if (stripSizeKb != 0) {
            p.put("strip_size_kb", stripSizeKb);
        }
        p.put("raid_level", level.rpcName());
        ArrayNode bases = p.putArray("base_bdevs");
        for (Slot s : slots) {
            String n = s.name;
            bases.add(n != null ? n : "removed_base_bdev_" + s.index);
        }
        return call;
    }

    // ------------------------------------------------------------------ driver

    /** The raid bdev's driver (SPDK's {@code g_raid_bdev_fn_table}). */
    final class Driver implements BdevDriver<IoChannel<RaidChannel>> {
        @Override
        public boolean supports(IoType type) {
            return switch (type) {
                case READ, WRITE, RESET -> true;
                case UNMAP, FLUSH -> allBasesSupport(type);
                default -> false;
            };
        }

        private boolean allBasesSupport(IoType t) {
            for (Slot s : slots) {
                if (s.bdev == null || !s.bdev.supports(t)) {
                    return false;
                }
            }
            return true;
        }

        /** The raid's own io_device (SPDK registers the raid bdev as one); its channels hold the bases' channels. */
        @Override
        public void start(BdevContext context) {
            ioDevice = context.registerIoDevice("raid_" + name, new ChannelFactory<>() {
                @Override
                public RaidChannel create(IoDevice<RaidChannel> device, Reactor reactor) {
                    RaidChannel ch = new RaidChannel(RaidBdev.this, reactor, numSlots);
                    for (Slot s : slots) {
                        if (s.configured && !s.removing) {
                            ch.attach(s.index, !s.rebuilding);
                        }
                    }
                    Rebuild p = process;
                    if (p != null) {
                        p.onNewChannel(ch);
                    }
                    return ch;
                }

                @Override
                public void destroy(IoDevice<RaidChannel> device, Reactor reactor, RaidChannel ch) {
                    ch.destroy();
                    Consumer<String> t = module.trace;
                    if (t != null) {
                        t.accept("module channel destroyed on " + reactor.name());
                    }
                }
            });
        }

        @Override
        public IoChannel<RaidChannel> createChannel(BdevView b, Reactor reactor) {
            return ioDevice.getChannelOrThrow();
        }

        @Override
        public void destroyChannel(BdevView b, Reactor reactor, IoChannel<RaidChannel> ch) {
            ch.put();
        }

        @Override
        public void submit(ModuleIo io, IoChannel<RaidChannel> ch) {
            ((RaidIo) io.moduleContext()).start(io, ch.context());
        }

        /** After every raid channel is gone: the raid is unregistered (deleted, or offline). App thread. */
        @Override
        public CompletionStage<Void> destruct() {
            Consumer<String> t = module.trace;
            if (t != null) {
                t.accept("destruct begins " + name + " module channels alive " + ioDevice.liveChannels());
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            Runnable r = () -> {
                Rebuild p = process;
                if (p != null) {
                    p.stop(Errno.ENODEV);
                }
                bdev = null;
                ioDevice = null;
                if (fanOuts != null) {
                    fanOuts.close();
                    fanOuts = null;
                }
                for (Slot s : slots) {
                    if (s.removing && s.configured && s.holders.get() == 0) {
                        releaseSlot(s);
                    }
                }
                if (deleting || state == State.ONLINE) {
                    // deleted (or unregistered by the subsystem's fini): every base goes back
                    releaseAll();
                    module.forget(RaidBdev.this);
                } else if (discovered == 0) {
                    module.forget(RaidBdev.this);
                }
                done.complete(null);
            };
            if (Vbdevs.onAppThread(layer)) {
                r.run();
            } else {
                Vbdevs.appThread(layer).send(r);
            }
            return done;
        }

        @Override
        public void dumpInfo(ObjectNode ds) {
            writeInfo(ds);
        }

        @Override
        public List<String> baseBdevs() {
            List<String> out = new ArrayList<>();
            for (Slot s : slots) {
                String n = s.name;
                if (n != null) {
                    out.add(n);
                }
            }
            return out;
        }

        @Override
        public ObjectNode writeConfig(BdevView b) {
            return createCall();
        }
    }
}
