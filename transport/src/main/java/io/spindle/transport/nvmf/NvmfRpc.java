package io.spindle.transport.nvmf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.bdev.BdevException;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Errno;
import io.spindle.transport.aeron.AeronTransport;
import io.spindle.transport.keyring.Keyring;
import io.spindle.transport.keyring.KeyringSubsystem;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * SPDK's {@code nvmf_*} methods for the {@code AERON} transport type, with SPDK's names, parameter shapes and
 * result shapes ({@code python/spdk/cli/nvmf.py}, {@code lib/nvmf/nvmf_rpc.c}), so SPDK's {@code scripts/rpc.py}
 * drives them: {@code nvmf_create_transport}, {@code nvmf_get_transports}, {@code nvmf_create_subsystem},
 * {@code nvmf_delete_subsystem}, {@code nvmf_get_subsystems}, {@code nvmf_subsystem_add_ns},
 * {@code nvmf_subsystem_remove_ns}, {@code nvmf_subsystem_add_listener}, {@code nvmf_subsystem_remove_listener},
 * {@code nvmf_subsystem_add_host}, {@code nvmf_subsystem_remove_host}.
 *
 * <p>Parameters of SPDK's other transports that rpc.py always sends ({@code no_srq}, {@code zcopy},
 * {@code dif_insert_or_strip}, ...) are accepted only with their neutral value; SPDK's shared-buffer sizing knobs
 * ({@code num_shared_buffers}, {@code buf_cache_size}, ...) are accepted and have no effect (Aeron queue pairs own
 * their buffers). Errors: -19 unknown subsystem, -17 a duplicate, -22 a bad value (the rule in the error's data).
 */
public final class NvmfRpc implements RpcMethodProvider {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    /** SPDK's discovery subsystem NQN. */
    public static final String DISCOVERY_NQN = "nqn.2014-08.org.nvmexpress.discovery";

    /** ServiceLoader. */
    public NvmfRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(
                RpcMethod.runtime("nvmf_create_transport", NvmfRpc::createTransport),
                RpcMethod.runtime("nvmf_get_transports", NvmfRpc::getTransports),
                RpcMethod.runtime("nvmf_create_subsystem", NvmfRpc::createSubsystem),
                RpcMethod.runtime("nvmf_delete_subsystem", NvmfRpc::deleteSubsystem),
                RpcMethod.runtime("nvmf_get_subsystems", NvmfRpc::getSubsystems),
                RpcMethod.runtime("nvmf_subsystem_add_ns", NvmfRpc::addNs),
                RpcMethod.runtime("nvmf_subsystem_remove_ns", NvmfRpc::removeNs),
                RpcMethod.runtime("nvmf_subsystem_add_listener", c -> listener(c, true)),
                RpcMethod.runtime("nvmf_subsystem_remove_listener", c -> listener(c, false)),
                RpcMethod.runtime("nvmf_subsystem_add_host", NvmfRpc::addHost),
                RpcMethod.runtime("nvmf_subsystem_remove_host", NvmfRpc::removeHost));
    }

    static NvmfTarget target(RpcCall c) throws RpcException {
        try {
            return NvmfSubsystem.of(c.spindle());
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw RpcException.errno(Errno.ENODEV, "no nvmf subsystem in this Spindle: " + e.getMessage());
        }
    }

    /** Runs {@code body}, turning a {@link BdevException} into SPDK's negative-errno error. */
    private static <T> CompletionStage<T> run(Supplier<CompletionStage<T>> body) throws RpcException {
        try {
            return body.get().exceptionally(e -> {
                Throwable t = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                if (t instanceof BdevException b) {
                    throw new CompletionException(RpcException.errno(b.errno(), b.getMessage()));
                }
                throw e instanceof CompletionException ce ? ce : new CompletionException(t);
            });
        } catch (BdevException e) {
            throw RpcException.errno(e.errno(), e.getMessage());
        }
    }

    private static void tgtName(RpcParams p) throws RpcException {
        String t = p.string("tgt_name", null);
        if (t != null) {
            throw RpcException.invalidParams("tgt_name=\"" + t + "\": Spindle has one nvmf target per process; omit it");
        }
    }

    private static void neutralBool(RpcParams p, String key) throws RpcException {
        if (p.bool(key, false)) {
            throw RpcException.invalidParams(key + "=true: not supported by the AERON transport; omit it or give false");
        }
    }

    private static String nqn(RpcParams p, String key) throws RpcException {
        String n = p.string(key);
        if (!n.startsWith("nqn.") || n.length() > 223) {
            throw RpcException.invalidParams(key + "=\"" + n + "\": must start with \"nqn.\" and be at most 223 bytes");
        }
        return n;
    }

    // ------------------------------------------------------------------ transports

    private static CompletionStage<?> createTransport(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String trtype = p.string("trtype");
        if (!trtype.equalsIgnoreCase(NvmfTarget.TRTYPE)) {
            throw RpcException.invalidParams("trtype=\"" + trtype + "\": Spindle's only transport type is AERON");
        }
        tgtName(p);
        int depth = (int) p.integer("max_queue_depth", 128, 2, 65535);
        int qpairs = (int) p.integer("max_io_qpairs_per_ctrlr", 127, 1, 1024);
        int maxIo = (int) p.integer("max_io_size", 131072, 4096, 16 << 20);
        int icd = (int) p.integer("in_capsule_data_size", 4096, 0, maxIo);
        int unit = (int) p.integer("io_unit_size", 131072, 512, 16 << 20);
        int aq = (int) p.integer("max_aq_depth", 128, 2, 4096);
        for (String k : new String[] {"num_shared_buffers", "buf_cache_size", "iobuf_small_cache_size", "iobuf_large_cache_size",
                "abort_timeout_sec", "acceptor_poll_rate", "sock_priority", "num_cqe", "max_srq_depth", "acceptor_backlog",
                "control_msg_num", "ack_timeout", "data_wr_pool_size"}) {
            p.integer(k, 0, Long.MIN_VALUE, Long.MAX_VALUE); // SPDK's buffer-pool sizing: no effect on Aeron queue pairs
        }
        p.bool("c2h_success", true);
        for (String k : new String[] {"no_srq", "zcopy", "dif_insert_or_strip", "no_wr_batching", "disable_mappable_bar0", "disable_adaptive_irq",
                "disable_shadow_doorbells", "disable_command_passthru"}) {
            neutralBool(p, k);
        }
        p.end();
        NvmfTarget t = target(c);
        return run(() -> CompletableFuture.supplyAsync(() -> {
            try {
                t.createTransport(c.spindle(), new NvmfTarget.TransportOpts(depth, qpairs, icd, maxIo, unit, aq));
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new BdevException(Errno.EINVAL, "nvmf_create_transport trtype=AERON: " + e.getMessage());
            }
            return Boolean.TRUE;
        }, c.executor()));
    }

    private static CompletionStage<?> getTransports(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        tgtName(p);
        String trtype = p.string("trtype", null);
        p.end();
        NvmfTarget t = target(c);
        ArrayNode arr = F.arrayNode();
        NvmfTarget.TransportOpts o = t.transportOpts();
        AeronTransport at = t.transport();
        if (o != null && (trtype == null || trtype.equalsIgnoreCase(NvmfTarget.TRTYPE))) {
            ObjectNode n = arr.addObject();
            n.put("trtype", NvmfTarget.TRTYPE);
            n.put("max_queue_depth", o.maxQueueDepth());
            n.put("max_io_qpairs_per_ctrlr", o.maxIoQpairsPerCtrlr());
            n.put("in_capsule_data_size", o.inCapsuleDataSize());
            n.put("max_io_size", o.maxIoSize());
            n.put("io_unit_size", o.ioUnitSize());
            n.put("max_aq_depth", o.maxAqDepth());
            n.put("num_shared_buffers", 0);
            n.put("buf_cache_size", 0);
            n.put("dif_insert_or_strip", false);
            n.put("zcopy", false);
            n.put("abort_timeout_sec", 1);
            if (at != null) {
                n.put("aeron_dir", at.aeronDir().toString());
                n.put("aeron_driver", at.config().external() ? "external" : "embedded");
                n.put("aeron_threading_mode", at.config().threadingMode().name().toLowerCase(java.util.Locale.ROOT));
                n.put("aeron_mtu", at.config().mtu());
                n.put("aeron_loopback_mtu", at.config().external() ? at.config().mtu() : at.config().loopbackMtu());
            }
        }
        return CompletableFuture.completedFuture(arr);
    }

    // ------------------------------------------------------------------ subsystems

    private static CompletionStage<?> createSubsystem(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String nqn = nqn(p, "nqn");
        tgtName(p);
        String serial = p.string("serial_number", "00000000000000000000");
        if (serial.length() > 20) {
            throw RpcException.invalidParams("serial_number=\"" + serial + "\": at most 20 characters");
        }
        String model = p.string("model_number", "SPDK bdev Controller");
        if (model.length() > 40) {
            throw RpcException.invalidParams("model_number=\"" + model + "\": at most 40 characters");
        }
        boolean any = p.bool("allow_any_host", false);
        long maxNs = p.integer("max_namespaces", 0, 0, 1024);
        p.integer("min_cntlid", 1, 1, 0xFFEF);
        p.integer("max_cntlid", 0xFFEF, 1, 0xFFEF);
        p.integer("max_discard_size_kib", 0, 0, Long.MAX_VALUE);
        p.integer("max_write_zeroes_size_kib", 0, 0, Long.MAX_VALUE);
        for (String k : new String[] {"ana_reporting", "passthrough", "enable_nssr"}) {
            neutralBool(p, k);
        }
        p.end();
        if (nqn.equals(DISCOVERY_NQN)) {
            throw RpcException.errno(Errno.EEXIST, "nqn=" + nqn + ": the discovery subsystem exists already");
        }
        NvmfTarget t = target(c);
        return run(() -> {
            t.createSubsystem(nqn, any, serial, model, maxNs == 0 ? 32 : (int) maxNs);
            return CompletableFuture.completedFuture(Boolean.TRUE);
        });
    }

    private static CompletionStage<?> deleteSubsystem(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String nqn = p.string("nqn");
        tgtName(p);
        p.end();
        NvmfTarget t = target(c);
        return run(() -> t.deleteSubsystem(nqn).thenApply(v -> Boolean.TRUE));
    }

    static void listenAddress(ObjectNode o, NvmfTarget.ListenAddr a) {
        o.put("trtype", a.trtype());
        o.put("adrfam", a.adrfam());
        o.put("traddr", a.traddr());
        o.put("trsvcid", a.trsvcid());
    }

    private static CompletionStage<?> getSubsystems(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        tgtName(p);
        String only = p.string("nqn", null);
        p.end();
        NvmfTarget t = target(c);
        ArrayNode arr = F.arrayNode();
        if (only == null || only.equals(DISCOVERY_NQN)) {
            ObjectNode d = arr.addObject();
            d.put("nqn", DISCOVERY_NQN);
            d.put("subtype", "Discovery");
            d.putArray("listen_addresses");
            d.put("allow_any_host", true);
            d.putArray("hosts");
        }
        boolean found = only == null || only.equals(DISCOVERY_NQN);
        for (NvmfTarget.Subsys s : t.subsystems()) {
            if (only != null && !only.equals(s.nqn)) {
                continue;
            }
            found = true;
            synchronized (t) {
                ObjectNode o = arr.addObject();
                o.put("nqn", s.nqn);
                o.put("subtype", "NVMe");
                ArrayNode ls = o.putArray("listen_addresses");
                for (NvmfTarget.ListenAddr a : s.listeners) {
                    listenAddress(ls.addObject(), a);
                }
                o.put("allow_any_host", s.allowAnyHost);
                ArrayNode hs = o.putArray("hosts");
                for (NvmfTarget.HostEntry h : s.hosts.values()) {
                    ObjectNode ho = hs.addObject();
                    ho.put("nqn", h.nqn());
                    if (h.keyName() != null) {
                        ho.put("dhchap_key", h.keyName());
                    }
                }
                o.put("serial_number", s.serial);
                o.put("model_number", s.model);
                o.put("max_namespaces", s.maxNamespaces);
                o.put("min_cntlid", 1);
                o.put("max_cntlid", 0xFFEF);
                ArrayNode nss = o.putArray("namespaces");
                for (NvmfTarget.Namespace n : s.namespaces.values()) {
                    ObjectNode no = nss.addObject();
                    no.put("nsid", n.nsid);
                    no.put("bdev_name", n.bdevName);
                    no.put("name", n.bdevName);
                    no.put("uuid", n.uuid.toString());
                }
                // Spindle's addition: the connected controllers and what their queues discarded
                ArrayNode cs = o.putArray("controllers");
                for (NvmfTarget.TargetController tc : s.controllers) {
                    if (!tc.live()) {
                        continue;
                    }
                    ObjectNode co = cs.addObject();
                    co.put("cntlid", tc.cntlid());
                    co.put("hostnqn", tc.hostNqn());
                    List<TargetQpair> qps = tc.ioQpairs();
                    co.put("num_io_qpairs", qps.size());
                    co.put("bad_frames", tc.badFrames());
                    ArrayNode qa = co.putArray("io_qpairs");
                    for (TargetQpair q : qps) {
                        ObjectNode qo = qa.addObject();
                        qo.put("qid", q.qid());
                        qo.put("thread", q.reactor().name());
                        qo.put("commands", q.commands());
                        qo.put("bad_frames", q.badFrames());
                        if (q.firstBadFrame() != null) {
                            qo.put("first_bad_frame", q.firstBadFrame());
                        }
                    }
                }
            }
        }
        if (!found) {
            throw RpcException.errno(Errno.ENODEV, "nqn=" + only + ": no such subsystem");
        }
        return CompletableFuture.completedFuture(arr);
    }

    // ------------------------------------------------------------------ namespaces

    private static CompletionStage<?> addNs(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String nqn = p.string("nqn");
        tgtName(p);
        if (!p.has("namespace") || !p.raw().get("namespace").isObject()) {
            throw RpcException.invalidParams("namespace is required (an object with bdev_name)");
        }
        RpcParams n = new RpcParams("nvmf_subsystem_add_ns.namespace", p.raw().get("namespace"));
        String bdev = n.string("bdev_name");
        long nsid = n.integer("nsid", 0, 0, 0xFFFFFFFEL);
        UUID uuid = n.uuid("uuid");
        n.string("ptpl_file", null);
        n.integer("anagrpid", 0, 0, Long.MAX_VALUE);
        if (n.has("nguid") || n.has("eui64")) {
            throw RpcException.invalidParams("namespace.nguid/eui64: not supported by Spindle (give uuid); omit them");
        }
        neutralBool(n, "no_auto_visible");
        neutralBool(n, "hide_metadata");
        n.end();
        p.end();
        NvmfTarget t = target(c);
        return run(() -> t.addNamespace(nqn, bdev, nsid, uuid));
    }

    private static CompletionStage<?> removeNs(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String nqn = p.string("nqn");
        long nsid = p.integer("nsid", 1, 0xFFFFFFFEL);
        tgtName(p);
        p.end();
        NvmfTarget t = target(c);
        return run(() -> t.removeNamespace(nqn, nsid).thenApply(v -> Boolean.TRUE));
    }

    // ------------------------------------------------------------------ listeners

    private static CompletionStage<?> listener(RpcCall c, boolean add) throws RpcException {
        RpcParams p = c.params();
        String nqn = p.string("nqn");
        tgtName(p);
        if (!p.has("listen_address") || !p.raw().get("listen_address").isObject()) {
            throw RpcException.invalidParams("listen_address is required (an object with trtype, traddr, trsvcid)");
        }
        JsonNode raw = p.raw().get("listen_address");
        RpcParams a = new RpcParams(c.method() + ".listen_address", raw);
        String trtype = a.string("trtype");
        if (!trtype.equalsIgnoreCase(NvmfTarget.TRTYPE)) {
            throw RpcException.invalidParams("listen_address.trtype=\"" + trtype + "\": Spindle's only transport type is AERON");
        }
        String adrfam = a.choice("adrfam", "ipv4", "ipv4", "IPv4", "ipv6", "IPv6", "intra_host", "INTRA_HOST");
        String traddr = a.string("traddr");
        String svc = a.string("trsvcid", null);
        a.end();
        if (add) {
            neutralBool(p, "secure_channel");
            p.string("sock_impl", null);
            p.string("ana_state", null);
        }
        p.end();
        boolean ipc = adrfam.equalsIgnoreCase("intra_host") || traddr.equalsIgnoreCase("ipc");
        if (svc == null) {
            throw RpcException.invalidParams("listen_address.trsvcid is required (a UDP port, or the admin stream id for adrfam intra_host)");
        }
        long port;
        try {
            port = Long.parseLong(svc);
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (ipc ? port < 1 || port >= (1L << 24) : port < 1 || port > 65535) {
            throw RpcException.invalidParams("listen_address.trsvcid=\"" + svc + "\": must be " + (ipc ? "a stream id between 1 and 16777215"
                    : "a UDP port between 1 and 65535"));
        }
        NvmfTarget.ListenAddr la = new NvmfTarget.ListenAddr(NvmfTarget.TRTYPE, adrfam.toLowerCase(java.util.Locale.ROOT), traddr, svc);
        NvmfTarget t = target(c);
        return run(() -> (add ? t.addListener(nqn, la) : t.removeListener(nqn, la)).thenApply(v -> Boolean.TRUE));
    }

    // ------------------------------------------------------------------ hosts

    private static CompletionStage<?> addHost(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String nqn = p.string("nqn");
        String host = nqn(p, "host");
        tgtName(p);
        String key = p.string("dhchap_key", null);
        if (p.has("dhchap_ctrlr_key") || p.has("psk")) {
            throw RpcException.invalidParams("dhchap_ctrlr_key/psk: not supported (the dhchap_key proves both sides); omit them");
        }
        p.end();
        byte[] material = null;
        if (key != null) {
            Keyring kr;
            try {
                kr = KeyringSubsystem.of(c.spindle());
            } catch (IllegalArgumentException e) {
                throw RpcException.errno(Errno.ENODEV, "dhchap_key=" + key + ": no keyring subsystem in this Spindle");
            }
            try {
                material = kr.material(key);
            } catch (Keyring.KeyringException e) {
                throw RpcException.invalidParams("dhchap_key=" + key + ": " + e.getMessage());
            }
        }
        NvmfTarget t = target(c);
        byte[] m = material;
        return run(() -> {
            t.addHost(nqn, host, key, m);
            return CompletableFuture.completedFuture(Boolean.TRUE);
        });
    }

    private static CompletionStage<?> removeHost(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String nqn = p.string("nqn");
        String host = p.string("host");
        tgtName(p);
        p.end();
        NvmfTarget t = target(c);
        return run(() -> {
            t.removeHost(nqn, host);
            return CompletableFuture.completedFuture(Boolean.TRUE);
        });
    }
}
