package io.spindle.examples.kv;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The store's contract on a mapped bdev and on malloc: put, get, delete, scan, and a restart. */
class KvStoreTest {
    static <T> T await(java.util.concurrent.CompletionStage<T> s) throws Exception {
        return s.toCompletableFuture().get(60, TimeUnit.SECONDS);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static KvOptions mapped(Path dir) {
        return KvOptions.defaults().withFile(dir.resolve("kv.img")).withSize(32L << 20).withMask("0x3");
    }

    @Test
    @Timeout(120)
    @DisplayName("put, get, delete and scan on a malloc store answer as a map does")
    void mallocStoreAnswersAsAMap() throws Exception {
        try (KvStore kv = KvStore.open(KvOptions.defaults().withMalloc(true).withSize(32L << 20))) {
            assertThat(kv.shardCount()).isEqualTo(2);
            assertThat(await(kv.get("absent"))).isNull();
            await(kv.put("fruit/apple", bytes("red")));
            await(kv.put("fruit/banana", bytes("yellow")));
            await(kv.put("veg/leek", bytes("green")));
            await(kv.put("fruit/apple", bytes("green")));
            assertThat(await(kv.get("fruit/apple"))).isEqualTo(bytes("green"));
            assertThat(await(kv.scan("fruit/"))).containsExactly("fruit/apple", "fruit/banana");
            assertThat(await(kv.delete("fruit/banana"))).isTrue();
            assertThat(await(kv.delete("fruit/banana"))).isFalse();
            assertThat(await(kv.get("fruit/banana"))).isNull();
            assertThat(await(kv.scan(""))).containsExactly("fruit/apple", "veg/leek");
            await(kv.put("empty", new byte[0]));
            assertThat(await(kv.get("empty"))).isEmpty();
        }
    }

    @Test
    @Timeout(180)
    @DisplayName("restart recovery: every value put before a stop is there after the next start, deletes stay deleted")
    void restartRecoversEveryValue(@TempDir Path dir) throws Exception {
        int n = 600;
        try (KvStore kv = KvStore.open(mapped(dir))) {
            List<CompletableFuture<Void>> puts = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                puts.add(kv.put("k" + i, bytes("v" + i + "-".repeat(i % 300))).toCompletableFuture());
            }
            CompletableFuture.allOf(puts.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            for (int i = 0; i < n; i += 10) {
                assertThat(await(kv.delete("k" + i))).isTrue();
            }
            assertThat(await(kv.stats()).stream().mapToLong(KvShard.Stats::batchedOps).sum())
                    .as("group commit: fewer writes than puts").isGreaterThan(await(kv.stats()).stream().mapToLong(KvShard.Stats::batches).sum());
        }
        try (KvStore kv = KvStore.open(mapped(dir))) {
            for (int i = 0; i < n; i++) {
                byte[] v = await(kv.get("k" + i));
                if (i % 10 == 0) {
                    assertThat(v).as("k" + i + " was deleted").isNull();
                } else {
                    assertThat(v).as("k" + i).isEqualTo(bytes("v" + i + "-".repeat(i % 300)));
                }
            }
            assertThat(await(kv.scan("k"))).hasSize(n - n / 10);
            // the clean stop wrote a checkpoint: the index came from it, no log record was replayed
            assertThat(kv.recoveryReports()).allSatisfy(r -> assertThat(r.replayed()).isZero());
            assertThat(kv.recoveryReports().stream().mapToInt(KvRecovery.Report::fromCheckpoint).sum()).isEqualTo(n - n / 10);
        }
    }

    @Test
    @Timeout(180)
    @DisplayName("recovery without a last checkpoint (a crash image) replays the log tail after the newest checkpoint")
    void crashImageReplaysTheTailAfterTheCheckpoint(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("crash.img");
        try (KvStore kv = KvStore.open(mapped(dir))) {
            for (int i = 0; i < 50; i++) {
                await(kv.put("before" + i, bytes("b" + i)));
            }
            await(kv.checkpoint());
            for (int i = 0; i < 50; i++) {
                await(kv.put("after" + i, bytes("a" + i)));
            }
            await(kv.delete("before7"));
            // the file as a kill -9 now would leave it: every acknowledged write is in it, no last checkpoint
            KvCorruptionTest.copyFile(dir.resolve("kv.img"), image);
        }
        try (KvStore kv = KvStore.open(mapped(dir).withFile(image))) {
            for (int i = 0; i < 50; i++) {
                assertThat(await(kv.get("before" + i))).isEqualTo(i == 7 ? null : bytes("b" + i));
                assertThat(await(kv.get("after" + i))).isEqualTo(bytes("a" + i));
            }
            assertThat(kv.recoveryReports().stream().mapToInt(KvRecovery.Report::fromCheckpoint).sum()).isEqualTo(50);
            assertThat(kv.recoveryReports().stream().mapToInt(KvRecovery.Report::replayed).sum()).isEqualTo(51);
        }
    }
}
