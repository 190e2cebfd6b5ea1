package io.spindle.transport;

import io.spindle.rpc.RpcException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;

/** Hosts admitted per subsystem, and the dhchap_key challenge–response, over Aeron UDP. */
class AuthTest {
    static final String NQN = RemoteBdevUdpTest.NQN;
    static final String HOST = "nqn.2016-06.io.spindle:host1";

    static Path key(Path dir, String name, String secret, String mode) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, secret);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    @Test
    void aHostNotAllowedIsRefusedWithAClearErrorOnBothSides() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_auth1", ""); Node host = Node.host("host_auth1", "")) {
            tgt.export(NQN, "127.0.0.1", "ipv4", port, false);
            tgt.rpc("nvmf_subsystem_add_host", "{\"nqn\":\"" + NQN + "\",\"host\":\"" + HOST + "\"}");
            RpcException e = host.rpcError("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port,
                    ",\"hostnqn\":\"nqn.2016-06.io.spindle:intruder\""));
            assertThat(e.code()).isEqualTo(-5);
            assertThat(e.detail()).contains("hostnqn=nqn.2016-06.io.spindle:intruder").contains("not allowed");
            assertThat(host.layer.get("Nvme0n1")).isNull();
            assertThat(host.rpc("bdev_nvme_get_controllers", null)).isEmpty();
            // the allowed host gets in
            assertThat(host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ",\"hostnqn\":\"" + HOST + "\"")).size())
                    .isEqualTo(2);
            // removing the host disconnects it
            tgt.rpc("nvmf_subsystem_remove_host", "{\"nqn\":\"" + NQN + "\",\"host\":\"" + HOST + "\"}");
        }
    }

    @Test
    void aDhchapKeyMustBeProvenBeforeAnyIoQueueAndAWrongOrMissingKeyIsRefused(@TempDir Path dir) throws Exception {
        int port = Node.freeUdpPort();
        Path good = key(dir, "key0", "DHHC-1:00:" + java.util.Base64.getEncoder().encodeToString(new byte[36]).replace("AAAA", "QkNE") + ":", "rw-------");
        Path other = key(dir, "key1", "another secret of the same kind", "rw-------");
        Path open = key(dir, "key2", "readable by the group", "rw-r-----");
        try (Node tgt = Node.target("tgt_auth2", ""); Node host = Node.host("host_auth2", "")) {
            RpcException perm = tgt.rpcError("keyring_file_add_key", "{\"name\":\"k2\",\"path\":\"" + open + "\"}");
            assertThat(perm.code()).isEqualTo(-1);
            assertThat(perm.detail()).contains("invalid permissions");
            assertThat(tgt.rpcError("keyring_file_add_key", "{\"name\":\"k3\",\"path\":\"relative/key\"}").code()).isEqualTo(-22);
            tgt.rpc("keyring_file_add_key", "{\"name\":\"key0\",\"path\":\"" + good + "\"}");
            tgt.export(NQN, "127.0.0.1", "ipv4", port, false);
            tgt.rpc("nvmf_subsystem_add_host", "{\"nqn\":\"" + NQN + "\",\"host\":\"" + HOST + "\",\"dhchap_key\":\"key0\"}");
            assertThat(tgt.rpc("nvmf_get_subsystems", null).get(1).get("hosts").get(0).get("dhchap_key").asText()).isEqualTo("key0");

            host.rpc("keyring_file_add_key", "{\"name\":\"key0\",\"path\":\"" + good + "\"}");
            host.rpc("keyring_file_add_key", "{\"name\":\"key1\",\"path\":\"" + other + "\"}");
            RpcException missing = host.rpcError("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ",\"hostnqn\":\"" + HOST + "\""));
            assertThat(missing.detail()).contains("requires DH-HMAC-CHAP").contains("no dhchap_key");
            // a failed attach answers once its controller is gone: the name is free for the retry that follows
            assertThat(host.rpc("bdev_nvme_get_controllers", null)).isEmpty();
            RpcException wrong = host.rpcError("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ",\"hostnqn\":\"" + HOST
                    + "\",\"dhchap_key\":\"key1\""));
            assertThat(wrong.detail()).contains("dhchap_key=key1").contains("wrong key");
            assertThat(host.layer.get("Nvme0n1")).isNull();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> tgt.rpc("nvmf_get_subsystems", null).get(1).get("controllers").isEmpty());

            assertThat(host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ",\"hostnqn\":\"" + HOST
                    + "\",\"dhchap_key\":\"key0\"")).size()).isEqualTo(2);
            assertThat(host.rpc("bdev_get_bdevs", "{\"name\":\"Nvme0n1\"}").size()).isEqualTo(1);
            // the key is named in save_config, its material never
            String cfg = host.rpc("framework_get_config", "{\"name\":\"bdev\"}").toString();
            assertThat(cfg).contains("\"dhchap_key\":\"key0\"").doesNotContain("QkNE");
        }
    }
}
