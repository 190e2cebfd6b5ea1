package io.spindle.transport;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.FragmentHandler;
import io.spindle.transport.wire.AdminCodec;
import io.spindle.transport.wire.Frame;
import io.spindle.transport.wire.FrameType;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A host speaking the wire protocol by hand over its own Aeron media driver: connects an admin queue and one I/O
 * queue to a target's UDP listener, then sends whatever frames a test builds and collects what comes back. For
 * protocol tests (the target's validation) and the fuzzer. Single-threaded; {@link #close()} releases everything.
 */
final class RawHost implements AutoCloseable {
    final Path dir;
    final MediaDriver driver;
    final Aeron aeron;
    final Subscription adminSub;
    final ExclusivePublication admin;
    final Subscription ioSub;
    final ExclusivePublication cmd;
    final UnsafeBuffer buf = new UnsafeBuffer(new byte[16384]);
    final Frame frame = new Frame();
    int cntlid;
    /** Frames received on the I/O queue, copied. */
    final ArrayDeque<byte[]> received = new ArrayDeque<>();

    RawHost(int port, String subnqn, int depth) {
        dir = Path.of(System.getProperty("java.io.tmpdir"), "spindle-aeron-raw-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        driver = MediaDriver.launch(new MediaDriver.Context().aeronDirectoryName(dir.toString()).threadingMode(ThreadingMode.SHARED)
                .dirDeleteOnStart(true).dirDeleteOnShutdown(true).publicationTermBufferLength(4 << 20).mtuLength(8192));
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir.toString()));
        String target = "aeron:udp?endpoint=127.0.0.1:" + port;
        String resp = "aeron:udp?endpoint=127.0.0.1:" + Node.freeUdpPort();
        adminSub = aeron.addSubscription(resp, 77);
        admin = aeron.addExclusivePublication(target, 1001);
        ioSub = aeron.addSubscription(resp, 78);
        cmd = aeron.addExclusivePublication(target, 4242);
        await(admin::isConnected, "the admin publication");
        int len = AdminCodec.encode(buf, 0, new AdminCodec.Connect(depth, 77, 3000, new byte[32], "nqn.2016-06.io.spindle:raw", subnqn, resp));
        await(() -> admin.offer(buf, 0, len) > 0, "CONNECT sent");
        int[] ready = new int[1];
        FragmentHandler onAdmin = (b, o, l, h) -> {
            Frame f = frame.wrap(b, o, l);
            if (f.checkHeader() == null && f.type() == FrameType.CONNECT_RESPONSE) {
                cntlid = f.cntlid();
            } else if (f.checkHeader() == null && f.type() == FrameType.CONNECT_IO_RESPONSE) {
                ready[0] = 1;
            }
        };
        await(() -> adminSub.poll(onAdmin, 10) >= 0 && cntlid != 0, "CONNECT_RESPONSE");
        int l2 = AdminCodec.encode(buf, 0, new AdminCodec.ConnectIo(cntlid, 1, depth, 78, 4242, cmd.sessionId()));
        await(() -> admin.offer(buf, 0, l2) > 0, "CONNECT_IO sent");
        await(() -> adminSub.poll(onAdmin, 10) >= 0 && ready[0] == 1, "CONNECT_IO_RESPONSE");
        await(cmd::isConnected, "the command publication");
    }

    static void await(BooleanSupplier cond, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("raw host: timed out waiting for " + what);
            }
            Thread.onSpinWait();
        }
    }

    /** Sends the first {@code length} bytes of {@link #buf} on the I/O queue. */
    void send(int length) {
        await(() -> cmd.offer(buf, 0, length) > 0, "a frame sent");
    }

    private int receivedTotal;

    /** Polls the I/O queue until {@code n} frames have arrived since the start, in total. */
    void awaitReceived(int n) {
        FragmentHandler h = (b, o, l, hd) -> {
            byte[] copy = new byte[l];
            b.getBytes(o, copy);
            received.add(copy);
            receivedTotal++;
        };
        await(() -> ioSub.poll(h, 16) >= 0 && receivedTotal >= n, n + " frames back");
    }

    /** The next received frame, wrapped. */
    Frame next() {
        byte[] b = received.poll();
        return new Frame().wrap(new UnsafeBuffer(b), 0, b.length);
    }

    @Override
    public void close() {
        cmd.close();
        ioSub.close();
        admin.close();
        adminSub.close();
        aeron.close();
        driver.close();
    }
}
