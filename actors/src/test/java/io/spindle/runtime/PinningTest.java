package io.spindle.runtime;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import net.openhft.affinity.Affinity;
import net.openhft.affinity.impl.NullAffinity;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * {@code spindle.reactor.pin = on}: a reactor thread pins itself to its core when it starts and logs the
 * outcome; a failed pin is logged and the reactor runs on unpinned.
 */
@Timeout(60)
class PinningTest {
    private final Logger reactorLog = (Logger) LoggerFactory.getLogger(Reactor.class);
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();

    @BeforeEach
    void captureReactorLog() {
        logged.start();
        reactorLog.addAppender(logged);
    }

    @AfterEach
    void releaseReactorLog() {
        reactorLog.detachAppender(logged);
        logged.stop();
    }

    /** Runs {@code task} on the group's only reactor and returns what it returned. */
    static <X> X onReactor(ReactorGroup g, java.util.function.Supplier<X> task) {
        CompletableFuture<X> f = new CompletableFuture<>();
        g.reactor(0).send(() -> f.complete(task.get()));
        return f.orTimeout(10, TimeUnit.SECONDS).join();
    }

    /** WARN and INFO lines of the reactor logger, as formatted messages (copied on the test thread). */
    List<String> lines(Level level) {
        synchronized (logged.list) {
            return logged.list.stream().filter(e -> e.getLevel() == level).map(ILoggingEvent::getFormattedMessage).toList();
        }
    }

    @Test
    void aPinnedReactorRunsOnlyOnItsCore() {
        assumeFalse(Affinity.getAffinityImpl() instanceof NullAffinity, "OpenHFT affinity has no native access here (no JNA)");
        // a core this process may run on: the highest one of the test thread's own affinity mask
        BitSet allowed = Affinity.getAffinity();
        int core = allowed.length() - 1;
        assertThat(core).isBetween(0, Runtime.getRuntime().availableProcessors() - 1);
        ReactorGroup g = ReactorGroup.start(ReactorConfig.builder().mask("[" + core + "]").pin(true).conclude());
        try {
            BitSet onReactor = onReactor(g, Affinity::getAffinity);
            BitSet expected = new BitSet();
            expected.set(core);
            assertThat(onReactor).as("affinity of reactor_%d read on its thread", core).isEqualTo(expected);
            assertThat(lines(Level.INFO)).contains("reactor_" + core + ": pinned to core " + core);
            assertThat(lines(Level.WARN)).isEmpty();
        } finally {
            g.close();
        }
    }

    @Test
    void aFailedPinIsLoggedAndTheReactorRunsUnpinned() {
        ReactorGroup g = ReactorGroup.start(ReactorConfig.builder().mask("0x1").pin(true)
                .pinner(core -> {
                    throw new IllegalStateException("sched_setaffinity core=" + core + ": EINVAL");
                }).conclude());
        try {
            assertThat(onReactor(g, () -> Thread.currentThread().getName())).as("the reactor still runs tasks").isEqualTo("reactor_0");
            assertThat(lines(Level.WARN)).containsExactly(
                    "reactor_0: could not pin to core 0 (java.lang.IllegalStateException: sched_setaffinity core=0: EINVAL); running unpinned");
            assertThat(lines(Level.INFO)).noneMatch(l -> l.contains("pinned to core"));
        } finally {
            g.close();
        }
    }
}
