package io.spindle.transport.initiator;

import io.spindle.app.Spindle;
import io.spindle.bdev.BdevException;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.spi.BdevHost;
import io.spindle.bdev.spi.BdevModule;
import io.spindle.runtime.Errno;
import io.spindle.transport.aeron.AeronTransport;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The {@code nvme} bdev module's Aeron side (SPDK's {@code bdev_nvme} with {@code trtype AERON}): attached
 * controllers by name. Nothing of Aeron starts until the first {@code bdev_nvme_attach_controller}; each controller
 * holds one reference on the app's {@link AeronTransport}. Its fini detaches every controller (their bdevs are gone
 * by then: the bdev subsystem unregisters every bdev first). Thread-safe.
 */
public final class NvmeBdevModule implements BdevModule {
    private final Map<String, NvmeController> controllers = new LinkedHashMap<>();

    /** ServiceLoader. */
    public NvmeBdevModule() {
    }

    @Override
    public String name() {
        return "nvme";
    }

    /**
     * Attaches a controller; completes with the names of its bdevs once they are registered, or fails with a
     * {@link BdevException} (EEXIST for a name in use, EIO naming why the connection failed).
     */
    public CompletableFuture<List<String>> attach(Spindle spindle, BdevLayer layer, NvmeController.Options o) {
        NvmeController c;
        synchronized (this) {
            if (controllers.containsKey(o.name())) {
                return CompletableFuture.failedFuture(new BdevException(Errno.EEXIST, "bdev_nvme_attach_controller name=" + o.name()
                        + ": a controller of this name exists (Spindle has one path per controller: multipath is not supported)"));
            }
            AeronTransport t;
            try {
                t = AeronTransport.acquire(spindle);
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(new BdevException(Errno.EIO, "bdev_nvme_attach_controller name=" + o.name() + ": " + e.getMessage()));
            }
            c = new NvmeController(this, layer, t, o);
            controllers.put(o.name(), c);
        }
        return c.attach();
    }

    /** Detaches a controller (its bdevs are hot-removed); ENODEV when there is none of that name. */
    public CompletableFuture<Void> detach(String name) {
        NvmeController c;
        synchronized (this) {
            c = controllers.get(name);
        }
        if (c == null) {
            return CompletableFuture.failedFuture(new BdevException(Errno.ENODEV, "name=" + name + ": no such controller"));
        }
        return c.detach();
    }

    /** The controllers (a snapshot). */
    public synchronized List<NvmeController> controllers() {
        return new ArrayList<>(controllers.values());
    }

    /** The controller of {@code name}, or null. */
    public synchronized NvmeController controller(String name) {
        return controllers.get(name);
    }

    synchronized void removed(NvmeController c) {
        controllers.remove(c.name(), c);
    }

    @Override
    public CompletionStage<Void> fini(BdevHost host) {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (NvmeController c : controllers()) {
            all.add(c.detach());
        }
        return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]));
    }
}
