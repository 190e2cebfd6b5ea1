package io.spindle.examples.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.rpc.RpcClient;
import io.spindle.rpc.RpcException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Outside cluster mode nothing of the cluster starts: a plain {@code ./spindle tgt} and {@code ./spindle bdevperf}
 * (with the transport module on their class path) load no Pekko Cluster or remoting class (JVM class-load log),
 * and the tgt listens on no TCP port; its cluster RPCs answer -19 saying cluster mode is off.
 */
class OutsideClusterModeTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private Path dir;
    private final List<Process> started = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "spnc");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Process p : started) {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private ProcessBuilder spindle(Path classLog, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ROOT.resolve("spindle").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile());
        pb.environment().put("SPINDLE_SKIP_BUILD", "1");
        pb.environment().put("SPINDLE_JAVA_OPTS", "-Xlog:class+load=info:file=" + classLog);
        return pb;
    }

    /**
     * The classes any running piece of the cluster would load: the cluster and remote providers, Artery (tcp and
     * aeron-udp), the cluster daemons and extension, the Split Brain Resolver, Distributed Data's replicator, Spindle's
     * cluster actor, an Aeron client or media driver (the transport's classes implement Aeron interfaces, so those load
     * with them; a client or driver would mean something started).
     * (Pekko's Serialization extension loads the serializers and message types of every module on the class path,
     * pekko-remote's and pekko-cluster's included, whenever it starts: those are data types, not machinery.)
     */
    private static final List<String> MACHINERY = List.of("org.apache.pekko.cluster.ClusterActorRefProvider",
            "org.apache.pekko.remote.RemoteActorRefProvider", "org.apache.pekko.remote.artery.ArteryTransport",
            "org.apache.pekko.remote.artery.tcp.ArteryTcpTransport", "org.apache.pekko.cluster.Cluster",
            "org.apache.pekko.cluster.ClusterDaemon", "org.apache.pekko.cluster.ClusterCoreDaemon",
            "org.apache.pekko.cluster.typed.Cluster", "org.apache.pekko.cluster.sbr.SplitBrainResolver",
            "org.apache.pekko.cluster.ddata.Replicator", "io.spindle.cluster.ClusterNode",
            "org.apache.pekko.remote.artery.aeron.ArteryAeronUdpTransport", "io.aeron.driver.MediaDriver", "io.aeron.Aeron");

    /** Lines of a class-load log that load the cluster's machinery. */
    private static List<String> clusterClasses(Path classLog) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(classLog)) {
            for (String m : MACHINERY) {
                if (line.contains(" " + m + " ")) {
                    out.add(line);
                }
            }
        }
        return out;
    }

    /** TCP sockets the process listens on (LISTEN entries of /proc/net/tcp* whose inode is one of its fds). */
    private static List<String> tcpListeners(long pid) throws IOException {
        Set<String> inodes = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String t = Files.readSymbolicLink(fd).toString();
                    if (t.startsWith("socket:[")) {
                        inodes.add(t.substring(8, t.length() - 1));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        List<String> out = new ArrayList<>();
        for (String f : new String[] {"tcp", "tcp6"}) {
            Path p = Path.of("/proc", Long.toString(pid), "net", f);
            if (!Files.exists(p)) {
                continue;
            }
            for (String line : Files.readAllLines(p)) {
                String[] c = line.trim().split("\\s+");
                if (c.length > 9 && c[3].equals("0A") && inodes.contains(c[9])) {
                    out.add(f + " " + c[1]);
                }
            }
        }
        return out;
    }

    @Test
    @Timeout(180)
    @DisplayName("a plain spindle tgt starts none of the cluster's machinery, listens on no TCP port, and answers the cluster RPCs with -19")
    void plainTgtStartsNoCluster() throws Exception {
        Path classLog = dir.resolve("classes.log");
        Path log = dir.resolve("tgt.log");
        Path sock = dir.resolve("t.sock");
        Process p = spindle(classLog, "tgt", "-r", sock.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        started.add(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!Files.readString(log).contains("spindle tgt: started")) {
            assertThat(p.isAlive()).as(Files.readString(log)).isTrue();
            assertThat(System.nanoTime() < deadline).as(Files.readString(log)).isTrue();
            Thread.sleep(100);
        }
        try (RpcClient c = RpcClient.connect(sock, Duration.ofSeconds(30))) {
            assertThat(c.call("rpc_get_methods", null).toString()).contains("\"cluster_get_nodes\"").contains("\"bdev_cluster_attach\"");
            assertThatThrownBy(() -> c.call("cluster_get_nodes", null)).isInstanceOf(RpcException.class)
                    .satisfies(e -> assertThat(((RpcException) e).code()).isEqualTo(-19))
                    .satisfies(e -> assertThat(((RpcException) e).detail()).contains("cluster mode is off"));
            assertThatThrownBy(() -> c.call("cluster_get_bdevs", new ObjectMapper().createObjectNode())).isInstanceOf(RpcException.class)
                    .satisfies(e -> assertThat(((RpcException) e).code()).isEqualTo(-19));
        }
        assertThat(tcpListeners(p.pid())).as("TCP listeners of a plain tgt").isEmpty();
        assertThat(clusterClasses(classLog)).as("cluster classes loaded by a plain tgt").isEmpty();
        assertThat(Files.readString(classLog)).as("the class-load log works").contains(" io.spindle.examples.tgt.SpindleTgt ");
        p.destroy();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(log)).isZero();
    }

    @Test
    @Timeout(180)
    @DisplayName("bdevperf starts none of the cluster's machinery")
    void bdevperfStartsNoCluster() throws Exception {
        Path classLog = dir.resolve("classes.log");
        Path log = dir.resolve("bdevperf.log");
        Process p = spindle(classLog, "bdevperf", "-q", "8", "-o", "4096", "-w", "randread", "-t", "1")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        started.add(p);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(log)).isZero();
        assertThat(clusterClasses(classLog)).as("cluster classes loaded by bdevperf").isEmpty();
    }
}
