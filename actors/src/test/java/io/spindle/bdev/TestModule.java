package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevContext;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevHost;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.Reactor;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.core.UnsafeMemory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiFunction;

/**
 * A bdev module for tests (SPDK's stub module in {@code bdev_ut.c}): a RAM-backed bdev with a chosen set of
 * native I/O types, an event log, I/O held until the test completes it, NOMEM injection, an optional module
 * io_device whose channels the bdev's channels hold (the #3252 shape), and a destruct the test finishes.
 *
 * <p>With {@link Opts#moduleDevice} the module has per-bdev state in off-heap memory (a Chronicle {@link Bytes})
 * that every module channel's destroy writes into and that {@link Driver#destruct()} frees as soon as it begins,
 * as the module of SPDK #3252 did. A destroy that runs after the destruct is therefore a use-after-free, and
 * Chronicle's release tracking sees it (the state's reference count is 0, or the write fails): it is recorded in
 * {@link #violations}, as is a module channel destroyed on another reactor than its own. Tests stop stepping as
 * soon as {@link #violations} is not empty and fail with it.
 */
final class TestModule implements BdevModule {
    final List<String> log = new CopyOnWriteArrayList<>();
    /** Use-after-free and wrong-thread events of module channel destroys; empty when the rules held. */
    final List<String> violations = new CopyOnWriteArrayList<>();
    final List<String> claims = new CopyOnWriteArrayList<>();
    volatile BiFunction<Bdev, BdevLayer, Integer> examineClaim;

    final java.util.concurrent.atomic.AtomicInteger ioContexts = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public String name() {
        return "test";
    }

    /** One per pooled I/O, created when a reactor's pool is built; counted by {@link #ioContexts}. */
    @Override
    public Object newIoContext() {
        ioContexts.incrementAndGet();
        return new long[1];
    }

    @Override
    public void examineConfig(BdevView bdev, BdevHost host) {
        BiFunction<Bdev, BdevLayer, Integer> f = examineClaim;
        if (f != null && bdev.module() != this) {
            BdevLayer layer = BdevLayer.of(host);
            claims.add(bdev.name() + ":" + f.apply(layer.bdev(bdev), layer));
        }
    }

    /** Bdevs this module's examine_disk was called for, in order. */
    final List<String> examinedDisks = new CopyOnWriteArrayList<>();

    @Override
    public CompletionStage<Void> examineDisk(BdevView bdev, BdevHost host) {
        examinedDisks.add(bdev.name());
        return CompletableFuture.completedFuture(null);
    }

    /** Options of a test bdev. */
    static final class Opts {
        String name = "Test0";
        int blockSize = 512;
        long numBlocks = 1024;
        Set<IoType> types = EnumSet.of(IoType.READ, IoType.WRITE, IoType.FLUSH, IoType.UNMAP, IoType.RESET);
        boolean holdIo;
        boolean moduleDevice;
        boolean asyncDestruct;
        long optimalIoBoundary;
        long maxRwSize;
        int nomemFirst;
        /** With {@link #holdIo}: the module takes at most this many I/O per channel and answers NOMEM past it (0: no bound). */
        int availCnt;
        /** A RESET is held at the module until {@link Driver#releaseReset()} (SPDK's stub that completes it when told). */
        boolean holdReset;
        int requiredAlignment = 1;
        /** SPDK's {@code reset_io_drain_timeout}, seconds (0: a reset reaches the module at once). */
        int resetIoDrainTimeout;
        /**
         * Another test bdev whose channel this bdev's channels are on each reactor (SPDK's two bdevs on one
         * {@code io_target}): created after it, destroyed before it; I/O of both share its queue and its availCnt.
         */
        Driver shareChannelsWith;
        /**
         * The resize capability: 0 (default) refuses every resize with ENOTSUP, as a module without one; otherwise
         * the memory holds this many blocks and the bdev may be resized to any count up to it (EINVAL beyond).
         */
        long resizableTo;
        /** The module's channel create throws (a module that cannot set up a channel on this reactor). */
        boolean failChannelCreate;

        Opts name(String n) {
            name = n;
            return this;
        }
    }

    CompletionStage<Bdev> create(BdevLayer layer, Opts o) {
        Driver d = new Driver(this, o);
        return layer.register(BdevSpec.builder(this, d).name(o.name).productName("Test disk").blockSize(o.blockSize)
                .numBlocks(o.numBlocks).optimalIoBoundary(o.optimalIoBoundary).maxRwSize(o.maxRwSize)
                .requiredAlignment(o.requiredAlignment).resetIoDrainTimeout(o.resetIoDrainTimeout).build())
                .whenComplete((b, e) -> {
                    if (e != null) {
                        d.release();
                    } else {
                        d.bdev = b;
                    }
                });
    }

    /** The module io_device's channel context: records where it lives. */
    static final class ModuleChannel {
        final Reactor reactor;

        ModuleChannel(Reactor reactor) {
            this.reactor = reactor;
        }
    }

    /** The bdev channel context of a test bdev. */
    static final class Channel {
        final Reactor reactor;
        final IoChannel<ModuleChannel> moduleChannel;
        final ArrayDeque<ModuleIo> held = new ArrayDeque<>();
        /** A RESET held at the module ({@link Opts#holdReset}), or null. */
        ModuleIo heldReset;

        Channel(Reactor reactor, IoChannel<ModuleChannel> moduleChannel) {
            this.reactor = reactor;
            this.moduleChannel = moduleChannel;
        }
    }

    static final class Driver implements BdevDriver<Channel> {
        final TestModule module;
        final Opts opts;
        final BytesStore<?, Void> mem;
        final long base;
        volatile Bdev bdev;
        IoDevice<ModuleChannel> moduleDevice;
        /**
         * With {@link Opts#moduleDevice}: per-bdev state (one long per reactor) that each module channel's destroy
         * writes and that {@link #destruct()} frees when it begins (the SPDK #3252 hazard).
         */
        Bytes<?> state;
        private boolean stateFreed;
        final List<Channel> channels = new CopyOnWriteArrayList<>();
        final List<String> submitted = new CopyOnWriteArrayList<>();
        final CompletableFuture<Void> destructGate = new CompletableFuture<>();
        int nomemLeft;
        volatile int destructs;
        private boolean released;

        Driver(TestModule module, Opts opts) {
            this.module = module;
            this.opts = opts;
            long blocks = Math.max(opts.numBlocks, opts.resizableTo);
            this.mem = BytesStore.nativeStoreWithFixedCapacity(opts.blockSize * blocks);
            this.base = mem.addressForRead(0);
            UnsafeMemory.MEMORY.setMemory(base, opts.blockSize * blocks, (byte) 0);
            this.nomemLeft = opts.nomemFirst;
        }

        @Override
        public boolean supports(IoType type) {
            return opts.types.contains(type);
        }

        @Override
        public int acceptResize(BdevView b, long newNumBlocks) {
            if (opts.resizableTo == 0) {
                return BdevDriver.super.acceptResize(b, newNumBlocks);
            }
            return newNumBlocks <= opts.resizableTo ? io.spindle.runtime.Errno.OK : io.spindle.runtime.Errno.EINVAL;
        }

        @Override
        public void start(BdevContext ctx) {
            if (opts.moduleDevice) {
                Bytes<?> st = Bytes.allocateDirect(8L * ctx.reactors().size());
                st.singleThreadedCheckDisabled(true); // written by every reactor's module channel destroy
                synchronized (this) {
                    state = st;
                }
                moduleDevice = ctx.registerIoDevice("test_module_" + opts.name, new ChannelFactory<>() {
                    @Override
                    public ModuleChannel create(IoDevice<ModuleChannel> d, Reactor r) {
                        module.log.add("module channel created on " + r.name());
                        return new ModuleChannel(r);
                    }

                    @Override
                    public void destroy(IoDevice<ModuleChannel> d, Reactor r, ModuleChannel c) {
                        Reactor cur = Reactor.current();
                        if (cur != r) {
                            module.violations.add("module channel of " + opts.name + " on " + r.name() + " destroyed by "
                                    + (cur == null ? "thread " + Thread.currentThread().getName() : cur.name()));
                        }
                        touchState(r);
                        module.log.add("module channel destroyed on " + r.name() + " by " + (cur == null ? "none" : cur.name()));
                    }
                });
            }
        }

        @Override
        public Channel createChannel(BdevView b, Reactor reactor) {
            if (opts.failChannelCreate) {
                throw new IllegalStateException("test module " + opts.name + ": channel create on " + reactor.name() + " fails (expected by the test)");
            }
            if (opts.shareChannelsWith != null) {
                for (Channel c : opts.shareChannelsWith.channels) {
                    if (c.reactor == reactor) {
                        channels.add(c);
                        return c;
                    }
                }
                throw new IllegalStateException("test bdev " + opts.name + ": no channel to share on " + reactor.name());
            }
            IoChannel<ModuleChannel> mc = moduleDevice == null ? null : moduleDevice.getChannel();
            Channel c = new Channel(reactor, mc);
            channels.add(c);
            return c;
        }

        @Override
        public void destroyChannel(BdevView b, Reactor reactor, Channel c) {
            Reactor cur = Reactor.current();
            if (cur != reactor) {
                module.violations.add("bdev channel of " + opts.name + " on " + reactor.name() + " destroyed by "
                        + (cur == null ? "thread " + Thread.currentThread().getName() : cur.name()));
            }
            channels.remove(c);
            if (opts.shareChannelsWith != null) {
                return; // the owner's channel: destroyed with the owner's
            }
            if (c.moduleChannel != null) {
                module.log.add("bdev channel destroyed on " + reactor.name() + " " + opts.name);
                c.moduleChannel.put(); // deferred by a message: the #3252 window
            }
            if (!c.held.isEmpty() || c.heldReset != null) {
                module.log.add("BUG: channel destroyed with held I/O on " + reactor.name());
            }
        }

        @Override
        public void submit(ModuleIo io, Channel c) {
            submitted.add(io.type() + " " + io.offsetBlocks() + "+" + io.numBlocks());
            ((long[]) io.moduleContext())[0]++;
            for (int i = 0; i < io.iovCount(); i++) {
                if ((io.iovAddress(i) & (opts.requiredAlignment - 1)) != 0) {
                    module.log.add("BUG: misaligned buffer reached the module");
                }
            }
            if (nomemLeft > 0) {
                nomemLeft--;
                io.complete(IoStatus.NOMEM);
                return;
            }
            if (io.type() == IoType.ABORT) {
                for (java.util.Iterator<ModuleIo> it = c.held.iterator(); it.hasNext(); ) {
                    ModuleIo h = it.next();
                    if (heldArg(h) == io.abortTarget()) {
                        it.remove();
                        h.complete(IoStatus.ABORTED);
                        io.complete(IoStatus.SUCCESS);
                        return;
                    }
                }
                io.complete(IoStatus.FAILED);
                return;
            }
            if (io.type() == IoType.RESET) {
                module.log.add("module reset on " + c.reactor.name());
                ModuleIo h;
                while ((h = c.held.poll()) != null) {
                    h.complete(IoStatus.ABORTED); // a device reset aborts what it holds
                }
                if (opts.holdReset) {
                    c.heldReset = io;
                    return;
                }
                io.complete(IoStatus.SUCCESS);
                return;
            }
            if (opts.holdIo) {
                if (opts.availCnt > 0 && c.held.size() >= opts.availCnt) {
                    io.complete(IoStatus.NOMEM); // out of module resources: the layer requeues it
                    return;
                }
                c.held.add(io);
                return;
            }
            execute(io);
        }

        static Object heldArg(ModuleIo io) {
            return ((BdevIo) io).cbArg;
        }

        void execute(ModuleIo io) {
            int bs = opts.blockSize;
            long off = ((Driver) ((BdevIo) io).bdev().driver).base + io.offsetBlocks() * bs; // a shared channel holds both bdevs' I/O
            UnsafeMemory m = UnsafeMemory.MEMORY;
            switch (io.type()) {
                case READ -> {
                    for (int i = 0; i < io.iovCount(); i++) {
                        m.copyMemory(off, io.iovAddress(i), io.iovLength(i));
                        off += io.iovLength(i);
                    }
                }
                case WRITE -> {
                    for (int i = 0; i < io.iovCount(); i++) {
                        m.copyMemory(io.iovAddress(i), off, io.iovLength(i));
                        off += io.iovLength(i);
                    }
                }
                case UNMAP, WRITE_ZEROES -> m.setMemory(off, io.numBlocks() * bs, (byte) 0);
                default -> {
                }
            }
            io.complete(IoStatus.SUCCESS);
        }

        /** Completes every held I/O of the channel on the current reactor with {@code st} (or executes it). */
        int releaseHeld(IoStatus st) {
            return releaseHeld(st, Integer.MAX_VALUE);
        }

        /**
         * Completes up to {@code max} held I/O, oldest first, of the channel on the current reactor (SPDK's
         * {@code stub_complete_io(target, n)}); I/O the layer resubmits meanwhile count too.
         */
        int releaseHeld(IoStatus st, int max) {
            int n = 0;
            for (Channel c : channels) {
                if (c.reactor.isCurrent()) {
                    ModuleIo io;
                    while (n < max && (io = c.held.poll()) != null) {
                        if (st == IoStatus.SUCCESS) {
                            execute(io);
                        } else {
                            io.complete(st);
                        }
                        n++;
                    }
                }
            }
            return n;
        }

        /** I/O held by the channel on {@code reactor} (0 when it has none). */
        int heldOn(Reactor reactor) {
            for (Channel c : channels) {
                if (c.reactor == reactor) {
                    return c.held.size();
                }
            }
            return 0;
        }

        /** Completes the RESET held on the current reactor's channel with SUCCESS; false when none is held. */
        boolean releaseReset() {
            for (Channel c : channels) {
                if (c.reactor.isCurrent() && c.heldReset != null) {
                    ModuleIo r = c.heldReset;
                    c.heldReset = null;
                    module.log.add("module reset done on " + c.reactor.name());
                    r.complete(IoStatus.SUCCESS);
                    return true;
                }
            }
            return false;
        }

        /**
         * The module channel destroy's use of the per-bdev state: one checked read-modify-write of this reactor's slot.
         * Chronicle's release tracking tells a freed state: its reference count is 0, or the access throws.
         */
        void touchState(Reactor r) {
            Bytes<?> st = state;
            if (st.refCount() == 0) {
                module.violations.add("use-after-free: module channel destroy of " + opts.name + " on " + r.name()
                        + " after destruct freed the module's state (refCount=0)");
                return;
            }
            try {
                long at = 8L * r.index();
                st.writeLong(at, st.readLong(at) + 1);
            } catch (RuntimeException e) {
                module.violations.add("use-after-free: module channel destroy of " + opts.name + " on " + r.name() + ": " + e);
            }
        }

        /** Frees the per-bdev state once (destruct, or a registration that failed). */
        synchronized void freeState() {
            if (state != null && !stateFreed) {
                stateFreed = true;
                state.releaseLast();
            }
        }

        @Override
        public CompletionStage<Void> destruct() {
            destructs++;
            module.log.add("destruct begins " + opts.name);
            freeState(); // what the module channels' destroys touch: they must all have run (SPDK #3252)
            if (!opts.asyncDestruct) {
                destructGate.complete(null);
            }
            return destructGate.thenRun(() -> {
                release();
                module.log.add("destruct done " + opts.name);
            });
        }

        synchronized void release() {
            if (!released) {
                released = true;
                mem.releaseLast();
            }
            freeState();
        }
    }

    static List<String> filter(List<String> log, String prefix) {
        List<String> out = new ArrayList<>();
        for (String s : log) {
            if (s.startsWith(prefix)) {
                out.add(s);
            }
        }
        return out;
    }
}
