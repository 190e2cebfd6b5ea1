package io.spindle.backends.error;

import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevRpc;
import io.spindle.bdev.io.IoType;
import io.spindle.rpc.RpcException;
import io.spindle.rpc.spi.RpcCall;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcMethodProvider;
import io.spindle.rpc.spi.RpcParams;
import io.spindle.runtime.Errno;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;

/**
 * The error module's JSON-RPC methods, as SPDK's {@code module/bdev/error/vbdev_error_rpc.c}:
 * <ul>
 *   <li>{@code bdev_error_create} {base_name*, uuid} → true; the bdev is {@code EE_<base_name>}; -17 for a second
 *       one of a base.</li>
 *   <li>{@code bdev_error_delete} {name*} (the {@code EE_} name) → true; -19 without it.</li>
 *   <li>{@code bdev_error_inject_error} {name*, io_type* (clear, read, write, unmap, flush, all), error_type* (failure,
 *       pending, corrupt_data, nomem, nvme_failure), num (default 1; 0 disables), queue_depth, nvme_sct, nvme_sc,
 *       corrupt_offset, corrupt_value} → true; -22 "nvme_sct or nvme_sc should be specified for NVMe error injection"
 *       when they do not go with the error type, -22 for corrupt_data with corrupt_value 0, -19 without the bdev.</li>
 *   <li>{@code bdev_error_resume_pending} {name*} → true once every parked I/O was submitted again; -19 without it.</li>
 * </ul>
 */
public final class ErrorRpc implements RpcMethodProvider {
    /** The provider, found by ServiceLoader. */
    public ErrorRpc() {
    }

    @Override
    public List<RpcMethod> methods() {
        return List.of(RpcMethod.runtime("bdev_error_create", ErrorRpc::create),
                RpcMethod.runtime("bdev_error_delete", ErrorRpc::delete),
                RpcMethod.runtime("bdev_error_inject_error", ErrorRpc::inject),
                RpcMethod.runtime("bdev_error_resume_pending", ErrorRpc::resume));
    }

    private static CompletionStage<?> create(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String base = p.string("base_name");
        UUID uuid = p.uuid("uuid");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(ErrorModule.class).create(l, base, uuid).thenApply(v -> Boolean.TRUE);
    }

    private static CompletionStage<?> delete(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(ErrorModule.class).delete(l, name).thenApply(BdevRpc::trueOrErrno);
    }

    private static CompletionStage<?> inject(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        String io = p.string("io_type");
        String et = p.string("error_type");
        long num = p.integer("num", 1, 0, 0xFFFFFFFFL);
        long qd = p.integer("queue_depth", 0, 0, Long.MAX_VALUE);
        long sct = p.integer("nvme_sct", 0, 0, 0xFFFFFFFFL);
        long sc = p.integer("nvme_sc", 0, 0, 0xFFFFFFFFL);
        long off = p.integer("corrupt_offset", 0, 0, Long.MAX_VALUE);
        long val = p.integer("corrupt_value", 0, 0, 255);
        p.end();
        IoType type;
        boolean clear = false;
        switch (io) {
            case "clear" -> {
                type = null;
                clear = true;
            }
            case "all" -> type = null;
            case "read" -> type = IoType.READ;
            case "write" -> type = IoType.WRITE;
            case "unmap" -> type = IoType.UNMAP;
            case "flush" -> type = IoType.FLUSH;
            default -> throw RpcException.invalidParams("io_type=\"" + io + "\": must be one of clear, read, write, unmap, flush, all");
        }
        ErrorModule.ErrorType errorType = null;
        for (ErrorModule.ErrorType t : ErrorModule.ErrorType.values()) {
            if (t != ErrorModule.ErrorType.NONE && t.rpcName().equals(et)) {
                errorType = t;
            }
        }
        if (errorType == null) {
            throw RpcException.invalidParams("error_type=\"" + et + "\": must be one of failure, pending, corrupt_data, nomem, nvme_failure");
        }
        boolean nvme = errorType == ErrorModule.ErrorType.NVME_FAILURE;
        if (nvme && sct == 0 && sc == 0 || !nvme && (sct != 0 || sc != 0)) {
            throw RpcException.errnoMessage(Errno.EINVAL, "nvme_sct or nvme_sc should be specified for NVMe error injection");
        }
        BdevLayer l = BdevRpc.layer(c);
        ErrorModule m = l.module(ErrorModule.class);
        if (clear) {
            return m.clearErrors(l, name).thenApply(BdevRpc::trueOrErrno);
        }
        return m.injectError(l, name, new ErrorModule.Injection(type, errorType, num, qd, off, (int) val)).thenApply(BdevRpc::trueOrErrno);
    }

    private static CompletionStage<?> resume(RpcCall c) throws RpcException {
        RpcParams p = c.params();
        String name = p.string("name");
        p.end();
        BdevLayer l = BdevRpc.layer(c);
        return l.module(ErrorModule.class).resumePending(l, name).thenApply(BdevRpc::trueOrErrno);
    }
}
