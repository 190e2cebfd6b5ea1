package io.spindle.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.BdevLayer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code bdev_malloc_create} allocates and zeroes off the RPC server's actor (on the bdev layer's blocking
 * executor), so other connections are served meanwhile; sizes above the memory available are refused up front.
 */
@Timeout(60)
class MallocCreateRpcTest {

    /**
     * A blocking executor that, once {@link #hold} is set, holds its tasks until the test runs them: the allocation's
     * progress is the test's. Before that (the harness's own Malloc0 at start) each task runs on a thread of its own.
     */
    static final class HeldExecutor implements Executor {
        final List<Runnable> held = new CopyOnWriteArrayList<>();
        volatile boolean hold;

        @Override
        public void execute(Runnable r) {
            if (hold) {
                held.add(r);
            } else {
                new Thread(r, "test-blocking-worker").start();
            }
        }

        /** Runs every held task on a thread of its own and waits for them. */
        void runHeld() throws InterruptedException {
            for (Runnable r : held) {
                Thread t = new Thread(r, "test-blocking-worker");
                t.start();
                t.join();
            }
            held.clear();
        }
    }

    @Test
    @DisplayName("while a malloc create's allocation is under way, another connection's bdev_get_bdevs and spdk_get_version are answered; the create answers when its memory is zeroed")
    void otherConnectionsAreServedWhileAMallocCreateAllocates() throws Exception {
        HeldExecutor blocking = new HeldExecutor();
        try (RpcHarness h = new RpcHarness("rpc-malloc-async", b -> b, false, bdev -> bdev.blockingExecutor(blocking))) {
            BdevLayer layer = BdevLayer.of(h.spindle);
            assertThat(layer.get("Malloc0")).as("created at start, through the executor").isNotNull();
            blocking.hold = true;

            CompletableFuture<JsonNode> create = new CompletableFuture<>();
            Thread a = new Thread(() -> {
                try (RpcClient c = h.client()) {
                    create.complete(c.request("bdev_malloc_create", RpcHarness.params("{\"name\":\"Big0\",\"block_size\":4096,\"num_blocks\":16384}")));
                } catch (Exception e) {
                    create.completeExceptionally(e);
                }
            }, "client-a");
            a.start();
            await(() -> !blocking.held.isEmpty());
            MallocModule malloc = layer.module(MallocModule.class);
            assertThat(malloc.allocatingBytes()).as("64 MiB reserved, not yet allocated").isEqualTo(64L << 20);

            // the allocation is held: whatever connection B gets now was served while A's create was in progress
            JsonNode bdevs = h.call("bdev_get_bdevs", null);
            assertThat(bdevs).extracting(n -> n.get("name").asText()).containsExactly("Malloc0");
            assertThat(h.call("spdk_get_version", null).get("version").asText()).isNotEmpty();
            assertThat(create).as("A is still waiting for its memory").isNotDone();
            assertThat(layer.get("Big0")).isNull();

            blocking.runHeld();
            JsonNode r = create.get(20, TimeUnit.SECONDS);
            assertThat(r.get("result").asText()).isEqualTo("Big0");
            assertThat(layer.get("Big0").numBlocks()).isEqualTo(16384);
            assertThat(malloc.allocatingBytes()).isZero();
            a.join();
            assertThat(h.call("bdev_malloc_delete", "{\"name\":\"Big0\"}").asBoolean()).isTrue();
        }
    }

    @Test
    @DisplayName("a malloc create above the memory available is refused up front with ENOMEM naming the size and the bound; nothing is allocated")
    void sizeAboveAvailableMemoryIsRefusedUpFront() throws Exception {
        HeldExecutor blocking = new HeldExecutor();
        try (RpcHarness h = new RpcHarness("rpc-malloc-enomem", b -> b, false, bdev -> bdev.blockingExecutor(blocking))) {
            BdevLayer layer = BdevLayer.of(h.spindle);
            blocking.hold = true;
            // 4 PiB: above any machine's memory
            JsonNode r = h.request("bdev_malloc_create", "{\"name\":\"Huge\",\"block_size\":4096,\"num_blocks\":" + (1L << 40) + "}");
            assertThat(r.get("error").get("code").asInt()).isEqualTo(-12);
            assertThat(r.get("error").get("data").asText()).contains("name=Huge").contains("size=" + (1L << 52) + " bytes")
                    .contains("above the memory available=");
            assertThat(blocking.held).as("no allocation was started").isEmpty();
            assertThat(layer.module(MallocModule.class).allocatingBytes()).isZero();
            assertThat(layer.get("Huge")).isNull();
        }
    }

    private static void await(java.util.function.BooleanSupplier c) {
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(c::getAsBoolean);
    }
}
