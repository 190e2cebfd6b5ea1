package io.spindle.examples.bdevperf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.app.Spindle;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.nullbdev.NullModule;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.examples.bdevperf.BdevPerfOptions.UsageException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * bdevperf's {@code -c/--json FILE}: SPDK's JSON config format,
 * {@code {"subsystems":[{"subsystem":"bdev","config":[{"method":"bdev_malloc_create","params":{...}}]}]}}, for
 * the methods bdevperf needs to create its targets: {@code bdev_malloc_create} and {@code bdev_null_create}.
 * {@code bdev_set_options} and {@code bdev_wait_for_examine} (which SPDK's {@code save_config} writes) are
 * accepted and have nothing to do; subsystems other than {@code bdev} are accepted only when their config is
 * empty.
 *
 * <p>All or nothing: the whole file is parsed and checked first; an entry that fails to apply tears down the
 * bdevs created before it. Every error is one line naming the file, the entry's index, the method and the
 * field.
 *
 * <p>Threads: called on bdevperf's main thread once Spindle runs; blocks until the bdevs are registered.
 */
final class BdevPerfConfig {
    private static final ObjectMapper JSON = new ObjectMapper();

    private BdevPerfConfig() {
    }

    /** One {@code bdev_*_create} entry, checked. */
    private record Entry(int index, String method, String name, int blockSize, long numBlocks, UUID uuid) {
    }

    static void apply(Spindle spindle, Path file) {
        List<Entry> entries = parse(file);
        BdevLayer layer = BdevLayer.of(spindle);
        List<String> created = new ArrayList<>();
        for (Entry e : entries) {
            if (e.name() == null) {
                continue;
            }
            try {
                Bdev b = (switch (e.method()) {
                    case "bdev_malloc_create" -> layer.module(MallocModule.class).create(layer,
                            new MallocModule.Options(e.name(), e.numBlocks(), e.blockSize(), e.uuid(), 0));
                    case "bdev_null_create" -> layer.module(NullModule.class).create(layer,
                            new NullModule.Options(e.name(), e.numBlocks(), e.blockSize(), e.uuid(), false));
                    default -> throw new IllegalStateException(e.method());
                }).toCompletableFuture().get(30, TimeUnit.SECONDS);
                created.add(b.name());
            } catch (Exception ex) {
                Throwable c = ex instanceof ExecutionException && ex.getCause() != null ? ex.getCause() : ex;
                for (int i = created.size() - 1; i >= 0; i--) {
                    try {
                        layer.unregister(created.get(i)).toCompletableFuture().get(30, TimeUnit.SECONDS);
                    } catch (Exception ignored) {
                        // best effort: the stop that follows unregisters whatever is left
                    }
                }
                throw new UsageException(where(file, e.index(), e.method()) + ": " + c.getMessage()
                        + (created.isEmpty() ? "" : " (the " + created.size() + " bdev(s) created before it were removed)"));
            }
        }
    }

    private static String where(Path file, int index, String method) {
        return "--json " + file + ": subsystems[bdev].config[" + index + "]" + (method != null ? " method " + method : "");
    }

    private static List<Entry> parse(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (JsonProcessingException e) {
            throw new UsageException("--json " + file + ": not valid JSON at line " + e.getLocation().getLineNr() + " column "
                    + e.getLocation().getColumnNr() + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UsageException("--json " + file + ": cannot read: " + e.getMessage());
        }
        if (root == null || !root.isObject() || !root.path("subsystems").isArray()) {
            throw new UsageException("--json " + file + ": expected an object with a \"subsystems\" array");
        }
        List<Entry> out = new ArrayList<>();
        int s = 0;
        for (JsonNode sub : root.get("subsystems")) {
            String name = sub.path("subsystem").asText(null);
            if (name == null) {
                throw new UsageException("--json " + file + ": subsystems[" + s + "]: field \"subsystem\" is required (a string)");
            }
            JsonNode config = sub.get("config");
            if (!"bdev".equals(name)) {
                if (config != null && !config.isNull() && !(config.isArray() && config.isEmpty())) {
                    throw new UsageException("--json " + file + ": subsystems[" + s + "] subsystem " + name
                            + ": not supported by bdevperf (only \"bdev\" may have a config)");
                }
                s++;
                continue;
            }
            if (config != null && !config.isNull() && !config.isArray()) {
                throw new UsageException("--json " + file + ": subsystems[" + s + "] subsystem bdev: field \"config\" must be an array");
            }
            int i = 0;
            for (JsonNode entry : config == null ? JSON.createArrayNode() : config) {
                out.add(entry(file, i++, entry));
            }
            s++;
        }
        return out;
    }

    private static Entry entry(Path file, int i, JsonNode e) {
        String method = e.path("method").isTextual() ? e.get("method").asText() : null;
        if (method == null) {
            throw new UsageException(where(file, i, null) + ": field \"method\" is required (a string)");
        }
        switch (method) {
            case "bdev_malloc_create", "bdev_null_create" -> {
            }
            case "bdev_set_options", "bdev_wait_for_examine" -> {
                return new Entry(i, method, null, 0, 0, null); // SPDK writes these in save_config; nothing to do here
            }
            default -> throw new UsageException(where(file, i, method) + ": method not supported by bdevperf's loader "
                    + "(supported: bdev_malloc_create, bdev_null_create)");
        }
        JsonNode p = e.get("params");
        if (p == null || !p.isObject()) {
            throw new UsageException(where(file, i, method) + ": field \"params\" is required (an object)");
        }
        String name = p.path("name").isTextual() ? p.get("name").asText() : null;
        if (name == null && method.equals("bdev_null_create")) {
            throw new UsageException(where(file, i, method) + ": params.name is required (a string)");
        }
        if (name == null) {
            name = "Malloc" + i;
        }
        if (!p.path("block_size").canConvertToInt() || !p.path("block_size").isIntegralNumber()) {
            throw new UsageException(where(file, i, method) + ": params.block_size is required (an integer, a power of two >= 512)");
        }
        int bs = p.get("block_size").asInt();
        if (bs < 512 || Integer.bitCount(bs) != 1) {
            throw new UsageException(where(file, i, method) + ": params.block_size " + bs + ": must be a power of two >= 512");
        }
        if (!p.path("num_blocks").isIntegralNumber() || p.get("num_blocks").asLong() <= 0) {
            throw new UsageException(where(file, i, method) + ": params.num_blocks is required (an integer > 0)");
        }
        UUID uuid = null;
        if (p.hasNonNull("uuid")) {
            try {
                uuid = UUID.fromString(p.get("uuid").asText());
            } catch (IllegalArgumentException ex) {
                throw new UsageException(where(file, i, method) + ": params.uuid " + p.get("uuid") + ": not a UUID");
            }
        }
        return new Entry(i, method, name, bs, p.get("num_blocks").asLong(), uuid);
    }
}
