package io.spindle.transport.keyring;

import io.spindle.runtime.Errno;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * SPDK's file keyring ({@code keyring_file_add_key}): named keys whose material stays in files. A key file must be
 * an absolute path that only its owner can read or write (mode 0600 or stricter: any group or other permission is
 * refused, as SPDK's {@code keyring_file} refuses it). The file is read when the key is used; its content is either
 * a DH-HMAC-CHAP secret in NVMe's representation ({@code DHHC-1:00:<base64 of key and CRC-32>:}) or any other text,
 * whose trimmed bytes are the key. Key material is never logged. Thread-safe.
 */
public final class Keyring {
    /** One key. */
    public record Key(String name, Path path) {
    }

    private final Map<String, Key> keys = new LinkedHashMap<>();

    /** A failure with SPDK's errno and a message naming the key and the rule. */
    public static final class KeyringException extends Exception {
        private static final long serialVersionUID = 1L;
        private final int errno;

        KeyringException(int errno, String message) {
            super(message, null, false, false);
            this.errno = errno;
        }

        /** Negative errno. */
        public int errno() {
            return errno;
        }
    }

    /** Adds a key; EEXIST for a name in use, EINVAL for a relative path, EPERM for a file others may access. */
    public synchronized void add(String name, Path path) throws KeyringException {
        if (keys.containsKey(name)) {
            throw new KeyringException(Errno.EEXIST, "key name=" + name + ": already exists");
        }
        if (!path.isAbsolute()) {
            throw new KeyringException(Errno.EINVAL, "key name=" + name + " path=" + path + ": non-absolute paths are not allowed");
        }
        checkFile(name, path);
        keys.put(name, new Key(name, path));
    }

    /** Removes a key; ENODEV when there is none. */
    public synchronized void remove(String name) throws KeyringException {
        if (keys.remove(name) == null) {
            throw new KeyringException(Errno.ENODEV, "key name=" + name + ": no such key");
        }
    }

    /** The keys, in insertion order. */
    public synchronized List<Key> keys() {
        return new ArrayList<>(keys.values());
    }

    /** Whether a key of this name exists. */
    public synchronized boolean has(String name) {
        return keys.containsKey(name);
    }

    /** Reads a key's material (checking the file's mode again); ENOKEY-like ENODEV when there is no such key. */
    public byte[] material(String name) throws KeyringException {
        Key k;
        synchronized (this) {
            k = keys.get(name);
        }
        if (k == null) {
            throw new KeyringException(Errno.ENODEV, "key name=" + name + ": no such key");
        }
        checkFile(name, k.path());
        try {
            String s = Files.readString(k.path(), StandardCharsets.UTF_8).trim();
            return decode(name, s);
        } catch (IOException e) {
            throw new KeyringException(Errno.EIO, "key name=" + name + " path=" + k.path() + ": cannot read: " + e.getMessage());
        }
    }

    static byte[] decode(String name, String s) throws KeyringException {
        if (s.isEmpty()) {
            throw new KeyringException(Errno.EINVAL, "key name=" + name + ": the key file is empty");
        }
        if (s.startsWith("DHHC-1:")) {
            String[] parts = s.split(":");
            if (parts.length < 3) {
                throw new KeyringException(Errno.EINVAL, "key name=" + name + ": malformed DHHC-1 secret (expected DHHC-1:xx:<base64>:)");
            }
            byte[] raw;
            try {
                raw = Base64.getDecoder().decode(parts[2]);
            } catch (IllegalArgumentException e) {
                throw new KeyringException(Errno.EINVAL, "key name=" + name + ": malformed DHHC-1 secret (base64)");
            }
            if (raw.length != 36 && raw.length != 52 && raw.length != 68) {
                throw new KeyringException(Errno.EINVAL, "key name=" + name + ": DHHC-1 secret length=" + raw.length + ": must be 32, 48 or 64 bytes plus a CRC-32");
            }
            byte[] key = new byte[raw.length - 4];
            System.arraycopy(raw, 0, key, 0, key.length);
            return key;
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void checkFile(String name, Path path) throws KeyringException {
        if (!Files.isRegularFile(path)) {
            throw new KeyringException(Errno.ENOENT, "key name=" + name + " path=" + path + ": no such file");
        }
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(path);
            for (PosixFilePermission p : perms) {
                switch (p) {
                    case OWNER_READ, OWNER_WRITE -> {
                    }
                    default -> throw new KeyringException(Errno.EPERM, "key name=" + name + " path=" + path + ": invalid permissions "
                            + java.nio.file.attribute.PosixFilePermissions.toString(perms) + " (the key file must be 0600 or stricter: no group or other access)");
                }
            }
        } catch (IOException | UnsupportedOperationException e) {
            throw new KeyringException(Errno.EIO, "key name=" + name + " path=" + path + ": cannot read its permissions: " + e.getMessage());
        }
    }
}
