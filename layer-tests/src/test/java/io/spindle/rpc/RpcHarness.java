package io.spindle.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleApp;
import io.spindle.app.SpindleConfig;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.runtime.ReactorConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A standalone Spindle on two reactors with the bdev subsystem, {@code Malloc0} (8 MiB, 512-byte blocks) and
 * the RPC server on a Unix socket in a private temporary directory (short, under /tmp: a socket path is at
 * most 107 bytes). {@link #close()} stops it, asserts the stop was clean, and removes the directory.
 */
final class RpcHarness implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    final Path dir;
    final Path socket;
    final Spindle spindle;

    RpcHarness(String name) throws IOException {
        this(name, b -> b, false);
    }

    RpcHarness(String name, java.util.function.UnaryOperator<RpcServerConfig.Builder> rpc, boolean waitForStartInit) throws IOException {
        this(name, rpc, waitForStartInit, b -> { });
    }

    /** @param bdevSetup configures the bdev subsystem before the start (e.g. its blocking executor) */
    RpcHarness(String name, java.util.function.UnaryOperator<RpcServerConfig.Builder> rpc, boolean waitForStartInit,
               java.util.function.Consumer<BdevSubsystem> bdevSetup) throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "sprpc");
        socket = dir.resolve("spindle.sock");
        BdevSubsystem bdev = new BdevSubsystem();
        bdevSetup.accept(bdev);
        if (!waitForStartInit) {
            bdev.onStart(l -> l.module(MallocModule.class).create(l, MallocModule.Options.of("Malloc0", 16384, 512)));
        }
        spindle = Spindle.start(SpindleConfig.builder(ConfigFactory.parseString("pekko.loglevel = WARNING")).name(name)
                .reactor(ReactorConfig.builder().mask("0x3").conclude())
                .subsystem(bdev)
                .rpc(rpc.apply(RpcServerConfig.builder().socket(socket)).conclude())
                .waitForStartInit(waitForStartInit)
                .conclude());
    }

    RpcClient client() throws IOException {
        return RpcClient.connect(socket, Duration.ofSeconds(20));
    }

    /** One call on a fresh connection. */
    JsonNode call(String method, String paramsJson) throws Exception {
        try (RpcClient c = client()) {
            return c.call(method, paramsJson == null ? null : JSON.readTree(paramsJson));
        }
    }

    /** The raw response of one call on a fresh connection. */
    JsonNode request(String method, String paramsJson) throws Exception {
        try (RpcClient c = client()) {
            return c.request(method, paramsJson == null ? null : JSON.readTree(paramsJson));
        }
    }

    /** Requests (or batches) the socket loop has handed to the server so far ({@code RpcServer.Stats.requests}). */
    long requestsHanded() {
        return spindle.rpcStats().requests();
    }

    /**
     * Returns once the server has run the handler of every request the loop handed over, up to {@code count} in
     * all: waits until the loop has counted them, then round-trips {@code spdk_get_version} on a fresh connection.
     * The loop hands requests to the server actor from its one thread, in the order it read them, and the actor
     * runs a request's handler when it takes the request; so that answer comes after those handlers were invoked.
     */
    void awaitHandlersInvoked(long count) throws Exception {
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> requestsHanded() >= count);
        assertThat(call("spdk_get_version", null).has("version")).isTrue();
    }

    static ObjectNode params(String json) {
        try {
            return (ObjectNode) JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            SpindleApp.Stopped s = spindle.stopAndWait();
            assertThat(s.leaks()).isEmpty();
            assertThat(s.clean()).isTrue();
            assertThat(socket).as("the socket file is removed at stop").doesNotExist();
            assertThat(Path.of(socket + ".lock")).as("the lock file is removed at stop").doesNotExist();
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
