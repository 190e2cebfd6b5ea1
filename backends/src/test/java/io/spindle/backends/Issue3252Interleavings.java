package io.spindle.backends;

import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevHarness;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
import io.spindle.runtime.IoChannel;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SPDK issue #3252 scenario for a virtual bdev that registers its own io_device (passthru, raid): on every manual
 * reactor a descriptor, a channel and reads in flight through the vbdev to its base; then the vbdev is unregistered
 * while the reactors are stepped one task at a time in a random order with random speeds (reactor 0, where the
 * bdev's actor and destruct run, ahead), each descriptor's channel put and close after REMOVE being separate random
 * actions in either order. The module's trace must show every module channel destroyed (on its own reactor)
 * before destruct begins, with no module channel alive then, and every accepted I/O completed once.
 */
public final class Issue3252Interleavings {
    private Issue3252Interleavings() {
    }

    /**
     * One seed: {@code vbdev} must exist on {@code h}; {@code trace} receives the module's trace lines;
     * {@code unregister} starts the removal (delete of the vbdev, or of its base) and completes when it answered.
     */
    public static void run(BdevHarness h, String vbdev, List<String> trace, java.util.function.Supplier<CompletableFuture<Integer>> unregister,
                           int seed) {
        Random rnd = new Random(seed);
        int n = h.group.size();
        BdevDescriptor[] descs = new BdevDescriptor[n];
        List<IoChannel<BdevChannel>> chans = new ArrayList<>();
        boolean[] removeSeen = new boolean[n];
        boolean[] closed = new boolean[n];
        boolean[] put = new boolean[n];
        int[] weight = new int[n];
        int total = 0;
        for (int r = 0; r < n; r++) {
            weight[r] = r == 0 ? 4 << rnd.nextInt(3) : 1 << rnd.nextInt(3);
            total += weight[r];
        }
        AtomicInteger completions = new AtomicInteger();
        AtomicInteger accepted = new AtomicInteger();
        IoCallback cb = (io, st, arg) -> completions.incrementAndGet();
        DmaBuffer buf = DmaBuffer.allocate(4096);
        trace.clear();
        try {
            for (int r = 0; r < n; r++) {
                int rr = r;
                descs[r] = h.on(r, () -> h.layer.open(vbdev, false, (e, b, d) -> removeSeen[rr] = true));
                chans.add(h.on(r, descs[r]::getIoChannel));
                int ios = rnd.nextInt(4);
                for (int i = 0; i < ios; i++) {
                    int blk = i;
                    if (h.on(r, () -> descs[rr].readBlocks(chans.get(rr), buf, 0, blk, 1, cb, null)) == 0) {
                        accepted.incrementAndGet();
                    }
                }
            }
            CompletableFuture<Integer> un = unregister.get();
            int steps = 0;
            while (!un.isDone() && steps++ < 200_000) {
                int k = rnd.nextInt(total + 2 * n);
                if (k < total) {
                    int r = 0;
                    for (int acc = weight[0]; acc <= k; acc += weight[++r]) {
                        // the reactor whose weight range holds k
                    }
                    h.group.pollOnce(r);
                } else if (k < total + n) {
                    int r = k - total;
                    int rr = r;
                    if (removeSeen[r] && !closed[r]) {
                        closed[r] = true;
                        h.group.reactor(r).send(() -> descs[rr].close());
                    } else if (!removeSeen[r]) {
                        h.group.reactor(r).send(() -> {
                            if (!descs[rr].isClosed() && descs[rr].readBlocks(chans.get(rr), buf, 0, 5, 1, cb, null) == 0) {
                                accepted.incrementAndGet();
                            }
                        });
                    }
                } else {
                    int r = k - total - n;
                    int rr = r;
                    if (removeSeen[r] && !put[r]) {
                        put[r] = true;
                        h.group.reactor(r).send(() -> chans.get(rr).put());
                    }
                }
            }
            h.group.pollUntil(un::isDone, java.time.Duration.ofSeconds(10));
            assertThat(un.join()).as("seed %d", seed).isZero();
            h.poll();
            assertThat(completions.get()).as("every accepted I/O completed once, seed %d", seed).isEqualTo(accepted.get());
            List<String> log = new ArrayList<>(trace);
            int destructAt = -1;
            for (int i = 0; i < log.size(); i++) {
                if (log.get(i).startsWith("destruct begins " + vbdev)) {
                    destructAt = i;
                    assertThat(log.get(i)).as("seed %d: no module channel alive at destruct; log %s", seed, log).endsWith("alive 0");
                }
            }
            assertThat(destructAt).as("seed %d: destruct ran; log %s", seed, log).isGreaterThanOrEqualTo(0);
            long destroyed = log.stream().filter(x -> x.startsWith("module channel destroyed on ")).count();
            assertThat(destroyed).as("seed %d: one module channel per reactor; log %s", seed, log).isEqualTo(n);
            for (int i = 0; i < log.size(); i++) {
                if (log.get(i).startsWith("module channel destroyed on ")) {
                    assertThat(i).as("seed %d: %s before destruct; log %s", seed, log.get(i), log).isLessThan(destructAt);
                }
            }
        } finally {
            buf.close();
        }
    }
}
