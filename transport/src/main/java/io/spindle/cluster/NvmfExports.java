package io.spindle.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.app.Spindle;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.rpc.RpcDispatcher;
import org.apache.pekko.actor.Cancellable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * This node's exports as its NVMe-oF-style target has them: every namespace of every subsystem of
 * {@code nvmf_get_subsystems} (SPDK's result shape), with the bdev's block size and count from the bdev layer and
 * the subsystem's listeners. Read in-process through the RPC dispatcher, so it depends on nothing but SPDK's method
 * and its result, and re-read every {@code interval}; the listener hears only changes. A node without the nvmf
 * target (no {@code nvmf_get_subsystems}) exports nothing.
 *
 * <p>Threads: the reads run on the ActorSystem's scheduler and dispatcher, one at a time; {@code refresh()} (before
 * the node joins the cluster) reads at once, from any thread.
 */
public final class NvmfExports implements ExportSource {
    private static final Logger LOG = LoggerFactory.getLogger(NvmfExports.class);

    private final Spindle spindle;
    private final Duration interval;

    /** Exports of {@code spindle}'s target, re-read every {@code interval}. */
    public NvmfExports(Spindle spindle, Duration interval) {
        this.spindle = spindle;
        this.interval = interval;
    }

    @Override
    public Watch watch(Consumer<List<Export>> listener) {
        RpcDispatcher rpc = RpcDispatcher.create(spindle);
        Poll poll = new Poll(rpc, listener);
        poll.tick();
        return new Watch() {
            @Override
            public void close() {
                poll.cancel();
            }

            @Override
            public CompletionStage<Void> refresh() {
                return poll.refresh();
            }
        };
    }

    /**
     * One read after the other: the next is scheduled when the previous answered; a refresh reads at once (or right
     * after the read under way, whose answer may predate what the caller just did).
     */
    private final class Poll {
        private final RpcDispatcher rpc;
        private final Consumer<List<Export>> listener;
        private final AtomicBoolean closed = new AtomicBoolean();
        // guarded by this
        private Cancellable next;
        private boolean reading;
        private boolean again;
        private List<CompletableFuture<Void>> waiting = new ArrayList<>();
        // touched by one read at a time
        private List<Export> last;
        private boolean warned;

        Poll(RpcDispatcher rpc, Consumer<List<Export>> listener) {
            this.rpc = rpc;
            this.listener = listener;
        }

        /** The periodic read (and the first). */
        void tick() {
            synchronized (this) {
                if (reading || closed.get()) {
                    return;
                }
                reading = true;
                next = null;
            }
            read();
        }

        CompletionStage<Void> refresh() {
            CompletableFuture<Void> f = new CompletableFuture<>();
            synchronized (this) {
                if (closed.get()) {
                    f.complete(null);
                    return f;
                }
                waiting.add(f);
                if (reading) {
                    again = true;
                    return f;
                }
                if (next != null) {
                    next.cancel();
                    next = null;
                }
                reading = true;
            }
            read();
            return f;
        }

        private void read() {
            List<CompletableFuture<Void>> mine;
            synchronized (this) {
                mine = waiting;
                waiting = new ArrayList<>();
            }
            if (rpc.method("nvmf_get_subsystems") == null) {
                deliver(List.of()); // no target on this node: it exports nothing, for good (no further periodic read)
                done(mine, false);
                return;
            }
            rpc.call("nvmf_get_subsystems", null, new ArrayList<>()).whenComplete((r, err) -> {
                try {
                    if (err != null) {
                        throw ClusterNode.unwrap(err);
                    }
                    deliver(exports(r, BdevLayer.of(spindle)));
                } catch (Throwable t) {
                    // e.g. the bdev layer finished while this node stops: what it exports is about to be withdrawn anyway
                    if (!warned) {
                        warned = true;
                        LOG.debug("cluster: reading this node's exports (nvmf_get_subsystems) failed: {}", t.toString());
                    }
                } finally {
                    done(mine, true);
                }
            });
        }

        private void deliver(List<Export> now) {
            if (!closed.get() && !now.equals(last)) {
                last = now;
                listener.accept(now);
            }
        }

        private void done(List<CompletableFuture<Void>> completed, boolean periodic) {
            for (CompletableFuture<Void> f : completed) {
                f.complete(null);
            }
            boolean readAgain;
            synchronized (this) {
                reading = false;
                readAgain = again && !closed.get();
                again = false;
                if (readAgain) {
                    reading = true;
                } else if (periodic && !closed.get()) {
                    next = spindle.system().scheduler().scheduleOnce(interval, this::tick, spindle.system().executionContext());
                }
            }
            if (readAgain) {
                read();
            }
        }

        void cancel() {
            List<CompletableFuture<Void>> left;
            synchronized (this) {
                closed.set(true);
                if (next != null) {
                    next.cancel();
                    next = null;
                }
                left = waiting;
                waiting = new ArrayList<>();
            }
            for (CompletableFuture<Void> f : left) {
                f.complete(null);
            }
        }
    }

    /**
     * The exports in an {@code nvmf_get_subsystems} result: one per namespace whose bdev is registered here (its
     * block size and count are this node's), with the subsystem's listeners; the discovery subsystem and subsystems
     * without a listener (nobody could attach them yet) are skipped.
     */
    static List<Export> exports(JsonNode subsystems, BdevLayer layer) {
        List<Export> out = new ArrayList<>();
        if (subsystems == null || !subsystems.isArray()) {
            return out;
        }
        for (JsonNode s : subsystems) {
            if (s.path("subtype").asText("NVMe").equalsIgnoreCase("Discovery")) {
                continue;
            }
            String nqn = s.path("nqn").asText();
            List<Listener> listeners = new ArrayList<>();
            for (JsonNode l : s.path("listen_addresses")) {
                try {
                    listeners.add(new Listener(l.path("trtype").asText(), l.path("adrfam").asText("IPv4"), l.path("traddr").asText(),
                            l.path("trsvcid").asText()));
                } catch (IllegalArgumentException e) {
                    LOG.debug("cluster: listener {} of {} skipped: {}", l, nqn, e.getMessage());
                }
            }
            if (listeners.isEmpty()) {
                continue; // nobody can attach it yet: it is exported once it has a listener
            }
            for (JsonNode ns : s.path("namespaces")) {
                String bdevName = ns.path("bdev_name").asText(ns.path("name").asText());
                Bdev b = layer.get(bdevName);
                if (b == null) {
                    continue; // being removed
                }
                String uuid = ns.hasNonNull("uuid") ? ns.get("uuid").asText() : b.uuid().toString();
                try {
                    out.add(new Export(nqn, ns.path("nsid").asInt(), bdevName, uuid, b.blockSize(), b.numBlocks(), listeners));
                } catch (IllegalArgumentException e) {
                    LOG.debug("cluster: namespace {} of {} skipped: {}", ns, nqn, e.getMessage());
                }
            }
        }
        return List.copyOf(out);
    }
}
