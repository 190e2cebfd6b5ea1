package io.spindle.backends;

import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.nullbdev.NullModule;
import io.spindle.bdev.BdevHarness;
import io.spindle.bdev.BdevOptions;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.runtime.CoreMask;
import io.spindle.runtime.ReactorConfig;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@link BdevHarness} (a bdev layer on manual reactors, stepped by the test) with the malloc and null modules
 * of this module: the modules are test, malloc, null, then the caller's {@code extra} in that order (examine runs
 * in this order). Used by the backend modules' tests here and by the bdev layer tests of {@code layer-tests} that
 * need a module storing data (malloc) or one storing nothing (null).
 *
 * <p>Threading and ownership as {@link BdevHarness}: one test thread builds, steps and closes it.
 */
public final class BackendHarness extends BdevHarness {
    public final MallocModule malloc;
    public final NullModule nul;

    /** Manual reactors ({@code reactors} of them, one task per step) and a bdev layer of {@code ioPoolSize} I/O per reactor. */
    public BackendHarness(ActorTestKit kit, int reactors, int ioPoolSize) {
        this(kit, reactors, BdevOptions.defaults(ioPoolSize));
    }

    /** Manual reactors and a bdev layer with {@code options}; the modules are test, malloc, null, then {@code extra}. */
    public BackendHarness(ActorTestKit kit, int reactors, BdevOptions options, BdevModule... extra) {
        this(kit, reactors, options, new MallocModule(), new NullModule(), List.of(extra));
    }

    private BackendHarness(ActorTestKit kit, int reactors, BdevOptions options, MallocModule malloc, NullModule nul,
                           List<BdevModule> extra) {
        // one task per step, as SPDK's poll_thread_times(i, 1): every message boundary is a possible interleaving
        super(kit, ReactorConfig.builder().mask(CoreMask.firstN(reactors)).manual(true).maxTasksPerLoop(1).conclude(),
                options, g -> {
                    List<BdevModule> mods = new ArrayList<>(List.of(malloc, nul));
                    mods.addAll(extra);
                    return mods;
                });
        this.malloc = malloc;
        this.nul = nul;
    }
}
