package io.spindle.transport.keyring;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;

/**
 * The challenge–response that proves a shared key (a {@code dhchap_key}) in both directions before any I/O queue
 * pair exists, NVMe DH-HMAC-CHAP's idea without its Diffie-Hellman part: each side sends a fresh 32-byte nonce,
 * the target answers with {@code HMAC-SHA-256(key, "T" | host nonce | target nonce | hostnqn | subnqn)}, the host
 * checks it and answers with {@code HMAC-SHA-256(key, "H" | target nonce | host nonce | hostnqn | subnqn)}. The
 * key itself never travels and is never logged. It authenticates the peers at connect; it does not encrypt or
 * sign the frames that follow. Stateless and thread-safe.
 */
public final class DhChap {
    private static final SecureRandom RANDOM = new SecureRandom();

    private DhChap() {
    }

    /** A fresh 32-byte nonce. */
    public static byte[] nonce() {
        byte[] n = new byte[32];
        RANDOM.nextBytes(n);
        return n;
    }

    /** The target's proof. */
    public static byte[] targetProof(byte[] key, byte[] hostNonce, byte[] targetNonce, String hostNqn, String subNqn) {
        return mac(key, "T", hostNonce, targetNonce, hostNqn, subNqn);
    }

    /** The host's proof. */
    public static byte[] hostProof(byte[] key, byte[] hostNonce, byte[] targetNonce, String hostNqn, String subNqn) {
        return mac(key, "H", targetNonce, hostNonce, hostNqn, subNqn);
    }

    /** Constant-time comparison. */
    public static boolean matches(byte[] expected, byte[] actual) {
        return MessageDigest.isEqual(expected, actual);
    }

    private static byte[] mac(byte[] key, String label, byte[] a, byte[] b, String hostNqn, String subNqn) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            m.update(label.getBytes(StandardCharsets.US_ASCII));
            m.update(a);
            m.update(b);
            m.update(hostNqn.getBytes(StandardCharsets.UTF_8));
            m.update((byte) 0);
            m.update(subNqn.getBytes(StandardCharsets.UTF_8));
            return m.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }
}
