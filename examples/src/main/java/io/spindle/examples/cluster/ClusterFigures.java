package io.spindle.examples.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.bdev.BdevLayer;
import io.spindle.examples.bdevperf.BdevPerf;
import io.spindle.rpc.RpcException;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ./spindle demo cluster-figures [--rounds N] [--fast]}: the cluster's figures for docs/cluster.md, measured on
 * a {@link LocalCluster} of three nodes on this machine (node 1 in this JVM):
 * <ol>
 *   <li>directory convergence after an export: node 2 exports a new bdev (nvmf_* calls on its socket); time until
 *       node 1's {@code cluster_get_bdevs} lists it;</li>
 *   <li>directory convergence after a join: node 3 restarts (it joins once its JSON config has created its export);
 *       time from node 1's "member up" event to node 1's directory listing node 3's export; also from node 1's
 *       "member joining" event, and node 3's process start to "member up";</li>
 *   <li>{@code kill -9} of node 3 to its bdev removed on every node that attached it (node 1 in-process, node 2
 *       through its socket), with the failure detector and resolver settings printed;</li>
 *   <li>bdevperf (4 KiB randread, queue depth 128, 5 s) on node 1 through a cluster-attached bdev and through
 *       {@code bdev_nvme_attach_controller} to the same target, alternated.</li>
 * </ol>
 * {@code --fast} uses a faster failure detector and resolver (heartbeat 100 ms, pause 300 ms, stable-after 2 s, leader
 * actions every 250 ms, the unreachable-nodes reaper every 100 ms, cluster gossip every 200 ms).
 * Figures, not assertions: what it prints goes in the doc with the machine's load.
 */
public final class ClusterFigures {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final Pattern TOTAL = Pattern.compile("Total\\s*:\\s*([0-9.]+)\\s+([0-9.]+)");

    private final PrintStream out;
    private final int rounds;
    private final boolean fast;
    private final ConcurrentHashMap<String, Long> firstSeen = new ConcurrentHashMap<>();

    private ClusterFigures(PrintStream out, int rounds, boolean fast) {
        this.out = out;
        this.rounds = rounds;
        this.fast = fast;
    }

    /** Entry point (through {@code ./spindle demo cluster-figures}). */
    public static int run(String[] args, PrintStream out) throws Exception {
        int rounds = 3;
        boolean fast = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--fast" -> fast = true;
                default -> {
                    out.println("usage: spindle demo cluster-figures [--rounds N] [--fast]");
                    return 2;
                }
            }
        }
        return new ClusterFigures(out, rounds, fast).measure();
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "?";
        }
    }

    private void event(String line) {
        long now = System.nanoTime();
        firstSeen.putIfAbsent(line.replaceAll(" \\(this node\\)", ""), now);
        int i = line.indexOf(" pekko://");
        if (i > 0) {
            firstSeen.put(line.substring(0, i) + "@last", now); // the latest occurrence, per kind and node
        }
    }

    private int measure() throws Exception {
        List<String> overrides = new ArrayList<>();
        if (fast) {
            overrides.addAll(List.of("spindle.cluster.failure-detector.heartbeat-interval = 100ms",
                    "spindle.cluster.failure-detector.acceptable-heartbeat-pause = 300ms", "spindle.cluster.split-brain-resolver.stable-after = 2s",
                    "pekko.cluster.leader-actions-interval = 250ms", "pekko.cluster.unreachable-nodes-reaper-interval = 100ms",
                    "pekko.cluster.gossip-interval = 200ms"));
        }
        out.println("cluster figures: " + rounds + " rounds, " + (fast ? "fast settings " + overrides : "default settings (reference.conf)")
                + "; load average at start: " + load());
        try (LocalCluster c = new LocalCluster(3, overrides)) {
            c.startNode(2, 16384);
            c.startNode(3, 16384);
            c.startNode1(this::event);
            c.awaitMembers(3, WAIT);
            c.awaitExport("node2", WAIT);
            c.awaitExport("node3", WAIT);

            // 1. after an export
            List<Double> export = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                String nqn = "nqn.2016-06.io.spindle:fig" + r;
                c.call(2, "bdev_malloc_create", "{\"name\":\"Fig" + r + "\",\"num_blocks\":256,\"block_size\":4096}");
                c.call(2, "nvmf_create_subsystem", "{\"nqn\":\"" + nqn + "\",\"allow_any_host\":true}");
                c.call(2, "nvmf_subsystem_add_ns", "{\"nqn\":\"" + nqn + "\",\"namespace\":{\"bdev_name\":\"Fig" + r + "\"}}");
                c.call(2, "nvmf_subsystem_add_listener", "{\"nqn\":\"" + nqn + "\",\"listen_address\":{\"trtype\":\"AERON\",\"adrfam\":\"ipv4\","
                        + "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"" + c.aeronPort(2) + "\"}}");
                long t = System.nanoTime(); // the export is complete once its listener is there
                awaitListed(c, "Fig" + r);
                export.add(ms(System.nanoTime() - t));
            }
            out.printf(Locale.ROOT, "directory convergence after an export (node 2 -> node 1), ms: %s%n", export);

            // 2. after a join. Node 3 (spindle tgt --json) joins once its config has created its export, so the clock
            // starts when node 1 sees it up, as before; also shown: from node 1's first sight of it (joining), and from
            // its process start to up (JVM start, config, join: what the clock used to include when it joined first)
            List<Double> join = new ArrayList<>();
            List<String> joinFromJoining = new ArrayList<>();
            List<Double> startToUp = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                c.process(3).destroy();
                c.process(3).waitFor(60, TimeUnit.SECONDS);
                awaitGone(c, "node3");
                firstSeen.remove("member up: node3@last");
                firstSeen.remove("member joining: node3@last");
                long started = System.nanoTime();
                c.startNode(3, 16384);
                long deadline = System.nanoTime() + WAIT.toNanos();
                while (!firstSeen.containsKey("member up: node3@last") && System.nanoTime() < deadline) {
                    Thread.sleep(2);
                }
                awaitListedOf(c, "node3");
                long listed = System.nanoTime();
                long up = firstSeen.get("member up: node3@last");
                Long joining = firstSeen.get("member joining: node3@last");
                join.add(ms(listed - up));
                joinFromJoining.add(joining == null ? "-" : String.format(Locale.ROOT, "%.1f", ms(listed - joining)));
                startToUp.add(ms(up - started));
            }
            out.printf(Locale.ROOT, "directory convergence after a join (node 1 sees node 3 up -> lists its export), ms: %s%n", join);
            out.printf(Locale.ROOT, "  the same from node 1's first sight of node 3 (member joining; - when it saw it up at once), ms: %s%n",
                    joinFromJoining);
            out.printf(Locale.ROOT, "  node 3's process start -> node 1 sees it up (JVM start, its JSON config, the join), ms: %s%n", startToUp);

            // 3. kill -9 -> removed on every node that attached it
            List<String> kill = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                c.awaitMembers(3, WAIT);
                c.awaitExport("node3", WAIT);
                c.call("bdev_cluster_attach", "{\"name\":\"K3\",\"bdev\":\"Malloc0\",\"node\":\"node3\"}");
                c.call(2, "bdev_cluster_attach", "{\"name\":\"K3\",\"bdev\":\"Malloc0\",\"node\":\"node3\"}");
                firstSeen.remove("member unreachable: node3@last");
                firstSeen.remove("member downed: node3@last");
                firstSeen.remove("member removed: node3@last");
                long t = System.nanoTime();
                c.process(3).destroyForcibly();
                long gone1 = 0;
                long gone2 = 0;
                long deadline = t + WAIT.toNanos();
                while ((gone1 == 0 || gone2 == 0) && System.nanoTime() < deadline) {
                    if (gone1 == 0 && BdevLayer.of(c.node1()).get("K3n1") == null) {
                        gone1 = System.nanoTime();
                    }
                    if (gone2 == 0 && !listed(c.call(2, "bdev_get_bdevs", null), "K3n1")) {
                        gone2 = System.nanoTime();
                    }
                    Thread.sleep(10);
                }
                while (!firstSeen.containsKey("member removed: node3@last") && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                Long unreachable = firstSeen.get("member unreachable: node3@last");
                Long downed = firstSeen.get("member downed: node3@last");
                Long removed = firstSeen.get("member removed: node3@last");
                kill.add(String.format(Locale.ROOT, "unreachable %.1f s, downed %.1f s, bdev gone on node 1 %.1f s, on node 2 %.1f s, removed %.1f s",
                        unreachable == null ? -1 : (unreachable - t) / 1e9, downed == null ? -1 : (downed - t) / 1e9, (gone1 - t) / 1e9,
                        (gone2 - t) / 1e9, removed == null ? -1 : (removed - t) / 1e9));
                c.startNode(3, 16384);
            }
            out.println("kill -9 of node 3 -> (times after the kill):");
            kill.forEach(k -> out.println("  " + k));
            c.awaitMembers(3, WAIT);
            c.awaitExport("node3", WAIT);

            // 4. bdevperf through a cluster-attached bdev vs bdev_nvme_attach_controller to the same target
            List<Double> viaCluster = new ArrayList<>();
            List<Double> viaNvme = new ArrayList<>();
            JsonNode e = null;
            for (JsonNode x : c.call("cluster_get_bdevs", "{\"name\":\"Malloc0\",\"node\":\"node2\"}")) {
                e = x;
            }
            String direct = "{\"name\":\"D2\",\"trtype\":\"AERON\",\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\""
                    + e.get("listen_addresses").get(0).get("trsvcid").asText() + "\",\"subnqn\":\"" + e.get("nqn").asText() + "\"}";
            String[] perf = {"-q", "128", "-o", "4096", "-w", "randread", "-t", "5"};
            iops(c, perf, null); // warm-up (JIT), not counted
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < 2; k++) {
                    if ((r + k) % 2 == 0) { // alternate which goes first
                        c.call("bdev_cluster_attach", "{\"name\":\"C2\",\"bdev\":\"Malloc0\",\"node\":\"node2\"}");
                        viaCluster.add(iops(c, perf, "C2n1"));
                        c.call("bdev_cluster_detach", "{\"name\":\"C2\"}");
                    } else {
                        c.call("bdev_nvme_attach_controller", direct);
                        viaNvme.add(iops(c, perf, "D2n1"));
                        c.call("bdev_nvme_detach_controller", "{\"name\":\"D2\"}");
                    }
                }
            }
            out.printf(Locale.ROOT, "bdevperf -q 128 -o 4096 -w randread -t 5 on node 1, IOPS, alternated:%n  bdev_cluster_attach:         %s%n"
                    + "  bdev_nvme_attach_controller: %s%n", viaCluster, viaNvme);
        }
        out.println("load average at the end: " + load());
        return 0;
    }

    private double iops(LocalCluster c, String[] perf, String bdev) throws Exception {
        if (bdev == null) {
            c.call("bdev_cluster_attach", "{\"name\":\"W2\",\"bdev\":\"Malloc0\",\"node\":\"node2\"}");
            iops(c, perf, "W2n1");
            c.call("bdev_cluster_detach", "{\"name\":\"W2\"}");
            return 0;
        }
        String[] args = new String[perf.length + 2];
        System.arraycopy(perf, 0, args, 0, perf.length);
        args[perf.length] = "-T";
        args[perf.length + 1] = bdev;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        BdevPerf.runOn(c.node1(), args, new PrintStream(b, true, StandardCharsets.UTF_8), null);
        Matcher m = TOTAL.matcher(b.toString(StandardCharsets.UTF_8));
        return m.find() ? Math.round(Double.parseDouble(m.group(1))) : -1;
    }

    private static boolean listed(JsonNode bdevs, String name) {
        for (JsonNode b : bdevs) {
            if (b.get("name").asText().equals(name)) {
                return true;
            }
        }
        return false;
    }

    private static void awaitListed(LocalCluster c, String bdev) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                c.call("cluster_get_bdevs", "{\"name\":\"" + bdev + "\"}");
                return;
            } catch (RpcException e) {
                Thread.sleep(2);
            }
        }
        throw new IllegalStateException(bdev + " not listed within " + WAIT.toSeconds() + " s");
    }

    /** Waits until node 1's directory lists a bdev of {@code node}, polling every 2 ms. */
    private static void awaitListedOf(LocalCluster c, String node) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            for (JsonNode e : c.call("cluster_get_bdevs", null)) {
                if (e.get("node").asText().equals(node)) {
                    return;
                }
            }
            Thread.sleep(2);
        }
        throw new IllegalStateException("node 1's directory did not list a bdev of " + node + " within " + WAIT.toSeconds() + " s");
    }

    private static void awaitGone(LocalCluster c, String node) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            boolean present = false;
            for (JsonNode n : c.call("cluster_get_nodes", null).get("nodes")) {
                present |= n.get("name").asText().equals(node);
            }
            if (!present) {
                return;
            }
            Thread.sleep(20);
        }
        throw new IllegalStateException(node + " still a member after " + WAIT.toSeconds() + " s");
    }
}
