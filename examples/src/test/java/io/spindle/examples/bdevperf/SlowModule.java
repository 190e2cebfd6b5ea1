package io.spindle.examples.bdevperf;

import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.bdev.spi.BdevSpec;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.Poller;
import io.spindle.runtime.Reactor;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A test bdev module modelled on the null module: nothing is stored, and each I/O completes no earlier than a set
 * delay after its submission (writes and reads each their own), from a poller on its channel's reactor; or, made
 * with {@link #createFailing}, every I/O completes FAILED. The delays are lower bounds, so what a test derives from
 * them does not depend on the machine's speed.
 */
final class SlowModule implements BdevModule {
    static final SlowModule INSTANCE = new SlowModule();

    @Override
    public String name() {
        return "slow";
    }

    static CompletionStage<Bdev> create(BdevLayer layer, String name, long numBlocks, int blockSize, long writeNanos, long readNanos) {
        return layer.register(BdevSpec.builder(INSTANCE, new Driver(writeNanos, readNanos, false)).name(name).productName("Slow disk")
                .blockSize(blockSize).numBlocks(numBlocks).build());
    }

    static CompletionStage<Bdev> createFailing(BdevLayer layer, String name, long numBlocks, int blockSize) {
        return layer.register(BdevSpec.builder(INSTANCE, new Driver(0, 0, true)).name(name).productName("Failing disk")
                .blockSize(blockSize).numBlocks(numBlocks).build());
    }

    /** A channel: the I/O in submission order with their due times, and the poller that completes the due ones. */
    static final class Channel {
        final ArrayDeque<ModuleIo> ios = new ArrayDeque<>();
        final ArrayDeque<Long> due = new ArrayDeque<>();
        Poller poller;
    }

    static final class Driver implements BdevDriver<Channel> {
        private final long writeNanos;
        private final long readNanos;
        private final boolean fail;

        Driver(long writeNanos, long readNanos, boolean fail) {
            this.writeNanos = writeNanos;
            this.readNanos = readNanos;
            this.fail = fail;
        }

        @Override
        public boolean supports(IoType type) {
            return type == IoType.READ || type == IoType.WRITE || type == IoType.RESET;
        }

        @Override
        public Channel createChannel(BdevView bdev, Reactor reactor) {
            Channel ch = new Channel();
            ch.poller = reactor.registerPoller("bdev_slow_" + bdev.name(), () -> complete(ch, false));
            return ch;
        }

        private int complete(Channel ch, boolean all) {
            int n = 0;
            long now = System.nanoTime();
            // due times are not monotonic across types: complete every due I/O, keep the others in order
            int size = ch.ios.size();
            for (int i = 0; i < size; i++) {
                ModuleIo io = ch.ios.poll();
                long d = ch.due.poll();
                if (all || now >= d) {
                    io.complete(fail ? IoStatus.FAILED : IoStatus.SUCCESS);
                    n++;
                } else {
                    ch.ios.add(io);
                    ch.due.add(d);
                }
            }
            return n;
        }

        @Override
        public void destroyChannel(BdevView bdev, Reactor reactor, Channel ch) {
            ch.poller.unregister();
            complete(ch, true);
        }

        @Override
        public void submit(ModuleIo io, Channel ch) {
            long delay = io.type() == IoType.WRITE ? writeNanos : io.type() == IoType.READ ? readNanos : 0;
            ch.ios.add(io);
            ch.due.add(System.nanoTime() + delay);
        }

        @Override
        public boolean retainsData() {
            return false;
        }

        @Override
        public CompletionStage<Void> destruct() {
            return CompletableFuture.completedFuture(null);
        }
    }
}
