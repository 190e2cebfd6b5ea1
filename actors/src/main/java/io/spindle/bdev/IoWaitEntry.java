package io.spindle.bdev;

/**
 * A waiter for a free I/O on one reactor: SPDK's {@code spdk_bdev_io_wait_entry}. After a submit returned
 * {@link io.spindle.runtime.Errno#ENOMEM}, queue it with {@link BdevDescriptor#queueIoWait}; its callback runs
 * on the same reactor when an I/O returns to that reactor's pool, and typically resubmits. Reuse the entry:
 * it is not retained after its callback ran.
 */
public final class IoWaitEntry {
    /** What to do when an I/O is available. */
    @FunctionalInterface
    public interface Callback {
        /** Called on the reactor where the entry was queued. */
        void onIoAvailable(Object arg);
    }

    final Callback callback;
    final Object arg;
    boolean queued;

    /** @param arg passed back to {@code callback} */
    public IoWaitEntry(Callback callback, Object arg) {
        this.callback = callback;
        this.arg = arg;
    }
}
