package io.spindle.bdev;

import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.IoDeviceActor;
import io.spindle.runtime.Reactor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The bdev subsystem's actor ({@code bdev}, on reactor 0 like SPDK's app thread): module init and fini,
 * register (validation, unique names, examine), and the subsystem's fini, which unregisters bdevs top-down
 * (unclaimed ones first, as {@code spdk_bdev_finish} does). Each bdev's actor is its child, as is the
 * mgmt io_device whose per-reactor channel holds the I/O pool.
 */
final class BdevRegistry extends AbstractBehavior<BdevRegistry.Command> {
    sealed interface Command permits Register, Registered, Fini, FiniStartStep, ModuleStep, BdevGone, MgmtUnregistered, Examine, WaitForExamine,
            ExamineDone {
    }

    /** bdev_examine: remember the name and examine the bdev now if it exists. */
    record Examine(String name, CompletableFuture<Integer> result) implements Command {
    }

    /** bdev_wait_for_examine. */
    record WaitForExamine(CompletableFuture<Void> result) implements Command {
    }

    /** A module's examine_disk of a bdev finished. */
    record ExamineDone(Bdev bdev, BdevModule module, Throwable failure) implements Command {
    }

    record Register(BdevSpec spec, CompletableFuture<Bdev> result) implements Command {
    }

    /** From a bdev actor once its io_devices exist. */
    record Registered(Bdev bdev, CompletableFuture<Bdev> result) implements Command {
    }

    record Fini(CompletableFuture<Void> done) implements Command {
    }

    record ModuleStep(int index, boolean init, Throwable failure) implements Command {
    }

    /** A module's fini_start finished (shutdown): the next one's, then the bdevs. */
    record FiniStartStep(int index, Throwable failure) implements Command {
    }

    record BdevGone(Bdev bdev, Integer status) implements Command {
    }

    record MgmtUnregistered(IoDeviceActor.Unregistered reply) implements Command {
    }

    private final BdevLayer layer;
    private final CompletableFuture<Void> initDone;
    private final IoDevice<BdevMgmt> mgmt;
    private CompletableFuture<Void> finiDone;
    private final java.util.Set<String> examineAllowed = new java.util.HashSet<>();
    private final List<CompletableFuture<Void>> examineWaiters = new java.util.ArrayList<>();
    private int examinesInFlight;

    private BdevRegistry(ActorContext<Command> ctx, BdevLayer layer, CompletableFuture<Void> initDone) {
        super(ctx);
        this.layer = layer;
        this.initDone = initDone;
        this.mgmt = IoDevice.register(ctx, layer.reactors(), "bdev_mgr", new ChannelFactory<>() {
            @Override
            public BdevMgmt create(IoDevice<BdevMgmt> device, Reactor reactor) {
                return new BdevMgmt(layer, reactor);
            }

            @Override
            public void destroy(IoDevice<BdevMgmt> device, Reactor reactor, BdevMgmt m) {
                m.destroy();
            }
        });
        layer.started(mgmt, ctx.getSelf());
        moduleStep(0, true);
    }

    static Behavior<Command> create(BdevLayer layer, CompletableFuture<Void> initDone) {
        return Behaviors.setup(ctx -> new BdevRegistry(ctx, layer, initDone));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Register.class, this::onRegister)
                .onMessage(Registered.class, this::onRegistered)
                .onMessage(ModuleStep.class, this::onModuleStep)
                .onMessage(Fini.class, this::onFini)
                .onMessage(FiniStartStep.class, this::onFiniStartStep)
                .onMessage(BdevGone.class, this::onBdevGone)
                .onMessage(MgmtUnregistered.class, this::onMgmtUnregistered)
                .onMessage(Examine.class, this::onExamine)
                .onMessage(WaitForExamine.class, this::onWaitForExamine)
                .onMessage(ExamineDone.class, this::onExamineDone)
                .build();
    }

    // ------------------------------------------------------------------ modules

    private void moduleStep(int index, boolean init) {
        List<BdevModule> mods = layer.modules();
        if (init && index >= mods.size()) {
            initDone.complete(null);
            return;
        }
        if (!init && index < 0) {
            mgmt.unregister(getContext().messageAdapter(IoDeviceActor.Unregistered.class, MgmtUnregistered::new));
            return;
        }
        BdevModule m = mods.get(index);
        CompletionStage<Void> st;
        try {
            st = init ? m.init(layer) : m.fini(layer);
        } catch (Throwable e) {
            st = CompletableFuture.failedFuture(e);
        }
        getContext().pipeToSelf(st, (ok, err) -> new ModuleStep(index, init, err));
    }

    private Behavior<Command> onModuleStep(ModuleStep m) {
        BdevModule mod = layer.modules().get(m.index());
        if (m.failure() != null) {
            if (m.init()) {
                initDone.completeExceptionally(new IllegalStateException("bdev module=" + mod.name() + " init failed: " + m.failure(), m.failure()));
                return this;
            }
            getContext().getLog().error("bdev module={} fini failed", mod.name(), m.failure());
        }
        moduleStep(m.init() ? m.index() + 1 : m.index() - 1, m.init());
        return this;
    }

    // ------------------------------------------------------------------ register

    private Behavior<Command> onRegister(Register m) {
        BdevSpec spec = m.spec();
        if (finiDone != null) {
            m.result().completeExceptionally(new BdevException(Errno.ESHUTDOWN, "bdev_register name=" + spec.name() + ": bdev layer is stopping"));
            return this;
        }
        String bad = spec.validate();
        if (bad != null) {
            m.result().completeExceptionally(new BdevException(Errno.EINVAL, "bdev_register name=" + spec.name() + ": " + bad));
            return this;
        }
        Bdev b;
        try {
            b = new Bdev(layer, spec, spec.uuid() != null ? spec.uuid() : UUID.randomUUID());
        } catch (IllegalArgumentException e) {
            m.result().completeExceptionally(new BdevException(Errno.EINVAL, "bdev_register name=" + spec.name() + ": " + e.getMessage()));
            return this;
        }
        String clash = layer.nameClash(b);
        if (clash != null) {
            m.result().completeExceptionally(new BdevException(Errno.EEXIST, "bdev_register name=" + spec.name() + ": name " + clash
                    + " already exists"));
            return this;
        }
        // The ref exists from the spawn on and is set before the names are reserved: whoever finds the bdev can
        // tell its actor, and what it tells waits in the mailbox until the actor has started. Only this actor
        // reserves names, so nothing can take them between the check above and the reserve below.
        ActorRef<Command> self = getContext().getSelf();
        b.actor = getContext().spawnAnonymous(BdevActor.create(b, () -> self.tell(new Registered(b, m.result()))),
                DispatcherSelector.sameAsParent());
        layer.reserveNames(b);
        return this;
    }

    private Behavior<Command> onRegistered(Registered m) {
        Bdev b = m.bdev();
        b.setStatus(Bdev.Status.READY);
        boolean examine = layer.options().autoExamine() || allowed(b);
        if (examine) {
            examineConfig(b);
        }
        m.result().complete(b);
        if (examine) {
            examineDisk(b);
        }
        return this;
    }

    private boolean allowed(Bdev b) {
        if (examineAllowed.contains(b.name()) || examineAllowed.contains(b.uuid().toString())) {
            return true;
        }
        for (String a : b.aliases()) {
            if (examineAllowed.contains(a)) {
                return true;
            }
        }
        return false;
    }

    private void examineConfig(Bdev b) {
        for (BdevModule mod : layer.modules()) {
            try {
                mod.examineConfig(b, layer);
            } catch (Throwable e) {
                getContext().getLog().error("bdev={}: module {} examine_config threw", b.name(), mod.name(), e);
            }
        }
    }

    /**
     * SPDK's {@code bdev_examine} second half: {@code examine_disk} of every module when nobody claimed the bdev
     * in {@code examine_config}; otherwise only of the claimers (the v1 claimer, or each module holding a v2
     * claim, in claim order), since a claimed bdev belongs to them.
     */
    private void examineDisk(Bdev b) {
        List<BdevModule> claimers = b.claimModules();
        for (BdevModule mod : claimers.isEmpty() ? layer.modules() : claimers) {
            CompletionStage<Void> st;
            try {
                st = mod.examineDisk(b, layer);
            } catch (Throwable e) {
                st = CompletableFuture.failedFuture(e);
            }
            if (st == null) {
                continue;
            }
            examinesInFlight++;
            getContext().pipeToSelf(st, (ok, err) -> new ExamineDone(b, mod, err));
        }
    }

    private Behavior<Command> onExamineDone(ExamineDone m) {
        if (m.failure() != null) {
            getContext().getLog().error("bdev={}: module {} examine_disk failed", m.bdev().name(), m.module().name(), m.failure());
        }
        if (--examinesInFlight == 0) {
            for (CompletableFuture<Void> w : examineWaiters) {
                w.complete(null);
            }
            examineWaiters.clear();
        }
        return this;
    }

    private Behavior<Command> onWaitForExamine(WaitForExamine m) {
        if (examinesInFlight == 0) {
            m.result().complete(null);
        } else {
            examineWaiters.add(m.result());
        }
        return this;
    }

    private Behavior<Command> onExamine(Examine m) {
        if (layer.options().autoExamine()) {
            m.result().completeExceptionally(new BdevException(Errno.EINVAL, "bdev_examine name=" + m.name()
                    + ": manual examine is not allowed while auto examine is enabled (bdev_set_options bdev_auto_examine=false)"));
            return this;
        }
        if (!examineAllowed.add(m.name())) {
            m.result().completeExceptionally(new BdevException(Errno.EEXIST, "bdev_examine name=" + m.name() + ": already examined"));
            return this;
        }
        layer.examineAllowlist.add(m.name()); // save_config writes them back, in order
        Bdev b = layer.get(m.name());
        if (b != null && b.status() == Bdev.Status.READY) {
            examineConfig(b);
            examineDisk(b);
        }
        m.result().complete(Errno.OK);
        return this;
    }

    // ------------------------------------------------------------------ fini

    private Behavior<Command> onFini(Fini m) {
        if (finiDone != null) {
            finiDone.whenComplete((ok, err) -> m.done().complete(null));
            return this;
        }
        finiDone = m.done();
        finiStartStep(0);
        return this;
    }

    /** Each module's fini_start in load order (SPDK's bdev_module_fini_start_iter), then the bdevs top-down. */
    private void finiStartStep(int index) {
        List<BdevModule> mods = layer.modules();
        if (index >= mods.size()) {
            unregisterNext();
            return;
        }
        CompletionStage<Void> st;
        try {
            st = mods.get(index).finiStart(layer);
        } catch (Throwable e) {
            st = CompletableFuture.failedFuture(e);
        }
        getContext().pipeToSelf(st, (ok, err) -> new FiniStartStep(index, err));
    }

    private Behavior<Command> onFiniStartStep(FiniStartStep m) {
        if (m.failure() != null) {
            getContext().getLog().error("bdev module={} fini_start failed", layer.modules().get(m.index()).name(), m.failure());
        }
        finiStartStep(m.index() + 1);
        return this;
    }

    /** Top-down: the last unclaimed bdev first; if only claimed ones remain, the last one with a warning. */
    private void unregisterNext() {
        List<Bdev> all = layer.bdevs();
        if (all.isEmpty()) {
            moduleStep(layer.modules().size() - 1, false);
            return;
        }
        Bdev next = null;
        for (int i = all.size() - 1; i >= 0; i--) {
            if (!all.get(i).claimed()) {
                next = all.get(i);
                break;
            }
        }
        if (next == null) {
            next = all.get(all.size() - 1);
            getContext().getLog().warn("bdev fini: only claimed bdevs remain; unregistering {} anyway", next.name());
        }
        Bdev b = next;
        ActorRef<Command> self = getContext().getSelf();
        CompletableFuture<Integer> f = new CompletableFuture<>();
        b.request(new BdevActor.Unregister(f)); // ENODEV, not a dead letter, if its actor stopped meanwhile
        f.whenComplete((st, err) -> self.tell(new BdevGone(b, st)));
    }

    private Behavior<Command> onBdevGone(BdevGone m) {
        if (m.status() == null || m.status() != Errno.OK) {
            getContext().getLog().warn("bdev fini: unregister of {} answered {}", m.bdev().name(), m.status() == null ? "?" : Errno.name(m.status()));
            if (m.status() != null && m.status() == Errno.EBUSY) {
                // already being unregistered by someone else: wait for it to disappear
                getContext().scheduleOnce(java.time.Duration.ofMillis(5), getContext().getSelf(), new BdevGone(m.bdev(), Errno.OK));
                return this;
            }
        }
        if (m.bdev().status() != Bdev.Status.REMOVED && m.status() != null && m.status() == Errno.OK
                && layer.bdevs().contains(m.bdev())) {
            getContext().scheduleOnce(java.time.Duration.ofMillis(5), getContext().getSelf(), new BdevGone(m.bdev(), Errno.OK));
            return this;
        }
        unregisterNext();
        return this;
    }

    private Behavior<Command> onMgmtUnregistered(MgmtUnregistered m) {
        finiDone.complete(null);
        return Behaviors.stopped();
    }
}
