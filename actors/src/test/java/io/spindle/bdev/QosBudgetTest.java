package io.spindle.bdev;

import io.spindle.bdev.io.IoType;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The QoS budget ({@link Qos}): per-channel credits charged without atomics, chunks taken from one pool, refilled by
 * one owner with a compare-and-set, so no charge is lost; neither the refill nor an admit allocates.
 */
@Timeout(60)
class QosBudgetTest {

    @Test
    @DisplayName("no charge is lost: with two reactors taking chunks while the owner refills, what they admitted never exceeds the slices given out less what is left")
    void refillRacingWithChargesLosesNone() throws Exception {
        // 64 000 IOPS: 64 per slice, chunks of 4 for two reactors
        Qos q = new Qos(QosLimits.of(64_000, 0, 0, 0), 2);
        int refills = 200_000;
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong admitted = new AtomicLong();
        CountDownLatch ready = new CountDownLatch(2);
        Thread[] takers = new Thread[2];
        for (int t = 0; t < 2; t++) {
            takers[t] = new Thread(() -> {
                Qos.Credit c = new Qos.Credit(); // each thread plays one reactor's channel
                long n = 0;
                ready.countDown();
                while (!stop.get()) {
                    if (q.tryAdmit(c, IoType.READ, 4096)) {
                        n++;
                    }
                }
                admitted.addAndGet(n);
            }, "qos-taker-" + t);
            takers[t].start();
        }
        ready.await();
        for (int i = 0; i < refills; i++) {
            q.refill();
        }
        stop.set(true);
        for (Thread t : takers) {
            t.join();
        }
        // given out: the constructor's slice and one per refill; the pool keeps what was not taken (or the debt)
        long givenOut = (refills + 1L) * 64;
        assertThat(admitted.get()).as("admitted, against %d given out and %d left in the pool", givenOut, q.pool(0))
                .isLessThanOrEqualTo(givenOut - q.pool(0));
        assertThat(admitted.get()).as("the takers did get budget").isPositive();
    }

    @Test
    @DisplayName("a channel's credit is charged locally: it takes one chunk from the pool per few I/O, and a new slice drops its unused credit but keeps its debt")
    void creditTakesChunksAndCarriesDebt() {
        Qos q = new Qos(QosLimits.of(0, 1, 0, 0), 1); // 1 MiB/s: 1048 B per slice, chunks of 512 B
        Qos.Credit c = new Qos.Credit();
        assertThat(q.pool(1)).isEqualTo(1048);
        assertThat(q.tryAdmit(c, IoType.WRITE, 256)).isTrue();
        assertThat(q.pool(1)).as("one chunk taken").isEqualTo(1048 - 512);
        assertThat(q.tryAdmit(c, IoType.WRITE, 256)).isTrue();
        assertThat(q.pool(1)).as("charged to the credit, not the pool").isEqualTo(1048 - 512);
        assertThat(q.tryAdmit(c, IoType.WRITE, 4096)).isTrue(); // takes a chunk, then overruns: a debt of 3584
        assertThat(q.pool(1)).isEqualTo(24);
        assertThat(q.tryAdmit(c, IoType.WRITE, 512)).as("the debt is paid first: the pool runs dry").isFalse();
        long epoch = q.epoch();
        q.refill();
        assertThat(q.epoch()).isEqualTo(epoch + 1);
        assertThat(q.pool(1)).as("the overdraft of the last slice charged to this one").isEqualTo(Math.min(24 - 512, 0) + 1048);
    }

    @Test
    @DisplayName("the 1 ms refill and an admit allocate nothing")
    void refillAndAdmitAllocateNothing() {
        Qos q = new Qos(QosLimits.of(1_000_000, 100, 100, 100), 4);
        Qos.Credit c = new Qos.Credit();
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        // warm up with the same mix as the measured loop, so no branch of it is first taken while measuring
        for (int i = 0; i < 50_000; i++) {
            q.refill();
            q.tryAdmit(c, i % 2 == 0 ? IoType.READ : IoType.WRITE, 4096);
        }
        // a one-off (a deoptimisation rematerialising a few objects, a compiled method replacing the interpreted
        // one) may still land in one round; an allocation per refill or admit lands in every round (>= 100 000 B)
        long[] rounds = new long[5];
        for (int r = 0; r < rounds.length; r++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 100_000; i++) {
                q.refill();
                q.tryAdmit(c, i % 2 == 0 ? IoType.READ : IoType.WRITE, 4096);
            }
            rounds[r] = threads.getCurrentThreadAllocatedBytes() - before;
            if (rounds[r] == 0) {
                return;
            }
        }
        assertThat(rounds).as("bytes allocated per round of 100 000 refills and admits").contains(0L);
    }
}
