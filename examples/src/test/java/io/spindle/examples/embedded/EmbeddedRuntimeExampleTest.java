package io.spindle.examples.embedded;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Runs the narrated embedded example end to end on two reactors: it must finish clean. */
class EmbeddedRuntimeExampleTest {
    @Test
    @Timeout(60)
    void runsCleanOnTwoReactors() throws Exception {
        assertEquals(0, EmbeddedRuntimeExample.run("0x3"));
    }
}
