package io.spindle.examples.hello;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** hello_bdev end to end: the string written to Malloc0 is read back. */
class HelloBdevTest {
    @Test
    @Timeout(60)
    void writesHelloWorldToMalloc0AndReadsItBack() throws Exception {
        assertEquals("Hello World!", HelloBdev.run());
    }
}
