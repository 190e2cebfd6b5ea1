package io.spindle.bdev;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.BackendHarness;
import io.spindle.backends.malloc.MallocModule;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link Bdev#annotate}: a section of {@code driver_specific} added by a part of Spindle other than the bdev's module. */
@Timeout(60)
class BdevAnnotateTest {
    static final ActorTestKit kit = ActorTestKit.create("bdev-annotate-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    @DisplayName("annotate adds a driver_specific section beside the module's, a null value removes it, the module's own name is refused")
    void annotateAddsAndRemovesASection() {
        try (BackendHarness h = new BackendHarness(kit, 1, 64)) {
            Bdev b = h.await(h.malloc.create(h.layer, MallocModule.Options.of("Malloc0", 128, 4096)));
            ObjectMapper m = new ObjectMapper();
            ObjectNode cluster = m.createObjectNode().put("node", "node3").put("address", "pekko://spindle@127.0.0.1:25522");
            b.annotate("cluster", cluster);
            ObjectNode j = b.toJson(m);
            String mallocSection = "\"malloc\":" + j.get("driver_specific").get("malloc"); // the module's own: the memory backing it
            assertThat(j.get("driver_specific").toString())
                    .isEqualTo("{" + mallocSection + ",\"cluster\":{\"node\":\"node3\",\"address\":\"pekko://spindle@127.0.0.1:25522\"}}");
            b.annotate("cluster", null);
            assertThat(b.toJson(m).get("driver_specific").toString()).isEqualTo("{" + mallocSection + "}");
            assertThatThrownBy(() -> b.annotate("malloc", cluster)).hasMessageContaining("driver_specific section=malloc");
            assertThatThrownBy(() -> b.annotate("Cluster", cluster)).hasMessageContaining("lower-case identifier");
        }
    }
}
