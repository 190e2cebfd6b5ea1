package io.spindle.transport.aeron;

import com.typesafe.config.Config;
import io.aeron.ChannelUri;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The {@code spindle.transport} settings: defaults, bad values refused naming the key and bound, and the loopback MTU. */
class TransportConfigTest {
    private static TransportConfig config(String overrides) {
        Config c = ConfigFactory.parseString(overrides).withFallback(ConfigFactory.load());
        return TransportConfig.fromConfig(c);
    }

    @Test
    void defaultsUseA64KiBMtuOnLoopbackAnd8KiBElsewhere() {
        TransportConfig c = config("");
        assertThat(c.mtu()).isEqualTo(8192);
        assertThat(c.loopbackMtu()).isEqualTo(65504);
    }

    @Test
    void badMtusAreRefusedNamingTheKeyAndTheBound() {
        assertThatThrownBy(() -> config("spindle.transport.loopback-mtu = 65536"))
                .hasMessageContaining("spindle.transport.loopback-mtu=65536").hasMessageContaining("between 1408 and 65504");
        assertThatThrownBy(() -> config("spindle.transport.loopback-mtu = 4100"))
                .hasMessageContaining("spindle.transport.loopback-mtu=4100").hasMessageContaining("multiple of 32");
        assertThatThrownBy(() -> config("spindle.transport { term-length = 256KiB, receive-window = 64KiB }"))
                .hasMessageContaining("spindle.transport.loopback-mtu=65504").hasMessageContaining("term-length/8 (32768)");
        assertThatThrownBy(() -> config("spindle.transport.socket-buffer = 32KiB"))
                .hasMessageContaining("spindle.transport.socket-buffer=32768").hasMessageContaining("(65504)");
        assertThatThrownBy(() -> config("spindle.transport.receive-window = 16KiB"))
                .hasMessageContaining("spindle.transport.receive-window=16384").hasMessageContaining("(65504)");
        assertThatThrownBy(() -> config("spindle.transport.mtu = 1000"))
                .hasMessageContaining("spindle.transport.mtu=1000");
    }

    @Test
    void udpPublicationsToALoopbackAddressGetTheLoopbackMtu() {
        TransportConfig c = config("");
        for (String endpoint : new String[] {"127.0.0.1:4420", "127.3.4.5:4420", "[::1]:4420", "localhost:4420"}) {
            ChannelUri uri = ChannelUri.parse(AeronTransport.withMtu("aeron:udp?endpoint=" + endpoint, c));
            assertThat(uri.media()).isEqualTo("udp");
            assertThat(uri.get("endpoint")).as(endpoint).isEqualTo(endpoint);
            assertThat(uri.get("mtu")).as(endpoint).isEqualTo("65504");
        }
    }

    @Test
    void otherChannelsKeepTheirMtu() {
        TransportConfig c = config("");
        // another host, a channel naming its own MTU, IPC, and an external driver (whose term length is not ours)
        assertThat(AeronTransport.withMtu("aeron:udp?endpoint=192.0.2.7:4420", c)).isEqualTo("aeron:udp?endpoint=192.0.2.7:4420");
        assertThat(AeronTransport.withMtu("aeron:udp?endpoint=127.0.0.1:4420|mtu=8192", c)).isEqualTo("aeron:udp?endpoint=127.0.0.1:4420|mtu=8192");
        assertThat(AeronTransport.withMtu("aeron:ipc", c)).isEqualTo("aeron:ipc");
        TransportConfig ext = config("spindle.transport { driver = external, aeron-dir = \"/tmp/x\" }");
        assertThat(AeronTransport.withMtu("aeron:udp?endpoint=127.0.0.1:4420", ext)).isEqualTo("aeron:udp?endpoint=127.0.0.1:4420");
        TransportConfig same = config("spindle.transport.loopback-mtu = 8192");
        assertThat(AeronTransport.withMtu("aeron:udp?endpoint=127.0.0.1:4420", same)).isEqualTo("aeron:udp?endpoint=127.0.0.1:4420");
    }
}
