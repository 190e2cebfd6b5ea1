package io.spindle.examples.kv;

import io.spindle.app.Spindle;
import io.spindle.app.SpindleApp;
import io.spindle.app.SpindleConfig;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.backends.mapped.MappedModule;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevLayer;
import io.spindle.bdev.BdevSubsystem;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.actor.BdevFacade;
import io.spindle.runtime.Reactor;
import io.spindle.runtime.ReactorConfig;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * A durable key-value store: an ordinary Pekko typed app that embeds Spindle with one behavior spawn
 * ({@link Spindle#create}), partitions keys over shard actors (one per reactor, {@link KvShard}) and keeps values in
 * a log on a bdev, written through the {@link BdevFacade} callback API. The narrated tour is {@code README.md} next
 * to this file.
 *
 * <pre>{@code
 * try (KvStore kv = KvStore.open(KvOptions.defaults())) {     // ./kv-data/kv.img, a mapped bdev
 *     kv.put("colour", "blue".getBytes()).toCompletableFuture().join();   // durable once it completes
 *     byte[] v = kv.get("colour").toCompletableFuture().join();           // null when absent
 * }
 * }</pre>
 *
 * <p><b>Threads.</b> Every method may be called from any thread and returns at once (except {@link #open} and
 * {@link #close}, which wait). The stages complete on the owning shard's reactor thread: keep continuations short,
 * never block in them (use the {@code *Async} variants for longer work).
 *
 * <p><b>Ownership.</b> A value given to {@link #put} is lent until its stage completes (it is copied into the shard's
 * off-heap staging buffer on the reactor): do not modify it before. A value returned by {@link #get} is a fresh
 * array, the caller's.
 *
 * <p><b>Errors.</b> Bad input fails the stage with {@link IllegalArgumentException} naming the field and its bound
 * ({@code key length 300 > max 255}); a failed I/O fails it with {@link java.io.IOException}; nothing is acknowledged
 * before it is on the bdev (and flushed, on a durable bdev).
 */
public final class KvStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KvStore.class);
    static final String BDEV = "Kv0";
    private static final int SUPER_VERSION = 1;

    /** The app's guardian: spawns Spindle, then the shard actors on their reactors. */
    private sealed interface Guardian permits SpindleStarted, SpawnShard {
    }

    private record SpindleStarted(SpindleApp.StartResult result) implements Guardian {
    }

    private record SpawnShard(Behavior<KvShard.Cmd> behavior, String name, Reactor reactor,
                              CompletableFuture<ActorRef<KvShard.Cmd>> ref) implements Guardian {
    }

    private final KvOptions options;
    private final ActorSystem<Guardian> system;
    private final Spindle spindle;
    private final BdevFacade facade;
    private final KvGeometry geometry;
    private final List<ActorRef<KvShard.Cmd>> shards;
    private final List<KvRecovery.Report> recovery;
    private final int maxValue;
    private volatile boolean closed;

    private KvStore(KvOptions options, ActorSystem<Guardian> system, Spindle spindle, BdevFacade facade, KvGeometry geometry,
                    List<ActorRef<KvShard.Cmd>> shards, List<KvRecovery.Report> recovery) {
        this.options = options;
        this.system = system;
        this.spindle = spindle;
        this.facade = facade;
        this.geometry = geometry;
        this.shards = shards;
        this.recovery = recovery;
        this.maxValue = options.maxValueBytes();
    }

    /**
     * Starts the app (an ActorSystem whose guardian spawns Spindle), creates or reopens the bdev, recovers every
     * shard from its checkpoint and log, and spawns the shard actors. Blocks the calling thread (not a reactor)
     * until the store is ready.
     *
     * @throws IllegalArgumentException when the file holds a store of another geometry, or is too small
     * @throws Exception                when Spindle or the bdev cannot start (the message says why)
     */
    public static KvStore open(KvOptions o) throws Exception {
        long size = o.sizeBytes();
        boolean exists = !o.malloc() && Files.exists(o.file());
        if (!o.malloc()) {
            Path parent = o.file().toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            if (exists) {
                size = Files.size(o.file());
            }
        }
        long blocks = size / KvOptions.BLOCK_SIZE;
        BdevSubsystem bdevs = new BdevSubsystem().onStart(layer -> o.malloc()
                ? layer.module(MallocModule.class).create(layer, MallocModule.Options.of(BDEV, blocks, KvOptions.BLOCK_SIZE))
                // huge_pages=false: the log is flushed per batch of puts, and a dirty 2 MiB folio is written back whole,
                // so huge pages would turn each group commit's few KiB into 2 MiB of disk writes
                : layer.module(MappedModule.class).create(layer, new MappedModule.Options(BDEV, o.file().toString(),
                KvOptions.BLOCK_SIZE, exists ? 0 : blocks, null, false)));
        SpindleConfig config = SpindleConfig.builder().name("kv")
                .reactor(ReactorConfig.builder().mask(o.reactorMask()).conclude()).subsystem(bdevs).conclude();
        CompletableFuture<SpindleApp.StartResult> started = new CompletableFuture<>();
        // the whole embedding: one spawn of Spindle's behavior in an ordinary guardian
        ActorSystem<Guardian> system = ActorSystem.create(Behaviors.setup(ctx -> {
            ActorRef<SpindleApp.StartResult> listener = ctx.messageAdapter(SpindleApp.StartResult.class, SpindleStarted::new);
            ctx.spawn(Spindle.create(config, listener), "spindle");
            return Behaviors.receive(Guardian.class)
                    .onMessage(SpindleStarted.class, m -> {
                        started.complete(m.result());
                        return Behaviors.same();
                    })
                    .onMessage(SpawnShard.class, m -> {
                        // placed on the reactor's dispatcher: the shard runs on that reactor thread only
                        m.ref().complete(ctx.spawn(m.behavior(), m.name(), m.reactor().dispatcher()));
                        return Behaviors.same();
                    })
                    .build();
        }), "kv");
        Spindle spindle = null;
        BdevFacade facade = null;
        try {
            SpindleApp.StartResult r = started.get(60, TimeUnit.SECONDS);
            if (!(r instanceof SpindleApp.Started s)) {
                throw new IllegalStateException("Spindle did not start: " + ((SpindleApp.StartFailed) r).reason());
            }
            spindle = s.spindle();
            BdevLayer layer = BdevLayer.of(spindle);
            Bdev bdev = layer.get(BDEV);
            if (bdev == null) {
                throw new IllegalStateException("bdev " + BDEV + " was not created");
            }
            facade = BdevFacade.open(layer, BDEV);
            int reactors = spindle.reactors().size();
            KvGeometry geo = superblock(facade, bdev.numBlocks() * bdev.blockSize(), reactors, o, exists);
            KvFormat fmt = new KvFormat(geo.blockSize(), o.maxValueBytes());
            if (geo.quarter() < 2L * KvShard.batchCapacity(fmt)) {
                throw new IllegalArgumentException("size=" + size + " too small for " + geo.shards() + " shards: each log half is "
                        + geo.quarter() + " bytes, needs >= " + 2L * KvShard.batchCapacity(fmt));
            }
            KvRecovery rec = new KvRecovery(facade, geo, fmt);
            List<ActorRef<KvShard.Cmd>> refs = new ArrayList<>();
            List<KvRecovery.Report> reports = new ArrayList<>();
            for (int i = 0; i < geo.shards(); i++) {
                KvShard.State st = new KvShard.State();
                reports.add(rec.recover(i, st));
                KvShard shard = new KvShard(i, facade, geo, new KvFormat(geo.blockSize(), o.maxValueBytes()), !o.malloc(), st);
                CompletableFuture<ActorRef<KvShard.Cmd>> ref = new CompletableFuture<>();
                system.tell(new SpawnShard(shard.behavior(), "shard-" + i, spindle.reactors().reactor(i % reactors), ref));
                refs.add(ref.get(30, TimeUnit.SECONDS));
            }
            return new KvStore(o, system, spindle, facade, geo, refs, reports);
        } catch (Exception | Error e) {
            shutdown(system, spindle, facade);
            throw e;
        }
    }

    /** Reads the superblock, or writes one for a new store; the geometry it holds wins over the options. */
    private static KvGeometry superblock(BdevFacade f, long deviceBytes, int reactors, KvOptions o, boolean existed) throws Exception {
        int bs = KvOptions.BLOCK_SIZE;
        KvFormat fmt = new KvFormat(bs, o.maxValueBytes());
        try (DmaBuffer b = DmaBuffer.allocate(bs, 4096)) {
            f.read(0, b, 0, bs).toCompletableFuture().get(60, TimeUnit.SECONDS);
            byte[] h = b.get(0, 64);
            if (KvFormat.getInt(h, 0) == KvFormat.SUPER_MAGIC) {
                if (fmt.crcWithHole(h, 0, 64, 60) != KvFormat.getInt(h, 60)) {
                    throw new IllegalStateException("kv superblock of " + BDEV + " fails its CRC: not opening");
                }
                KvGeometry g = new KvGeometry(KvFormat.getInt(h, 8), KvFormat.getInt(h, 12), KvFormat.getLong(h, 16));
                if (g.blockSize() != bs) {
                    throw new IllegalArgumentException("kv file block size " + g.blockSize() + " != " + bs);
                }
                if (g.shards() != reactors) {
                    LOG.info("kv: the store has {} shards, running them on {} reactors", g.shards(), reactors);
                }
                return g;
            }
            if (existed && !isZero(h)) {
                throw new IllegalArgumentException("file " + o.file() + " exists and holds no kv superblock: not overwriting it"
                        + " (remove it, or pick another --file)");
            }
            KvGeometry g = KvGeometry.forDevice(deviceBytes, reactors, bs);
            if (g.regionSize() <= 0) {
                throw new IllegalArgumentException("size=" + deviceBytes + " too small for " + reactors + " shards");
            }
            byte[] n = new byte[bs];
            KvFormat.putInt(n, 0, KvFormat.SUPER_MAGIC);
            KvFormat.putInt(n, 4, SUPER_VERSION);
            KvFormat.putInt(n, 8, g.shards());
            KvFormat.putInt(n, 12, g.blockSize());
            KvFormat.putLong(n, 16, g.regionSize());
            KvFormat.putInt(n, 60, fmt.crcWithHole(n, 0, 64, 60));
            b.put(0, n);
            f.write(0, b, 0, bs).toCompletableFuture().get(60, TimeUnit.SECONDS);
            f.flush(0, bs).toCompletableFuture().get(60, TimeUnit.SECONDS);
            return g;
        }
    }

    private static boolean isZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- the API

    /** The shard of a key: a stable hash of the key (String's, fixed by the Java spec), spread. */
    int shardOf(String key) {
        return Math.floorMod(key.hashCode() * 0x9E3779B9, shards.size());
    }

    private static byte[] keyBytes(String key) {
        if (key == null) {
            throw new IllegalArgumentException("key is null");
        }
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        if (k.length > KvFormat.MAX_KEY) {
            throw new IllegalArgumentException("key length " + k.length + " > max " + KvFormat.MAX_KEY);
        }
        if (k.length == 0) {
            throw new IllegalArgumentException("key length 0 < min 1");
        }
        return k;
    }

    /**
     * Stores {@code value} under {@code key}. Completes once the record is written (and flushed, on the durable
     * bdev); fails with {@link IllegalArgumentException} for a key of 0 or more than 255 UTF-8 bytes or a value
     * longer than {@link KvOptions#maxValueBytes()}.
     */
    public CompletionStage<Void> put(String key, byte[] value) {
        byte[] k;
        try {
            k = keyBytes(key);
            if (value == null) {
                throw new IllegalArgumentException("value is null");
            }
            if (value.length > maxValue) {
                throw new IllegalArgumentException("value length " + value.length + " > max " + maxValue);
            }
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("kv store closed"));
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        shards.get(shardOf(key)).tell(new KvShard.Op(key, k, value, false, done));
        return done;
    }

    /** The value of {@code key} (a fresh array, the caller's), or null when absent. */
    public CompletionStage<byte[]> get(String key) {
        byte[] k;
        try {
            k = keyBytes(key);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("kv store closed"));
        }
        CompletableFuture<byte[]> done = new CompletableFuture<>();
        shards.get(shardOf(key)).tell(new KvShard.Get(key, k, done));
        return done;
    }

    /** Deletes {@code key} (a tombstone record, durable when the stage completes); true when it was there. */
    public CompletionStage<Boolean> delete(String key) {
        byte[] k;
        try {
            k = keyBytes(key);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("kv store closed"));
        }
        CompletableFuture<Boolean> done = new CompletableFuture<>();
        shards.get(shardOf(key)).tell(new KvShard.Op(key, k, null, true, done));
        return done;
    }

    /** The keys starting with {@code prefix} ("" for all), sorted, from every shard. */
    public CompletionStage<List<String>> scan(String prefix) {
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("kv store closed"));
        }
        List<CompletableFuture<List<String>>> parts = new ArrayList<>();
        for (ActorRef<KvShard.Cmd> s : shards) {
            CompletableFuture<List<String>> f = new CompletableFuture<>();
            s.tell(new KvShard.Scan(prefix == null ? "" : prefix, f));
            parts.add(f);
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenApply(v -> {
            TreeSet<String> all = new TreeSet<>();
            parts.forEach(p -> all.addAll(p.join()));
            return List.copyOf(all);
        });
    }

    /** Writes a checkpoint on every shard (recovery then starts from here); completes when all are durable. */
    public CompletionStage<Void> checkpoint() {
        return CompletableFuture.allOf(control(KvShard.Control.Kind.CHECKPOINT).toArray(CompletableFuture[]::new));
    }

    /** Every shard's figures. */
    public CompletionStage<List<KvShard.Stats>> stats() {
        List<CompletableFuture<Object>> parts = control(KvShard.Control.Kind.STATS);
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
                .thenApply(v -> parts.stream().map(p -> (KvShard.Stats) p.join()).toList());
    }

    private List<CompletableFuture<Object>> control(KvShard.Control.Kind kind) {
        List<CompletableFuture<Object>> parts = new ArrayList<>();
        for (ActorRef<KvShard.Cmd> s : shards) {
            CompletableFuture<Object> f = new CompletableFuture<>();
            if (closed && kind != KvShard.Control.Kind.STOP) {
                f.completeExceptionally(new IllegalStateException("kv store closed"));
                parts.add(f);
                continue;
            }
            s.tell(new KvShard.Control(kind, f));
            parts.add(f);
        }
        return parts;
    }

    /** What each shard's recovery found when the store opened. */
    public List<KvRecovery.Report> recoveryReports() {
        return recovery;
    }

    /** The number of shards (fixed when the store was created). */
    public int shardCount() {
        return shards.size();
    }

    /** The options the store was opened with. */
    public KvOptions options() {
        return options;
    }

    /** The geometry on the bdev. */
    KvGeometry geometry() {
        return geometry;
    }

    /**
     * Stops every shard (each drains its writes, writes a last checkpoint and frees its buffers), closes the facade,
     * stops Spindle and the ActorSystem. Blocks; idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            try {
                CompletableFuture.allOf(control(KvShard.Control.Kind.STOP).toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            } finally {
                shutdown(system, spindle, facade);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while closing the kv store", e);
        } catch (Exception e) {
            throw new IllegalStateException("closing the kv store: " + e, e);
        }
    }

    private static void shutdown(ActorSystem<?> system, Spindle spindle, BdevFacade facade) throws Exception {
        try {
            if (facade != null) {
                facade.close().toCompletableFuture().get(60, TimeUnit.SECONDS);
            }
            if (spindle != null) {
                SpindleApp.Stopped st = spindle.stop().toCompletableFuture().get(60, TimeUnit.SECONDS);
                if (!st.clean()) {
                    LOG.warn("kv: Spindle stopped with leaks: {}", st.leaks());
                }
            }
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
        }
    }
}
