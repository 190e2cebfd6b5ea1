package io.spindle.bdev.rogue;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.IoDeviceActor;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorGroup;
import net.openhft.chronicle.bytes.Bytes;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * SPDK issue #3252 written word for word by a module author who uses only Spindle's public API (this package sees
 * nothing package-private of the bdev layer or the runtime).
 *
 * <p>The module has an actor of its own, and that actor registers one io_device per bdev with the public
 * {@link IoDevice#register}, not through {@code BdevContext.registerIoDevice}: the device is a child of the module's
 * actor, not of the bdev's. The bdev channel's create gets a channel of that device and its destroy puts it (the put
 * is deferred, as SPDK's). The module channel's destroy writes into per-bdev state, off-heap memory that the
 * module's asynchronous destruct frees. If the destruct ran before every module channel's destroy, that write is a
 * use-after-free, which Chronicle's release tracking makes visible (the store's reference count is 0, and the write
 * fails); every such event is recorded in {@link #violations}.
 *
 * <p>The destruct is asynchronous: it frees the state, asks the module's actor to unregister the bdev's device, and
 * completes when the device's {@code Unregistered} reply arrives ("destruct done" in {@link #log}).
 */
public final class RogueModule implements BdevModule {
    /** What went wrong: use-after-free in a channel destroy, anything else unexpected. Empty when safe. */
    public final List<String> violations = new CopyOnWriteArrayList<>();
    /** Events in order: channel creates and destroys, destruct begins/done. */
    public final List<String> log = new CopyOnWriteArrayList<>();

    private final ActorRef<Cmd> actor;

    /** @param actor this module's own actor, made by {@link #actor()} and spawned by the application */
    public RogueModule(ActorRef<Cmd> actor) {
        this.actor = actor;
    }

    @Override
    public String name() {
        return "rogue";
    }

    // ------------------------------------------------------------------ the module's own actor

    /** Messages of the module's actor. */
    public sealed interface Cmd permits Register, Unregister {
    }

    record Register(String name, ReactorGroup group, ChannelFactory<ModuleChannel> factory, CompletableFuture<IoDevice<ModuleChannel>> reply)
            implements Cmd {
    }

    record Unregister(IoDevice<ModuleChannel> device, CompletableFuture<Integer> reply) implements Cmd {
    }

    /** The module's actor: it owns the module's io_devices (their actors are its children). */
    public static Behavior<Cmd> actor() {
        return Behaviors.setup(ctx -> Behaviors.receive(Cmd.class)
                .onMessage(Register.class, m -> {
                    m.reply().complete(IoDevice.register(ctx, m.group(), m.name(), m.factory()));
                    return Behaviors.same();
                })
                .onMessage(Unregister.class, m -> {
                    ActorRef<IoDeviceActor.Unregistered> r = ctx.spawnAnonymous(Behaviors.receive(IoDeviceActor.Unregistered.class)
                            .onAnyMessage(u -> {
                                m.reply().complete(u.status());
                                return Behaviors.stopped();
                            }).build(), DispatcherSelector.sameAsParent());
                    m.device().unregister(r);
                    return Behaviors.same();
                })
                .build());
    }

    // ------------------------------------------------------------------ bdevs

    /** The module channel: one per reactor per bdev, destroyed on its reactor. */
    public static final class ModuleChannel {
        final Reactor reactor;

        ModuleChannel(Reactor reactor) {
            this.reactor = reactor;
        }
    }

    /**
     * Creates a bdev: its io_device is registered by the module's actor first, then the bdev. Any thread; the
     * stage completes off the caller's thread (step the reactors).
     */
    public CompletionStage<Bdev> create(BdevLayer layer, String name, int blockSize, long numBlocks) {
        Bytes<?> state = Bytes.allocateDirect(8L * layer.reactors().size());
        state.singleThreadedCheckDisabled(true); // touched by every reactor's channel destroy and by the destruct
        ChannelFactory<ModuleChannel> factory = new ChannelFactory<>() {
            @Override
            public ModuleChannel create(IoDevice<ModuleChannel> device, Reactor reactor) {
                log.add("module channel created on " + reactor.name());
                return new ModuleChannel(reactor);
            }

            @Override
            public void destroy(IoDevice<ModuleChannel> device, Reactor reactor, ModuleChannel c) {
                if (Reactor.current() != reactor) {
                    violations.add("module channel of " + name + " on " + reactor.name() + " destroyed on another thread: "
                            + (Reactor.current() == null ? Thread.currentThread().getName() : Reactor.current().name()));
                }
                // the #3252 hazard: this touches state that destruct frees
                if (state.refCount() == 0) {
                    violations.add("use-after-free: module channel destroy on " + reactor.name() + " after destruct freed the state of " + name);
                    return;
                }
                try {
                    state.writeLong(8L * reactor.index(), state.readLong(8L * reactor.index()) + 1);
                } catch (RuntimeException e) {
                    violations.add("use-after-free: write on " + reactor.name() + " failed: " + e);
                }
                log.add("module channel destroyed on " + reactor.name());
            }
        };
        CompletableFuture<IoDevice<ModuleChannel>> dev = new CompletableFuture<>();
        actor.tell(new Register("rogue_" + name, layer.reactors(), factory, dev));
        return dev.thenCompose(device -> {
            Driver d = new Driver(this, device, state, name);
            return layer.register(BdevSpec.builder(this, d).name(name).productName("Rogue disk").blockSize(blockSize)
                    .numBlocks(numBlocks).build()).whenComplete((b, e) -> {
                        if (e != null) {
                            d.free();
                        }
                    });
        });
    }

    static final class Driver implements BdevDriver<IoChannel<ModuleChannel>> {
        private final RogueModule module;
        private final IoDevice<ModuleChannel> device;
        private final Bytes<?> state;
        private final String name;

        Driver(RogueModule module, IoDevice<ModuleChannel> device, Bytes<?> state, String name) {
            this.module = module;
            this.device = device;
            this.state = state;
            this.name = name;
        }

        @Override
        public boolean supports(IoType type) {
            return type == IoType.READ || type == IoType.WRITE;
        }

        @Override
        public IoChannel<ModuleChannel> createChannel(BdevView bdev, Reactor reactor) {
            return device.getChannelOrThrow();
        }

        @Override
        public void destroyChannel(BdevView bdev, Reactor reactor, IoChannel<ModuleChannel> channel) {
            if (Reactor.current() != reactor) {
                module.violations.add("bdev channel of " + name + " on " + reactor.name() + " destroyed on another thread: "
                        + (Reactor.current() == null ? Thread.currentThread().getName() : Reactor.current().name()));
            }
            module.log.add("bdev channel destroyed on " + reactor.name());
            channel.put(); // deferred by a message, as SPDK's spdk_put_io_channel
        }

        @Override
        public void submit(ModuleIo io, IoChannel<ModuleChannel> channel) {
            io.complete(IoStatus.SUCCESS);
        }

        void free() {
            state.releaseLast();
        }

        @Override
        public CompletionStage<Void> destruct() {
            module.log.add("destruct begins " + name);
            free(); // the module frees its per-bdev state here, as the #3252 reporter's module did
            CompletableFuture<Integer> unregistered = new CompletableFuture<>();
            module.actor.tell(new Unregister(device, unregistered));
            return unregistered.thenAccept(st -> {
                if (st != 0) {
                    module.violations.add("device unregister of " + name + " answered " + st);
                }
                module.log.add("destruct done " + name);
            });
        }
    }
}
