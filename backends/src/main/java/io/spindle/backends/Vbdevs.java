package io.spindle.backends;

import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.runtime.Reactor;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * What the virtual bdev modules (passthru, split, delay, error, raid) share: running their configuration steps
 * on the app thread, and SPDK's name-based UUIDs.
 *
 * <p><b>The app thread.</b> SPDK's vbdev modules keep their configuration (name associations, config entries)
 * on the app thread and do every create, delete, examine and destruct there. Spindle's app thread for bdevs is
 * reactor 0: the bdev registry (which calls {@code examineDisk}) and every bdev actor (which calls
 * {@code destruct}) run on it. A module confines its state to it and reaches it from an RPC handler with
 * {@link #onApp}. Base descriptors are opened there too, so their events (REMOVE) arrive there.
 */
public final class Vbdevs {
    private Vbdevs() {
    }

    /** The app thread: reactor 0 of {@code layer}. */
    public static Reactor appThread(BdevLayer layer) {
        return layer.reactors().reactor(0);
    }

    /** Whether the caller runs on {@code layer}'s app thread. */
    public static boolean onAppThread(BdevLayer layer) {
        return appThread(layer).isCurrent();
    }

    /**
     * Runs {@code step} on the app thread (now, when already there; else as a message) and completes with its
     * stage. An exception thrown by {@code step} fails the stage. Any thread.
     */
    public static <T> CompletionStage<T> onApp(BdevLayer layer, Supplier<? extends CompletionStage<T>> step) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Runnable r = () -> {
            try {
                step.get().whenComplete((v, e) -> {
                    if (e != null) {
                        f.completeExceptionally(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
                    } else {
                        f.complete(v);
                    }
                });
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        };
        if (onAppThread(layer)) {
            r.run();
        } else {
            appThread(layer).send(r);
        }
        return f;
    }

    /** A stage failed with a {@link BdevException} of {@code errno} and {@code message}. */
    public static <T> CompletionStage<T> failed(int errno, String message) {
        return CompletableFuture.failedFuture(new BdevException(errno, message));
    }

    /**
     * SPDK's {@code spdk_uuid_generate_sha1(&out, &namespace, (char *)&base, sizeof(base))}: an RFC 4122 version 5
     * UUID, SHA-1 of the namespace's 16 bytes followed by the base UUID's 16 bytes (both in network order). Stable
     * across restarts: a vbdev created without a UUID gets the same one each time over the same base.
     */
    public static UUID sha1Uuid(UUID namespace, UUID base) {
        ByteBuffer name = ByteBuffer.allocate(16);
        name.putLong(base.getMostSignificantBits()).putLong(base.getLeastSignificantBits());
        return sha1Uuid(namespace, name.array());
    }

    /** An RFC 4122 version 5 UUID of {@code name} in {@code namespace} (libuuid's {@code uuid_generate_sha1}). */
    public static UUID sha1Uuid(UUID namespace, byte[] name) {
        MessageDigest sha1;
        try {
            sha1 = MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is required by every Java platform", e);
        }
        ByteBuffer in = ByteBuffer.allocate(16 + name.length);
        in.putLong(namespace.getMostSignificantBits()).putLong(namespace.getLeastSignificantBits());
        in.put(name);
        byte[] h = sha1.digest(in.array());
        h[6] = (byte) ((h[6] & 0x0f) | 0x50); // version 5
        h[8] = (byte) ((h[8] & 0x3f) | 0x80); // RFC 4122 variant
        ByteBuffer out = ByteBuffer.wrap(h, 0, 16);
        return new UUID(out.getLong(), out.getLong());
    }

    /** The errno of a failed stage's cause: a {@link BdevException}'s, else {@code fallback}. */
    public static int errnoOf(Throwable t, int fallback) {
        Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        return c instanceof BdevException b ? b.errno() : fallback;
    }
}
