package io.spindle.backends;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleApp;
import io.spindle.app.SpindleConfig;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.rpc.RpcClient;
import io.spindle.rpc.RpcServerConfig;
import io.spindle.runtime.ReactorConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A standalone Spindle on real reactor threads ({@code mask}, default 0x3) with the bdev subsystem (every module
 * found by ServiceLoader) and the RPC server on a Unix socket in a private temporary directory, as {@code spindle tgt}
 * runs. {@link #close()} stops it, asserts the stop was clean and nothing leaked, and removes the directory.
 */
public final class TgtHarness implements AutoCloseable {
    /** The mapper for params and results. */
    public static final ObjectMapper JSON = new ObjectMapper();

    /** The private directory (holds the socket). */
    public final Path dir;
    /** The RPC socket. */
    public final Path socket;
    /** The running Spindle. */
    public final Spindle spindle;
    private boolean closed;

    /** A target named {@code name} on reactors 0x3. */
    public TgtHarness(String name) throws IOException {
        this(name, "0x3");
    }

    /** A target named {@code name} on the reactors of {@code mask}. */
    public TgtHarness(String name, String mask) throws IOException {
        this(name, mask, null);
    }

    /**
     * A target named {@code name} on the reactors of {@code mask}, configured from SPDK's JSON config
     * {@code jsonConfig} (as {@code spindle tgt --json}) when it is not null.
     */
    public TgtHarness(String name, String mask, String jsonConfig) throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "sptgt");
        socket = dir.resolve("spindle.sock");
        spindle = Spindle.start(SpindleConfig.builder(ConfigFactory.parseString("pekko.loglevel = WARNING")).name(name)
                .reactor(ReactorConfig.builder().mask(mask).conclude())
                .subsystem(new BdevSubsystem())
                .rpc(RpcServerConfig.builder().socket(socket).conclude())
                .waitForStartInit(jsonConfig != null)
                .conclude());
        if (jsonConfig != null) {
            try {
                io.spindle.rpc.JsonConfig.parse(jsonConfig, "test-config").apply(spindle, true);
            } catch (RuntimeException e) {
                spindle.stopAndWait();
                throw e;
            }
        }
    }

    /** The bdev layer. */
    public BdevLayer layer() {
        return BdevLayer.of(spindle);
    }

    /** One call on a fresh connection; the result, or {@link io.spindle.rpc.RpcException} for an error response. */
    public JsonNode call(String method, String paramsJson) throws Exception {
        try (RpcClient c = RpcClient.connect(socket, Duration.ofSeconds(30))) {
            return c.call(method, paramsJson == null ? null : JSON.readTree(paramsJson));
        }
    }

    /** The raw response (with {@code result} or {@code error}) of one call. */
    public JsonNode request(String method, String paramsJson) throws Exception {
        try (RpcClient c = RpcClient.connect(socket, Duration.ofSeconds(30))) {
            return c.request(method, paramsJson == null ? null : JSON.readTree(paramsJson));
        }
    }

    /** The error object of a call expected to fail. */
    public JsonNode error(String method, String paramsJson) throws Exception {
        JsonNode r = request(method, paramsJson);
        assertThat(r.has("error")).as(method + " " + paramsJson + " should fail but answered " + r).isTrue();
        return r.get("error");
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            SpindleApp.Stopped s = spindle.stopAndWait();
            assertThat(s.leaks()).isEmpty();
            assertThat(s.clean()).isTrue();
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
