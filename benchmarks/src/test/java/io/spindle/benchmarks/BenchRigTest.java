package io.spindle.benchmarks;

import io.spindle.bdev.BdevDescriptor;
import io.spindle.runtime.ChannelFactory;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.IoDevice;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The benchmarks' shared start-up and teardown does what they rely on: tasks run on the reactor, pollers and the
 * io_device are torn down by {@link BenchRig#close()}, and the reactor (or the Spindle) is gone afterwards.
 */
@Timeout(120)
class BenchRigTest {
    @Test
    @DisplayName("manual: a task runs in one pollOnce on the reactor, its exception comes back; pollers are unregistered (by close too) and the reactor exits")
    void manualRigRunsTasksAndTearsDown() {
        BenchRig rig = BenchRig.manual();
        Reactor r = rig.reactor();
        assertSame(r, rig.callOnReactor(Reactor::current));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rig.onReactor(() -> {
            throw new IllegalArgumentException("boom");
        }));
        assertEquals("boom", e.getMessage());
        AtomicInteger polls = new AtomicInteger();
        Poller p = rig.poller("count", () -> {
            polls.incrementAndGet();
            return 0;
        });
        int before = polls.get();
        r.pollOnce();
        assertTrue(polls.get() > before, "the poller runs on the rig's reactor");
        rig.unregisterPollers();
        assertEquals(Poller.State.UNREGISTERED, rig.callOnReactor(p::state));
        before = polls.get();
        r.pollOnce();
        assertEquals(before, polls.get(), "an unregistered poller does not run");
        // a poller that is never idle: close must unregister it before stepping the reactor until idle
        rig.poller("busy", () -> 1);
        rig.close();
        assertEquals(Reactor.State.EXITED, r.state());
    }

    @Test
    @DisplayName("manual: ioDevice registers a device whose channel is created on the reactor; close terminates its owner")
    void manualRigRegistersAnIoDevice() {
        BenchRig rig = BenchRig.manual();
        AtomicInteger creates = new AtomicInteger();
        AtomicInteger destroys = new AtomicInteger();
        IoDevice<Object> d = rig.ioDevice("rig-test", new ChannelFactory<>() {
            @Override
            public Object create(IoDevice<Object> device, Reactor reactor) {
                creates.incrementAndGet();
                return new Object();
            }

            @Override
            public void destroy(IoDevice<Object> device, Reactor reactor, Object context) {
                destroys.incrementAndGet();
            }
        });
        IoChannel<Object> ch = rig.callOnReactor(d::getChannel);
        assertEquals(1, creates.get());
        rig.onReactor(ch::put);
        rig.drain();
        assertEquals(1, destroys.get());
        assertEquals(0, d.liveChannels());
        rig.close();
        assertEquals(Reactor.State.EXITED, rig.reactor().state());
    }

    @Test
    @DisplayName("threaded: a task runs on the reactor thread, close unregisters the poller and the thread ends")
    void threadedRigRunsOnItsThreadAndEnds() {
        BenchRig rig = BenchRig.threaded();
        Thread t = rig.callOnReactor(Thread::currentThread);
        assertTrue(t.getName().startsWith("reactor_"), t.getName());
        rig.poller("noop", () -> 0);
        rig.close();
        assertTrue(rig.group().threadsEnded());
        assertFalse(t.isAlive());
    }

    @Test
    @DisplayName("bdev: the Spindle has the bdev, open on the reactor; close stops the Spindle clean (no leak)")
    void bdevRigHasTheBdevAndStopsClean() {
        BenchRig rig = BenchRig.bdev("null", 256, 4096);
        long blocks = rig.callOnReactor(() -> {
            BdevDescriptor d = rig.layer().open(BenchRig.BDEV, false, (event, bdev, desc) -> {
            });
            long n = d.bdev().numBlocks();
            d.close();
            return n;
        });
        assertEquals(256, blocks);
        rig.close();
    }

    @Test
    @DisplayName("bdev: an unknown backend is refused before anything starts, naming it; only a bdev rig has a layer")
    void bdevRigRefusesAnUnknownBackend() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchRig.bdev("nvme", 256, 4096));
        assertTrue(e.getMessage().contains("backend=nvme"), e.getMessage());
        BenchRig rig = BenchRig.manual();
        try {
            assertThrows(IllegalStateException.class, rig::layer);
        } finally {
            rig.close();
        }
    }
}
