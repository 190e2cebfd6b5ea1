package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.rogue.RogueModule;
import io.spindle.runtime.CoreMask;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.ReactorConfig;
import io.spindle.testing.ScheduleExplorer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The schedule explorer on the bdev unregister flow with module io_devices (SPDK #3252), on 2, 3 and 4 manual
 * reactors. Every schedule unregisters two bdevs at once:
 * <ul>
 *   <li>a {@link TestModule} bdev whose module io_device is registered through {@code BdevContext.registerIoDevice}
 *   (a child of the bdev's actor); its bdev channels hold module channels, the module itself holds one more on
 *   some reactors, I/O is held at the module until the user releases, closes or puts, and the destruct, which frees
 *   the off-heap state every module channel destroy writes, finishes when the schedule says so;</li>
 *   <li>a {@link RogueModule} bdev: the module's own actor (on the last reactor) registered its io_device with the
 *   public {@code IoDevice.register}, the bdev channel's destroy puts that device's channel, and the destruct
 *   frees state the module channel destroy writes.</li>
 * </ul>
 * Schedule choices: which reactor runs its next task (the registry and bdev actors on reactor 0, the rogue module's
 * actor on the last one, every channel destroy and REMOVE on its own reactor), both unregisters, each user's reads,
 * releases of held I/O, descriptor closes and channel puts (in either order, racing REMOVE), the module's own
 * channel puts, and the end of the test module's asynchronous destruct. Everything of the scenario runs on the
 * stepped reactors; nothing waits for another thread.
 *
 * <p><b>Invariants of every schedule:</b> no use-after-free (Chronicle's release tracking of each module's state)
 * and no channel destroyed off its own reactor, with stepping stopped at the first such violation; destruct only
 * after every bdev channel and module channel of the bdev was destroyed, once, and finished before the unregister
 * is answered 0; every accepted I/O completed exactly once, none refused completed; nothing left (the bdevs are
 * REMOVED, none of their io_devices is left in the group, each module's state and the test bdev's memory freed).
 */
@Timeout(600)
class UnregisterScheduleExplorationTest {
    static final ActorTestKit kit = ActorTestKit.create("unregister-explorer");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** A harness on n manual reactors, with a rogue module whose actor runs on the last one. */
    record Env(BdevHarness h, RogueModule rogue, ActorRef<RogueModule.Cmd> rogueActor, DmaBuffer buf) {
    }

    @Test
    @DisplayName("explorer: bdev unregister with module io_devices (BdevContext and public-API rogue) on 2-4 manual reactors, uniform random "
            + "+ PCT schedules: no use-after-free, destruct after every channel and finished before the reply, every I/O once, nothing left")
    void unregisterWithModuleIoDevices() {
        Map<Integer, Env> envs = new HashMap<>();
        Throwable failure = null;
        try {
            ScheduleExplorer.Report r = ScheduleExplorer.of("bdev unregister with module io_devices", 2000).pct(3, 150)
                    .explore(s -> runSchedule(s, envs));
            assertThat(r.schedules()).isPositive();
        } catch (Throwable t) {
            failure = t;
            throw t;
        } finally {
            for (Env e : envs.values()) {
                try {
                    CompletableFuture<Void> gone = CompletableFuture.runAsync(() -> kit.stop(e.rogueActor())); // it runs on a reactor
                    e.h().group.pollUntil(gone::isDone, BdevHarness.T);
                    e.buf().close();
                    e.h().close();
                } catch (Throwable t) {
                    if (failure == null) {
                        throw t;
                    }
                    failure.addSuppressed(t); // a failed schedule can leave the harness unable to finish: keep its reason first
                }
            }
        }
    }

    private static Env env(Map<Integer, Env> envs, int n) {
        return envs.computeIfAbsent(n, k -> {
            RogueModule[] rogue = new RogueModule[1];
            List<ActorRef<RogueModule.Cmd>> actor = new ArrayList<>();
            BdevHarness h = new BdevHarness(kit, ReactorConfig.builder().mask(CoreMask.firstN(n)).manual(true).maxTasksPerLoop(1)
                    .dispatcherThroughput(1).conclude(), BdevOptions.defaults(64), g -> {
                        actor.add(kit.spawn(RogueModule.actor(), "rogue-" + n, g.reactor(n - 1).dispatcher()));
                        rogue[0] = new RogueModule(actor.get(0));
                        return List.of(rogue[0]);
                    });
            h.layer.trace(line -> h.test.log.add("trace " + line)); // the layer's steps, in the test module's log order
            return new Env(h, rogue[0], actor.get(0), DmaBuffer.allocate(512));
        });
    }

    /** One I/O a user may submit: where, on which bdev, and what became of it. */
    static final class Io {
        final int id;
        boolean accepted;
        boolean afterUnregister;
        int completions;

        Io(int id) {
            this.id = id;
        }
    }

    /** One bdev of the schedule as its users on every reactor see it. */
    static final class Side {
        final String name;
        final BdevDescriptor[] desc;
        final List<io.spindle.runtime.IoChannel<BdevChannel>> ch = new ArrayList<>();
        final boolean[] removeSeen;
        final boolean[] closeAsked;
        final boolean[] putAsked;
        final boolean[] put;
        boolean unregisterAsked;
        CompletableFuture<Integer> un;

        Side(String name, int n) {
            this.name = name;
            this.desc = new BdevDescriptor[n];
            this.removeSeen = new boolean[n];
            this.closeAsked = new boolean[n];
            this.putAsked = new boolean[n];
            this.put = new boolean[n];
        }
    }

    private static void runSchedule(ScheduleExplorer.Schedule s, Map<Integer, Env> envs) {
        Random rnd = s.random();
        int n = 2 + rnd.nextInt(3);
        Env e = env(envs, n);
        BdevHarness h = e.h();
        RogueModule rogue = e.rogue();
        String hex = Long.toHexString(s.seed());
        h.test.log.clear();
        h.test.violations.clear();
        rogue.log.clear();
        assertThat(rogue.violations).isEmpty();

        TestModule.Opts o = new TestModule.Opts().name("T" + hex);
        o.moduleDevice = true;
        o.asyncDestruct = true;
        o.holdIo = true;
        Bdev tb = h.await(h.test.create(h.layer, o));
        Bdev rb = h.await(rogue.create(h.layer, "R" + hex, 512, 64));
        TestModule.Driver drv = (TestModule.Driver) tb.driver;
        Side t = new Side(tb.name(), n);
        Side r = new Side(rb.name(), n);
        List<io.spindle.runtime.IoChannel<TestModule.ModuleChannel>> moduleHeld = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int ri = i;
            for (Side side : List.of(t, r)) {
                side.desc[i] = h.on(i, () -> h.layer.open(side.name, true, (ev, b, d) -> side.removeSeen[ri] = true));
                side.ch.add(h.on(i, side.desc[i]::getIoChannel));
            }
            // the module's own reference to its channel here, as a module poller or module-level I/O would hold one
            moduleHeld.add(rnd.nextBoolean() ? h.on(i, drv.moduleDevice::getChannel) : null);
        }
        List<Io> ios = new ArrayList<>();
        IoCallback cb = (io, st, arg) -> ios.get((Integer) arg).completions++;

        s.reactors(h.group.reactors());
        for (Side side : List.of(t, r)) {
            List<String> log = side == t ? h.test.log : rogue.log;
            s.action("unregister " + side.name.charAt(0), () -> {
                side.unregisterAsked = true;
                side.un = h.layer.unregister(side.name).toCompletableFuture().whenComplete((st, err) -> log.add("unregister reply " + st));
            });
            for (int i = 0; i < n; i++) {
                int ri = i;
                String at = side.name.charAt(0) + "@" + i;
                for (int k = rnd.nextInt(3); k > 0; k--) {
                    Io io = new Io(ios.size());
                    ios.add(io);
                    s.action("read " + at + "#" + io.id, () -> !side.putAsked[ri] && !side.closeAsked[ri], () -> h.group.reactor(ri).send(() -> {
                        if (!side.desc[ri].isClosed() && !side.put[ri]
                                && side.desc[ri].readBlocks(side.ch.get(ri), e.buf(), 0, io.id % 64, 1, cb, io.id) == 0) {
                            io.accepted = true;
                            io.afterUnregister = side.unregisterAsked;
                        }
                    }));
                }
                s.action("close " + at, () -> side.unregisterAsked, () -> {
                    side.closeAsked[ri] = true;
                    if (!side.removeSeen[ri]) {
                        s.note("a close raced REMOVE");
                    }
                    h.group.reactor(ri).send(() -> {
                        if (side == t) {
                            drv.releaseHeld(IoStatus.SUCCESS);
                        }
                        side.desc[ri].close();
                    });
                });
                s.action("put " + at, () -> side.unregisterAsked, () -> {
                    side.putAsked[ri] = true;
                    h.group.reactor(ri).send(() -> {
                        if (side == t) {
                            drv.releaseHeld(IoStatus.SUCCESS);
                        }
                        side.put[ri] = true;
                        side.ch.get(ri).put();
                    });
                });
            }
        }
        for (int i = 0; i < n; i++) {
            int ri = i;
            s.action("release T@" + i, () -> !t.putAsked[ri] && !t.closeAsked[ri],
                    () -> h.group.reactor(ri).send(() -> drv.releaseHeld(IoStatus.SUCCESS)));
            if (moduleHeld.get(i) != null) {
                s.action("module put T@" + i, () -> t.unregisterAsked, () -> h.group.reactor(ri).send(moduleHeld.get(ri)::put));
            }
        }
        s.action("destruct done T", () -> drv.destructs > 0, () -> drv.destructGate.complete(null));

        List<String> violations = new ArrayList<>();
        s.runUntil(() -> (t.un != null && t.un.isDone() && r.un != null && r.un.isDone())
                || !h.test.violations.isEmpty() || !rogue.violations.isEmpty());
        violations.addAll(h.test.violations);
        violations.addAll(rogue.violations);
        assertThat(violations).as("no use-after-free, no channel destroyed off its reactor").isEmpty();
        s.quiesce();

        // ---- invariants
        assertThat(t.un.join()).as("unregister %s", t.name).isZero();
        assertThat(r.un.join()).as("unregister %s", r.name).isZero();
        assertThat(drv.destructs).as("destruct once").isEqualTo(1);
        assertDestructOrder(h.test.log, t.name, n, " " + t.name);
        assertDestructOrder(rogue.log, r.name, n, "");
        for (Io io : ios) {
            assertThat(io.completions).as("I/O %d (accepted=%s) completions", io.id, io.accepted).isEqualTo(io.accepted ? 1 : 0);
            if (io.accepted && io.afterUnregister) {
                s.note("an I/O accepted after the unregister was asked");
            }
        }
        assertThat(tb.status()).isEqualTo(Bdev.Status.REMOVED);
        assertThat(rb.status()).isEqualTo(Bdev.Status.REMOVED);
        assertThat(h.group.devices()).extracting(IoDevice::name).as("nothing of the two bdevs is left in the group")
                .doesNotContain(t.name, r.name, "test_module_" + t.name, "rogue_" + r.name);
        assertThat(drv.state.refCount()).as("the test module's state freed").isZero();
        assertThat(drv.mem.refCount()).as("the test bdev's memory freed").isZero();
        assertThat(h.test.log).noneMatch(x -> x.startsWith("BUG"));

        List<String> log = h.test.log;
        int bdevDevice = log.indexOf("trace " + t.name + ": io_device " + t.name + " unregistered");
        int lastModuleDestroy = -1;
        for (int i = 0; i < log.size(); i++) {
            if (log.get(i).startsWith("module channel destroyed on ")) {
                lastModuleDestroy = i;
            }
        }
        if (bdevDevice >= 0 && bdevDevice < lastModuleDestroy) {
            s.note("a module channel outlived the bdev's own io_device (the devices count mattered)");
        }
    }

    /** Each bdev channel and module channel destroyed before the destruct began, which finished before the reply. */
    private static void assertDestructOrder(List<String> logIn, String name, int n, String suffix) {
        List<String> log = new ArrayList<>(logIn);
        int destructAt = log.indexOf("destruct begins " + name);
        int doneAt = log.indexOf("destruct done " + name);
        int replyAt = log.indexOf("unregister reply 0");
        assertThat(destructAt).as("%s destruct ran; log %s", name, log).isGreaterThanOrEqualTo(0);
        assertThat(doneAt).as("%s destruct finished; log %s", name, log).isGreaterThan(destructAt);
        assertThat(replyAt).as("%s reply after the destruct finished; log %s", name, log).isGreaterThan(doneAt);
        int bdevChannels = 0;
        int moduleChannels = 0;
        for (int i = 0; i < log.size(); i++) {
            String l = log.get(i);
            boolean bdevCh = l.startsWith("bdev channel destroyed on ") && l.endsWith(suffix);
            boolean moduleCh = l.startsWith("module channel destroyed on ");
            if (bdevCh || moduleCh) {
                assertThat(i).as("%s: '%s' before destruct; log %s", name, l, log).isLessThan(destructAt);
                bdevChannels += bdevCh ? 1 : 0;
                moduleChannels += moduleCh ? 1 : 0;
            }
        }
        assertThat(bdevChannels).as("%s: every bdev channel destroyed; log %s", name, log).isEqualTo(n);
        assertThat(moduleChannels).as("%s: every module channel destroyed; log %s", name, log).isEqualTo(n);
    }
}
