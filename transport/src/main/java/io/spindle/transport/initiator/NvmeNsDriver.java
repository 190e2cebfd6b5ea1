package io.spindle.transport.initiator;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.io.IoType;
import io.spindle.bdev.spi.BdevDriver;
import io.spindle.bdev.spi.BdevView;
import io.spindle.bdev.spi.ModuleIo;
import io.spindle.runtime.Reactor;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The driver of one remote namespace's bdev {@code <name>n<nsid>}. Its channel context on a reactor is the
 * controller's {@link HostQpair} of that reactor (shared by the controller's namespace bdevs, one queue as SPDK's
 * qpair per controller per thread). Submit and channel methods run on the channel's reactor.
 */
final class NvmeNsDriver implements BdevDriver<HostQpair> {
    private final NvmeController ctrl;
    private final long nsid;

    NvmeNsDriver(NvmeController ctrl, long nsid) {
        this.ctrl = ctrl;
        this.nsid = nsid;
    }

    @Override
    public boolean supports(IoType type) {
        return switch (type) {
            case READ, WRITE, FLUSH, UNMAP, WRITE_ZEROES, COMPARE, RESET, ABORT -> true;
            default -> false;
        };
    }

    @Override
    public HostQpair createChannel(BdevView bdev, Reactor reactor) {
        HostQpair q = ctrl.qpair(reactor);
        q.channelCreated();
        return q;
    }

    @Override
    public void destroyChannel(BdevView bdev, Reactor reactor, HostQpair q) {
        q.channelDestroyed(bdev);
    }

    @Override
    public void submit(ModuleIo io, HostQpair q) {
        q.submit(io, nsid);
    }

    @Override
    public CompletionStage<Void> destruct() {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * {@code driver_specific.nvme}: the controller, its transport id, controller and namespace data, as SPDK's
     * {@code bdev_nvme} writes them, in a one-element array as SPDK's (one element per path; Spindle has one path per
     * controller): see {@link #dumpInfoAsArray()}.
     */
    @Override
    public boolean dumpInfoAsArray() {
        return true;
    }

    @Override
    public void dumpInfo(ObjectNode o) {
        o.put("controller", ctrl.name());
        ObjectNode trid = o.putObject("trid");
        for (Map.Entry<String, Object> e : ctrl.trid().entrySet()) {
            trid.put(e.getKey(), String.valueOf(e.getValue()));
        }
        ObjectNode cd = o.putObject("ctrlr_data");
        cd.put("cntlid", ctrl.cntlid());
        cd.put("vendor_id", "0x0000");
        cd.put("model_number", ctrl.model());
        cd.put("serial_number", ctrl.serial());
        cd.put("firmware_revision", "spindle");
        cd.put("subnqn", ctrl.options().subnqn());
        ObjectNode ns = o.putObject("ns_data");
        ns.put("id", nsid);
        ns.put("can_share", true);
    }

    /**
     * The controller's {@code bdev_nvme_attach_controller} call, written once: by the bdev of its lowest nsid (the
     * others return null), since the attach recreates all of them.
     */
    @Override
    public ObjectNode writeConfig(BdevView bdev) {
        java.util.List<String> names = ctrl.bdevNames();
        if (names.isEmpty() || !names.get(0).equals(bdev.name())) {
            return null;
        }
        return BdevNvmeRpc.attachCall(ctrl.options());
    }
}
