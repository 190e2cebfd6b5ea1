package io.spindle.backends.raid;

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
 * The SPDK issue #3252 regression against raid1, which registers its own io_device whose channels hold a channel of
 * every base (SPDK registers the raid bdev as an io_device): over randomized interleavings of four manual reactors,
 * its destruct (which releases and closes every base) begins only after every raid channel was destroyed on its own
 * reactor.
 */
@Timeout(120)
class Raid1Issue3252Test {
    static final ActorTestKit kit = ActorTestKit.create("raid1-3252");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("#3252: bdev_raid_delete of a raid1 under I/O on 4 reactors, 40 seeds: every raid channel destroyed before destruct")
    void deleteWaitsForRaidChannels() {
        RaidModule raid = new RaidModule();
        List<String> trace = new CopyOnWriteArrayList<>();
        raid.trace = trace::add;
        try (BackendHarness h = new BackendHarness(kit, 4, BdevOptions.defaults(64), raid)) {
            for (int seed = 0; seed < 40; seed++) {
                String name = "R" + seed;
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("A" + seed, 64, 512)));
                h.await(h.malloc.create(h.layer, MallocModule.Options.of("B" + seed, 64, 512)));
                h.await(raid.create(h.layer, new RaidModule.Options(name, RaidLevel.RAID1, 0, List.of("A" + seed, "B" + seed), null)));
                Issue3252Interleavings.run(h, name, trace, () -> raid.delete(h.layer, name).toCompletableFuture(), seed);
                h.await(h.malloc.delete(h.layer, "A" + seed));
                h.await(h.malloc.delete(h.layer, "B" + seed));
            }
        }
    }
}
