package io.spindle.transport.keyring;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.app.Spindle;
import io.spindle.app.Subsystem;
import io.spindle.app.SubsystemContext;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * SPDK's {@code keyring} subsystem: the {@link Keyring} of one Spindle, filled by {@code keyring_file_add_key}.
 * Its {@code save_config} part is one {@code keyring_file_add_key} per key (the path, never the material).
 * Found through {@link java.util.ServiceLoader} by {@code spindle tgt} and bdevperf.
 */
public final class KeyringSubsystem implements Subsystem {
    private final Keyring keyring = new Keyring();

    /** A keyring subsystem (ServiceLoader). */
    public KeyringSubsystem() {
    }

    /** The keyring of {@code spindle}; IllegalArgumentException when it has no keyring subsystem. */
    public static Keyring of(Spindle spindle) {
        return spindle.subsystem(KeyringSubsystem.class).keyring;
    }

    /** The keyring. */
    public Keyring keyring() {
        return keyring;
    }

    @Override
    public String name() {
        return "keyring";
    }

    @Override
    public CompletionStage<Void> init(SubsystemContext context) {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> fini(SubsystemContext context) {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public List<ObjectNode> writeConfig() {
        List<ObjectNode> out = new ArrayList<>();
        for (Keyring.Key k : keyring.keys()) {
            ObjectNode e = JsonNodeFactory.instance.objectNode();
            e.put("method", "keyring_file_add_key");
            ObjectNode p = e.putObject("params");
            p.put("name", k.name());
            p.put("path", k.path().toString());
            out.add(e);
        }
        return out;
    }
}
