package io.spindle.examples.kv;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.ExecutionException;

import static io.spindle.examples.kv.KvStoreTest.await;
import static io.spindle.examples.kv.KvStoreTest.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Bad input gets an error naming the field and its bound; the store goes on serving. */
class KvBadInputTest {
    KvStore kv;

    @BeforeEach
    void open() throws Exception {
        kv = KvStore.open(KvOptions.defaults().withMalloc(true).withSize(16L << 20).withMask("0x1").withMaxValue(4096));
    }

    @AfterEach
    void close() {
        kv.close();
    }

    @Test
    @DisplayName("a key of 300 bytes fails with 'key length 300 > max 255'")
    void keyTooLong() {
        assertThatThrownBy(() -> await(kv.put("k".repeat(300), bytes("v")))).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(IllegalArgumentException.class).hasMessage("key length 300 > max 255");
        assertThatThrownBy(() -> await(kv.get("k".repeat(300)))).cause().hasMessage("key length 300 > max 255");
        assertThatThrownBy(() -> await(kv.delete("é".repeat(128)))).cause().hasMessage("key length 256 > max 255");
    }

    @Test
    @DisplayName("an empty key fails with 'key length 0 < min 1'")
    void emptyKey() {
        assertThatThrownBy(() -> await(kv.put("", bytes("v")))).cause().isInstanceOf(IllegalArgumentException.class)
                .hasMessage("key length 0 < min 1");
    }

    @Test
    @DisplayName("a value above the store's bound fails with 'value length 4097 > max 4096'; the bound itself is taken")
    void valueTooLarge() throws Exception {
        assertThatThrownBy(() -> await(kv.put("big", new byte[4097]))).cause().isInstanceOf(IllegalArgumentException.class)
                .hasMessage("value length 4097 > max 4096");
        await(kv.put("big", new byte[4096]));
        assertThat(await(kv.get("big"))).hasSize(4096);
    }

    @Test
    @DisplayName("a key of exactly 255 bytes is stored and read back")
    void keyAtTheBound() throws Exception {
        await(kv.put("x".repeat(255), bytes("edge")));
        assertThat(await(kv.get("x".repeat(255)))).isEqualTo(bytes("edge"));
    }

    @Test
    @DisplayName("options out of range name the option and its bound")
    void badOptions() {
        assertThatThrownBy(() -> KvOptions.defaults().withMaxValue(0)).hasMessage("max value length 0 out of 1..1048576");
        assertThatThrownBy(() -> KvOptions.defaults().withSize(1000)).hasMessageContaining("size=1000: must be >= 4194304");
    }

    @Test
    @DisplayName("an existing file that is not a kv store is refused, not overwritten")
    void foreignFileRefused(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path f = dir.resolve("other.img");
        byte[] data = new byte[16 << 20];
        java.util.Arrays.fill(data, (byte) 0x5A);
        java.nio.file.Files.write(f, data);
        assertThatThrownBy(() -> KvStore.open(KvOptions.defaults().withFile(f).withMask("0x1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("holds no kv superblock: not overwriting it");
        assertThat(java.nio.file.Files.readAllBytes(f)).isEqualTo(data);
    }

    @Test
    @DisplayName("requests after close fail with 'kv store closed' instead of hanging")
    void requestsAfterCloseFail() {
        kv.close();
        assertThatThrownBy(() -> await(kv.put("a", bytes("b")))).cause().hasMessage("kv store closed");
        assertThatThrownBy(() -> await(kv.get("a"))).cause().hasMessage("kv store closed");
    }
}
