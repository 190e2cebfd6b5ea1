package io.spindle.benchmarks;

import io.spindle.runtime.IdleMode;
import io.spindle.runtime.Reactor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Cross-thread message throughput: producer threads call {@link Reactor#send(Runnable)} on one threaded
 * reactor ({@code ReactorGroup.start}, core mask {@code 0x1}, idle mode {@link IdleMode#BUSY}, not pinned),
 * which runs each task. Score: tasks per second sent, which in steady state equals tasks per second run,
 * because each producer keeps at most {@value #WINDOW} of its tasks in flight (queued or running) and spins
 * until the reactor catches up; the queue cannot grow without bound. Target: at least 5 M tasks/s.
 *
 * <p>The task is preallocated per producer, so the only per-send allocation is the task queue's node. It
 * bumps that producer's completion counter (written only by the reactor thread). The producer reads that
 * counter only when its cached window limit is reached, not on every send, so the measurement is not a
 * cache-line ping-pong on the counter.
 *
 * <p>{@code send1} has one producer; {@code send2} has two. <b>Caveat:</b> the reactor thread busy-spins,
 * so {@code send2} needs three CPUs; on a 2-vCPU machine its producers and the reactor time-share and the
 * figure measures the scheduler as much as the queue.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar SendBench} (add {@code -prof gc} for bytes per
 * send).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SendBench extends SpindleBench {
    /** Most tasks one producer may have sent but not yet seen run. */
    public static final long WINDOW = 65_536;

    /** The reactor ({@link BenchRig#threaded()}), shared by all producer threads of a trial. */
    @State(Scope.Benchmark)
    public static class Rig {
        BenchRig shared;
        Reactor reactor;

        @Setup(Level.Trial)
        public void setUp() {
            shared = BenchRig.threaded();
            reactor = shared.reactor();
        }

        /** The reactor stopped and its thread checked ended ({@link BenchRig#close()}). */
        @TearDown(Level.Trial)
        public void tearDown() {
            shared.close();
        }
    }

    /** One producer thread: its preallocated task, its send count and the reactor-written done count. */
    @State(Scope.Thread)
    public static class Producer {
        /** Tasks of this producer that ran; written by the reactor thread only. */
        final AtomicLong done = new AtomicLong();
        /** The task: a single-writer increment (no atomic read-modify-write needed). */
        final Runnable task = () -> done.lazySet(done.get() + 1);
        long sent;
        /** {@code sent} may reach this without looking at {@code done} again. */
        long limit = WINDOW;

        void sendTo(Reactor reactor) {
            if (sent >= limit) {
                long d;
                while (sent - (d = done.get()) >= WINDOW) {
                    Thread.onSpinWait();
                }
                limit = d + WINDOW;
            }
            sent++;
            reactor.send(task);
        }

        @TearDown(Level.Trial)
        public void drain() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (done.get() != sent) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("tasks not run within 30 s: sent=" + sent + " done=" + done.get());
                }
                Thread.sleep(1);
            }
        }
    }

    /** One producer thread sending to the reactor. */
    @Benchmark
    @Threads(1)
    public void send1(Rig rig, Producer producer) {
        producer.sendTo(rig.reactor);
    }

    /** Two producer threads sending to the same reactor (see the class comment's caveat on 2 vCPUs). */
    @Benchmark
    @Threads(2)
    public void send2(Rig rig, Producer producer) {
        producer.sendTo(rig.reactor);
    }
}
