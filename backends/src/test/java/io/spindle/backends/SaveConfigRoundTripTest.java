package io.spindle.backends;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code save_config} of a stack of every module, built over JSON-RPC: every bdev's create call comes after the calls
 * of the bdevs it is built on; the saved config, loaded by a new target as {@code --json}, reproduces the stack (same
 * names, sizes, UUIDs, claims); and so does the same config in reverse order, because every virtual bdev is built by
 * examine when its bases register (SPDK's deferred creation).
 */
@Timeout(120)
class SaveConfigRoundTripTest {

    /** name -> {product, block_size, num_blocks, uuid, claimed} of every bdev. */
    static TreeMap<String, String> snapshot(TgtHarness t) throws Exception {
        TreeMap<String, String> m = new TreeMap<>();
        for (JsonNode b : t.call("bdev_get_bdevs", null)) {
            m.put(b.get("name").asText(), b.get("product_name").asText() + " " + b.get("block_size").asInt() + "x" + b.get("num_blocks").asLong()
                    + " " + b.get("uuid").asText() + " claimed=" + b.get("claimed").asBoolean());
        }
        return m;
    }

    static int indexOf(List<JsonNode> calls, String method, String key, String value) {
        for (int i = 0; i < calls.size(); i++) {
            JsonNode c = calls.get(i);
            if (c.get("method").asText().equals(method) && (key == null || value.equals(c.at("/params/" + key).asText()))) {
                return i;
            }
        }
        return -1;
    }

    @Test
    @DisplayName("save_config -> --json reproduces a stack of every module (bases first), also with the entries in reverse order")
    void roundTrip(@TempDir Path dir) throws Exception {
        Path aioFile = dir.resolve("aio.img");
        try (RandomAccessFile r = new RandomAccessFile(aioFile.toFile(), "rw")) {
            r.setLength(4 << 20);
        }
        Path mappedFile = dir.resolve("mapped.img");
        List<JsonNode> calls = new ArrayList<>();
        TreeMap<String, String> before;
        try (TgtHarness t = new TgtHarness("cfg-a")) {
            t.call("bdev_malloc_create", "{\"name\":\"Malloc0\",\"num_blocks\":4096,\"block_size\":512}");
            t.call("bdev_malloc_create", "{\"name\":\"Malloc1\",\"num_blocks\":4096,\"block_size\":512}");
            t.call("bdev_malloc_create", "{\"name\":\"Malloc2\",\"num_blocks\":8192,\"block_size\":512}");
            t.call("bdev_raid_create", "{\"name\":\"r1\",\"raid_level\":\"raid1\",\"base_bdevs\":[\"Malloc0\",\"Malloc1\"]}");
            t.call("bdev_passthru_create", "{\"name\":\"PT\",\"base_bdev_name\":\"r1\"}");
            assertThat(t.call("bdev_split_create", "{\"base_bdev\":\"Malloc2\",\"split_count\":2}")).hasSize(2);
            t.call("bdev_delay_create", "{\"name\":\"D0\",\"base_bdev_name\":\"Malloc2p0\",\"avg_read_latency\":10,\"p99_read_latency\":20,"
                    + "\"avg_write_latency\":30,\"p99_write_latency\":40}");
            t.call("bdev_error_create", "{\"base_name\":\"Malloc2p1\"}");
            t.call("bdev_split_create", "{\"base_bdev\":\"Absent\",\"split_count\":4}"); // deferred: kept in the config
            t.call("bdev_aio_create", "{\"name\":\"AIO0\",\"filename\":\"" + aioFile + "\",\"block_size\":4096}");
            t.call("bdev_mapped_create", "{\"name\":\"Map0\",\"filename\":\"" + mappedFile + "\",\"block_size\":4096,\"num_blocks\":256}");
            t.call("bdev_raid_create", "{\"name\":\"r0\",\"raid_level\":\"raid0\",\"strip_size_kb\":64,\"base_bdevs\":[\"AIO0\",\"Map0\"]}");
            t.call("bdev_raid_set_options", "{\"process_window_size_kb\":512}");
            before = snapshot(t);
            t.call("framework_get_config", "{\"name\":\"bdev\"}").forEach(calls::add);
        }
        assertThat(before).containsKeys("Malloc0", "r1", "PT", "Malloc2p0", "Malloc2p1", "D0", "EE_Malloc2p1", "AIO0", "Map0", "r0");
        // every vbdev after its bases
        assertThat(indexOf(calls, "bdev_malloc_create", "name", "Malloc1")).isLessThan(indexOf(calls, "bdev_raid_create", "name", "r1"));
        assertThat(indexOf(calls, "bdev_raid_create", "name", "r1")).isLessThan(indexOf(calls, "bdev_passthru_create", "name", "PT"));
        assertThat(indexOf(calls, "bdev_malloc_create", "name", "Malloc2")).isLessThan(indexOf(calls, "bdev_split_create", "base_bdev", "Malloc2"));
        assertThat(indexOf(calls, "bdev_split_create", "base_bdev", "Malloc2")).isLessThan(indexOf(calls, "bdev_delay_create", "name", "D0"));
        assertThat(indexOf(calls, "bdev_split_create", "base_bdev", "Malloc2")).isLessThan(indexOf(calls, "bdev_error_create", "base_name", "Malloc2p1"));
        assertThat(indexOf(calls, "bdev_mapped_create", "name", "Map0")).isLessThan(indexOf(calls, "bdev_raid_create", "name", "r0"));
        assertThat(indexOf(calls, "bdev_split_create", "base_bdev", "Absent")).as("a deferred split is saved").isPositive();
        assertThat(indexOf(calls, "bdev_raid_set_options", null, null)).isPositive();
        assertThat(calls.get(calls.size() - 1).get("method").asText()).isEqualTo("bdev_wait_for_examine");

        try (TgtHarness t = new TgtHarness("cfg-b", "0x3", config(calls))) {
            assertThat(snapshot(t)).isEqualTo(before);
        }
        List<JsonNode> reversed = new ArrayList<>();
        reversed.add(calls.get(0)); // bdev_set_options stays first (a start-up option)
        for (int i = calls.size() - 2; i >= 1; i--) {
            reversed.add(calls.get(i));
        }
        reversed.add(calls.get(calls.size() - 1));
        assertThat(reversed.get(1).get("method").asText()).isNotEqualTo("bdev_malloc_create");
        try (TgtHarness t = new TgtHarness("cfg-c", "0x3", config(reversed))) {
            assertThat(snapshot(t)).isEqualTo(before);
        }
    }

    static String config(List<JsonNode> calls) {
        ObjectNode root = TgtHarness.JSON.createObjectNode();
        ArrayNode subs = root.putArray("subsystems");
        ObjectNode bdev = subs.addObject();
        bdev.put("subsystem", "bdev");
        ArrayNode cfg = bdev.putArray("config");
        calls.forEach(cfg::add);
        return root.toString();
    }
}
