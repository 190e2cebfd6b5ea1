package io.spindle.examples.bdevperf;

import io.spindle.app.Spindle;
import io.spindle.examples.bdevperf.BdevPerfOptions.UsageException;

import java.nio.file.Path;

/** Loads bdevperf's {@code --json} config (SPDK's JSON config format) into a running Spindle. */
final class BdevPerfConfig {
    private BdevPerfConfig() {
    }

    static void apply(Spindle spindle, Path file) {
        throw new UsageException("--json " + file + ": JSON config loading arrives with the JSON-RPC issue");
    }
}
