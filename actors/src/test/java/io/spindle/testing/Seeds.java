package io.spindle.testing;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Seeds for randomized schedule tests: a fixed set that every run repeats, plus fresh random ones so that each
 * run also explores new schedules. A failure names its seed and how to run it alone.
 *
 * <ul>
 *   <li>{@code -Dspindle.seed=N} runs seed {@code N} only (reproduce a failure);</li>
 *   <li>{@code -Dspindle.explore=N} replaces the random count by {@code N} (run more schedules).</li>
 * </ul>
 * Any thread.
 */
public final class Seeds {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Seeds() {
    }

    /**
     * Seeds {@code 0 .. fixed-1}, then {@code random} seeds drawn now (or {@code -Dspindle.explore} of them), or the
     * single seed of {@code -Dspindle.seed}.
     */
    public static List<Long> of(int fixed, int random) {
        String one = System.getProperty("spindle.seed");
        if (one != null && !one.isBlank()) {
            return List.of(Long.parseLong(one.trim()));
        }
        String explore = System.getProperty("spindle.explore");
        int r = explore != null && !explore.isBlank() ? Integer.parseInt(explore.trim()) : random;
        List<Long> out = new ArrayList<>(fixed + r);
        for (long s = 0; s < fixed; s++) {
            out.add(s);
        }
        for (int i = 0; i < r; i++) {
            out.add(RANDOM.nextLong());
        }
        return out;
    }

    /**
     * {@code total} seeds, for a schedule explorer whose schedule count is the figure that matters: seeds
     * {@code 0 .. fixed-1}, then random seeds drawn now up to {@code total}. {@code -Dspindle.explore=N} makes the
     * total {@code N} (the fixed seeds first, at most {@code N} of them); {@code -Dspindle.seed=S} gives {@code S}
     * alone.
     */
    public static List<Long> ofTotal(int fixed, int total) {
        String one = System.getProperty("spindle.seed");
        if (one != null && !one.isBlank()) {
            return List.of(Long.parseLong(one.trim()));
        }
        String explore = System.getProperty("spindle.explore");
        int n = explore != null && !explore.isBlank() ? Integer.parseInt(explore.trim()) : total;
        int f = Math.min(fixed, n);
        List<Long> out = new ArrayList<>(n);
        for (long s = 0; s < f; s++) {
            out.add(s);
        }
        for (int i = f; i < n; i++) {
            out.add(RANDOM.nextLong());
        }
        return out;
    }

    /**
     * Runs {@code body} for each seed; the first failure is rethrown as an {@link AssertionError} whose message
     * starts with the seed and the property that reruns it.
     */
    public static void forEach(List<Long> seeds, LongConsumer body) {
        for (long seed : seeds) {
            try {
                body.accept(seed);
            } catch (AssertionError | RuntimeException e) {
                AssertionError a = new AssertionError("seed=" + seed + " failed (rerun alone with -Dspindle.seed=" + seed + "): " + e.getMessage(), e);
                throw a;
            }
        }
    }
}
