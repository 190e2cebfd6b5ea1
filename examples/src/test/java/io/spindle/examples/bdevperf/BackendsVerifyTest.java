package io.spindle.examples.bdevperf;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * bdevperf {@code -w verify} on every backend module, configured by SPDK's JSON config as {@code --json} does, on two
 * reactors: 0 miscompares (the run fails on the first one) and every job ends. Includes the chain passthru over raid1
 * over two mallocs.
 */
class BackendsVerifyTest {

    static String config(String kind, Path dir) throws Exception {
        String body = switch (kind) {
            case "aio" -> {
                Path f = dir.resolve("aio.img");
                try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                    r.setLength(16 << 20);
                }
                yield "{\"method\":\"bdev_aio_create\",\"params\":{\"name\":\"AIO0\",\"filename\":\"" + f + "\",\"block_size\":4096}}";
            }
            case "mapped" -> "{\"method\":\"bdev_mapped_create\",\"params\":{\"name\":\"Map0\",\"filename\":\"" + dir.resolve("m.img")
                    + "\",\"block_size\":4096,\"num_blocks\":4096}}";
            case "passthru" -> malloc("Malloc0") + ",{\"method\":\"bdev_passthru_create\",\"params\":{\"name\":\"PT0\",\"base_bdev_name\":\"Malloc0\"}}";
            case "split" -> malloc("Malloc0") + ",{\"method\":\"bdev_split_create\",\"params\":{\"base_bdev\":\"Malloc0\",\"split_count\":2}}";
            case "delay" -> malloc("Malloc0") + ",{\"method\":\"bdev_delay_create\",\"params\":{\"name\":\"D0\",\"base_bdev_name\":\"Malloc0\","
                    + "\"avg_read_latency\":20,\"p99_read_latency\":100,\"avg_write_latency\":20,\"p99_write_latency\":100}}";
            case "error" -> malloc("Malloc0") + ",{\"method\":\"bdev_error_create\",\"params\":{\"base_name\":\"Malloc0\"}}";
            case "raid0", "raid1", "concat" -> malloc("M0") + "," + malloc("M1") + ",{\"method\":\"bdev_raid_create\",\"params\":{\"name\":\"R\","
                    + "\"raid_level\":\"" + kind + "\"," + (kind.equals("raid1") ? "" : "\"strip_size_kb\":64,") + "\"base_bdevs\":[\"M0\",\"M1\"]}}";
            default -> malloc("M0") + "," + malloc("M1") + ",{\"method\":\"bdev_raid_create\",\"params\":{\"name\":\"R1\",\"raid_level\":\"raid1\","
                    + "\"base_bdevs\":[\"M0\",\"M1\"]}},{\"method\":\"bdev_passthru_create\",\"params\":{\"name\":\"PT\",\"base_bdev_name\":\"R1\"}}";
        };
        return "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[" + body + ",{\"method\":\"bdev_wait_for_examine\"}]}]}";
    }

    static String malloc(String name) {
        return "{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"" + name + "\",\"block_size\":512,\"num_blocks\":32768}}";
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"aio", "mapped", "passthru", "split", "delay", "error", "raid0", "raid1", "concat", "passthru-raid1-malloc"})
    @Timeout(120)
    @DisplayName("bdevperf -w verify on the module's leaf bdevs: exit 0, 0 miscompares")
    void verify(String kind, @TempDir Path dir) throws Exception {
        Path cfg = dir.resolve(kind + ".json");
        Files.writeString(cfg, config(kind, dir));
        BdevPerfTest.Run r = BdevPerfTest.run("-q", "32", "-o", "4096", "-w", "verify", "-t", "1", "-m", "0x3", "--json", cfg.toString());
        assertEquals(0, r.rc(), r.out() + r.err());
        assertThat(r.out()).contains("Job: ").doesNotContainIgnoringCase("miscompare");
        String leaf = switch (kind) {
            case "aio" -> "AIO0";
            case "mapped" -> "Map0";
            case "passthru" -> "PT0";
            case "split" -> "Malloc0p1";
            case "delay" -> "D0";
            case "error" -> "EE_Malloc0";
            case "raid0", "raid1", "concat" -> "R";
            default -> "PT";
        };
        assertThat(r.out()).contains("Job: " + leaf + " ");
    }
}
