package io.spindle.runtime;

import java.util.Arrays;
import java.util.TreeSet;

/**
 * A set of cores, one reactor per core, parsed from SPDK's core-mask syntax.
 *
 * <p>Accepted forms (the same as SPDK's {@code -m}):
 * <ul>
 *   <li>a hexadecimal bit mask: {@code 0x3} (cores 0 and 1), {@code 0x5} (cores 0 and 2);</li>
 *   <li>a bracketed list of cores and ranges: {@code [0,1]}, {@code [0-3]}, {@code [0,2-3]};</li>
 *   <li>a bare list or range: {@code 0-3}, {@code 1}, {@code 0,2}.</li>
 * </ul>
 * Cores are kept in ascending order; that order is the reactor order every fan-out walks.
 *
 * <p>Immutable and thread-safe.
 */
public final class CoreMask {
    /** Highest core number a mask may name; the bound quoted in errors. */
    public static final int MAX_CORE = 1023;

    private final int[] cores;
    private final String text;

    private CoreMask(int[] cores, String text) {
        this.cores = cores;
        this.text = text;
    }

    /**
     * Parses a mask without checking it against this machine.
     *
     * @throws IllegalArgumentException naming the mask and what is wrong: empty, bad syntax, a core above
     *                                  {@link #MAX_CORE}, or no core at all
     */
    public static CoreMask parse(String mask) {
        if (mask == null || mask.isBlank()) {
            throw new IllegalArgumentException("core mask is empty: expected a hex mask like 0x3 or a list like [0,1] or 0-3");
        }
        String s = mask.trim();
        TreeSet<Integer> set = new TreeSet<>();
        if (s.startsWith("0x") || s.startsWith("0X")) {
            String hex = s.substring(2);
            if (hex.isEmpty() || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                throw new IllegalArgumentException("core mask=" + mask + ": bad hex mask, expected 0x followed by hex digits");
            }
            // walk the hex digits from the least significant one so any length works
            for (int i = 0; i < hex.length(); i++) {
                int nibble = Character.digit(hex.charAt(hex.length() - 1 - i), 16);
                for (int b = 0; b < 4; b++) {
                    if ((nibble & (1 << b)) != 0) {
                        int core = i * 4 + b;
                        if (core > MAX_CORE) {
                            throw new IllegalArgumentException("core mask=" + mask + ": names core " + core + ", above the limit " + MAX_CORE);
                        }
                        set.add(core);
                    }
                }
            }
        } else {
            String body = s;
            if (body.startsWith("[") || body.endsWith("]")) {
                if (!(body.startsWith("[") && body.endsWith("]"))) {
                    throw new IllegalArgumentException("core mask=" + mask + ": unbalanced brackets, expected a list like [0,1]");
                }
                body = body.substring(1, body.length() - 1).trim();
            }
            if (body.isEmpty()) {
                throw new IllegalArgumentException("core mask=" + mask + ": empty core list");
            }
            for (String part : body.split(",", -1)) {
                String p = part.trim();
                if (p.isEmpty()) {
                    throw new IllegalArgumentException("core mask=" + mask + ": empty element in core list");
                }
                int dash = p.indexOf('-');
                if (dash < 0) {
                    set.add(core(mask, p));
                } else {
                    int lo = core(mask, p.substring(0, dash).trim());
                    int hi = core(mask, p.substring(dash + 1).trim());
                    if (lo > hi) {
                        throw new IllegalArgumentException("core mask=" + mask + ": range " + p + " runs backwards");
                    }
                    for (int c = lo; c <= hi; c++) {
                        set.add(c);
                    }
                }
            }
        }
        if (set.isEmpty()) {
            throw new IllegalArgumentException("core mask=" + mask + ": selects no core");
        }
        return new CoreMask(set.stream().mapToInt(Integer::intValue).toArray(), s);
    }

    /**
     * Parses a mask and checks every core exists on a machine with {@code availableCores} cores (0 .. n-1).
     *
     * @throws IllegalArgumentException as {@link #parse(String)}, or naming the first core the machine lacks
     */
    public static CoreMask parse(String mask, int availableCores) {
        CoreMask m = parse(mask);
        m.checkAvailable(availableCores);
        return m;
    }

    /** Throws naming the first core that is not below {@code availableCores}. */
    public void checkAvailable(int availableCores) {
        for (int c : cores) {
            if (c >= availableCores) {
                throw new IllegalArgumentException("core mask=" + text + ": core " + c + " does not exist on this machine, which has "
                        + availableCores + " core(s) (0-" + (availableCores - 1) + ")");
            }
        }
    }

    private static int core(String mask, String digits) {
        if (digits.isEmpty() || !digits.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("core mask=" + mask + ": '" + digits + "' is not a core number");
        }
        if (digits.length() > 5) {
            throw new IllegalArgumentException("core mask=" + mask + ": core " + digits + " is above the limit " + MAX_CORE);
        }
        int c = Integer.parseInt(digits);
        if (c > MAX_CORE) {
            throw new IllegalArgumentException("core mask=" + mask + ": core " + c + " is above the limit " + MAX_CORE);
        }
        return c;
    }

    /** A mask of the first {@code n} cores, 0 .. n-1. */
    public static CoreMask firstN(int n) {
        if (n < 1 || n > MAX_CORE + 1) {
            throw new IllegalArgumentException("reactor count=" + n + ": expected 1.." + (MAX_CORE + 1));
        }
        int[] c = new int[n];
        for (int i = 0; i < n; i++) {
            c[i] = i;
        }
        return new CoreMask(c, "[0-" + (n - 1) + "]");
    }

    /** The cores, ascending; a fresh copy. */
    public int[] cores() {
        return cores.clone();
    }

    /** Number of cores, which is the number of reactors. */
    public int size() {
        return cores.length;
    }

    /** The i-th core in ascending order. */
    public int core(int index) {
        return cores[index];
    }

    /** The mask as SPDK prints it: hexadecimal, e.g. {@code 0x3}. */
    public String toHex() {
        java.math.BigInteger b = java.math.BigInteger.ZERO;
        for (int c : cores) {
            b = b.setBit(c);
        }
        return "0x" + b.toString(16);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CoreMask m && Arrays.equals(cores, m.cores);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(cores);
    }

    @Override
    public String toString() {
        return toHex();
    }
}
