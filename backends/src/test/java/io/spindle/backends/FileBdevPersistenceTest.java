package io.spindle.backends;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.bdev.io.IoStatus;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The file-backed modules (aio, mapped) through JSON-RPC on a real target: their create/delete with SPDK's
 * parameter names, errors that name the file, {@code bdev_get_bdevs} and {@code save_config}, and persistence: what
 * was written survives a restart of the app, and what was flushed survives {@code kill -9} of the process.
 */
@Timeout(120)
class FileBdevPersistenceTest {

    static String createParams(String kind, Path file, int bs, long blocks) {
        return kind.equals("aio")
                ? "{\"name\":\"Disk0\",\"filename\":\"" + file + "\",\"block_size\":" + bs + "}"
                : "{\"name\":\"Disk0\",\"filename\":\"" + file + "\",\"block_size\":" + bs + ",\"num_blocks\":" + blocks + "}";
    }

    static void sparse(Path f, long size) throws Exception {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(size);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"aio", "mapped"})
    @DisplayName("create over JSON-RPC, write, stop the app; a new app on the same file reads the same data")
    void survivesAnAppRestart(String kind, @TempDir Path dir) throws Exception {
        Path f = dir.resolve(kind + ".img");
        if (kind.equals("aio")) {
            sparse(f, 1 << 20);
        }
        byte[] a = IoKit.pattern(16 * 4096, 21);
        try (TgtHarness t = new TgtHarness("persist-1")) {
            assertThat(t.call("bdev_" + kind + "_create", createParams(kind, f, 4096, 256)).asText()).isEqualTo("Disk0");
            IoKit io = new IoKit(t.layer());
            assertThat(io.write("Disk0", 100, a)).isEqualTo(IoStatus.SUCCESS);
        }
        try (TgtHarness t = new TgtHarness("persist-2")) {
            String p = kind.equals("aio") ? createParams(kind, f, 4096, 0)
                    : "{\"name\":\"Disk0\",\"filename\":\"" + f + "\",\"block_size\":4096}"; // reopened, num_blocks from the file
            t.call("bdev_" + kind + "_create", p);
            IoKit io = new IoKit(t.layer());
            assertThat(io.read("Disk0", 100, 16)).isEqualTo(a);
            assertThat(t.call("bdev_" + kind + "_delete", "{\"name\":\"Disk0\"}").asBoolean()).isTrue();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"aio", "mapped"})
    @DisplayName("kill -9 after a flush: another process finds every block written before the flush in the file")
    void survivesKillNineAfterFlush(String kind, @TempDir Path dir) throws Exception {
        Path f = dir.resolve(kind + ".img");
        int bs = 4096;
        long numBlocks = 512;
        if (kind.equals("aio")) {
            sparse(f, numBlocks * bs);
        }
        try (ChildProcess c = new ChildProcess(CrashChild.class, dir.resolve("child.log"), kind, f.toString(), String.valueOf(bs),
                String.valueOf(numBlocks), "64", "33")) {
            c.awaitLine("FLUSHED");
            c.kill9();
        }
        byte[] file = Files.readAllBytes(f);
        assertThat(file.length).isEqualTo(numBlocks * bs);
        assertThat(Arrays.copyOf(file, 64 * bs)).isEqualTo(IoKit.pattern(64 * bs, 33));
        // and a new app reads them through the bdev
        try (TgtHarness t = new TgtHarness("after-kill")) {
            t.call("bdev_" + kind + "_create", kind.equals("aio") ? createParams(kind, f, bs, 0)
                    : "{\"name\":\"Disk0\",\"filename\":\"" + f + "\",\"block_size\":4096}");
            assertThat(new IoKit(t.layer()).read("Disk0", 0, 64)).isEqualTo(IoKit.pattern(64 * bs, 33));
        }
    }

    @Test
    @DisplayName("JSON-RPC errors carry SPDK's negative errno and a message naming the file and the bound")
    void rpcErrorsNameTheFile(@TempDir Path dir) throws Exception {
        Path odd = dir.resolve("odd.img");
        Files.write(odd, new byte[1000]);
        try (TgtHarness t = new TgtHarness("rpc-errors")) {
            JsonNode e = t.error("bdev_aio_create", "{\"name\":\"A\",\"filename\":\"" + dir.resolve("none.img") + "\",\"block_size\":512}");
            assertThat(e.get("code").asInt()).isEqualTo(-2);
            assertThat(e.get("message").asText()).isEqualTo("No such file or directory");
            assertThat(e.get("data").asText()).contains("none.img").contains("no such file");
            e = t.error("bdev_aio_create", "{\"name\":\"A\",\"filename\":\"" + dir + "\",\"block_size\":512}");
            assertThat(e.get("code").asInt()).isEqualTo(-21);
            assertThat(e.get("message").asText()).isEqualTo("Is a directory");
            e = t.error("bdev_aio_create", "{\"name\":\"A\",\"filename\":\"" + odd + "\",\"block_size\":512}");
            assertThat(e.get("code").asInt()).isEqualTo(-22);
            assertThat(e.get("data").asText()).contains("odd.img").contains("not a multiple of block_size=512");
            e = t.error("bdev_aio_create", "{\"name\":\"A\",\"filename\":\"" + odd + "\",\"block_size\":512,\"nowait\":true}");
            assertThat(e.get("code").asInt()).isEqualTo(-95);
            e = t.error("bdev_aio_create", "{\"name\":\"A\",\"filename\":\"" + odd + "\",\"block_sise\":512}");
            assertThat(e.get("code").asInt()).isEqualTo(-32602);
            assertThat(e.get("message").asText()).contains("block_sise");
            e = t.error("bdev_mapped_create", "{\"name\":\"M\",\"filename\":\"" + dir.resolve("new.img") + "\",\"block_size\":512}");
            assertThat(e.get("code").asInt()).isEqualTo(-22);
            assertThat(e.get("data").asText()).contains("new.img").contains("num_blocks");
            e = t.error("bdev_aio_delete", "{\"name\":\"nope\"}");
            assertThat(e.get("code").asInt()).isEqualTo(-19);
            e = t.error("bdev_mapped_delete", "{\"name\":\"nope\"}");
            assertThat(e.get("code").asInt()).isEqualTo(-19);
        }
    }

    @Test
    @DisplayName("bdev_get_bdevs shows driver_specific.aio (with o_direct) and .mapped; save_config writes bdev_aio_create and"
            + " bdev_mapped_create with SPDK's keys, and the config replays")
    void getBdevsAndSaveConfig(@TempDir Path dir) throws Exception {
        Path fa = dir.resolve("a.img");
        sparse(fa, 1 << 20);
        Path fm = dir.resolve("m.img");
        JsonNode cfg;
        try (TgtHarness t = new TgtHarness("cfg-1")) {
            t.call("bdev_aio_create", "{\"name\":\"AIO0\",\"filename\":\"" + fa + "\",\"block_size\":4096,\"fallocate\":true}");
            t.call("bdev_mapped_create", "{\"name\":\"Map0\",\"filename\":\"" + fm + "\",\"block_size\":512,\"num_blocks\":2048}");
            JsonNode aio = t.call("bdev_get_bdevs", "{\"name\":\"AIO0\"}").get(0);
            assertThat(aio.get("product_name").asText()).isEqualTo("AIO disk");
            JsonNode ds = aio.at("/driver_specific/aio");
            assertThat(ds.get("filename").asText()).isEqualTo(fa.toString());
            assertThat(ds.get("block_size_override").asBoolean()).isTrue();
            assertThat(ds.get("readonly").asBoolean()).isFalse();
            assertThat(ds.get("fallocate").asBoolean()).isTrue();
            assertThat(ds.has("o_direct")).isTrue();
            JsonNode map = t.call("bdev_get_bdevs", "{\"name\":\"Map0\"}").get(0);
            assertThat(map.at("/driver_specific/mapped/filename").asText()).isEqualTo(fm.toString());
            assertThat(map.at("/driver_specific/mapped/memory").asText()).isEqualTo("file page cache");
            assertThat(map.at("/driver_specific/mapped/huge_pages").asText()).matches("advised|refused: .*"); // the policy: auto
            cfg = t.call("framework_get_config", "{\"name\":\"bdev\"}");
        }
        JsonNode aioCall = null;
        JsonNode mapCall = null;
        for (JsonNode e : cfg) {
            if (e.get("method").asText().equals("bdev_aio_create")) {
                aioCall = e.get("params");
            } else if (e.get("method").asText().equals("bdev_mapped_create")) {
                mapCall = e.get("params");
            }
        }
        assertThat(aioCall).isNotNull();
        assertThat(aioCall.get("filename").asText()).isEqualTo(fa.toString());
        assertThat(aioCall.get("block_size").asInt()).isEqualTo(4096);
        assertThat(aioCall.get("fallocate").asBoolean()).isTrue();
        assertThat(mapCall.get("num_blocks").asLong()).isEqualTo(2048);
        try (TgtHarness t = new TgtHarness("cfg-2")) {
            t.call("bdev_aio_create", aioCall.toString());
            t.call("bdev_mapped_create", mapCall.toString());
            assertThat(t.call("bdev_get_bdevs", "{\"name\":\"AIO0\"}").get(0).get("uuid").asText()).isEqualTo(aioCall.get("uuid").asText());
            assertThat(t.call("bdev_get_bdevs", "{\"name\":\"Map0\"}").get(0).get("num_blocks").asLong()).isEqualTo(2048);
        }
    }
}
