package io.spindle.runtime;

import net.openhft.chronicle.core.UnsafeMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fields every cross-thread send touches sit at least a cache line (64 bytes) away from both ends of their
 * object, whatever this JVM's field layout: the padding by class hierarchy is checked with the field offsets HotSpot
 * actually chose, so a layout change that let other fields in (or the padding out) fails here.
 */
class ReactorSendSideTest {
    @Test
    @DisplayName("sendsInProgress, sleeping, exited and thread are padded by at least 64 bytes on both sides within the object")
    void sendFieldsAreOnCacheLinesOfTheirOwn() throws Exception {
        UnsafeMemory u = UnsafeMemory.MEMORY;
        List<Long> hot = new ArrayList<>();
        for (String f : List.of("sendsInProgress", "sleeping", "exited", "thread")) {
            hot.add(u.objectFieldOffset(ReactorSendSide.class.getSuperclass().getDeclaredField(f)));
        }
        long firstHot = hot.stream().mapToLong(Long::longValue).min().orElseThrow();
        long lastHot = hot.stream().mapToLong(Long::longValue).max().orElseThrow();
        long lastPad = -1;
        for (Class<?> c = ReactorSendSide.class; c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (!java.lang.reflect.Modifier.isStatic(f.getModifiers()) && f.getName().startsWith("p")) {
                    lastPad = Math.max(lastPad, u.objectFieldOffset(f));
                }
            }
        }
        // the object header is at offset 0: 64 bytes before the first hot field keep it (and the object before) away
        assertThat(firstHot).as("first send-side field offset").isGreaterThanOrEqualTo(64);
        assertThat(lastPad - lastHot).as("padding after the last send-side field").isGreaterThanOrEqualTo(64);
        assertThat(lastHot - firstHot).as("the send-side fields together").isLessThan(64);
    }
}
