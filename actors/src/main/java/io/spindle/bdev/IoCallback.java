package io.spindle.bdev;

import io.spindle.bdev.io.IoStatus;

/**
 * Completion of an accepted I/O, called exactly once on the reactor that submitted it. The {@link BdevIo}
 * goes back to its reactor's pool when this returns: copy out what you need, do not keep it. Pass per-I/O
 * state in {@code arg} and reuse one callback object, so submitting allocates nothing.
 */
@FunctionalInterface
public interface IoCallback {
    /** The I/O finished with {@code status}. */
    void onComplete(BdevIo io, IoStatus status, Object arg);
}
