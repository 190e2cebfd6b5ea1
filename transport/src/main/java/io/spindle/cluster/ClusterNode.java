package io.spindle.cluster;

import io.spindle.rpc.RpcException;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.UniqueAddress;
import org.apache.pekko.cluster.ddata.Key;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.LWWMapKey;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.ddata.typed.javadsl.ReplicatorMessageAdapter;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.SelfRemoved;
import org.apache.pekko.cluster.typed.SelfUp;
import org.apache.pekko.cluster.typed.Subscribe;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The cluster actor ({@code spindle/cluster}): this node's part of the cluster. One actor owns the three pieces of
 * state that must agree with each other:
 * <ul>
 *   <li><b>membership</b>: it subscribes to Pekko Cluster's member and reachability events (and {@link SelfUp});
 *       queries read the cluster's current state;</li>
 *   <li><b>the directory</b>: a Distributed Data {@code LWWMap} from each member's unique address to its
 *       {@link NodeExports}. This node writes only its own entry (with {@code WriteAll}, so the others have it at
 *       once), subscribes to the whole map, and removes the entry of a member that was removed. It joins the
 *       cluster ({@link Join}) only with its entry in its own replica, pushes it when welcomed and when up, and
 *       reads the whole map when another member comes up;</li>
 *   <li><b>attachments</b>: the controllers {@code bdev_cluster_attach} made, with the member each points at. When
 *       that member is removed (downed by the Split Brain Resolver after a crash, or gone after a graceful leave)
 *       every attachment to it is detached through {@link RemoteBdevs}: its bdevs are hot-removed.</li>
 * </ul>
 *
 * <p>Runs on the ActorSystem's default dispatcher, never on a reactor: nothing here is on the data path. Replies to
 * queries are immutable records; requests that may fail complete a {@link CompletableFuture} with an
 * {@link RpcException} carrying SPDK's code.
 */
final class ClusterNode extends AbstractBehavior<ClusterNode.Command> {
    /** The directory's Distributed Data key. */
    static final Key<LWWMap<String, NodeExports>> DIRECTORY = LWWMapKey.create("spindle-bdev-directory");

    /** Messages of the cluster actor. */
    sealed interface Command permits GetNodes, GetDirectory, Attach, Detach, Unpublish, Leave, Join, JoinReady, LocalExports, MemberChange, ReachabilityChange,
            SelfIsUp, SelfIsRemoved, LeaveTimedOut, PullDirectory, DirectoryChanged, DirectoryRead, Written, AttachDone, DetachDone, RemovalDetachDone {
    }

    /** {@code cluster_get_nodes}. */
    record GetNodes(ActorRef<ClusterView> replyTo) implements Command {
    }

    /** {@code cluster_get_bdevs}: every entry of every current member. */
    record GetDirectory(ActorRef<List<DirectoryEntry>> replyTo) implements Command {
    }

    /**
     * {@code bdev_cluster_attach}.
     *
     * @param name    the controller name
     * @param bdev    the remote bdev's name or UUID
     * @param node    the node's name or address, or null for any
     * @param options the controller options
     * @param result  completes with the bdev names, or fails with an {@link RpcException}
     */
    record Attach(String name, String bdev, String node, ClusterConfig.AttachDefaults options, CompletableFuture<List<String>> result)
            implements Command {
    }

    /** {@code bdev_cluster_detach}. */
    record Detach(String name, CompletableFuture<Void> result) implements Command {
    }

    /** Removes this node's directory entry (before it unexports); {@code done} completes when others acknowledged or it timed out. */
    record Unpublish(CompletableFuture<Void> done) implements Command {
    }

    /**
     * Leaves the cluster gracefully (Pekko's Leave: Leaving, Exiting, Removed) and completes {@code done} once this
     * member is Exiting (the leader took the leave; the others remove it even if it stops now) or removed, or after
     * {@code timeout}; at once when it is down or not a member.
     */
    record Leave(java.time.Duration timeout, CompletableFuture<Void> done) implements Command {
    }

    /**
     * Joins the cluster through the configured seed nodes: reads this node's exports now, puts its entry in the local
     * replica, then sends Pekko's {@code JoinSeedNodes}; {@code done} completes when that is sent (the join itself
     * goes on in the background), or at once when it was sent already or the node is stopping.
     */
    record Join(CompletableFuture<Void> done) implements Command {
    }

    /** The exports were read and this node's entry is in the local replica: send the join. */
    enum JoinReady implements Command {
        INSTANCE
    }

    record LocalExports(List<Export> exports) implements Command {
    }

    record SelfIsRemoved(SelfRemoved removed) implements Command {
    }

    enum LeaveTimedOut implements Command {
        INSTANCE
    }

    enum PullDirectory implements Command {
        INSTANCE
    }

    record MemberChange(ClusterEvent.MemberEvent event) implements Command {
    }

    record ReachabilityChange(ClusterEvent.ReachabilityEvent event) implements Command {
    }

    record SelfIsUp(SelfUp up) implements Command {
    }

    record DirectoryChanged(Replicator.SubscribeResponse<LWWMap<String, NodeExports>> response) implements Command {
    }

    record DirectoryRead(Replicator.GetResponse<LWWMap<String, NodeExports>> response) implements Command {
    }

    record Written(Replicator.UpdateResponse<LWWMap<String, NodeExports>> response, String what, CompletableFuture<Void> done)
            implements Command {
    }

    record AttachDone(Attach request, DirectoryEntry target, List<String> bdevs, Throwable failure) implements Command {
    }

    record DetachDone(Detach request, Throwable failure) implements Command {
    }

    record RemovalDetachDone(String name, String node, String nodeKey, Throwable failure) implements Command {
    }

    /** One controller {@code bdev_cluster_attach} made. */
    record Attachment(String name, String nodeKey, String nodeName, Export export, List<String> bdevs) {
    }

    private final ClusterConfig config;
    private final ExportSource exportSource;
    private final RemoteBdevs remote;
    private final Consumer<String> events;
    private final Cluster cluster;
    private final SelfUniqueAddress self;
    private final String selfKey;
    private final ReplicatorMessageAdapter<Command, LWWMap<String, NodeExports>> replicator;
    private final ExportSource.Watch watch;
    /** The directory as this node's replica has it: member key to its entry. */
    private Map<String, NodeExports> directory = Map.of();
    /** This node's exports, as published last. */
    private List<Export> published;
    private boolean unpublished;
    private final Map<String, Attachment> attachments = new LinkedHashMap<>();
    private final List<CompletableFuture<Void>> leaving = new ArrayList<>();
    private boolean selfRemoved;
    /** Join requested (the exports are being read), and JoinSeedNodes sent. */
    private boolean joinRequested;
    private boolean joinSent;
    private final List<CompletableFuture<Void>> joinWaiters = new ArrayList<>();
    private final Set<String> attaching = new HashSet<>();
    private final Set<String> hotRemoving = new HashSet<>();

    private ClusterNode(ActorContext<Command> ctx, ReplicatorMessageAdapter<Command, LWWMap<String, NodeExports>> replicator,
                        ClusterConfig config, ExportSource exportSource, RemoteBdevs remote, Consumer<String> events) {
        super(ctx);
        this.config = config;
        this.exportSource = exportSource;
        this.remote = remote;
        this.events = events;
        this.replicator = replicator;
        this.cluster = Cluster.get(ctx.getSystem());
        this.self = DistributedData.get(ctx.getSystem()).selfUniqueAddress();
        this.selfKey = key(self.uniqueAddress());
        cluster.subscriptions().tell(Subscribe.create(ctx.messageAdapter(ClusterEvent.MemberEvent.class, MemberChange::new),
                ClusterEvent.MemberEvent.class));
        cluster.subscriptions().tell(Subscribe.create(ctx.messageAdapter(ClusterEvent.ReachabilityEvent.class, ReachabilityChange::new),
                ClusterEvent.ReachabilityEvent.class));
        cluster.subscriptions().tell(Subscribe.create(ctx.messageAdapter(SelfUp.class, SelfIsUp::new), SelfUp.class));
        cluster.subscriptions().tell(Subscribe.create(ctx.messageAdapter(SelfRemoved.class, SelfIsRemoved::new), SelfRemoved.class));
        replicator.subscribe(DIRECTORY, DirectoryChanged::new);
        ActorRef<Command> me = ctx.getSelf();
        this.watch = exportSource.watch(list -> me.tell(new LocalExports(List.copyOf(list))));
        ctx.getLog().info("cluster: node {} at {} ({})", config.nodeName(), selfKey, config);
    }

    /** The behavior; {@code events} gets one line per membership or directory change this node sees (must not block). */
    static Behavior<Command> create(ClusterConfig config, ExportSource exports, RemoteBdevs remote, Consumer<String> events) {
        return Behaviors.setup(ctx -> DistributedData.withReplicatorMessageAdapter(
                (ReplicatorMessageAdapter<Command, LWWMap<String, NodeExports>> r) -> new ClusterNode(ctx, r, config, exports, remote,
                        events)));
    }

    /** A member's directory key: its address and incarnation, {@code pekko://spindle@127.0.0.1:25520#-4711}. */
    static String key(UniqueAddress a) {
        return a.address() + "#" + a.longUid();
    }

    /** Pekko's member status in snake case ({@code WeaklyUp} gives {@code weakly_up}). */
    static String status(MemberStatus s) {
        String n = s.toString();
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n.length(); i++) {
            char c = n.charAt(i);
            if (Character.isUpperCase(c) && i > 0) {
                b.append('_');
            }
            b.append(Character.toLowerCase(c));
        }
        return b.toString().replace("$", "");
    }

    /** A member's node name, from its {@code node=} role ("" when it has none). */
    static String nodeName(Member m) {
        for (String r : m.getRoles()) {
            if (r.startsWith(ClusterConfig.NODE_ROLE_PREFIX)) {
                return r.substring(ClusterConfig.NODE_ROLE_PREFIX.length());
            }
        }
        return "";
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(GetNodes.class, this::onGetNodes)
                .onMessage(GetDirectory.class, this::onGetDirectory)
                .onMessage(Attach.class, this::onAttach)
                .onMessage(Detach.class, this::onDetach)
                .onMessage(Unpublish.class, this::onUnpublish)
                .onMessage(Leave.class, this::onLeave)
                .onMessage(Join.class, this::onJoin)
                .onMessageEquals(JoinReady.INSTANCE, this::onJoinReady)
                .onMessage(SelfIsRemoved.class, this::onSelfRemoved)
                .onMessageEquals(LeaveTimedOut.INSTANCE, this::onLeaveTimedOut)
                .onMessageEquals(PullDirectory.INSTANCE, () -> {
                    replicator.askGet(replyTo -> new Replicator.Get<>(DIRECTORY, new Replicator.ReadAll(config.directoryWriteTimeout()), replyTo),
                            DirectoryRead::new);
                    return this;
                })
                .onMessage(LocalExports.class, this::onLocalExports)
                .onMessage(MemberChange.class, this::onMemberChange)
                .onMessage(ReachabilityChange.class, this::onReachabilityChange)
                .onMessage(SelfIsUp.class, this::onSelfUp)
                .onMessage(DirectoryChanged.class, this::onDirectoryChanged)
                .onMessage(DirectoryRead.class, this::onDirectoryRead)
                .onMessage(Written.class, this::onWritten)
                .onMessage(AttachDone.class, this::onAttachDone)
                .onMessage(DetachDone.class, this::onDetachDone)
                .onMessage(RemovalDetachDone.class, this::onRemovalDetachDone)
                .onSignal(PostStop.class, s -> {
                    watch.close();
                    for (CompletableFuture<Void> f : leaving) {
                        f.complete(null);
                    }
                    for (CompletableFuture<Void> f : joinWaiters) {
                        f.complete(null);
                    }
                    return this;
                })
                .build();
    }

    // ------------------------------------------------------------------ membership

    private Behavior<Command> onMemberChange(MemberChange m) {
        ClusterEvent.MemberEvent e = m.event();
        Member member = e.member();
        String who = describe(member);
        if (e instanceof ClusterEvent.MemberUp) {
            tell("member up: " + who);
            if (!key(member.uniqueAddress()).equals(selfKey)) {
                // pull the newcomer's entry (and everyone's) now rather than wait for gossip or for the newcomer to learn
                // it is up. The newcomer put its entry in its own replica before it joined (onJoin), and this node's
                // replicator, subscribed to the same member events since its start, was told of this MemberUp in the
                // same publish, before this actor could send the Get: the ReadAll asks the newcomer too. Once more a
                // second later in case that read failed (a member that had not yet seen the newcomer, a timeout)
                getContext().getSelf().tell(PullDirectory.INSTANCE);
                getContext().scheduleOnce(java.time.Duration.ofMillis(1000), getContext().getSelf(), PullDirectory.INSTANCE);
            }
        } else if (e instanceof ClusterEvent.MemberJoined) {
            tell("member joining: " + who);
            if (key(member.uniqueAddress()).equals(selfKey) && published != null && !unpublished) {
                // welcomed: this node knows the members now; push its entry to them at once (a member accepts writes
                // from a joining node once it has seen it join; one that has not yet gets it from the push at SelfUp,
                // from its own read at MemberUp, or from gossip)
                write(published);
            }
        } else if (e instanceof ClusterEvent.MemberLeft) {
            tell("member leaving: " + who);
        } else if (e instanceof ClusterEvent.MemberExited) {
            tell("member exiting: " + who);
            if (key(member.uniqueAddress()).equals(selfKey)) {
                // the leader has taken the leave: the others remove this member now even if it stops at once
                leaveDone("exiting");
            }
        } else if (e instanceof ClusterEvent.MemberDowned) {
            tell("member downed: " + who);
            // down is final (that incarnation never comes back): hot-remove now, not only once the leader removed it
            hotRemoveAttachmentsOf(member, "downed");
        } else if (e instanceof ClusterEvent.MemberRemoved r) {
            onMemberRemoved(member, r.previousStatus());
        }
        return this;
    }

    private void onMemberRemoved(Member member, MemberStatus previous) {
        String key = key(member.uniqueAddress());
        // (a downed member's attachments went when it was downed; one that left gracefully has its go now)
        tell("member removed: " + describe(member) + " (was " + status(previous) + ")");
        if (directory.containsKey(key) && !key.equals(selfKey)) {
            // every node that sees the removal drops the entry (idempotent); the others' removals merge
            replicator.askUpdate(replyTo -> new Replicator.Update<>(DIRECTORY, LWWMap.empty(), Replicator.writeLocal(), replyTo,
                    map -> map.remove(self, key)), r -> new Written(r, "remove entry of " + key, null));
        }
        hotRemoveAttachmentsOf(member, "removed");
    }

    /** Detaches every attachment to {@code member} not being detached already: its bdevs are hot-removed. */
    private void hotRemoveAttachmentsOf(Member member, String why) {
        String key = key(member.uniqueAddress());
        for (Attachment a : List.copyOf(attachments.values())) {
            if (a.nodeKey().equals(key) && hotRemoving.add(a.name())) {
                tell("hot-removing " + a.name() + " (bdevs " + String.join(", ", a.bdevs()) + "): its node " + a.nodeName() + " was " + why);
                getContext().pipeToSelf(remote.detach(a.name()), (ok, err) -> new RemovalDetachDone(a.name(), a.nodeName(), a.nodeKey(), err));
            }
        }
    }

    private Behavior<Command> onRemovalDetachDone(RemovalDetachDone m) {
        hotRemoving.remove(m.name());
        Attachment a = attachments.get(m.name());
        if (a != null && a.nodeKey().equals(m.nodeKey())) {
            attachments.remove(m.name()); // not a newer attachment of the same name
        }
        if (m.failure() != null && remote.attached(m.name())) {
            getContext().getLog().error("cluster: hot-remove of {} (node {} removed) failed", m.name(), m.node(), unwrap(m.failure()));
            tell("hot-remove of " + m.name() + " failed: " + unwrap(m.failure()).getMessage());
        } else {
            tell("removed " + m.name() + (m.failure() == null ? "" : " (" + unwrap(m.failure()).getMessage() + ")"));
        }
        return this;
    }

    private Behavior<Command> onReachabilityChange(ReachabilityChange m) {
        if (m.event() instanceof ClusterEvent.UnreachableMember u) {
            tell("member unreachable: " + describe(u.member()));
        } else if (m.event() instanceof ClusterEvent.ReachableMember r) {
            tell("member reachable again: " + describe(r.member()));
        }
        return this;
    }

    private Behavior<Command> onSelfUp(SelfIsUp m) {
        tell("this node (" + config.nodeName() + ") is up");
        // pull every other member's entry now rather than at the next gossip round, and push ours to all
        replicator.askGet(replyTo -> new Replicator.Get<>(DIRECTORY, new Replicator.ReadAll(config.directoryWriteTimeout()), replyTo),
                DirectoryRead::new);
        if (published != null && !unpublished) {
            write(published);
        }
        return this;
    }

    private Behavior<Command> onLeave(Leave m) {
        MemberStatus st = cluster.selfMember().status();
        if (selfRemoved || cluster.isTerminated() || st == MemberStatus.down() || st == MemberStatus.removed()) {
            m.done().complete(null);
            return this;
        }
        leaving.add(m.done());
        if (leaving.size() == 1) {
            tell("leaving the cluster");
            cluster.manager().tell(org.apache.pekko.cluster.typed.Leave.create(cluster.selfMember().address()));
            getContext().scheduleOnce(m.timeout(), getContext().getSelf(), LeaveTimedOut.INSTANCE);
        }
        return this;
    }

    private Behavior<Command> onJoin(Join m) {
        if (joinSent || unpublished) {
            m.done().complete(null);
            return this;
        }
        joinWaiters.add(m.done());
        if (!joinRequested) {
            joinRequested = true;
            // read the exports now (the poll may be up to an interval behind what the app just configured); their
            // LocalExports reaches this actor before JoinReady, since the source tells it before the read completes
            getContext().pipeToSelf(watch.refresh(), (v, err) -> JoinReady.INSTANCE);
        }
        return this;
    }

    private Behavior<Command> onJoinReady() {
        if (joinSent || unpublished) {
            joinWaiters.forEach(f -> f.complete(null));
            joinWaiters.clear();
            return this;
        }
        if (published == null) {
            sendJoin();
            return this;
        }
        // a local write queued behind the publish of onLocalExports: once it is acknowledged, the entry is in the
        // local replica, and every member that reads this node from now on gets it
        CompletableFuture<Void> local = new CompletableFuture<>();
        List<Export> entry = published;
        replicator.askUpdate(replyTo -> new Replicator.Update<>(DIRECTORY, LWWMap.empty(), Replicator.writeLocal(), replyTo,
                map -> map.put(self, selfKey, new NodeExports(config.nodeName(), entry))), r -> new Written(r, "publish locally before joining", local));
        local.thenRun(this::sendJoin); // completed by onWritten, on this actor's thread
        return this;
    }

    private void sendJoin() {
        if (joinSent || unpublished) {
            return;
        }
        joinSent = true;
        List<org.apache.pekko.actor.Address> seeds = new ArrayList<>();
        for (String s : config.seedNodes()) {
            seeds.add(org.apache.pekko.actor.AddressFromURIString.parse(s));
        }
        tell("joining the cluster through " + String.join(", ", config.seedNodes()) + " with "
                + (published == null ? "no exports read yet" : "its exports published: " + names(published)));
        cluster.manager().tell(new org.apache.pekko.cluster.typed.JoinSeedNodes(seeds));
        joinWaiters.forEach(f -> f.complete(null));
        joinWaiters.clear();
    }

    private Behavior<Command> onSelfRemoved(SelfIsRemoved m) {
        selfRemoved = true;
        tell("this node (" + config.nodeName() + ") is removed (was " + status(m.removed().previousStatus()) + ")");
        leaveDone("removed");
        return this;
    }

    private void leaveDone(String how) {
        if (!leaving.isEmpty()) {
            tell("left the cluster (" + how + ")");
        }
        for (CompletableFuture<Void> f : leaving) {
            f.complete(null);
        }
        leaving.clear();
    }

    private Behavior<Command> onLeaveTimedOut() {
        if (!leaving.isEmpty()) {
            getContext().getLog().warn("cluster: node {} not removed within spindle.cluster.leave-timeout={}; stopping anyway",
                    config.nodeName(), config.leaveTimeout());
            for (CompletableFuture<Void> f : leaving) {
                f.complete(null);
            }
            leaving.clear();
        }
        return this;
    }

    private String describe(Member m) {
        String n = nodeName(m);
        return (n.isEmpty() ? "" : n + " ") + m.address() + (key(m.uniqueAddress()).equals(selfKey) ? " (this node)" : "");
    }

    private void tell(String line) {
        getContext().getLog().info("cluster {}: {}", config.nodeName(), line);
        try {
            events.accept(line);
        } catch (RuntimeException e) {
            getContext().getLog().warn("cluster: event listener failed", e);
        }
    }

    // ------------------------------------------------------------------ directory

    private Behavior<Command> onLocalExports(LocalExports m) {
        if (unpublished || m.exports().equals(published)) {
            return this;
        }
        published = m.exports();
        write(published);
        return this;
    }

    private void write(List<Export> exports) {
        NodeExports entry = new NodeExports(config.nodeName(), exports);
        replicator.askUpdate(replyTo -> new Replicator.Update<>(DIRECTORY, LWWMap.empty(),
                        new Replicator.WriteAll(config.directoryWriteTimeout()), replyTo, map -> map.put(self, selfKey, entry)),
                r -> new Written(r, "publish " + exports.size() + " export(s)", null));
    }

    private Behavior<Command> onUnpublish(Unpublish m) {
        unpublished = true;
        watch.close();
        tell("unpublishing this node's exports");
        replicator.askUpdate(replyTo -> new Replicator.Update<>(DIRECTORY, LWWMap.empty(),
                new Replicator.WriteAll(config.directoryWriteTimeout()), replyTo, map -> map.remove(self, selfKey)),
                r -> new Written(r, "unpublish", m.done()));
        return this;
    }

    private Behavior<Command> onWritten(Written m) {
        if (!(m.response() instanceof Replicator.UpdateSuccess)) {
            // a timeout still applied the update locally; gossip spreads it
            getContext().getLog().debug("cluster: directory update ({}) answered {}", m.what(), m.response());
        }
        if (m.done() != null) {
            m.done().complete(null);
        }
        return this;
    }

    private Behavior<Command> onDirectoryChanged(DirectoryChanged m) {
        if (m.response() instanceof Replicator.Changed<LWWMap<String, NodeExports>> c) {
            setDirectory(c.get(DIRECTORY).getEntries());
        }
        return this;
    }

    private Behavior<Command> onDirectoryRead(DirectoryRead m) {
        if (m.response() instanceof Replicator.GetSuccess<LWWMap<String, NodeExports>> s) {
            setDirectory(s.get(DIRECTORY).getEntries());
        }
        return this;
    }

    private void setDirectory(Map<String, NodeExports> entries) {
        Map<String, NodeExports> next = Map.copyOf(entries);
        for (Map.Entry<String, NodeExports> e : next.entrySet()) {
            NodeExports before = directory.get(e.getKey());
            if (!e.getKey().equals(selfKey) && !e.getValue().equals(before) && !(before == null && e.getValue().exports().isEmpty())) {
                tell("directory: " + e.getValue().node() + " exports " + names(e.getValue().exports()));
            }
        }
        for (String k : directory.keySet()) {
            if (!next.containsKey(k) && !k.equals(selfKey)) {
                tell("directory: " + directory.get(k).node() + " (" + k + ") no longer listed");
            }
        }
        directory = next;
    }

    private static String names(List<Export> exports) {
        if (exports.isEmpty()) {
            return "nothing";
        }
        List<String> n = new ArrayList<>();
        for (Export e : exports) {
            n.add(e.bdev());
        }
        return String.join(", ", n);
    }

    // ------------------------------------------------------------------ queries

    private Behavior<Command> onGetNodes(GetNodes m) {
        ClusterEvent.CurrentClusterState state = cluster.state();
        Set<Member> unreachable = state.getUnreachable();
        List<NodeInfo> nodes = new ArrayList<>();
        for (Member member : state.getMembers()) {
            String k = key(member.uniqueAddress());
            NodeExports ne = directory.get(k);
            List<String> roles = new ArrayList<>();
            for (String r : member.getRoles()) {
                if (!r.startsWith(ClusterConfig.NODE_ROLE_PREFIX) && !r.startsWith("dc-")) {
                    roles.add(r);
                }
            }
            roles.sort(Comparator.naturalOrder());
            nodes.add(new NodeInfo(nodeName(member), member.address().toString(), member.uniqueAddress().longUid(), status(member.status()),
                    !unreachable.contains(member), List.copyOf(roles), k.equals(selfKey), ne == null ? 0 : ne.exports().size()));
        }
        String leader = state.getLeader() == null ? null : state.getLeader().toString();
        m.replyTo().tell(new ClusterView(getContext().getSystem().name(), config.nodeName(), self.uniqueAddress().address().toString(),
                leader, List.copyOf(nodes)));
        return this;
    }

    private Behavior<Command> onGetDirectory(GetDirectory m) {
        m.replyTo().tell(entries());
        return this;
    }

    /** The directory's entries of current members (a removed member's entry is never shown), ordered by node. */
    private List<DirectoryEntry> entries() {
        ClusterEvent.CurrentClusterState state = cluster.state();
        Set<Member> unreachable = state.getUnreachable();
        List<DirectoryEntry> out = new ArrayList<>();
        for (Member member : state.getMembers()) {
            NodeExports ne = directory.get(key(member.uniqueAddress()));
            if (ne == null) {
                continue;
            }
            for (Export e : ne.exports()) {
                out.add(new DirectoryEntry(ne.node(), member.address().toString(), member.uniqueAddress().longUid(), status(member.status()),
                        !unreachable.contains(member), e));
            }
        }
        return List.copyOf(out);
    }

    /** Whether {@code entry} names {@code bdev} (its name, or its UUID in any case). */
    static boolean matches(DirectoryEntry entry, String bdev) {
        if (entry.export().bdev().equals(bdev)) {
            return true;
        }
        try {
            return UUID.fromString(bdev).equals(UUID.fromString(entry.export().uuid()));
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Whether {@code entry}'s node is {@code node} (its name, its address, or its address#uid). */
    static boolean onNode(DirectoryEntry entry, String node) {
        return node == null || entry.node().equals(node) || entry.address().equals(node) || (entry.address() + "#" + entry.uid()).equals(node);
    }

    // ------------------------------------------------------------------ attach / detach

    private Behavior<Command> onAttach(Attach m) {
        if (attaching.contains(m.name()) || (attachments.containsKey(m.name()) && remote.attached(m.name()))) {
            m.result().completeExceptionally(RpcException.errno(Errno.EEXIST, "a controller named " + m.name() + " is attached already"));
            return this;
        }
        attachments.remove(m.name()); // gone on its own (detached directly, or its controller was lost)
        List<DirectoryEntry> candidates = new ArrayList<>();
        for (DirectoryEntry e : entries()) {
            if (matches(e, m.bdev()) && onNode(e, m.node())) {
                candidates.add(e);
            }
        }
        if (candidates.isEmpty()) {
            m.result().completeExceptionally(RpcException.errno(Errno.ENODEV, "bdev=" + m.bdev() + (m.node() == null ? "" : " node=" + m.node())
                    + ": not in the cluster directory (cluster_get_bdevs lists it)"));
            return this;
        }
        if (candidates.size() > 1) {
            List<String> c = new ArrayList<>();
            for (DirectoryEntry e : candidates) {
                c.add(e.node() + " (" + e.address() + ", bdev " + e.export().bdev() + ", uuid " + e.export().uuid() + ")");
            }
            m.result().completeExceptionally(new RpcException(Errno.EINVAL, "bdev=" + m.bdev() + " is ambiguous: exported by "
                    + String.join("; ", c) + ". Give node, or the bdev's UUID"));
            return this;
        }
        DirectoryEntry target = candidates.get(0);
        if (!target.attachable()) {
            m.result().completeExceptionally(RpcException.errno(Errno.ENODEV, "node=" + target.node() + " is " + target.status()
                    + (target.reachable() ? "" : " and unreachable") + ": its bdevs cannot be attached now"));
            return this;
        }
        Listener listener = target.export().listener("AERON");
        if (listener == null) {
            m.result().completeExceptionally(RpcException.errno(Errno.ENODEV, "bdev=" + target.export().bdev() + " on node=" + target.node()
                    + ": its subsystem " + target.export().nqn() + " has no AERON listener"));
            return this;
        }
        attaching.add(m.name());
        tell("attaching " + target.node() + "'s " + target.export().bdev() + " as controller " + m.name());
        getContext().pipeToSelf(remote.attach(new RemoteBdevs.AttachSpec(m.name(), target.export(), listener, target.node(),
                target.address(), target.uid(), m.options())), (bdevs, err) -> new AttachDone(m, target, bdevs, err));
        return this;
    }

    private Behavior<Command> onAttachDone(AttachDone m) {
        String name = m.request().name();
        attaching.remove(name);
        if (m.failure() != null) {
            m.request().result().completeExceptionally(unwrap(m.failure()));
            return this;
        }
        String nodeKey = m.target().address() + "#" + m.target().uid();
        boolean stillMember = false;
        for (Member member : cluster.state().getMembers()) {
            stillMember |= key(member.uniqueAddress()).equals(nodeKey) && member.status() != MemberStatus.down()
                    && member.status() != MemberStatus.removed();
        }
        if (!stillMember) {
            // the member went while we attached: its removal found no attachment to hot-remove, so do it here
            getContext().pipeToSelf(remote.detach(name), (ok, err) -> new RemovalDetachDone(name, m.target().node(), nodeKey, err));
            m.request().result().completeExceptionally(RpcException.errno(Errno.ENODEV, "node=" + m.target().node()
                    + " left the cluster during the attach; " + name + " is detached again"));
            return this;
        }
        attachments.put(name, new Attachment(name, nodeKey, m.target().node(), m.target().export(), List.copyOf(m.bdevs())));
        tell("attached " + name + ": " + String.join(", ", m.bdevs()) + " from " + m.target().node());
        m.request().result().complete(List.copyOf(m.bdevs()));
        return this;
    }

    private Behavior<Command> onDetach(Detach m) {
        Attachment a = attachments.get(m.name());
        if (a == null) {
            m.result().completeExceptionally(RpcException.errno(Errno.ENODEV, "name=" + m.name() + ": no controller attached by bdev_cluster_attach"));
            return this;
        }
        getContext().pipeToSelf(remote.detach(m.name()), (ok, err) -> new DetachDone(m, err));
        return this;
    }

    private Behavior<Command> onDetachDone(DetachDone m) {
        Attachment a = attachments.remove(m.request().name());
        if (m.failure() != null && remote.attached(m.request().name())) {
            if (a != null) {
                attachments.put(a.name(), a);
            }
            m.request().result().completeExceptionally(unwrap(m.failure()));
            return this;
        }
        tell("detached " + m.request().name());
        m.request().result().complete(null);
        return this;
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
