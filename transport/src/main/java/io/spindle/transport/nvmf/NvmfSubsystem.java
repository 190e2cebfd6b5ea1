package io.spindle.transport.nvmf;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.app.Spindle;
import io.spindle.app.Subsystem;
import io.spindle.app.SubsystemContext;
import io.spindle.bdev.BdevSubsystem;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * SPDK's {@code nvmf} subsystem: the {@link NvmfTarget} of one Spindle, configured with the {@code nvmf_*} RPCs.
 * Its init creates an empty target (nothing of Aeron starts until {@code nvmf_create_transport}); its fini deletes
 * every subsystem (controllers disconnected, queue pairs drained, namespaces' descriptors closed) and stops the
 * transport, before the bdev subsystem finishes. Depends on {@code bdev} and {@code keyring}. Found through
 * {@link java.util.ServiceLoader} by {@code spindle tgt}.
 *
 * <p>{@link #writeConfig()} is SPDK's {@code nvmf} part of {@code save_config}: {@code nvmf_create_transport},
 * then per subsystem {@code nvmf_create_subsystem}, its listeners, hosts and namespaces.
 */
public final class NvmfSubsystem implements Subsystem {
    private volatile NvmfTarget target;

    /** ServiceLoader. */
    public NvmfSubsystem() {
    }

    /** The target of {@code spindle}; IllegalArgumentException when it has no nvmf subsystem, IllegalStateException before init. */
    public static NvmfTarget of(Spindle spindle) {
        NvmfTarget t = spindle.subsystem(NvmfSubsystem.class).target;
        if (t == null) {
            throw new IllegalStateException("nvmf subsystem not initialised");
        }
        return t;
    }

    @Override
    public String name() {
        return "nvmf";
    }

    @Override
    public List<String> dependsOn() {
        return List.of("bdev", "keyring");
    }

    @Override
    public CompletionStage<Void> init(SubsystemContext ctx) {
        BdevSubsystem bdev = null;
        for (Subsystem s : ctx.config().subsystems()) {
            if (s instanceof BdevSubsystem b) {
                bdev = b;
            }
        }
        if (bdev == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("nvmf needs the bdev subsystem"));
        }
        target = new NvmfTarget(ctx.reactors(), bdev.layer());
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> fini(SubsystemContext ctx) {
        NvmfTarget t = target;
        if (t == null) {
            return CompletableFuture.completedFuture(null);
        }
        return t.shutdown();
    }

    @Override
    public List<ObjectNode> writeConfig() {
        List<ObjectNode> out = new ArrayList<>();
        NvmfTarget t = target;
        if (t == null) {
            return out;
        }
        JsonNodeFactory f = JsonNodeFactory.instance;
        NvmfTarget.TransportOpts o = t.transportOpts();
        if (o != null) {
            ObjectNode e = f.objectNode();
            e.put("method", "nvmf_create_transport");
            ObjectNode p = e.putObject("params");
            p.put("trtype", NvmfTarget.TRTYPE);
            p.put("max_queue_depth", o.maxQueueDepth());
            p.put("max_io_qpairs_per_ctrlr", o.maxIoQpairsPerCtrlr());
            p.put("in_capsule_data_size", o.inCapsuleDataSize());
            p.put("max_io_size", o.maxIoSize());
            p.put("io_unit_size", o.ioUnitSize());
            p.put("max_aq_depth", o.maxAqDepth());
            out.add(e);
        }
        for (NvmfTarget.Subsys s : t.subsystems()) {
            synchronized (t) {
                ObjectNode e = f.objectNode();
                e.put("method", "nvmf_create_subsystem");
                ObjectNode p = e.putObject("params");
                p.put("nqn", s.nqn);
                p.put("allow_any_host", s.allowAnyHost);
                p.put("serial_number", s.serial);
                p.put("model_number", s.model);
                p.put("max_namespaces", s.maxNamespaces);
                out.add(e);
                for (NvmfTarget.ListenAddr a : s.listeners) {
                    ObjectNode l = f.objectNode();
                    l.put("method", "nvmf_subsystem_add_listener");
                    ObjectNode lp = l.putObject("params");
                    lp.put("nqn", s.nqn);
                    NvmfRpc.listenAddress(lp.putObject("listen_address"), a);
                    out.add(l);
                }
                for (NvmfTarget.HostEntry h : s.hosts.values()) {
                    ObjectNode l = f.objectNode();
                    l.put("method", "nvmf_subsystem_add_host");
                    ObjectNode lp = l.putObject("params");
                    lp.put("nqn", s.nqn);
                    lp.put("host", h.nqn());
                    if (h.keyName() != null) {
                        lp.put("dhchap_key", h.keyName());
                    }
                    out.add(l);
                }
                for (NvmfTarget.Namespace n : s.namespaces.values()) {
                    ObjectNode l = f.objectNode();
                    l.put("method", "nvmf_subsystem_add_ns");
                    ObjectNode lp = l.putObject("params");
                    lp.put("nqn", s.nqn);
                    ObjectNode ns = lp.putObject("namespace");
                    ns.put("nsid", n.nsid);
                    ns.put("bdev_name", n.bdevName);
                    ns.put("uuid", n.uuid.toString());
                    out.add(l);
                }
            }
        }
        return out;
    }
}
