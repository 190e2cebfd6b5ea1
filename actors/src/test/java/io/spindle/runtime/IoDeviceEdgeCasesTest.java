package io.spindle.runtime;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The io_device and io_channel rules at their edges: an extra channel reference, a get from another group's reactor,
 * a second unregister, and an owner stopped while its device's unregister is still pending.
 */
@Timeout(60)
class IoDeviceEdgeCasesTest {
    static final ActorTestKit kit = ActorTestKit.create("io-device-edge-cases-test");
    static final Duration T = Duration.ofSeconds(10);

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** An io_device whose owner actor (and so its device actor) runs on reactor {@code i} of the manual group. */
    static IoDevice<String> deviceOn(ReactorGroup g, int i, String name, ChannelFactory<String> f, List<ActorRef<Object>> owners) {
        CompletableFuture<IoDevice<String>> d = new CompletableFuture<>();
        owners.add(kit.spawn(Behaviors.<Object>setup(ctx -> {
            d.complete(IoDevice.register(ctx, g, name, f));
            return Behaviors.receiveMessage(m -> Behaviors.stopped());
        }), g.reactor(i).dispatcher()));
        g.pollUntil(d::isDone, T);
        return d.join();
    }

    /** Unregisters {@code d}; the reply is taken by an actor on the Pekko dispatcher (it stops once answered). */
    static CompletableFuture<Integer> unregister(ReactorGroup g, IoDevice<?> d) {
        CompletableFuture<Integer> f = new CompletableFuture<>();
        ActorRef<IoDeviceActor.Unregistered> r = kit.spawn(Behaviors.receive(IoDeviceActor.Unregistered.class).onAnyMessage(u -> {
            f.complete(u.status());
            return Behaviors.stopped();
        }).build());
        d.unregister(r);
        return f;
    }

    static ReactorGroup group(int n) {
        ReactorGroup g = ReactorGroup.manual(ReactorConfig.builder().mask(CoreMask.firstN(n)).manual(true).maxTasksPerLoop(1).conclude());
        g.registerDispatchers(kit.system());
        return g;
    }

    @Test
    @DisplayName("spdk_io_channel_ref: a channel with an extra reference is destroyed only at the last put; ref off its reactor or on a "
            + "destroyed channel is refused")
    void channelRefKeepsTheChannelUntilTheLastPut() {
        ReactorGroup g = group(2);
        List<ActorRef<Object>> owners = new ArrayList<>();
        try {
            ThreadLibraryTest.Logging f = new ThreadLibraryTest.Logging();
            IoDevice<String> d = deviceOn(g, 0, "refd", f, owners);
            IoChannel<String> ch = ThreadLibraryTest.on(g, 1, d::getChannel);
            ThreadLibraryTest.on(g, 1, () -> {
                ch.ref();
                return null;
            });
            assertThat(ThreadLibraryTest.on(g, 1, ch::refs)).isEqualTo(2);
            assertThatThrownBy(() -> ThreadLibraryTest.on(g, 0, () -> {
                ch.ref();
                return null;
            })).isInstanceOf(IllegalStateException.class).hasMessageContaining("IoChannel.ref io_device=refd")
                    .hasMessageContaining("owner=reactor_1").hasMessageContaining("caller=reactor_0");
            ThreadLibraryTest.on(g, 1, () -> {
                ch.put();
                return null;
            });
            g.pollUntilIdle();
            assertThat(f.log).as("one reference left: not destroyed").noneMatch(l -> l.startsWith("destroy"));
            assertThat(ThreadLibraryTest.on(g, 1, ch::refs)).isEqualTo(1);
            ThreadLibraryTest.on(g, 1, () -> {
                ch.put();
                return null;
            });
            g.pollUntilIdle();
            assertThat(f.log).containsExactly("create refd on reactor_1 current=reactor_1", "destroy refd@reactor_1 current=reactor_1");
            assertThatThrownBy(() -> ThreadLibraryTest.on(g, 1, () -> {
                ch.ref();
                return null;
            })).isInstanceOf(IllegalStateException.class).hasMessageContaining("channel destroyed");
            CompletableFuture<Integer> un = unregister(g, d);
            g.pollUntil(un::isDone, T);
            assertThat(un.join()).isZero();
        } finally {
            owners.forEach(o -> o.tell("stop"));
            g.pollUntilIdle();
            g.close();
        }
    }

    @Test
    @DisplayName("a channel whose last put comes in the reactor's final drain (a forced exit) is destroyed there, on its reactor, "
            + "not queued to a reactor that will never run it")
    void lastPutInTheFinalDrainDestroysAtOnce() {
        ReactorGroup g = group(1);
        ThreadLibraryTest.Logging f = new ThreadLibraryTest.Logging();
        CompletableFuture<IoDevice<String>> registered = new CompletableFuture<>();
        ActorRef<Object> owner = kit.spawn(Behaviors.<Object>setup(ctx -> {
            registered.complete(IoDevice.register(ctx, g, "drained", f));
            return Behaviors.receiveMessage(m -> Behaviors.stopped());
        })); // on Pekko's dispatcher: the device actor must outlive the reactor
        IoDevice<String> d = registered.orTimeout(10, java.util.concurrent.TimeUnit.SECONDS).join();
        IoChannel<String> ch = ThreadLibraryTest.on(g, 0, d::getChannel);
        List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        Runnable[] holder = new Runnable[1];
        // a holder whose work keeps coming back to the reactor; the message it finds refused is its cue to put
        holder[0] = () -> {
            try {
                g.reactor(0).send(holder[0]);
            } catch (ReactorStoppedException e) {
                events.add("put in the final drain");
                ch.put();
            }
        };
        g.reactor(0).send(holder[0]);
        g.close(); // the channel keeps the reactor from exiting cleanly: the exit is forced, then the queue is drained
        assertThat(events).containsExactly("put in the final drain");
        assertThat(f.log).containsExactly("create drained on reactor_0 current=reactor_0", "destroy drained@reactor_0 current=reactor_0");
        assertThat(d.liveChannels()).isZero();
        CompletableFuture<Integer> un = unregister(g, d);
        assertThat(un.orTimeout(10, java.util.concurrent.TimeUnit.SECONDS).join()).isZero();
        owner.tell("stop");
    }

    @Test
    @DisplayName("getChannel on a reactor of another group is refused, naming both groups")
    void getChannelFromAnotherGroupIsRefused() {
        ReactorGroup g = group(1);
        ReactorGroup other = ReactorGroup.manual(1);
        List<ActorRef<Object>> owners = new ArrayList<>();
        try {
            IoDevice<String> d = deviceOn(g, 0, "mine", new ThreadLibraryTest.Logging(), owners);
            assertThatThrownBy(() -> ThreadLibraryTest.on(other, 0, d::getChannel)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("getChannel io_device=mine: must run on a reactor of group " + g.id())
                    .hasMessageContaining("caller=reactor_0 of group " + other.id());
            assertThat(d.liveChannels()).isZero();
            CompletableFuture<Integer> un = unregister(g, d);
            g.pollUntil(un::isDone, T);
            assertThat(un.join()).isZero();
        } finally {
            owners.forEach(o -> o.tell("stop"));
            g.pollUntilIdle();
            g.close();
            other.close();
        }
    }

    @Test
    @DisplayName("spdk_io_device_unregister twice: the second is answered EALREADY at once, the first when the last channel is gone")
    void secondUnregisterIsEalready() {
        ReactorGroup g = group(2);
        List<ActorRef<Object>> owners = new ArrayList<>();
        try {
            IoDevice<String> d = deviceOn(g, 0, "twice", new ThreadLibraryTest.Logging(), owners);
            IoChannel<String> ch = ThreadLibraryTest.on(g, 1, d::getChannel);
            CompletableFuture<Integer> first = unregister(g, d);
            g.pollUntilIdle();
            CompletableFuture<Integer> second = unregister(g, d);
            g.pollUntil(second::isDone, T);
            assertThat(second.join()).isEqualTo(Errno.EALREADY);
            assertThat(first).as("a channel is still live").isNotDone();
            ThreadLibraryTest.on(g, 1, () -> {
                ch.put();
                return null;
            });
            g.pollUntil(first::isDone, T);
            assertThat(first.join()).isZero();
        } finally {
            owners.forEach(o -> o.tell("stop"));
            g.pollUntilIdle();
            g.close();
        }
    }

    @Test
    @DisplayName("an owner stopped while its device's unregister is pending gives back the reactor's pending-unregister count: the reactor "
            + "holds nothing once the channel is put")
    void ownerStoppedDuringAPendingUnregister() {
        ReactorGroup g = group(2);
        List<ActorRef<Object>> owners = new ArrayList<>();
        try {
            IoDevice<String> d = deviceOn(g, 0, "pending", new ThreadLibraryTest.Logging(), owners);
            IoChannel<String> ch = ThreadLibraryTest.on(g, 1, d::getChannel);
            CompletableFuture<Integer> un = unregister(g, d);
            g.pollUntilIdle();
            assertThat(un).isNotDone();
            assertThat(ThreadLibraryTest.on(g, 0, () -> Reactor.current().leakReport())).contains("1 io_device unregister(s) pending");
            owners.get(0).tell("stop"); // the owner stops, and with it the device actor, before the unregister completed
            g.pollUntilIdle();
            assertThat(ThreadLibraryTest.on(g, 0, () -> Reactor.current().holdsNothing())).as("nothing pending on reactor_0").isTrue();
            ThreadLibraryTest.on(g, 1, () -> {
                ch.put();
                return null;
            });
            g.pollUntilIdle();
            assertThat(d.liveChannels()).isZero();
            assertThat(ThreadLibraryTest.on(g, 1, () -> Reactor.current().holdsNothing())).isTrue();
        } finally {
            owners.forEach(o -> o.tell("stop"));
            g.pollUntilIdle();
            g.close();
        }
    }
}
