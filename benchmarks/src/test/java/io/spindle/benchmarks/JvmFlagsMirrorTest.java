package io.spindle.benchmarks;

import org.junit.jupiter.api.Test;
import org.openjdk.jmh.runner.BenchmarkList;
import org.openjdk.jmh.runner.BenchmarkListEntry;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Keeps {@link JvmFlags} equal to the parent pom's {@code spindle.jvm.flags} (Surefire passes the property in),
 * and checks that every benchmark JMH will run forks once with exactly those flags appended, as read back from
 * the {@code META-INF/BenchmarkList} the annotation processor generated.
 */
class JvmFlagsMirrorTest {
    @Test
    void constantsMirrorTheParentPomProperty() {
        String property = System.getProperty("spindle.jvm.flags");
        assertNotNull(property, "system property spindle.jvm.flags missing: run this test through Maven (Surefire sets it)");
        List<String> fromPom = Arrays.asList(property.trim().split("\\s+"));
        assertEquals(fromPom, JvmFlags.all(), "JvmFlags drifted from <spindle.jvm.flags> in the parent pom.xml");
    }

    @Test
    void everyBenchmarkForksOnceWithTheFlags() throws Exception {
        List<BenchmarkListEntry> entries;
        try (InputStream in = JvmFlagsMirrorTest.class.getResourceAsStream(BenchmarkList.BENCHMARK_LIST)) {
            assertNotNull(in, BenchmarkList.BENCHMARK_LIST + " not generated");
            entries = BenchmarkList.readBenchmarkList(in);
        }
        assertFalse(entries.isEmpty(), "no benchmarks generated");
        List<String> wrong = new ArrayList<>();
        for (BenchmarkListEntry e : entries) {
            Collection<String> append = e.getJvmArgsAppend().orElse(List.of());
            if (!new ArrayList<>(append).equals(JvmFlags.all()) || e.getForks().orElse(-1) != 1) {
                wrong.add(e.getUsername() + " forks=" + e.getForks() + " jvmArgsAppend=" + append);
            }
        }
        assertTrue(wrong.isEmpty(), "benchmarks without @Fork(value = 1, jvmArgsAppend = <all JvmFlags>): " + wrong);
    }
}
