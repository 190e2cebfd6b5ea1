package io.spindle.bdev.actor;

import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleApp;
import io.spindle.app.SpindleConfig;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorConfig;

import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A standalone Spindle on two real reactors ({@code 0x3}) with {@code Malloc0}: 8192 blocks of 512 bytes
 * (4 MiB). {@link #close()} stops it and asserts the stop was clean (nothing left on any reactor).
 */
final class MallocSpindle implements AutoCloseable {
    static final int BLOCK = 512;
    static final long BLOCKS = 8192;
    static final long SIZE = BLOCK * BLOCKS;

    final Spindle spindle;
    final BdevLayer layer;

    MallocSpindle(String name) {
        this(name, 1024);
    }

    /** @param ioPoolSize {@code spindle.bdev.io-pool-size}: bdev I/O per reactor (16 makes ENOMEM easy to hit) */
    MallocSpindle(String name, int ioPoolSize) {
        spindle = Spindle.start(SpindleConfig.builder(ConfigFactory.parseString("spindle.bdev.io-pool-size = " + ioPoolSize)).name(name)
                .reactor(ReactorConfig.builder().mask("0x3").conclude())
                .subsystem(new BdevSubsystem().onStart(l -> l.module(MallocModule.class).create(l, MallocModule.Options.of("Malloc0", BLOCKS, BLOCK))))
                .conclude());
        layer = BdevLayer.of(spindle);
    }

    /** Parks every reactor thread in a task until the returned latch is counted down (the test must do so). */
    CountDownLatch blockReactors() {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch parked = new CountDownLatch(spindle.reactors().size());
        for (Reactor r : spindle.reactors().reactors()) {
            r.send(() -> {
                parked.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        try {
            assertThat(parked.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return release;
    }

    /** Parks reactor {@code index} in a task until the returned latch is counted down (the test must do so). */
    CountDownLatch blockReactor(int index) {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch parked = new CountDownLatch(1);
        spindle.reactors().reactor(index).send(() -> {
            parked.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            assertThat(parked.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return release;
    }

    @Override
    public void close() {
        SpindleApp.Stopped s = spindle.stopAndWait();
        assertThat(s.leaks()).isEmpty();
        assertThat(s.clean()).isTrue();
    }

    /** {@code n} bytes of a pattern that differs per {@code seed} and per byte position. */
    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (seed * 31 + i * 7 + (i >>> 9));
        }
        return b;
    }
}
