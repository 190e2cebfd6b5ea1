package io.spindle.backends.error;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.Vbdevs;
import io.spindle.backends.part.Part;
import io.spindle.backends.part.PartBase;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoBuf;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevHost;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.Errno;
import io.spindle.runtime.FanOuts;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;
import net.openhft.chronicle.core.UnsafeMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The {@code error} virtual bdev module (SPDK's {@code module/bdev/error}): the fault-injection tool. An error bdev
 * {@code EE_<base>} covers its whole base (a {@link Part} of it) and passes I/O through until an error is injected
 * with {@link #injectError} ({@code bdev_error_inject_error}).
 *
 * <p><b>Injection rules, as SPDK's.</b> One slot per I/O type (READ, WRITE, UNMAP, FLUSH; {@code all} sets every
 * slot, {@code clear} zeroes every count). An error fires when the channel's in-flight count (I/O passed to the
 * base and not completed) is at least the slot's {@code queue_depth}; each firing takes one from the slot's count,
 * atomically, shared by every channel. Its effect:
 * <ul>
 *   <li>{@code failure}: the I/O completes FAILED;</li>
 *   <li>{@code nomem}: it completes NOMEM (the bdev layer requeues it and retries);</li>
 *   <li>{@code pending}: it is parked on its channel until {@code bdev_error_resume_pending} (which zeroes the
 *       counts of the pending slots and submits the parked I/O again) or a RESET (ABORTED);</li>
 *   <li>{@code corrupt_data}: byte {@code corrupt_offset} of the data is XOR-ed with {@code corrupt_value} — in a copy
 *       of a WRITE's data before it goes to the base (the caller's buffer is left alone), in a READ's buffer after the
 *       base returned it;</li>
 *   <li>{@code nvme_failure}: Spindle's status has no NVMe code: the I/O completes FAILED (sct/sc are checked as
 *       SPDK checks them and otherwise ignored).</li>
 * </ul>
 * A RESET aborts the parked I/O on every channel and succeeds without resetting the base (as SPDK's).
 *
 * <p><b>Life.</b> One configuration entry per base ({@code bdev_error_create}; a second one is EEXIST; a missing
 * base defers it to examine). The error bdev's destruct drops the entry, so after a hot-remove of the base it is not
 * re-created. Injections are not saved by {@code save_config}.
 *
 * <p>Threads: configuration on the app thread; injection slots are read and counted down by every reactor (volatile
 * fields and an atomic count); I/O and parked lists on each channel's reactor.
 */
public final class ErrorModule implements BdevModule {
    private static final Logger LOG = LoggerFactory.getLogger(ErrorModule.class);

    /** {@code error_type}. */
    public enum ErrorType {
        /** No error (a slot's initial state). */
        NONE("none"),
        /** Complete FAILED. */
        FAILURE("failure"),
        /** Park until resumed or reset. */
        PENDING("pending"),
        /** Corrupt one byte of the data. */
        CORRUPT_DATA("corrupt_data"),
        /** Complete NOMEM (the layer retries). */
        NOMEM("nomem"),
        /** Complete with an NVMe status (FAILED in Spindle). */
        NVME_FAILURE("nvme_failure");

        private final String rpcName;

        ErrorType(String rpcName) {
            this.rpcName = rpcName;
        }

        /** The RPC's name. */
        public String rpcName() {
            return rpcName;
        }
    }

    /** What to inject ({@code bdev_error_inject_error}'s parameters). {@code ioType} null means {@code all}. */
    public record Injection(IoType ioType, ErrorType errorType, long num, long queueDepth, long corruptOffset, int corruptValue) {
    }

    /** The I/O types that can fail, in slot order. */
    static final IoType[] SLOTS = {IoType.READ, IoType.WRITE, IoType.UNMAP, IoType.FLUSH};

    /** One entry per base: {@code bdev_error_create {base_name, uuid}}. Modified on the app thread. */
    record Config(String baseName, UUID uuid) {
    }

    private final List<Config> configs = new CopyOnWriteArrayList<>();
    private final List<ErrorDisk> disks = new CopyOnWriteArrayList<>();

    /** The module, found by ServiceLoader. */
    public ErrorModule() {
    }

    @Override
    public String name() {
        return "error";
    }

    /** One context per pooled I/O. */
    @Override
    public Object newIoContext() {
        return new ErrorIo();
    }

    // ------------------------------------------------------------------ control plane

    /**
     * {@code bdev_error_create}: records the entry and builds {@code EE_<base>} when the base exists. Fails with
     * {@link BdevException} EEXIST (an entry for this base), or what opening, claiming or registering answered (the
     * entry is dropped then). Any thread.
     */
    public CompletionStage<Void> create(BdevLayer layer, String baseName, UUID uuid) {
        return Vbdevs.onApp(layer, () -> {
            for (Config c : configs) {
                if (c.baseName().equals(baseName)) {
                    return Vbdevs.failed(Errno.EEXIST, "bdev_error_create base_name=" + baseName + ": an error bdev of this base already exists");
                }
            }
            Config c = new Config(baseName, uuid);
            configs.add(c);
            if (layer.get(baseName) == null) {
                LOG.info("error bdev of {}: base not present; deferred until it registers", baseName);
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<Void> f = new CompletableFuture<>();
            build(layer, c).whenComplete((b, err) -> {
                if (err != null) {
                    configs.remove(c);
                    f.completeExceptionally(err);
                } else {
                    f.complete(null);
                }
            });
            return f;
        });
    }

    /** {@code bdev_error_delete}: unregisters {@code EE_<base>} (its destruct drops the entry); 0 or ENODEV. */
    public CompletionStage<Integer> delete(BdevLayer layer, String name) {
        return Vbdevs.onApp(layer, () -> {
            ErrorDisk d = disk(name);
            if (d == null) {
                return CompletableFuture.completedFuture(Errno.ENODEV);
            }
            return layer.unregister(d.name());
        });
    }

    /**
     * {@code bdev_error_inject_error}: sets the slot of {@code i.ioType()} (every slot for null). Completes with 0,
     * ENODEV (no error bdev of that name), or EINVAL ({@code corrupt_data} with a zero value). Any thread.
     */
    public CompletionStage<Integer> injectError(BdevLayer layer, String name, Injection i) {
        return Vbdevs.onApp(layer, () -> {
            if (i.errorType() == ErrorType.CORRUPT_DATA && i.corruptValue() == 0) {
                return Vbdevs.failed(Errno.EINVAL, "bdev_error_inject_error name=" + name + ": corrupt_value=0 cannot corrupt data; give 1..255");
            }
            ErrorDisk d = disk(name);
            if (d == null) {
                return CompletableFuture.completedFuture(Errno.ENODEV);
            }
            for (int s = 0; s < SLOTS.length; s++) {
                if (i.ioType() == null || i.ioType() == SLOTS[s]) {
                    d.slots[s].set(i);
                }
            }
            return CompletableFuture.completedFuture(Errno.OK);
        });
    }

    /** {@code bdev_error_inject_error io_type=clear}: zeroes every slot's count; 0 or ENODEV. Any thread. */
    public CompletionStage<Integer> clearErrors(BdevLayer layer, String name) {
        return Vbdevs.onApp(layer, () -> {
            ErrorDisk d = disk(name);
            if (d == null) {
                return CompletableFuture.completedFuture(Errno.ENODEV);
            }
            for (Slot s : d.slots) {
                s.num.set(0);
            }
            return CompletableFuture.completedFuture(Errno.OK);
        });
    }

    /**
     * {@code bdev_error_resume_pending}: zeroes the counts of the {@code pending} slots and submits every parked I/O
     * again, channel by channel. Completes with 0 once every channel did, or ENODEV. Any thread.
     */
    public CompletionStage<Integer> resumePending(BdevLayer layer, String name) {
        return Vbdevs.onApp(layer, () -> {
            ErrorDisk d = disk(name);
            if (d == null) {
                return CompletableFuture.completedFuture(Errno.ENODEV);
            }
            for (Slot s : d.slots) {
                if (s.type == ErrorType.PENDING) {
                    s.num.set(0);
                }
            }
            return d.walkChannels(ch -> ch.resubmitPending(d)).thenApply(v -> Errno.OK);
        });
    }

    /**
     * A bdev registered: build what the configuration puts on it. Done in examine_disk (SPDK does it in
     * examine_config, where registering is synchronous) so that the registry tracks the build and
     * {@code bdev_wait_for_examine} waits for the bdevs it registers.
     */
    @Override
    public CompletionStage<Void> examineDisk(BdevView bdev, BdevHost host) {
        List<CompletableFuture<?>> builds = new ArrayList<>();
        for (Config c : configs) {
            if (disk("EE_" + c.baseName()) == null && (c.baseName().equals(bdev.name()) || bdev.aliases().contains(c.baseName()))) {
                builds.add(build(BdevLayer.of(host), c).whenComplete((b, err) -> {
                    if (err != null) {
                        LOG.error("error bdev of {}: could not be built: {}", c.baseName(), err.getMessage());
                    }
                }).toCompletableFuture().exceptionally(e -> null));
            }
        }
        return CompletableFuture.allOf(builds.toArray(new CompletableFuture<?>[0]));
    }

    @Override
    public CompletionStage<Void> fini(BdevHost host) {
        configs.clear();
        return CompletableFuture.completedFuture(null);
    }

    /** Entries whose base is not registered: {@code bdev_error_create {base_name, uuid}}, as SPDK's config_json. */
    @Override
    public List<ObjectNode> writeConfig(BdevHost host) {
        List<ObjectNode> out = new ArrayList<>();
        for (Config c : configs) {
            if (disk("EE_" + c.baseName()) == null) {
                out.add(createCall(c.baseName(), c.uuid()));
            }
        }
        return out;
    }

    static ObjectNode createCall(String base, UUID uuid) {
        ObjectNode call = JsonNodeFactory.instance.objectNode();
        call.put("method", "bdev_error_create");
        ObjectNode p = call.putObject("params");
        p.put("base_name", base);
        if (uuid != null) {
            p.put("uuid", uuid.toString());
        }
        return call;
    }

    /** Bases with an entry (tests). */
    List<String> configuredBases() {
        return configs.stream().map(Config::baseName).toList();
    }

    private ErrorDisk disk(String name) {
        for (ErrorDisk d : disks) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    private CompletionStage<Bdev> build(BdevLayer layer, Config c) {
        PartBase pb;
        try {
            pb = PartBase.construct(layer, c.baseName(), this, PartBase::hotremove, () -> { });
        } catch (BdevException e) {
            return CompletableFuture.failedFuture(e);
        }
        ErrorDisk d = new ErrorDisk(this, pb, c);
        disks.add(d);
        CompletableFuture<Bdev> f = new CompletableFuture<>();
        Part.construct(d, "Error Injection Disk", c.uuid()).whenComplete((b, err) -> {
            if (err != null) {
                disks.remove(d);
                pb.free();
                f.completeExceptionally(err);
            } else {
                f.complete(b);
            }
        });
        return f;
    }

    // ------------------------------------------------------------------ the disk

    /** One injection slot (SPDK's {@code struct vbdev_error_info}); written on the app thread, read on reactors. */
    static final class Slot {
        volatile ErrorType type = ErrorType.NONE;
        final AtomicLong num = new AtomicLong();
        volatile long queueDepth;
        volatile long corruptOffset;
        volatile int corruptValue;

        void set(Injection i) {
            type = i.errorType();
            queueDepth = i.queueDepth();
            corruptOffset = i.corruptOffset();
            corruptValue = i.corruptValue();
            num.set(i.num()); // last: a reactor that takes a count sees the fields above
        }

        /** Takes one from the count if the channel's depth allows; the type to apply, or NONE. */
        ErrorType take(long inFlight) {
            if (inFlight < queueDepth) {
                return ErrorType.NONE;
            }
            long n;
            do {
                n = num.get();
                if (n <= 0) {
                    return ErrorType.NONE;
                }
            } while (!num.compareAndSet(n, n - 1));
            return type;
        }
    }

    /** A parked or in-flight I/O's context. Owner: the I/O's reactor. */
    static final class ErrorIo {
        ModuleIo io;
        ErrorChannel ch;
        ErrorType type;
        DmaBuffer copy;
        IoBuf iobuf;
        ErrorIo next;
    }

    /** A channel's state: the in-flight count and the parked I/O (SPDK's {@code struct error_channel}). */
    static final class ErrorChannel {
        final Reactor reactor;
        final ErrorDisk disk;
        final IoChannel<BdevChannel> base;
        long inFlight;
        ErrorIo pendingHead;
        ErrorIo pendingTail;
        FanOuts fanOuts;

        ErrorChannel(Reactor reactor, ErrorDisk disk, IoChannel<BdevChannel> base) {
            this.reactor = reactor;
            this.disk = disk;
            this.base = base;
        }

        void park(ErrorIo e) {
            e.next = null;
            if (pendingTail == null) {
                pendingHead = e;
            } else {
                pendingTail.next = e;
            }
            pendingTail = e;
        }

        ErrorIo takeAll() {
            ErrorIo h = pendingHead;
            pendingHead = null;
            pendingTail = null;
            return h;
        }

        void abortPending() {
            for (ErrorIo e = takeAll(); e != null; ) {
                ErrorIo next = e.next;
                ModuleIo io = e.io;
                e.io = null;
                io.complete(IoStatus.ABORTED);
                e = next;
            }
        }

        void resubmitPending(ErrorDisk d) {
            for (ErrorIo e = takeAll(); e != null; ) {
                ErrorIo next = e.next;
                ModuleIo io = e.io;
                e.io = null;
                d.submitOn(io, this);
                e = next;
            }
        }
    }

    /** The error bdev: a whole-base part with injection slots (SPDK's {@code struct error_disk}). */
    static final class ErrorDisk extends Part {
        private final ErrorModule module;
        private final Config config;
        final Slot[] slots = {new Slot(), new Slot(), new Slot(), new Slot()};
        private final List<ErrorChannel> channels = new CopyOnWriteArrayList<>();

        ErrorDisk(ErrorModule module, PartBase base, Config config) {
            super(base, "EE_" + base.bdev().name(), 0, base.bdev().numBlocks());
            this.module = module;
            this.config = config;
        }

        @Override
        public boolean supports(IoType type) {
            return switch (type) {
                case READ, WRITE, UNMAP, FLUSH, RESET, WRITE_ZEROES -> type == IoType.RESET || base.bdev().supports(type);
                default -> false;
            };
        }

        @Override
        protected Object createChannelState(Reactor reactor, IoChannel<BdevChannel> baseChannel) {
            ErrorChannel ch = new ErrorChannel(reactor, this, baseChannel);
            ch.fanOuts = FanOuts.forReactor(reactor);
            channels.add(ch);
            return ch;
        }

        @Override
        protected void destroyChannelState(Reactor reactor, Object state) {
            ErrorChannel ch = (ErrorChannel) state;
            ch.abortPending();
            ch.fanOuts.close();
            channels.remove(ch);
        }

        /** Runs {@code f} on every channel's reactor; completes when all did. App thread. */
        CompletionStage<Void> walkChannels(java.util.function.Consumer<ErrorChannel> f) {
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (ErrorChannel ch : channels) {
                CompletableFuture<Void> one = new CompletableFuture<>();
                ch.reactor.send(() -> {
                    try {
                        if (channels.contains(ch)) {
                            f.accept(ch);
                        }
                    } finally {
                        one.complete(null);
                    }
                });
                all.add(one);
            }
            return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]));
        }

        @Override
        public void submit(ModuleIo io, IoChannel<Part.Channel> chan) {
            ErrorChannel ch = (ErrorChannel) chan.context().state;
            if (io.type() == IoType.RESET) {
                reset(io, ch);
                return;
            }
            submitOn(io, ch);
        }

        void submitOn(ModuleIo io, ErrorChannel ch) {
            ErrorType t = ErrorType.NONE;
            int slot = slotOf(io.type());
            if (slot >= 0) {
                t = slots[slot].take(ch.inFlight);
            }
            ErrorIo e = (ErrorIo) io.moduleContext();
            e.io = io;
            e.ch = ch;
            e.type = t;
            switch (t) {
                case FAILURE, NVME_FAILURE -> finish(e, IoStatus.FAILED);
                case NOMEM -> finish(e, IoStatus.NOMEM);
                case PENDING -> ch.park(e);
                case CORRUPT_DATA -> {
                    if (io.type() == IoType.WRITE) {
                        writeCorrupted(e, slots[slot]);
                    } else {
                        pass(e);
                    }
                }
                default -> pass(e);
            }
        }

        private static int slotOf(IoType t) {
            for (int i = 0; i < SLOTS.length; i++) {
                if (SLOTS[i] == t) {
                    return i;
                }
            }
            return -1;
        }

        private void pass(ErrorIo e) {
            e.ch.inFlight++;
            int rc = base.desc().forward(e.ch.base, e.io.type(), e.io, e.io.offsetBlocks(), PASS_DONE, e);
            if (rc != 0) {
                e.ch.inFlight--;
                finish(e, rc == Errno.ENOMEM ? IoStatus.NOMEM : IoStatus.FAILED);
            }
        }

        /** SPDK's corrupt write: the data is copied into a buffer, corrupted there, and that is written. */
        private void writeCorrupted(ErrorIo e, Slot s) {
            ModuleIo io = e.io;
            long len = io.numBlocks() * base.bdev().blockSize();
            IoBuf iobuf = base.layer().iobuf();
            DmaBuffer b = iobuf.get(len);
            if (b == null) {
                LOG.error("error {}: corrupt_data write of {} bytes is above the largest bounce buffer", name(), len);
                finish(e, IoStatus.FAILED);
                return;
            }
            long off = 0;
            for (int i = 0; i < io.iovCount(); i++) {
                UnsafeMemory.MEMORY.copyMemory(io.iovAddress(i), b.address() + off, io.iovLength(i));
                off += io.iovLength(i);
            }
            if (s.corruptOffset < len) {
                long a = b.address() + s.corruptOffset;
                UnsafeMemory.MEMORY.writeByte(a, (byte) (UnsafeMemory.MEMORY.readByte(a) ^ s.corruptValue));
            }
            e.copy = b;
            e.iobuf = iobuf;
            e.ch.inFlight++;
            int rc = base.desc().writeBlocks(e.ch.base, b, 0, io.offsetBlocks(), io.numBlocks(), PASS_DONE, e);
            if (rc != 0) {
                e.ch.inFlight--;
                releaseCopy(e);
                finish(e, rc == Errno.ENOMEM ? IoStatus.NOMEM : IoStatus.FAILED);
            }
        }

        private static void releaseCopy(ErrorIo e) {
            if (e.copy != null) {
                e.iobuf.put(e.copy);
                e.copy = null;
                e.iobuf = null;
            }
        }

        private static final IoCallback PASS_DONE = (BdevIo b, IoStatus st, Object arg) -> {
            ErrorIo e = (ErrorIo) arg;
            e.ch.inFlight--;
            releaseCopy(e);
            if (st == IoStatus.SUCCESS && e.type == ErrorType.CORRUPT_DATA && e.io.type() == IoType.READ) {
                e.ch.disk.corruptRead(e.io);
            }
            finish(e, st);
        };

        /** SPDK's {@code vbdev_error_corrupt_io_data}: XOR one byte of the read data. */
        void corruptRead(ModuleIo io) {
            Slot s = slots[0];
            long off = s.corruptOffset;
            for (int i = 0; i < io.iovCount(); i++) {
                if (io.iovLength(i) > off) {
                    long a = io.iovAddress(i) + off;
                    UnsafeMemory.MEMORY.writeByte(a, (byte) (UnsafeMemory.MEMORY.readByte(a) ^ s.corruptValue));
                    return;
                }
                off -= io.iovLength(i);
            }
        }

        private static void finish(ErrorIo e, IoStatus st) {
            ModuleIo io = e.io;
            e.io = null;
            io.complete(st);
        }

        /** SPDK's error reset: abort the parked I/O on every channel, then succeed (the base is not reset). */
        private void reset(ModuleIo io, ErrorChannel origin) {
            origin.fanOuts.forEachChannel(ioDevice(), io, new FanOuts.ChannelVisitor<ModuleIo, Part.Channel, Object>() {
                @Override
                public void visit(FanOuts.ChannelHop<Part.Channel, Object> hop) {
                    ((ErrorChannel) hop.context().state).abortPending();
                    hop.continueWalk(Errno.OK);
                }

                @Override
                public void complete(ModuleIo reset, int status) {
                    reset.complete(status == Errno.OK ? IoStatus.SUCCESS : IoStatus.FAILED);
                }
            });
        }

        /** The entry goes with the error bdev (SPDK's {@code vbdev_error_config_remove} in destruct). */
        @Override
        public CompletionStage<Void> destruct() {
            module.disks.remove(this);
            module.configs.remove(config);
            return super.destruct();
        }

        @Override
        public void dumpInfo(ObjectNode ds) {
            ds.put("base_bdev", base.bdev().name());
        }

        @Override
        public ObjectNode writeConfig(BdevView bdev) {
            return createCall(base.bdev().name(), config.uuid());
        }
    }
}
