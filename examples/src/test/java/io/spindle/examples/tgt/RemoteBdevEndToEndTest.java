package io.spindle.examples.tgt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.rpc.RpcClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.DatagramSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Remote bdevs across processes, as a user runs them: {@code ./spindle tgt --json examples/configs/export.json} as the
 * target, bdevperf with {@code examples/configs/remote.json} and another {@code ./spindle tgt} as initiators, over
 * Aeron UDP on loopback; then {@code kill -9} of the target under I/O, a target restart, and {@code kill -9} of an
 * initiator. Uses what the build made ({@code SPINDLE_SKIP_BUILD=1}); each process has a private Aeron directory
 * under this test's temporary directory.
 */
class RemoteBdevEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private Path dir;
    private final List<Process> started = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "spremote");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Process p : started) {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private ProcessBuilder spindle(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ROOT.resolve("spindle").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile());
        pb.environment().put("SPINDLE_SKIP_BUILD", "1");
        pb.environment().put("SPINDLE_JAVA_OPTS", "-Dspindle.transport.dir-base=" + dir.resolve("aeron") + " -Dspindle.transport.keep-alive-timeout=3s");
        return pb;
    }

    private Process start(Path log, String ready, String... args) throws Exception {
        Process p = spindle(args).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        started.add(p);
        await(() -> {
            try {
                assertThat(p.isAlive()).as(args[0] + " running; its output:\n" + Files.readString(log)).isTrue();
                return Files.readString(log).contains(ready);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, Duration.ofSeconds(90), args[0] + " ready");
        return p;
    }

    private static void await(BooleanSupplier cond, Duration max, String what) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (!cond.getAsBoolean()) {
            assertThat(System.nanoTime() < deadline).as(what + " within " + max).isTrue();
            Thread.sleep(100);
        }
    }

    private static JsonNode call(Path sock, String method, String params) throws Exception {
        try (RpcClient c = RpcClient.connect(sock, Duration.ofSeconds(60))) {
            return c.call(method, params == null ? null : JSON.readTree(params));
        }
    }

    private Path config(String name, int port) throws IOException {
        Path p = dir.resolve(name);
        String s = Files.readString(ROOT.resolve("examples/configs").resolve(name)).replace("\"4420\"", "\"" + port + "\"");
        Files.writeString(p, s);
        return p;
    }

    private record Run(int rc, String out) {
    }

    private Run bdevperf(Path remote, String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("bdevperf", "-m", "0x1", "--json", remote.toString()));
        a.addAll(List.of(args));
        Path log = Files.createTempFile(dir, "bdevperf", ".log");
        Process p = spindle(a.toArray(String[]::new)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        started.add(p);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("bdevperf finished").isTrue();
        return new Run(p.exitValue(), Files.readString(log));
    }

    static int freeUdpPort() throws IOException {
        try (DatagramSocket s = new DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    @Timeout(400)
    @DisplayName("tgt exports Malloc0 and Null0 over AERON; bdevperf verifies them at 4 KiB and 128 KiB; kill -9 of the target under I/O "
            + "removes the remote bdevs after ctrlr_loss_timeout_sec; a restarted target is attached again; kill -9 of the initiator frees its controller")
    void remoteBdevsAcrossProcesses() throws Exception {
        int port = freeUdpPort();
        Path export = config("export.json", port);
        Path remote = config("remote.json", port);
        Path aSock = dir.resolve("a.sock");
        Path bSock = dir.resolve("b.sock");
        Process a = start(dir.resolve("a.log"), "spindle tgt: started", "tgt", "-m", "0x1", "--json", export.toString(), "-r", aSock.toString());
        assertThat(call(aSock, "nvmf_get_subsystems", null).get(1).get("namespaces").size()).isEqualTo(2);

        Run v4 = bdevperf(remote, "-q", "32", "-o", "4096", "-w", "verify", "-t", "2");
        assertThat(v4.rc()).as(v4.out()).isZero();
        assertThat(v4.out()).contains("Nvme0n1").contains("Nvme0n2");
        Run v128 = bdevperf(remote, "-q", "8", "-o", "131072", "-w", "verify", "-t", "2", "-T", "Nvme0n1");
        assertThat(v128.rc()).as(v128.out()).isZero();

        // a second process attaches with bdev_nvme_attach_controller over its RPC socket
        Process b = start(dir.resolve("b.log"), "spindle tgt: started", "tgt", "-m", "0x1", "-r", bSock.toString());
        JsonNode names = call(bSock, "bdev_nvme_attach_controller", "{\"name\":\"Nvme0\",\"trtype\":\"AERON\",\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\","
                + "\"trsvcid\":\"" + port + "\",\"subnqn\":\"nqn.2016-06.io.spindle:cnode1\",\"ctrlr_loss_timeout_sec\":5,\"reconnect_delay_sec\":1,"
                + "\"fast_io_fail_timeout_sec\":2}");
        assertThat(names.toString()).isEqualTo("[\"Nvme0n1\",\"Nvme0n2\"]");

        // kill -9 of the target under bdevperf I/O
        Path log = dir.resolve("under-kill.log");
        List<String> args = List.of("bdevperf", "-m", "0x1", "--json", remote.toString(), "-q", "32", "-o", "4096", "-w", "verify", "-t", "60");
        Process c = spindle(args.toArray(String[]::new)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        started.add(c);
        await(() -> {
            try {
                return Files.readString(log).contains("Running I/O for");
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, Duration.ofSeconds(90), "bdevperf running");
        Thread.sleep(1000);
        long aPid = a.pid();
        a.destroyForcibly();
        assertThat(a.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(c.waitFor(60, TimeUnit.SECONDS)).as("bdevperf ended once its bdevs were hot-removed; output:\n" + Files.readString(log)).isTrue();
        String out = Files.readString(log);
        assertThat(c.exitValue()).as(out).isNotZero(); // I/O failed after fast_io_fail_timeout_sec
        // the initiator process b removes its remote bdevs after ctrlr_loss_timeout_sec
        await(() -> {
            try {
                return call(bSock, "bdev_get_bdevs", null).isEmpty() && call(bSock, "bdev_nvme_get_controllers", null).isEmpty();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, Duration.ofSeconds(30), "remote bdevs removed after ctrlr_loss_timeout_sec");

        // the target comes back (its dead predecessor's Aeron directory is cleaned), the initiator attaches again
        assertThat(Files.list(dir.resolve("aeron")).map(p -> p.getFileName().toString()).toList()).as("killed pid " + aPid)
                .anyMatch(n -> n.startsWith("spindle-aeron-" + aPid + "-")); // kill -9 leaves it behind
        Process a2 = start(dir.resolve("a2.log"), "spindle tgt: started", "tgt", "-m", "0x1", "--json", export.toString(), "-r", aSock.toString());
        assertThat(Files.list(dir.resolve("aeron")).map(p -> p.getFileName().toString()).toList()).noneMatch(n -> n.startsWith("spindle-aeron-" + aPid + "-"));
        call(bSock, "bdev_nvme_attach_controller", "{\"name\":\"Nvme0\",\"trtype\":\"AERON\",\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\","
                + "\"trsvcid\":\"" + port + "\",\"subnqn\":\"nqn.2016-06.io.spindle:cnode1\"}");
        assertThat(call(bSock, "bdev_get_bdevs", "{\"name\":\"Nvme0n1\"}").size()).isEqualTo(1);
        assertThat(call(aSock, "nvmf_get_subsystems", null).get(1).get("controllers").size()).isEqualTo(1);

        // kill -9 of the initiator: the target frees its controller and queue pairs within the keep-alive timeout
        b.destroyForcibly();
        assertThat(b.waitFor(10, TimeUnit.SECONDS)).isTrue();
        await(() -> {
            try {
                return call(aSock, "nvmf_get_subsystems", null).get(1).get("controllers").isEmpty();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, Duration.ofSeconds(30), "the killed initiator's controller freed");
        call(aSock, "spdk_kill_instance", "{\"sig_name\":\"SIGTERM\"}");
        assertThat(a2.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(a2.exitValue()).as(Files.readString(dir.resolve("a2.log"))).isZero();
    }
}
