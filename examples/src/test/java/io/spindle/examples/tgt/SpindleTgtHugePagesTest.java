package io.spindle.examples.tgt;

import io.spindle.env.HugePages;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code spindle tgt --huge / --no-huge}: the policy the target starts with (spindle.memory.huge-pages). */
class SpindleTgtHugePagesTest {
    @Test
    void theFlagsSetThePolicyAndOnlyOneMayBeGiven() {
        assertThat(SpindleTgt.parse().huge()).isEqualTo(HugePages.Mode.AUTO);
        assertThat(SpindleTgt.parse("--huge").huge()).isEqualTo(HugePages.Mode.ON);
        assertThat(SpindleTgt.parse("-m", "0x1", "--no-huge").huge()).isEqualTo(HugePages.Mode.OFF);
        assertThatThrownBy(() -> SpindleTgt.parse("--no-huge", "--huge")).isInstanceOf(SpindleTgt.UsageException.class)
                .hasMessage("--huge, --no-huge: give one of them");
        assertThat(SpindleTgt.usage()).contains("--huge", "--no-huge");
    }
}
