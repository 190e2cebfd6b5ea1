package io.spindle.transport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.spindle.app.Spindle;
import io.spindle.app.SpindleApp;
import io.spindle.app.SpindleConfig;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.nullbdev.NullModule;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.rpc.RpcDispatcher;
import io.spindle.rpc.RpcException;
import io.spindle.runtime.ReactorConfig;
import io.spindle.transport.keyring.KeyringSubsystem;
import io.spindle.transport.nvmf.NvmfSubsystem;

import java.net.DatagramSocket;
import java.util.ArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One Spindle app for transport tests: real reactors, the keyring, bdev and nvmf subsystems, optionally
 * {@code Malloc0} (4 MiB of 512-byte blocks... or given) and {@code Null0}; JSON-RPC calls through the app's own
 * dispatcher (the same code path as the socket). {@link #close()} stops it and asserts a clean stop.
 */
final class Node implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    final Spindle spindle;
    final BdevLayer layer;

    Node(String name, String mask, String transportConf, long mallocBlocks, int mallocBlockSize, boolean withNull) {
        BdevSubsystem bdev = new BdevSubsystem();
        if (mallocBlocks > 0) {
            bdev.onStart(l -> l.module(MallocModule.class).create(l, MallocModule.Options.of("Malloc0", mallocBlocks, mallocBlockSize)));
        }
        if (withNull) {
            bdev.onStart(l -> l.module(NullModule.class).create(l, new NullModule.Options("Null0", 1 << 20, 4096, null, false)));
        }
        spindle = Spindle.start(SpindleConfig.builder(ConfigFactory.parseString("pekko.loglevel = WARNING\n"
                        + "spindle.transport.keep-alive-timeout = 3s\n" + transportConf)).name(name)
                .reactor(ReactorConfig.builder().mask(mask).conclude())
                .subsystem(new KeyringSubsystem())
                .subsystem(bdev)
                .subsystem(new NvmfSubsystem())
                .conclude());
        layer = BdevLayer.of(spindle);
    }

    /** A target exporting Malloc0 (and Null0) as nqn on a UDP listener at 127.0.0.1:port (or IPC stream). */
    static Node target(String name, String transportConf) {
        return new Node(name, "0x1", transportConf, 8192, 4096, true);
    }

    static Node host(String name, String transportConf) {
        return new Node(name, "0x3", transportConf, 0, 0, false);
    }

    /** Calls {@code method} with params JSON; returns the result or throws the RpcException. */
    JsonNode rpc(String method, String params) throws Exception {
        RpcDispatcher d = RpcDispatcher.create(spindle);
        try {
            JsonNode p = params == null ? null : JSON.readTree(params);
            return d.call(method, p, new ArrayList<>()).toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof java.util.concurrent.CompletionException && c.getCause() != null) {
                c = c.getCause();
            }
            if (c instanceof RpcException r) {
                throw new RpcFailure(method, r);
            }
            if (c instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    /** A JSON-RPC error, with SPDK's code, message and Spindle's detail. */
    static final class RpcFailure extends Exception {
        private static final long serialVersionUID = 1L;
        final RpcException error;

        RpcFailure(String method, RpcException e) {
            super(method + ": code " + e.code() + " " + e.getMessage() + (e.detail() != null ? ": " + e.detail() : ""), e);
            this.error = e;
        }
    }

    /** The RpcException of a call that must fail. */
    RpcException rpcError(String method, String params) {
        try {
            rpc(method, params);
        } catch (RpcFailure e) {
            return e.error;
        } catch (Exception e) {
            throw new AssertionError(method + " failed with " + e, e);
        }
        throw new AssertionError(method + " succeeded; an error was expected");
    }

    /** Creates the AERON transport and subsystem nqn with Malloc0 (nsid 1) and Null0 (nsid 2) on a listener. */
    void export(String nqn, String traddr, String adrfam, int svc, boolean anyHost) throws Exception {
        if (rpc("nvmf_get_transports", null).isEmpty()) {
            rpc("nvmf_create_transport", "{\"trtype\":\"AERON\",\"max_queue_depth\":256}");
        }
        rpc("nvmf_create_subsystem", "{\"nqn\":\"" + nqn + "\",\"allow_any_host\":" + anyHost + ",\"serial_number\":\"SPDK001\"}");
        rpc("nvmf_subsystem_add_ns", "{\"nqn\":\"" + nqn + "\",\"namespace\":{\"bdev_name\":\"Malloc0\",\"nsid\":1}}");
        if (layer.get("Null0") != null) {
            rpc("nvmf_subsystem_add_ns", "{\"nqn\":\"" + nqn + "\",\"namespace\":{\"bdev_name\":\"Null0\",\"nsid\":2}}");
        }
        rpc("nvmf_subsystem_add_listener", "{\"nqn\":\"" + nqn + "\",\"listen_address\":{\"trtype\":\"AERON\",\"adrfam\":\"" + adrfam
                + "\",\"traddr\":\"" + traddr + "\",\"trsvcid\":\"" + svc + "\"}}");
    }

    /** A free UDP port on loopback. */
    static int freeUdpPort() {
        try (DatagramSocket s = new DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        SpindleApp.Stopped st = spindle.stopAndWait();
        assertThat(st.clean()).as("clean stop of " + spindle.config().name() + ": " + st.leaks()).isTrue();
    }
}
