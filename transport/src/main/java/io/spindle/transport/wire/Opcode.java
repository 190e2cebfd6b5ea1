package io.spindle.transport.wire;

import io.spindle.bdev.io.IoType;

/** Command opcodes, NVMe's NVM command set values where NVMe has one. */
public enum Opcode {
    FLUSH(0x00, IoType.FLUSH),
    WRITE(0x01, IoType.WRITE),
    READ(0x02, IoType.READ),
    COMPARE(0x05, IoType.COMPARE),
    WRITE_ZEROES(0x08, IoType.WRITE_ZEROES),
    /** Dataset management (deallocate): the bdev layer's unmap. */
    UNMAP(0x09, IoType.UNMAP),
    /** Abort the command whose CID is in the capsule's Abort CID (admin opcode 0x08 in NVMe). */
    ABORT(0x7E, IoType.ABORT),
    /** Keep-alive on an I/O queue (admin opcode 0x18 in NVMe); completed at once. */
    KEEP_ALIVE(0x7F, null);

    private static final Opcode[] BY_CODE = new Opcode[256];

    static {
        for (Opcode o : values()) {
            BY_CODE[o.code] = o;
        }
    }

    private final int code;
    private final IoType ioType;

    Opcode(int code, IoType ioType) {
        this.code = code;
        this.ioType = ioType;
    }

    /** The Opcode byte. */
    public int code() {
        return code;
    }

    /** The bdev I/O type it maps to, or null. */
    public IoType ioType() {
        return ioType;
    }

    /** Whether the host sends data with the command. */
    public boolean hostToTarget() {
        return this == WRITE || this == COMPARE;
    }

    /** Whether the target sends data back. */
    public boolean targetToHost() {
        return this == READ;
    }

    /** Whether the command carries an LBA range that must lie inside the namespace. */
    public boolean hasRange() {
        return this != ABORT && this != KEEP_ALIVE;
    }

    /** The opcode with {@code code}, or null. */
    public static Opcode of(int code) {
        return code >= 0 && code < 256 ? BY_CODE[code] : null;
    }

    /** The opcode for a bdev I/O type, or null when the protocol has none. */
    public static Opcode of(IoType t) {
        return switch (t) {
            case READ -> READ;
            case WRITE -> WRITE;
            case FLUSH -> FLUSH;
            case COMPARE -> COMPARE;
            case WRITE_ZEROES -> WRITE_ZEROES;
            case UNMAP -> UNMAP;
            case ABORT -> ABORT;
            default -> null;
        };
    }
}
