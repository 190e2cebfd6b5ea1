package io.spindle.cluster;

import io.spindle.app.Spindle;
import io.spindle.app.Subsystem;
import io.spindle.app.SubsystemContext;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * Spindle as a cluster member: the subsystem {@code cluster}. Its init spawns the cluster actor ({@code spindle/cluster},
 * {@link ClusterNode}), which follows Pekko Cluster's membership events, publishes this node's exports in the
 * cluster-wide bdev directory and hot-removes the bdevs attached from a member that is gone.
 *
 * <p><b>Register it before the bdev and nvmf subsystems</b> (it depends on none), so it is initialised first and
 * finished last: at stop the target unexports first (nvmf fini: every host gets REMOVE, drains, detaches; the
 * directory sees the exports go), then this fini removes the node's directory entry and, for a standalone Spindle,
 * leaves the cluster gracefully (Leaving, Exiting, Removed) and waits until it is removed, before the reactors exit
 * and the ActorSystem terminates. Init fails, saying so, when {@code bdev} or {@code nvmf} was initialised before it.
 * Embedded in your ActorSystem, the fini only unpublishes: your system stays a member.
 *
 * <p>The ActorSystem must be created with {@link ClusterConfig#pekkoConfig()} (provider {@code cluster}, no Pekko seed
 * nodes) and named {@link ClusterConfig#clusterName()}; init fails with a message saying so otherwise.
 *
 * <p><b>When the node joins.</b> By default its init joins the cluster through {@link ClusterConfig#seedNodes()}
 * (Pekko's {@code JoinSeedNodes}; the start does not wait for the cluster). An application that configures exports
 * after the start (a JSON config, {@code spindle tgt --json}) sets {@link #joinAtStart(boolean) joinAtStart(false)}
 * and calls {@link #join()} once they exist: then the other members see this node only with its exports, and its
 * directory entry is in its replica before it is a member. {@code join()} reads the exports once more, puts the
 * entry in the local replica, then sends the join. A node that never joins stays out of the cluster (its stop only
 * unpublishes).
 * Outside cluster mode, do not add this subsystem: then nothing of the cluster starts.
 *
 * <p>What this node exports and how it attaches others' exports come from {@link #exportSource(ExportSource)} and
 * {@link #remoteBdevs(RemoteBdevs)}; by default they are this node's NVMe-oF-style target and Aeron initiator,
 * reached through SPDK's methods ({@link NvmfExports}: {@code nvmf_get_subsystems}; {@link NvmeRemoteBdevs}:
 * {@code bdev_nvme_attach_controller} / {@code bdev_nvme_detach_controller}).
 *
 * <p>Thread-safe: configure before the start; the query methods may be called from any thread once it is
 * initialised. Their stages complete on the ActorSystem's dispatcher.
 */
public final class ClusterSubsystem implements Subsystem {
    /** The subsystem's name. */
    public static final String NAME = "cluster";

    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(30);

    private final ClusterConfig config;
    private volatile ExportSource exportSource;
    private volatile RemoteBdevs remoteBdevs;
    private volatile Consumer<String> events = line -> {
    };
    private volatile ActorRef<ClusterNode.Command> node;
    private volatile ActorSystem<?> system;
    private volatile boolean standalone;
    private volatile boolean joinAtStart = true;

    /** The subsystem of a member configured by {@code config}. */
    public ClusterSubsystem(ClusterConfig config) {
        this.config = Objects.requireNonNull(config, "config");
    }

    /** What this node exports (default: its nvmf target's namespaces, {@link NvmfExports}). Before the start. */
    public ClusterSubsystem exportSource(ExportSource source) {
        this.exportSource = Objects.requireNonNull(source, "source");
        return this;
    }

    /** How this node attaches and detaches others' exports (default: its Aeron initiator, {@link NvmeRemoteBdevs}). Before the start. */
    public ClusterSubsystem remoteBdevs(RemoteBdevs remote) {
        this.remoteBdevs = Objects.requireNonNull(remote, "remote");
        return this;
    }

    /**
     * Gets one line for each membership, reachability or directory change this node sees, and for each attach,
     * detach and hot-remove (what {@code spindle tgt --cluster} prints). Called on the cluster actor's thread; must
     * not block. Before the start.
     */
    public ClusterSubsystem onEvent(Consumer<String> listener) {
        this.events = Objects.requireNonNull(listener, "listener");
        return this;
    }

    /**
     * Whether init joins the cluster (default true). False: the node joins when {@link #join()} is called, e.g. once
     * its JSON config has created its exports. Before the start.
     */
    public ClusterSubsystem joinAtStart(boolean atStart) {
        this.joinAtStart = atStart;
        return this;
    }

    /**
     * Joins the cluster through the seed nodes, with this node's exports as they are now: reads them from the
     * export source, puts this node's directory entry in its local replica, then sends Pekko's
     * {@code JoinSeedNodes} (the first seed forms the cluster when no seed answers, as with Pekko's
     * {@code seed-nodes}). Idempotent: a second call joins nothing more; after init with {@code joinAtStart(true)} it
     * does nothing.
     *
     * @return completes when the join has been sent (becoming Up follows in the background: {@link #nodes()}), or at
     *         once when the node is stopping
     * @throws IllegalStateException when the subsystem is not running
     */
    public CompletionStage<Void> join() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        node().tell(new ClusterNode.Join(f));
        return f.thenApplyAsync(x -> x, system.executionContext());
    }

    /** The configuration. */
    public ClusterConfig config() {
        return config;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<String> dependsOn() {
        return List.of();
    }

    @Override
    public CompletionStage<Void> init(SubsystemContext ctx) {
        ActorSystem<?> sys = ctx.system();
        String provider = sys.settings().config().getString("pekko.actor.provider");
        if (!provider.equals("cluster") && !provider.equals("org.apache.pekko.cluster.ClusterActorRefProvider")) {
            return CompletableFuture.failedFuture(new IllegalStateException("pekko.actor.provider=" + provider
                    + ": cluster mode needs provider cluster (create the ActorSystem with ClusterConfig.pekkoConfig())"));
        }
        if (!sys.name().equals(config.clusterName())) {
            return CompletableFuture.failedFuture(new IllegalStateException("spindle.cluster.name=" + config.clusterName()
                    + " but the ActorSystem is named " + sys.name() + ": members of one cluster share the ActorSystem name"));
        }
        for (io.spindle.app.Subsystem other : ctx.config().subsystems()) {
            if (other == this) {
                break;
            }
            if (other.name().equals("bdev") || other.name().equals("nvmf")) {
                return CompletableFuture.failedFuture(new IllegalStateException("subsystem=" + NAME + " is initialised after "
                        + other.name() + ": register it first, so it finishes last (the node unexports, then leaves the cluster)"));
            }
        }
        this.system = sys;
        this.standalone = ctx.spindle().isStandalone();
        ExportSource exports = exportSource != null ? exportSource : new NvmfExports(ctx.spindle(), config.exportPollInterval());
        RemoteBdevs remote = remoteBdevs != null ? remoteBdevs : new NvmeRemoteBdevs(ctx.spindle());
        this.node = ctx.spawn(ClusterNode.create(config, exports, remote, events), "cluster", Props.empty());
        if (joinAtStart) {
            node.tell(new ClusterNode.Join(new CompletableFuture<>()));
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> fini(SubsystemContext ctx) {
        ActorRef<ClusterNode.Command> n = node;
        if (n == null) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> unpublished = new CompletableFuture<>();
        n.tell(new ClusterNode.Unpublish(unpublished));
        // the entry's removal waits at most the directory's write timeout (WriteAll); a little more for the reply
        CompletableFuture<Void> done = unpublished.completeOnTimeout(null, config.directoryWriteTimeout().plusSeconds(1).toMillis(),
                java.util.concurrent.TimeUnit.MILLISECONDS);
        if (standalone) {
            // leave now, while the ActorSystem is whole: once the app actor (its guardian) stops, the system's actors
            // stop with it, and a member gone before it is Exiting is downed as unreachable instead of removed
            done = done.thenCompose(v -> {
                CompletableFuture<Void> left = new CompletableFuture<>();
                n.tell(new ClusterNode.Leave(config.leaveTimeout(), left));
                return left.completeOnTimeout(null, config.leaveTimeout().plusSeconds(2).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            });
        }
        return done.thenRun(() -> node = null);
    }

    private ActorRef<ClusterNode.Command> node() {
        ActorRef<ClusterNode.Command> n = node;
        if (n == null) {
            throw new IllegalStateException("the cluster subsystem is not running");
        }
        return n;
    }

    /** The membership as this node sees it ({@code cluster_get_nodes}). */
    public CompletionStage<ClusterView> nodes() {
        return AskPattern.ask(node(), ClusterNode.GetNodes::new, ASK_TIMEOUT, system.scheduler());
    }

    /** The directory: every export of every current member ({@code cluster_get_bdevs}). */
    public CompletionStage<List<DirectoryEntry>> bdevs() {
        return AskPattern.ask(node(), ClusterNode.GetDirectory::new, ASK_TIMEOUT, system.scheduler());
    }

    /**
     * {@code bdev_cluster_attach}: attaches the export named {@code bdev} (its name or UUID) of node {@code node}
     * (its name or address; null: whichever node exports it, which must be exactly one) as controller {@code name}.
     *
     * @param options the controller options (null: {@code spindle.cluster.attach})
     * @return completes with the bdev names created; fails with an {@link io.spindle.rpc.RpcException}: -19 when no
     *         such export is in the directory or its node is not up and reachable, -22 when the name is ambiguous
     *         (the message lists the candidates), -17 when {@code name} is attached already, or the initiator's error
     */
    public CompletionStage<List<String>> attach(String name, String bdev, String node, ClusterConfig.AttachDefaults options) {
        CompletableFuture<List<String>> f = new CompletableFuture<>();
        node().tell(new ClusterNode.Attach(name, bdev, node, options == null ? config.attachDefaults() : options, f));
        return f.thenApplyAsync(x -> x, system.executionContext());
    }

    /**
     * {@code bdev_cluster_detach}: detaches controller {@code name} made by {@link #attach}.
     *
     * @return fails with -19 when there is no such controller
     */
    public CompletionStage<Void> detach(String name) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        node().tell(new ClusterNode.Detach(name, f));
        return f.thenApplyAsync(x -> x, system.executionContext());
    }

    /**
     * The cluster subsystem of {@code spindle}.
     *
     * @throws io.spindle.rpc.RpcException -19 when Spindle runs outside cluster mode
     */
    public static ClusterSubsystem of(Spindle spindle) throws io.spindle.rpc.RpcException {
        try {
            return spindle.subsystem(ClusterSubsystem.class);
        } catch (IllegalArgumentException e) {
            throw io.spindle.rpc.RpcException.errno(Errno.ENODEV, "cluster mode is off on this node (start it with spindle tgt --cluster NODE)");
        }
    }
}
