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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * This node's exports as its NVMe-oF-style target has them: every namespace of every subsystem of
 * {@code nvmf_get_subsystems} (SPDK's result shape), with the bdev's block size and count from the bdev layer and
 * the subsystem's listeners. Read in-process through the RPC dispatcher, so it depends on nothing but SPDK's method
 * and its result, and re-read every {@code interval}; the listener hears only changes. A node without the nvmf
 * target (no {@code nvmf_get_subsystems}) exports nothing.
 *
 * <p>Threads: the reads run on the ActorSystem's scheduler and dispatcher, one at a time.
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
        AtomicBoolean closed = new AtomicBoolean();
        Poll poll = new Poll(rpc, listener, closed);
        poll.run();
        return () -> {
            closed.set(true);
            poll.cancel();
        };
    }

    /** One read after the other: the next is scheduled when the previous answered. */
    private final class Poll implements Runnable {
        private final RpcDispatcher rpc;
        private final Consumer<List<Export>> listener;
        private final AtomicBoolean closed;
        private volatile Cancellable next;
        private List<Export> last;
        private boolean warned;

        Poll(RpcDispatcher rpc, Consumer<List<Export>> listener, AtomicBoolean closed) {
            this.rpc = rpc;
            this.listener = listener;
            this.closed = closed;
        }

        @Override
        public void run() {
            if (closed.get()) {
                return;
            }
            if (rpc.method("nvmf_get_subsystems") == null) {
                listener.accept(List.of()); // no target on this node: it exports nothing, for good
                return;
            }
            rpc.call("nvmf_get_subsystems", null, new ArrayList<>()).whenComplete((r, err) -> {
                if (closed.get()) {
                    return;
                }
                try {
                    if (err != null) {
                        throw ClusterNode.unwrap(err);
                    }
                    List<Export> now = exports(r, BdevLayer.of(spindle));
                    if (!now.equals(last)) {
                        last = now;
                        listener.accept(now);
                    }
                } catch (Throwable t) {
                    // e.g. the bdev layer finished while this node stops: what it exports is about to be withdrawn anyway
                    if (!warned) {
                        warned = true;
                        LOG.debug("cluster: reading this node's exports (nvmf_get_subsystems) failed: {}", t.toString());
                    }
                } finally {
                    if (!closed.get()) {
                        next = spindle.system().scheduler().scheduleOnce(interval, this, spindle.system().executionContext());
                    }
                }
            });
        }

        void cancel() {
            Cancellable c = next;
            if (c != null) {
                c.cancel();
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
