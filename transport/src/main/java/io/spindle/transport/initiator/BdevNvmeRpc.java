package io.spindle.transport.initiator;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevRpc;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Errno;
import io.spindle.transport.aeron.TransportConfig;
import io.spindle.transport.keyring.Keyring;
import io.spindle.transport.keyring.KeyringSubsystem;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * SPDK's {@code bdev_nvme_attach_controller}, {@code bdev_nvme_detach_controller} and
 * {@code bdev_nvme_get_controllers} for {@code trtype AERON}, with SPDK's parameters, validation rules
 * ({@code bdev_nvme_check_io_error_resiliency_params}) and result shapes: the attach answers the array of created
 * bdev names ({@code <name>n<nsid>}).
 */
public final class BdevNvmeRpc implements RpcMethodProvider {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    /** This process's default host NQN (SPDK's form, a UUID per process). */
    static final String DEFAULT_HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:" + UUID.randomUUID();

    /** ServiceLoader. */
    public BdevNvmeRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_nvme_attach_controller", BdevNvmeRpc::attach),
                RpcMethod.runtime("bdev_nvme_detach_controller", BdevNvmeRpc::detach),
                RpcMethod.runtime("bdev_nvme_get_controllers", BdevNvmeRpc::get));
    }

    static NvmeBdevModule module(BdevLayer l) throws RpcException {
        try {
            return l.module(NvmeBdevModule.class);
        } catch (IllegalArgumentException e) {
            throw RpcException.errno(Errno.ENODEV, "the nvme bdev module is not loaded");
        }
    }

    private static void neutralBool(RpcParams p, String key) throws RpcException {
        if (p.bool(key, false)) {
            throw RpcException.invalidParams(key + "=true: not supported by the AERON transport; omit it or give false");
        }
    }

    /** SPDK's {@code bdev_nvme_check_io_error_resiliency_params}; null when valid, else SPDK's message. */
    static String checkResiliency(long ctrlrLoss, long reconnectDelay, long fastIoFail) {
        if (ctrlrLoss < -1) {
            return "ctrlr_loss_timeout_sec can't be less than -1.";
        } else if (ctrlrLoss == -1) {
            if (reconnectDelay == 0) {
                return "reconnect_delay_sec can't be 0 if ctrlr_loss_timeout_sec is not 0.";
            } else if (fastIoFail != 0 && fastIoFail < reconnectDelay) {
                return "reconnect_delay_sec can't be more than fast_io-fail_timeout_sec.";
            }
        } else if (ctrlrLoss != 0) {
            if (reconnectDelay == 0) {
                return "reconnect_delay_sec can't be 0 if ctrlr_loss_timeout_sec is not 0.";
            } else if (reconnectDelay > ctrlrLoss) {
                return "reconnect_delay_sec can't be more than ctrlr_loss_timeout_sec.";
            } else if (fastIoFail != 0) {
                if (fastIoFail < reconnectDelay) {
                    return "reconnect_delay_sec can't be more than fast_io-fail_timeout_sec.";
                } else if (fastIoFail > ctrlrLoss) {
                    return "fast_io_fail_timeout_sec can't be more than ctrlr_loss_timeout_sec.";
                }
            }
        } else if (reconnectDelay != 0 || fastIoFail != 0) {
            return "Both reconnect_delay_sec and fast_io_fail_timeout_sec must be 0 if ctrlr_loss_timeout_sec is 0.";
        }
        return null;
    }

    private static CompletionStage<?> attach(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        if (name.isEmpty()) {
            throw RpcException.invalidParams("name=\"\": must not be empty");
        }
        String trtype = p.string("trtype");
        if (!trtype.equalsIgnoreCase("AERON")) {
            throw RpcException.invalidParams("trtype=\"" + trtype + "\": Spindle's bdev_nvme attaches only trtype AERON controllers");
        }
        String traddr = p.string("traddr");
        String adrfam = p.choice("adrfam", "ipv4", "ipv4", "IPv4", "ipv6", "IPv6", "intra_host", "INTRA_HOST").toLowerCase(java.util.Locale.ROOT);
        String trsvcid = p.string("trsvcid", null);
        String subnqn = p.string("subnqn", null);
        String hostnqn = p.string("hostnqn", DEFAULT_HOSTNQN);
        String hostaddr = p.string("hostaddr", null);
        p.string("hostsvcid", null);
        String keyName = p.string("dhchap_key", null);
        if (p.has("dhchap_ctrlr_key") || p.has("psk")) {
            throw RpcException.invalidParams("dhchap_ctrlr_key/psk: not supported (dhchap_key proves both sides); omit them");
        }
        long loss = p.integer("ctrlr_loss_timeout_sec", 0, Integer.MIN_VALUE, Integer.MAX_VALUE);
        long delay = p.integer("reconnect_delay_sec", 0, 0, 0xFFFFFFFFL);
        long fast = p.integer("fast_io_fail_timeout_sec", 0, 0, 0xFFFFFFFFL);
        String multipath = p.choice("multipath", "failover", "disable", "failover", "multipath");
        p.integer("num_io_queues", 1024, 1, 65535);
        p.integer("fabrics_connect_timeout_us", 0, 0, Long.MAX_VALUE);
        p.integer("max_bdevs", 128, 1, 1 << 16);
        for (String k : new String[] {"prchk_reftag", "prchk_guard", "hdgst", "ddgst", "allow_unrecognized_csi", "disable_sq_flow_control"}) {
            neutralBool(p, k);
        }
        p.end();
        if (subnqn == null) {
            throw RpcException.invalidParams("subnqn is required for trtype AERON (Spindle has no discovery service)");
        }
        boolean ipc = adrfam.equals("intra_host") || traddr.equalsIgnoreCase("ipc");
        if (trsvcid == null) {
            throw RpcException.invalidParams("trsvcid is required (the target's UDP port, or its admin stream id for adrfam intra_host)");
        }
        long svc;
        try {
            svc = Long.parseLong(trsvcid);
        } catch (NumberFormatException e) {
            svc = -1;
        }
        if (ipc ? svc < 1 || svc >= (1L << 24) : svc < 1 || svc > 65535) {
            throw RpcException.invalidParams("trsvcid=\"" + trsvcid + "\": must be " + (ipc ? "a stream id between 1 and 16777215" : "a UDP port between 1 and 65535"));
        }
        String bad = checkResiliency(loss, delay, fast);
        if (bad != null) {
            throw RpcException.errno(Errno.EINVAL, bad);
        }
        if ("multipath".equals(multipath)) {
            throw RpcException.invalidParams("multipath=\"multipath\": Spindle's bdev_nvme has one path per controller");
        }
        byte[] key = null;
        if (keyName != null) {
            try {
                Keyring kr = KeyringSubsystem.of(c.spindle());
                key = kr.material(keyName);
            } catch (IllegalArgumentException e) {
                throw RpcException.errno(Errno.ENODEV, "dhchap_key=" + keyName + ": no keyring subsystem in this Spindle");
            } catch (Keyring.KeyringException e) {
                throw RpcException.invalidParams("dhchap_key=" + keyName + ": " + e.getMessage());
            }
        }
        BdevLayer l = BdevRpc.layer(c);
        NvmeBdevModule m = module(l);
        int depth;
        try {
            depth = TransportConfig.fromConfig(c.spindle().config().config()).ioQueueDepth();
        } catch (IllegalArgumentException e) {
            throw RpcException.errno(Errno.EINVAL, e.getMessage());
        }
        NvmeController.Options o = new NvmeController.Options(name, "AERON", adrfam, traddr, trsvcid, subnqn, hostnqn, hostaddr, keyName, key,
                (int) loss, (int) delay, (int) fast, depth);
        return CompletableFuture.supplyAsync(() -> m.attach(c.spindle(), l, o), c.executor()).thenCompose(f -> f).handle((names, e) -> {
            if (e != null) {
                Throwable t = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                if (t instanceof BdevException b) {
                    throw new CompletionException(RpcException.errno(b.errno(), b.getMessage()));
                }
                throw new CompletionException(t);
            }
            ArrayNode arr = F.arrayNode();
            names.forEach(arr::add);
            return arr;
        });
    }

    private static CompletionStage<?> detach(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.string("trtype", null);
        p.string("traddr", null);
        p.string("adrfam", null);
        p.string("trsvcid", null);
        p.string("subnqn", null);
        p.string("hostaddr", null);
        p.string("hostsvcid", null);
        p.end();
        NvmeBdevModule m = module(BdevRpc.layer(c));
        if (m.controller(name) == null) {
            throw RpcException.errno(Errno.ENODEV, "name=" + name + ": no such controller");
        }
        return m.detach(name).thenApply(v -> Boolean.TRUE);
    }

    private static CompletionStage<?> get(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name", null);
        p.end();
        NvmeBdevModule m = module(BdevRpc.layer(c));
        ArrayNode arr = F.arrayNode();
        for (NvmeController ctrl : m.controllers()) {
            if (name != null && !name.equals(ctrl.name())) {
                continue;
            }
            ObjectNode o = arr.addObject();
            o.put("name", ctrl.name());
            ArrayNode cs = o.putArray("ctrlrs");
            ObjectNode co = cs.addObject();
            co.put("state", ctrl.stateName());
            ObjectNode trid = co.putObject("trid");
            for (Map.Entry<String, Object> e : ctrl.trid().entrySet()) {
                trid.put(e.getKey(), String.valueOf(e.getValue()));
            }
            co.put("cntlid", ctrl.cntlid());
            ObjectNode host = co.putObject("host");
            host.put("nqn", ctrl.options().hostnqn());
            host.put("addr", ctrl.options().hostaddr() == null ? "" : ctrl.options().hostaddr());
            host.put("svcid", "");
            if (ctrl.lastError() != null) {
                co.put("last_error", ctrl.lastError());
            }
            ArrayNode bd = co.putArray("bdevs");
            ctrl.bdevNames().forEach(bd::add);
            // Spindle's addition: the host side of each I/O queue pair
            ArrayNode qa = co.putArray("io_qpairs");
            for (HostQpair q : ctrl.qpairs()) {
                ObjectNode qo = qa.addObject();
                qo.put("qid", q.qid);
                qo.put("thread", q.reactor().name());
                qo.put("nomem_back_pressured", q.backPressured());
                qo.put("nomem_no_command_id", q.noFreeCommandId());
                qo.put("queued_not_connected", q.notConnected());
                qo.put("aborts_sent", q.abortsSent());
                qo.put("bad_frames", q.badFrames());
                qo.put("discard_notices", q.discardNotices());
            }
        }
        if (name != null && arr.isEmpty()) {
            throw RpcException.errno(Errno.ENODEV, "name=" + name + ": no such controller");
        }
        return CompletableFuture.completedFuture(arr);
    }

    /** The {@code bdev_nvme_attach_controller} call that recreates a controller (save_config). */
    static ObjectNode attachCall(NvmeController.Options o) {
        ObjectNode e = F.objectNode();
        e.put("method", "bdev_nvme_attach_controller");
        ObjectNode p = e.putObject("params");
        p.put("name", o.name());
        p.put("trtype", "AERON");
        p.put("adrfam", o.adrfam());
        p.put("traddr", o.traddr());
        p.put("trsvcid", o.trsvcid());
        p.put("subnqn", o.subnqn());
        p.put("hostnqn", o.hostnqn());
        if (o.hostaddr() != null) {
            p.put("hostaddr", o.hostaddr());
        }
        if (o.dhchapKeyName() != null) {
            p.put("dhchap_key", o.dhchapKeyName());
        }
        p.put("ctrlr_loss_timeout_sec", o.ctrlrLossTimeoutSec());
        p.put("reconnect_delay_sec", o.reconnectDelaySec());
        p.put("fast_io_fail_timeout_sec", o.fastIoFailTimeoutSec());
        return e;
    }
}
