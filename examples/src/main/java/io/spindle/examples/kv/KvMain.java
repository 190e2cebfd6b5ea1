package io.spindle.examples.kv;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code ./spindle kv COMMAND}: the kv store's command line. Opens the store (recovering it), runs one command,
 * closes it (a last checkpoint). Exit status: 0 done, 1 a failure or a key not found, 2 bad usage or input.
 */
public final class KvMain {
    private KvMain() {
    }

    static final String USAGE = """
            usage: spindle kv [options] COMMAND
              put KEY VALUE     store VALUE (UTF-8) under KEY; returns once durable
              get KEY           print the value; exit 1 when absent
              delete KEY        remove KEY; exit 1 when absent
              scan [PREFIX]     print KEY=VALUE for every key starting with PREFIX, sorted
              bench             90/10 get/put closed loop: ops/s and latency percentiles (HdrHistogram)
              stats             per-shard figures
            options:
              --file PATH       the mapped bdev's file (default ./kv-data/kv.img, created sparse)
              --malloc          a RAM disk instead (nothing survives the process: a demo)
              --size MiB        size of a new bdev (default 512)
              -m MASK           reactor core mask (default 0x3); a new store gets one shard per reactor
              bench: -t SECONDS (default 10)  --keys N (default 10000)  --value-size BYTES (default 1024)
                     -q DEPTH outstanding requests (default 64)  --read-percent P (default 90)
            """;

    /** Runs the command; exits with its status. */
    public static void main(String[] args) {
        org.slf4j.LoggerFactory.getILoggerFactory(); // initialise logging before Pekko's threads log
        System.exit(run(args));
    }

    /** The command line; returns the exit status. */
    static int run(String[] args) {
        KvOptions o = KvOptions.defaults();
        double seconds = 10;
        int keys = 10_000;
        int valueSize = 1024;
        int depth = 64;
        int readPercent = 90;
        List<String> rest = new ArrayList<>();
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "-h", "--help", "help" -> {
                        System.out.print(USAGE);
                        return 0;
                    }
                    case "--file" -> o = o.withFile(Path.of(value(args, ++i, a)));
                    case "--malloc" -> o = o.withMalloc(true);
                    case "--size" -> o = o.withSize(number(value(args, ++i, a), a, 4, 1 << 20) << 20);
                    case "-m" -> o = o.withMask(value(args, ++i, a));
                    case "-t" -> seconds = number(value(args, ++i, a), a, 1, 3600);
                    case "--keys" -> keys = (int) number(value(args, ++i, a), a, 1, 10_000_000);
                    case "--value-size" -> valueSize = (int) number(value(args, ++i, a), a, 0, KvOptions.MAX_VALUE_LIMIT);
                    case "-q" -> depth = (int) number(value(args, ++i, a), a, 1, 65536);
                    case "--read-percent" -> readPercent = (int) number(value(args, ++i, a), a, 0, 100);
                    default -> rest.add(a);
                }
            }
            if (rest.isEmpty()) {
                throw new IllegalArgumentException("no command given");
            }
            String cmd = rest.get(0);
            int want = switch (cmd) {
                case "put" -> 3;
                case "get", "delete" -> 2;
                case "scan" -> rest.size() <= 2 ? rest.size() : 2;
                case "bench", "stats" -> 1;
                default -> throw new IllegalArgumentException("unknown command '" + cmd + "'");
            };
            if (rest.size() != want) {
                throw new IllegalArgumentException(cmd + " takes " + (want - 1) + " argument(s), got " + (rest.size() - 1));
            }
            if (valueSize > o.maxValueBytes()) {
                o = o.withMaxValue(valueSize);
            }
            try (KvStore kv = KvStore.open(o)) {
                return command(kv, rest, seconds, keys, valueSize, depth, readPercent);
            }
        } catch (IllegalArgumentException e) {
            System.err.println("spindle kv: " + e.getMessage() + " (./spindle kv --help)");
            return 2;
        } catch (Exception e) {
            System.err.println("spindle kv: " + e);
            return 1;
        }
    }

    private static int command(KvStore kv, List<String> rest, double seconds, int keys, int valueSize, int depth, int readPercent)
            throws Exception {
        String cmd = rest.get(0);
        try {
            switch (cmd) {
                case "put" -> {
                    kv.put(rest.get(1), rest.get(2).getBytes(StandardCharsets.UTF_8)).toCompletableFuture().get(60, TimeUnit.SECONDS);
                    System.out.println("OK");
                    return 0;
                }
                case "get" -> {
                    byte[] v = kv.get(rest.get(1)).toCompletableFuture().get(60, TimeUnit.SECONDS);
                    if (v == null) {
                        System.err.println("spindle kv: key '" + rest.get(1) + "' not found");
                        return 1;
                    }
                    System.out.println(new String(v, StandardCharsets.UTF_8));
                    return 0;
                }
                case "delete" -> {
                    boolean had = kv.delete(rest.get(1)).toCompletableFuture().get(60, TimeUnit.SECONDS);
                    System.out.println(had ? "deleted" : "not found");
                    return had ? 0 : 1;
                }
                case "scan" -> {
                    for (String k : kv.scan(rest.size() > 1 ? rest.get(1) : "").toCompletableFuture().get(60, TimeUnit.SECONDS)) {
                        byte[] v = kv.get(k).toCompletableFuture().get(60, TimeUnit.SECONDS);
                        if (v != null) {
                            System.out.println(k + "=" + new String(v, StandardCharsets.UTF_8));
                        }
                    }
                    return 0;
                }
                case "stats" -> {
                    kv.recoveryReports().forEach(r -> System.out.println("recovery " + r));
                    kv.stats().toCompletableFuture().get(60, TimeUnit.SECONDS).forEach(System.out::println);
                    return 0;
                }
                default -> { // bench
                    KvBench.Result r = KvBench.run(kv, keys, valueSize, depth, readPercent / 100.0, seconds);
                    KvBench.format(r, kv, valueSize, depth).forEach(System.out::println);
                    List<KvShard.Stats> st = kv.stats().toCompletableFuture().get(60, TimeUnit.SECONDS);
                    long batches = st.stream().mapToLong(KvShard.Stats::batches).sum();
                    long batched = st.stream().mapToLong(KvShard.Stats::batchedOps).sum();
                    System.out.printf("log: %d writes carrying %d records (%.1f per write: group commit), %d compactions, %d checkpoints%n",
                            batches, batched, batches == 0 ? 0.0 : (double) batched / batches,
                            st.stream().mapToLong(KvShard.Stats::compactions).sum(), st.stream().mapToLong(KvShard.Stats::checkpoints).sum());
                    return r.errors() == 0 ? 0 : 1;
                }
            }
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IllegalArgumentException iae) {
                throw iae;
            }
            throw e;
        }
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }

    private static long number(String s, String flag, long min, long max) {
        long v;
        try {
            v = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + "=" + s + ": not a number");
        }
        if (v < min || v > max) {
            throw new IllegalArgumentException(flag + "=" + v + " out of " + min + ".." + max);
        }
        return v;
    }
}
