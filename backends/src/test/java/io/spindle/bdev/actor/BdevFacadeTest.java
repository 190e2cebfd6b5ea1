package io.spindle.bdev.actor;

import io.spindle.bdev.IoType;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link BdevFacade}: block I/O as CompletionStages for plain Java, over a {@link BdevServer}. */
@Timeout(120)
class BdevFacadeTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-facade-test");
    static final Duration T = Duration.ofSeconds(10);

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static <X> X join(java.util.concurrent.CompletionStage<X> st) throws Exception {
        return st.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    static BdevReplyException failure(java.util.concurrent.CompletionStage<?> st) {
        CompletableFuture<?> f = st.toCompletableFuture();
        assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(BdevReplyException.class);
        return (BdevReplyException) f.handle((v, e) -> e instanceof CompletionException c ? c.getCause() : e).join();
    }

    @Test
    @DisplayName("write then read back through the facade; stages complete off the reactors; close stops the server")
    void writeReadClose() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-rw")) {
            BdevFacade disk = BdevFacade.open(kit.system(), s.layer, "Malloc0", 32, T);
            byte[] block = MallocSpindle.pattern(8192, 5);
            AtomicReference<String> thread = new AtomicReference<>();
            byte[] back = join(disk.write(16384, block)
                    .thenCompose(v -> disk.read(16384, block.length))
                    .thenApply(d -> {
                        thread.set(Thread.currentThread().getName());
                        return d;
                    }));
            assertThat(back).isEqualTo(block).isNotSameAs(block);
            assertThat(thread.get()).doesNotStartWith("reactor_");

            join(disk.flush(0, MallocSpindle.SIZE));
            join(disk.writeZeroes(16384, 4096));
            byte[] z = join(disk.read(16384, 8192));
            assertThat(java.util.Arrays.copyOfRange(z, 0, 4096)).containsOnly(0);
            assertThat(java.util.Arrays.copyOfRange(z, 4096, 8192)).isEqualTo(java.util.Arrays.copyOfRange(block, 4096, 8192));
            join(disk.unmap(16384, 8192));
            assertThat(join(disk.read(16384, 8192))).containsOnly(0);

            TestProbe<Object> watcher = kit.createTestProbe();
            join(disk.close());
            watcher.expectTerminated(disk.server(), T);
            assertThat(s.layer.get("Malloc0").openDescriptors()).isZero();
        }
    }

    @Test
    @DisplayName("a refused request fails its stage with BdevReplyException carrying the errno, the message and the reply")
    void refused() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-inval")) {
            ActorRef<BdevServer.Command> server = kit.spawn(BdevServer.create(s.layer, "Malloc0", 4));
            BdevFacade disk = BdevFacade.create(kit.system(), server, T);
            BdevReplyException e = failure(disk.read(100, 512));
            assertThat(e.errno()).isEqualTo(Errno.EINVAL);
            assertThat(e.getMessage()).contains("offset=100").contains("block_size=512").contains("EINVAL");
            assertThat(e.reply()).isInstanceOf(BdevServer.Refused.class);
            assertThat(e.status()).isNull();
            BdevReplyException w = failure(disk.write(0, new byte[100]));
            assertThat(w.errno()).isEqualTo(Errno.EINVAL);
            assertThat(w.getMessage()).contains("data.length=100");
            join(disk.close());
        }
    }

    @Test
    @DisplayName("past the bound the stage fails with EBUSY naming max_in_flight; every stage completes")
    void busy() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-busy")) {
            BdevFacade disk = BdevFacade.open(kit.system(), s.layer, "Malloc0", 1, T);
            join(disk.read(0, 512));
            java.util.concurrent.CountDownLatch release = s.blockReactors();
            List<CompletableFuture<byte[]>> all = new ArrayList<>();
            try {
                for (int i = 0; i < 10; i++) {
                    all.add(disk.read(i * 512L, 512).toCompletableFuture());
                }
                // 9 of them are Busy while the reactors are parked
                org.awaitility.Awaitility.await().atMost(T).until(() -> all.stream().filter(CompletableFuture::isDone).count() == 9);
            } finally {
                release.countDown();
            }
            CompletableFuture.allOf(all.stream().map(f -> f.handle((v, e) -> null)).toArray(CompletableFuture<?>[]::new))
                    .get(10, TimeUnit.SECONDS);
            List<BdevReplyException> busy = new ArrayList<>();
            int ok = 0;
            for (CompletableFuture<byte[]> f : all) {
                if (f.isCompletedExceptionally()) {
                    busy.add(failure(f));
                } else {
                    ok++;
                }
            }
            assertThat(ok).isEqualTo(1);
            assertThat(busy).hasSize(9).allSatisfy(e -> {
                assertThat(e.errno()).isEqualTo(Errno.EBUSY);
                assertThat(e.getMessage()).contains("max_in_flight=1");
                assertThat(e.reply().type()).isEqualTo(IoType.READ);
            });
            join(disk.close());
        }
    }

    @Test
    @DisplayName("after the bdev is unregistered the stages fail with ENODEV")
    void removed() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-nodev")) {
            BdevFacade disk = BdevFacade.open(kit.system(), s.layer, "Malloc0", 8, T);
            join(disk.write(0, new byte[512]));
            assertThat(join(s.layer.unregister("Malloc0"))).isZero();
            BdevReplyException e = failure(disk.read(0, 512));
            assertThat(e.errno()).isEqualTo(Errno.ENODEV);
            join(disk.close());
        }
    }

    @Test
    @DisplayName("on a reactor, a join on a facade or bdev layer stage that has not completed throws BlockingCallOnReactorException; the work still completes")
    void joinOnAReactorThrowsInsteadOfStallingIt() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-join")) {
            BdevFacade disk = BdevFacade.open(kit.system(), s.layer, "Malloc0", 32, T);
            join(disk.write(0, MallocSpindle.pattern(512, 3)));
            // reactor_0 (the bdev actors', and a shard's) is held, so nothing asked from reactor_1 below can complete
            // before the join on reactor_1 is reached: the join would block
            java.util.concurrent.CountDownLatch hold = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
            s.spindle.reactors().reactor(0).send(() -> {
                held.countDown();
                try {
                    hold.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<List<Object>> seen = new CompletableFuture<>();
            List<CompletableFuture<?>> stages = new ArrayList<>();
            s.spindle.reactors().reactor(1).send(() -> {
                List<Object> out = new ArrayList<>();
                CompletableFuture<byte[]> read = disk.read(0, 512).toCompletableFuture();
                CompletableFuture<?> stats = s.layer.stats("Malloc0").toCompletableFuture();
                stages.add(read);
                stages.add(stats);
                for (CompletableFuture<?> f : List.of(read, read.thenApply(b -> b.length), stats)) {
                    try {
                        out.add(f.join());
                    } catch (RuntimeException e) {
                        out.add(e);
                    }
                }
                seen.complete(out);
            });
            List<Object> out;
            try {
                out = seen.get(10, TimeUnit.SECONDS);
            } finally {
                hold.countDown();
            }
            assertThat(out).hasSize(3).allSatisfy(o -> assertThat(o).isInstanceOf(io.spindle.runtime.BlockingCallOnReactorException.class)
                    .asString().contains("CompletableFuture.join").contains("reactor=reactor_1"));
            assertThat((byte[]) join(stages.get(0))).isEqualTo(MallocSpindle.pattern(512, 3));
            assertThat(join(stages.get(1))).isNotNull();
            join(disk.close());
        }
    }
}
