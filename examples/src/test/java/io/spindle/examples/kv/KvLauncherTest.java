package io.spindle.examples.kv;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The launcher runs every example by name ({@code ./spindle example NAME}) and {@code ./spindle kv}, with a quiet stderr. */
class KvLauncherTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    record Run(int rc, String out, String err) {
    }

    static Run spindle(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ROOT.resolve("spindle").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().put("SPINDLE_SKIP_BUILD", "1");
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("./spindle " + String.join(" ", args) + " finished").isTrue();
        } finally {
            p.destroyForcibly();
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    @Timeout(120)
    @DisplayName("./spindle --help lists the example command and every example; an unknown example exits 2 naming them")
    void helpListsTheExamples(@TempDir Path dir) throws Exception {
        Run help = spindle(dir, "--help");
        assertThat(help.rc()).isZero();
        assertThat(help.out()).contains("example    run an example by name").contains("embedded").contains("kv ").contains("hello");
        // example cluster is ./spindle demo cluster: with an extra argument the demo prints its usage instead of running
        Run cluster = spindle(dir, "example", "cluster", "--no-such-flag");
        assertThat(cluster.rc()).isEqualTo(2);
        assertThat(cluster.err()).contains("usage: spindle demo cluster");
        Run bad = spindle(dir, "example", "nope");
        assertThat(bad.rc()).isEqualTo(2);
        assertThat(bad.err()).contains("unknown example 'nope'").contains("hello, embedded, kv, cluster");
    }

    @Test
    @Timeout(240)
    @DisplayName("./spindle example hello and ./spindle example embedded run clean, with no SLF4J replay warning on stderr")
    void examplesRunWithAQuietStderr(@TempDir Path dir) throws Exception {
        Run hello = spindle(dir, "example", "hello");
        assertThat(hello.rc()).as(hello.err()).isZero();
        assertThat(hello.out()).contains("Read string from bdev: Hello World!");
        assertThat(hello.err()).doesNotContain("SLF4J");
        Run embedded = spindle(dir, "example", "embedded");
        assertThat(embedded.rc()).as(embedded.err()).isZero();
        assertThat(embedded.out()).contains("Spindle stopped, clean=true");
        assertThat(embedded.err()).doesNotContain("SLF4J");
    }

    @Test
    @Timeout(300)
    @DisplayName("./spindle kv put, get, scan, delete on a file survive between processes; bad input exits 2 naming the bound")
    void kvCommandsBetweenProcesses(@TempDir Path dir) throws Exception {
        String file = dir.resolve("data/kv.img").toString();
        Run put = spindle(dir, "kv", "--file", file, "--size", "32", "put", "colour", "blue");
        assertThat(put.rc()).as(put.err()).isZero();
        assertThat(put.err()).doesNotContain("SLF4J");
        Run get = spindle(dir, "example", "kv", "--file", file, "get", "colour");
        assertThat(get.rc()).as(get.err()).isZero();
        assertThat(get.out()).isEqualTo("blue\n");
        Run scan = spindle(dir, "kv", "--file", file, "scan", "col");
        assertThat(scan.out()).isEqualTo("colour=blue\n");
        Run del = spindle(dir, "kv", "--file", file, "delete", "colour");
        assertThat(del.rc()).isZero();
        Run gone = spindle(dir, "kv", "--file", file, "get", "colour");
        assertThat(gone.rc()).isEqualTo(1);
        assertThat(gone.err()).contains("key 'colour' not found");
        Run tooLong = spindle(dir, "kv", "--file", file, "put", "k".repeat(300), "v");
        assertThat(tooLong.rc()).isEqualTo(2);
        assertThat(tooLong.err()).contains("key length 300 > max 255");
        Run usage = spindle(dir, "kv", "--malloc", "frobnicate");
        assertThat(usage.rc()).isEqualTo(2);
        assertThat(usage.err()).contains("unknown command 'frobnicate'");
    }
}
