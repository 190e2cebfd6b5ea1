package io.spindle.transport;

import io.spindle.transport.aeron.AeronTransport;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The Aeron transport starts only when used, and its last user's release stops it and removes its directory. */
class TransportLifecycleTest {
    private static boolean anyAeronDir() throws Exception {
        try (var s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.anyMatch(p -> p.getFileName().toString().startsWith("spindle-aeron-" + ProcessHandle.current().pid() + "-"));
        }
    }

    /** Waits up to 10 s for transport control threads (of earlier tests too) to end; true when none is left. */
    private static boolean noTransportThreads() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (Thread.getAllStackTraces().keySet().stream().noneMatch(th -> th.isAlive() && th.getName().startsWith("spindle-transport"))) {
                return true;
            }
            Thread.sleep(20);
        }
        return false;
    }

    @Test
    void anAppThatNeverUsesTheTransportStartsNoDriverAndDetachingTheLastControllerStopsIt() throws Exception {
        int port = Node.freeUdpPort();
        try (Node tgt = Node.target("tgt_life", ""); Node host = Node.host("host_life", "")) {
            // both apps have the nvmf and keyring subsystems and the nvme module, and start nothing of Aeron
            assertThat(AeronTransport.running(tgt.spindle.reactors())).isNull();
            assertThat(AeronTransport.running(host.spindle.reactors())).isNull();
            assertThat(host.rpc("bdev_nvme_get_controllers", null)).isEmpty();
            assertThat(tgt.rpc("nvmf_get_transports", null)).isEmpty();
            assertThat(anyAeronDir()).isFalse();
            assertThat(noTransportThreads()).isTrue();

            tgt.export(RemoteBdevUdpTest.NQN, "127.0.0.1", "ipv4", port, true);
            host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme0", port, ""));
            AeronTransport t = AeronTransport.running(host.spindle.reactors());
            assertThat(t).isNotNull();
            Path dir = t.aeronDir();
            assertThat(dir).exists();
            host.rpc("bdev_nvme_detach_controller", "{\"name\":\"Nvme0\"}");
            t.whenStopped().get(30, TimeUnit.SECONDS);
            assertThat(AeronTransport.running(host.spindle.reactors())).isNull();
            assertThat(dir).doesNotExist();
            // attaching again starts a new one
            host.rpc("bdev_nvme_attach_controller", RemoteBdevUdpTest.attach("Nvme1", port, ""));
            assertThat(AeronTransport.running(host.spindle.reactors())).isNotNull().isNotSameAs(t);
        }
        assertThat(anyAeronDir()).isFalse();
        assertThat(noTransportThreads()).isTrue();
    }

    @Test
    void startedFromReactor0TheTransportRegistersItsPollerInlineInsteadOfWaitingForItself() throws Exception {
        try (Node host = Node.host("host_r0", "")) {
            io.spindle.runtime.Reactor r0 = host.spindle.reactors().reactor(0);
            java.util.concurrent.CompletableFuture<AeronTransport> started = new java.util.concurrent.CompletableFuture<>();
            java.util.concurrent.CompletableFuture<java.util.List<String>> pollers = new java.util.concurrent.CompletableFuture<>();
            r0.send(() -> {
                try {
                    started.complete(AeronTransport.acquire(host.spindle));
                    pollers.complete(r0.pollerNames());
                } catch (Throwable e) {
                    started.completeExceptionally(e);
                }
            });
            // before: reactor 0 sent itself the registration and waited 10 s for it (it could not run meanwhile)
            AeronTransport t = started.get(5, TimeUnit.SECONDS);
            assertThat(pollers.get(5, TimeUnit.SECONDS)).as("registered inline, before acquire returned").contains("aeron_invoker");
            t.release().get(30, TimeUnit.SECONDS);
            t.whenStopped().get(30, TimeUnit.SECONDS);
        }
        assertThat(noTransportThreads()).isTrue();
    }
}
