package io.spindle.examples.kv;

import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.actor.BdevFacade;
import io.spindle.runtime.Errno;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * One shard of the kv store: an actor placed on one reactor, owning one region of the bdev, its log and its
 * in-memory index.
 *
 * <p><b>Threads.</b> The actor runs on its reactor's dispatcher, so its message handlers run on that reactor's thread;
 * it submits its I/O through the {@link BdevFacade} callback methods from there, so each I/O runs on the same
 * reactor and its callback runs there too, inline in the completion. Every field of this class is therefore touched
 * by one thread only (the reactor), message handlers and I/O callbacks alike, never concurrently: no lock, no
 * message per I/O. Clients' futures are completed on the reactor thread.
 *
 * <p><b>Buffers.</b> The shard allocates its off-heap buffers when it starts and frees them when it stops: two
 * staging buffers (one filling with records while the other is being written: group commit), a pool of read slots
 * for gets, and one chunk buffer for compaction. A buffer lent to the facade for an I/O is not touched until its
 * callback. A checkpoint allocates its buffer and frees it when written (once per checkpoint, not per I/O).
 *
 * <p><b>Writes.</b> A put or delete is encoded at once into the filling staging buffer (header, key, value, padding;
 * CRC32C); when no write is in flight, the staging buffer is written at the log head as one I/O, then flushed when
 * the bdev is durable (mapped), and only then are the index updated and the puts acknowledged. Puts arriving
 * meanwhile fill the other buffer: one write and one flush for all of them.
 */
final class KvShard {
    private static final Logger LOG = LoggerFactory.getLogger(KvShard.class);
    private static final int READ_SLOTS = 32;

    /** A message to a shard. */
    sealed interface Cmd permits Op, Get, Scan, Control, Stopped {
    }

    /** A put or a delete (or, inside the shard, a compaction copy). Lent to the shard until its future completes. */
    static final class Op implements Cmd {
        final String key;
        final byte[] keyBytes;
        final byte[] value; // null for a delete
        final boolean delete;
        final CompletableFuture<Object> done; // null for a copy
        long copyFrom = -1;
        long pos;
        int len;
        int relOff;

        @SuppressWarnings("unchecked")
        Op(String key, byte[] keyBytes, byte[] value, boolean delete, CompletableFuture<?> done) {
            this.key = key;
            this.keyBytes = keyBytes;
            this.value = value;
            this.delete = delete;
            this.done = (CompletableFuture<Object>) done;
        }

        int valueLen() {
            return value == null ? 0 : value.length;
        }
    }

    /** A get: completes with the value (a fresh array, the caller's) or null when the key is absent. */
    static final class Get implements Cmd {
        final String key;
        final byte[] keyBytes;
        final CompletableFuture<byte[]> done;
        int retries;

        Get(String key, byte[] keyBytes, CompletableFuture<byte[]> done) {
            this.key = key;
            this.keyBytes = keyBytes;
            this.done = done;
        }
    }

    /** The keys starting with {@code prefix}, sorted. */
    record Scan(String prefix, CompletableFuture<List<String>> done) implements Cmd {
    }

    /** Checkpoint now, report stats, or stop (drain, checkpoint, free the buffers). */
    record Control(Kind kind, CompletableFuture<Object> done) implements Cmd {
        enum Kind { CHECKPOINT, STATS, STOP }
    }

    record Stopped() implements Cmd {
    }

    /** A shard's figures, for tests and the CLI. */
    public record Stats(int shard, int keys, int activeHalf, long logBytes, long lastSeq, long checkpoints,
                        long compactions, boolean compacting, long batches, long batchedOps) {
    }

    /** An index entry: where the key's latest record is. Mutated in place by its shard only. */
    static final class Entry {
        long pos;
        int len;

        Entry(long pos, int len) {
            this.pos = pos;
            this.len = len;
        }
    }

    /** What recovery hands to the shard. */
    static final class State {
        final TreeMap<String, Entry> index = new TreeMap<>();
        int activeHalf;
        long head;
        long lastSeq;
        long generation;
        long compactEnd; // 0: not compacting
    }

    private final int id;
    private final BdevFacade facade;
    private final KvGeometry geo;
    private final KvFormat fmt;
    private final boolean durable;
    private final TreeMap<String, Entry> index;
    private final int batchCap;
    private final long checkpointEvery;

    private int active;
    private long head;
    private long lastSeq;
    private long generation;

    private final DmaBuffer[] stage = new DmaBuffer[2];
    private int fill;
    private int stageLen;
    private ArrayList<Op> stageOps = new ArrayList<>();
    private ArrayList<Op> flightOps = new ArrayList<>();
    private final ArrayDeque<Op> overflow = new ArrayDeque<>();
    private long flightStart;
    private int flightLen;
    private boolean busy;
    private long bytesSinceCheckpoint;
    private boolean checkpointWanted;
    private boolean switchRequested;
    private final List<CompletableFuture<Object>> checkpointWaiters = new ArrayList<>();

    private boolean compacting;
    private long compactPos;
    private long compactEnd;
    private boolean compactReading;
    private boolean compactFailed;
    private boolean compactDonePending;
    private int copiesOutstanding;
    private DmaBuffer compactBuf;
    private byte[] compactHeap;
    private final KvFormat.View compactView = new KvFormat.View();

    private final ArrayDeque<ReadSlot> freeSlots = new ArrayDeque<>();
    private final ArrayDeque<Get> pendingGets = new ArrayDeque<>();
    private int readsInFlight;
    private byte[] readHeap;
    private final KvFormat.View readView = new KvFormat.View();

    private boolean stopping;
    private boolean stopCheckpointDone;
    private boolean freed;
    private CompletableFuture<Object> stopFuture;
    private ActorRef<Cmd> self;

    private long checkpoints;
    private long compactions;
    private long batches;
    private long batchedOps;

    private final BdevFacade.Callback writeCb = (rc, arg) -> onBatchWritten(rc);
    private final BdevFacade.Callback compactCb = (rc, arg) -> onCompactChunk(rc, (Integer) arg);

    KvShard(int id, BdevFacade facade, KvGeometry geo, KvFormat fmt, boolean durable, State s) {
        this.id = id;
        this.facade = facade;
        this.geo = geo;
        this.fmt = fmt;
        this.durable = durable;
        this.index = s.index;
        this.active = s.activeHalf;
        this.head = s.head;
        this.lastSeq = s.lastSeq;
        this.generation = s.generation;
        this.batchCap = batchCapacity(fmt);
        this.checkpointEvery = geo.quarter() / 4;
        if (s.compactEnd != 0) {
            compacting = true;
            compactPos = geo.halfStart(id, active ^ 1);
            compactEnd = s.compactEnd;
        }
    }

    /** The staging buffer's size: at least 1 MiB and two of the largest records. */
    static int batchCapacity(KvFormat fmt) {
        long c = Math.max(1 << 20, 2L * fmt.maxRecordSize());
        return (int) ((c + 4095) / 4096 * 4096);
    }

    /** The shard's behavior; spawn it on its reactor's dispatcher. */
    Behavior<Cmd> behavior() {
        return Behaviors.setup(ctx -> {
            self = ctx.getSelf();
            // on the reactor: allocate the shard's buffers, once
            for (int i = 0; i < 2; i++) {
                stage[i] = DmaBuffer.allocate(batchCap, 4096);
            }
            int maxRec = fmt.maxRecordSize();
            for (int i = 0; i < READ_SLOTS; i++) {
                freeSlots.add(new ReadSlot(DmaBuffer.allocate(maxRec, 4096)));
            }
            readHeap = new byte[maxRec];
            compactBuf = DmaBuffer.allocate(batchCap, 4096);
            compactHeap = new byte[batchCap];
            pump(); // a compaction interrupted by a stop resumes
            return Behaviors.receive(Cmd.class)
                    .onMessage(Op.class, this::onOp)
                    .onMessage(Get.class, g -> {
                        get(g);
                        return Behaviors.same();
                    })
                    .onMessage(Scan.class, this::onScan)
                    .onMessage(Control.class, this::onControl)
                    .onMessage(Stopped.class, m -> {
                        stopFuture.complete(null);
                        return Behaviors.stopped();
                    })
                    .build();
        });
    }

    private Behavior<Cmd> onOp(Op op) {
        if (stopping) {
            op.done.completeExceptionally(new IllegalStateException("kv store closed"));
            return Behaviors.same();
        }
        enqueue(op);
        pump();
        return Behaviors.same();
    }

    private Behavior<Cmd> onScan(Scan s) {
        List<String> keys = new ArrayList<>();
        for (Map.Entry<String, Entry> e : index.tailMap(s.prefix(), true).entrySet()) {
            if (!e.getKey().startsWith(s.prefix())) {
                break;
            }
            keys.add(e.getKey());
        }
        s.done().complete(keys);
        return Behaviors.same();
    }

    private Behavior<Cmd> onControl(Control c) {
        switch (c.kind()) {
            case STATS -> c.done().complete(new Stats(id, index.size(), active, head - geo.halfStart(id, active), lastSeq,
                    checkpoints, compactions, compacting, batches, batchedOps));
            case CHECKPOINT -> {
                checkpointWaiters.add(c.done());
                checkpointWanted = true;
                pump();
            }
            case STOP -> {
                if (stopping) {
                    c.done().completeExceptionally(new IllegalStateException("already stopping"));
                } else {
                    stopping = true;
                    stopFuture = c.done();
                    pump();
                }
            }
        }
        return Behaviors.same();
    }

    // ---------------------------------------------------------------- writes

    private void enqueue(Op op) {
        if (!overflow.isEmpty() || !tryStage(op)) {
            overflow.addLast(op);
        }
    }

    /** Encodes {@code op} into the filling staging buffer; false when it must wait (buffer full, or a half switch). */
    private boolean tryStage(Op op) {
        int size = fmt.recordSize(op.keyBytes.length, op.valueLen());
        if (stageLen + size > batchCap) {
            return false;
        }
        long end = geo.halfEnd(id, active);
        if (head + stageLen + size > end) {
            if (!compacting) {
                switchRequested = true;
                return false;
            }
            // the half being filled by a compaction has no room left: refuse, never overwrite
            fail(op, new IOException("shard " + id + " full: log half of " + geo.quarter() + " bytes has "
                    + (end - head - stageLen) + " free, record needs " + size + " (compaction in progress)"));
            return true;
        }
        DmaBuffer buf = stage[fill];
        long seq = ++lastSeq;
        byte[] h = fmt.encodeHeader(seq, op.keyBytes, op.value, op.valueLen(), op.delete);
        buf.putBytes(stageLen, h, 0, KvFormat.HEADER);
        buf.putBytes(stageLen + KvFormat.HEADER, op.keyBytes, 0, op.keyBytes.length);
        if (op.valueLen() > 0) {
            buf.putBytes(stageLen + KvFormat.HEADER + op.keyBytes.length, op.value, 0, op.valueLen());
        }
        int total = KvFormat.HEADER + op.keyBytes.length + op.valueLen();
        if (size > total) {
            buf.fill(stageLen + total, size - total, (byte) 0);
        }
        op.relOff = stageLen;
        op.len = total;
        stageLen += size;
        stageOps.add(op);
        return true;
    }

    private void drainOverflow() {
        while (!overflow.isEmpty() && tryStage(overflow.peekFirst())) {
            overflow.pollFirst();
        }
    }

    /** Starts the next write-side step when none is in flight, steps a compaction, finishes a stop. */
    private void pump() {
        if (!busy) {
            if (switchRequested && !compacting) {
                startSwitch();
            } else if (checkpointWanted) {
                writeCheckpoint();
            } else if (stageLen > 0) {
                submitBatch();
            } else if (stopping && !stopCheckpointDone && overflow.isEmpty() && !compactReading && copiesOutstanding == 0) {
                writeCheckpoint();
            }
        }
        if (!stopping) {
            compactStep();
        }
        if (stopping && stopCheckpointDone && !busy && readsInFlight == 0 && !compactReading && !freed) {
            freed = true;
            freeBuffers();
            self.tell(new Stopped());
        }
    }

    private void submitBatch() {
        DmaBuffer buf = stage[fill];
        flightStart = head;
        flightLen = stageLen;
        ArrayList<Op> t = flightOps;
        flightOps = stageOps;
        stageOps = t;
        for (Op op : flightOps) {
            op.pos = flightStart + op.relOff;
        }
        fill ^= 1;
        stageLen = 0;
        head += flightLen;
        busy = true;
        batches++;
        batchedOps += flightOps.size();
        int rc = facade.write(flightStart, buf, 0, flightLen, writeCb, null);
        if (rc != 0) {
            batchDone(rc);
            return;
        }
        drainOverflow(); // into the buffer just freed
    }

    private void onBatchWritten(int rc) {
        if (rc != 0 || !durable) {
            batchDone(rc);
            return;
        }
        // mapped: the write is in the page cache; the flush msyncs it (one stage per batch, not per put)
        facade.flush(flightStart, flightLen).whenComplete((v, e) -> batchDone(e == null ? 0 : Errno.EIO));
    }

    private void batchDone(int rc) {
        busy = false;
        for (Op op : flightOps) {
            if (rc == 0) {
                apply(op);
            } else {
                fail(op, new IOException("log write of " + flightLen + " bytes at offset " + flightStart + " failed: "
                        + Errno.name(rc)));
            }
        }
        flightOps.clear();
        bytesSinceCheckpoint += flightLen;
        if (bytesSinceCheckpoint >= checkpointEvery) {
            checkpointWanted = true;
        }
        if (!compacting && head - geo.halfStart(id, active) > geo.quarter() / 4 * 3) {
            switchRequested = true;
        }
        drainOverflow();
        pump();
    }

    private void apply(Op op) {
        if (op.copyFrom >= 0) {
            Entry e = index.get(op.key);
            if (e != null && e.pos == op.copyFrom) {
                e.pos = op.pos;
                e.len = op.len;
            }
            copiesOutstanding--;
        } else if (op.delete) {
            op.done.complete(index.remove(op.key) != null);
        } else {
            Entry e = index.get(op.key);
            if (e == null) {
                index.put(op.key, new Entry(op.pos, op.len));
            } else {
                e.pos = op.pos;
                e.len = op.len;
            }
            op.done.complete(null);
        }
    }

    private void fail(Op op, Throwable t) {
        if (op.done != null) {
            op.done.completeExceptionally(t);
        } else {
            copiesOutstanding--;
            compactFailed = true;
            LOG.error("kv shard {}: compaction copy of key '{}' failed, compaction halted: {}", id, op.key, t.getMessage());
        }
    }

    // ---------------------------------------------------------------- checkpoints and compaction

    private void startSwitch() {
        switchRequested = false;
        compactPos = geo.halfStart(id, active);
        compactEnd = head;
        active ^= 1;
        head = geo.halfStart(id, active);
        compacting = true;
        compactFailed = false;
        compactions++;
        writeCheckpoint(); // recovery must know the log continues in the other half
    }

    private void writeCheckpoint() {
        checkpointWanted = false;
        boolean ends = compactDonePending;
        boolean isStop = stopping && stageLen == 0 && overflow.isEmpty();
        long size = KvFormat.CHECKPOINT_HEADER;
        for (String k : index.keySet()) {
            size += 1 + k.getBytes(StandardCharsets.UTF_8).length + 12;
        }
        long padded = fmt.pad(size);
        if (padded > geo.quarter()) { // cannot happen (see KvGeometry); never write past the slot
            LOG.error("kv shard {}: checkpoint of {} bytes > slot of {}; skipped", id, padded, geo.quarter());
            stopCheckpointDone |= isStop;
            return;
        }
        byte[] heap = new byte[(int) padded];
        int p = KvFormat.CHECKPOINT_HEADER;
        for (Map.Entry<String, Entry> e : index.entrySet()) {
            byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
            heap[p++] = (byte) k.length;
            System.arraycopy(k, 0, heap, p, k.length);
            p += k.length;
            KvFormat.putLong(heap, p, e.getValue().pos);
            KvFormat.putInt(heap, p + 8, e.getValue().len);
            p += 12;
        }
        long gen = generation + 1;
        KvFormat.putInt(heap, 0, KvFormat.CHECKPOINT_MAGIC);
        KvFormat.putLong(heap, 8, gen);
        KvFormat.putLong(heap, 16, size);
        KvFormat.putInt(heap, 24, active);
        KvFormat.putInt(heap, 28, index.size());
        KvFormat.putLong(heap, 32, head);
        KvFormat.putLong(heap, 40, lastSeqWritten());
        KvFormat.putLong(heap, 48, compacting && !ends ? compactEnd : 0);
        KvFormat.putInt(heap, 4, fmt.crcWithHole(heap, 0, (int) size, 4));
        DmaBuffer buf = DmaBuffer.allocate(padded, 4096);
        buf.putBytes(0, heap, 0, (int) padded);
        long at = geo.slot(id, (int) (gen & 1));
        busy = true;
        BdevFacade.Callback done = (rc, arg) -> {
            if (rc != 0 || !durable) {
                checkpointDone(rc, buf, gen, ends, isStop);
            } else {
                facade.flush(at, padded).whenComplete((v, e) -> checkpointDone(e == null ? 0 : Errno.EIO, buf, gen, ends, isStop));
            }
        };
        int rc = facade.write(at, buf, 0, (int) padded, done, null);
        if (rc != 0) {
            checkpointDone(rc, buf, gen, ends, isStop);
        }
    }

    /** The last sequence number in the log before the head: staged records (not written yet) come after it. */
    private long lastSeqWritten() {
        long staged = stageOps.size();
        return lastSeq - staged;
    }

    private void checkpointDone(int rc, DmaBuffer buf, long gen, boolean ends, boolean isStop) {
        buf.close();
        busy = false;
        if (rc == 0) {
            generation = gen;
            bytesSinceCheckpoint = 0;
            checkpoints++;
            if (ends) {
                compactDonePending = false;
                compacting = false;
            }
            if (isStop) {
                stopCheckpointDone = true;
            }
            for (CompletableFuture<Object> w : checkpointWaiters) {
                w.complete(null);
            }
        } else {
            LOG.error("kv shard {}: checkpoint write failed: {}; the previous checkpoint stays in use", id, Errno.name(rc));
            for (CompletableFuture<Object> w : checkpointWaiters) {
                w.completeExceptionally(new IOException("checkpoint write failed: " + Errno.name(rc)));
            }
            if (isStop) {
                stopCheckpointDone = true; // recovery scans the log instead
            }
            if (ends) {
                compactDonePending = false; // the next compaction step tries the checkpoint again
            }
        }
        checkpointWaiters.clear();
        drainOverflow();
        pump();
    }

    /** Reads the next chunk of the half being compacted, unless copies are still waiting for room. */
    private void compactStep() {
        if (!compacting || compactFailed || compactReading || compactDonePending) {
            return;
        }
        if (compactPos >= compactEnd) {
            if (copiesOutstanding == 0) {
                compactDonePending = true;
                checkpointWanted = true; // the checkpoint after which the old half is free
                if (!busy) {
                    writeCheckpoint();
                }
            }
            return;
        }
        if (!overflow.isEmpty()) {
            return;
        }
        int len = (int) Math.min(batchCap, compactEnd - compactPos);
        compactReading = true;
        int rc = facade.read(compactPos, compactBuf, 0, len, compactCb, len);
        if (rc != 0) {
            compactReading = false;
            compactFailed = true;
            LOG.error("kv shard {}: compaction read refused: {}; compaction halted", id, Errno.name(rc));
        }
    }

    private void onCompactChunk(int rc, int len) {
        compactReading = false;
        if (rc != 0) {
            compactFailed = true;
            LOG.error("kv shard {}: compaction read at {} failed: {}; compaction halted", id, compactPos, Errno.name(rc));
            pump();
            return;
        }
        compactBuf.getBytes(0, compactHeap, 0, len);
        int off = 0;
        while (off < len) {
            int st = fmt.parse(compactHeap, off, len - off, compactView);
            if (st == KvFormat.OK) {
                if (!compactView.tombstone) {
                    String key = new String(compactHeap, compactView.keyOff, compactView.keyLen, StandardCharsets.UTF_8);
                    Entry e = index.get(key);
                    long at = compactPos + off;
                    if (e != null && e.pos == at) { // live: copy it to the head
                        Op copy = new Op(key, Arrays.copyOfRange(compactHeap, compactView.keyOff, compactView.keyOff + compactView.keyLen),
                                Arrays.copyOfRange(compactHeap, compactView.valueOff, compactView.valueOff + compactView.valueLen), false, null);
                        copy.copyFrom = at;
                        copiesOutstanding++;
                        enqueue(copy);
                    }
                }
                off += compactView.padded;
            } else if (st == KvFormat.SHORT && off > 0) {
                break; // the rest of this record comes with the next chunk
            } else {
                off += fmt.blockSize; // a hole (a failed write) or a torn record: nothing live there
            }
        }
        compactPos += off;
        pump();
    }

    // ---------------------------------------------------------------- reads

    private void get(Get g) {
        if (stopping) {
            g.done.completeExceptionally(new IllegalStateException("kv store closed"));
            return;
        }
        Entry e = index.get(g.key);
        if (e == null) {
            g.done.complete(null);
            return;
        }
        ReadSlot s = freeSlots.poll();
        if (s == null) {
            pendingGets.add(g);
            return;
        }
        s.start(g, e.pos, e.len);
    }

    /** One outstanding get's buffer and callback; pooled, reused. */
    private final class ReadSlot implements BdevFacade.Callback {
        final DmaBuffer buf;
        Get get;
        long pos;
        int len;

        ReadSlot(DmaBuffer buf) {
            this.buf = buf;
        }

        void start(Get g, long at, int length) {
            get = g;
            pos = at;
            len = length;
            readsInFlight++;
            int rc = facade.read(at, buf, 0, (int) fmt.pad(length), this, null);
            if (rc != 0) {
                readsInFlight--;
                finish(new IOException("read of key '" + g.key + "' refused: " + Errno.name(rc)), null);
            }
        }

        @Override
        public void onComplete(int rc, Object arg) {
            readsInFlight--;
            if (rc != 0) {
                finish(new IOException("read of key '" + get.key + "' at offset " + pos + " failed: " + Errno.name(rc)), null);
                return;
            }
            buf.getBytes(0, readHeap, 0, len);
            int st = fmt.parse(readHeap, 0, len, readView);
            if (st == KvFormat.OK && !readView.tombstone && readView.keyLen == get.keyBytes.length
                    && Arrays.equals(readHeap, readView.keyOff, readView.keyOff + readView.keyLen, get.keyBytes, 0, get.keyBytes.length)) {
                finish(null, Arrays.copyOfRange(readHeap, readView.valueOff, readView.valueOff + readView.valueLen));
            } else if (get.retries++ < 3) { // the index moved on (compaction) while we read: look again
                Get g = get;
                release();
                get(g);
                if (stopping) {
                    pump();
                }
            } else {
                finish(new IOException("record of key '" + get.key + "' at offset " + pos + " failed its check (status " + st + ")"), null);
            }
        }

        private void finish(Throwable err, byte[] value) {
            Get g = get;
            release();
            if (err != null) {
                g.done.completeExceptionally(err);
            } else {
                g.done.complete(value);
            }
            if (stopping) {
                pump();
            }
        }

        private void release() {
            get = null;
            freeSlots.push(this);
            Get next = pendingGets.poll();
            if (next != null) {
                get(next);
            }
        }
    }

    private void freeBuffers() {
        for (DmaBuffer b : stage) {
            b.close();
        }
        for (ReadSlot s : freeSlots) {
            s.buf.close();
        }
        freeSlots.clear();
        compactBuf.close();
        for (Get g : pendingGets) {
            g.done.completeExceptionally(new IllegalStateException("kv store closed"));
        }
        pendingGets.clear();
    }
}
