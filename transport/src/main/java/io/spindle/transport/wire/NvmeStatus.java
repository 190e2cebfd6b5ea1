package io.spindle.transport.wire;

import io.spindle.bdev.io.IoStatus;

/**
 * Completion status codes, {@code SCT << 8 | SC} as NVMe's (generic command status SCT 0, media errors SCT 2),
 * and their mapping to and from the bdev layer's {@link IoStatus}.
 */
public final class NvmeStatus {
    private NvmeStatus() {
    }

    public static final int SUCCESS = 0x0000;
    public static final int INVALID_OPCODE = 0x0001;
    public static final int INVALID_FIELD = 0x0002;
    public static final int COMMAND_ID_CONFLICT = 0x0003;
    public static final int DATA_TRANSFER_ERROR = 0x0004;
    public static final int INTERNAL_DEVICE_ERROR = 0x0006;
    public static final int ABORTED_BY_REQUEST = 0x0007;
    public static final int ABORTED_SQ_DELETION = 0x0008;
    public static final int INVALID_NAMESPACE = 0x000B;
    public static final int COMMAND_SEQUENCE_ERROR = 0x000C;
    public static final int LBA_OUT_OF_RANGE = 0x0080;
    public static final int NAMESPACE_NOT_READY = 0x0082;
    public static final int COMPARE_FAILURE = 0x0285;

    // connect / auth statuses (fabrics command specific in NVMe-oF: SCT 1)
    public static final int CONNECT_INVALID_HOST = 0x0184;
    public static final int CONNECT_INVALID_PARAMETERS = 0x0182;
    public static final int AUTH_REQUIRED = 0x0191;
    public static final int AUTH_FAILED = 0x0192;

    /** The status a bdev completion is reported with. */
    public static int of(IoStatus s) {
        return switch (s) {
            case SUCCESS -> SUCCESS;
            case MISCOMPARE -> COMPARE_FAILURE;
            case ABORTED -> ABORTED_BY_REQUEST;
            default -> INTERNAL_DEVICE_ERROR;
        };
    }

    /** The bdev status a remote completion maps to. */
    public static IoStatus toIoStatus(int status) {
        return switch (status) {
            case SUCCESS -> IoStatus.SUCCESS;
            case COMPARE_FAILURE -> IoStatus.MISCOMPARE;
            case ABORTED_BY_REQUEST, ABORTED_SQ_DELETION -> IoStatus.ABORTED;
            default -> IoStatus.FAILED;
        };
    }

    /** A short name for logs. */
    public static String name(int status) {
        return switch (status) {
            case SUCCESS -> "SUCCESS";
            case INVALID_OPCODE -> "INVALID_OPCODE";
            case INVALID_FIELD -> "INVALID_FIELD";
            case COMMAND_ID_CONFLICT -> "COMMAND_ID_CONFLICT";
            case DATA_TRANSFER_ERROR -> "DATA_TRANSFER_ERROR";
            case INTERNAL_DEVICE_ERROR -> "INTERNAL_DEVICE_ERROR";
            case ABORTED_BY_REQUEST -> "ABORTED_BY_REQUEST";
            case ABORTED_SQ_DELETION -> "ABORTED_SQ_DELETION";
            case INVALID_NAMESPACE -> "INVALID_NAMESPACE";
            case COMMAND_SEQUENCE_ERROR -> "COMMAND_SEQUENCE_ERROR";
            case LBA_OUT_OF_RANGE -> "LBA_OUT_OF_RANGE";
            case NAMESPACE_NOT_READY -> "NAMESPACE_NOT_READY";
            case COMPARE_FAILURE -> "COMPARE_FAILURE";
            case CONNECT_INVALID_HOST -> "CONNECT_INVALID_HOST";
            case CONNECT_INVALID_PARAMETERS -> "CONNECT_INVALID_PARAMETERS";
            case AUTH_REQUIRED -> "AUTH_REQUIRED";
            case AUTH_FAILED -> "AUTH_FAILED";
            default -> String.format("0x%04x", status);
        };
    }
}
