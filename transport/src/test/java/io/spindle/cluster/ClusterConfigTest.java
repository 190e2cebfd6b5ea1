package io.spindle.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClusterConfigTest {
    @Nested
    class Defaults {
        @Test
        @DisplayName("reference.conf: off, cluster spindle, node1 on 127.0.0.1:25520, three loopback seeds, tcp, keep-majority after 5s")
        void referenceDefaults() {
            ClusterConfig c = ClusterConfig.builder().conclude();
            assertThat(c.enabled()).isFalse();
            assertThat(c.clusterName()).isEqualTo("spindle");
            assertThat(c.nodeName()).isEqualTo("node1");
            assertThat(c.host()).isEqualTo("127.0.0.1");
            assertThat(c.port()).isEqualTo(25520);
            assertThat(c.seedNodes()).containsExactly("pekko://spindle@127.0.0.1:25520", "pekko://spindle@127.0.0.1:25521",
                    "pekko://spindle@127.0.0.1:25522");
            assertThat(c.transport()).isEqualTo(ClusterConfig.Transport.TCP);
            assertThat(c.strategy()).isEqualTo("keep-majority");
            assertThat(c.stableAfter()).isEqualTo(Duration.ofSeconds(5));
            assertThat(c.roles()).containsExactly("spindle", "node=node1");
            assertThat(c.attachDefaults()).isEqualTo(new ClusterConfig.AttachDefaults(-1, 1, 0));
        }

        @Test
        @DisplayName("pekkoConfig: provider cluster, Artery address, no Pekko seed nodes (the subsystem joins), roles, the Split Brain Resolver, failure detector, ddata intervals")
        void pekkoConfig() {
            Config p = ClusterConfig.builder().nodeName("node2").port(25521).transport(ClusterConfig.Transport.AERON_UDP).conclude().pekkoConfig();
            assertThat(p.getString("pekko.actor.provider")).isEqualTo("cluster");
            assertThat(p.getString("pekko.remote.artery.transport")).isEqualTo("aeron-udp");
            assertThat(p.getString("pekko.remote.artery.canonical.hostname")).isEqualTo("127.0.0.1");
            assertThat(p.getInt("pekko.remote.artery.canonical.port")).isEqualTo(25521);
            // Pekko must not join by itself when the ActorSystem starts (before the node's exports exist), and seed nodes
            // set elsewhere are overridden: the cluster subsystem joins through seedNodes() (ClusterSubsystem.join)
            assertThat(p.getStringList("pekko.cluster.seed-nodes")).isEmpty();
            assertThat(p.withFallback(ConfigFactory.parseString("pekko.cluster.seed-nodes = [\"pekko://spindle@10.0.0.1:1\"]"))
                    .getStringList("pekko.cluster.seed-nodes")).as("pekkoConfig() in front wins").isEmpty();
            assertThat(p.getStringList("pekko.cluster.roles")).containsExactly("spindle", "node=node2");
            assertThat(p.getString("pekko.cluster.downing-provider-class")).isEqualTo("org.apache.pekko.cluster.sbr.SplitBrainResolverProvider");
            assertThat(p.getString("pekko.cluster.split-brain-resolver.active-strategy")).isEqualTo("keep-majority");
            assertThat(p.getDuration("pekko.cluster.split-brain-resolver.stable-after")).isEqualTo(Duration.ofSeconds(5));
            assertThat(p.getDuration("pekko.cluster.failure-detector.heartbeat-interval")).isEqualTo(Duration.ofMillis(500));
            assertThat(p.getDuration("pekko.cluster.failure-detector.acceptable-heartbeat-pause")).isEqualTo(Duration.ofSeconds(2));
            assertThat(p.getDuration("pekko.cluster.distributed-data.notify-subscribers-interval")).isEqualTo(Duration.ofMillis(100));
            assertThat(p.getBoolean("pekko.actor.allow-java-serialization")).isFalse();
            assertThat(p.hasPath("pekko.remote.artery.bind.hostname")).isFalse();
        }

        @Test
        @DisplayName("aeron-udp: Artery gives up a control-stream message after aeron-udp.give-up (15s), not Pekko's 6 hours, so a stop never waits on one to a member that just left; tcp keeps Pekko's setting")
        void aeronUdpGiveUp() {
            ClusterConfig udp = ClusterConfig.builder().transport(ClusterConfig.Transport.AERON_UDP).conclude();
            assertThat(udp.aeronUdpGiveUp()).isEqualTo(Duration.ofSeconds(15));
            Config pekkoReference = ConfigFactory.defaultReference();
            assertThat(pekkoReference.getDuration("pekko.remote.artery.advanced.give-up-system-message-after")).isEqualTo(Duration.ofHours(6));
            assertThat(udp.pekkoConfig().withFallback(pekkoReference).getDuration("pekko.remote.artery.advanced.give-up-system-message-after"))
                    .isEqualTo(Duration.ofSeconds(15));
            Config tcp = ClusterConfig.builder().conclude().pekkoConfig();
            assertThat(tcp.hasPath("pekko.remote.artery.advanced.give-up-system-message-after")).isFalse();
            ClusterConfig fromHocon = ClusterConfig.fromConfig(ConfigFactory.parseString("spindle.cluster { transport = aeron-udp, aeron-udp.give-up = 40s }"));
            assertThat(fromHocon.pekkoConfig().getDuration("pekko.remote.artery.advanced.give-up-system-message-after")).isEqualTo(Duration.ofSeconds(40));
        }

        @Test
        @DisplayName("the transport module's reference.conf binds CborSerializable to jackson-cbor and leaves the provider local")
        void referenceBindsCbor() {
            Config ref = ConfigFactory.load();
            assertThat(ref.getString("pekko.actor.serialization-bindings.\"io.spindle.cluster.CborSerializable\"")).isEqualTo("jackson-cbor");
            assertThat(ref.getString("pekko.actor.provider")).isEqualTo("local");
        }

        @Test
        @DisplayName("HOCON spindle.cluster keys are read: seeds as host:port or full addresses, roles, strategy, timings")
        void fromHocon() {
            ClusterConfig c = ClusterConfig.fromConfig(ConfigFactory.parseString("""
                    spindle.cluster { enabled = on, name = store, node-name = "a-1", host = "10.0.0.5", port = 4000,
                      bind-host = "0.0.0.0", bind-port = 4001,
                      seed-nodes = ["10.0.0.5:4000", "pekko://store@10.0.0.6:4000"], roles = [fast],
                      split-brain-resolver { active-strategy = static-quorum, stable-after = 9s, static-quorum-size = 3 } }
                    """));
            assertThat(c.enabled()).isTrue();
            assertThat(c.seedNodes()).containsExactly("pekko://store@10.0.0.5:4000", "pekko://store@10.0.0.6:4000");
            assertThat(c.roles()).containsExactly("spindle", "node=a-1", "fast");
            Config p = c.pekkoConfig();
            assertThat(p.getString("pekko.remote.artery.bind.hostname")).isEqualTo("0.0.0.0");
            assertThat(p.getString("pekko.remote.artery.bind.port")).isEqualTo("4001");
            assertThat(p.getInt("pekko.cluster.split-brain-resolver.static-quorum.quorum-size")).isEqualTo(3);
            assertThat(p.getString("pekko.cluster.split-brain-resolver.active-strategy")).isEqualTo("static-quorum");
        }
    }

    @Nested
    class Conclude {
        private ClusterConfig.Builder b() {
            return ClusterConfig.builder();
        }

        @Test
        @DisplayName("bad values are refused with the key, the value and the bound")
        void refusesBadValues() {
            assertThatThrownBy(() -> b().clusterName("my cluster").conclude()).hasMessageContaining("spindle.cluster.name=my cluster");
            assertThatThrownBy(() -> b().nodeName("-x").conclude()).hasMessageContaining("spindle.cluster.node-name=-x");
            assertThatThrownBy(() -> b().nodeName("n".repeat(65)).conclude()).hasMessageContaining("1 to 64");
            assertThatThrownBy(() -> b().port(70000).conclude()).hasMessageContaining("spindle.cluster.port=70000: must be between 0 and 65535");
            assertThatThrownBy(() -> b().bindPort(-2).conclude()).hasMessageContaining("spindle.cluster.bind-port=-2");
            assertThatThrownBy(() -> b().seedNodes(List.of("localhost")).conclude())
                    .hasMessageContaining("spindle.cluster.seed-nodes=localhost: must be host:port");
            assertThatThrownBy(() -> b().seedNodes(List.of("h:0")).conclude()).hasMessageContaining("port must be between 1 and 65535");
            assertThatThrownBy(() -> b().seedNodes(List.of("pekko://other@h:1")).conclude())
                    .hasMessageContaining("names cluster other, but this node's cluster is spindle");
            assertThatThrownBy(() -> b().strategy("lease-majority").conclude())
                    .hasMessageContaining("active-strategy=lease-majority: must be one of keep-majority, keep-oldest, down-all, static-quorum");
            assertThatThrownBy(() -> b().stableAfter(Duration.ZERO).conclude()).hasMessageContaining("stable-after=0ms: must be > 0");
            assertThatThrownBy(() -> b().failureDetector(Duration.ofSeconds(2), Duration.ofSeconds(1)).conclude())
                    .hasMessageContaining("acceptable-heartbeat-pause=1000ms: must be >= heartbeat-interval=2000ms");
            assertThatThrownBy(() -> b().roles(List.of("node=x")).conclude()).hasMessageContaining("must be non-blank and not start with node=");
            assertThatThrownBy(() -> b().aeronUdpGiveUp(Duration.ZERO).conclude()).hasMessageContaining("spindle.cluster.aeron-udp.give-up=0ms: must be > 0");
            assertThatThrownBy(() -> b().transport(ClusterConfig.Transport.AERON_UDP).aeronUdpGiveUp(Duration.ofSeconds(7)).conclude())
                    .hasMessageContaining("spindle.cluster.aeron-udp.give-up=7000ms: must be > split-brain-resolver.stable-after"
                            + " + failure-detector.acceptable-heartbeat-pause = 7000ms");
            assertThat(b().aeronUdpGiveUp(Duration.ofSeconds(7)).conclude().aeronUdpGiveUp()).as("tcp does not use it").isEqualTo(Duration.ofSeconds(7));
            assertThatThrownBy(() -> ClusterConfig.Transport.parse("spindle.cluster.transport", "udp"))
                    .hasMessageContaining("spindle.cluster.transport=udp: must be tcp or aeron-udp");
        }

        @Test
        @DisplayName("duplicate seeds are listed once; port 0 is allowed for a non-seed node")
        void seedsDeduplicated() {
            ClusterConfig c = b().port(0).seedNodes(List.of("127.0.0.1:1", "pekko://spindle@127.0.0.1:1", "127.0.0.1:2")).conclude();
            assertThat(c.seedNodes()).containsExactly("pekko://spindle@127.0.0.1:1", "pekko://spindle@127.0.0.1:2");
        }
    }
}
