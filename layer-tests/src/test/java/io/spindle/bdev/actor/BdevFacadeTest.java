package io.spindle.bdev.actor;

import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.Reactor;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link BdevFacade}: block I/O as CompletionStages and callbacks, completed by the reactors, no ask per I/O. */
@Timeout(120)
class BdevFacadeTest {

    static <X> X join(CompletionStage<X> st) throws Exception {
        return st.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    static BdevReplyException failure(CompletionStage<?> st) {
        CompletableFuture<?> f = st.toCompletableFuture();
        assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(BdevReplyException.class);
        return (BdevReplyException) f.handle((v, e) -> e instanceof CompletionException c ? c.getCause() : e).join();
    }

    /** Runs {@code body} on {@code r} and returns what it returns (the test thread waits off the reactors). */
    static <T> T on(Reactor r, java.util.function.Supplier<T> body) throws Exception {
        CompletableFuture<T> out = new CompletableFuture<>();
        r.send(() -> {
            try {
                out.complete(body.get());
            } catch (Throwable e) {
                out.completeExceptionally(e);
            }
        });
        return out.get(10, TimeUnit.SECONDS);
    }

    @Test
    @DisplayName("write then read back from a plain thread; the stages are completed by a reactor, inline; close releases every descriptor")
    void writeReadClose() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-rw")) {
            BdevFacade disk = BdevFacade.open(s.layer, "Malloc0");
            byte[] block = MallocSpindle.pattern(8192, 5);
            AtomicReference<String> thread = new AtomicReference<>();
            join(disk.write(16384, block));
            // hold every reactor until the continuation is attached, so the read cannot complete before it (a stage
            // already complete runs a new continuation on the caller's thread, which is not what this checks)
            java.util.concurrent.CountDownLatch attached = new java.util.concurrent.CountDownLatch(1);
            for (int i = 0; i < s.spindle.reactors().size(); i++) {
                s.spindle.reactors().reactor(i).send(() -> {
                    try {
                        attached.await(30, java.util.concurrent.TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            java.util.concurrent.CompletionStage<byte[]> read = disk.read(16384, block.length).thenApply(d -> {
                thread.set(Thread.currentThread().getName());
                return d;
            });
            attached.countDown();
            byte[] back = join(read);
            assertThat(back).isEqualTo(block).isNotSameAs(block);
            assertThat(thread.get()).as("the continuation ran where the reactor completed the stage").startsWith("reactor_");

            join(disk.flush(0, MallocSpindle.SIZE));
            join(disk.writeZeroes(16384, 4096));
            byte[] z = join(disk.read(16384, 8192));
            assertThat(java.util.Arrays.copyOfRange(z, 0, 4096)).containsOnly(0);
            assertThat(java.util.Arrays.copyOfRange(z, 4096, 8192)).isEqualTo(java.util.Arrays.copyOfRange(block, 4096, 8192));
            join(disk.unmap(16384, 8192));
            assertThat(join(disk.read(16384, 8192))).containsOnly(0);

            join(disk.close());
            assertThat(s.layer.get("Malloc0").openDescriptors()).isZero();
            assertThat(failure(disk.read(0, 512)).errno()).as("after close").isEqualTo(Errno.ESHUTDOWN);
        }
    }

    @Test
    @DisplayName("completeOn(executor): every completion is delivered on the executor, never on a reactor")
    void completeOnAnExecutor() throws Exception {
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> new Thread(r, "facade-client"));
        try (MallocSpindle s = new MallocSpindle("facade-exec")) {
            BdevFacade disk = BdevFacade.open(s.layer, "Malloc0", BdevFacade.Options.defaults().completeOn(ex));
            AtomicReference<String> thread = new AtomicReference<>();
            join(disk.write(0, new byte[512]).thenRun(() -> thread.set(Thread.currentThread().getName())));
            assertThat(thread.get()).isEqualTo("facade-client");
            CompletableFuture<String> cb = new CompletableFuture<>();
            try (DmaBuffer b = DmaBuffer.allocate(512, 4096)) {
                assertThat(disk.read(0, b, 0, 512, (rc, arg) -> cb.complete(rc + " " + Thread.currentThread().getName()), null)).isZero();
                assertThat(cb.get(10, TimeUnit.SECONDS)).isEqualTo("0 facade-client");
            }
            join(disk.close());
        } finally {
            ex.shutdown();
        }
    }

    @Test
    @DisplayName("caller-supplied buffers: the I/O runs on the caller's DmaBuffer (no copy); readLent lends a pooled buffer until release")
    void callerBuffersAndLentBuffers() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-buf");
             DmaBuffer src = DmaBuffer.allocate(8192, 4096);
             DmaBuffer dst = DmaBuffer.allocate(8192, 4096)) {
            BdevFacade disk = BdevFacade.open(s.layer, "Malloc0");
            src.put(0, MallocSpindle.pattern(8192, 9));
            join(disk.write(4096, src, 1024, 2048));
            assertThat(join(disk.read(4096, dst, 512, 2048))).isSameAs(dst);
            assertThat(dst.get(512, 2048)).isEqualTo(src.get(1024, 2048));
            LentBuffer lent = join(disk.readLent(4096, 2048));
            assertThat(lent.length()).isEqualTo(2048);
            assertThat(lent.toArray()).isEqualTo(src.get(1024, 2048));
            lent.release(); // from the test thread: handed back to its reactor
            assertThatThrownBy(lent::release).isInstanceOf(IllegalStateException.class);
            join(disk.close());
        }
    }

    @Test
    @DisplayName("refusals fail the stage with BdevReplyException naming the field and the bound, or return the errno at once on a reactor")
    void refused() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-inval");
             DmaBuffer small = DmaBuffer.allocate(512, 4096)) {
            BdevFacade disk = BdevFacade.open(s.layer, "Malloc0");
            BdevReplyException e = failure(disk.read(100, 512));
            assertThat(e.errno()).isEqualTo(Errno.EINVAL);
            assertThat(e.getMessage()).contains("offset=100").contains("block_size=512").contains("EINVAL");
            assertThat(e.reply()).isInstanceOf(BdevServer.Refused.class);
            assertThat(e.status()).isNull();
            assertThat(failure(disk.write(0, new byte[100])).getMessage()).contains("data.length=100");
            assertThat(failure(disk.read(0, small, 0, 1024)).getMessage()).contains("capacity=512");
            assertThat(failure(disk.read(MallocSpindle.SIZE, 512)).getMessage()).contains("size_bytes=" + MallocSpindle.SIZE);
            // on a reactor the callback method answers at once, and the callback never runs
            AtomicInteger calls = new AtomicInteger();
            int rc = on(s.spindle.reactors().reactor(0), () -> disk.read(100, small, 0, 512, (r, a) -> calls.incrementAndGet(), null));
            assertThat(rc).isEqualTo(Errno.EINVAL);
            join(disk.close());
            assertThat(calls.get()).isZero();

            BdevFacade ro = BdevFacade.open(s.layer, "Malloc0", BdevFacade.Options.defaults().writable(false));
            assertThat(failure(ro.write(0, new byte[512])).errno()).isEqualTo(Errno.EBADF);
            join(ro.close());
            assertThat(failure(BdevFacade.open(s.layer, "Nope0").read(0, 512)).errno()).isEqualTo(Errno.ENODEV);
        }
    }

    @Test
    @DisplayName("past maxInFlight on a reactor an I/O is refused with EBUSY naming the bound; nothing is queued")
    void busy() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-busy");
             DmaBuffer b = DmaBuffer.allocate(1024, 4096)) {
            BdevFacade disk = BdevFacade.open(s.layer, "Malloc0", BdevFacade.Options.defaults().maxInFlight(1));
            List<CompletableFuture<DmaBuffer>> stages = new ArrayList<>();
            int second = on(s.spindle.reactors().reactor(0), () -> {
                stages.add(disk.read(0, b, 0, 512).toCompletableFuture());
                stages.add(disk.read(512, b, 512, 512).toCompletableFuture());
                return disk.read(0, b, 0, 512, (rc, a) -> { }, null);
            });
            assertThat(second).isEqualTo(Errno.EBUSY);
            assertThat(join(stages.get(0))).isSameAs(b);
            BdevReplyException e = failure(stages.get(1));
            assertThat(e.errno()).isEqualTo(Errno.EBUSY);
            assertThat(e.getMessage()).contains("max_in_flight=1");
            assertThat(e.reply().type()).isEqualTo(IoType.READ);
            join(disk.close());
        }
    }

    @Test
    @DisplayName("with 16 bdev I/O per reactor, 256 I/O from one reactor all complete (the excess waits for a free bdev I/O, in order)")
    void waitsForBdevIo() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-enomem", 16);
             DmaBuffer b = DmaBuffer.allocate(256 * 512, 4096)) {
            BdevFacade disk = BdevFacade.open(s.layer, "Malloc0");
            AtomicInteger ok = new AtomicInteger();
            CompletableFuture<Void> all = new CompletableFuture<>();
            int accepted = on(s.spindle.reactors().reactor(1), () -> {
                int n = 0;
                for (int i = 0; i < 256; i++) {
                    if (disk.write(i * 512L, b, i * 512L, 512, (rc, a) -> {
                        if (rc == 0 && ok.incrementAndGet() == 256) {
                            all.complete(null);
                        }
                    }, null) == 0) {
                        n++;
                    }
                }
                return n;
            });
            assertThat(accepted).isEqualTo(256);
            all.get(10, TimeUnit.SECONDS);
            join(disk.close());
        }
    }

    @Test
    @DisplayName("after the bdev is unregistered the I/O fail with ENODEV; I/O in flight at the removal complete once each")
    void removed() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-nodev")) {
            BdevFacade disk = BdevFacade.open(s.layer, "Malloc0");
            List<CompletableFuture<Void>> inFlight = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                inFlight.add(disk.write(i * 512L, new byte[512]).toCompletableFuture());
            }
            assertThat(join(s.layer.unregister("Malloc0"))).isZero();
            for (CompletableFuture<Void> f : inFlight) {
                assertThat(f.handle((v, e) -> e == null || e instanceof BdevReplyException).get(10, TimeUnit.SECONDS)).isTrue();
            }
            assertThat(failure(disk.read(0, 512)).errno()).isEqualTo(Errno.ENODEV);
            join(disk.close());
        }
    }

    @Test
    @DisplayName("a closed loop of callbacks on a reactor with the caller's buffers allocates nothing per I/O on that reactor")
    void callbackLoopOnAReactorAllocatesNothing() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-alloc")) {
            BdevFacade disk = BdevFacade.open(s.layer, "Malloc0");
            Reactor r = s.spindle.reactors().reactor(0);
            Loop loop = new Loop(disk, 16);
            on(r, loop::start);
            loop.warm.get(60, TimeUnit.SECONDS);
            long[] window = loop.window.get(60, TimeUnit.SECONDS);
            assertThat(window[1]).isEqualTo(Loop.MEASURED);
            assertThat((double) window[0] / window[1]).as("bytes allocated per I/O on the reactor thread: " + window[0]).isLessThan(0.5);
            loop.done.get(10, TimeUnit.SECONDS);
            loop.close();
            join(disk.close());
        }
    }

    /** {@code depth} reads kept outstanding from their own completions; measures the reactor thread's allocation. */
    static final class Loop implements BdevFacade.Callback {
        static final int WARMUP = 50_000;
        static final int MEASURED = 100_000;
        private static final com.sun.management.ThreadMXBean THREADS =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        final BdevFacade disk;
        final DmaBuffer[] bufs;
        final Integer[] slots;
        final CompletableFuture<Void> warm = new CompletableFuture<>();
        final CompletableFuture<long[]> window = new CompletableFuture<>();
        final CompletableFuture<Void> done = new CompletableFuture<>();
        final long[] result = new long[2];
        long completed;
        long startBytes;
        int outstanding;
        int failures;

        Loop(BdevFacade disk, int depth) {
            this.disk = disk;
            bufs = new DmaBuffer[depth];
            slots = new Integer[depth];
            for (int i = 0; i < depth; i++) {
                bufs[i] = DmaBuffer.allocate(512, 4096);
                slots[i] = i;
            }
        }

        Void start() {
            for (Integer slot : slots) {
                submit(slot);
            }
            return null;
        }

        private void submit(Integer slot) {
            long off = (completed * 7 + slot * 512L) % MallocSpindle.BLOCKS * 512;
            if (disk.read(off, bufs[slot], 0, 512, this, slot) == 0) {
                outstanding++;
            }
        }

        @Override
        public void onComplete(int rc, Object arg) {
            outstanding--;
            if (rc != 0) {
                failures++;
            }
            completed++;
            if (completed == WARMUP) {
                startBytes = THREADS.getCurrentThreadAllocatedBytes();
                warm.complete(null);
            } else if (completed == WARMUP + MEASURED) {
                result[0] = THREADS.getCurrentThreadAllocatedBytes() - startBytes;
                result[1] = MEASURED;
                window.complete(result);
            }
            if (completed < WARMUP + MEASURED) {
                submit((Integer) arg);
            } else if (outstanding == 0) {
                done.complete(null);
            }
        }

        void close() {
            assertThat(failures).isZero();
            for (DmaBuffer b : bufs) {
                b.close();
            }
        }
    }

    @Test
    @DisplayName("on a reactor, a join on a facade stage that has not completed throws BlockingCallOnReactorException; the I/O still completes")
    void joinOnAReactorThrowsInsteadOfStallingIt() throws Exception {
        try (MallocSpindle s = new MallocSpindle("facade-join")) {
            BdevFacade disk = BdevFacade.open(s.layer, "Malloc0");
            join(disk.write(0, MallocSpindle.pattern(512, 3)));
            List<CompletableFuture<?>> stages = new ArrayList<>();
            List<Object> out = on(s.spindle.reactors().reactor(1), () -> {
                List<Object> seen = new ArrayList<>();
                // submitted on this reactor: it cannot complete before this task returns
                CompletableFuture<byte[]> read = disk.read(0, 512).toCompletableFuture();
                CompletableFuture<?> stats = s.layer.stats("Malloc0").toCompletableFuture();
                stages.add(read);
                stages.add(stats);
                for (CompletableFuture<?> f : List.of(read, read.thenApply(b -> b.length), stats)) {
                    try {
                        seen.add(f.join());
                    } catch (RuntimeException e) {
                        seen.add(e);
                    }
                }
                return seen;
            });
            assertThat(out).hasSize(3).allSatisfy(o -> assertThat(o).isInstanceOf(io.spindle.runtime.BlockingCallOnReactorException.class)
                    .asString().contains("CompletableFuture.join").contains("reactor=reactor_1"));
            assertThat((byte[]) join(stages.get(0))).isEqualTo(MallocSpindle.pattern(512, 3));
            assertThat(join(stages.get(1))).isNotNull();
            join(disk.close());
        }
    }
}
