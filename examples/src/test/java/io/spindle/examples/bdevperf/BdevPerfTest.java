package io.spindle.examples.bdevperf;

import io.spindle.bdev.BdevLayer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** bdevperf: command line, every workload on a real Malloc0, placement, REMOVE and SIGINT drains. */
class BdevPerfTest {

    /** Output and exit status of one in-process run. */
    record Run(int rc, String out, String err) {
    }

    static Run run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = BdevPerf.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Run(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "-q 0 -o 4096 -w read -t 1            | -q 0: out of range; queue depth must be 1..65536",
        "-q x -o 4096 -w read -t 1            | -q x: not a number",
        "-q 8 -o 4x -w read -t 1              | -o 4x: not a size",
        "-q 8 -o 32m -w read -t 1             | -o 32m: out of range; the I/O size must be 1..16777216",
        "-q 8 -o 4096 -w sideways -t 1        | -w sideways: unknown workload; allowed: read, write, randread",
        "-q 8 -o 4096 -w read -t 0            | -t 0: out of range",
        "-q 8 -o 4096 -w read -t 1 -M 30      | -M 30: only valid with -w rw or -w randrw",
        "-q 8 -o 4096 -w randrw -t 1 -M 101   | -M 101: out of range; read percentage must be 0..100",
        "-q 8 -o 4096 -t 1                    | -w: missing",
        "-q 8 -o 4096 -w read                 | -t: missing",
        "-q 8 -o 4096 -w read -t 1 -m 0x0     | -m 0x0:",
        "-q 8 -o 4096 -w read -t 1 -m 0x100   | -m 0x100:",
        "-q 8 -o 4096 -w read -t 1 --bogus    | --bogus: unknown option",
        "-q 8 -o 4096 -w read -t 1 -X         | -X: needs an I/O timeout",
        "-q 8 -o 4096 -w read -t 1 --idle hot | --idle hot: allowed: backoff, busy, park, yield",
        "-q 8 -o 4096 -w read -t 1 --api rest | --api rest: allowed: direct, actor, facade",
        "-q 8 -o 4096 -w read -t 1 --api actor --actor-on gpu | --actor-on gpu: allowed: reactor, pekko",
        "-q 8 -o 4096 -w read -t 1 --api actor --actor-batch -1 | --actor-batch -1: out of range; entries per Submit (0 = single messages) must be 0..4096",
        "-q 8 -o 4096 -w read -t 1 --api actor --actor-batch 4097 | --actor-batch 4097: out of range",
        "-q 8 -o 4096 -w read -t 1 --actor-batch 8 | --actor-batch: only valid with --api actor",
        "-q 8 -o 4096 -w read -t 1 --api facade --actor-on pekko | --actor-on: only valid with --api actor",
        "-q 8 -o 4096 -w read -t 1 -C --api actor --actor-on pekko | -C: with --api actor needs --actor-on reactor",
        "-q 8 -o 4096 -w verify -t 1 --api actor | --api actor: supports -w read, write, randread, randwrite, rw, randrw; not verify",
        "-q 8 -o 4096 -w read -t 1 -q         | -q: missing value",
        "-q 8 -o 4096 -w read -t 1 --plot /tmp/lat.txt | --plot /tmp/lat.txt: the plot is a PNG file",
        "-q 8 -o 4096 -w read -t 1 --json-out /no/such/dir/r.json | --json-out /no/such/dir/r.json: directory /no/such/dir does not exist",
        "-q 8 -o 4096 -w read -t 1 --max-alloc-per-io -1 | --max-alloc-per-io -1: bytes per I/O, a number >= 0",
        "-q 8 -o 4096 -w read -t 1 --max-alloc-per-io lots | --max-alloc-per-io lots: bytes per I/O, a number >= 0",
        "-q 8 -o 4096 -w randread -t 1 -P 3   | -P 3: only valid with -S <sec>",
        "-q 8 -o 4096 -w read -t 1 -D         | -D: only valid with -w randread, randwrite or randrw, not -w read",
        "-q 8 -o 4096 -w randread -t 1 -F -1  | -F -1: illegal zipf theta",
        "-q 8 -o 4096 -w randread -t 1 -F x   | -F x: illegal zipf theta",
        "-q 8 -o 4096 -w randread -t 1 -F 1   | -F 1: illegal zipf theta; a number >= 0 and != 1",
        "-q 8 -o 4096 -w read -t 1 -j /no/such.conf | -j /no/such.conf: no such readable job file",
        "-q 8 -o 4096 -w read -t 1 --facade callback | --facade: only valid with --api facade",
        "-q 8 -o 4096 -w read -t 1 --api facade --facade later | --facade later: allowed: stage, callback",
    })
    @DisplayName("a bad flag or value gets one line naming the flag and what is allowed, exit 2")
    void badCommandLines(String args, String expected) {
        Run r = run(args.trim().split("\\s+"));
        assertEquals(2, r.rc(), r.err());
        assertThat(r.err()).startsWith("bdevperf: " + expected.trim());
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.out()).isEmpty();
    }

    @Test
    void queueDepthAndIoSizeDefaultTo128And4096() {
        BdevPerfOptions o = BdevPerfOptions.parse("-w", "verify", "-t", "2", "-m", "0x3");
        assertEquals(128, o.queueDepth());
        assertEquals(4096, o.ioSize());
    }

    @Test
    void sizesTakeSuffixes() {
        assertEquals(4096, BdevPerfOptions.size("-o", "4k"));
        assertEquals(131072, BdevPerfOptions.size("-o", "128K"));
        assertEquals(1 << 20, BdevPerfOptions.size("-o", "1m"));
        assertEquals(512, BdevPerfOptions.size("-o", "512"));
        assertThrows(BdevPerfOptions.UsageException.class, () -> BdevPerfOptions.size("-o", "-4k"));
    }

    @Test
    void helpPrintsUsage() {
        Run r = run("--help");
        assertEquals(0, r.rc());
        assertThat(r.out()).contains("-q <depth>").contains("-w <type>").contains("--idle");
    }

    @ParameterizedTest(name = "-w {0}")
    @CsvSource({"read", "write", "randread", "randwrite", "rw", "randrw", "verify", "reset", "unmap", "flush", "write_zeroes"})
    @Timeout(60)
    @DisplayName("every workload runs on the embedded Malloc0 and prints SPDK's table")
    void everyWorkload(String w) {
        Run r = run("-q", "16", "-o", "4096", "-w", w, "-t", "1");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("Running I/O for 1 seconds...")
                .contains("Job: Malloc0 (Core Mask 0x1, workload: " + w)
                .contains("Device Information          : runtime(s)       IOPS      MiB/s     Fail/s     TO/s    Average        min        max")
                .contains("Total").doesNotContain("mismatch").doesNotContain("fails");
        assertThat(totalIops(r.out())).isGreaterThan(0);
        if (w.equals("verify") || w.equals("reset")) {
            assertThat(r.out()).contains("Verification LBA range: start 0x0 length 0x10000");
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("--api actor: requester actors on the reactors send batches to their own reactor's shard; one row each, lent buffers all released")
    void actorApi() {
        Run r = run("-q", "16", "-o", "4096", "-w", "randrw", "-t", "1", "-m", "0x3", "--api", "actor");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("Submit batches of up to 64")
                .contains("Job: Malloc0 (actor API on reactor_0 -> its shard, workload: randrw, depth: 8, batch <= 64, IO size: 4096)")
                .contains("Job: Malloc0 (actor API on reactor_1 -> its shard, workload: randrw, depth: 8, batch <= 64, IO size: 4096)")
                .contains("Allocated on reactor threads:");
        assertThat(totalIops(r.out())).isGreaterThan(0);
    }

    @Test
    @Timeout(60)
    @DisplayName("--api actor -C: as the direct jobs of -C, every reactor's requester keeps -q outstanding on its half of the LBA range")
    void actorApiEveryCore() {
        // Malloc0: 65536 blocks of 4096; -o 8192 makes the share's block numbers differ from its I/O numbers
        Run r = run("-q", "8", "-o", "8192", "-w", "randread", "-t", "1", "-m", "0x3", "-C", "--api", "actor");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out())
                .contains("Job: Malloc0 (actor API on reactor_0 -> its shard, workload: randread, depth: 8, batch <= 64, IO size: 8192, "
                        + "LBA range 0 + 32768 blocks)")
                .contains("Job: Malloc0 (actor API on reactor_1 -> its shard, workload: randread, depth: 8, batch <= 64, IO size: 8192, "
                        + "LBA range 32768 + 32768 blocks)");
        assertThat(totalIops(r.out())).isGreaterThan(0);
    }

    @Test
    @Timeout(60)
    @DisplayName("--api actor --actor-on pekko: one requester on Pekko's default dispatcher talks to every shard")
    void actorApiOnPekko() {
        Run r = run("-q", "16", "-o", "4096", "-w", "randread", "-t", "1", "-m", "0x3", "--api", "actor", "--actor-on", "pekko",
                "--actor-batch", "4");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("Job: Malloc0 (actor API on Pekko's default dispatcher -> 2 shards, workload: randread, depth: 16, "
                + "batch <= 4, IO size: 4096)");
        assertThat(totalIops(r.out())).isGreaterThan(0);
    }

    @Test
    @Timeout(60)
    @DisplayName("--api actor --actor-batch 0: one Read/Write message per I/O, the plain protocol")
    void actorApiSingleMessages() {
        Run r = run("-q", "8", "-o", "4096", "-w", "randrw", "-t", "1", "-m", "0x3", "--api", "actor", "--actor-batch", "0");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("one message per I/O").contains("single messages");
        assertThat(totalIops(r.out())).isGreaterThan(0);
    }

    @Test
    @Timeout(60)
    @DisplayName("--api facade: a part per reactor keeps its share of -q through BdevFacade's stages; progress line and steady-state allocation")
    void facadeApi() {
        Run r = run("-q", "16", "-o", "4096", "-w", "randrw", "-t", "3", "-m", "0x3", "--api", "facade");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("Job: Malloc0 (facade API on reactor_0, CompletionStages, Core Mask 0x1, workload: randrw, percentage: 50, depth: 8")
                .contains("Job: Malloc0 (facade API on reactor_1, CompletionStages, Core Mask 0x2")
                .containsPattern("\\d+\\.\\d+ IOPS, +\\d+\\.\\d+ MiB/s")
                .containsPattern("Allocated on reactor threads in the steady state: \\d+\\.\\d+ bytes per I/O");
        assertThat(totalIops(r.out())).isGreaterThan(0);
    }

    @Test
    @Timeout(60)
    @DisplayName("--api facade --facade callback: the zero-allocation methods; --max-alloc-per-io holds them to their steady-state figure")
    void facadeCallbacks() {
        Run r = run("-q", "16", "-o", "4096", "-w", "randread", "-t", "4", "-m", "0x3", "--api", "facade", "--facade", "callback",
                "--max-alloc-per-io", "1");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("(facade API on reactor_0, callbacks").contains("Allocated on reactor threads in the steady state:");
        assertThat(totalIops(r.out())).isGreaterThan(0);
    }

    @Test
    @Timeout(60)
    @DisplayName("--api actor prints the progress line and the steady-state allocation, as the direct API does")
    void actorApiProgressAndSteadyState() {
        Run r = run("-q", "16", "-o", "4096", "-w", "randread", "-t", "3", "-m", "0x3", "--api", "actor");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).containsPattern("\\d+\\.\\d+ IOPS, +\\d+\\.\\d+ MiB/s")
                .containsPattern("Allocated on reactor threads in the steady state: \\d+\\.\\d+ bytes per I/O");
        steadyIopsAgreeWithTheirWindow(r.out(), 3);
    }

    @Test
    @Timeout(60)
    @DisplayName("the steady-state IOPS line: the I/O of the window over its length, a window inside the run")
    void steadyStateIops() {
        Run r = run("-q", "32", "-o", "4096", "-w", "randread", "-t", "3", "-m", "0x3", "-C");
        assertEquals(0, r.rc(), r.out() + r.err());
        steadyIopsAgreeWithTheirWindow(r.out(), 3);
    }

    /** The steady-state IOPS line is its I/O count over its window, and the window lies after the warm-up, within the run. */
    private static void steadyIopsAgreeWithTheirWindow(String out, int seconds) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                "IOPS in the steady state: (\\d+\\.\\d+) \\((\\d+) I/O on the reactors' jobs in the last (\\d+\\.\\d+) s\\)").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        double iops = Double.parseDouble(m.group(1));
        long ios = Long.parseLong(m.group(2));
        double window = Double.parseDouble(m.group(3));
        assertThat(ios).isPositive();
        assertThat(window).isGreaterThan(0).isLessThanOrEqualTo(seconds - BdevPerf.warmupNanos(seconds) / 1e9 + 0.5);
        assertThat(iops).isCloseTo(ios / window, org.assertj.core.data.Percentage.withPercentage(1));
    }

    @Test
    @Timeout(60)
    @DisplayName("--api actor: REMOVE of the bdev stops its shards; the requesters end early with status terminated, the run ends")
    void actorApiRemoveEndsTheJob() throws Exception {
        BdevPerfOptions o = BdevPerfOptions.parse("-q", "64", "-o", "4096", "-w", "randread", "-t", "30", "-m", "0x3", "--api", "actor");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BdevPerf perf = new BdevPerf(o, new PrintStream(buf, true, StandardCharsets.UTF_8));
        perf.duringRun = spindle -> {
            try {
                awaitReads(spindle, 1_000); // the jobs run I/O, then the bdev goes under them
                BdevLayer.of(spindle).unregister("Malloc0").toCompletableFuture().get(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        long t0 = System.nanoTime();
        int rc = perf.execute();
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        assertThat(out).contains("Job Malloc0 (requester 0): ended early, its shards stopped (the bdev was removed)")
                .contains("Job Malloc0 (requester 1): ended early");
        assertThat(totalIops(out)).isGreaterThan(0);
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0)).isLessThan(25); // did not run the full -t 30
    }

    @Test
    @Timeout(60)
    @DisplayName("-C: every reactor runs a job on the bdev, the LBA range split between them; verify passes")
    void everyCoreSplitsTheRange() {
        Run r = run("-q", "32", "-o", "4k", "-w", "verify", "-t", "1", "-m", "0x3", "-C");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("Core Mask 0x1").contains("Core Mask 0x2")
                .contains("Verification LBA range: start 0x0 length 0x8000")
                .contains("Verification LBA range: start 0x8000 length 0x8000");
    }

    @Test
    @Timeout(60)
    @DisplayName("-T names a bdev that does not exist: one line naming -T and the bdevs there are")
    void unknownTarget() {
        Run r = run("-q", "8", "-o", "4k", "-w", "read", "-t", "1", "-T", "Nope0");
        assertEquals(2, r.rc());
        assertThat(r.err()).startsWith("bdevperf: -T Nope0: no such bdev (have: Malloc0)");
    }

    @Test
    @Timeout(60)
    @DisplayName("an I/O size that is not a multiple of a target's block size is refused on one line before any job starts, exit 2")
    void ioSizeNotAMultipleOfTheBlockSize() {
        Run r = run("-q", "8", "-o", "1000", "-w", "read", "-t", "1");
        assertEquals(2, r.rc(), r.out() + r.err());
        assertThat(r.err().strip()).as("one line").isEqualTo("bdevperf: -o 1000: the I/O size must be a multiple of Malloc0's block size 4096");
        assertThat(r.out()).as("refused before any job starts").doesNotContain("Running I/O").doesNotContain("Total");
    }

    @Test
    @Timeout(60)
    @DisplayName("-o larger than a job's range is refused on one line before any job starts")
    void ioSizeLargerThanTheRange() throws Exception {
        java.nio.file.Path cfg = java.nio.file.Files.createTempFile("bdevperf-tiny", ".json");
        try {
            java.nio.file.Files.writeString(cfg, "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":"
                    + "\"bdev_malloc_create\",\"params\":{\"name\":\"Tiny\",\"block_size\":512,\"num_blocks\":8}}]}]}");
            Run r = run("-q", "8", "-o", "8192", "-w", "read", "-t", "1", "--json", cfg.toString());
            assertEquals(2, r.rc(), r.out() + r.err());
            assertThat(r.err().strip()).isEqualTo("bdevperf: -o 8192: larger than the job's range of 4096 bytes on Tiny");
            assertThat(r.out()).doesNotContain("Running I/O");
        } finally {
            java.nio.file.Files.deleteIfExists(cfg);
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("REMOVE of a job's bdev drains that job: status terminated, every I/O completed, run ends")
    void removeDrainsTheJob() throws Exception {
        BdevPerfOptions o = BdevPerfOptions.parse("-q", "64", "-o", "4096", "-w", "randread", "-t", "30");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BdevPerf perf = new BdevPerf(o, new PrintStream(buf, true, StandardCharsets.UTF_8));
        perf.duringRun = spindle -> {
            try {
                awaitReads(spindle, 1_000); // the jobs run I/O, then the bdev goes under them
                BdevLayer.of(spindle).unregister("Malloc0").toCompletableFuture().get(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        long t0 = System.nanoTime();
        int rc = perf.execute();
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        // SPDK: a removed bdev ends its job, status finished (terminated is for a shutdown); no I/O failed here
        assertThat(out).contains("bdev Malloc0 removed; draining").doesNotContain("terminated");
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0)).isLessThan(25); // did not run the full -t 30
    }

    @Test
    @Timeout(90)
    @DisplayName("SIGINT drains the jobs, prints the table with status terminated, and the process exits")
    void sigintDrains() throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("-D")) {
                cmd.add(a);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(BdevPerf.class.getName());
        cmd.addAll(List.of("-q", "32", "-o", "4096", "-w", "verify", "-t", "60"));
        Path log = Files.createTempFile("bdevperf-sigint", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
            while (!Files.readString(log).contains("IOPS,") && System.nanoTime() < deadline) {
                Thread.sleep(50); // paces a poll of the child process's output; the condition decides, not the time
            }
            assertThat(Files.readString(log)).contains("Running I/O for 60 seconds...");
            new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
            assertThat(p.waitFor(40, TimeUnit.SECONDS)).as("exited after SIGINT").isTrue();
            String out = Files.readString(log);
            assertThat(p.exitValue()).as("a clean drain exits with the run's status, as SPDK's: " + out).isZero();
            assertThat(out).contains("Total").contains("Job Malloc0 on core mask 0x1: terminated").doesNotContain("mismatch");
            assertThat(totalIops(out)).isGreaterThan(0);
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(log);
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("--json: SPDK's config format creates the targets; verify on a null bdev says it skips the compare")
    void jsonConfig(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("bdevs.json");
        Files.writeString(cfg, """
                {"subsystems":[{"subsystem":"accel","config":[]},{"subsystem":"bdev","config":[
                  {"method":"bdev_set_options","params":{"bdev_io_pool_size":65535}},
                  {"method":"bdev_malloc_create","params":{"name":"MallocA","block_size":512,"num_blocks":8192}},
                  {"method":"bdev_null_create","params":{"name":"Null0","block_size":4096,"num_blocks":1024}},
                  {"method":"bdev_wait_for_examine"}]}]}
                """);
        Run r = run("-q", "8", "-o", "4096", "-w", "verify", "-t", "1", "-m", "0x3", "--json", cfg.toString());
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("Job: MallocA (Core Mask 0x1").contains("Job: Null0 (Core Mask 0x2")
                .contains("Null0 (null) does not store data; verify writes and reads back but skips the compare");
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"M\",\"block_size\":1000,\"num_blocks\":8}}]}]}"
            + " | config[0] method bdev_malloc_create: Invalid argument: block_size=1000: must be a power of two >= 512 (code -22)",
        "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":\"bdev_null_create\",\"params\":{\"block_size\":512,\"num_blocks\":8}}]}]}"
            + " | config[0] method bdev_null_create: Invalid parameters: name is required",
        "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":\"bdev_ocf_create\",\"params\":{}}]}]}"
            + " | config[0] method bdev_ocf_create: method not found",
        "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":\"bdev_nvme_attach_controller\",\"params\":{}}]}]}"
            + " | config[0] method bdev_nvme_attach_controller: Invalid parameters: name is required",
        "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"M\",\"block_size\":512}}]}]}"
            + " | config[0] method bdev_malloc_create: Invalid parameters: num_blocks is required",
        "{\"subsystems\": [ | not valid JSON at line 1",
    })
    @DisplayName("--json errors name the file, the entry's index, the method and the field; exit 2")
    void badJsonConfig(String json, String expected, @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("bad.json");
        Files.writeString(cfg, json);
        Run r = run("-q", "8", "-o", "4096", "-w", "read", "-t", "1", "--json", cfg.toString());
        assertEquals(2, r.rc(), r.out() + r.err());
        assertThat(r.err()).startsWith("bdevperf: --json " + cfg).contains(expected.trim());
    }

    @Test
    @Timeout(60)
    @DisplayName("--json: an entry that fails to apply removes the bdevs created before it (nothing half-applied)")
    void jsonConfigAllOrNothing(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("dup.json");
        Files.writeString(cfg, """
                {"subsystems":[{"subsystem":"bdev","config":[
                  {"method":"bdev_malloc_create","params":{"name":"Dup0","block_size":512,"num_blocks":64}},
                  {"method":"bdev_null_create","params":{"name":"Dup0","block_size":512,"num_blocks":64}}]}]}
                """);
        Run r = run("-q", "8", "-o", "4096", "-w", "read", "-t", "1", "--json", cfg.toString());
        assertEquals(2, r.rc(), r.out() + r.err());
        assertThat(r.err()).contains("config[1] method bdev_null_create").contains("Dup0")
                .contains("(the 1 bdev(s) created before it were removed)");
    }

    @Test
    @Timeout(60)
    @DisplayName("verify: data changed behind the job's back is a miscompare that names the job and offset and fails the run")
    void verifyDetectsMiscompare() throws Exception {
        BdevPerfOptions o = BdevPerfOptions.parse("-q", "4", "-o", "4096", "-w", "verify", "-t", "10");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BdevPerf perf = new BdevPerf(o, new PrintStream(buf, true, StandardCharsets.UTF_8));
        perf.duringRun = spindle -> Scribbler.start(BdevLayer.of(spindle), spindle.reactors().reactor(0));
        int rc = perf.execute();
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(1, rc, out);
        assertThat(out).containsPattern("Buffer mismatch! Target: Malloc0 Disk Offset: \\d+")
                .contains("Job Malloc0 failed: data miscompare");
    }

    /**
     * A second writer on the job's reactor: one write of zeroes over blocks 0..15 of Malloc0, resubmitted from
     * its own completion, until the bdev's REMOVE at the end of the run.
     *
     * <p>Why this always corrupts a verify pass over those blocks: each I/O takes one reactor loop (malloc copies
     * in submit, the layer defers completions to the next loop, completions run in submit order), so the
     * scribbler's zeroing copy runs once per loop at a fixed place among the job's tasks. A task's pattern write
     * to block k copies in loop L and its read-back copies in loop L+1 at the same place; the scribbler's copy
     * falls after the first (in L) or before the second (in L+1), never outside both.
     */
    static final class Scribbler implements io.spindle.bdev.IoCallback {
        private static final int BLOCKS = 16;
        private final io.spindle.bdev.BdevDescriptor desc;
        private final io.spindle.runtime.IoChannel<io.spindle.bdev.BdevChannel> ch;
        private final io.spindle.bdev.DmaBuffer zeroes = io.spindle.bdev.DmaBuffer.allocate(BLOCKS * 4096, 4096)
                .fill(0, BLOCKS * 4096, (byte) 0);
        private boolean removed;

        private Scribbler(BdevLayer layer) {
            desc = layer.open("Malloc0", true, (event, b, d) -> removed = true);
            ch = desc.getIoChannel();
        }

        static void start(BdevLayer layer, io.spindle.runtime.Reactor reactor) {
            reactor.send(() -> new Scribbler(layer).next());
        }

        private void next() {
            if (removed || desc.writeBlocks(ch, zeroes, 0, 0, BLOCKS, this, null) != 0) {
                ch.put();
                desc.close();
                zeroes.close();
            }
        }

        @Override
        public void onComplete(io.spindle.bdev.BdevIo io, io.spindle.bdev.io.IoStatus status, Object arg) {
            next();
        }
    }

    /** The IOPS column of the Total row. */
    static double totalIops(String out) {
        for (String line : out.split("\n")) {
            if (line.startsWith(" Total")) {
                String[] f = line.substring(line.indexOf(':') + 1).trim().split("\\s+");
                return Double.parseDouble(f[0]);
            }
        }
        throw new AssertionError("no Total row in:\n" + out);
    }

    @Test
    @Timeout(60)
    @DisplayName("--json-out writes SPDK's perform_tests result shape plus percentiles; --plot draws a PNG; the table gets p50/p99/p99.9")
    void resultFiles(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path json = dir.resolve("r.json");
        Path png = dir.resolve("lat.png");
        Run r = run("-q", "16", "-o", "4096", "-w", "verify", "-t", "1", "-m", "0x3", "-C", "--json-out", json.toString(), "--plot", png.toString());
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("Latency percentiles (us)").containsPattern("\\t Malloc0 +: +\\d+\\.\\d+ +\\d+\\.\\d+ +\\d+\\.\\d+");
        com.fasterxml.jackson.databind.JsonNode res = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.toFile());
        assertThat(res.get("core_count").asInt()).isEqualTo(2);
        assertThat(res.get("results")).hasSize(2);
        com.fasterxml.jackson.databind.JsonNode j = res.get("results").get(1);
        for (String f : List.of("job", "core_mask", "workload", "status", "verify_range", "queue_depth", "io_size", "runtime", "iops",
                "mibps", "io_failed", "io_timeout", "avg_latency_us", "min_latency_us", "max_latency_us", "latency_percentiles_us")) {
            assertThat(j.has(f)).as(f).isTrue();
        }
        assertThat(j.get("core_mask").asText()).isEqualTo("0x2");
        assertThat(j.get("status").asText()).isEqualTo("finished");
        assertThat(j.get("verify_range").get("start").asLong()).isEqualTo(0x8000);
        assertThat(j.get("iops").asDouble()).isPositive();
        assertThat(j.get("latency_percentiles_us").get("p99").asDouble())
                .isGreaterThanOrEqualTo(j.get("latency_percentiles_us").get("p50").asDouble());
        java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(png.toFile());
        assertThat(img).as("a readable PNG").isNotNull();
        assertThat(img.getWidth()).isEqualTo(1000);
    }

    @Test
    @Timeout(90)
    @DisplayName("-r: the RPC server runs during the jobs; bdevs are created and deleted meanwhile, and deleting a job's bdev drains that job")
    void rpcDuringRun(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path sockDir = Files.createTempDirectory(Path.of("/tmp"), "spbp");
        Path sock = sockDir.resolve("bp.sock");
        Path cfg = dir.resolve("two.json");
        Files.writeString(cfg, """
                {"subsystems":[{"subsystem":"bdev","config":[
                  {"method":"bdev_malloc_create","params":{"name":"Malloc0","block_size":4096,"num_blocks":8192}},
                  {"method":"bdev_null_create","params":{"name":"Null0","block_size":4096,"num_blocks":8192}}]}]}
                """);
        BdevPerfOptions o = BdevPerfOptions.parse("-q", "16", "-o", "4096", "-w", "randread", "-t", "20", "-m", "0x3", "--json", cfg.toString(),
                "-r", sock.toString());
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BdevPerf perf = new BdevPerf(o, new PrintStream(buf, true, StandardCharsets.UTF_8));
        java.util.concurrent.CompletableFuture<String> rpcLog = new java.util.concurrent.CompletableFuture<>();
        perf.duringRun = spindle -> {
            try (io.spindle.rpc.RpcClient c = io.spindle.rpc.RpcClient.connect(sock, java.time.Duration.ofSeconds(20))) {
                StringBuilder log = new StringBuilder();
                for (int i = 0; i < 5; i++) {
                    log.append(c.call("bdev_malloc_create", new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                            "{\"name\":\"Extra" + i + "\",\"block_size\":512,\"num_blocks\":128}")).asText()).append(' ');
                    c.call("bdev_malloc_delete", new com.fasterxml.jackson.databind.ObjectMapper().readTree("{\"name\":\"Extra" + i + "\"}"));
                }
                log.append(c.call("bdev_get_iostat", null).get("bdevs").get(0).get("num_read_ops").asLong() > 0 ? "io-counted " : "no-io ");
                // the null job's bdev goes away under it: that job drains, the malloc job runs on
                c.call("bdev_null_delete", new com.fasterxml.jackson.databind.ObjectMapper().readTree("{\"name\":\"Null0\"}"));
                // the null job has seen the REMOVE (it says so) before the run is ended
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
                        .until(() -> buf.toString(StandardCharsets.UTF_8).contains("bdev Null0 removed; draining"));
                c.call("spdk_kill_instance", new com.fasterxml.jackson.databind.ObjectMapper().readTree("{\"sig_name\":\"SIGINT\"}"));
                rpcLog.complete(log.toString());
            } catch (Exception e) {
                rpcLog.completeExceptionally(e);
            }
        };
        try {
            perf.execute();
            assertThat(rpcLog.get(30, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("Extra0 Extra1 Extra2 Extra3 Extra4 io-counted ");
            String out = buf.toString(StandardCharsets.UTF_8);
            assertThat(out).contains("RPC server listening on " + sock).contains("bdev Null0 removed; draining");
            assertThat(sock).doesNotExist();
        } finally {
            Files.deleteIfExists(sock);
            Files.deleteIfExists(sockDir);
        }
    }

    @Test
    @DisplayName("the CoordinatedShutdown drain task ends the run and returns at once; its stage completes when the main thread has reported")
    void coordinatedShutdownDrainTaskHoldsNoThread() {
        BdevPerf perf = new BdevPerf(BdevPerfOptions.parse("-w", "randread", "-t", "30"), new PrintStream(new ByteArrayOutputStream(), true,
                StandardCharsets.UTF_8));
        java.util.concurrent.CompletableFuture<org.apache.pekko.Done> drained = perf.drainTask().toCompletableFuture();
        assertThat(drained).as("returned before the report: no CoordinatedShutdown thread waits for it").isNotDone();
        perf.exitCode.complete(0); // the main thread has drained the jobs and printed the table
        assertThat(drained).isCompleted();
        assertThat(perf.drainTask().toCompletableFuture()).as("the run had ended: nothing to wait for").isCompleted();
    }

    @Test
    @Timeout(60)
    @DisplayName("--max-alloc-per-io: allocation on a reactor in the steady-state window fails the run (exit 1) with a line naming the bound")
    void maxAllocPerIoFailsARunThatAllocatesOnAReactor() throws Exception {
        BdevPerfOptions o = BdevPerfOptions.parse("-q", "16", "-o", "4096", "-w", "randread", "-t", "2", "-m", "0x3", "-C",
                "--max-alloc-per-io", "0");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BdevPerf perf = new BdevPerf(o, new PrintStream(buf, true, StandardCharsets.UTF_8));
        // a poller on reactor_0 allocates 64 bytes every loop until the steady-state window has closed, so the window,
        // however short, holds allocation; then it leaves (the jobs drain and Spindle stops clean)
        perf.duringRun = spindle -> {
            io.spindle.runtime.Reactor r = spindle.reactors().reactor(0);
            r.send(() -> {
                io.spindle.runtime.Poller[] self = new io.spindle.runtime.Poller[1];
                self[0] = r.registerPoller("allocates", () -> {
                    sink = new byte[64];
                    if (perf.steadyWindowClosed()) {
                        self[0].unregister();
                    }
                    return 1;
                });
            });
        };
        int rc = perf.execute();
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(1, rc, out);
        assertThat(out).contains("Allocated on reactor threads in the steady state: ")
                .contains("bdevperf: --max-alloc-per-io 0.0: the reactor threads allocated ").contains("above the bound");
    }

    static volatile byte[] sink;

    /** Waits until {@code n} reads of Malloc0 completed (the bdev's stats, each channel read on its reactor). */
    static void awaitReads(io.spindle.app.Spindle spindle, long n) {
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() ->
                BdevLayer.of(spindle).stats("Malloc0").toCompletableFuture().get(10, TimeUnit.SECONDS).numReadOps() >= n);
    }
}
