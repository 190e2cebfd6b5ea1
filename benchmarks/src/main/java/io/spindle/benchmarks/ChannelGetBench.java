package io.spindle.benchmarks;

import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.Reactor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

/**
 * Fast path of {@link IoDevice#getChannel()} followed by {@link IoChannel#put()} on a reactor where the
 * channel already exists: the benchmark holds one extra reference for the whole trial, so the count never
 * reaches zero, no destroy is queued and the factory's create never runs again (checked at tear-down).
 * This is the per-I/O cost a bdev layer pays when it gets and puts its channel around each request.
 * Expected: a few ns per pair and no allocation ({@code gc.alloc.rate.norm} about 0 B/op).
 *
 * <p>getChannel must run on a reactor, and a manual-mode reactor is current only during
 * {@link Reactor#pollOnce()}. So an active poller does {@value #PAIRS} get/put pairs per call, and the
 * benchmark method is one {@code pollOnce()} with {@code @OperationsPerInvocation(PAIRS)}: the loop
 * iteration's own cost (see {@link ReactorLoopBench}) is spread over the pairs, well under 0.1 ns each.
 * Every channel got is passed to a {@link Blackhole} (about 1 ns) so the JIT cannot fold the get/put away.
 *
 * <p>{@link IoDevice#register} needs a Pekko owner: {@link BenchRig#ioDevice} registers the device from the
 * guardian of an actor system the rig terminates at tear-down, after the held reference is put and the channel
 * destroyed.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar ChannelGetBench -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ChannelGetBench extends SpindleBench {
    /** get/put pairs per benchmark invocation (one reactor loop iteration). */
    public static final int PAIRS = 1000;

    /** Context of the benchmark device's channel. */
    static final class Ctx {
    }

    /** Counts creates and destroys, so tear-down can prove every measured get took the fast path. */
    static final class CountingFactory implements ChannelFactory<Ctx> {
        int creates;
        int destroys;

        @Override
        public Ctx create(IoDevice<Ctx> device, Reactor reactor) {
            creates++;
            return new Ctx();
        }

        @Override
        public void destroy(IoDevice<Ctx> device, Reactor reactor, Ctx context) {
            destroys++;
        }
    }

    private final CountingFactory factory = new CountingFactory();
    private BenchRig rig;
    private Reactor reactor;
    private IoDevice<Ctx> device;
    private IoChannel<Ctx> held;
    private Blackhole blackhole;

    /** A manual reactor ({@link BenchRig#manual()}), the device, its channel held, the measuring poller. */
    @Setup(Level.Trial)
    public void setUp(Blackhole bh) throws Exception {
        blackhole = bh;
        rig = BenchRig.manual();
        reactor = rig.reactor();
        device = rig.ioDevice("bench", factory);

        // on the reactor: create the channel and keep that first reference for the whole trial, then start
        // the measuring poller
        held = rig.callOnReactor(device::getChannel);
        rig.poller("get-put", this::getPutPairs);
        if (held == null || factory.creates != 1) {
            throw new IllegalStateException("setup failed: held=" + held + " creates=" + factory.creates);
        }
    }

    /** The poller: {@value #PAIRS} fast-path get/put pairs on the existing channel. */
    private int getPutPairs() {
        IoDevice<Ctx> d = device;
        Blackhole bh = blackhole;
        for (int i = 0; i < PAIRS; i++) {
            IoChannel<Ctx> ch = d.getChannel();
            bh.consume(ch);
            ch.put();
        }
        return PAIRS;
    }

    /** The poller stopped, the held reference put, its destroy run and counted; then {@link BenchRig#close()}. */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        try {
            rig.unregisterPollers();
            rig.onReactor(held::put); // the last reference: queues the deferred destroy, run by the next iterations
            rig.drain();
            if (factory.creates != 1 || factory.destroys != 1 || device.liveChannels() != 0) {
                throw new IllegalStateException("fast path not taken throughout: creates=" + factory.creates
                        + " destroys=" + factory.destroys + " liveChannels=" + device.liveChannels());
            }
        } finally {
            rig.close();
        }
    }

    /** One reactor loop iteration whose poller does {@value #PAIRS} getChannel()+put() pairs. */
    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public int getPut() {
        return reactor.pollOnce();
    }
}
