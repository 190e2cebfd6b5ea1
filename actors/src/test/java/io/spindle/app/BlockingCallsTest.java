package io.spindle.app;

import io.spindle.rpc.JsonConfig;
import io.spindle.runtime.BlockingCallOnReactorException;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorConfig;
import io.spindle.runtime.ReactorGroup;
import io.spindle.testing.LeakCheckExtension;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.ThrowingSupplier;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * No blocking call on a reactor: every Spindle call that waits for reactors or actors throws
 * {@link BlockingCallOnReactorException} on a reactor thread (instead of stalling it, or waiting for itself), and
 * the app never joins reactor threads on its actor's thread.
 */
@Timeout(60)
class BlockingCallsTest {

    /** Runs {@code call} on {@code reactor} and returns what it threw (null when it returned). */
    private static Throwable thrownOn(Reactor reactor, ThrowingSupplier<?> call) throws Exception {
        CompletableFuture<Throwable> out = new CompletableFuture<>();
        reactor.send(() -> {
            try {
                call.get();
                out.complete(null);
            } catch (Throwable t) {
                out.complete(t);
            }
        });
        return out.get(10, TimeUnit.SECONDS);
    }

    @Test
    @DisplayName("stopAndWait, start, a join or get on Spindle's stages, ReactorGroup.close/awaitStopped and JsonConfig.apply throw on a reactor, naming the call and the reactor")
    void waitingCallsOnAReactorThrowAClearException() throws Exception {
        Spindle s = Spindle.start(SpindleConfig.builder().name("blocking-1")
                .reactor(ReactorConfig.builder().mask("0x3").exitTimeout(Duration.ofMillis(500)).conclude()).conclude());
        try {
            Reactor r1 = s.reactors().reactor(1);
            JsonConfig json = JsonConfig.parse("{\"subsystems\":[]}", "test");
            Map<String, ThrowingSupplier<?>> calls = new java.util.LinkedHashMap<>();
            calls.put("Spindle.stopAndWait", s::stopAndWait);
            calls.put("Spindle.start", () -> Spindle.start(SpindleConfig.builder().name("blocking-nested")
                    .reactor(ReactorConfig.builder().mask("0x1").conclude()).conclude()));
            calls.put("CompletableFuture.join", () -> s.whenStopped().toCompletableFuture().join());
            calls.put("CompletableFuture.get", () -> s.whenStopped().thenApply(x -> x).toCompletableFuture().get(1, TimeUnit.SECONDS));
            calls.put("ReactorGroup.close", () -> {
                s.reactors().close();
                return null;
            });
            calls.put("ReactorGroup.awaitStopped", () -> s.reactors().awaitStopped(Duration.ofSeconds(1)));
            calls.put("JsonConfig.apply", () -> {
                json.apply(s, false);
                return null;
            });
            for (Map.Entry<String, ThrowingSupplier<?>> c : calls.entrySet()) {
                assertThat(thrownOn(r1, c.getValue())).as(c.getKey()).isInstanceOf(BlockingCallOnReactorException.class)
                        .hasMessageStartingWith(c.getKey() + ":").hasMessageContaining("reactor=reactor_1")
                        .hasMessageContaining("call it off the reactors");
            }
            assertThat(thrownOn(r1, () -> s.whenInitialized().toCompletableFuture().join()))
                    .as("a join that cannot block (the stage is complete) is fine").isNull();
            assertThat(s.whenStopped()).as("nothing was stopped by the refused calls").isNotDone();
            assertThat(LeakCheckExtension.reactorThreads()).containsExactlyInAnyOrder("reactor_0", "reactor_1");
        } finally {
            assertThat(s.stopAndWait().clean()).as("the test thread may stop it").isTrue();
        }
    }

    @Test
    @DisplayName("the app gives up on a reactor that does not exit in time and stops without joining its thread on the app actor's thread")
    void appDoesNotJoinAReactorThreadOnItsActorThread() throws Exception {
        CountDownLatch unstick = new CountDownLatch(1);
        AtomicReference<Poller> stuck = new AtomicReference<>();
        Spindle s = Spindle.start(SpindleConfig.builder().name("blocking-2")
                .reactor(ReactorConfig.builder().mask("0x3").exitTimeout(Duration.ofMillis(100)).conclude()).conclude());
        Reactor r1 = s.reactors().reactor(1);
        CompletableFuture<Void> registered = new CompletableFuture<>();
        r1.send(() -> {
            // a poller that hangs once the reactor is asked to exit, until the test lets it go (then it leaves)
            stuck.set(r1.registerPoller("stuck", () -> {
                if (r1.state() == Reactor.State.EXITING) {
                    try {
                        unstick.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    stuck.get().unregister();
                }
                return 0;
            }));
            registered.complete(null);
        });
        registered.get(10, TimeUnit.SECONDS);
        CompletableFuture<SpindleApp.Stopped> stop = s.stop().toCompletableFuture();
        // Until the stop completes, look for any thread waiting for reactor threads inside the group (a join): the
        // app actor's thread would sit there for exit-timeout + 5 s after its own wait gave up.
        List<String> joiners = new ArrayList<>();
        while (!stop.isDone()) {
            for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
                for (StackTraceElement f : e.getValue()) {
                    if (f.getClassName().equals(ReactorGroup.class.getName()) && f.getMethodName().equals("awaitStopped")) {
                        joiners.add(e.getKey().getName());
                        break;
                    }
                }
            }
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // paces the sampler; nothing waits on time
        }
        SpindleApp.Stopped stopped = stop.get(30, TimeUnit.SECONDS);
        try {
            assertThat(joiners).as("threads seen joining reactor threads").isEmpty();
            assertThat(stopped.clean()).isFalse();
            assertThat(s.reactors().threadsEnded()).as("reactor_1 is still stuck: the stop did not wait for it").isFalse();
        } finally {
            unstick.countDown();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> s.reactors().threadsEnded());
        assertThat(LeakCheckExtension.reactorThreads()).isEmpty();
    }
}
