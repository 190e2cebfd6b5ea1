package io.spindle.examples.kv;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.spindle.examples.kv.KvStoreTest.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kill -9} during a write burst loses no acknowledged write: a child JVM puts as fast as it can and prints
 * each key once its put completed; the test kills it with SIGKILL mid-burst, reopens the file and reads every key
 * the child printed.
 */
class KvKillTest {
    /** The keys of the complete "ACK n" lines (a line cut by the kill is not counted). */
    static List<Long> acks(String text) {
        List<Long> a = new ArrayList<>();
        int end = text.lastIndexOf('\n');
        if (end < 0) {
            return a;
        }
        for (String line : text.substring(0, end).split("\n")) {
            if (line.startsWith("ACK ")) {
                a.add(Long.parseLong(line.substring(4)));
            }
        }
        return a;
    }

    @Test
    @Timeout(300)
    @DisplayName("kill -9 during a write burst: every acknowledged put is there after the restart")
    void killNineLosesNoAcknowledgedWrite(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("kv.img");
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("-D")) {
                cmd.add(a);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(KvKillChild.class.getName());
        cmd.add(file.toString());
        cmd.add("32");
        Path out = dir.resolve("child.out");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(dir.resolve("child.err").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            while (acks(Files.readString(out)).size() < 3000) {
                assertThat(p.isAlive()).as("the child runs; its stderr: " + Files.readString(dir.resolve("child.err"))).isTrue();
                assertThat(System.nanoTime() < deadline).as("3000 puts acknowledged within 180 s").isTrue();
                Thread.sleep(20); // paces a poll of the child's output; the count decides, not the time
            }
            p.destroyForcibly(); // SIGKILL, mid-burst: 32 puts in flight
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        } finally {
            p.destroyForcibly();
        }
        List<Long> acked = acks(Files.readString(out));
        assertThat(acked).as("the child acknowledged puts before it was killed; its stderr is in " + dir).hasSizeGreaterThanOrEqualTo(3000);
        assertThat(p.exitValue()).as("killed by SIGKILL").isEqualTo(137);
        try (KvStore kv = KvStore.open(KvOptions.defaults().withFile(file).withMask("0x3"))) {
            for (long n : acked) {
                assertThat(await(kv.get("burst-" + n))).as("acknowledged burst-%d", n).isEqualTo(KvKillChild.value(n));
            }
            // the child's last puts were in flight; the log was replayed, not read from a last checkpoint
            assertThat(kv.recoveryReports().stream().mapToInt(KvRecovery.Report::replayed).sum()).isGreaterThan(0);
        }
    }
}
