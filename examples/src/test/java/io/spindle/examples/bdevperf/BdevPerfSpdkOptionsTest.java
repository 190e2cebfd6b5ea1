package io.spindle.examples.bdevperf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.backends.nullbdev.NullModule;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.rpc.RpcClient;
import io.spindle.rpc.RpcException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.spindle.examples.bdevperf.BdevPerfTest.run;
import static io.spindle.examples.bdevperf.BdevPerfTest.totalIops;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** SPDK bdevperf's options: -z/perform_tests, -j job files, -l/-ll, -D, -U, -F, -P, -E; SPDK's statuses; the common start. */
class BdevPerfSpdkOptionsTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static BdevPerf perf(ByteArrayOutputStream buf, String... args) {
        return new BdevPerf(BdevPerfOptions.parse(args), new PrintStream(buf, true, StandardCharsets.UTF_8));
    }

    @Nested
    @DisplayName("-z and perform_tests")
    class PerformTests {
        @Test
        @Timeout(120)
        @DisplayName("perform_tests runs the jobs and answers SPDK's result; its -q -o -t -M -w override the command line; errors are SPDK's")
        void performTestsDrivesTheRuns() throws Exception {
            Path dir = Files.createTempDirectory(Path.of("/tmp"), "spbpz");
            Path sock = dir.resolve("bdevperf.sock");
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            BdevPerf perf = perf(buf, "-z", "-r", sock.toString(), "-q", "8", "-o", "4096", "-m", "0x3");
            CompletableFuture<Integer> rc = CompletableFuture.supplyAsync(() -> {
                try {
                    return perf.execute();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try {
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(sock));
                try (RpcClient c = RpcClient.connect(sock, Duration.ofSeconds(60))) {
                    // no -w, no -t yet: the RPC must give them (SPDK: -32700 Invalid parameters provided)
                    assertThatThrownBy(() -> c.call("perform_tests", JSON.readTree("{}"))).isInstanceOf(RpcException.class)
                            .satisfies(e -> assertThat(((RpcException) e).code()).isEqualTo(RpcException.PARSE_ERROR))
                            .hasMessageContaining("Invalid parameters provided");
                    // bdevperf.py perform_tests -t 1 -w randread: its params, io_size as a string as bdevperf.py sends it
                    JsonNode r = call(c, "{\"time_in_sec\":1,\"workload_type\":\"randread\"}");
                    assertThat(r.get("core_count").asInt()).isEqualTo(1);
                    JsonNode j = r.get("results").get(0);
                    for (String f : List.of("job", "core_mask", "workload", "status", "queue_depth", "io_size", "runtime", "iops", "mibps",
                            "io_failed", "io_timeout", "avg_latency_us", "min_latency_us", "max_latency_us")) {
                        assertThat(j.has(f)).as(f).isTrue();
                    }
                    assertThat(j.has("latency_percentiles_us")).as("SPDK's fields only").isFalse();
                    assertThat(j.get("job").asText()).isEqualTo("Malloc0");
                    assertThat(j.get("workload").asText()).isEqualTo("randread");
                    assertThat(j.get("status").asText()).isEqualTo("finished");
                    assertThat(j.get("queue_depth").asInt()).isEqualTo(8);
                    assertThat(j.get("iops").asDouble()).isPositive();
                    // bdevperf.py perform_tests -q 4 -o 8k -M 70 -w randrw (-t kept from the last run, as SPDK's globals)
                    JsonNode r2 = call(c, "{\"queue_depth\":4,\"io_size\":\"8k\",\"rw_percentage\":70,\"workload_type\":\"randrw\"}");
                    JsonNode j2 = r2.get("results").get(0);
                    assertThat(j2.get("queue_depth").asInt()).isEqualTo(4);
                    assertThat(j2.get("io_size").asInt()).isEqualTo(8192);
                    assertThat(j2.get("workload").asText()).isEqualTo("randrw");
                    assertThat(j2.get("percentage").asInt()).isEqualTo(70);
                    assertThatThrownBy(() -> c.call("perform_tests", JSON.readTree("{\"workload_type\":\"sideways\"}")))
                            .isInstanceOf(RpcException.class).hasMessageContaining("Invalid parameters provided");
                    // a second request while a test runs: SPDK's -32603 EINPROGRESS
                    try (RpcClient c2 = RpcClient.connect(sock, Duration.ofSeconds(60))) {
                        CompletableFuture<JsonNode> longRun = CompletableFuture.supplyAsync(() -> {
                            try {
                                return c2.call("perform_tests", JSON.readTree("{\"time_in_sec\":4}"));
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        });
                        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
                                .until(() -> buf.toString(StandardCharsets.UTF_8).split("Running I/O for 4 seconds", -1).length > 1);
                        assertThatThrownBy(() -> c.call("perform_tests", null)).isInstanceOf(RpcException.class)
                                .satisfies(e -> assertThat(((RpcException) e).code()).isEqualTo(RpcException.INTERNAL_ERROR))
                                .hasMessageContaining("Operation now in progress");
                        assertThat(longRun.get(60, TimeUnit.SECONDS).get("results").get(0).get("status").asText()).isEqualTo("finished");
                    }
                    c.call("spdk_kill_instance", JSON.readTree("{\"sig_name\":\"SIGINT\"}"));
                }
                assertThat(rc.get(60, TimeUnit.SECONDS)).isZero();
                assertThat(buf.toString(StandardCharsets.UTF_8)).contains("Waiting for the perform_tests RPC");
            } finally {
                perf.drainTask(); // ends the wait for requests if an assertion failed first
                rc.handle((v, e) -> null).get(60, TimeUnit.SECONDS);
                Files.deleteIfExists(sock);
                Files.deleteIfExists(dir);
            }
        }
    }

    @Nested
    @DisplayName("-j job files")
    class JobFiles {
        /** SPDK's test/bdev/bdevperf/conf.json: two Malloc bdevs of 102400 blocks of 512 bytes. */
        Path conf(Path dir) throws Exception {
            Path cfg = dir.resolve("conf.json");
            Files.writeString(cfg, """
                    {"subsystems":[{"subsystem":"bdev","config":[
                      {"method":"bdev_malloc_create","params":{"name":"Malloc0","num_blocks":102400,"block_size":512}},
                      {"method":"bdev_malloc_create","params":{"name":"Malloc1","num_blocks":102400,"block_size":512}}]}]}
                    """);
            return cfg;
        }

        /** SPDK's test/bdev/bdevperf/common.sh create_job: a section with empty filename= and rw= unless given. */
        String job(String section, String rw, String filename) {
            String global = section.equals("global") ? "[global]\nfilename=" + filename + "\n" : "";
            return global + "[" + section + "]\nfilename=" + filename + "\nbs=1024\nrwmixread=70\nrw=" + rw + "\niodepth=256\ncpumask=0xff\n";
        }

        @Test
        @Timeout(120)
        @DisplayName("SPDK's test_config.sh: jobs inherit filename and rw from [global]; without [global]; several filenames give a job each")
        void spdkTestConfig(@TempDir Path dir) throws Exception {
            Path cfg = conf(dir);
            Path jobs = dir.resolve("test.conf");
            Files.writeString(jobs, job("global", "read", "Malloc0") + job("job0", "", "") + job("job1", "", "") + job("job2", "", "")
                    + job("job3", "", ""));
            BdevPerfTest.Run r = run("-t", "1", "--json", cfg.toString(), "-j", jobs.toString());
            assertEquals(0, r.rc(), r.out() + r.err());
            assertThat(r.out()).contains("Using job config with 4 jobs");
            assertThat(count(r.out(), "Job: Malloc0 (Core Mask 0xff, workload: read, depth: 256, IO size: 1024)")).isEqualTo(4);

            Files.writeString(jobs, job("job0", "write", "Malloc0") + job("job1", "write", "Malloc0") + job("job2", "write", "Malloc0"));
            r = run("-t", "1", "--json", cfg.toString(), "-j", jobs.toString());
            assertEquals(0, r.rc(), r.out() + r.err());
            assertThat(r.out()).contains("Using job config with 3 jobs");
            assertThat(count(r.out(), "workload: write, depth: 256")).isEqualTo(3);

            Files.writeString(jobs, job("global", "rw", "Malloc0:Malloc1") + job("job0", "", "") + job("job1", "", "") + job("job2", "", "")
                    + job("job3", "", ""));
            r = run("-t", "1", "-m", "0x3", "--json", cfg.toString(), "-j", jobs.toString());
            assertEquals(0, r.rc(), r.out() + r.err());
            assertThat(r.out()).contains("Using job config with 4 jobs");
            assertThat(count(r.out(), "Job: Malloc0 (Core Mask 0xff, workload: rw, percentage: 70")).isEqualTo(4);
            assertThat(count(r.out(), "Job: Malloc1 (Core Mask 0xff, workload: rw, percentage: 70")).isEqualTo(4);
        }

        @Test
        @Timeout(120)
        @DisplayName("the job file of SPDK's bdevperf doc runs: [global] inherited and re-set, cpumask, bs, offset, length; -q overrides [global] only")
        void spdkDocExample(@TempDir Path dir) throws Exception {
            Path cfg = dir.resolve("null.json");
            // null bdevs big enough for job C's offset=1000000 length=1000000 (blocks) at no memory cost
            Files.writeString(cfg, """
                    {"subsystems":[{"subsystem":"bdev","config":[
                      {"method":"bdev_null_create","params":{"name":"Malloc0","num_blocks":4194304,"block_size":512}},
                      {"method":"bdev_null_create","params":{"name":"Malloc1","num_blocks":4194304,"block_size":512}}]}]}
                    """);
            Path jobs = dir.resolve("doc.conf");
            Files.writeString(jobs, """
                    [global]
                    filename=Malloc0:Malloc1
                    bs=1024
                    rw=randrw
                    rwmixread=90

                    [A]
                    cpumask=0xff

                    [B]
                    cpumask=[0-128]
                    filename=Malloc1

                    [global]
                    filename=Malloc0
                    rw=write

                    [C]
                    bs=4096
                    offset=1000000
                    length=1000000
                    """);
            BdevPerfTest.Run r = run("-t", "1", "-q", "16", "-m", "0x3", "--json", cfg.toString(), "-j", jobs.toString());
            assertEquals(0, r.rc(), r.out() + r.err());
            assertThat(r.out()).contains("Using job config with 3 jobs")
                    .contains("Job: Malloc0 (Core Mask 0xff, workload: randrw, percentage: 90, depth: 16, IO size: 1024)")
                    .contains("Job: Malloc1 (Core Mask 0xff, workload: randrw, percentage: 90, depth: 16, IO size: 1024)")
                    .contains("Job: Malloc0 (Core Mask 0x3, workload: write, depth: 16, IO size: 4096)");
            assertThat(count(r.out(), "Job: Malloc1 (")).as("A on Malloc1, B on Malloc1").isEqualTo(2);
        }

        @Test
        @DisplayName("a job file's errors name the file, the job and the key; -E cannot be combined with -j")
        void errors(@TempDir Path dir) throws Exception {
            Path jobs = dir.resolve("bad.conf");
            BdevPerfOptions cli = BdevPerfOptions.parse("-t", "1", "-j", Files.writeString(jobs, "[j]\n").toString());
            assertThatThrownBy(() -> JobFile.parse("f", List.of("[j]", "filename=M", "bs=512", "iodepth=4"), cli))
                    .hasMessageContaining("job 'j' has no 'rw' assigned");
            assertThatThrownBy(() -> JobFile.parse("f", List.of("[j]", "bs=512", "iodepth=4", "rw=read"), cli))
                    .hasMessageContaining("job 'j' expects a 'filename' parameter");
            assertThatThrownBy(() -> JobFile.parse("f", List.of("[j]", "filename=M", "bs=512", "iodepth=x", "rw=read"), cli))
                    .hasMessageContaining("job 'j' has a bad 'iodepth' value x");
            assertThatThrownBy(() -> JobFile.parse("f", List.of("[j]", "filename=M", "bs=512", "iodepth=4", "rw=read", "rwmixread=101"), cli))
                    .hasMessageContaining("'rwmixread' 101 is not in the 0-100 range");
            assertThatThrownBy(() -> JobFile.parse("f", List.of("[j]", "filename=M", "bs=512", "iodepth=4", "rw=sideways"), cli))
                    .hasMessageContaining("job 'j' has a bad 'rw' value sideways");
            assertThatThrownBy(() -> JobFile.parse("f", List.of("bs=512"), cli)).hasMessageContaining("outside any section");
            BdevPerfTest.Run r = run("-t", "1", "-E", "-j", jobs.toString());
            assertEquals(2, r.rc());
            assertThat(r.err()).startsWith("bdevperf: -E: cannot be combined with -j");
        }

        @Test
        @DisplayName("the command line's -q -o -M -w -T override every [global], not what a job sets itself")
        void cliOverridesGlobalOnly() {
            BdevPerfOptions cli = BdevPerfOptions.parse("-t", "1", "-j", "/dev/null", "-q", "7", "-w", "randread", "-T", "Null9");
            List<JobFile.Section> s = JobFile.parse("f", List.of("[global]", "iodepth=64", "rw=write", "filename=A", "bs=512",
                    "[one]", "[two]", "iodepth=3", "filename=B:C", "rw=read"), cli);
            assertThat(s).hasSize(2);
            assertThat(s.get(0).params().queueDepth()).isEqualTo(7);
            assertThat(s.get(0).params().workload()).isEqualTo(BdevPerfOptions.Workload.RANDREAD);
            assertThat(s.get(0).filenames()).containsExactly("Null9");
            assertThat(s.get(1).params().queueDepth()).isEqualTo(3);
            assertThat(s.get(1).params().workload()).isEqualTo(BdevPerfOptions.Workload.READ);
            assertThat(s.get(1).filenames()).containsExactly("B", "C");
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("-l prints SPDK's latency summary per job, -ll also the histogram (cumulative share up to 100%)")
    void latencySummaryAndHistogram() {
        BdevPerfTest.Run r = run("-q", "8", "-o", "4096", "-w", "randread", "-t", "1", "-l");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains(" Latency summary\n =============================================\n Job: Malloc0 (Core Mask 0x1)")
                .containsPattern("\\n  1\\.00000% : +\\d+\\.\\d{3}us\\n").containsPattern("\\n 50\\.00000% : +\\d+\\.\\d{3}us\\n")
                .containsPattern("\\n 99\\.99999% : +\\d+\\.\\d{3}us\\n").doesNotContain("Latency histogram");
        r = run("-q", "8", "-o", "4096", "-w", "randread", "-t", "1", "-ll");
        assertEquals(0, r.rc(), r.out() + r.err());
        String hist = r.out().substring(r.out().indexOf(" Latency histogram"));
        Matcher m = Pattern.compile(" *(\\d+\\.\\d{3}) - +(\\d+\\.\\d{3}): +(\\d+\\.\\d{4})%  \\( +(\\d+)\\)").matcher(hist);
        double lastPct = 0;
        long n = 0;
        while (m.find()) {
            assertThat(Double.parseDouble(m.group(2))).isGreaterThan(Double.parseDouble(m.group(1)));
            double pct = Double.parseDouble(m.group(3));
            assertThat(pct).isGreaterThanOrEqualTo(lastPct);
            lastPct = pct;
            n += Long.parseLong(m.group(4));
        }
        assertThat(lastPct).isEqualTo(100.0);
        assertThat(n).isPositive();
    }

    @Test
    @DisplayName("-D: a random workload uses every offset once before any repeats, round after round")
    void randomMapNeverRepeatsWithinARound() {
        BdevPerfOptions o = BdevPerfOptions.parse("-w", "randread", "-t", "1", "-D");
        OffsetGenerator g = new OffsetGenerator(new JobParams("j", o.workload(), 1, 4096, 50, 0, 0, null), o, 1000, 4096, 42);
        for (int round = 0; round < 3; round++) {
            Set<Long> seen = new HashSet<>();
            for (int i = 0; i < 1000; i++) {
                long idx = g.nextIndex();
                assertThat(idx).isBetween(0L, 999L);
                assertThat(seen.add(idx)).as("offset " + idx + " repeated in round " + round + " after " + i).isTrue();
            }
        }
        BdevPerfOptions plain = BdevPerfOptions.parse("-w", "randread", "-t", "1");
        OffsetGenerator r = new OffsetGenerator(new JobParams("j", plain.workload(), 1, 4096, 50, 0, 0, null), plain, 1000, 4096, 42);
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            seen.add(r.nextIndex());
        }
        assertThat(seen.size()).as("without -D draws repeat").isLessThan(1000);
    }

    @Test
    @DisplayName("-F theta: zipf offsets, all in range, the first the most frequent in proportion to 1/zeta")
    void zipfSkewsTheOffsets() {
        BdevPerfOptions o = BdevPerfOptions.parse("-w", "randread", "-t", "1", "-F", "1.2");
        OffsetGenerator g = new OffsetGenerator(new JobParams("j", o.workload(), 1, 4096, 50, 0, 0, null), o, 1000, 4096, 7);
        long[] hits = new long[1000];
        int n = 200_000;
        for (int i = 0; i < n; i++) {
            hits[(int) g.nextIndex()]++;
        }
        double expectedFirst = 1.0 / Zipf.zeta(1000, 1.2); // P(0) = 1 / zeta(n)
        assertThat((double) hits[0] / n).isCloseTo(expectedFirst, org.assertj.core.data.Offset.offset(0.02));
        assertThat(hits[0]).isGreaterThan(hits[1]).isGreaterThan(hits[10] * 5);
        assertThatThrownBy(() -> new Zipf(10, 1.0, 1)).hasMessageContaining("theta=1.0");
        BdevPerfTest.Run r = run("-q", "8", "-o", "4096", "-w", "randread", "-t", "1", "-F", "0.99");
        assertEquals(0, r.rc(), r.out() + r.err());
    }

    @Test
    @DisplayName("-U: each write carries SPDK's unique pattern (a write counter above the block/offset word); without -U every write is the same")
    void uniqueWriteData() {
        try (DmaBuffer a = DmaBuffer.allocate(8192, 4096); DmaBuffer b = DmaBuffer.allocate(8192, 4096)) {
            BdevPerfJob.fillPattern(a, 4096, 2, 5, false);
            BdevPerfJob.fillPattern(b, 4096, 2, 6, false);
            assertThat(a.get(0, 8192)).isEqualTo(b.get(0, 8192));
            java.nio.ByteBuffer w = java.nio.ByteBuffer.wrap(a.get(0, 8192)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            assertThat(w.getInt(4096 + 8)).as("block 1, byte 8: 1 + 8").isEqualTo(9);
            BdevPerfJob.fillPattern(a, 4096, 2, 5, true);
            BdevPerfJob.fillPattern(b, 4096, 2, 6, true);
            assertThat(a.get(0, 8192)).isNotEqualTo(b.get(0, 8192));
            assertThat(a.getLong(4096 + 16)).isEqualTo((5L << 32) | (1 + 16));
        }
        BdevPerfTest.Run r = run("-q", "8", "-o", "4096", "-w", "verify", "-t", "1", "-U");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).doesNotContain("mismatch");
        r = run("-q", "8", "-o", "4096", "-w", "randwrite", "-t", "1", "-U");
        assertEquals(0, r.rc(), r.out() + r.err());
    }

    @Test
    @Timeout(60)
    @DisplayName("-S with -P: the periodic table every period, its IOPS an exponential moving average")
    void emaWithPeriodicTable() {
        BdevPerfTest.Run r = run("-q", "8", "-o", "4096", "-w", "randread", "-t", "3", "-S", "1", "-P", "2");
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(count(r.out(), "Device Information")).as("a periodic table, then the final one").isGreaterThanOrEqualTo(2);
    }

    @Test
    @Timeout(60)
    @DisplayName("-E: jobs of a core share its one thread (a reactor is SPDK's reactor and spdk_thread in one): runs as without it")
    void oneThreadPerCore(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("two.json");
        Files.writeString(cfg, """
                {"subsystems":[{"subsystem":"bdev","config":[
                  {"method":"bdev_malloc_create","params":{"name":"Malloc0","num_blocks":8192,"block_size":512}},
                  {"method":"bdev_malloc_create","params":{"name":"Malloc1","num_blocks":8192,"block_size":512}}]}]}
                """);
        BdevPerfTest.Run r = run("-q", "8", "-o", "4096", "-w", "randread", "-t", "1", "-E", "--json", cfg.toString());
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("Job: Malloc0 (Core Mask 0x1").contains("Job: Malloc1 (Core Mask 0x1");
    }

    @Test
    @Timeout(60)
    @DisplayName("every job's runtime counts from the run's one start time (SPDK's g_start_tsc), whichever reactor and API runs it")
    void jobsShareOneStart() throws Exception {
        for (String[] args : List.of(new String[] {"-q", "8", "-w", "randread", "-t", "1", "-m", "0x3", "-C"},
                new String[] {"-q", "8", "-w", "randread", "-t", "1", "-m", "0x3", "--api", "facade"},
                new String[] {"-q", "8", "-w", "randread", "-t", "1", "-m", "0x3", "--api", "actor"})) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            BdevPerf p = perf(buf, args);
            assertEquals(0, p.execute(), buf.toString(StandardCharsets.UTF_8));
            assertThat(p.units()).hasSize(2);
            for (BdevPerfUnit u : p.units()) {
                assertThat(u.startedAtNanos()).as(String.join(" ", args)).isEqualTo(p.commonStartNanos()).isNotZero();
            }
        }
    }

    @Test
    @Timeout(90)
    @DisplayName("verify: a job's latency counts the write and its read-back (SPDK's histogram has both): at least their two delays")
    void verifyLatencyCountsWriteAndReadBack() throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Path json = Files.createTempFile("bdevperf-verify", ".json");
        try {
            BdevPerf p = perf(buf, "-q", "2", "-o", "4096", "-w", "verify", "-t", "1", "--json-out", json.toString());
            // every write takes >= 30 ms and every read >= 20 ms on this bdev
            p.testModule = SlowModule.INSTANCE;
            p.testBdevs = layer -> SlowModule.create(layer, "Slow0", 1024, 4096, TimeUnit.MILLISECONDS.toNanos(30),
                    TimeUnit.MILLISECONDS.toNanos(20));
            assertEquals(0, p.execute(), buf.toString(StandardCharsets.UTF_8));
            JsonNode j = JSON.readTree(json.toFile()).get("results").get(0);
            assertThat(j.get("min_latency_us").asDouble()).as(buf.toString(StandardCharsets.UTF_8)).isGreaterThanOrEqualTo(50_000);
        } finally {
            Files.deleteIfExists(json);
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("--json-out: a failed I/O without -f is SPDK's status failed")
    void failedStatus() throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Path json = Files.createTempFile("bdevperf-failed", ".json");
        try {
            BdevPerf p = perf(buf, "-q", "2", "-o", "4096", "-w", "randread", "-t", "1", "--json-out", json.toString());
            p.testModule = SlowModule.INSTANCE;
            p.testBdevs = layer -> SlowModule.createFailing(layer, "Bad0", 1024, 4096);
            assertEquals(1, p.execute(), buf.toString(StandardCharsets.UTF_8));
            assertThat(JSON.readTree(json.toFile()).get("results").get(0).get("status").asText()).isEqualTo("failed");
        } finally {
            Files.deleteIfExists(json);
        }
    }

    /** perform_tests with {@code params}; an error fails the test with its code, message and detail. */
    static JsonNode call(RpcClient c, String params) throws Exception {
        try {
            return c.call("perform_tests", JSON.readTree(params));
        } catch (RpcException e) {
            throw new AssertionError("perform_tests " + params + ": " + e.code() + " " + e.getMessage() + ": " + e.detail(), e);
        }
    }

    static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    static List<String> lines(String s) {
        return new ArrayList<>(List.of(s.split("\n")));
    }

    /** Unused import guard for NullModule and BdevLayer (kept for readers: SlowModule is modelled on the null module). */
    static final Class<?>[] MODELLED_ON = {NullModule.class, BdevLayer.class};
}
