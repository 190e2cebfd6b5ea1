package io.spindle.examples;

import io.spindle.app.SpindleConfig;
import io.spindle.app.Subsystem;

import java.util.ServiceLoader;

/**
 * The subsystems beyond {@code bdev} that the launcher's programs ({@code spindle tgt}, bdevperf) start, found with
 * {@link ServiceLoader} ({@code META-INF/services/io.spindle.app.Subsystem}): with the transport module on the class
 * path, SPDK's {@code keyring} and {@code nvmf}. Their init starts nothing heavy: the Aeron transport starts only
 * when an {@code nvmf_create_transport} or {@code bdev_nvme_attach_controller} uses it.
 */
public final class Subsystems {
    private Subsystems() {
    }

    /** Adds every ServiceLoader-found subsystem to {@code b}; returns it. */
    public static SpindleConfig.Builder addPlugins(SpindleConfig.Builder b) {
        for (Subsystem s : ServiceLoader.load(Subsystem.class)) {
            b.subsystem(s);
        }
        return b;
    }
}
