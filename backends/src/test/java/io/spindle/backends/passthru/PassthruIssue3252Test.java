package io.spindle.backends.passthru;

import io.spindle.backends.Issue3252Interleavings;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.BackendHarness;
import io.spindle.bdev.BdevOptions;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The SPDK issue #3252 regression against passthru, which registers its own io_device whose channels hold the
 * base's channels (as SPDK's passthru does): over randomized interleavings of four manual reactors, its destruct
 * (which closes the base descriptor) begins only after every one of those channels was destroyed on its own reactor.
 */
@Timeout(120)
class PassthruIssue3252Test {
    static final ActorTestKit kit = ActorTestKit.create("passthru-3252");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("#3252: bdev_passthru_delete under I/O on 4 reactors, 40 seeds: every module channel destroyed before destruct")
    void deleteWaitsForModuleChannels() {
        PassthruModule pt = new PassthruModule();
        List<String> trace = new CopyOnWriteArrayList<>();
        pt.trace = trace::add;
        try (BackendHarness h = new BackendHarness(kit, 4, BdevOptions.defaults(64), pt)) {
            for (int seed = 0; seed < 40; seed++) {
                String base = "M" + seed;
                String name = "PT" + seed;
                h.await(h.malloc.create(h.layer, MallocModule.Options.of(base, 64, 512)));
                h.await(pt.create(h.layer, name, base, null));
                Issue3252Interleavings.run(h, name, trace, () -> pt.delete(h.layer, name).toCompletableFuture(), seed);
                h.await(h.malloc.delete(h.layer, base));
            }
        }
    }

    @Test
    @DisplayName("#3252: hot-remove of the base under I/O on 4 reactors, 40 seeds: the passthru's module channels are destroyed before"
            + " its destruct closes the base's descriptor, and only then does the base's unregister finish")
    void hotRemoveWaitsForModuleChannels() {
        PassthruModule pt = new PassthruModule();
        List<String> trace = new CopyOnWriteArrayList<>();
        pt.trace = trace::add;
        try (BackendHarness h = new BackendHarness(kit, 4, BdevOptions.defaults(64), pt)) {
            for (int seed = 100; seed < 140; seed++) {
                String base = "M" + seed;
                String name = "PT" + seed;
                h.await(h.malloc.create(h.layer, MallocModule.Options.of(base, 64, 512)));
                h.await(pt.create(h.layer, name, base, null));
                Issue3252Interleavings.run(h, name, trace, () -> h.malloc.delete(h.layer, base).toCompletableFuture(), seed);
                h.await(pt.delete(h.layer, name)); // forget the association
            }
        }
    }
}
