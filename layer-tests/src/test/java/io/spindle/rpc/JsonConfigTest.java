package io.spindle.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleConfig;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.runtime.ReactorConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** SPDK's JSON config format loaded through the RPC methods: order, all-or-nothing, errors, save_config round trip. */
class JsonConfigTest {
    private static Spindle start(String name, boolean wait) {
        return Spindle.start(SpindleConfig.builder(ConfigFactory.parseString("pekko.loglevel = WARNING")).name(name)
                .reactor(ReactorConfig.builder().mask("0x3").conclude())
                .subsystem(new BdevSubsystem()).waitForStartInit(wait).conclude());
    }

    private static List<String> names(Spindle s) {
        List<String> out = new ArrayList<>();
        for (Bdev b : BdevLayer.of(s).bdevs()) {
            out.add(b.name());
        }
        return out;
    }

    static final String GOOD = """
            {"subsystems":[{"subsystem":"accel","config":[]},{"subsystem":"bdev","config":[
              {"method":"bdev_malloc_create","params":{"name":"M0","block_size":512,"num_blocks":2048,
                "uuid":"0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"}},
              {"method":"bdev_set_qos_limit","params":{"name":"M0","rw_ios_per_sec":10000}},
              {"method":"bdev_set_options","params":{"bdev_io_pool_size":2048,"bdev_io_cache_size":128}},
              {"method":"bdev_null_create","params":{"name":"N0","block_size":4096,"num_blocks":1024}},
              {"method":"bdev_wait_for_examine"}]}]}
            """;

    @Test
    @Timeout(60)
    @DisplayName("startup entries run before framework_start_init, the rest after, in file order")
    void appliesInSpdkOrder() {
        Spindle s = start("cfg-order", true);
        try {
            JsonConfig.parse(GOOD, "good.json").apply(s, true);
            assertThat(names(s)).containsExactly("M0", "N0");
            BdevLayer l = BdevLayer.of(s);
            assertThat(l.options().ioPoolSize()).as("bdev_set_options applied at init, though written after the creates").isEqualTo(1024);
            assertThat(l.get("M0").uuid().toString()).isEqualTo("0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f");
            assertThat(l.get("M0").qosLimits().rwIosPerSec()).isEqualTo(10000);
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("a failing entry removes what the entries before it created, and the error names file, entry, method, field")
    void allOrNothing() {
        Spindle s = start("cfg-rollback", true);
        try {
            String cfg = """
                    {"subsystems":[{"subsystem":"bdev","config":[
                      {"method":"bdev_malloc_create","params":{"name":"A","block_size":512,"num_blocks":64}},
                      {"method":"bdev_null_create","params":{"name":"B","block_size":512,"num_blocks":64}},
                      {"method":"bdev_null_create","params":{"name":"C","block_size":512,"num_blocks":64,"md_size":16}}]}]}
                    """;
            assertThatThrownBy(() -> JsonConfig.parse(cfg, "bad.json").apply(s, true))
                    .isInstanceOf(JsonConfig.JsonConfigException.class)
                    .hasMessageStartingWith("bad.json: subsystems[bdev].config[2] method bdev_null_create: Invalid parameters: md_size=16")
                    .hasMessageEndingWith("(the 2 bdev(s) created before it were removed)");
            assertThat(names(s)).isEmpty();
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("an unknown method of a subsystem Spindle has is refused before anything runs, naming file, entry and method")
    void checkedFirst() {
        Spindle s = start("cfg-check", false);
        try {
            String unknownMethod = """
                    {"subsystems":[{"subsystem":"bdev","config":[
                      {"method":"bdev_malloc_create","params":{"name":"A","block_size":512,"num_blocks":64}},
                      {"method":"bdev_frobnicate","params":{}}]}]}
                    """;
            assertThatThrownBy(() -> JsonConfig.parse(unknownMethod, "x.json").apply(s, true))
                    .hasMessage("x.json: subsystems[bdev].config[1] method bdev_frobnicate: method not found in subsystem bdev (Spindle has "
                            + "no such method; rpc_get_methods lists them)");
            assertThat(names(s)).as("nothing ran").isEmpty();
            assertThatThrownBy(() -> JsonConfig.parse("{\"subsystems\": [", "z.json")).hasMessageContaining("z.json: not valid JSON at line 1");
            assertThatThrownBy(() -> JsonConfig.parse("{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"params\":{}}]}]}", "w.json"))
                    .hasMessage("w.json: subsystems[bdev].config[0]: field \"method\" is required (a string)");
            assertThatThrownBy(() -> JsonConfig.parse("{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[[{\"params\":{}}]]}]}", "v.json"))
                    .hasMessage("v.json: subsystems[bdev].config[0][0]: field \"method\" is required (a string)");
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
        }
    }

    private static String fixture(String name) throws java.io.IOException {
        try (java.io.InputStream in = JsonConfigTest.class.getResourceAsStream("/spdk-configs/" + name)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("an spdk_tgt save_config (keyring, iobuf, sock, vmd, accel, scheduler, nbd, ublk; nvme/raid/iscsi options) loads: "
            + "foreign subsystems skipped, module options accepted, the bdevs created with their UUIDs")
    void spdkTgtSaveConfigLoads() throws Exception {
        Spindle s = start("cfg-spdk", true);
        try {
            JsonConfig.parse(fixture("spdk_tgt_save_config.json"), "spdk_tgt_save_config.json").apply(s, true);
            BdevLayer l = BdevLayer.of(s);
            assertThat(names(s)).containsExactly("Malloc0", "Null0");
            assertThat(l.get("Malloc0").uuid().toString()).isEqualTo("2b5c8b1e-6a0f-4d0e-9a55-0d7e1b6f3c21");
            assertThat(l.get("Malloc0").numBlocks()).isEqualTo(16384);
            assertThat(l.get("Null0").numBlocks()).isEqualTo(262144);
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("batch arrays (save_config --with-batches) load: each batch's requests in order, an empty batch skipped")
    void batchArraysLoad() throws Exception {
        Spindle s = start("cfg-batches", true);
        try {
            JsonConfig.parse(fixture("spdk_with_batches.json"), "spdk_with_batches.json").apply(s, true);
            BdevLayer l = BdevLayer.of(s);
            assertThat(names(s)).containsExactly("Malloc0", "Malloc1", "Null0");
            assertThat(l.get("Malloc0").qosLimits().rwIosPerSec()).isEqualTo(20000);
            assertThat(l.get("Malloc1").histogramEnabled()).isTrue();
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("a batch that mixes STARTUP-only and RUNTIME-only methods is refused before anything runs, as SPDK's loader refuses it")
    void batchWithIncompatibleStatesRefused() {
        Spindle s = start("cfg-batch-states", false);
        try {
            String cfg = """
                    {"subsystems":[{"subsystem":"bdev","config":[
                      {"method":"bdev_null_create","params":{"name":"N","block_size":512,"num_blocks":64}},
                      [{"method":"bdev_set_options","params":{"bdev_io_pool_size":2048}},
                       {"method":"bdev_malloc_create","params":{"name":"M","block_size":512,"num_blocks":64}}]]}]}
                    """;
            assertThatThrownBy(() -> JsonConfig.parse(cfg, "mix.json").apply(s, true))
                    .hasMessageContaining("mix.json: subsystems[bdev].config[1][0] method bdev_set_options: the batch mixes methods");
            assertThat(names(s)).as("nothing ran").isEmpty();
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("save_config writes bdev_enable_histogram for a bdev whose histogram is on and bdev_examine when auto examine is off; "
            + "the round trip keeps both")
    void saveConfigHistogramAndExamine() throws Exception {
        String cfg = """
                {"subsystems":[{"subsystem":"bdev","config":[
                  {"method":"bdev_set_options","params":{"bdev_auto_examine":false}},
                  {"method":"bdev_malloc_create","params":{"name":"M0","block_size":512,"num_blocks":2048}},
                  {"method":"bdev_examine","params":{"name":"M0"}},
                  {"method":"bdev_examine","params":{"name":"Later"}},
                  {"method":"bdev_enable_histogram","params":{"name":"M0","enable":true,"granularity":5}}]}]}
                """;
        Spindle a = start("cfg-save-hist", true);
        JsonNode bdevConfig;
        try {
            JsonConfig.parse(cfg, "hist.json").apply(a, true);
            bdevConfig = RpcDispatcher.create(a).call("framework_get_config", RpcHarness.params("{\"name\":\"bdev\"}"), new ArrayList<>())
                    .toCompletableFuture().get(10, TimeUnit.SECONDS);
        } finally {
            assertThat(a.stopAndWait().clean()).isTrue();
        }
        List<String> methods = new ArrayList<>();
        bdevConfig.forEach(e -> methods.add(e.get("method").asText()));
        assertThat(methods).containsSubsequence("bdev_set_options", "bdev_examine", "bdev_examine", "bdev_malloc_create",
                "bdev_enable_histogram", "bdev_wait_for_examine");
        JsonNode hist = null;
        List<String> examined = new ArrayList<>();
        for (JsonNode e : bdevConfig) {
            if (e.get("method").asText().equals("bdev_enable_histogram")) {
                hist = e.get("params");
            } else if (e.get("method").asText().equals("bdev_examine")) {
                examined.add(e.get("params").get("name").asText());
            }
        }
        assertThat(examined).containsExactly("M0", "Later");
        assertThat(hist.get("name").asText()).isEqualTo("M0");
        assertThat(hist.get("enable").asBoolean()).isTrue();
        assertThat(hist.get("granularity").asInt()).isEqualTo(5);

        ObjectNode saved = RpcHarness.JSON.createObjectNode();
        ObjectNode sub = saved.putArray("subsystems").addObject();
        sub.put("subsystem", "bdev");
        sub.set("config", bdevConfig);
        Spindle b = start("cfg-load-hist", true);
        try {
            JsonConfig.parse(saved.toString(), "saved.json").apply(b, true);
            BdevLayer l = BdevLayer.of(b);
            assertThat(l.get("M0").histogramEnabled()).isTrue();
            assertThat(l.get("M0").histogramOptions().granularity()).isEqualTo(5);
            assertThat(l.examineAllowlist()).containsExactly("M0", "Later");
            assertThat(l.options().autoExamine()).isFalse();
        } finally {
            assertThat(b.stopAndWait().clean()).isTrue();
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("a STARTUP-only entry on an already initialised Spindle fails with SPDK's state message")
    void startupEntryTooLate() {
        Spindle s = start("cfg-late", false);
        try {
            assertThatThrownBy(() -> JsonConfig.parse("{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":\"bdev_set_options\","
                    + "\"params\":{\"bdev_io_pool_size\":1024}}]}]}", "late.json").apply(s, true))
                    .hasMessageContaining("method bdev_set_options: Method may only be called before framework is initialized")
                    .hasMessageContaining("(code -1)");
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("--wait-for-rpc: startup entries now, the rest once framework_start_init has run")
    void waitForRpc() throws Exception {
        Spindle s = start("cfg-wait", true);
        try {
            JsonConfig.parse(GOOD, "good.json").apply(s, false);
            assertThat(s.rpcState()).isEqualTo(io.spindle.rpc.spi.RpcState.STARTUP);
            s.startInit().toCompletableFuture().get(30, TimeUnit.SECONDS);
            await().atMost(java.time.Duration.ofSeconds(10)).until(() -> names(s).size() == 2);
            assertThat(BdevLayer.of(s).options().ioPoolSize()).isEqualTo(1024);
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("save_config's output (framework_get_subsystems + framework_get_config) loads back into the same bdevs")
    void saveConfigRoundTrip() throws Exception {
        Spindle a = start("cfg-save", true);
        ObjectNode saved = RpcHarness.JSON.createObjectNode();
        try {
            JsonConfig.parse(GOOD, "good.json").apply(a, true);
            RpcDispatcher d = RpcDispatcher.create(a);
            ArrayNode subs = saved.putArray("subsystems");
            for (JsonNode sub : d.call("framework_get_subsystems", null, new ArrayList<>()).toCompletableFuture().get(10, TimeUnit.SECONDS)) {
                ObjectNode e = subs.addObject();
                e.put("subsystem", sub.get("subsystem").asText());
                e.set("config", d.call("framework_get_config", RpcHarness.params("{\"name\":\"" + sub.get("subsystem").asText() + "\"}"),
                        new ArrayList<>()).toCompletableFuture().get(10, TimeUnit.SECONDS));
            }
        } finally {
            assertThat(a.stopAndWait().clean()).isTrue();
        }
        Spindle b = start("cfg-load", true);
        try {
            JsonConfig.parse(saved.toString(), "saved.json").apply(b, true);
            BdevLayer l = BdevLayer.of(b);
            assertThat(names(b)).containsExactly("M0", "N0");
            assertThat(l.get("M0").uuid().toString()).isEqualTo("0b5f2c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f");
            assertThat(l.get("M0").numBlocks()).isEqualTo(2048);
            assertThat(l.get("N0").blockSize()).isEqualTo(4096);
            assertThat(l.get("M0").qosLimits().rwIosPerSec()).isEqualTo(10000);
            assertThat(l.options().ioPoolSize()).isEqualTo(1024);
        } finally {
            assertThat(b.stopAndWait().clean()).isTrue();
        }
    }
}
