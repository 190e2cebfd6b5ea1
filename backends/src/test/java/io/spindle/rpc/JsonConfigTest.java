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
    @DisplayName("unknown methods and subsystems are refused before anything runs; an unknown subsystem with no config is fine")
    void checkedFirst() {
        Spindle s = start("cfg-check", false);
        try {
            String unknownMethod = """
                    {"subsystems":[{"subsystem":"bdev","config":[
                      {"method":"bdev_malloc_create","params":{"name":"A","block_size":512,"num_blocks":64}},
                      {"method":"bdev_nvme_attach_controller","params":{}}]}]}
                    """;
            assertThatThrownBy(() -> JsonConfig.parse(unknownMethod, "x.json").apply(s, true))
                    .hasMessage("x.json: subsystems[bdev].config[1] method bdev_nvme_attach_controller: method not found (Spindle has no "
                            + "such method; rpc_get_methods lists them)");
            assertThat(names(s)).as("nothing ran").isEmpty();
            String unknownSub = """
                    {"subsystems":[{"subsystem":"nvmf","config":[{"method":"bdev_wait_for_examine"}]}]}
                    """;
            assertThatThrownBy(() -> JsonConfig.parse(unknownSub, "y.json").apply(s, true))
                    .hasMessageContaining("subsystem nvmf is not part of this Spindle (have bdev)");
            assertThatThrownBy(() -> JsonConfig.parse("{\"subsystems\": [", "z.json")).hasMessageContaining("z.json: not valid JSON at line 1");
            assertThatThrownBy(() -> JsonConfig.parse("{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"params\":{}}]}]}", "w.json"))
                    .hasMessage("w.json: subsystems[bdev].config[0]: field \"method\" is required (a string)");
        } finally {
            assertThat(s.stopAndWait().clean()).isTrue();
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
