package io.spindle.testing;

import io.spindle.runtime.ReactorConfig;
import io.spindle.runtime.ReactorGroup;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.core.io.AbstractReferenceCounted;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

/**
 * {@link LeakCheckExtension} fails a test that leaks: each case runs one test of {@link Subjects} through the
 * real Jupiter engine ({@link EngineTestKit}), with the extension registered the way every Spindle test gets it
 * (auto-detection from {@code META-INF/services}), and asserts the test's reported outcome.
 */
@Timeout(60)
class LeakCheckExtensionTest {
    private static volatile boolean runByEngineTestKit;
    private static final List<Bytes<?>> LEAKED_BYTES = new CopyOnWriteArrayList<>();
    private static final List<ReactorGroup> LEFT_RUNNING = new CopyOnWriteArrayList<>();
    private static final List<io.spindle.env.HugeRegion> LEFT_MAPPED = new CopyOnWriteArrayList<>();

    /** The condition of {@link Subjects}: true only while a case here runs them. */
    static boolean runByEngineTestKit() {
        return runByEngineTestKit;
    }

    /**
     * The tests under test. Surefire does not run them (a nested class, and disabled unless a case here is
     * running them), and Jupiter does not discover them from this class (not {@code @Nested}).
     */
    @EnabledIf("io.spindle.testing.LeakCheckExtensionTest#runByEngineTestKit")
    static class Subjects {
        @Test
        void releasesWhatItAllocates() {
            Bytes<?> b = Bytes.allocateElasticDirect(64);
            b.writeLong(42);
            b.releaseLast();
        }

        @Test
        void leaksABytes() {
            Bytes<?> b = Bytes.allocateElasticDirect(64);
            b.writeLong(42);
            LEAKED_BYTES.add(b);
        }

        @Test
        void leavesAReactorThreadRunning() {
            LEFT_RUNNING.add(ReactorGroup.start(ReactorConfig.builder().mask("0x1").conclude()));
        }

        @Test
        void leavesAHugePageRegionMapped() {
            LEFT_MAPPED.add(io.spindle.env.HugePages.process().map(2L << 20, "leak subject"));
        }
    }

    static EngineExecutionResults run(String subject) {
        runByEngineTestKit = true;
        try {
            return EngineTestKit.engine("junit-jupiter")
                    .configurationParameter("junit.jupiter.extensions.autodetection.enabled", "true")
                    .configurationParameter(LeakCheckExtension.THREAD_GRACE_PARAMETER, "200")
                    .selectors(selectMethod(Subjects.class, subject))
                    .execute();
        } finally {
            runByEngineTestKit = false;
            // the subject's afterEach turned reference tracing off: turn it back on for this test's own check
            AbstractReferenceCounted.enableReferenceTracing();
        }
    }

    static Throwable onlyFailure(EngineExecutionResults results) {
        results.testEvents().assertStatistics(s -> s.started(1).succeeded(0).failed(1));
        Event failed = results.testEvents().failed().list().get(0);
        return failed.getPayload(org.junit.platform.engine.TestExecutionResult.class).orElseThrow().getThrowable().orElseThrow();
    }

    @AfterEach
    void cleanUpWhatTheSubjectsLeft() {
        LEAKED_BYTES.forEach(Bytes::releaseLast);
        LEAKED_BYTES.clear();
        LEFT_RUNNING.forEach(ReactorGroup::close);
        LEFT_RUNNING.clear();
        LEFT_MAPPED.forEach(io.spindle.env.HugeRegion::close);
        LEFT_MAPPED.clear();
    }

    @Test
    void aTestThatReleasesEverythingPasses() {
        run("releasesWhatItAllocates").testEvents().assertStatistics(s -> s.started(1).succeeded(1).failed(0));
    }

    @Test
    void aTestThatLeavesABytesUnreleasedFails() {
        Throwable failure = onlyFailure(run("leaksABytes"));
        assertThat(LEAKED_BYTES).singleElement().satisfies(b -> assertThat(b.refCount()).as("still held").isEqualTo(1));
        assertThat(failure).isInstanceOf(AssertionError.class).hasMessageContaining("Reference counted not released");
    }

    @Test
    void aTestThatLeavesAReactorThreadRunningFails() {
        Throwable failure = onlyFailure(run("leavesAReactorThreadRunning"));
        assertThat(failure).isInstanceOf(AssertionError.class)
                .hasMessage("reactor or rpc thread(s) outlived the test leavesAReactorThreadRunning(): [reactor_0]");
        assertThat(LeakCheckExtension.reactorThreads()).as("the subject's reactor, stopped by this test's cleanup").containsExactly("reactor_0");
    }

    @Test
    void aTestThatLeavesAHugePageRegionMappedFails() {
        io.spindle.env.HugePages.Mount m = io.spindle.env.HugePages.process().mount();
        org.junit.jupiter.api.Assumptions.assumeTrue(m != null && io.spindle.env.HugePages.process().freePages(m.pageSize()) >= 1,
                "no free huge page to leak");
        Throwable failure = onlyFailure(run("leavesAHugePageRegionMapped"));
        assertThat(LEFT_MAPPED).singleElement().satisfies(r -> assertThat(r.isClosed()).as("still mapped").isFalse());
        assertThat(failure).isInstanceOf(AssertionError.class)
                .hasMessageStartingWith("huge-page region(s) still mapped after the test leavesAHugePageRegionMapped(): [leak subject HugeRegion[");
    }
}
