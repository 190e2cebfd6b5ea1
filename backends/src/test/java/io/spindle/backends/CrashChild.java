package io.spindle.backends;

import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleConfig;
import io.spindle.backends.aio.AioModule;
import io.spindle.backends.mapped.MappedModule;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.ReactorConfig;

/**
 * The child of the {@code kill -9} tests: starts a Spindle, creates a file-backed bdev ({@code aio FILE BLOCK_SIZE} or
 * {@code mapped FILE BLOCK_SIZE NUM_BLOCKS}), writes {@code BLOCKS} blocks of {@link IoKit#pattern} (seed {@code SEED})
 * from block 0, flushes, prints {@code FLUSHED} and waits to be killed.
 *
 * <pre>java ... io.spindle.backends.CrashChild aio|mapped FILE BLOCK_SIZE NUM_BLOCKS BLOCKS SEED</pre>
 */
public final class CrashChild {
    private CrashChild() {
    }

    /** Entry point. */
    public static void main(String[] args) throws Exception {
        String kind = args[0];
        String file = args[1];
        int bs = Integer.parseInt(args[2]);
        long numBlocks = Long.parseLong(args[3]);
        int blocks = Integer.parseInt(args[4]);
        int seed = Integer.parseInt(args[5]);
        Spindle sp = Spindle.start(SpindleConfig.builder(ConfigFactory.parseString("pekko.loglevel = WARNING")).name("crash-child")
                .reactor(ReactorConfig.builder().mask("0x1").conclude()).subsystem(new BdevSubsystem()).conclude());
        BdevLayer l = BdevLayer.of(sp);
        if (kind.equals("aio")) {
            l.module(AioModule.class).create(l, AioModule.Options.of("Disk0", file, bs)).toCompletableFuture().get();
        } else {
            l.module(MappedModule.class).create(l, new MappedModule.Options("Disk0", file, bs, numBlocks, null)).toCompletableFuture().get();
        }
        IoKit io = new IoKit(l);
        if (io.write("Disk0", 0, IoKit.pattern(blocks * bs, seed)) != IoStatus.SUCCESS) {
            throw new IllegalStateException("write failed");
        }
        if (io.io("Disk0", IoType.FLUSH, 0, numBlocks, null) != IoStatus.SUCCESS) {
            throw new IllegalStateException("flush failed");
        }
        System.out.println("FLUSHED");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
