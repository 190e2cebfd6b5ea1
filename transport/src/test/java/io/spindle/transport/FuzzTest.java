package io.spindle.transport;

import com.fasterxml.jackson.databind.JsonNode;
import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spindle.transport.wire.AdminCodec;
import io.spindle.transport.wire.Frame;
import io.spindle.transport.wire.FrameDescriptor;
import io.spindle.transport.wire.FrameType;
import io.spindle.transport.wire.Opcode;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 100 000 random and mutated frames into a target queue pair (and some into its admin stream) through real Aeron
 * publications of a raw Aeron client, while a good host runs verify on the same target: the target stays up, the
 * good host sees no error and no bad frame, the fuzzer's frames are counted, and everything stops clean.
 */
class FuzzTest {
    static final String GOOD = "nqn.2016-06.io.spindle:cnode1";
    static final String FUZZ = "nqn.2016-06.io.spindle:cnode2";
    static final int FRAMES = 100_000;

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void randomAndMutatedFramesNeverDisturbTheTargetOrAGoodHost() throws Exception {
        int port = Node.freeUdpPort();
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "spindle-aeron-fuzz-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        try (Node tgt = Node.target("tgt_fuzz", ""); Node host = Node.host("host_fuzz", "")) {
            tgt.export(GOOD, "127.0.0.1", "ipv4", port, true);
            tgt.rpc("nvmf_create_subsystem", "{\"nqn\":\"" + FUZZ + "\",\"allow_any_host\":true}");
            // its own bdev: the target claims each namespace's bdev, so Null0 (nsid 2 of GOOD) cannot be exported twice
            tgt.rpc("bdev_null_create", "{\"name\":\"Null1\",\"num_blocks\":1048576,\"block_size\":4096}");
            tgt.rpc("nvmf_subsystem_add_ns", "{\"nqn\":\"" + FUZZ + "\",\"namespace\":{\"bdev_name\":\"Null1\",\"nsid\":1}}");
            tgt.rpc("nvmf_subsystem_add_listener", "{\"nqn\":\"" + FUZZ + "\",\"listen_address\":{\"trtype\":\"AERON\",\"adrfam\":\"ipv4\","
                    + "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"" + port + "\"}}");
            host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ""));
            Verifier good = new Verifier(host.layer, host.spindle.reactors().reactor(0), "Nvme0n1", 16, 4096, Long.MAX_VALUE);
            var goodRun = good.start();

            long sent;
            try (MediaDriver md = MediaDriver.launch(new MediaDriver.Context().aeronDirectoryName(dir.toString()).threadingMode(ThreadingMode.SHARED)
                    .dirDeleteOnStart(true).dirDeleteOnShutdown(true).publicationTermBufferLength(4 << 20).mtuLength(8192));
                 Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir.toString()))) {
                assertThat(md.aeronDirectoryName()).isEqualTo(dir.toString());
                sent = fuzz(aeron, port);
            }
            good.stop();
            Verifier.Result r = goodRun.get(60, TimeUnit.SECONDS);
            assertThat(r.failed()).as(String.valueOf(r)).isZero();
            assertThat(r.miscompares()).isZero();
            assertThat(r.doubleCompletions()).isZero();
            assertThat(r.completed()).isEqualTo(r.submitted());
            assertThat(r.writes()).isPositive();
            assertThat(sent).isGreaterThanOrEqualTo(FRAMES);

            JsonNode subs = tgt.rpc("nvmf_get_subsystems", null);
            JsonNode goodCtrl = subs.get(1).get("controllers").get(0);
            assertThat(goodCtrl.get("bad_frames").asLong()).isZero();
            long fuzzBad = 0;
            for (JsonNode c : subs.get(2).get("controllers")) {
                fuzzBad += c.get("bad_frames").asLong();
            }
            assertThat(fuzzBad).as("bad frames counted for the fuzzer's controller").isGreaterThan(FRAMES / 4);
            // still serving: a fresh verify
            Verifier.Result again = new Verifier(host.layer, host.spindle.reactors().reactor(1), "Nvme0n1", 8, 4096, 500).start().get(30, TimeUnit.SECONDS);
            assertThat(again.failed()).isZero();
            assertThat(again.miscompares()).isZero();
        }
        assertThat(dir).doesNotExist();
    }

    private static void await(Aeron aeron, BooleanSupplier cond, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("fuzzer: timed out waiting for " + what);
            }
            Thread.onSpinWait();
        }
    }

    /** The fuzzer: connects as a host of cnode2, opens one I/O queue, then sends FRAMES frames. Returns how many went out. */
    private static long fuzz(Aeron aeron, int port) {
        String target = "aeron:udp?endpoint=127.0.0.1:" + port;
        int respPort = Node.freeUdpPort();
        String resp = "aeron:udp?endpoint=127.0.0.1:" + respPort;
        UnsafeBuffer buf = new UnsafeBuffer(new byte[16384]);
        Frame frame = new Frame();
        int[] cntlid = new int[1];
        int[] ioReady = new int[1];
        try (Subscription adminSub = aeron.addSubscription(resp, 77);
             ExclusivePublication admin = aeron.addExclusivePublication(target, 1001);
             Subscription ioSub = aeron.addSubscription(resp, 78);
             ExclusivePublication cmd = aeron.addExclusivePublication(target, 4242)) {
            await(aeron, admin::isConnected, "the admin publication");
            int len = AdminCodec.encode(buf, 0, new AdminCodec.Connect(64, 77, 3000, new byte[32], "nqn.2016-06.io.spindle:fuzzer", FUZZ, resp));
            await(aeron, () -> admin.offer(buf, 0, len) > 0, "CONNECT sent");
            io.aeron.logbuffer.FragmentHandler onAdmin = (b, o, l, h) -> {
                Frame f = frame.wrap(b, o, l);
                if (f.checkHeader() == null && f.type() == FrameType.CONNECT_RESPONSE) {
                    cntlid[0] = f.cntlid();
                } else if (f.checkHeader() == null && f.type() == FrameType.CONNECT_IO_RESPONSE) {
                    ioReady[0] = 1;
                }
            };
            await(aeron, () -> adminSub.poll(onAdmin, 10) >= 0 && cntlid[0] != 0, "CONNECT_RESPONSE");
            int l2 = AdminCodec.encode(buf, 0, new AdminCodec.ConnectIo(cntlid[0], 1, 64, 78, 4242, cmd.sessionId()));
            await(aeron, () -> admin.offer(buf, 0, l2) > 0, "CONNECT_IO sent");
            await(aeron, () -> adminSub.poll(onAdmin, 10) >= 0 && ioReady[0] == 1, "CONNECT_IO_RESPONSE");
            await(aeron, cmd::isConnected, "the command publication");

            SplittableRandom rnd = new SplittableRandom(42);
            int max = cmd.maxPayloadLength();
            long sent = 0;
            long lastKeepAlive = System.nanoTime();
            io.aeron.logbuffer.FragmentHandler drain = (b, o, l, h) -> { };
            Opcode[] ops = Opcode.values();
            for (int i = 0; i < FRAMES; i++) {
                int kind = rnd.nextInt(100);
                int n;
                Publication pub = cmd;
                if (kind < 25) {
                    n = 1 + rnd.nextInt(max - 1);
                    for (int k = 0; k < n; k++) {
                        buf.putByte(k, (byte) rnd.nextInt(256));
                    }
                } else if (kind < 80) {
                    Opcode op = ops[rnd.nextInt(ops.length)];
                    int nlb = 1 + rnd.nextInt(4);
                    boolean data = op.hostToTarget();
                    int icl = data && rnd.nextBoolean() ? nlb * 4096 : 0;
                    if (icl > 4096) {
                        icl = 0;
                    }
                    n = FrameDescriptor.CMD_LENGTH + icl;
                    frame.wrap(buf, 0, n).header(FrameType.COMMAND, 0, n, 1, rnd.nextInt(70), cntlid[0])
                            .command(op.code(), rnd.nextInt(4), rnd.nextLong(300_000) - 10, nlb, data || op.targetToHost() ? nlb * 4096 : 0, icl,
                                    rnd.nextInt(70));
                    if (kind >= 35) { // mutate 1 to 3 bytes of most of them
                        for (int m = 1 + rnd.nextInt(3); m > 0; m--) {
                            buf.putByte(rnd.nextInt(Math.min(n, 64)), (byte) rnd.nextInt(256));
                        }
                    }
                } else if (kind < 95) {
                    int chunk = rnd.nextInt(max - 64);
                    n = FrameDescriptor.DATA_HEADER_LENGTH + chunk;
                    frame.wrap(buf, 0, n).header(FrameType.DATA, 0, n, 1, rnd.nextInt(70), cntlid[0]).data(rnd.nextInt(20000) - 100, chunk);
                    if (rnd.nextBoolean()) {
                        buf.putByte(rnd.nextInt(32), (byte) rnd.nextInt(256));
                    }
                } else {
                    pub = admin; // junk into the admin stream too
                    n = 1 + rnd.nextInt(200);
                    for (int k = 0; k < n; k++) {
                        buf.putByte(k, (byte) rnd.nextInt(256));
                    }
                    if (n > 1 && (buf.getByte(1) == FrameType.DISCONNECT.code() || buf.getByte(1) == FrameType.CONNECT.code())) {
                        buf.putByte(1, (byte) 0);
                    }
                }
                if (n > 1 && buf.getByte(1) == FrameType.DISCONNECT.code()) {
                    buf.putByte(1, (byte) FrameType.KEEP_ALIVE.code()); // a well-formed DISCONNECT would legitimately close the queue
                }
                final Publication p = pub;
                final int fn = n;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (p.offer(buf, 0, fn) < 0) {
                    ioSub.poll(drain, 256);
                    adminSub.poll(drain, 16);
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError("fuzzer: frame " + i + " could not be sent for 20 s (the target stopped reading)");
                    }
                }
                sent++;
                ioSub.poll(drain, 256);
                if (System.nanoTime() - lastKeepAlive > 500_000_000L) {
                    lastKeepAlive = System.nanoTime();
                    int kl = AdminCodec.encodeKeepAlive(buf, 0, cntlid[0]);
                    admin.offer(buf, 0, kl);
                    adminSub.poll(drain, 16);
                }
            }
            return sent;
        }
    }
}
