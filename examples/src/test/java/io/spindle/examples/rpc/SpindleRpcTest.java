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
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = SpindleRpc.run(args, new ByteArrayInputStream(new byte[0]), new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8));
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

    @Test
    @DisplayName("no target: exit 1 with rpc.py's connection message")
    void noTarget() {
        Out r = run("-s", "/tmp/definitely-no-spindle-here.sock", "spdk_get_version");
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.err()).contains("Error while connecting to /tmp/definitely-no-spindle-here.sock").contains("Is the Spindle target running?");
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
