package io.spindle.bdev;

/** Events delivered to a descriptor's handler, on the descriptor's reactor: SPDK's {@code spdk_bdev_event_type}. */
public enum BdevEvent {
    /** The bdev is being unregistered: close the descriptor (its unregister waits for that). */
    REMOVE,
    /** The block count changed. */
    RESIZE,
    /** Media management events are pending. */
    MEDIA_MANAGEMENT
}
