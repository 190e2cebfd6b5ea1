package io.spindle.examples.rpc;

import io.spindle.examples.rpc.SpindleRpc.ClientSide;
import io.spindle.examples.rpc.SpindleRpc.Output;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The part of Python's {@code argparse} that rpc.py's sub-commands use, and the model they are declared in: a
 * {@link Command} is a name, a help line, its {@link Arg}s (positionals, flags, store_true, {@code
 * BooleanOptionalAction}, choices), how its result is printed and how its params are built. The method-group
 * classes ({@link AppCommands}, {@link BdevCommands}, ...) declare their commands with the factories here
 * ({@link #pos}, {@link #opt}, {@link #req}, {@link #choice}, {@link #map}, ...) and add them to a
 * {@link Registry}; {@link #parse} applies argparse's rules to one command line and {@link #help} prints a
 * command's usage.
 *
 * <p>Stateless and immutable: every member is static, the records are values; any thread.
 */
final class ArgParse {
    private ArgParse() {
    }

    /** An argument type. */
    enum Type { STR, INT, FLOAT, TRUE, BOOL_OPT, CSV, WORDS }

    /** One argument of a sub-command, as argparse declares it. */
    record Arg(List<String> flags, String dest, Type type, boolean required, List<String> choices, String help) {
        boolean positional() {
            return flags.isEmpty();
        }
    }

    /** Builds the params from the parsed arguments (null values are dropped afterwards, as rpc.py does). */
    @FunctionalInterface
    interface Params {
        Map<String, Object> build(Map<String, Object> a) throws UsageException;
    }

    /**
     * One sub-command. {@code clientSide} is null for a plain call of the method {@code name}; otherwise the
     * command runs client-side, as rpc.py's {@code save_config} and {@code load_config} do.
     */
    record Command(String name, String help, List<Arg> args, Output output, Params params, ClientSide clientSide) {
        /** A plain call of the method {@code name}. */
        Command(String name, String help, List<Arg> args, Output output, Params params) {
            this(name, help, args, output, params, null);
        }
    }

    /** Where a method group adds its commands ({@link SpindleRpc#COMMANDS}). */
    @FunctionalInterface
    interface Registry {
        /** Adds {@code c}; a second command of the same name is a programming error. */
        void add(Command c);
    }

    /** A bad command line: exit 2 with the message. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String m) {
            super(m, null, false, false);
        }
    }

    // ------------------------------------------------------------------ declaring arguments

    /** A required positional. */
    static Arg pos(String dest, Type t, String help) {
        return new Arg(List.of(), dest, t, true, List.of(), help);
    }

    /** A required positional with choices. */
    static Arg pos(String dest, List<String> choices, String help) {
        return new Arg(List.of(), dest, Type.STR, true, choices, help);
    }

    /** An optional positional ({@code nargs='?'}). */
    static Arg optPos(String dest, Type t, String help) {
        return new Arg(List.of(), dest, t, false, List.of(), help);
    }

    /** An optional flag; {@code flags} is {@code "-x|--long"}. */
    static Arg opt(String flags, String dest, Type t, String help) {
        return new Arg(List.of(flags.split("\\|")), dest, t, false, List.of(), help);
    }

    /** A required flag ({@code required=True}). */
    static Arg req(String flags, String dest, Type t, String help) {
        return new Arg(List.of(flags.split("\\|")), dest, t, true, List.of(), help);
    }

    /** An optional flag with choices. */
    static Arg choice(String flags, String dest, List<String> choices, String help) {
        return new Arg(List.of(flags.split("\\|")), dest, Type.STR, false, choices, help);
    }

    /** The params object, keys in order; its null values are dropped when it is sent. */
    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** A nested params object without its null values (rpc.py builds these without the Nones). */
    static Map<String, Object> nested(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] != null) {
                m.put((String) kv[i], kv[i + 1]);
            }
        }
        return m;
    }

    // ------------------------------------------------------------------ parsing

    /** argparse's rules for one sub-command: flags anywhere, positionals in order, {@code --} not needed. */
    static Map<String, Object> parse(Command c, List<String> rest) throws UsageException {
        Map<String, Object> out = new LinkedHashMap<>();
        List<Arg> positionals = new ArrayList<>();
        for (Arg a : c.args()) {
            if (a.positional()) {
                positionals.add(a);
            }
            if (a.type() == Type.TRUE) {
                out.put(a.dest(), false);
            }
        }
        int p = 0;
        Set<String> seen = new LinkedHashSet<>();
        for (int i = 0; i < rest.size(); i++) {
            String s = rest.get(i);
            if (s.startsWith("-") && s.length() > 1 && !isNumber(s)) {
                String flag = s;
                String inline = null;
                int eq = s.indexOf('=');
                if (s.startsWith("--") && eq > 0) {
                    flag = s.substring(0, eq);
                    inline = s.substring(eq + 1);
                }
                Arg a = null;
                boolean negated = false;
                for (Arg x : c.args()) {
                    if (x.flags().contains(flag)) {
                        a = x;
                    } else if (x.type() == Type.BOOL_OPT && flag.startsWith("--no-") && x.flags().contains("--" + flag.substring(5))) {
                        a = x;
                        negated = true;
                    }
                }
                if (a == null) {
                    throw new UsageException("unrecognized arguments: " + s);
                }
                seen.add(a.dest());
                switch (a.type()) {
                    case TRUE -> out.put(a.dest(), true);
                    case BOOL_OPT -> out.put(a.dest(), !negated);
                    default -> {
                        String v = inline != null ? inline : i + 1 < rest.size() ? rest.get(++i) : null;
                        if (v == null) {
                            throw new UsageException("argument " + String.join("/", a.flags()) + ": expected one argument");
                        }
                        out.put(a.dest(), convert(a, v, String.join("/", a.flags())));
                    }
                }
                continue;
            }
            if (p >= positionals.size()) {
                throw new UsageException("unrecognized arguments: " + s);
            }
            Arg a = positionals.get(p++);
            seen.add(a.dest());
            out.put(a.dest(), convert(a, s, a.dest()));
        }
        List<String> missing = new ArrayList<>();
        for (Arg a : c.args()) {
            if (a.required() && !seen.contains(a.dest())) {
                missing.add(a.positional() ? a.dest() : String.join("/", a.flags()));
            }
        }
        if (!missing.isEmpty()) {
            throw new UsageException("the following arguments are required: " + String.join(", ", missing));
        }
        return out;
    }

    private static boolean isNumber(String s) {
        return s.matches("-\\d+(\\.\\d*)?");
    }

    private static Object convert(Arg a, String v, String what) throws UsageException {
        if (!a.choices().isEmpty() && !a.choices().contains(v)) {
            throw new UsageException("argument " + what + ": invalid choice: '" + v + "' (choose from " + quoted(a.choices()) + ")");
        }
        return switch (a.type()) {
            case INT -> parseInt(v, what);
            case FLOAT -> parseFloat(v, what);
            case CSV -> List.of(v.split(","));
            case WORDS -> List.of(v.trim().split("\\s+")); // argparse type=str.split
            default -> v;
        };
    }

    /** argparse's {@code type=int}; {@code what} names the argument in the error. */
    static long parseInt(String v, String what) throws UsageException {
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("argument " + what + ": invalid int value: '" + v + "'");
        }
    }

    /** argparse's {@code type=float}; {@code what} names the argument in the error. */
    static double parseFloat(String v, String what) throws UsageException {
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("argument " + what + ": invalid float value: '" + v + "'");
        }
    }

    /** The value of {@code flag} at {@code args[i]}, or argparse's error when the command line ends first. */
    static String value(String[] args, int i, String flag) throws UsageException {
        if (i >= args.length) {
            throw new UsageException("argument " + flag + ": expected one argument");
        }
        return args[i];
    }

    /** argparse's list of choices in an error: {@code 'A', 'B'}. */
    static String quoted(List<String> l) {
        List<String> q = new ArrayList<>();
        for (String x : l) {
            q.add("'" + x + "'");
        }
        return String.join(", ", q);
    }

    /** {@code spindle rpc METHOD -h}: the command's usage line, help and one line per argument. */
    static String help(Command c) {
        StringBuilder b = new StringBuilder("usage: spindle rpc " + c.name());
        for (Arg a : c.args()) {
            String n = a.positional() ? a.dest() : a.flags().get(0) + (a.type() == Type.TRUE || a.type() == Type.BOOL_OPT ? ""
                    : " " + a.dest().toUpperCase(Locale.ROOT));
            b.append(' ').append(a.required() || a.positional() ? n : "[" + n + "]");
        }
        b.append("\n\n").append(c.help()).append('\n');
        for (Arg a : c.args()) {
            String n = a.positional() ? a.dest() : String.join(", ", a.flags()) + (a.type() == Type.BOOL_OPT ? " / --no-" + a.flags().get(0).substring(2) : "");
            b.append(String.format("  %-34s %s%s%n", n, a.help(), a.choices().isEmpty() ? "" : " {" + String.join(",", a.choices()) + "}"));
        }
        return b.toString().stripTrailing();
    }
}
