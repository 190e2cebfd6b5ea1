package io.spindle.examples.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The cluster's sub-commands of {@code spindle rpc} (cluster_get_nodes, cluster_get_bdevs, bdev_cluster_attach,
 * bdev_cluster_detach), and the same commands in SPDK's rpc.py through Spindle's plugin
 * ({@code examples/rpc-plugin/spindle_cluster.py}): both send the same request.
 */
class SpindleRpcClusterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "cluster_get_nodes                          | {}",
        "cluster_get_bdevs                          | {}",
        "cluster_get_bdevs -b Malloc0 -n node2      | {\"name\":\"Malloc0\",\"node\":\"node2\"}",
        "cluster_get_bdevs -u 0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f | {\"uuid\":\"0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f\"}",
        "bdev_cluster_attach -b Cluster2 -d Malloc0 -n node2 | {\"name\":\"Cluster2\",\"bdev\":\"Malloc0\",\"node\":\"node2\"}",
        "bdev_cluster_attach -b C -d Malloc0 -l 5 -o 1 -u 2 | {\"name\":\"C\",\"bdev\":\"Malloc0\",\"ctrlr_loss_timeout_sec\":5,\"reconnect_delay_sec\":1,\"fast_io_fail_timeout_sec\":2}",
        "bdev_cluster_detach Cluster2               | {\"name\":\"Cluster2\"}",
    })
    @DisplayName("each cluster sub-command sends its params (null values dropped)")
    void params(String cmd, String expected) throws Exception {
        JsonNode p = SpindleRpcTest.dryParams(cmd.trim().split("\\s+"));
        assertThat(p == null || p.isNull() ? JSON.createObjectNode() : p).isEqualTo(JSON.readTree(expected));
    }

    @Test
    @DisplayName("bdev_cluster_attach needs -b and -d, as argparse says")
    void attachNeedsNameAndBdev() {
        SpindleRpcTest.Out r = SpindleRpcTest.run("bdev_cluster_attach", "-b", "C");
        assertThat(r.rc()).isEqualTo(2);
        assertThat(r.err()).contains("the following arguments are required: -d/--bdev");
    }

    @Test
    @DisplayName("print_array: bdev_cluster_attach's names are printed space-separated, shell-quoted as rpc.py quotes them")
    void printArray() throws Exception {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        SpindleRpc.print(SpindleRpc.Output.ARRAY, JSON.readTree("[\"Cluster2n1\", \"odd name\", \"it's\"]"),
                new java.io.PrintStream(b, true, StandardCharsets.UTF_8));
        assertThat(b.toString(StandardCharsets.UTF_8)).isEqualTo("Cluster2n1 'odd name' 'it'\"'\"'s'\n");
    }

    /** SPDK's rpc.py, when this machine has an SPDK checkout ({@code SPDK_DIR}, else /work/spdk-src) and python3. */
    static Path rpcPy() {
        String dir = System.getenv().getOrDefault("SPDK_DIR", "/work/spdk-src");
        Path p = Path.of(dir, "scripts", "rpc.py");
        return Files.isRegularFile(p) ? p : null;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "cluster_get_nodes",
        "cluster_get_bdevs -b Malloc0 -n node2",
        "bdev_cluster_attach -b C -d Malloc0 -l 5 -o 1 -u 2",
        "bdev_cluster_detach Cluster2",
    })
    @DisplayName("SPDK's rpc.py with --plugin spindle_cluster sends the same request as spindle rpc (--dry-run)")
    void rpcPyPluginSendsTheSame(String cmd) throws Exception {
        Path rpcPy = rpcPy();
        assumeTrue(rpcPy != null, "no SPDK checkout with scripts/rpc.py (set SPDK_DIR)");
        List<String> c = new ArrayList<>(List.of("python3", rpcPy.toString(), "--plugin", "spindle_cluster", "--dry-run"));
        c.addAll(List.of(cmd.trim().split("\\s+")));
        ProcessBuilder pb = new ProcessBuilder(c).redirectErrorStream(true);
        pb.environment().put("PYTHONPATH", ROOT.resolve("examples/rpc-plugin").toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).startsWith("Request:\n");
        JsonNode py = JSON.readTree(out.substring("Request:\n".length()));
        String[] args = cmd.trim().split("\\s+");
        String[] a = new String[args.length + 1];
        a[0] = "--dry-run";
        System.arraycopy(args, 0, a, 1, args.length);
        SpindleRpcTest.Out r = SpindleRpcTest.run(a);
        JsonNode ours = JSON.readTree(r.out().substring("Request:\n".length()));
        assertThat(py.get("method")).isEqualTo(ours.get("method"));
        JsonNode pyParams = py.get("params") == null || py.get("params").isNull() ? JSON.createObjectNode() : py.get("params");
        JsonNode ourParams = ours.get("params") == null || ours.get("params").isNull() ? JSON.createObjectNode() : ours.get("params");
        assertThat(pyParams).isEqualTo(ourParams);
    }
}
