package io.spindle.bdev;

/**
 * Receives a descriptor's events on the descriptor's reactor (SPDK's {@code spdk_bdev_event_cb_t}). Required
 * at open. On {@link BdevEvent#REMOVE} close the descriptor (after draining your I/O): the bdev's unregister
 * waits for it. Events in flight when the descriptor closes are dropped.
 */
@FunctionalInterface
public interface BdevEventHandler {
    /** Handles {@code event} for {@code desc}'s bdev. */
    void onEvent(BdevEvent event, Bdev bdev, BdevDescriptor desc);
}
