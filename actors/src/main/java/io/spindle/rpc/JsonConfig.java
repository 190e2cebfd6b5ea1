package io.spindle.rpc;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.app.Spindle;
import io.spindle.app.Subsystem;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.rpc.spi.RpcMethod;
import io.spindle.rpc.spi.RpcState;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * SPDK's JSON config format, loaded at start ({@code --json FILE} of {@code spindle tgt} and bdevperf):
 * <pre>{@code
 * {"subsystems": [
 *   {"subsystem": "bdev", "config": [
 *     {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "block_size": 4096, "num_blocks": 65536}},
 *     {"method": "bdev_wait_for_examine"}]}]}
 * }</pre>
 * Each entry is a JSON-RPC call, made in-process through the {@link RpcDispatcher} with the same checks as a
 * request on the socket; what {@code save_config} writes loads back unchanged.
 *
 * <p><b>Order</b>, as SPDK's {@code json_config.c}: with Spindle in {@link RpcState#STARTUP} the entries
 * allowed there (e.g. {@code bdev_set_options}) run first, in file order; then {@code framework_start_init}
 * (unless the target waits for it, {@code --wait-for-rpc}); then the rest, in file order.
 *
 * <p><b>SPDK's configs load</b>, as {@code lib/init/json_config.c} loads them into an application that lacks
 * some subsystems: the entries of a subsystem this Spindle does not have ({@code iobuf}, {@code sock},
 * {@code accel}, {@code vmd}, {@code scheduler}, ...) are skipped, with one warning line naming the subsystem.
 * Inside a subsystem Spindle has, an unknown method is an error, except the option methods of SPDK modules that
 * Spindle does not have ({@link #SPDK_MODULE_OPTIONS}, e.g. {@code bdev_nvme_set_hotplug}): those are accepted
 * and do nothing (one info line), since they only tune a module that is not there; a module that Spindle does
 * have registers the method, and then it is called. A batch array (what {@code save_config --with-batches}
 * writes) is carried out as SPDK's loader sends it, one JSON-RPC batch whose requests run in order; it runs in
 * the start-up phase when every method of it is allowed there, else at run time.
 *
 * <p><b>All or nothing.</b> The whole file is checked before anything runs: valid JSON, the structure, every
 * method of a subsystem Spindle has known. When an entry then fails, every bdev created by the entries before it
 * is unregistered again, newest first, and the error says so. Every error is one line: the file, the entry
 * ({@code subsystems[bdev].config[3]}, {@code subsystems[bdev].config[3][1]} inside a batch), the method and the
 * failing field with its bound.
 *
 * <p>Threads: {@link #apply} blocks the calling thread (a {@code main} thread); never call it on a reactor or
 * a Pekko dispatcher. One instance is applied once.
 */
public final class JsonConfig {
    /** A config file that cannot be loaded; the message is the one line to print. */
    public static final class JsonConfigException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        JsonConfigException(String message) {
            super(message, null, false, false);
        }
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(JsonConfig.class);

    /**
     * Option methods that SPDK's {@code save_config} writes for modules Spindle may not have (the bdev modules
     * nvme, raid and iscsi write theirs even with no bdev of theirs). In a config they are accepted as a no-op
     * when no provider has registered the method; when one has, the method is called.
     */
    public static final Set<String> SPDK_MODULE_OPTIONS = Set.of("bdev_nvme_set_options", "bdev_nvme_set_hotplug",
            "bdev_raid_set_options", "bdev_iscsi_set_options", "bdev_aio_set_options");

    /**
     * One entry: {@code where} names it in errors ({@code file: subsystems[bdev].config[3]}); {@code batch} groups
     * the requests of one batch array (-1 for a single entry), which share their phase.
     */
    private record Entry(String where, String subsystem, String method, JsonNode params, int batch) {
    }

    /** What {@link #check} decided for an entry. */
    private enum Disposition {
        CALL, SKIP_SUBSYSTEM, NO_OP
    }

    private final String source;
    private final List<Entry> entries;
    private final boolean[] done;
    private final Disposition[] disposition;
    private final CompletableFuture<Void> applied = new CompletableFuture<>();

    private JsonConfig(String source, List<Entry> entries) {
        this.source = source;
        this.entries = entries;
        this.done = new boolean[entries.size()];
        this.disposition = new Disposition[entries.size()];
    }

    /**
     * Reads and parses {@code file} (structure only; methods are checked against a Spindle in {@link #apply}).
     *
     * @throws JsonConfigException naming the file and what is wrong
     */
    public static JsonConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new JsonConfigException(file + ": cannot read: " + e.getMessage());
        }
        return parse(text, file.toString());
    }

    /**
     * Parses config text; {@code source} names it in errors.
     *
     * @throws JsonConfigException naming the source and what is wrong
     */
    public static JsonConfig parse(String text, String source) {
        JsonNode root;
        try {
            root = RpcDispatcher.JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new JsonConfigException(source + ": not valid JSON at line " + e.getLocation().getLineNr() + " column "
                    + e.getLocation().getColumnNr() + ": " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject() || !root.path("subsystems").isArray()) {
            throw new JsonConfigException(source + ": expected an object with a \"subsystems\" array");
        }
        List<Entry> out = new ArrayList<>();
        int s = 0;
        int nextBatch = 0;
        for (JsonNode sub : root.get("subsystems")) {
            if (!sub.isObject() || !sub.path("subsystem").isTextual()) {
                throw new JsonConfigException(source + ": subsystems[" + s + "]: field \"subsystem\" is required (a string)");
            }
            String name = sub.get("subsystem").asText();
            JsonNode config = sub.get("config");
            if (config != null && !config.isNull() && !config.isArray()) {
                throw new JsonConfigException(source + ": subsystems[" + name + "]: field \"config\" must be an array");
            }
            int i = 0;
            for (JsonNode e : config == null || config.isNull() ? RpcDispatcher.JSON.createArrayNode() : config) {
                String where = source + ": subsystems[" + name + "].config[" + i++ + "]";
                if (e.isArray()) {
                    int batch = nextBatch++;
                    int j = 0;
                    for (JsonNode be : e) {
                        out.add(entry(where + "[" + j++ + "]", name, be, batch));
                    }
                    continue; // an empty batch array is nothing to send, as SPDK's loader skips it
                }
                out.add(entry(where, name, e, -1));
            }
            s++;
        }
        return new JsonConfig(source, List.copyOf(out));
    }

    private static Entry entry(String where, String subsystem, JsonNode e, int batch) {
        if (!e.isObject() || !e.path("method").isTextual()) {
            throw new JsonConfigException(where + ": field \"method\" is required (a string)");
        }
        String method = e.get("method").asText();
        JsonNode params = e.get("params");
        if (params != null && !params.isNull() && !params.isObject()) {
            throw new JsonConfigException(where + " method " + method + ": field \"params\" must be an object");
        }
        return new Entry(where, subsystem, method, params == null || params.isNull() ? null : params, batch);
    }

    /** The number of entries (the requests of batch arrays counted one by one). */
    public int size() {
        return entries.size();
    }

    /**
     * Applies the config to {@code spindle}, as the class describes.
     *
     * @param startInit in {@link RpcState#STARTUP}: whether to call {@code framework_start_init} after the
     *                  startup entries (false with {@code --wait-for-rpc}: the runtime entries then run once the
     *                  subsystems are initialised, on a thread of their own; their failure stops Spindle)
     * @throws JsonConfigException naming the entry, the method and the field; what the entries before it
     *                             created has been removed again
     * @throws io.spindle.runtime.BlockingCallOnReactorException on a reactor thread: it waits for each entry's
     *                             result, which reactors produce
     */
    public void apply(Spindle spindle, boolean startInit) {
        io.spindle.runtime.Reactor.refuseBlockingCall("JsonConfig.apply"); // before the lock: never hold it on a reactor
        try {
            applyLocked(spindle, startInit);
        } catch (RuntimeException e) {
            applied.completeExceptionally(e);
            throw e;
        }
    }

    /**
     * Completes when every entry has run: when {@link #apply} returns, or, when it left the runtime entries for
     * after {@code framework_start_init} ({@code startInit} false), once those have run. Fails with the
     * {@link JsonConfigException} that stopped it, or when the subsystems' init failed. What an application does
     * once its configuration exists (a cluster member joins) hangs off this. Completes on the applying thread.
     */
    public CompletionStage<Void> whenApplied() {
        return applied.minimalCompletionStage();
    }

    private synchronized void applyLocked(Spindle spindle, boolean startInit) {
        RpcDispatcher d = RpcDispatcher.create(spindle);
        check(spindle, d);
        Set<Bdev> before = bdevsNow(spindle);
        if (spindle.rpcState() == RpcState.STARTUP) {
            run(spindle, d, before, true);
            if (!startInit) {
                Thread t = new Thread(() -> {
                    try {
                        spindle.whenInitialized().toCompletableFuture().join();
                    } catch (RuntimeException e) {
                        applied.completeExceptionally(e);
                        return; // the init failed: nothing to configure
                    }
                    try {
                        run(spindle, d, bdevsNow(spindle), false);
                        applied.complete(null);
                    } catch (JsonConfigException e) {
                        applied.completeExceptionally(e);
                        RpcServer.LOG.error("--json {}; stopping", e.getMessage());
                        spindle.stop();
                    } catch (RuntimeException e) {
                        applied.completeExceptionally(e);
                        throw e;
                    }
                }, "spindle-json-config");
                t.setDaemon(true);
                t.start();
                return;
            }
            try {
                spindle.startInit().toCompletableFuture().get(spindle.config().startTimeout().toMillis() + 5000, TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                throw new JsonConfigException(source + ": framework_start_init failed: " + cause(e).getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new JsonConfigException(source + ": interrupted during framework_start_init");
            } catch (TimeoutException e) {
                throw new JsonConfigException(source + ": framework_start_init did not complete in time");
            }
        }
        run(spindle, d, before, false);
        applied.complete(null);
    }

    /**
     * Decides every entry before anything runs: entries of subsystems this Spindle lacks are skipped (one warning
     * per subsystem), SPDK module options without a provider are no-ops, and any other unknown method is an error.
     */
    private void check(Spindle spindle, RpcDispatcher d) {
        List<String> names = new ArrayList<>();
        for (Subsystem s : spindle.config().subsystems()) {
            names.add(s.name());
        }
        java.util.Map<String, Integer> skipped = new java.util.LinkedHashMap<>();
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            if (!names.contains(e.subsystem())) {
                disposition[i] = Disposition.SKIP_SUBSYSTEM;
                skipped.merge(e.subsystem(), 1, Integer::sum);
            } else if (d.method(e.method()) != null) {
                disposition[i] = Disposition.CALL;
            } else if (SPDK_MODULE_OPTIONS.contains(e.method())) {
                disposition[i] = Disposition.NO_OP;
            } else {
                throw new JsonConfigException(e.where() + " method " + e.method() + ": method not found in subsystem " + e.subsystem()
                        + " (Spindle has no such method; rpc_get_methods lists them)");
            }
        }
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            if (e.batch() >= 0 && batchStates(d, e.batch()).isEmpty()) {
                throw new JsonConfigException(e.where() + " method " + e.method() + ": the batch mixes methods allowed only before "
                        + "framework_start_init (STARTUP) with methods allowed only after it (RUNTIME); no state runs them all");
            }
        }
        skipped.forEach((sub, n) -> LOG.warn("{}: subsystem {} is not part of this Spindle (have {}); its {} entr{} skipped",
                source, sub, String.join(", ", names), n, n == 1 ? "y is" : "ies are"));
    }

    /** Whether entry {@code i} runs in the start-up phase: its method (every method of its batch) allows STARTUP. */
    private boolean startupEntry(RpcDispatcher d, int i) {
        Entry e = entries.get(i);
        return e.batch() < 0 ? states(d, i).contains(RpcState.STARTUP) : batchStates(d, e.batch()).contains(RpcState.STARTUP);
    }

    /** The states entry {@code i} may run in; skipped and no-op entries run in any. */
    private java.util.EnumSet<RpcState> states(RpcDispatcher d, int i) {
        if (disposition[i] != Disposition.CALL) {
            return java.util.EnumSet.allOf(RpcState.class);
        }
        return java.util.EnumSet.copyOf(d.method(entries.get(i).method()).states());
    }

    /** The states every request of batch {@code batch} may run in (SPDK's loader intersects them). */
    private java.util.EnumSet<RpcState> batchStates(RpcDispatcher d, int batch) {
        java.util.EnumSet<RpcState> all = java.util.EnumSet.allOf(RpcState.class);
        for (int j = 0; j < entries.size(); j++) {
            if (entries.get(j).batch() == batch) {
                all.retainAll(states(d, j));
            }
        }
        return all;
    }

    /**
     * Runs the entries of one phase: in the startup phase those allowed in STARTUP, else every entry not run yet
     * (a STARTUP-only method reached in RUNTIME then fails with SPDK's INVALID_STATE message).
     */
    private void run(Spindle spindle, RpcDispatcher d, Set<Bdev> before, boolean startupPhase) {
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            if (done[i] || (startupPhase && !startupEntry(d, i))) {
                continue;
            }
            done[i] = true;
            if (disposition[i] == Disposition.SKIP_SUBSYSTEM) {
                continue;
            }
            if (disposition[i] == Disposition.NO_OP) {
                LOG.info("{} method {}: accepted, no effect (SPDK module option; Spindle has no such module)", e.where(), e.method());
                continue;
            }
            List<Runnable> after = new ArrayList<>();
            try {
                d.call(e.method(), e.params(), after).toCompletableFuture().get(spindle.config().startTimeout().toMillis(),
                        TimeUnit.MILLISECONDS);
            } catch (ExecutionException ex) {
                Throwable c = cause(ex);
                String msg = c instanceof RpcException r ? r.getMessage() + (r.detail() != null ? ": " + r.detail() : "") + " (code " + r.code() + ")" : c.toString();
                int removed = rollback(spindle, before);
                throw new JsonConfigException(e.where() + " method " + e.method() + ": " + msg
                        + (removed == 0 ? "" : " (the " + removed + " bdev(s) created before it were removed)"));
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                rollback(spindle, before);
                throw new JsonConfigException(e.where() + " method " + e.method() + ": interrupted");
            } catch (TimeoutException ex) {
                int removed = rollback(spindle, before);
                throw new JsonConfigException(e.where() + " method " + e.method() + ": did not complete within "
                        + spindle.config().startTimeout() + (removed == 0 ? "" : " (the " + removed + " bdev(s) created before it were removed)"));
            }
            for (Runnable r : after) {
                r.run();
            }
        }
    }

    private static Set<Bdev> bdevsNow(Spindle spindle) {
        Set<Bdev> s = Collections.newSetFromMap(new IdentityHashMap<>());
        try {
            s.addAll(BdevLayer.of(spindle).bdevs());
        } catch (IllegalArgumentException | IllegalStateException e) {
            // no bdev layer (yet): nothing existed
        }
        return s;
    }

    /** Unregisters, newest first, the bdevs that appeared since {@code before}; returns how many. */
    private static int rollback(Spindle spindle, Set<Bdev> before) {
        BdevLayer l;
        try {
            l = BdevLayer.of(spindle);
        } catch (IllegalArgumentException | IllegalStateException e) {
            return 0;
        }
        List<Bdev> now = new ArrayList<>(l.bdevs());
        int n = 0;
        for (int i = now.size() - 1; i >= 0; i--) {
            Bdev b = now.get(i);
            if (before.contains(b)) {
                continue;
            }
            try {
                l.unregister(b.name()).toCompletableFuture().get(30, TimeUnit.SECONDS);
                n++;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return n;
            } catch (ExecutionException | TimeoutException e) {
                RpcServer.LOG.warn("json config rollback: unregister of {} failed: {}", b.name(), e.toString());
            }
        }
        return n;
    }

    private static Throwable cause(Throwable t) {
        while ((t instanceof ExecutionException || t instanceof java.util.concurrent.CompletionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
