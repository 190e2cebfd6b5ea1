package io.spindle.examples.rpc;

import io.spindle.examples.rpc.SpindleRpc.Output;

import java.util.List;

import static io.spindle.examples.rpc.ArgParse.*;

/**
 * The NVMe-oF initiator's sub-commands of {@code spindle rpc} ({@code bdev_nvme_*}) and the keyring's
 * ({@code keyring_file_*}, {@code keyring_get_keys}) whose keys {@code bdev_nvme_attach_controller} and
 * {@code nvmf_subsystem_add_host} name, with rpc.py's arguments (SPDK's {@code scripts/rpc/bdev.py},
 * {@code keyring.py}; docs/transport.md).
 *
 * <p>Stateless; {@link #register} runs once, from {@link SpindleRpc}'s class initialization.
 */
final class NvmeCommands {
    private NvmeCommands() {
    }

    /** Adds the bdev_nvme_* and keyring sub-commands to {@code r}. */
    static void register(Registry r) {
        r.add(new Command("bdev_nvme_attach_controller", "Add bdevs with nvme backend", List.of(
                req("-b|--name", "name", Type.STR, "Name of the NVMe controller, prefix for each bdev name"),
                req("-t|--trtype", "trtype", Type.STR, "NVMe-oF target trtype: e.g., rdma, pcie"),
                req("-a|--traddr", "traddr", Type.STR, "NVMe-oF target address: e.g., an ip address or BDF"),
                opt("-f|--adrfam", "adrfam", Type.STR, "NVMe-oF target adrfam: e.g., ipv4, ipv6, ib, fc, intra_host"),
                opt("-s|--trsvcid", "trsvcid", Type.STR, "NVMe-oF target trsvcid: e.g., a port number"),
                opt("-n|--subnqn", "subnqn", Type.STR, "NVMe-oF target subnqn"),
                opt("-q|--hostnqn", "hostnqn", Type.STR, "NVMe-oF host subnqn"),
                opt("-i|--hostaddr", "hostaddr", Type.STR, "NVMe-oF host address: e.g., an ip address"),
                opt("-c|--hostsvcid", "hostsvcid", Type.STR, "NVMe-oF host svcid: e.g., a port number"),
                opt("-r|--prchk-reftag", "prchk_reftag", Type.TRUE, "Enable checking of PI reference tag for I/O processing."),
                opt("-g|--prchk-guard", "prchk_guard", Type.TRUE, "Enable checking of PI guard for I/O processing."),
                opt("-e|--hdgst", "hdgst", Type.TRUE, "Enable TCP header digest."),
                opt("-d|--ddgst", "ddgst", Type.TRUE, "Enable TCP data digest."),
                choice("-x|--multipath", "multipath", List.of("disable", "failover", "multipath"), "Set multipath behavior"),
                opt("-l|--ctrlr-loss-timeout-sec", "ctrlr_loss_timeout_sec", Type.INT, "Time to wait until ctrlr is reconnected before deleting ctrlr."),
                opt("-o|--reconnect-delay-sec", "reconnect_delay_sec", Type.INT, "Time to delay a reconnect retry."),
                opt("-u|--fast-io-fail-timeout-sec", "fast_io_fail_timeout_sec", Type.INT, "Time to wait until ctrlr is reconnected before failing I/O to ctrlr."),
                opt("--dhchap-key", "dhchap_key", Type.STR, "DH-HMAC-CHAP key name"),
                opt("-U|--allow-unrecognized-csi", "allow_unrecognized_csi", Type.TRUE, "Allow attaching namespaces with unrecognized command set identifiers."),
                opt("--disable-sq-flow-control", "disable_sq_flow_control", Type.TRUE, "Disable SQ flow control.")),
                Output.ARRAY, a -> map("name", a.get("name"), "trtype", a.get("trtype"), "traddr", a.get("traddr"), "adrfam", a.get("adrfam"), "trsvcid",
                        a.get("trsvcid"), "subnqn", a.get("subnqn"), "hostnqn", a.get("hostnqn"), "hostaddr", a.get("hostaddr"), "hostsvcid",
                        a.get("hostsvcid"), "prchk_reftag", a.get("prchk_reftag"), "prchk_guard", a.get("prchk_guard"), "hdgst", a.get("hdgst"), "ddgst",
                        a.get("ddgst"), "multipath", a.get("multipath"), "ctrlr_loss_timeout_sec", a.get("ctrlr_loss_timeout_sec"), "reconnect_delay_sec",
                        a.get("reconnect_delay_sec"), "fast_io_fail_timeout_sec", a.get("fast_io_fail_timeout_sec"), "dhchap_key", a.get("dhchap_key"),
                        "allow_unrecognized_csi", a.get("allow_unrecognized_csi"), "disable_sq_flow_control", a.get("disable_sq_flow_control"))));
        r.add(new Command("bdev_nvme_detach_controller", "Detach an NVMe controller and delete any associated bdevs", List.of(
                pos("name", Type.STR, "Controller name")),
                Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("bdev_nvme_get_controllers", "Display current NVMe controllers list or required NVMe controller", List.of(
                opt("-n|--name", "name", Type.STR, "Name of the NVMe controller. Example: Nvme0")),
                Output.DICT, a -> map("name", a.get("name"))));
        r.add(new Command("keyring_file_add_key", "Add a file-based key to the keyring", List.of(
                pos("name", Type.STR, "Name of the key to add"),
                pos("path", Type.STR, "Path to the file containing the key")),
                Output.NONE, a -> map("name", a.get("name"), "path", a.get("path"))));
        r.add(new Command("keyring_file_remove_key", "Remove a file-based key from the keyring", List.of(
                pos("name", Type.STR, "Name of the key to remove")),
                Output.NONE, a -> map("name", a.get("name"))));
        r.add(new Command("keyring_get_keys", "Get a list of registered keys", List.of(), Output.DICT, a -> map()));
    }
}
