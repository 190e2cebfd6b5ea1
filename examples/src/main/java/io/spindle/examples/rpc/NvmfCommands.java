package io.spindle.examples.rpc;

import io.spindle.examples.rpc.SpindleRpc.Output;

import java.util.ArrayList;
import java.util.List;

import static io.spindle.examples.rpc.ArgParse.*;

/**
 * The NVMe-oF target's sub-commands of {@code spindle rpc} ({@code nvmf_*}: transports, subsystems, namespaces,
 * listeners, hosts), with rpc.py's arguments (SPDK's {@code scripts/rpc/nvmf.py}); the target runs on Spindle's
 * Aeron transport (docs/transport.md).
 *
 * <p>Stateless; {@link #register} runs once, from {@link SpindleRpc}'s class initialization.
 */
final class NvmfCommands {
    private NvmfCommands() {
    }

    /** Adds the nvmf_* sub-commands to {@code r}. */
    static void register(Registry r) {
        r.add(new Command("nvmf_create_transport", "Create NVMf transport", List.of(
                req("-t|--trtype", "trtype", Type.STR, "Transport type (ex. RDMA)"),
                opt("-g|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                opt("-q|--max-queue-depth", "max_queue_depth", Type.INT, "Max number of outstanding I/O per queue"),
                opt("-m|--max-io-qpairs-per-ctrlr", "max_io_qpairs_per_ctrlr", Type.INT, "Max number of IO qpairs per controller"),
                opt("-c|--in-capsule-data-size", "in_capsule_data_size", Type.INT, "Max number of in-capsule data size"),
                opt("-i|--max-io-size", "max_io_size", Type.INT, "Max I/O size (bytes)"),
                opt("-u|--io-unit-size", "io_unit_size", Type.INT, "I/O unit size (bytes)"),
                opt("-a|--max-aq-depth", "max_aq_depth", Type.INT, "Max number of admin cmds per AQ"),
                opt("-n|--num-shared-buffers", "num_shared_buffers", Type.INT, "Number of pooled data buffers available to the transport"),
                opt("-b|--buf-cache-size", "buf_cache_size", Type.INT, "The number of shared buffers to reserve for each poll group"),
                opt("-z|--zcopy", "zcopy", Type.TRUE, "Use zero-copy operations if the underlying bdev supports them"),
                opt("-o|--c2h-success", "no_c2h_success", Type.TRUE, "Disable C2H success optimization (TCP only)"),
                opt("-f|--dif-insert-or-strip", "dif_insert_or_strip", Type.TRUE, "Enable DIF insert for write I/O and DIF strip for read I/O"),
                opt("-x|--abort-timeout-sec", "abort_timeout_sec", Type.INT, "Abort execution timeout value, in seconds")),
                Output.NONE, a -> map("no_srq", false, "c2h_success", !Boolean.TRUE.equals(a.get("no_c2h_success")), "trtype", a.get("trtype"),
                        "tgt_name", a.get("tgt_name"), "max_queue_depth", a.get("max_queue_depth"), "max_io_qpairs_per_ctrlr",
                        a.get("max_io_qpairs_per_ctrlr"), "in_capsule_data_size", a.get("in_capsule_data_size"), "max_io_size", a.get("max_io_size"),
                        "io_unit_size", a.get("io_unit_size"), "max_aq_depth", a.get("max_aq_depth"), "num_shared_buffers", a.get("num_shared_buffers"),
                        "buf_cache_size", a.get("buf_cache_size"), "zcopy", a.get("zcopy"), "dif_insert_or_strip", a.get("dif_insert_or_strip"),
                        "abort_timeout_sec", a.get("abort_timeout_sec"), "no_wr_batching", false, "disable_mappable_bar0", false,
                        "disable_adaptive_irq", false, "disable_shadow_doorbells", false, "disable_command_passthru", false)));
        r.add(new Command("nvmf_get_transports", "Display nvmf transports or required transport", List.of(
                opt("--trtype", "trtype", Type.STR, "Transport type"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.DICT, a -> map("trtype", a.get("trtype"), "tgt_name", a.get("tgt_name"))));
        r.add(new Command("nvmf_get_subsystems", "Display nvmf subsystems or required subsystem", List.of(
                new Arg(List.of(), "nqn", Type.STR, false, List.of(), "Subsystem NQN"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.DICT, a -> map("nqn", a.get("nqn"), "tgt_name", a.get("tgt_name"))));
        r.add(new Command("nvmf_create_subsystem", "Create an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                opt("-s|--serial-number", "serial_number", Type.STR, "Serial number of the virtual NVMe controller"),
                opt("-d|--model-number", "model_number", Type.STR, "Model number of the virtual NVMe controller"),
                opt("-a|--allow-any-host", "allow_any_host", Type.TRUE, "Allow any host to connect (don't enforce allowed host NQN list)"),
                opt("-m|--max-namespaces", "max_namespaces", Type.INT, "Maximum number of namespaces allowed"),
                opt("-r|--ana-reporting", "ana_reporting", Type.TRUE, "Enable ANA reporting feature"),
                opt("-i|--min-cntlid", "min_cntlid", Type.INT, "Minimum controller ID"),
                opt("-I|--max-cntlid", "max_cntlid", Type.INT, "Maximum controller ID"),
                opt("-p|--passthrough", "passthrough", Type.TRUE, "Use NVMe passthrough for all I/O commands and namespace-directed admin commands"),
                opt("-n|--enable-nssr", "enable_nssr", Type.TRUE, "Enable NSSR (NVMe subsystem reset)")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "tgt_name", a.get("tgt_name"), "serial_number", a.get("serial_number"), "model_number",
                        a.get("model_number"), "allow_any_host", a.get("allow_any_host"), "max_namespaces", a.get("max_namespaces"), "ana_reporting",
                        a.get("ana_reporting"), "min_cntlid", a.get("min_cntlid"), "max_cntlid", a.get("max_cntlid"), "passthrough", a.get("passthrough"),
                        "enable_nssr", a.get("enable_nssr"))));
        r.add(new Command("nvmf_delete_subsystem", "Delete a nvmf subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "tgt_name", a.get("tgt_name"))));
        r.add(new Command("nvmf_subsystem_add_ns", "Add a namespace to an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                pos("bdev_name", Type.STR, "Name of the bdev to expose as a namespace"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                opt("-n|--nsid", "nsid", Type.INT, "Namespace ID between 1 and 4294967294"),
                opt("-u|--uuid", "uuid", Type.STR, "RFC 4122 UUID (e.g. \"ceccf520-691e-4b46-9546-34af789907c5\")"),
                opt("-i|--no-auto-visible", "no_auto_visible", Type.TRUE, "Do not auto make namespace visible to controllers"),
                opt("-N|--hide-metadata", "hide_metadata", Type.TRUE, "Enable hide_metadata option to the bdev")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "tgt_name", a.get("tgt_name"), "namespace", nested("bdev_name", a.get("bdev_name"), "nsid",
                        a.get("nsid"), "uuid", a.get("uuid"), "no_auto_visible", a.get("no_auto_visible"), "hide_metadata", a.get("hide_metadata")))));
        r.add(new Command("nvmf_subsystem_remove_ns", "Remove a namespace to an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                pos("nsid", Type.INT, "Namespace ID"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "nsid", a.get("nsid"), "tgt_name", a.get("tgt_name"))));
        for (boolean add : new boolean[] {true, false}) {
            List<Arg> args = new ArrayList<>(List.of(
                    pos("nqn", Type.STR, "Subsystem NQN ('discovery' can be used as shortcut for discovery NQN)"),
                    req("-t|--trtype", "trtype", Type.STR, "NVMe-oF transport type: e.g., rdma"),
                    req("-a|--traddr", "traddr", Type.STR, "NVMe-oF transport address: e.g., an ip address"),
                    opt("-p|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                    opt("-f|--adrfam", "adrfam", Type.STR, "NVMe-oF transport adrfam: e.g., ipv4, ipv6, ib, fc, intra_host"),
                    opt("-s|--trsvcid", "trsvcid", Type.STR, "NVMe-oF transport service id: e.g., a port number")));
            if (add) {
                args.add(opt("-k|--secure-channel", "secure_channel", Type.TRUE, "Immediately establish a secure channel"));
            }
            r.add(new Command(add ? "nvmf_subsystem_add_listener" : "nvmf_subsystem_remove_listener",
                    add ? "Add a listener to an NVMe-oF subsystem" : "Remove a listener from an NVMe-oF subsystem", args, Output.NONE, a -> {
                        String nqn = "discovery".equals(a.get("nqn")) ? "nqn.2014-08.org.nvmexpress.discovery" : (String) a.get("nqn");
                        return map("nqn", nqn, "tgt_name", a.get("tgt_name"), "secure_channel", a.get("secure_channel"), "listen_address",
                                nested("trtype", a.get("trtype"), "traddr", a.get("traddr"), "adrfam", a.get("adrfam"), "trsvcid", a.get("trsvcid")));
                    }));
        }
        r.add(new Command("nvmf_subsystem_add_host", "Add a host to an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                pos("host", Type.STR, "Host NQN to add to the allowed host list"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name"),
                opt("--dhchap-key", "dhchap_key", Type.STR, "DH-HMAC-CHAP key name, required if a controller key is specified")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "host", a.get("host"), "tgt_name", a.get("tgt_name"), "dhchap_key", a.get("dhchap_key"))));
        r.add(new Command("nvmf_subsystem_remove_host", "Remove a host from an NVMe-oF subsystem", List.of(
                pos("nqn", Type.STR, "Subsystem NQN"),
                pos("host", Type.STR, "Host NQN to remove from the allowed host list"),
                opt("-t|--tgt-name", "tgt_name", Type.STR, "Parent NVMe-oF target name")),
                Output.NONE, a -> map("nqn", a.get("nqn"), "host", a.get("host"), "tgt_name", a.get("tgt_name"))));
    }
}
