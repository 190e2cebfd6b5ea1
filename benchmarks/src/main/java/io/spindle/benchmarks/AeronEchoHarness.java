package io.spindle.benchmarks;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.BufferClaim;
import io.aeron.logbuffer.FragmentHandler;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Raw Aeron with the message sizes of a remote 4 KiB read (a 48-byte command out, a 32-byte completion header plus
 * the data back), at a fixed number outstanding, with the threading Spindle's transport uses: two "sides" in one JVM,
 * each with its own embedded media driver in INVOKER mode whose duty cycle and client conductor run on that side's
 * busy-spinning thread (as a reactor poller runs them), over UDP loopback or, with one shared driver, IPC. What it
 * leaves out is exactly Spindle's protocol and bdev layer, so the two figures side by side show what those cost on
 * top of Aeron.
 *
 * <pre>
 * java $(flags) -cp benchmarks/target/benchmarks.jar io.spindle.benchmarks.AeronEchoHarness udp|ipc [depth=128] [payload=4096] [seconds=5] [runs=3] [mtu]
 * </pre>
 *
 * The MTU defaults to what Spindle's transport uses on the same path: {@code spindle.transport.loopback-mtu} (65504)
 * for UDP on loopback, {@code spindle.transport.mtu} (8192) for IPC. A reply larger than one frame (a 128 KiB read)
 * is offered whole and fragmented by Aeron, and counted when its last fragment arrives (a {@link FragmentAssembler}).
 * Prints messages (= round trips) per second per run and the median. Not part of the test suite: a program.
 */
public final class AeronEchoHarness {
    private AeronEchoHarness() {
    }

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws Exception {
        boolean ipc = args.length > 0 && args[0].equals("ipc");
        int depth = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int payload = args.length > 2 ? Integer.parseInt(args[2]) : 4096;
        int seconds = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        int runs = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        int mtu = args.length > 5 ? Integer.parseInt(args[5]) : ipc ? 8192 : 65504;
        Path base = Files.createTempDirectory(Path.of(System.getProperty("aeron.harness.dir", "/dev/shm")), "aeron-echo");
        MediaDriver d1 = driver(base.resolve("a"), mtu);
        MediaDriver d2 = ipc ? null : driver(base.resolve("b"), mtu);
        Aeron c1 = client(d1);
        Aeron c2 = ipc ? client(d1) : client(d2);
        String toServer = ipc ? "aeron:ipc" : "aeron:udp?endpoint=127.0.0.1:40501";
        String toClient = ipc ? "aeron:ipc" : "aeron:udp?endpoint=127.0.0.1:40502";
        Subscription serverSub = c2.addSubscription(toServer, 11);
        ExclusivePublication serverPub = c2.addExclusivePublication(toClient, 12);
        Subscription clientSub = c1.addSubscription(toClient, 12);
        ExclusivePublication clientPub = c1.addExclusivePublication(toServer, 11);
        AtomicBoolean running = new AtomicBoolean(true);
        Thread server = new Thread(() -> serve(d2 != null ? d2 : null, c2, serverSub, serverPub, payload, running), "echo-server");
        server.start();
        long[] results = new long[runs];
        for (int r = 0; r < runs; r++) {
            results[r] = drive(ipc ? d1 : d1, c1, clientSub, clientPub, depth, seconds);
            System.out.printf("run %d: %s %d B payload, %d outstanding, mtu %d: %,d round trips/s%n", r + 1, ipc ? "ipc" : "udp", payload, depth, mtu,
                    results[r]);
        }
        running.set(false);
        server.join();
        long[] s = results.clone();
        Arrays.sort(s);
        System.out.printf("median: %,d round trips/s (min %,d, max %,d)%n", s[s.length / 2], s[0], s[s.length - 1]);
        c1.close();
        c2.close();
        d1.close();
        if (d2 != null) {
            d2.close();
        }
        Files.deleteIfExists(base); // the drivers deleted their own directories under it
    }

    private static MediaDriver driver(Path dir, int mtu) {
        return MediaDriver.launch(new MediaDriver.Context().aeronDirectoryName(dir.toString()).threadingMode(ThreadingMode.INVOKER)
                .asyncExecutorEnabled(false).dirDeleteOnStart(true).dirDeleteOnShutdown(true).termBufferSparseFile(true)
                .publicationTermBufferLength(4 << 20).ipcTermBufferLength(4 << 20).mtuLength(mtu).ipcMtuLength(mtu)
                .initialWindowLength(2 << 20).socketRcvbufLength(2 << 20).socketSndbufLength(2 << 20)
                .clientLivenessTimeoutNs(20_000_000_000L).publicationUnblockTimeoutNs(30_000_000_000L));
    }

    private static Aeron client(MediaDriver d) {
        return Aeron.connect(new Aeron.Context().aeronDirectoryName(d.aeronDirectoryName()).useConductorAgentInvoker(true)
                .driverAgentInvoker(d.sharedAgentInvoker()));
    }

    private static int invoke(MediaDriver d, Aeron a) {
        int w = 0;
        if (d != null) {
            w += d.sharedAgentInvoker().invoke();
        }
        return w + a.conductorAgentInvoker().invoke();
    }

    /** The server side: each 48-byte request is answered with a 32-byte header plus {@code payload} bytes. */
    private static void serve(MediaDriver d, Aeron a, Subscription sub, ExclusivePublication pub, int payload, AtomicBoolean running) {
        BufferClaim claim = new BufferClaim();
        UnsafeBuffer data = new UnsafeBuffer(new byte[payload]);
        UnsafeBuffer whole = new UnsafeBuffer(new byte[32 + payload]); // a reply above one frame: offered, fragmented
        whole.putLong(0, 1L);
        boolean fragmented = 32 + payload > pub.maxPayloadLength();
        int[] owed = new int[1];
        FragmentHandler h = (b, o, l, hd) -> owed[0]++;
        while (running.get()) {
            invoke(d, a);
            sub.poll(h, 64);
            while (owed[0] > 0) {
                long r = fragmented ? pub.offer(whole, 0, 32 + payload) : pub.tryClaim(32 + payload, claim);
                if (fragmented && r >= 0) {
                    owed[0]--;
                    continue;
                }
                if (r < 0) {
                    if (r == Publication.BACK_PRESSURED || r == Publication.ADMIN_ACTION || r == Publication.NOT_CONNECTED) {
                        break;
                    }
                    throw new IllegalStateException("server offer " + r);
                }
                claim.buffer().putLong(claim.offset(), 1L);
                claim.buffer().putBytes(claim.offset() + 32, data, 0, payload);
                claim.commit();
                owed[0]--;
            }
        }
    }

    /** The client side: keeps {@code depth} requests outstanding for {@code seconds}; returns round trips per second. */
    private static long drive(MediaDriver d, Aeron a, Subscription sub, ExclusivePublication pub, int depth, int seconds) {
        BufferClaim claim = new BufferClaim();
        int[] done = new int[1];
        FragmentHandler h = new FragmentAssembler((b, o, l, hd) -> done[0]++); // one count per whole reply
        long outstanding = 0;
        long completed = 0;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        long start = System.nanoTime();
        while (System.nanoTime() < end) {
            invoke(d, a);
            while (outstanding < depth) {
                long r = pub.tryClaim(48, claim);
                if (r < 0) {
                    break;
                }
                claim.buffer().putLong(claim.offset(), outstanding);
                claim.commit();
                outstanding++;
            }
            done[0] = 0;
            sub.poll(h, 256);
            outstanding -= done[0];
            completed += done[0];
        }
        // drain what is in flight so the next run starts even
        long drainEnd = System.nanoTime() + 2_000_000_000L;
        while (outstanding > 0 && System.nanoTime() < drainEnd) {
            invoke(d, a);
            done[0] = 0;
            sub.poll(h, 256);
            outstanding -= done[0];
        }
        return completed * 1_000_000_000L / (System.nanoTime() - start);
    }
}
