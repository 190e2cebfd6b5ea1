package io.spindle.examples.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.app.Spindle;
import io.spindle.bdev.BdevLayer;
import io.spindle.examples.bdevperf.BdevPerf;
import io.spindle.rpc.RpcException;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code ./spindle demo cluster}: Spindle as a cluster, narrated for a newcomer, in under a minute.
 *
 * <ol>
 *   <li>Three nodes on this machine, one process each: this program is node 1; nodes 2 and 3 are
 *       {@code spindle tgt --cluster} processes, each with a 64 MiB Malloc0 exported over Aeron (SPDK's {@code nvmf_*}
 *       calls in their JSON config). They form a Pekko cluster and publish their exports in the cluster-wide
 *       directory.</li>
 *   <li>Node 1 finds the two Malloc0s in the directory ({@code cluster_get_bdevs}) and attaches them
 *       ({@code bdev_cluster_attach}: through the Aeron initiator, no extra hop); with the raid module present it
 *       builds a raid1 over them, otherwise it runs one bdevperf job on each.</li>
 *   <li>bdevperf verify runs on node 1; three seconds in, node 3 is killed with {@code kill -9}. Node 1's cluster
 *       events show node 3 become unreachable, the Split Brain Resolver down it, and its bdev hot-removed; raid1
 *       carries on degraded with 0 miscompares (or the job on node 3's bdev ends while the other carries on).</li>
 *   <li>Node 3 is restarted: it joins as a new incarnation, its Malloc0 is back in the directory, and node 1
 *       attaches it again.</li>
 *   <li>Everything stops gracefully (each node unexports, then leaves the cluster); the temporary directory is
 *       removed. Nothing is left behind, also after Ctrl-C.</li>
 * </ol>
 *
 * <p>Exit status: 0 when every step did what it says (verify without miscompares included), 1 otherwise.
 */
public final class ClusterDemo {
    private static final Duration STEP_TIMEOUT = Duration.ofSeconds(90);

    private final PrintStream out;
    private final long t0 = System.nanoTime();
    private LocalCluster cluster;
    private Spindle node1;
    private volatile long killedAt;

    private ClusterDemo(PrintStream out) {
        this.out = out;
    }

    /** Command-line entry point: {@code spindle demo cluster}. */
    public static void main(String[] args) {
        org.slf4j.LoggerFactory.getILoggerFactory();
        if (args.length >= 1 && args[0].equals("cluster-figures")) {
            try {
                System.exit(ClusterFigures.run(java.util.Arrays.copyOfRange(args, 1, args.length), System.out));
            } catch (Exception e) {
                System.err.println("cluster-figures: " + e);
                e.printStackTrace();
                System.exit(1);
            }
        }
        if (args.length != 1 || !args[0].equals("cluster")) {
            System.err.println("usage: spindle demo cluster            three nodes, a kill -9, a rejoin, narrated (under a minute)");
            System.err.println("       spindle demo cluster-figures    the figures of docs/cluster.md [--rounds N] [--fast]");
            System.exit(2);
        }
        System.exit(new ClusterDemo(System.out).run());
    }

    int run() {
        Thread hook = new Thread(this::cleanUp, "spindle-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        int rc = 1;
        try {
            rc = steps();
        } catch (Exception e) {
            out.println();
            out.println("The demo stopped: " + e + (e instanceof RpcException r && r.detail() != null ? " (" + r.detail() + ")" : ""));
            rc = 1;
        } finally {
            if (rc != 0) {
                showLogs();
            }
            cleanUp();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down already (Ctrl-C): the hook runs
            }
        }
        out.printf(Locale.ROOT, "%nDemo %s in %.1f s; no process or directory is left behind.%n", rc == 0 ? "done" : "FAILED", secs());
        return rc;
    }

    private double secs() {
        return (System.nanoTime() - t0) / 1e9;
    }

    private void say(String step, String text) {
        out.println();
        out.printf(Locale.ROOT, "[%5.1fs] %s%n", secs(), step);
        for (String line : text.split("\n")) {
            out.println("         " + line);
        }
        out.flush();
    }

    private void note(String line) {
        out.printf(Locale.ROOT, "         %s%n", line);
        out.flush();
    }

    // ------------------------------------------------------------------ the steps

    private int steps() throws Exception {
        out.println("Spindle cluster demo: three Spindle nodes on 127.0.0.1, one process each, form a Pekko cluster;");
        out.println("node 1 uses the other two nodes' bdevs over Aeron, then node 3 is killed and comes back.");

        // nodes 2 and 3 only serve a Malloc0: their JVMs start faster with the client compiler alone
        cluster = new LocalCluster(3, List.of()).childJvmFlags("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");
        say("1. Start the nodes",
                "node 1 is this process; nodes 2 and 3 are `spindle tgt --cluster nodeK` processes, each with a 64 MiB Malloc0\n"
                        + "exported over Aeron (nvmf_create_subsystem / nvmf_subsystem_add_ns / nvmf_subsystem_add_listener in its\n"
                        + "JSON config). Their logs: " + cluster.dir());
        cluster.startNode(2, 16384); // the JVMs start while node 1 does
        cluster.startNode(3, 16384);
        node1 = cluster.startNode1(line -> {
            String t = killedAt == 0 ? "" : String.format(Locale.ROOT, " (kill +%.1f s)", (System.nanoTime() - killedAt) / 1e9);
            out.printf(Locale.ROOT, "[%5.1fs]   node 1 | %s%s%n", secs(), line, t);
            out.flush();
        });
        cluster.awaitMembers(3, STEP_TIMEOUT);
        JsonNode nodes = call("cluster_get_nodes", null);
        for (JsonNode n : nodes.get("nodes")) {
            note(String.format(Locale.ROOT, "%-6s %-32s %-8s%s", n.get("name").asText(), n.get("address").asText(), n.get("status").asText(),
                    n.get("local").asBoolean() ? " (this node)" : ""));
        }
        note("leader: " + nodes.get("leader").asText() + ". The Split Brain Resolver is on (keep-majority, stable-after 5 s).");

        say("2. The directory", "Each node publishes what it exports (Distributed Data, written to every member).\n"
                + "cluster_get_bdevs on node 1:");
        cluster.awaitExport("node2", STEP_TIMEOUT);
        cluster.awaitExport("node3", STEP_TIMEOUT);
        for (JsonNode e : call("cluster_get_bdevs", null)) {
            note(String.format(Locale.ROOT, "%-8s on %-6s %s, %d x %d B, %s, listener %s:%s", e.get("name").asText(), e.get("node").asText(),
                    e.get("uuid").asText(), e.get("num_blocks").asLong(), e.get("block_size").asInt(), e.get("nqn").asText(),
                    e.get("listen_addresses").get(0).get("traddr").asText(), e.get("listen_addresses").get(0).get("trsvcid").asText()));
        }

        say("3. Attach", "Both are named Malloc0, so node 1 names the node: bdev_cluster_attach -b Node2 -d Malloc0 -n node2, and Node3.\n"
                + "The attach goes through the Aeron initiator (bdev_nvme_attach_controller): the I/O path has no extra hop.");
        try {
            call("bdev_cluster_attach", "{\"name\":\"Node\",\"bdev\":\"Malloc0\"}");
        } catch (RpcException e) {
            note("(without a node: " + e.getMessage().replaceAll(" \\(pekko://[^)]*\\)", "") + ")");
        }
        note("Node2 -> " + call("bdev_cluster_attach", "{\"name\":\"Node2\",\"bdev\":\"Malloc0\",\"node\":\"node2\"}"));
        note("Node3 -> " + call("bdev_cluster_attach", "{\"name\":\"Node3\",\"bdev\":\"Malloc0\",\"node\":\"node3\"}"));

        boolean raid = cluster.hasMethod("bdev_raid_create");
        String target;
        if (raid) {
            call("bdev_raid_create", "{\"name\":\"Raid1\",\"raid_level\":\"raid1\",\"base_bdevs\":[\"Node2n1\",\"Node3n1\"]}");
            note("raid1 Raid1 = mirror of Node2n1 (on node 2) and Node3n1 (on node 3).");
            target = "Raid1";
        } else {
            note("This build has no raid module: bdevperf runs one job on each remote bdev instead of one on a raid1.");
            target = null;
        }

        say("4. I/O, then kill -9 node 3",
                "bdevperf verify (queue depth 16, 4 KiB) on node 1" + (raid ? " against Raid1" : " against Node2n1 and Node3n1")
                        + ". Three seconds in, node 3's\nprocess is killed. Watch node 1's cluster events: node 3 turns unreachable (failure detector), the resolver\n"
                        + "downs it after stable-after, it is removed, and its bdev is hot-removed. I/O to it waits meanwhile.");
        List<String> args = new ArrayList<>(List.of("-q", "16", "-o", "4096", "-w", "verify", "-t", "45"));
        if (target != null) {
            args.addAll(List.of("-T", target));
        }
        // bdevperf's table goes to the screen; its line per failed I/O does not (the failures show in the table)
        List<String> perfLines = new java.util.concurrent.CopyOnWriteArrayList<>();
        PrintStream perfOut = new PrintStream(new java.io.OutputStream() {
            private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

            @Override
            public synchronized void write(int b) {
                if (b != '\n') {
                    line.write(b);
                    return;
                }
                String l = line.toString(java.nio.charset.StandardCharsets.UTF_8);
                line.reset();
                perfLines.add(l);
                if (!l.startsWith("task offset:")) {
                    out.println(l);
                }
            }
        }, true, java.nio.charset.StandardCharsets.UTF_8);
        int perfRc = BdevPerf.runOn(node1, args.toArray(String[]::new), perfOut, run -> {
            try {
                Thread.sleep(3000);
                killedAt = System.nanoTime();
                cluster.process(3).destroyForcibly(); // SIGKILL
                out.printf(Locale.ROOT, "[%5.1fs] kill -9 node 3 (pid %d)%n", secs(), cluster.process(3).pid());
                out.flush();
                long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
                while (BdevLayer.of(node1).get("Node3n1") != null && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                out.printf(Locale.ROOT, "[%5.1fs] Node3n1 is gone from node 1, %.1f s after the kill; I/O goes on for 3 s more%n", secs(),
                        (System.nanoTime() - killedAt) / 1e9);
                out.flush();
                Thread.sleep(3000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            run.stop();
        });
        boolean ok = true;
        if (raid) {
            ok = perfRc == 0;
            JsonNode rb = call("bdev_raid_get_bdevs", "{\"category\":\"all\"}");
            for (JsonNode r : rb) {
                note("Raid1 after the loss: state " + r.path("state").asText() + ", base bdevs discovered "
                        + r.path("num_base_bdevs_discovered").asInt() + " of " + r.path("num_base_bdevs").asInt()
                        + (perfRc == 0 ? "; verify passed: 0 miscompares" : "; verify FAILED"));
            }
        } else {
            boolean twoFailed = perfLines.stream().anyMatch(l -> l.contains("Job Node2n1") && l.contains("fail"));
            long threeFailed = perfLines.stream().filter(l -> l.startsWith("task offset:")).count();
            note("The job on Node3n1 ended with its bdev: " + threeFailed + " I/O in flight completed with an error (Fail/s above).");
            note(twoFailed ? "The job on Node2n1 FAILED as well." : "The job on Node2n1 ran to the end without a failed I/O or a miscompare (verify).");
            ok = !twoFailed;
        }
        JsonNode view = call("cluster_get_nodes", null);
        List<String> left = new ArrayList<>();
        view.get("nodes").forEach(n -> left.add(n.get("name").asText() + " " + n.get("status").asText()));
        note("cluster_get_nodes on node 1 now: " + String.join(", ", left));

        say("5. Restart node 3", "A restarted node joins as a new incarnation (same address, new uid); its Malloc0 is back in the\n"
                + "directory, and node 1 attaches it again.");
        cluster.startNode(3, 16384);
        cluster.awaitMembers(3, STEP_TIMEOUT);
        cluster.awaitExport("node3", STEP_TIMEOUT);
        note("Node3 -> " + call("bdev_cluster_attach", "{\"name\":\"Node3\",\"bdev\":\"Malloc0\",\"node\":\"node3\"}"));
        String verifyOn = "Node3n1";
        if (raid && cluster.hasMethod("bdev_raid_add_base_bdev")) {
            try {
                call("bdev_raid_add_base_bdev", "{\"raid_bdev\":\"Raid1\",\"base_bdev\":\"Node3n1\"}");
                note("bdev_raid_add_base_bdev Raid1 Node3n1: Node3n1 is rebuilt from Node2n1 in the background, while I/O runs.");
                verifyOn = "Raid1"; // Node3n1 is claimed by the raid now: I/O goes through the mirror
            } catch (RpcException e) {
                note("bdev_raid_add_base_bdev: " + e.getMessage());
            }
        }
        int again = BdevPerf.runOn(node1, new String[] {"-q", "16", "-o", "4096", "-w", "verify", "-t", "3", "-T", verifyOn},
                new PrintStream(java.io.OutputStream.nullOutputStream()), null);
        note("3 s of verify on " + (verifyOn.equals("Raid1") ? "Raid1 during the rebuild" : "the re-attached Node3n1") + ": "
                + (again == 0 ? "passed" : "FAILED"));
        ok &= again == 0;
        if (verifyOn.equals("Raid1")) {
            ok &= awaitRebuild();
        }

        say("6. Stop", "Each node unexports, leaves the cluster gracefully, and stops.");
        return ok ? 0 : 1;
    }

    // ------------------------------------------------------------------ helpers

    /** Waits (bounded) for Raid1's rebuild onto Node3n1 to end, as {@code bdev_raid_get_bdevs} reports it. */
    private boolean awaitRebuild() throws Exception {
        long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode raids = call("bdev_raid_get_bdevs", "{\"category\":\"all\"}");
            for (JsonNode r : raids) {
                if (r.path("name").asText().equals("Raid1")) {
                    if (!r.has("process")) {
                        note("Raid1's rebuild finished: " + r.path("num_base_bdevs_operational").asInt() + " of "
                                + r.path("num_base_bdevs").asInt() + " bases operational, state " + r.path("state").asText());
                        return r.path("num_base_bdevs_operational").asInt() == r.path("num_base_bdevs").asInt();
                    }
                }
            }
            Thread.sleep(200);
        }
        note("Raid1's rebuild did not finish within " + STEP_TIMEOUT.toSeconds() + " s: FAILED");
        return false;
    }

    private JsonNode call(String method, String params) throws Exception {
        return cluster.call(method, params);
    }

    private void showLogs() {
        for (int k = 2; k <= 3 && cluster != null; k++) {
            out.println("--- last lines of node " + k + "'s log:");
            cluster.tail(k, 15).forEach(l -> out.println("  " + l));
        }
    }

    /** Stops every node gracefully (forcibly when one does not stop in time) and removes the directory. Idempotent. */
    private void cleanUp() {
        LocalCluster c = cluster;
        if (c != null) {
            c.close();
        }
    }
}
