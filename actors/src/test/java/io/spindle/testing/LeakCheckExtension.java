package io.spindle.testing;

import net.openhft.chronicle.core.io.AbstractReferenceCounted;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

/**
 * Fails a test that leaves a Chronicle {@code Bytes} unreleased, or a reactor or RPC thread running.
 *
 * <p>Registered for every test of every module by JUnit's extension auto-detection
 * ({@code META-INF/services/org.junit.jupiter.api.extension.Extension} in this module's test jar and
 * {@code junit.jupiter.extensions.autodetection.enabled=true}). Before each test it turns Chronicle's
 * reference tracing on; after it, it asserts every traced {@code Bytes} was released, and waits up to five
 * seconds (JUnit configuration parameter {@value #THREAD_GRACE_PARAMETER}, in milliseconds) for threads named
 * {@code reactor_*} or {@code spindle-rpc*} (the RPC server's socket loop, RPC client timers) to end (reactor
 * exit is asynchronous), then fails naming them. It also fails a test that leaves a huge-page region mapped
 * ({@link io.spindle.env.HugePages#liveRegions()}: a malloc bdev's memory, a DMA buffer's slab) that was not mapped
 * before it, within the same grace period; the DMA arena's one empty slab, kept mapped on purpose, is not a leak.
 * {@code LeakCheckExtensionTest} proves the checks fail a test.
 */
public final class LeakCheckExtension implements BeforeEachCallback, AfterEachCallback {
    /** Configuration parameter: how long, in milliseconds, reactor and RPC threads may take to end after a test. */
    public static final String THREAD_GRACE_PARAMETER = "spindle.leak-check.thread-grace-ms";
    private static final long THREAD_GRACE_MS = 5_000;

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LeakCheckExtension.class);

    @Override
    public void beforeEach(ExtensionContext context) {
        AbstractReferenceCounted.enableReferenceTracing();
        context.getStore(NS).put("huge", java.util.Set.copyOf(io.spindle.env.HugePages.process().liveRegions().keySet()));
    }

    /** Huge-page regions mapped now that were not before the test, with their purposes (the idle DMA slab excluded). */
    public static List<String> newHugeRegions(java.util.Set<?> before) {
        List<String> out = new ArrayList<>();
        io.spindle.env.HugeRegion idle = io.spindle.env.DmaSlabs.process().idleSlab();
        for (var e : io.spindle.env.HugePages.process().liveRegions().entrySet()) {
            if (!before.contains(e.getKey()) && e.getKey() != idle) {
                out.add(e.getValue() + " " + e.getKey());
            }
        }
        return out;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        try {
            AbstractReferenceCounted.assertReferencesReleased();
        } finally {
            AbstractReferenceCounted.disableReferenceTracing();
        }
        List<String> alive = reactorThreads();
        long grace = context.getConfigurationParameter(THREAD_GRACE_PARAMETER).map(Long::parseLong).orElse(THREAD_GRACE_MS);
        long deadline = System.currentTimeMillis() + grace;
        while (!alive.isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(10); // paces the re-check while ending threads get their grace period
            alive = reactorThreads();
        }
        if (!alive.isEmpty()) {
            throw new AssertionError("reactor or rpc thread(s) outlived the test " + context.getDisplayName() + ": " + alive);
        }
        java.util.Set<?> before = context.getStore(NS).getOrDefault("huge", java.util.Set.class, java.util.Set.of());
        List<String> mapped = newHugeRegions(before);
        while (!mapped.isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(10); // a bdev's destruct may still be running after its app stopped
            mapped = newHugeRegions(before);
        }
        if (!mapped.isEmpty()) {
            throw new AssertionError("huge-page region(s) still mapped after the test " + context.getDisplayName() + ": " + mapped);
        }
    }

    /** Names of live threads that are reactors or belong to the RPC server or client. */
    public static List<String> reactorThreads() {
        List<String> out = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && (t.getName().startsWith("reactor_") || t.getName().startsWith("spindle-rpc"))) {
                out.add(t.getName());
            }
        }
        return out;
    }
}
