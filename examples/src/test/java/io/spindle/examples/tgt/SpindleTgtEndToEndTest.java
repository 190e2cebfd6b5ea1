package io.spindle.examples.tgt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * End to end, as a user runs it: {@code ./spindle tgt} as its own process with a JSON config, driven with
 * {@code ./spindle rpc} processes: get, create, iostat, delete, save_config, kill; then a second target
 * started from the saved config has the same bdevs. Uses what the build made ({@code SPINDLE_SKIP_BUILD=1}).
 */
class SpindleTgtEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private Path dir;
    private final List<Process> started = new ArrayList<>();

    /** A finished ./spindle command. */
    record Run(int rc, String out, String err) {
    }

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "sptgt"); // a socket path must stay under 108 bytes
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
        return pb;
    }

    private Run rpc(Path sock, String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("rpc", "-s", sock.toString()));
        a.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = spindle(a.toArray(String[]::new)).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("spindle rpc " + String.join(" ", args) + " finished").isTrue();
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private Process tgt(Path sock, Path config, Path log) throws Exception {
        return tgt(log, "spindle tgt: started", "tgt", "-m", "0x3", "--json", config.toString(), "-r", sock.toString());
    }

    private Process tgt(Path log, String ready, String... args) throws Exception {
        Process p = spindle(args).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        started.add(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.readString(log).contains(ready)) {
            assertThat(p.isAlive()).as("tgt running; its output:\n" + Files.readString(log)).isTrue();
            assertThat(System.nanoTime() < deadline).as("tgt started within 60 s; its output:\n" + Files.readString(log)).isTrue();
            Thread.sleep(100); // paces a poll of the tgt process's log; the condition decides, not the time
        }
        return p;
    }

    private static List<String> names(JsonNode bdevs) {
        List<String> n = new ArrayList<>();
        bdevs.forEach(b -> n.add(b.get("name").asText()));
        return n;
    }

    @Test
    @Timeout(300)
    @DisplayName("spindle tgt with a config, driven by spindle rpc: get, create, iostat, delete, save_config, kill; the saved config restarts the same bdevs")
    void tgtAndRpc() throws Exception {
        Path sock = dir.resolve("t.sock");
        Path cfg = dir.resolve("bdevs.json");
        Files.writeString(cfg, """
                {"subsystems":[{"subsystem":"bdev","config":[
                  {"method":"bdev_malloc_create","params":{"name":"Malloc0","block_size":512,"num_blocks":32768}},
                  {"method":"bdev_null_create","params":{"name":"Null0","block_size":4096,"num_blocks":1024}},
                  {"method":"bdev_wait_for_examine"}]}]}
                """);
        Path log = dir.resolve("tgt.log");
        Process t = tgt(sock, cfg, log);
        assertThat(Files.getPosixFilePermissions(sock)).hasSize(2);

        Run r = rpc(sock, "bdev_get_bdevs");
        assertThat(r.rc()).as(r.err()).isZero();
        JsonNode bdevs = JSON.readTree(r.out());
        assertThat(names(bdevs)).containsExactly("Malloc0", "Null0");
        assertThat(bdevs.get(0).get("supported_io_types").get("read").asBoolean()).isTrue();
        assertThat(r.out()).startsWith("[\n  {\n    \"name\": \"Malloc0\",").as("rpc.py's json.dumps(indent=2) layout");

        r = rpc(sock, "bdev_malloc_create", "-b", "Malloc9", "8", "512");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(r.out().trim()).isEqualTo("Malloc9");
        assertThat(JSON.readTree(rpc(sock, "bdev_get_bdevs", "-b", "Malloc9").out()).get(0).get("num_blocks").asLong()).isEqualTo(16384);

        r = rpc(sock, "bdev_get_iostat");
        assertThat(r.rc()).as(r.err()).isZero();
        JsonNode st = JSON.readTree(r.out());
        assertThat(st.get("tick_rate").asLong()).isEqualTo(1_000_000_000L);
        assertThat(names(st.get("bdevs"))).containsExactly("Malloc0", "Null0", "Malloc9");

        r = rpc(sock, "bdev_malloc_delete", "Malloc9");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(r.out()).isEmpty();
        r = rpc(sock, "bdev_malloc_delete", "Malloc9");
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.out()).contains("Got JSON-RPC error response").contains("\"code\": -19").contains("\"message\": \"No such device\"");

        r = rpc(sock, "save_config");
        assertThat(r.rc()).as(r.err()).isZero();
        Path saved = dir.resolve("saved.json");
        Files.writeString(saved, r.out());
        JsonNode savedBdevs = JSON.readTree(rpc(sock, "bdev_get_bdevs").out());

        r = rpc(sock, "spdk_kill_instance", "SIGTERM");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(t.waitFor(60, TimeUnit.SECONDS)).as("tgt exits after spdk_kill_instance").isTrue();
        assertThat(t.exitValue()).as(Files.readString(log)).isZero();
        assertThat(Files.readString(log)).contains("spindle tgt: stopped").doesNotContain("not clean");
        assertThat(sock).as("socket file removed").doesNotExist();

        // the saved config recreates the same bdevs, UUIDs included
        Path sock2 = dir.resolve("t2.sock");
        Path log2 = dir.resolve("tgt2.log");
        Process t2 = tgt(sock2, saved, log2);
        JsonNode again = JSON.readTree(rpc(sock2, "bdev_get_bdevs").out());
        assertThat(names(again)).isEqualTo(names(savedBdevs));
        for (int i = 0; i < again.size(); i++) {
            assertThat(again.get(i).get("uuid")).isEqualTo(savedBdevs.get(i).get("uuid"));
            assertThat(again.get(i).get("num_blocks")).isEqualTo(savedBdevs.get(i).get("num_blocks"));
        }
        t2.destroy(); // SIGTERM: the target stops cleanly, removes its socket and exits 0, as spdk_tgt does
        assertThat(t2.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(Files.readString(log2)).contains("spindle tgt: stopped").doesNotContain("not clean");
        assertThat(t2.exitValue()).isZero();
        assertThat(sock2).doesNotExist();

        // --wait-for-rpc and rpc.py's client-side load_config: startup entries, framework_start_init, the rest
        Path sock3 = dir.resolve("t3.sock");
        Path log3 = dir.resolve("tgt3.log");
        Process t3 = tgt(log3, "waiting for framework_start_init", "tgt", "--wait-for-rpc", "-r", sock3.toString());
        r = rpc(sock3, "bdev_get_bdevs");
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.out()).contains("\"code\": -1").contains("only be called after framework is initialized");
        r = rpc(sock3, "load_config", "-j", saved.toString());
        assertThat(r.rc()).as(r.err()).isZero();
        JsonNode loaded = JSON.readTree(rpc(sock3, "bdev_get_bdevs").out());
        assertThat(names(loaded)).isEqualTo(names(savedBdevs));
        assertThat(loaded.get(0).get("uuid")).isEqualTo(savedBdevs.get(0).get("uuid"));
        assertThat(rpc(sock3, "spdk_kill_instance", "SIGINT").rc()).isZero();
        assertThat(t3.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(t3.exitValue()).as(Files.readString(log3)).isZero();
    }

    @Test
    @Timeout(120)
    @DisplayName("a config that fails is reported on one line naming file, entry, method and field; the target exits 1 and leaves no socket")
    void badConfig() throws Exception {
        Path sock = dir.resolve("b.sock");
        Path cfg = dir.resolve("bad.json");
        Files.writeString(cfg, "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":["
                + "{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"A\",\"block_size\":512,\"num_blocks\":64}},"
                + "{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"B\",\"block_size\":500,\"num_blocks\":64}}]}]}");
        Path log = dir.resolve("bad.log");
        Process p = spindle("tgt", "--json", cfg.toString(), "-r", sock.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        started.add(p);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(1);
        assertThat(Files.readString(log, StandardCharsets.UTF_8)).contains("spindle tgt: --json " + cfg
                + ": subsystems[bdev].config[1] method bdev_malloc_create: Invalid argument: block_size=500: must be a power of two >= 512 (code -22)")
                .contains("(the 1 bdev(s) created before it were removed)");
        assertThat(sock).doesNotExist();
    }

    @Test
    @Timeout(120)
    @DisplayName("tgt started in the background by a script (SIGINT inherited as ignored) still stops cleanly on a real SIGINT")
    void sigintFromABackgroundScript() throws Exception {
        Path sock = dir.resolve("s.sock");
        Path log = dir.resolve("sig.log");
        // a non-interactive shell starts background jobs with SIGINT ignored; the launcher must undo that
        String script = "SPINDLE_SKIP_BUILD=1 '" + ROOT.resolve("spindle") + "' tgt -r '" + sock + "' >'" + log
                + "' 2>&1 & echo $!; wait $!; echo rc=$?";
        Process sh = new ProcessBuilder("bash", "-c", script).directory(ROOT.toFile()).redirectErrorStream(true).start();
        started.add(sh);
        java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(sh.getInputStream(), StandardCharsets.UTF_8));
        long pid = Long.parseLong(out.readLine().trim());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(log) || !Files.readString(log).contains("spindle tgt: started")) {
            assertThat(System.nanoTime() < deadline).as("tgt started").isTrue();
            Thread.sleep(100); // paces a poll of the tgt process's log; the condition decides, not the time
        }
        String status = Files.readString(Path.of("/proc/" + pid + "/status"));
        long ignored = status.lines().filter(l -> l.startsWith("SigIgn:")).mapToLong(l -> Long.parseUnsignedLong(l.substring(7).trim(), 16))
                .findFirst().orElseThrow();
        assertThat(ignored & 0x2).as("the JVM does not ignore SIGINT (SigIgn bit 2)").isZero();
        Process kill = new ProcessBuilder("kill", "-INT", Long.toString(pid)).start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(sh.waitFor(60, TimeUnit.SECONDS)).as("tgt stopped on SIGINT; its output:\n" + Files.readString(log)).isTrue();
        assertThat(out.readLine()).isEqualTo("rc=0");
        assertThat(Files.readString(log)).contains("spindle tgt: stopped");
        assertThat(sock).doesNotExist();
    }
}
