package io.spindle.transport;

import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.io.IoStatus;
import io.spindle.runtime.IoChannel;
import io.spindle.runtime.Reactor;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs one I/O on a reactor through a fresh descriptor and channel and returns its status (or the submit errno as FAILED). */
final class OneIo {
    @FunctionalInterface
    interface Submit {
        int submit(BdevDescriptor d, IoChannel<BdevChannel> ch, IoCallback cb);
    }

    private OneIo() {
    }

    static IoStatus run(BdevLayer layer, Reactor r, String bdev, Submit s) throws Exception {
        CompletableFuture<IoStatus> f = new CompletableFuture<>();
        r.send(() -> {
            BdevDescriptor d = layer.open(bdev, true, (ev, b, desc) -> { });
            IoChannel<BdevChannel> ch = d.getIoChannel();
            int[] calls = new int[1];
            int rc = s.submit(d, ch, (io, st, arg) -> {
                calls[0]++;
                ch.put();
                d.close();
                if (calls[0] == 1) {
                    f.complete(st);
                } else {
                    f.completeExceptionally(new AssertionError("completed twice"));
                }
            });
            if (rc != 0) {
                ch.put();
                d.close();
                f.completeExceptionally(new AssertionError("submit rc=" + rc));
            }
        });
        return f.get(30, TimeUnit.SECONDS);
    }
}
