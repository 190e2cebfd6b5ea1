package io.spindle.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every message and Distributed Data value that crosses nodes, through the serializer Pekko binds to it on a
 * cluster-provider ActorSystem: it is jackson-cbor (not Java serialization), and it comes back equal.
 */
class ClusterSerializationTest {
    private static ActorSystem<Void> system;
    private static Serialization serialization;

    @BeforeAll
    static void start() {
        ClusterConfig cc = ClusterConfig.builder().port(0).seedNodes(List.of()).conclude();
        system = ActorSystem.create(Behaviors.empty(), "spindle", cc.pekkoConfig().withFallback(ConfigFactory.load()));
        serialization = SerializationExtension.get(system);
    }

    @AfterAll
    static void stop() {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().join();
    }

    static Export export(String bdev, int nsid) {
        return new Export("nqn.2016-06.io.spindle:node2", nsid, bdev, UUID.nameUUIDFromBytes(bdev.getBytes()).toString(), 512, 131072,
                List.of(new Listener("AERON", "IPv4", "127.0.0.1", "4420"), new Listener("AERON", "IPv4", "10.0.0.2", "4420")));
    }

    private static Object roundTrip(Object o) {
        Serializer s = serialization.findSerializerFor(o);
        byte[] bytes = serialization.serialize(o).get();
        String manifest = Serializers.manifestFor(s, o);
        return serialization.deserialize(bytes, s.identifier(), manifest).get();
    }

    @Test
    @DisplayName("Listener, Export and NodeExports are bound to jackson-cbor (id 33) and round-trip equal")
    void everyCrossNodeTypeRoundTrips() {
        Listener l = new Listener("AERON", "IPv4", "127.0.0.1", "4420");
        Export e = export("Malloc0", 1);
        NodeExports n = new NodeExports("node2", List.of(e, export("Null0", 2)));
        NodeExports empty = new NodeExports("node3", List.of());
        for (Object o : List.of(l, e, n, empty)) {
            Serializer s = serialization.findSerializerFor(o);
            assertThat(s.identifier()).as(o.getClass().getSimpleName() + "'s serializer").isEqualTo(33);
            assertThat(s.getClass().getSimpleName()).isEqualTo("JacksonCborSerializer");
            assertThat(roundTrip(o)).isEqualTo(o);
        }
    }

    @Test
    @DisplayName("the directory (an LWWMap of NodeExports) round-trips through Distributed Data's serializer with its values in CBOR")
    void directoryRoundTrips() {
        SelfUniqueAddress self = DistributedData.get(system).selfUniqueAddress();
        LWWMap<String, NodeExports> map = LWWMap.<String, NodeExports>create()
                .put(self, "pekko://spindle@127.0.0.1:25521#1", new NodeExports("node2", List.of(export("Malloc0", 1))))
                .put(self, "pekko://spindle@127.0.0.1:25522#2", new NodeExports("node3", List.of()));
        @SuppressWarnings("unchecked")
        LWWMap<String, NodeExports> back = (LWWMap<String, NodeExports>) roundTrip(map);
        assertThat(back.getEntries()).isEqualTo(map.getEntries());
        assertThat(serialization.findSerializerFor(map).identifier()).as("ddata's own serializer, not Java's").isNotEqualTo(1);
    }

    @Test
    @DisplayName("Java serialization is off: a plain Serializable has no serializer")
    void javaSerializationOff() {
        assertThat(system.settings().config().getBoolean("pekko.actor.allow-java-serialization")).isFalse();
        assertThatThrownBy(() -> serialization.serialize(new java.util.ArrayList<>(List.of("x"))).get())
                .hasMessageContaining("ava serializ");
    }

    @Test
    @DisplayName("a CBOR payload another node sends with an invalid field is refused when it is read, naming the field")
    void invalidPayloadRefused() throws Exception {
        ObjectMapper cbor = new ObjectMapper(new CBORFactory());
        Map<String, Object> bad = new LinkedHashMap<>();
        bad.put("nqn", "nqn.x");
        bad.put("nsid", 0);
        bad.put("bdev", "Malloc0");
        bad.put("uuid", UUID.randomUUID().toString());
        bad.put("blockSize", 512);
        bad.put("numBlocks", 8);
        bad.put("listeners", List.of());
        byte[] bytes = cbor.writeValueAsBytes(bad);
        Serializer s = serialization.findSerializerFor(export("Malloc0", 1));
        assertThatThrownBy(() -> serialization.deserialize(bytes, s.identifier(), Export.class.getName()).get())
                .hasStackTraceContaining("export nsid=0: must be >= 1");
        bad.put("nsid", 1);
        bad.put("uuid", "not-a-uuid");
        byte[] bytes2 = cbor.writeValueAsBytes(bad);
        assertThatThrownBy(() -> serialization.deserialize(bytes2, s.identifier(), Export.class.getName()).get())
                .hasStackTraceContaining("export uuid=not-a-uuid: must be a UUID");
    }
}
