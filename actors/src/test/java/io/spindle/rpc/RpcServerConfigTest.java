package io.spindle.rpc;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code spindle.rpc}: defaults, HOCON, and bad values named with their bound. */
class RpcServerConfigTest {
    @Test
    @DisplayName("off by default; enabled from HOCON with the reference.conf defaults")
    void hocon() {
        assertThat(RpcServerConfig.fromConfig(ConfigFactory.load())).isNull();
        RpcServerConfig c = RpcServerConfig.fromConfig(ConfigFactory.parseString("spindle.rpc { enabled = on, tcp-port = 0 }")
                .withFallback(ConfigFactory.load()));
        assertThat(c.socket()).isEqualTo(RpcServerConfig.DEFAULT_SOCKET);
        assertThat(c.tcpPort()).isZero();
        assertThat(c.maxRequestBytes()).isEqualTo(4 << 20);
        assertThat(c.maxConnections()).isEqualTo(128);
        assertThat(c.idleTimeout()).isEqualTo(Duration.ofMinutes(10));
        assertThat(c.maxBatchSize()).isEqualTo(1024);
        assertThat(c.maxPendingOutputBytes()).isEqualTo(16L << 20);
        assertThat(RpcServerConfig.fromConfig(ConfigFactory.parseString("spindle.rpc { enabled = on, listen = \"\", tcp-port = 5260 }")
                .withFallback(ConfigFactory.load())).socket()).isNull();
    }

    @Test
    @DisplayName("bad values are refused naming the key and the bound")
    void bounds() {
        assertThatThrownBy(() -> RpcServerConfig.builder().socket(null).conclude())
                .hasMessageContaining("the server needs a Unix socket or a TCP port");
        assertThatThrownBy(() -> RpcServerConfig.builder().socket(Path.of("/tmp/" + "x".repeat(120))).conclude())
                .hasMessageContaining("a Unix socket path must be at most 107 bytes");
        assertThatThrownBy(() -> RpcServerConfig.builder().tcpPort(70000).conclude()).hasMessageContaining("spindle.rpc.tcp-port=70000");
        assertThatThrownBy(() -> RpcServerConfig.builder().maxRequestBytes(10).conclude())
                .hasMessageContaining("spindle.rpc.max-request-size=10: must be >= 1024");
        assertThatThrownBy(() -> RpcServerConfig.builder().maxConnections(0).conclude()).hasMessageContaining("max-connections=0");
        assertThatThrownBy(() -> RpcServerConfig.builder().maxPendingOutputBytes(1).conclude()).hasMessageContaining("max-pending-output=1");
        assertThatThrownBy(() -> RpcServerConfig.builder().idleTimeout(Duration.ofSeconds(-1)).conclude())
                .hasMessageContaining("spindle.rpc.idle-timeout=PT-1S: must be >= 0");
        assertThatThrownBy(() -> RpcServerConfig.builder().maxBatchSize(0).conclude()).hasMessageContaining("spindle.rpc.max-batch-size=0: must be >= 1");
    }
}
