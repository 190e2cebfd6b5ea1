package io.spindle.examples.kv;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.spindle.examples.kv.KvStoreTest.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Compaction under load: a small log (one shard, two halves of about 4 MiB) is overwritten many times by concurrent
 * writers while readers check every value they get; the log switches halves and copies the live records several
 * times, and every key ends with its last acknowledged value, before and after a restart.
 */
class KvCompactionTest {
    static final int KEYS = 300;
    static final int VALUE = 1000;

    /** A value naming its key and version, checkable by a reader. */
    static byte[] value(int key, int version) {
        ByteBuffer b = ByteBuffer.allocate(VALUE);
        b.putInt(key).putInt(version);
        while (b.remaining() >= 4) {
            b.putInt(key * 31 + version);
        }
        return b.array();
    }

    static void check(byte[] v, int key) {
        assertThat(v).hasSize(VALUE);
        ByteBuffer b = ByteBuffer.wrap(v);
        assertThat(b.getInt()).isEqualTo(key);
        int version = b.getInt();
        while (b.remaining() >= 4) {
            assertThat(b.getInt()).isEqualTo(key * 31 + version);
        }
    }

    @Test
    @Timeout(300)
    @DisplayName("values stay correct while compactions copy live records and puts run; the last acknowledged versions survive a restart")
    void compactionUnderLoad(@TempDir Path dir) throws Exception {
        KvOptions o = KvOptions.defaults().withFile(dir.resolve("kv.img")).withSize(16L << 20).withMask("0x1").withMaxValue(4096);
        int rounds = 25; // 25 x 300 records of 1.5 KiB: about 11 MiB through halves of about 4 MiB
        ConcurrentHashMap<Integer, Integer> acked = new ConcurrentHashMap<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        try (KvStore kv = KvStore.open(o)) {
            int writers = 8;
            CompletableFuture<?>[] loops = new CompletableFuture<?>[writers];
            for (int w = 0; w < writers; w++) {
                int first = w;
                loops[w] = CompletableFuture.runAsync(() -> {
                    try {
                        for (int r = 0; r < rounds; r++) {
                            for (int k = first; k < KEYS; k += writers) {
                                kv.put("key" + k, value(k, r)).toCompletableFuture().get(60, TimeUnit.SECONDS);
                                acked.put(k, r);
                                byte[] v = kv.get("key" + ((k * 7 + r) % KEYS)).toCompletableFuture().get(60, TimeUnit.SECONDS);
                                if (v != null) {
                                    check(v, (k * 7 + r) % KEYS);
                                }
                            }
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                });
            }
            CompletableFuture.allOf(loops).get(240, TimeUnit.SECONDS);
            assertThat(failure.get()).isNull();
            List<KvShard.Stats> stats = await(kv.stats());
            assertThat(stats.get(0).compactions()).as("the log switched halves more than once").isGreaterThanOrEqualTo(2);
            for (int k = 0; k < KEYS; k++) {
                byte[] v = await(kv.get("key" + k));
                check(v, k);
                assertThat(ByteBuffer.wrap(v).getInt(4)).as("key%d holds its last acknowledged version", k).isEqualTo(acked.get(k));
            }
        }
        try (KvStore kv = KvStore.open(o)) {
            for (int k = 0; k < KEYS; k++) {
                byte[] v = await(kv.get("key" + k));
                check(v, k);
                assertThat(ByteBuffer.wrap(v).getInt(4)).isEqualTo(rounds - 1);
            }
        }
    }

    @Test
    @Timeout(300)
    @DisplayName("a crash image taken during compaction recovers every acknowledged value (the switch checkpoint says where the log went)")
    void crashDuringCompactionRecovers(@TempDir Path dir) throws Exception {
        KvOptions o = KvOptions.defaults().withFile(dir.resolve("kv.img")).withSize(16L << 20).withMask("0x1").withMaxValue(4096);
        Path image = dir.resolve("crash.img");
        AtomicInteger copiedAt = new AtomicInteger(-1);
        int[] last = new int[KEYS];
        try (KvStore kv = KvStore.open(o)) {
            for (int r = 0; r < 12 && copiedAt.get() < 0; r++) {
                CompletableFuture<?>[] puts = new CompletableFuture<?>[KEYS];
                for (int k = 0; k < KEYS; k++) {
                    puts[k] = kv.put("key" + k, value(k, r)).toCompletableFuture();
                    last[k] = r;
                }
                CompletableFuture.allOf(puts).get(60, TimeUnit.SECONDS);
                if (await(kv.stats()).get(0).compacting()) {
                    KvCorruptionTest.copyFile(dir.resolve("kv.img"), image);
                    copiedAt.set(r);
                }
            }
        }
        assertThat(copiedAt.get()).as("a compaction was running after one of the rounds").isGreaterThanOrEqualTo(0);
        try (KvStore kv = KvStore.open(o.withFile(image))) {
            for (int k = 0; k < KEYS; k++) {
                byte[] v = await(kv.get("key" + k));
                check(v, k);
                assertThat(ByteBuffer.wrap(v).getInt(4)).isEqualTo(copiedAt.get());
            }
        }
    }
}
