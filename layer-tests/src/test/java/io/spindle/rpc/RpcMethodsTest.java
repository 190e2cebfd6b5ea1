package io.spindle.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.app.Spindle;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevEvent;
import io.spindle.bdev.BdevIo;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.IoChannel;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The methods, called over the real socket, with SPDK's parameters and result shapes. */
class RpcMethodsTest {

    /**
     * QD-16 random 4 KiB reads and writes on a bdev from reactor 0, through the descriptor API (the data path,
     * no actor messages), until {@link #stop()} or the bdev's REMOVE. Counts completions by status.
     */
    static final class Load implements IoCallback {
        final AtomicLong ok = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final CompletableFuture<Long> done = new CompletableFuture<>();
        private final String name;
        private BdevDescriptor desc;
        private IoChannel<BdevChannel> ch;
        private final List<DmaBuffer> bufs = new ArrayList<>();
        private volatile boolean stop;
        private int inFlight;
        private long rng = 0x9E3779B97F4A7C15L;
        private long blocks;

        Load(Spindle s, String name) {
            this.name = name;
            BdevLayer l = BdevLayer.of(s);
            s.reactors().reactor(0).send(() -> {
                desc = l.open(name, true, (event, b, d) -> {
                    if (event == BdevEvent.REMOVE) {
                        stop = true;
                    }
                });
                ch = desc.getIoChannel();
                blocks = desc.bdev().numBlocks() / 8;
                for (int i = 0; i < 16; i++) {
                    DmaBuffer b = DmaBuffer.allocate(4096, 4096);
                    bufs.add(b);
                    submit(b);
                }
            });
        }

        private void submit(DmaBuffer b) {
            rng ^= rng << 13;
            rng ^= rng >>> 7;
            rng ^= rng << 17;
            long off = (rng >>> 1) % blocks * 8;
            int rc = (rng & 1) == 0 ? desc.readBlocks(ch, b, 0, off, 8, this, b) : desc.writeBlocks(ch, b, 0, off, 8, this, b);
            if (rc == 0) {
                inFlight++;
            } else {
                failed.incrementAndGet();
                maybeFinish();
            }
        }

        @Override
        public void onComplete(BdevIo io, IoStatus status, Object arg) {
            inFlight--;
            (status == IoStatus.SUCCESS ? ok : failed).incrementAndGet();
            if (!stop) {
                submit((DmaBuffer) arg);
            } else {
                maybeFinish();
            }
        }

        private void maybeFinish() {
            if (inFlight == 0 && !done.isDone()) {
                ch.put();
                desc.close();
                for (DmaBuffer b : bufs) {
                    b.close();
                }
                done.complete(ok.get());
            }
        }

        void stop() {
            stop = true;
        }

        String name() {
            return name;
        }
    }

    @Test
    @Timeout(120)
    @DisplayName("bdev_malloc_create and bdev_malloc_delete work while I/O runs on the reactors; deleting the loaded bdev drains its I/O")
    void createDeleteUnderIo() throws Exception {
        try (RpcHarness h = new RpcHarness("rpc-under-io")) {
            Load load = new Load(h.spindle, "Malloc0");
            await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() > 1000);
            for (int i = 0; i < 20; i++) {
                String name = h.call("bdev_malloc_create", "{\"name\":\"Extra" + i + "\",\"block_size\":4096,\"num_blocks\":256}").asText();
                assertThat(name).isEqualTo("Extra" + i);
                assertThat(h.call("bdev_get_bdevs", "{\"name\":\"Extra" + i + "\"}").get(0).get("num_blocks").asLong()).isEqualTo(256);
                assertThat(h.call("bdev_malloc_delete", "{\"name\":\"Extra" + i + "\"}").asBoolean()).isTrue();
            }
            long before = load.ok.get();
            JsonNode st = h.call("bdev_get_iostat", "{\"names\":[\"Malloc0\"]}");
            JsonNode m = st.get("bdevs").get(0);
            assertThat(m.get("name").asText()).isEqualTo("Malloc0");
            assertThat(m.get("num_read_ops").asLong() + m.get("num_write_ops").asLong()).isGreaterThan(1000);
            assertThat(m.get("bytes_read").asLong()).isEqualTo(m.get("num_read_ops").asLong() * 4096);
            assertThat(load.ok.get()).as("I/O kept running during the RPCs").isGreaterThan(1000);
            // hot-remove of the bdev under I/O: the load sees REMOVE, every accepted I/O completes, delete returns
            assertThat(h.call("bdev_malloc_delete", "{\"name\":\"Malloc0\"}").asBoolean()).isTrue();
            long total = load.done.get(30, TimeUnit.SECONDS);
            assertThat(total).isGreaterThanOrEqualTo(before);
            assertThat(load.failed.get()).as("nothing failed: in-flight I/O completed before destruct").isZero();
            assertThat(h.call("bdev_get_bdevs", null)).isEmpty();
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("bdev_get_bdevs has SPDK's fields; bdev_malloc_create without a name picks MallocN; timeout waits for the bdev")
    void getBdevs() throws Exception {
        try (RpcHarness h = new RpcHarness("rpc-get")) {
            JsonNode b = h.call("bdev_get_bdevs", "{\"name\":\"Malloc0\"}").get(0);
            for (String f : List.of("name", "aliases", "product_name", "block_size", "num_blocks", "preferred_write_alignment",
                    "preferred_write_granularity", "optimal_write_size", "preferred_unmap_alignment", "preferred_unmap_granularity",
                    "uuid", "assigned_rate_limits", "claimed", "zoned", "supported_io_types", "driver_specific")) {
                assertThat(b.has(f)).as(f).isTrue();
            }
            assertThat(b.get("supported_io_types")).hasSize(22);
            assertThat(b.get("product_name").asText()).isEqualTo("Malloc disk");
            assertThat(h.call("bdev_get_bdevs", "{\"name\":\"" + b.get("uuid").asText() + "\"}").get(0).get("name").asText())
                    .as("look-up by UUID").isEqualTo("Malloc0");
            assertThat(h.call("bdev_malloc_create", "{\"block_size\":512,\"num_blocks\":64}").asText()).isEqualTo("Malloc1");
            // a bdev that appears while bdev_get_bdevs waits for it: its handler has provably looked once and missed
            // (invoked before Late exists) when Late is created, so only the waiting path can answer it
            long handed = h.requestsHanded();
            CompletableFuture<JsonNode> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    return h.call("bdev_get_bdevs", "{\"name\":\"Late\",\"timeout\":10000}");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            h.awaitHandlersInvoked(handed + 1);
            assertThat(waiting).as("waiting for Late").isNotDone();
            h.call("bdev_null_create", "{\"name\":\"Late\",\"block_size\":512,\"num_blocks\":64}");
            assertThat(waiting.get(20, TimeUnit.SECONDS).get(0).get("name").asText()).isEqualTo("Late");
            assertThat(h.request("bdev_get_bdevs", "{\"name\":\"Never\",\"timeout\":100}").get("error").get("code").asInt()).isEqualTo(-19);
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("bdev_null_resize grows (RESIZE to open descriptors) and refuses to shrink; bdev_null_delete")
    void nullResize() throws Exception {
        try (RpcHarness h = new RpcHarness("rpc-null")) {
            assertThat(h.call("bdev_null_create", "{\"name\":\"N0\",\"block_size\":4096,\"num_blocks\":256}").asText()).isEqualTo("N0");
            assertThat(h.call("bdev_null_resize", "{\"name\":\"N0\",\"new_size\":2}").asBoolean()).isTrue();
            assertThat(h.call("bdev_get_bdevs", "{\"name\":\"N0\"}").get(0).get("num_blocks").asLong()).isEqualTo(512);
            JsonNode r = h.request("bdev_null_resize", "{\"name\":\"N0\",\"new_size\":1}");
            assertThat(r.get("error").get("code").asInt()).isEqualTo(-22);
            assertThat(r.get("error").get("message").asText()).isEqualTo("Invalid argument");
            assertThat(r.get("error").get("data").asText()).contains("Cannot shrink");
            assertThat(h.request("bdev_null_resize", "{\"name\":\"Malloc0\",\"new_size\":64}").get("error").get("code").asInt())
                    .as("not a null bdev: EINVAL, as SPDK").isEqualTo(-22);
            assertThat(h.request("bdev_null_resize", "{\"name\":\"Nope\",\"new_size\":64}").get("error").get("code").asInt())
                    .as("no such bdev").isEqualTo(-19);
            assertThat(h.call("bdev_null_delete", "{\"name\":\"N0\"}").asBoolean()).isTrue();
            assertThat(h.request("bdev_null_delete", "{\"name\":\"N0\"}").get("error").get("code").asInt()).isEqualTo(-19);
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("bdev_get_iostat per_channel and reset_mode, bdev_reset_iostat; counts are exact")
    void iostat() throws Exception {
        try (RpcHarness h = new RpcHarness("rpc-iostat")) {
            Load load = new Load(h.spindle, "Malloc0");
            await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() > 500);
            load.stop();
            long n = load.done.get(10, TimeUnit.SECONDS);
            JsonNode st = h.call("bdev_get_iostat", "{\"names\":[\"Malloc0\"],\"reset_mode\":\"all\"}").get("bdevs").get(0);
            assertThat(st.get("num_read_ops").asLong() + st.get("num_write_ops").asLong()).isEqualTo(n);
            assertThat(st.get("max_read_latency_ticks").asLong()).isGreaterThanOrEqualTo(st.get("min_read_latency_ticks").asLong());
            JsonNode after = h.call("bdev_get_iostat", "{\"names\":[\"Malloc0\"]}").get("bdevs").get(0);
            assertThat(after.get("num_read_ops").asLong() + after.get("num_write_ops").asLong()).as("reset_mode all").isZero();

            Load again = new Load(h.spindle, "Malloc0");
            await().atMost(Duration.ofSeconds(10)).until(() -> again.ok.get() > 100);
            JsonNode pc = h.call("bdev_get_iostat", "{\"names\":[\"Malloc0\"],\"per_channel\":true}");
            assertThat(pc.get("name").asText()).isEqualTo("Malloc0");
            assertThat(pc.get("tick_rate").asLong()).isEqualTo(1_000_000_000L);
            assertThat(pc.get("channels")).isNotEmpty();
            assertThat(pc.get("channels").get(0).get("thread_id").asInt()).isEqualTo(1);
            again.stop();
            again.done.get(10, TimeUnit.SECONDS);
            assertThat(h.call("bdev_reset_iostat", "{\"name\":\"Malloc0\",\"mode\":\"all\"}").asBoolean()).isTrue();
            JsonNode z = h.call("bdev_get_iostat", null).get("bdevs").get(0);
            assertThat(z.get("num_read_ops").asLong() + z.get("num_write_ops").asLong()).isZero();
            assertThat(h.request("bdev_get_iostat", "{\"per_channel\":true}").get("error").get("code").asInt()).isEqualTo(-22);
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("bdev_enable_histogram / bdev_get_histogram: SPDK's bucket layout, and the buckets count every I/O")
    void histogram() throws Exception {
        try (RpcHarness h = new RpcHarness("rpc-hist")) {
            assertThat(h.request("bdev_get_histogram", "{\"name\":\"Malloc0\"}").get("error").get("code").asInt()).as("not enabled")
                    .isEqualTo(-14);
            assertThat(h.call("bdev_enable_histogram", "{\"name\":\"Malloc0\",\"enable\":true}").asBoolean()).isTrue();
            Load load = new Load(h.spindle, "Malloc0");
            await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() > 500);
            load.stop();
            long n = load.done.get(10, TimeUnit.SECONDS);
            JsonNode r = h.call("bdev_get_histogram", "{\"name\":\"Malloc0\"}");
            assertThat(r.get("granularity").asInt()).isEqualTo(7);
            assertThat(r.get("tsc_rate").asLong()).isEqualTo(1_000_000_000L);
            int ranges = r.get("max_range").asInt() - r.get("min_range").asInt() + 1;
            byte[] raw = Base64.getDecoder().decode(r.get("histogram").asText());
            assertThat(raw.length).isEqualTo(ranges * 128 * 8);
            ByteBuffer bb = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            long sum = 0;
            while (bb.hasRemaining()) {
                sum += bb.getLong();
            }
            assertThat(sum).isEqualTo(n);
            assertThat(h.request("bdev_enable_histogram", "{\"name\":\"Malloc0\",\"enable\":true,\"opc\":\"read\"}")
                    .get("error").get("message").asText()).contains("opc");
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("bdev_set_qos_limit: keeps limits not given, rounds IOPS as SPDK, shows in bdev_get_bdevs and save_config")
    void qos() throws Exception {
        try (RpcHarness h = new RpcHarness("rpc-qos")) {
            assertThat(h.call("bdev_set_qos_limit", "{\"name\":\"Malloc0\",\"rw_ios_per_sec\":20500}").asBoolean()).isTrue();
            assertThat(h.call("bdev_set_qos_limit", "{\"name\":\"Malloc0\",\"w_mbytes_per_sec\":50}").asBoolean()).isTrue();
            JsonNode rl = h.call("bdev_get_bdevs", "{\"name\":\"Malloc0\"}").get(0).get("assigned_rate_limits");
            assertThat(rl.get("rw_ios_per_sec").asLong()).isEqualTo(21000);
            assertThat(rl.get("w_mbytes_per_sec").asLong()).isEqualTo(50);
            JsonNode cfg = h.call("framework_get_config", "{\"name\":\"bdev\"}");
            JsonNode qos = null;
            for (JsonNode e : cfg) {
                if (e.get("method").asText().equals("bdev_set_qos_limit")) {
                    qos = e.get("params");
                }
            }
            assertThat(qos).as("save_config writes the limits").isNotNull();
            assertThat(qos.toString()).as("only the limits that are set, as SPDK's bdev_qos_config_json")
                    .isEqualTo("{\"name\":\"Malloc0\",\"rw_ios_per_sec\":21000,\"w_mbytes_per_sec\":50}");
            JsonNode r = h.request("bdev_set_qos_limit", "{\"name\":\"Malloc0\"}");
            assertThat(r.get("error").get("message").asText()).isEqualTo("No rate limits specified");
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("framework and thread methods: reactors, subsystems, config, pollers, io_channels, rpc_get_methods")
    void framework() throws Exception {
        try (RpcHarness h = new RpcHarness("rpc-fw")) {
            Load load = new Load(h.spindle, "Malloc0"); // a channel and pollers on reactor 0
            await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() > 10);
            JsonNode re = h.call("framework_get_reactors", null);
            assertThat(re.get("tick_rate").asLong()).isEqualTo(1_000_000_000L);
            assertThat(re.get("pid").asLong()).isEqualTo(ProcessHandle.current().pid());
            assertThat(re.get("reactors")).hasSize(2);
            assertThat(re.get("reactors").get(1).get("lcore").asInt()).isEqualTo(1);
            assertThat(re.get("reactors").get(0).get("lw_threads").get(0).get("name").asText()).isEqualTo("reactor_0");
            assertThat(re.get("reactors").get(0).get("tid").asLong()).isPositive();

            JsonNode ts = h.call("thread_get_stats", null).get("threads");
            assertThat(ts).hasSize(2);
            assertThat(ts.get(0).get("cpumask").asText()).isEqualTo("1");
            assertThat(ts.get(1).get("cpumask").asText()).isEqualTo("2");

            JsonNode ch = h.call("thread_get_io_channels", null).get("threads").get(0).get("io_channels");
            assertThat(ch.toString()).contains("\"name\":\"Malloc0\"");

            JsonNode pol = h.call("thread_get_pollers", null).get("threads").get(0);
            assertThat(pol.has("active_pollers")).isTrue();
            assertThat(pol.has("timed_pollers")).isTrue();
            assertThat(pol.has("paused_pollers")).isTrue();
            // SPDK's spdk_poller_get_state_str: a poller not executing while the RPC looks is "waiting"
            assertThat(pol.get("active_pollers")).isNotEmpty().allSatisfy(p -> assertThat(p.get("state").asText()).isEqualTo("waiting"));
            assertThat(re.get("reactors").get(1).get("lw_threads").get(0).get("cpumask").asText()).as("bare hex, as spdk_cpuset_fmt").isEqualTo("2");

            JsonNode subs = h.call("framework_get_subsystems", null);
            assertThat(subs.get(0).get("subsystem").asText()).isEqualTo("bdev");
            JsonNode cfg = h.call("framework_get_config", "{\"name\":\"bdev\"}");
            assertThat(cfg.get(0).get("method").asText()).isEqualTo("bdev_set_options");
            assertThat(cfg.get(1).get("method").asText()).isEqualTo("bdev_malloc_create");
            assertThat(cfg.get(cfg.size() - 1).get("method").asText()).isEqualTo("bdev_wait_for_examine");
            assertThat(h.request("framework_get_config", "{\"name\":\"nvmf\"}").get("error").get("message").asText())
                    .contains("no such subsystem (have bdev)");

            List<String> methods = new ArrayList<>();
            h.call("rpc_get_methods", null).forEach(x -> methods.add(x.asText()));
            assertThat(methods).contains("bdev_malloc_create", "bdev_null_resize", "framework_get_reactors", "spdk_kill_instance",
                    "bdev_get_histogram", "thread_get_io_channels");
            List<String> current = new ArrayList<>();
            h.call("rpc_get_methods", "{\"current\":true}").forEach(x -> current.add(x.asText()));
            assertThat(current).doesNotContain("framework_start_init", "bdev_set_options").contains("bdev_get_bdevs");
            assertThat(h.call("framework_wait_init", null).asBoolean()).isTrue();
            assertThat(h.call("bdev_wait_for_examine", null).asBoolean()).isTrue();
            load.stop();
            load.done.get(10, TimeUnit.SECONDS);
        }
    }

    @Nested
    @DisplayName("--wait-for-rpc")
    class WaitForRpc {
        @Test
        @Timeout(60)
        @DisplayName("STARTUP: only startup methods run, bdev_set_options applies at init, framework_start_init initialises")
        void startupState() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-wait", b -> b, true)) {
                assertThat(h.spindle.rpcState()).isEqualTo(io.spindle.rpc.spi.RpcState.STARTUP);
                JsonNode r = h.request("bdev_get_bdevs", null);
                assertThat(r.get("error").get("code").asInt()).isEqualTo(RpcException.INVALID_STATE);
                assertThat(r.get("error").get("message").asText()).contains("only be called after framework is initialized");
                List<String> current = new ArrayList<>();
                h.call("rpc_get_methods", "{\"current\":true}").forEach(x -> current.add(x.asText()));
                assertThat(current).contains("framework_start_init", "bdev_set_options", "rpc_get_methods").doesNotContain("bdev_get_bdevs");
                assertThat(h.call("bdev_set_options", "{\"bdev_io_pool_size\":511,\"bdev_io_cache_size\":64,\"bdev_auto_examine\":false}")
                        .asBoolean()).isTrue();
                assertThat(h.request("bdev_set_options", "{\"bdev_io_pool_size\":64,\"bdev_io_cache_size\":64}")
                        .get("error").get("message").asText()).contains("Pool size 64 too small for cache size 64");
                // a framework_wait_init in flight is answered once the init is done: its handler has provably run
                // (and not answered) before framework_start_init is sent
                long handed = h.requestsHanded();
                CompletableFuture<JsonNode> waiter = CompletableFuture.supplyAsync(() -> {
                    try {
                        return h.call("framework_wait_init", null);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                h.awaitHandlersInvoked(handed + 1);
                assertThat(waiter).isNotDone();
                assertThat(h.call("framework_start_init", null).asBoolean()).isTrue();
                assertThat(waiter.get(10, TimeUnit.SECONDS).asBoolean()).isTrue();
                assertThat(h.spindle.rpcState()).isEqualTo(io.spindle.rpc.spi.RpcState.RUNTIME);
                assertThat(BdevLayer.of(h.spindle).options().ioPoolSize()).as("511 over 2 reactors").isEqualTo(256);
                JsonNode opts = h.call("framework_get_config", "{\"name\":\"bdev\"}").get(0);
                assertThat(opts.get("method").asText()).isEqualTo("bdev_set_options");
                assertThat(opts.get("params").get("bdev_io_pool_size").asLong()).as("written back as given, as SPDK").isEqualTo(511);
                assertThat(BdevLayer.of(h.spindle).options().autoExamine()).isFalse();
                assertThat(h.call("bdev_get_bdevs", null)).isEmpty();
                assertThat(h.request("bdev_set_options", "{\"bdev_io_pool_size\":512}").get("error").get("code").asInt())
                        .isEqualTo(RpcException.INVALID_STATE);
                assertThat(h.call("bdev_malloc_create", "{\"name\":\"M\",\"block_size\":512,\"num_blocks\":64}").asText()).isEqualTo("M");
                assertThat(h.call("bdev_examine", "{\"name\":\"M\"}").asBoolean()).as("manual examine with auto examine off").isTrue();
                assertThat(h.request("bdev_examine", "{\"name\":\"M\"}").get("error").get("code").asInt()).isEqualTo(-17);
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("bdev_examine is refused while auto examine is on")
        void examineRefusedWithAutoExamine() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-examine")) {
                JsonNode r = h.request("bdev_examine", "{\"name\":\"Malloc0\"}");
                assertThat(r.get("error").get("code").asInt()).isEqualTo(-22);
                assertThat(r.get("error").get("data").asText()).contains("auto examine");
            }
        }
    }

    @Test
    @Timeout(60)
    @DisplayName("spdk_kill_instance SIGTERM answers true, then stops Spindle cleanly; a bad signal name is -32602")
    void kill() throws Exception {
        RpcHarness h = new RpcHarness("rpc-kill");
        assertThat(h.request("spdk_kill_instance", "{\"sig_name\":\"SIGFOO\"}").get("error").get("message").asText())
                .contains("sig_name=\"SIGFOO\": must be one of");
        assertThat(h.call("spdk_kill_instance", "{\"sig_name\":\"SIGTERM\"}").asBoolean()).isTrue();
        assertThat(h.spindle.whenStopped().toCompletableFuture().get(30, TimeUnit.SECONDS).clean()).isTrue();
        h.close();
    }
}
