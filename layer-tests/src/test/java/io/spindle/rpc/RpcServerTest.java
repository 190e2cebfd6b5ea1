package io.spindle.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.app.SpindleStartException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The JSON-RPC server over its real Unix socket (and TCP): SPDK's request rules, error codes, limits and
 * robustness. Every test starts its own Spindle with the server on a socket in a private directory.
 */
class RpcServerTest {
    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void awaitNoConnections(RpcHarness h) {
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(h.spindle.rpcStats().connections()).as("open connections").isZero();
            assertThat(h.spindle.rpcStats().pendingOutputBytes()).as("queued response bytes").isZero();
        });
    }

    @Nested
    @DisplayName("requests")
    class Requests {
        @Test
        @Timeout(60)
        @DisplayName("a request gets {jsonrpc, id, result} with its id echoed, string or number")
        void resultEnvelope() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-envelope"); RpcClient c = h.client()) {
                c.sendRaw(utf8("{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":\"abc\"}"));
                JsonNode r = c.readResponse();
                assertThat(r.get("jsonrpc").asText()).isEqualTo("2.0");
                assertThat(r.get("id").asText()).isEqualTo("abc");
                assertThat(r.get("result").get("version").asText()).startsWith("Spindle v");
                assertThat(r.get("result").get("fields").has("major")).isTrue();
                c.sendRaw(utf8("{\"method\":\"spdk_get_version\",\"id\":7}")); // jsonrpc is optional, as in SPDK
                assertThat(c.readResponse().get("id").asInt()).isEqualTo(7);
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("concatenated JSON values on one stream, split anywhere, are each answered")
        void concatenatedValues() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-concat"); RpcClient c = h.client()) {
                String reqs = "{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":1}"
                        + "{\"jsonrpc\":\"2.0\",\"method\":\"bdev_get_bdevs\",\"id\":2,\"params\":{\"name\":\"Malloc0\"}}\n\n"
                        + "  {\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":3}";
                byte[] b = utf8(reqs);
                for (int i = 0; i < b.length; i += 7) { // 7-byte pieces: values split mid-token
                    c.sendRaw(java.util.Arrays.copyOfRange(b, i, Math.min(b.length, i + 7)));
                    Thread.sleep(1); // spreads the pieces over several reads; the assertions hold however they are read
                }
                Set<Integer> ids = new HashSet<>();
                for (int i = 0; i < 3; i++) {
                    JsonNode r = c.readResponse();
                    assertThat(r.has("result")).as(r.toString()).isTrue();
                    ids.add(r.get("id").asInt());
                }
                assertThat(ids).containsExactlyInAnyOrder(1, 2, 3);
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("a batch is answered with an array in request order, without the notifications' results")
        void batch() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-batch"); RpcClient c = h.client()) {
                c.sendRaw(utf8("[{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":1},"
                        + "{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\"},"
                        + "{\"jsonrpc\":\"2.0\",\"method\":\"no_such_method\",\"id\":3},"
                        + "{\"jsonrpc\":\"2.0\",\"method\":\"bdev_get_bdevs\",\"id\":4}]"));
                JsonNode r = c.readResponse();
                assertThat(r.isArray()).isTrue();
                assertThat(r).hasSize(3);
                assertThat(r.get(0).get("id").asInt()).isEqualTo(1);
                assertThat(r.get(1).get("error").get("code").asInt()).isEqualTo(RpcException.METHOD_NOT_FOUND);
                assertThat(r.get(2).get("result").get(0).get("name").asText()).isEqualTo("Malloc0");

                c.sendRaw(utf8("[]"));
                assertThat(c.readResponse().get("error").get("code").asInt()).isEqualTo(RpcException.INVALID_REQUEST);

                // a batch of notifications only gets no reply: the next response is the next request's
                c.sendRaw(utf8("[{\"method\":\"spdk_get_version\"},{\"method\":\"spdk_get_version\",\"id\":null}]"
                        + "{\"method\":\"spdk_get_version\",\"id\":99}"));
                assertThat(c.readResponse().get("id").asInt()).isEqualTo(99);
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("a batch's requests run one after another: a batch can create bdevs, use them and delete them")
        void batchInOrder() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-batch-order"); RpcClient c = h.client()) {
                for (int round = 0; round < 20; round++) {
                    StringBuilder b = new StringBuilder("[");
                    int id = 0;
                    for (String n : List.of("Bm" + round, "Bn" + round)) {
                        String create = n.startsWith("Bm") ? "bdev_malloc_create" : "bdev_null_create";
                        String delete = n.startsWith("Bm") ? "bdev_malloc_delete" : "bdev_null_delete";
                        b.append(id == 0 ? "" : ",").append("{\"jsonrpc\":\"2.0\",\"method\":\"").append(create).append("\",\"id\":").append(++id)
                                .append(",\"params\":{\"name\":\"").append(n).append("\",\"block_size\":512,\"num_blocks\":64}}");
                        b.append(",{\"jsonrpc\":\"2.0\",\"method\":\"bdev_get_bdevs\",\"id\":").append(++id)
                                .append(",\"params\":{\"name\":\"").append(n).append("\"}}");
                        b.append(",{\"jsonrpc\":\"2.0\",\"method\":\"").append(delete).append("\",\"id\":").append(++id)
                                .append(",\"params\":{\"name\":\"").append(n).append("\"}}");
                    }
                    c.sendRaw(utf8(b.append(']').toString()));
                    JsonNode r = c.readResponse();
                    assertThat(r).hasSize(6);
                    for (JsonNode x : r) {
                        assertThat(x.has("result")).as("round " + round + ": " + x).isTrue();
                    }
                    assertThat(r.get(1).get("result").get(0).get("name").asText()).isEqualTo("Bm" + round);
                }
                assertThat(c.call("bdev_get_bdevs", null)).hasSize(1);
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("a notification's result is not sent, its error is (with id null), as SPDK does")
        void notifications() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-notify"); RpcClient c = h.client()) {
                c.sendRaw(utf8("{\"method\":\"spdk_get_version\"}{\"method\":\"nope\"}{\"method\":\"spdk_get_version\",\"id\":5}"));
                JsonNode first = c.readResponse();
                assertThat(first.get("id").isNull()).isTrue();
                assertThat(first.get("error").get("code").asInt()).isEqualTo(RpcException.METHOD_NOT_FOUND);
                assertThat(c.readResponse().get("id").asInt()).isEqualTo(5);
            }
        }

        @ParameterizedTest(name = "{0}")
        @CsvSource(delimiter = '|', value = {
            "jsonrpc is not 2.0     | {\"jsonrpc\":\"1.0\",\"method\":\"spdk_get_version\",\"id\":1}",
            "method is not a string | {\"jsonrpc\":\"2.0\",\"method\":12,\"id\":1}",
            "no method              | {\"jsonrpc\":\"2.0\",\"id\":1}",
            "unknown envelope key   | {\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":1,\"extra\":true}",
            "id is an object        | {\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":{}}",
            "params is a string     | {\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":1,\"params\":\"x\"}",
            "top-level number       | 42",
            "top-level string       | \"spdk_get_version\"",
        })
        @Timeout(60)
        @DisplayName("a value that is not a valid request object gets -32600 and the connection stays usable")
        void invalidRequest(String what, String raw) throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-invalid"); RpcClient c = h.client()) {
                c.sendRaw(utf8(raw + " "));
                JsonNode r = c.readResponse();
                assertThat(r.get("error").get("code").asInt()).as(what).isEqualTo(RpcException.INVALID_REQUEST);
                assertThat(c.call("spdk_get_version", null).get("version").asText()).startsWith("Spindle");
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("malformed JSON gets -32700 (id null) and then the connection is closed; the server serves on")
        void parseError() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-parse"); RpcClient c = h.client()) {
                c.sendRaw(utf8("{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":1,}"));
                JsonNode r = c.readResponse();
                assertThat(r.get("error").get("code").asInt()).isEqualTo(RpcException.PARSE_ERROR);
                assertThat(r.get("id").isNull()).isTrue();
                assertThatThrownBy(c::readResponse).isInstanceOf(IOException.class);
                assertThat(h.call("spdk_get_version", null).get("version").asText()).startsWith("Spindle");
                awaitNoConnections(h);
            }
        }

        @ParameterizedTest(name = "{0}")
        @CsvSource(delimiter = '|', value = {
            "missing required     | bdev_malloc_create | {\"block_size\":512}                              | num_blocks is required",
            "wrong type           | bdev_malloc_create | {\"block_size\":\"512\",\"num_blocks\":8}        | block_size=\"512\": must be an integer",
            "out of bounds        | bdev_malloc_create | {\"block_size\":512,\"num_blocks\":-1}           | num_blocks=-1: must be between 0 and",
            "unknown key          | bdev_malloc_create | {\"block_size\":512,\"num_blocks\":8,\"nmae\":\"x\"} | unknown key nmae",
            "unsupported feature  | bdev_malloc_create | {\"block_size\":512,\"num_blocks\":8,\"md_size\":8} | md_size=8: not supported by Spindle",
            "bad uuid             | bdev_null_create   | {\"name\":\"n\",\"block_size\":512,\"num_blocks\":8,\"uuid\":\"x\"} | uuid=\"x\": must be a UUID",
            "params not an object | bdev_get_bdevs     | [1,2]                                            | takes named parameters",
            "params on a no-param | spdk_get_version   | {\"x\":1}                                        | spdk_get_version method requires no parameters",
            "bad choice           | bdev_get_iostat    | {\"reset_mode\":\"some\"}                        | reset_mode=\"some\": must be one of all, maxmin, error, none",
            "no name in iostat    | bdev_get_iostat    | {\"name\":\"Malloc0\"}                          | unknown key name (bdev_get_iostat takes names, per_channel, reset_mode)",
        })
        @Timeout(60)
        @DisplayName("bad params get -32602 with a message naming the key and the bound")
        void invalidParams(String what, String method, String params, String expected) throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-params")) {
                JsonNode r = h.request(method, params);
                assertThat(r.get("error").get("code").asInt()).as(what + ": " + r).isEqualTo(RpcException.INVALID_PARAMS);
                assertThat(r.get("error").get("message").asText()).contains(expected.trim());
            }
        }

        @ParameterizedTest(name = "{0}")
        @CsvSource(delimiter = '|', value = {
            "handler throws         | spindle_test_throw          | handler bug",
            "stage fails            | spindle_test_fail_stage     | stage bug",
            "handler returns null   | spindle_test_null_stage     | returned no stage",
            "result not serialisable| spindle_test_unserialisable | cannot serialise",
        })
        @Timeout(60)
        @DisplayName("a handler that fails unexpectedly gets -32603 Internal error with its id; the connection and server serve on")
        void internalError(String what, String method, String cause) throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-internal"); RpcClient c = h.client()) {
                JsonNode r = c.request(method.trim(), null);
                assertThat(r.get("id").asLong()).as(what).isEqualTo(1);
                assertThat(r.get("error").get("code").asInt()).as(what + ": " + r).isEqualTo(RpcException.INTERNAL_ERROR);
                assertThat(r.get("error").get("message").asText()).startsWith("Internal error").contains(cause.trim());
                assertThat(c.call("spdk_get_version", null).get("version").asText()).as("same connection").startsWith("Spindle");
                assertThat(h.call("bdev_get_bdevs", null)).as("another connection").hasSize(1);
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("unknown methods get -32601; refused operations SPDK's negative errno (-19 No such device, -17 exists)")
        void errnoCodes() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-errno")) {
                assertThat(h.request("bdev_frobnicate", null).get("error").get("code").asInt()).isEqualTo(-32601);
                JsonNode r = h.request("bdev_get_bdevs", "{\"name\":\"Nope\"}");
                assertThat(r.get("error").get("code").asInt()).isEqualTo(-19);
                assertThat(r.get("error").get("message").asText()).isEqualTo("No such device");
                assertThat(h.request("bdev_malloc_delete", "{\"name\":\"Nope\"}").get("error").get("code").asInt()).isEqualTo(-19);
                r = h.request("bdev_malloc_create", "{\"name\":\"Malloc0\",\"block_size\":512,\"num_blocks\":8}");
                assertThat(r.get("error").get("code").asInt()).isEqualTo(-17);
                assertThat(r.get("error").get("message").asText()).as("spdk_strerror's text").isEqualTo("File exists");
                assertThat(r.get("error").get("data").asText()).as("Spindle's detail in data").contains("Malloc0");
                // a well-typed bad value is EINVAL as in SPDK (type errors stay -32602)
                r = h.request("bdev_malloc_create", "{\"block_size\":1000,\"num_blocks\":8}");
                assertThat(r.get("error").get("code").asInt()).isEqualTo(-22);
                assertThat(r.get("error").get("message").asText()).isEqualTo("Invalid argument");
                assertThat(r.get("error").get("data").asText()).contains("block_size=1000: must be a power of two >= 512");
                // a zero size too, as SPDK's malloc and null creates answer it
                for (String m : new String[] {"bdev_malloc_create", "bdev_null_create"}) {
                    r = h.request(m, "{\"name\":\"Zero\",\"block_size\":512,\"num_blocks\":0}");
                    assertThat(r.get("error").get("code").asInt()).as(m).isEqualTo(-22);
                    assertThat(r.get("error").get("message").asText()).isEqualTo("Invalid argument");
                    assertThat(r.get("error").get("data").asText()).contains("num_blocks=0: must be >= 1");
                }
                r = h.request("framework_start_init", null);
                assertThat(r.get("error").get("code").asInt()).as("STARTUP-only method at RUNTIME").isEqualTo(RpcException.INVALID_STATE);
                assertThat(r.get("error").get("message").asText()).contains("before framework is initialized");
            }
        }
    }

    /**
     * Names of the live threads, but the JVM's own lazily started, shared ones (the common pool, the JDK's
     * resource releaser) and awaitility's poller.
     */
    static Set<String> liveThreads() {
        Set<String> out = new HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String n = t.getName();
            if (t.isAlive() && !n.startsWith("ForkJoinPool.commonPool-worker") && !n.startsWith("awaitility")
                    && !n.equals("background~resource~releaser")) {
                out.add(t.getName() + "#" + t.getId());
            }
        }
        return out;
    }

    @Nested
    @DisplayName("limits and misbehaving clients")
    class Robustness {
        private Set<String> threadsBefore;

        @BeforeEach
        void threadBaseline() {
            threadsBefore = liveThreads();
        }

        /** No thread a test's Spindle, server or clients started outlives it: no leak, however the clients behaved. */
        @AfterEach
        void noThreadLeft() {
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                Set<String> left = liveThreads();
                left.removeAll(threadsBefore);
                assertThat(left).as("threads left after the test's Spindle stopped").isEmpty();
            });
        }

        /**
         * Threads started since {@code baseline} are only Pekko dispatcher workers, which a fork-join pool adds up to
         * its bounded parallelism under load and retires after a minute idle; never one per connection.
         */
        private void assertNoThreadPerConnection(Set<String> baseline) {
            Set<String> added = liveThreads();
            added.removeAll(baseline);
            assertThat(added).as("threads added while serving connections").allMatch(n -> n.contains("-pekko.actor.default-dispatcher-"));
            assertThat(added.size()).as("dispatcher workers added: bounded, not one per connection " + added).isLessThanOrEqualTo(16);
        }

        @Test
        @Timeout(120)
        @DisplayName("many connections, sequential and 100 at once, use no thread per connection; threads return to the baseline")
        void noThreadPerConnection() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-threads")) {
                byte[] req = utf8("{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":1}");
                assertThat(h.call("spdk_get_version", null)).isNotNull(); // warm: the dispatcher has run a request
                await().atMost(Duration.ofSeconds(10)).until(() -> h.spindle.rpcStats().connections() == 0);
                Set<String> baseline = liveThreads();
                for (int i = 0; i < 300; i++) {
                    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                        ch.connect(UnixDomainSocketAddress.of(h.socket));
                        ch.write(ByteBuffer.wrap(req));
                        assertThat(readLine(Channels.newInputStream(ch))).contains("\"result\"");
                    }
                }
                List<SocketChannel> open = new ArrayList<>();
                try {
                    for (int i = 0; i < 100; i++) {
                        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                        open.add(ch);
                        ch.connect(UnixDomainSocketAddress.of(h.socket));
                        ch.write(ByteBuffer.wrap(req));
                    }
                    for (SocketChannel ch : open) {
                        assertThat(readLine(Channels.newInputStream(ch))).contains("\"result\"");
                    }
                    assertThat(h.spindle.rpcStats().connections()).isEqualTo(100);
                    long rpcThreads = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("spindle-rpc")).count();
                    assertThat(rpcThreads).as("one I/O thread serves every connection").isEqualTo(1);
                    assertNoThreadPerConnection(baseline);
                } finally {
                    for (SocketChannel ch : open) {
                        ch.close();
                    }
                }
                awaitNoConnections(h);
                assertNoThreadPerConnection(baseline);
            }
        }
        @Test
        @Timeout(120)
        @DisplayName("a 10 MB request is answered -32600 naming the bound, skipped, and the connection stays usable")
        void tenMegabyteRequest() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-10mb"); RpcClient c = h.client()) {
                StringBuilder b = new StringBuilder("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_get_bdevs\",\"id\":1,\"params\":{\"name\":\"");
                b.append("x".repeat(10 * 1024 * 1024)).append("\"}}");
                c.sendRaw(utf8(b.toString()));
                JsonNode r = c.readResponse();
                assertThat(r.get("error").get("code").asInt()).isEqualTo(RpcException.INVALID_REQUEST);
                assertThat(r.get("error").get("message").asText()).contains("exceed spindle.rpc.max-request-size=4194304");
                assertThat(c.call("spdk_get_version", null).get("version").asText()).startsWith("Spindle");
            }
        }

        @Test
        @Timeout(120)
        @DisplayName("1000 pipelined requests in one write get 1000 responses, in request order")
        void thousandPipelined() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-pipeline"); RpcClient c = h.client()) {
                StringBuilder b = new StringBuilder();
                for (int i = 1; i <= 1000; i++) {
                    b.append("{\"jsonrpc\":\"2.0\",\"method\":\"").append(i % 2 == 0 ? "bdev_get_bdevs" : "spdk_get_version")
                            .append("\",\"id\":").append(i).append('}');
                }
                c.sendRaw(utf8(b.toString()));
                for (int i = 1; i <= 1000; i++) {
                    JsonNode r = c.readResponse();
                    assertThat(r.has("result")).as(r.toString()).isTrue();
                    assertThat(r.get("id").asInt()).as("responses in request order").isEqualTo(i);
                }
            }
        }

        @Test
        @Timeout(120)
        @DisplayName("50 create -> get -> delete triples pipelined on one connection run in order: 150 successes, no bdev left")
        void pipelinedCreateGetDeleteRunInOrder() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-pipeline-order"); RpcClient c = h.client()) {
                StringBuilder b = new StringBuilder();
                int id = 0;
                for (int i = 0; i < 50; i++) {
                    String name = "Pipe" + i;
                    b.append("{\"jsonrpc\":\"2.0\",\"id\":").append(++id).append(",\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"")
                            .append(name).append("\",\"block_size\":512,\"num_blocks\":64}}");
                    b.append("{\"jsonrpc\":\"2.0\",\"id\":").append(++id).append(",\"method\":\"bdev_get_bdevs\",\"params\":{\"name\":\"")
                            .append(name).append("\"}}");
                    b.append("{\"jsonrpc\":\"2.0\",\"id\":").append(++id).append(",\"method\":\"bdev_malloc_delete\",\"params\":{\"name\":\"")
                            .append(name).append("\"}}");
                }
                c.sendRaw(utf8(b.toString())); // written without waiting for any reply
                for (int i = 1; i <= 150; i++) {
                    JsonNode r = c.readResponse();
                    assertThat(r.get("id").asInt()).isEqualTo(i);
                    assertThat(r.has("result")).as("request %d: %s", i, r).isTrue();
                    if (i % 3 == 2) {
                        assertThat(r.get("result").get(0).get("name").asText()).isEqualTo("Pipe" + (i / 3));
                    }
                }
                JsonNode all = c.call("bdev_get_bdevs", null);
                for (JsonNode bd : all) {
                    assertThat(bd.get("name").asText()).doesNotStartWith("Pipe");
                }
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("a batch larger than max-batch-size is answered -32600 naming the bound; one at the bound is served")
        void batchSizeLimit() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-batch-limit", b -> b.maxBatchSize(3), false); RpcClient c = h.client()) {
                String one = "{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":%d}";
                c.sendRaw(utf8("[" + String.format(one, 1) + "," + String.format(one, 2) + "," + String.format(one, 3) + ","
                        + String.format(one, 4) + "]"));
                JsonNode r = c.readResponse();
                assertThat(r.get("error").get("code").asInt()).isEqualTo(-32600);
                assertThat(r.get("error").get("message").asText()).contains("a batch of 4 requests exceeds spindle.rpc.max-batch-size=3");
                c.sendRaw(utf8("[" + String.format(one, 1) + "," + String.format(one, 2) + "," + String.format(one, 3) + "]"));
                assertThat(c.readResponse()).hasSize(3);
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("a connection idle past idle-timeout is closed; a busy one is not")
        void idleConnectionIsClosed() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-idle", b -> b.idleTimeout(Duration.ofMillis(300)), false); RpcClient c = h.client()) {
                assertThat(c.call("spdk_get_version", null)).isNotNull();
                awaitNoConnections(h);
                assertThatThrownBy(() -> c.call("spdk_get_version", null)).isInstanceOf(IOException.class);
                assertThat(h.call("spdk_get_version", null).get("version").asText()).startsWith("Spindle");
            }
        }

        @Test
        @Timeout(120)
        @DisplayName("50 concurrent clients are all served")
        void fiftyClients() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-50")) {
                ExecutorService pool = Executors.newFixedThreadPool(50);
                try {
                    CountDownLatch allConnected = new CountDownLatch(50);
                    List<Future<Integer>> fs = new ArrayList<>();
                    for (int i = 0; i < 50; i++) {
                        fs.add(pool.submit(() -> {
                            try (RpcClient c = h.client()) {
                                allConnected.countDown();
                                allConnected.await(30, TimeUnit.SECONDS); // all 50 open at once
                                int ok = 0;
                                for (int j = 0; j < 20; j++) {
                                    ok += c.call("bdev_get_bdevs", null).get(0).get("name").asText().equals("Malloc0") ? 1 : 0;
                                }
                                return ok;
                            }
                        }));
                    }
                    int total = 0;
                    for (Future<Integer> f : fs) {
                        total += f.get(60, TimeUnit.SECONDS);
                    }
                    assertEquals(1000, total);
                } finally {
                    pool.shutdownNow();
                    assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
                }
                awaitNoConnections(h);
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("a client that disconnects mid-request costs only that request; others are served, nothing is left open")
        void disconnectMidRequest() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-midreq")) {
                for (int i = 0; i < 10; i++) {
                    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                        ch.connect(UnixDomainSocketAddress.of(h.socket));
                        ch.write(ByteBuffer.wrap(utf8("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_malloc_cr")));
                    }
                }
                // and one that sends a whole request, then closes before reading its response
                try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                    ch.connect(UnixDomainSocketAddress.of(h.socket));
                    ch.write(ByteBuffer.wrap(utf8("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_malloc_create\",\"id\":1,"
                            + "\"params\":{\"name\":\"Gone\",\"block_size\":512,\"num_blocks\":64}}")));
                }
                assertThat(h.call("spdk_get_version", null).get("version").asText()).startsWith("Spindle");
                awaitNoConnections(h);
                // the whole request was still carried out (nothing lost), only its answer had nowhere to go
                await().atMost(Duration.ofSeconds(10)).until(() -> h.request("bdev_get_bdevs", "{\"name\":\"Gone\"}").has("result"));
            }
        }

        @Test
        @Timeout(120)
        @DisplayName("a client that never reads its replies is throttled at max-pending-output; others are served; all is freed when it goes")
        void neverReads() throws Exception {
            long cap = 256 * 1024;
            try (RpcHarness h = new RpcHarness("rpc-noread", b -> b.maxPendingOutputBytes(cap), false)) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(h.socket));
                byte[] req = utf8("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_get_bdevs\",\"id\":1}");
                AtomicLong sent = new AtomicLong();
                AtomicBoolean writerDone = new AtomicBoolean();
                Thread writer = new Thread(() -> {
                    try {
                        for (int i = 0; i < 100_000; i++) { // ~200 MB of responses if nothing pushed back
                            ByteBuffer bb = ByteBuffer.wrap(req);
                            while (bb.hasRemaining()) {
                                ch.write(bb);
                            }
                            sent.incrementAndGet();
                        }
                    } catch (IOException e) {
                        // closed by the test
                    } finally {
                        writerDone.set(true);
                    }
                }, "never-reads-writer");
                writer.setDaemon(true);
                writer.start();
                // the server stops reading it: the writer blocks long before its 100000 requests are out
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    long a = sent.get();
                    Thread.sleep(500); // a stalled writer is seen as no progress over a window: the kernel gives no other sign
                    return sent.get() == a && !writerDone.get();
                });
                assertThat(h.spindle.rpcStats().maxPendingPerConnection()).as("queued for the client that does not read")
                        .isLessThan(cap + 64 * 1024);
                // everyone else is served meanwhile
                for (int i = 0; i < 20; i++) {
                    assertThat(h.call("bdev_get_bdevs", "{\"name\":\"Malloc0\"}").get(0).get("name").asText()).isEqualTo("Malloc0");
                }
                ch.close();
                writer.join(10_000);
                awaitNoConnections(h);
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("past max-connections a client waits in the listen backlog and is served once another connection closes")
        void connectionLimit() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-maxconn", b -> b.maxConnections(2), false)) {
                RpcClient a = h.client();
                try (RpcClient b = h.client(); RpcClient c = h.client()) {
                    assertThat(a.call("spdk_get_version", null)).isNotNull();
                    assertThat(b.call("spdk_get_version", null)).isNotNull();
                    ExecutorService pool = Executors.newSingleThreadExecutor();
                    try {
                        Future<JsonNode> third = pool.submit(() -> c.call("spdk_get_version", null));
                        // the third connection is not accepted while two are open: its request waits, unread, in the backlog
                        await().atMost(Duration.ofSeconds(10)).until(() -> h.spindle.rpcStats().connections() == 2);
                        assertThat(h.spindle.rpcStats().connections()).isEqualTo(2);
                        assertThat(third).isNotDone();
                        a.close();
                        assertThat(third.get(30, TimeUnit.SECONDS).get("version").asText()).startsWith("Spindle");
                        assertThat(b.call("spdk_get_version", null)).isNotNull();
                    } finally {
                        pool.shutdownNow();
                    }
                }
            }
        }
    }

    @DisplayName("the socket")
    class Socket {
        @Test
        @Timeout(60)
        @DisplayName("the socket file has mode 0600; socket and lock file are removed at stop")
        void modeAndCleanup() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-mode")) {
                assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(h.socket))).isEqualTo("rw-------");
                assertThat(Path.of(h.socket + ".lock")).exists();
                assertThat(h.spindle.rpcSocketPath()).isEqualTo(h.socket.toAbsolutePath());
            } // close() asserts both files are gone
        }

        @Test
        @Timeout(60)
        @DisplayName("a second server on the same path fails to start, naming the lock; the first one keeps serving")
        void secondServerRefused() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-lock1")) {
                assertThatThrownBy(() -> io.spindle.app.Spindle.start(io.spindle.app.SpindleConfig.builder().name("rpc-lock2")
                        .rpc(RpcServerConfig.builder().socket(h.socket).conclude()).conclude()))
                        .isInstanceOf(SpindleStartException.class)
                        .hasMessageContaining("is in use by another Spindle target").hasMessageContaining(h.socket + ".lock");
                assertThat(h.socket).exists();
                assertThat(h.call("spdk_get_version", null)).isNotNull();
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("a stale socket file left by a dead server is replaced; a path that is not a socket is refused")
        void staleSocketReplaced() throws Exception {
            Path dir = Files.createTempDirectory(Path.of("/tmp"), "sprpc");
            try {
                Path sock = dir.resolve("s.sock");
                try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                    dead.bind(UnixDomainSocketAddress.of(sock)); // closed without unlinking, as a killed process leaves it
                }
                assertThat(sock).exists();
                io.spindle.app.Spindle s = io.spindle.app.Spindle.start(io.spindle.app.SpindleConfig.builder().name("rpc-stale")
                        .rpc(RpcServerConfig.builder().socket(sock).conclude()).conclude());
                try (RpcClient c = RpcClient.connect(sock, Duration.ofSeconds(10))) {
                    assertThat(c.call("spdk_get_version", null)).isNotNull();
                } finally {
                    assertThat(s.stopAndWait().clean()).isTrue();
                }
                assertThat(sock).doesNotExist();

                Path file = dir.resolve("plain");
                Files.writeString(file, "not a socket");
                assertThatThrownBy(() -> io.spindle.app.Spindle.start(io.spindle.app.SpindleConfig.builder().name("rpc-notsock")
                        .rpc(RpcServerConfig.builder().socket(file).conclude()).conclude()))
                        .isInstanceOf(SpindleStartException.class).hasMessageContaining("exists and is not a socket");
                assertThat(Files.readString(file)).isEqualTo("not a socket");
            } finally {
                try (var st = Files.walk(dir)) {
                    st.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }

        @Test
        @Timeout(60)
        @DisplayName("with a TCP port the server also listens on 127.0.0.1 only")
        void tcp() throws Exception {
            try (RpcHarness h = new RpcHarness("rpc-tcp", b -> b.tcpPort(0), false)) {
                java.net.InetSocketAddress a = h.spindle.rpcTcpAddress();
                assertThat(a.getAddress().isLoopbackAddress()).isTrue();
                try (RpcClient c = RpcClient.connect("127.0.0.1", a.getPort(), Duration.ofSeconds(10))) {
                    assertThat(c.call("bdev_get_bdevs", null).get(0).get("name").asText()).isEqualTo("Malloc0");
                }
            }
        }
    }

    /** Reads one line-terminated response (SPDK ends every response with a newline). */
    static String readLine(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            b.append((char) c);
        }
        return b.toString();
    }

    @Test
    @Timeout(60)
    @DisplayName("every response ends with a newline, so line-oriented clients work too")
    void newlineTerminated() throws Exception {
        try (RpcHarness h = new RpcHarness("rpc-newline"); SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(h.socket));
            ch.write(ByteBuffer.wrap(utf8("{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":1}")));
            String line = readLine(Channels.newInputStream(ch));
            assertThat(RpcHarness.JSON.readTree(line).get("id").asInt()).isEqualTo(1);
        }
    }
}
