package io.spindle.bdev;

/**
 * Padding between a {@link Bdev}'s object header and its fields. The header holds the lock word that every
 * {@code synchronized (bdev)} writes (opens, closes, claims, the register and unregister steps, range locks), while
 * the fields every submit reads on every reactor (block size, block count, the accepted types, QoS) are read-only or
 * nearly so: 64 bytes of padding keep them off the header's cache line, so a lock taken on one reactor does not
 * evict them from the others. HotSpot lays a superclass's fields out first, and byte fields leave no hole for the
 * subclass's fields to fill (checked by {@code BdevLayoutTest}).
 */
abstract class BdevHeaderPadding {
    byte p000, p001, p002, p003, p004, p005, p006, p007;
    byte p008, p009, p010, p011, p012, p013, p014, p015;
    byte p016, p017, p018, p019, p020, p021, p022, p023;
    byte p024, p025, p026, p027, p028, p029, p030, p031;
    byte p032, p033, p034, p035, p036, p037, p038, p039;
    byte p040, p041, p042, p043, p044, p045, p046, p047;
    byte p048, p049, p050, p051, p052, p053, p054, p055;
    byte p056, p057, p058, p059, p060, p061, p062, p063;
}
