package io.spindle.examples.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The client's command line is rpc.py's: what each sub-command sends ({@code --dry-run}, no server needed),
 * usage errors, and Python's JSON layout.
 */
class SpindleRpcTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Out(int rc, String out, String err) {
    }

    static Out run(String... args) {
        return runWithStdin("", false, args);
    }

    /** Runs the client with {@code stdin} as standard input ({@code tty}: whether it is a terminal). */
    static Out runWithStdin(String stdin, boolean tty, String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = SpindleRpc.run(args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)), tty,
                new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Out(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    static JsonNode dryParams(String... args) throws Exception {
        String[] a = new String[args.length + 1];
        a[0] = "--dry-run";
        System.arraycopy(args, 0, a, 1, args.length);
        Out r = run(a);
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("Request:\n");
        return JSON.readTree(r.out().substring("Request:\n".length())).get("params");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "bdev_malloc_create -b M1 64 512           | {\"num_blocks\":131072,\"block_size\":512,\"name\":\"M1\",\"md_interleave\":false,\"dif_is_head_of_md\":false}",
        "bdev_malloc_create 0.5 4096 -u 0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f -o 8 | {\"num_blocks\":128,\"block_size\":4096,\"uuid\":\"0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f\",\"optimal_io_boundary\":8,\"md_interleave\":false,\"dif_is_head_of_md\":false}",
        "bdev_null_create Null1 16 4096            | {\"num_blocks\":4096,\"block_size\":4096,\"name\":\"Null1\",\"dif_is_head_of_md\":false}",
        "bdev_null_resize Null1 32                 | {\"name\":\"Null1\",\"new_size\":32}",
        "bdev_get_bdevs -b Malloc0 -t 500          | {\"name\":\"Malloc0\",\"timeout\":500}",
        "bdev_get_iostat --names A,B --reset-mode maxmin | {\"per_channel\":false,\"reset_mode\":\"maxmin\",\"names\":[\"A\",\"B\"]}",
        "bdev_get_iostat -c --names A              | {\"per_channel\":true,\"names\":[\"A\"]}",
        "bdev_reset_iostat -b A -m error           | {\"name\":\"A\",\"mode\":\"error\"}",
        "bdev_set_qos_limit A --rw-ios-per-sec 20000 --w-mbytes-per-sec 10 | {\"name\":\"A\",\"rw_ios_per_sec\":20000,\"w_mbytes_per_sec\":10}",
        "bdev_enable_histogram A --histogram       | {\"name\":\"A\",\"enable\":true}",
        "bdev_enable_histogram --no-histogram A    | {\"name\":\"A\",\"enable\":false}",
        "bdev_set_options -p 4096 --no-auto-examine | {\"bdev_io_pool_size\":4096,\"bdev_auto_examine\":false}",
        "framework_get_config bdev                 | {\"name\":\"bdev\",\"with_batches\":false}",
        "rpc_get_methods -c                        | {\"current\":true,\"include_aliases\":false}",
        "spdk_kill_instance SIGTERM                | {\"sig_name\":\"SIGTERM\"}",
        "bdev_examine -b Malloc0                   | {\"name\":\"Malloc0\"}",
    })
    @DisplayName("each sub-command sends rpc.py's params (null values dropped, store_true flags sent as false)")
    void params(String cmd, String expected) throws Exception {
        assertThat(dryParams(cmd.trim().split("\\s+"))).isEqualTo(JSON.readTree(expected));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "bdev_aio_create /tmp/f.img AIO0 4096 --fallocate | {\"filename\":\"/tmp/f.img\",\"name\":\"AIO0\",\"block_size\":4096,\"readonly\":false,\"fallocate\":true,\"nowait\":false}",
        "bdev_aio_create /tmp/f.img AIO1 -r -u 0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f | {\"filename\":\"/tmp/f.img\",\"name\":\"AIO1\",\"readonly\":true,\"fallocate\":false,\"uuid\":\"0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f\",\"nowait\":false}",
        "bdev_aio_rescan AIO0 | {\"name\":\"AIO0\"}",
        "bdev_aio_delete AIO0 | {\"name\":\"AIO0\"}",
        "bdev_passthru_create -b Malloc0 -p PT0 | {\"base_bdev_name\":\"Malloc0\",\"name\":\"PT0\"}",
        "bdev_passthru_delete PT0 | {\"name\":\"PT0\"}",
        "bdev_split_create Malloc1 2 | {\"base_bdev\":\"Malloc1\",\"split_count\":2}",
        "bdev_split_create -s 4 Malloc2 8 | {\"base_bdev\":\"Malloc2\",\"split_count\":8,\"split_size_mb\":4}",
        "bdev_split_delete Malloc1 | {\"base_bdev\":\"Malloc1\"}",
        "bdev_delay_create -b Malloc0 -d D0 -r 10 -t 20 -w 30 -n 40 | {\"base_bdev_name\":\"Malloc0\",\"name\":\"D0\",\"avg_read_latency\":10,\"p99_read_latency\":20,\"avg_write_latency\":30,\"p99_write_latency\":40}",
        "bdev_delay_delete D0 | {\"name\":\"D0\"}",
        "bdev_delay_update_latency D0 p99_write 77 | {\"delay_bdev_name\":\"D0\",\"latency_type\":\"p99_write\",\"latency_us\":77}",
        "bdev_error_create Malloc0 --uuid 0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f | {\"base_name\":\"Malloc0\",\"uuid\":\"0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f\"}",
        "bdev_error_delete EE_Malloc0 | {\"name\":\"EE_Malloc0\"}",
        "bdev_error_inject_error EE_Malloc0 all failure -n 5 | {\"name\":\"EE_Malloc0\",\"io_type\":\"all\",\"error_type\":\"failure\",\"num\":5}",
        "bdev_error_inject_error EE_Malloc0 read corrupt_data -o 3 -v 255 -q 2 | {\"name\":\"EE_Malloc0\",\"io_type\":\"read\",\"error_type\":\"corrupt_data\",\"queue_depth\":2,\"corrupt_offset\":3,\"corrupt_value\":255}",
        "bdev_error_resume_pending EE_Malloc0 | {\"name\":\"EE_Malloc0\"}",
        "bdev_raid_create -n r1 -r raid1 -b M0 --uuid 0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f | {\"name\":\"r1\",\"raid_level\":\"raid1\",\"base_bdevs\":[\"M0\"],\"uuid\":\"0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f\",\"superblock\":false}",
        "bdev_raid_create -n r0 -z 64 -r 0 -b M0 | {\"name\":\"r0\",\"strip_size_kb\":64,\"raid_level\":\"0\",\"base_bdevs\":[\"M0\"],\"superblock\":false}",
        "bdev_raid_delete r0 | {\"name\":\"r0\",\"clear_sb\":false}",
        "bdev_raid_get_bdevs online | {\"category\":\"online\"}",
        "bdev_raid_add_base_bdev r1 M2 | {\"raid_bdev\":\"r1\",\"base_bdev\":\"M2\"}",
        "bdev_raid_remove_base_bdev M1 | {\"name\":\"M1\"}",
        "bdev_raid_set_options -w 512 -b 100 | {\"process_window_size_kb\":512,\"process_max_bandwidth_mb_sec\":100}",
    })
    @DisplayName("the aio, passthru, split, delay, error and raid commands send exactly what SPDK's rpc.py --dry-run sends (expected values"
            + " taken from rpc.py)")
    void moduleParams(String cmd, String expected) throws Exception {
        assertThat(dryParams(cmd.trim().split("\\s+"))).isEqualTo(JSON.readTree(expected));
    }

    @Test
    @DisplayName("print_array (bdev_split_create's output): the names joined by spaces, shlex-quoted when they need it")
    void printArray() throws Exception {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        SpindleRpc.print(SpindleRpc.Output.ARRAY, JSON.readTree("[\"Malloc1p0\",\"a b\",\"it's\"]"), new java.io.PrintStream(b, true,
                java.nio.charset.StandardCharsets.UTF_8));
        assertThat(b.toString(java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("Malloc1p0 'a b' 'it'\"'\"'s'\n");
    }

    @Test
    @DisplayName("bdev_raid_create -b takes a whitespace separated list in one argument (argparse type=str.split); bdev_mapped_create's"
            + " num_blocks is optional")
    void raidBaseBdevsAndMapped() throws Exception {
        assertThat(dryParams("bdev_raid_create", "-n", "r", "-r", "concat", "-z", "8", "-b", "A  B C")).isEqualTo(JSON.readTree(
                "{\"name\":\"r\",\"strip_size_kb\":8,\"raid_level\":\"concat\",\"base_bdevs\":[\"A\",\"B\",\"C\"],\"superblock\":false}"));
        assertThat(dryParams("bdev_mapped_create", "/tmp/m.img", "Map0", "4096")).isEqualTo(JSON.readTree(
                "{\"name\":\"Map0\",\"filename\":\"/tmp/m.img\",\"block_size\":4096}"));
        assertThat(dryParams("bdev_mapped_create", "/tmp/m.img", "Map0", "4096", "1024")).isEqualTo(JSON.readTree(
                "{\"name\":\"Map0\",\"filename\":\"/tmp/m.img\",\"block_size\":4096,\"num_blocks\":1024}"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "bdev_malloc_create 64                     | the following arguments are required: block_size",
        "bdev_malloc_create x 512                  | argument total_size: invalid float value: 'x'",
        "bdev_get_iostat --reset-mode some         | argument --reset-mode: invalid choice: 'some'",
        "spdk_kill_instance SIGFOO                 | argument sig_name: invalid choice: 'SIGFOO'",
        "bdev_enable_histogram A                   | the following arguments are required: --histogram",
        "bdev_frob                                 | invalid choice: 'bdev_frob'",
        "bdev_get_bdevs --bogus                    | unrecognized arguments: --bogus",
    })
    @DisplayName("a bad command line exits 2 with argparse's message")
    void usageErrors(String cmd, String expected) {
        Out r = run(cmd.trim().split("\\s+"));
        assertThat(r.rc()).isEqualTo(2);
        assertThat(r.err()).contains(expected.trim());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "--verbose WARNING spdk_get_version          | argument --verbose: invalid choice: 'WARNING' (choose from 'DEBUG', 'INFO', 'ERROR')",
        "--verbose                                  | argument --verbose: expected one argument",
        "-b spdk_get_version                        | -b/--batch-mode sends the commands read from stdin as one batch; give no METHOD",
        "--plugin my_rpc spdk_get_version           | --plugin is not supported by spindle rpc",
        "--go-client spdk_get_version               | --go-client is not supported by spindle rpc",
    })
    @DisplayName("global flags: --verbose has rpc.py's choices; -b takes no METHOD; --plugin and --go-client are refused")
    void globalFlagErrors(String cmd, String expected) {
        Out r = run(cmd.trim().split("\\s+"));
        assertThat(r.rc()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains(expected.trim());
    }

    @Test
    @DisplayName("-v and --verbose DEBUG|INFO|ERROR are accepted")
    void verboseAccepted() throws Exception {
        for (String[] v : new String[][] {{"-v"}, {"--verbose", "DEBUG"}, {"--verbose", "INFO"}, {"--verbose", "ERROR"}}) {
            String[] a = new String[v.length + 3];
            System.arraycopy(v, 0, a, 0, v.length);
            a[v.length] = "--dry-run";
            a[v.length + 1] = "bdev_get_bdevs";
            a[v.length + 2] = "-b";
            String[] b = java.util.Arrays.copyOf(a, a.length + 1);
            b[a.length] = "M";
            Out r = run(b);
            assertThat(r.rc()).as(String.join(" ", b) + ": " + r.err()).isZero();
        }
    }

    @Test
    @DisplayName("without METHOD and a terminal on stdin the usage is printed, exit 1, as rpc.py")
    void noMethodOnTerminal() {
        Out r = runWithStdin("", true);
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.out()).startsWith("usage: spindle rpc").contains("--batch-mode").contains("Not supported: --plugin, --go-client");
    }

    @Test
    @DisplayName("commands from stdin (rpc.py's script mode): one per line, # comments, shell quoting; --dry-run prints each")
    void scriptDryRun() throws Exception {
        Out r = runWithStdin("bdev_get_bdevs -b M\n\n# a comment\n  \nbdev_malloc_delete 'A b'\n", false, "--dry-run");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(r.out()).isEqualTo("Request:\n{\n  \"method\": \"bdev_get_bdevs\",\n  \"params\": {\n    \"name\": \"M\"\n  }\n}\n"
                + "Request:\n{\n  \"method\": \"bdev_malloc_delete\",\n  \"params\": {\n    \"name\": \"A b\"\n  }\n}\n");
    }

    @Test
    @DisplayName("-b --dry-run prints the commands from stdin as one batch, as rpc.py's dry-run client does")
    void batchDryRun() throws Exception {
        Out r = runWithStdin("bdev_get_bdevs -b M\nspdk_get_version\n", false, "-b", "--dry-run");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(r.err()).contains("WARNING: Batch mode is experimental.");
        assertThat(r.out()).startsWith("Request:\n[\n");
        JsonNode reqs = JSON.readTree(r.out().substring("Request:\n".length()));
        assertThat(reqs).hasSize(2);
        assertThat(reqs.get(0).get("method").asText()).isEqualTo("bdev_get_bdevs");
        assertThat(reqs.get(1).get("params")).isEmpty();
    }

    @Test
    @DisplayName("a bad line on stdin exits 2 with argparse's message")
    void scriptUsageError() {
        Out r = runWithStdin("bdev_get_bdevs --bogus\n", false, "--dry-run");
        assertThat(r.rc()).isEqualTo(2);
        assertThat(r.err()).contains("unrecognized arguments: --bogus");
        r = runWithStdin("bdev_get_bdevs -b 'unclosed\n", false, "--dry-run");
        assertThat(r.rc()).isEqualTo(2);
        assertThat(r.err()).contains("No closing quotation");
    }

    @Test
    @DisplayName("shlex.split's POSIX rules")
    void shlex() throws Exception {
        assertThat(SpindleRpc.shlexSplit("a  'b c' \"d \\\" e\" f\\ g h\"i\"j")).containsExactly("a", "b c", "d \" e", "f g", "hij");
        assertThat(SpindleRpc.shlexSplit("  ")).isEmpty();
    }

    @Test
    @org.junit.jupiter.api.Timeout(120)
    @DisplayName("against a live target: script mode on one connection (with rpc.py's Exception report), -b batch, -v's INFO log")
    void live() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory(java.nio.file.Path.of("/tmp"), "sprpcc");
        java.nio.file.Path sock = dir.resolve("s.sock");
        io.spindle.app.Spindle sp = io.spindle.app.Spindle.start(io.spindle.app.SpindleConfig.builder(
                        com.typesafe.config.ConfigFactory.parseString("pekko.loglevel = WARNING")).name("rpc-client-live")
                .reactor(io.spindle.runtime.ReactorConfig.builder().mask("0x1").conclude())
                .subsystem(new io.spindle.bdev.BdevSubsystem())
                .rpc(io.spindle.rpc.RpcServerConfig.builder().socket(sock).conclude())
                .conclude());
        try {
            String s = sock.toString();
            Out r = runWithStdin("bdev_malloc_create -b S1 1 512\nbdev_get_bdevs -b S1\nbdev_malloc_delete S1\n", false, "-s", s);
            assertThat(r.rc()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).startsWith("S1\n[\n  {\n    \"name\": \"S1\",");
            assertThat(JSON.readTree(run("-s", s, "bdev_get_bdevs").out())).isEmpty();

            r = runWithStdin("bdev_malloc_create -b S2 1 512\nbdev_malloc_delete Nope\nbdev_malloc_delete S2\n", false, "-s", s);
            assertThat(r.rc()).isEqualTo(1);
            assertThat(r.out()).startsWith("S2\nException:\nbdev_malloc_create -b S2 1 512\nbdev_malloc_delete Nope <<<\nrequest:\n")
                    .contains("\"req_id\": 2").contains("Got JSON-RPC error response").contains("\"message\": \"No such device\"");
            assertThat(JSON.readTree(run("-s", s, "bdev_get_bdevs").out())).as("the line after the error did not run").hasSize(1);

            r = runWithStdin("bdev_malloc_create -b B1 1 512\nbdev_get_bdevs -b B1\nbdev_malloc_delete Nope\nbdev_malloc_delete S2\n",
                    false, "-s", s, "-b");
            assertThat(r.rc()).as("an error in the batch").isEqualTo(1);
            // rpc.py prints the None of each batched print_dict/print_json, then the results, the errors on stderr
            assertThat(r.out()).isEqualTo("null\nnull\n\"B1\"\n[\n" + r.out().substring(r.out().indexOf("[\n") + 2));
            assertThat(r.out()).endsWith("]\ntrue\n");
            assertThat(r.err()).contains("WARNING: Batch mode is experimental.").contains("\"code\": -19").contains("\"message\": \"No such device\"");

            r = run("-s", s, "-v", "bdev_get_bdevs", "-b", "B1");
            assertThat(r.rc()).isZero();
            assertThat(r.err()).startsWith("INFO: Requests:\n{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"bdev_get_bdevs\",\n  \"id\": 1,")
                    .contains("\nINFO: response:\n{\n  \"jsonrpc\": \"2.0\",");
            assertThat(run("-s", s, "bdev_get_bdevs", "-b", "B1").err()).as("no log at the default level").isEmpty();
        } finally {
            assertThat(sp.stopAndWait().clean()).isTrue();
            java.nio.file.Files.deleteIfExists(sock);
            java.nio.file.Files.deleteIfExists(dir);
        }
    }

    @Test
    @DisplayName("no target: exit 1 with rpc.py's connection message, on stdout as rpc.py prints it")
    void noTarget() {
        Out r = run("-s", "/tmp/definitely-no-spindle-here.sock", "spdk_get_version");
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.out()).contains("Error while connecting to /tmp/definitely-no-spindle-here.sock").contains("Is the Spindle target running?");
    }

    @Test
    @DisplayName("output is Python's json.dumps(indent=2): ': ' after keys, ',' at line ends, [] and {} for empty, \\u escapes")
    void pythonLayout() throws Exception {
        JsonNode n = JSON.readTree("{\"a\":[1,{\"b\":[]}],\"c\":{},\"d\":\"é\\\"\",\"e\":true,\"f\":null}");
        assertThat(PyJson.dumps(n, 2)).isEqualTo("{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": {},\n"
                + "  \"d\": \"\\u00e9\\\"\",\n  \"e\": true,\n  \"f\": null\n}");
        assertThat(PyJson.dumps(n, -1)).isEqualTo("{\"a\": [1, {\"b\": []}], \"c\": {}, \"d\": \"\\u00e9\\\"\", \"e\": true, \"f\": null}");
    }

    @Test
    @DisplayName("--help lists the methods; METHOD -h shows its arguments")
    void help() {
        Out r = run("--help");
        assertThat(r.rc()).isZero();
        assertThat(r.out()).contains("bdev_malloc_create").contains("save_config").contains("load_config");
        r = run("bdev_malloc_create", "-h");
        assertThat(r.out()).contains("total_size").contains("-b, --name");
    }
}
