package io.spindle.examples.hello;

import io.spindle.app.Spindle;
import io.spindle.app.SpindleConfig;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorConfig;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * hello_bdev: SPDK's {@code examples/bdev/hello_world/hello_bdev.c}, step by step.
 *
 * <ol>
 *   <li>Start Spindle with the bdev subsystem and a RAM disk, {@code Malloc0}.</li>
 *   <li>On reactor 0: open Malloc0 for writing (an event handler is required), get this reactor's channel,
 *       allocate an aligned off-heap buffer.</li>
 *   <li>Write "Hello World!" to block 0; when that completes, clear the buffer and read block 0 back.</li>
 *   <li>When the read completes, print the string; put the channel, close the descriptor, free the buffer.</li>
 *   <li>Stop Spindle: the bdev is unregistered (its memory freed only after its channels are gone).</li>
 * </ol>
 * Every result code is handled: a refused submit ends the program with its errno.
 */
public final class HelloBdev {
    private HelloBdev() {
    }

    /** Runs hello_bdev; exits 0 after printing the string read back, 1 on any failure. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0) {
            boolean help = args[0].equals("--help") || args[0].equals("-h");
            (help ? System.out : System.err).println("usage: spindle hello\n  hello_bdev: starts Spindle with a 8 MiB Malloc0 on"
                    + " reactor 0, writes \"Hello World!\" to block 0, reads it back, prints it and stops. Takes no arguments.");
            System.exit(help ? 0 : 2);
        }
        org.slf4j.LoggerFactory.getILoggerFactory();
        String out = run();
        System.out.println(out != null ? "Read string from bdev: " + out : "hello_bdev failed");
        System.exit(out != null ? 0 : 1);
    }

    /** The whole program; returns the string read back, or null on failure. */
    public static String run() throws Exception {
        BdevSubsystem bdevSubsystem = new BdevSubsystem()
                .onStart(layer -> layer.module(MallocModule.class).create(layer, MallocModule.Options.of("Malloc0", 16384, 512)));
        Spindle spindle = Spindle.start(SpindleConfig.builder().name("hello_bdev")
                .reactor(ReactorConfig.builder().mask("0x1").conclude())
                .subsystem(bdevSubsystem).conclude());
        CompletableFuture<String> result = new CompletableFuture<>();
        try {
            BdevLayer layer = BdevLayer.of(spindle);
            Reactor reactor = spindle.reactors().reactor(0);
            reactor.send(() -> helloOnReactor(layer, result));
            return result.get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.out.println("hello_bdev: " + e);
            return null;
        } finally {
            spindle.stopAndWait();
        }
    }

    /** Runs on reactor 0; everything below happens on that thread. */
    private static void helloOnReactor(BdevLayer layer, CompletableFuture<String> result) {
        BdevDescriptor desc;
        try {
            desc = layer.open("Malloc0", true, (event, bdev, d) -> System.out.println("hello_bdev: unexpected event " + event));
        } catch (BdevException e) {
            result.completeExceptionally(e);
            return;
        }
        IoChannel<BdevChannel> ch = desc.getIoChannel();
        if (ch == null) {
            desc.close();
            result.completeExceptionally(new IllegalStateException("no I/O channel for Malloc0"));
            return;
        }
        int blockSize = desc.bdev().blockSize();
        DmaBuffer buf = DmaBuffer.allocate(blockSize, Math.max(desc.bdev().requiredAlignment(), 512));
        Runnable cleanup = () -> {
            ch.put();
            desc.close();
            buf.close();
        };
        buf.fill(0, blockSize, (byte) 0).put(0, "Hello World!".getBytes(StandardCharsets.UTF_8));
        System.out.println("hello_bdev: writing to the bdev");
        int rc = desc.write(ch, buf, 0, 0, blockSize, (io, status, arg) -> {
            if (status != IoStatus.SUCCESS) {
                cleanup.run();
                result.completeExceptionally(new IllegalStateException("write failed: " + status));
                return;
            }
            System.out.println("hello_bdev: write completed, reading it back");
            buf.fill(0, blockSize, (byte) 0);
            int rrc = desc.read(ch, buf, 0, 0, blockSize, (rio, rstatus, rarg) -> {
                String s = rstatus == IoStatus.SUCCESS ? buf.getString(0, blockSize) : null;
                cleanup.run();
                if (s == null) {
                    result.completeExceptionally(new IllegalStateException("read failed: " + rstatus));
                } else {
                    result.complete(s);
                }
            }, null);
            if (rrc != 0) {
                cleanup.run();
                result.completeExceptionally(new IllegalStateException("read refused: " + Errno.name(rrc)));
            }
        }, null);
        if (rc != 0) {
            cleanup.run();
            result.completeExceptionally(new IllegalStateException("write refused: " + Errno.name(rc)));
        }
    }
}
