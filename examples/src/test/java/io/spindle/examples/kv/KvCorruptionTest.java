package io.spindle.examples.kv;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

import static io.spindle.examples.kv.KvStoreTest.await;
import static io.spindle.examples.kv.KvStoreTest.bytes;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A corrupt log record (bytes flipped in the file) is skipped by recovery with one warning, never a crash: the
 * records after it are recovered when their CRC32C is right; a corrupt last record is dropped as a torn write.
 */
class KvCorruptionTest {
    static final int N = 40;

    /** Copies a file byte for byte (the page cache holds every completed write of the mapped bdev). */
    static void copyFile(Path from, Path to) throws IOException {
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The device offset of the record holding {@code key}: its key bytes follow the 32-byte header. */
    static long recordOffset(Path image, String key) throws IOException {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (long base = KvGeometry.SUPER_AREA; base < ch.size(); base += 1 << 20) {
                b.clear();
                ch.read(b, base);
                for (int off = 0; off + KvFormat.HEADER + k.length <= b.position(); off += KvOptions.BLOCK_SIZE) {
                    if (b.getInt(off) == KvFormat.RECORD_MAGIC && b.getInt(off + 16) == k.length
                            && java.util.Arrays.equals(b.array(), off + 32, off + 32 + k.length, k, 0, k.length)) {
                        return base + off;
                    }
                }
            }
        }
        throw new AssertionError("no record of " + key);
    }

    static void flip(Path image, long at) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0xFF);
        }
    }

    /** A one-shard store with N keys, each put in its own write, and no checkpoint after them: the crash image. */
    static Path crashImage(Path dir) throws Exception {
        Path image = dir.resolve("crash.img");
        KvOptions o = KvOptions.defaults().withFile(dir.resolve("kv.img")).withSize(16L << 20).withMask("0x1");
        try (KvStore kv = KvStore.open(o)) {
            for (int i = 0; i < N; i++) {
                await(kv.put(String.format("rec-%03d", i), bytes("value-" + i)));
            }
            copyFile(dir.resolve("kv.img"), image);
        }
        return image;
    }

    static KvOptions reopen(Path image) {
        return KvOptions.defaults().withFile(image).withSize(16L << 20).withMask("0x1");
    }

    @Test
    @Timeout(120)
    @DisplayName("a corrupt record in the middle of the log is skipped; every record after it with a right CRC is recovered")
    void corruptMiddleRecordIsSkippedAndLaterRecordsRecovered(@TempDir Path dir) throws Exception {
        Path image = crashImage(dir);
        long at = recordOffset(image, "rec-015");
        flip(image, at + KvFormat.HEADER + 10); // a byte of its value: the CRC no longer matches
        ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(KvRecovery.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = new ch.qos.logback.core.read.ListAppender<>();
        lines.start();
        log.addAppender(lines);
        try (KvStore kv = KvStore.open(reopen(image))) {
            assertThat(lines.list).as("one log line for the skipped record").hasSize(1);
            assertThat(lines.list.get(0).getLevel()).isEqualTo(ch.qos.logback.classic.Level.WARN);
            assertThat(lines.list.get(0).getFormattedMessage())
                    .isEqualTo("kv shard 0: skipped 512 bytes of corrupt log at offset " + at + "; the records after them are recovered");
            for (int i = 0; i < N; i++) {
                byte[] v = await(kv.get(String.format("rec-%03d", i)));
                assertThat(v).as("rec-%03d", i).isEqualTo(i == 15 ? null : bytes("value-" + i));
            }
            KvRecovery.Report r = kv.recoveryReports().get(0);
            assertThat(r.skippedBytes()).isEqualTo(KvOptions.BLOCK_SIZE);
            assertThat(r.replayed()).isEqualTo(N - 1);
            // the store goes on: new writes land after the recovered log and survive a restart
            await(kv.put("rec-015", bytes("again")));
        }
        log.detachAppender(lines);
        try (KvStore kv = KvStore.open(reopen(image))) {
            assertThat(await(kv.get("rec-015"))).isEqualTo(bytes("again"));
            assertThat(await(kv.get("rec-039"))).isEqualTo(bytes("value-39"));
        }
    }

    @Test
    @Timeout(120)
    @DisplayName("a corrupt header (magic flipped) is skipped the same way")
    void corruptMagicIsSkipped(@TempDir Path dir) throws Exception {
        Path image = crashImage(dir);
        flip(image, recordOffset(image, "rec-020"));
        try (KvStore kv = KvStore.open(reopen(image))) {
            assertThat(await(kv.get("rec-020"))).isNull();
            assertThat(await(kv.get("rec-021"))).isEqualTo(bytes("value-21"));
            assertThat(await(kv.scan("rec-"))).hasSize(N - 1);
        }
    }

    @Test
    @Timeout(120)
    @DisplayName("a corrupt last record is dropped as a torn write; the log ends before it")
    void corruptLastRecordIsDroppedAsTorn(@TempDir Path dir) throws Exception {
        Path image = crashImage(dir);
        flip(image, recordOffset(image, "rec-039") + KvFormat.HEADER + 3);
        try (KvStore kv = KvStore.open(reopen(image))) {
            assertThat(await(kv.get("rec-039"))).isNull();
            assertThat(await(kv.get("rec-038"))).isEqualTo(bytes("value-38"));
            assertThat(kv.recoveryReports().get(0).tornTail()).isTrue();
            assertThat(kv.recoveryReports().get(0).skippedBytes()).isZero();
        }
    }

    @Test
    @Timeout(120)
    @DisplayName("a corrupt checkpoint is passed over: recovery uses the other slot or the whole log")
    void corruptCheckpointFallsBack(@TempDir Path dir) throws Exception {
        KvOptions o = KvOptions.defaults().withFile(dir.resolve("kv.img")).withSize(16L << 20).withMask("0x1");
        try (KvStore kv = KvStore.open(o)) {
            for (int i = 0; i < N; i++) {
                await(kv.put(String.format("rec-%03d", i), bytes("value-" + i)));
            }
        } // the stop wrote checkpoint generation 1, in slot 1
        KvStore first = KvStore.open(o);
        KvGeometry g = first.geometry();
        long gen = first.recoveryReports().get(0).checkpointGeneration();
        assertThat(gen).isEqualTo(1);
        first.close(); // its stop wrote generation 2, in slot 0
        first.close(); // a second close is a no-op
        flip(dir.resolve("kv.img"), g.slot(0, 0) + KvFormat.CHECKPOINT_HEADER + 5);
        try (KvStore kv = KvStore.open(o)) {
            assertThat(kv.recoveryReports().get(0).checkpointGeneration()).as("the corrupt slot (generation 2) was passed over").isEqualTo(1);
            for (int i = 0; i < N; i++) {
                assertThat(await(kv.get(String.format("rec-%03d", i)))).isEqualTo(bytes("value-" + i));
            }
        }
    }
}
