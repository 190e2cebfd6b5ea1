package io.spindle.backends;

import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.locks.LockSupport;

/**
 * A small, bounded pool of I/O threads for the blocking system calls of file-backed modules (aio's reads and
 * writes, fsync, fallocate; mapped's msync), so no reactor ever blocks on a file (SPDK submits to the kernel's aio
 * context and polls for completions; the JVM has no libaio, and aio's io_uring engine, where the kernel has it,
 * leaves only fallocate and error checks to these threads).
 *
 * <p><b>Protocol.</b> A reactor {@link #submit}s a preallocated {@link Task} into one bounded lock-free queue
 * (Agrona's {@code ManyToManyConcurrentArrayQueue}: no allocation, no lock) and unparks a sleeping thread. A
 * thread takes the task and runs it; the task hands itself back to its reactor through a {@link ReactorInbox}. A
 * full queue refuses the task: the module completes the I/O NOMEM and the bdev layer retries it. Idle threads spin
 * briefly, then park; the submitter's unpark and the thread's re-check of the queue after it announced that it
 * sleeps (two volatile accesses in opposite order on each side) mean no task is left waiting for a thread that
 * parked.
 *
 * <p><b>Threads.</b> {@link #submit} from any thread; {@link #stop} once, after the last task came back. The threads
 * are daemons named {@code <name>-N}.
 */
public final class IoThreads {
    private static final Logger LOG = LoggerFactory.getLogger(IoThreads.class);
    /** Largest bounce copy of the fallback path; larger I/O is copied in chunks of this size. */
    public static final int BOUNCE_SIZE = 256 * 1024;
    private static final int SPINS = 200;

    /** Work for an I/O thread. */
    public interface Task {
        /** Runs on an I/O thread; blocking is expected. Must hand its result back itself. */
        void run(Scratch scratch);
    }

    /** What an I/O thread lends the task it runs. */
    public interface Scratch {
        /** The thread's aligned direct bounce buffer of {@link #BOUNCE_SIZE} bytes (made on first use). */
        ByteBuffer bounce();
    }

    private final ManyToManyConcurrentArrayQueue<Task> queue;
    private final Worker[] workers;
    private volatile boolean stopping;

    /** A pool of {@code threads} I/O threads named {@code name-N} and a queue of {@code capacity} tasks. */
    public IoThreads(String name, int threads, int capacity) {
        if (threads < 1 || threads > 1024) {
            throw new IllegalArgumentException(name + " threads=" + threads + ": must be between 1 and 1024");
        }
        queue = new ManyToManyConcurrentArrayQueue<>(capacity);
        workers = new Worker[threads];
        for (int i = 0; i < threads; i++) {
            workers[i] = new Worker(name + "-" + i);
        }
        for (Worker w : workers) {
            w.thread.start();
        }
    }

    /** The number of I/O threads. */
    public int threads() {
        return workers.length;
    }

    /** Queues {@code t} for an I/O thread; false when the queue is full (retry later). Any thread; no allocation. */
    public boolean submit(Task t) {
        if (!queue.offer(t)) {
            return false;
        }
        wakeOne();
        return true;
    }

    private void wakeOne() {
        for (Worker w : workers) {
            if (w.sleeping) {
                LockSupport.unpark(w.thread);
                return;
            }
        }
    }

    /** Stops the threads and waits for them to end. Call only once nothing is in flight. */
    public void stop() {
        stopping = true;
        for (Worker w : workers) {
            LockSupport.unpark(w.thread);
        }
        for (Worker w : workers) {
            try {
                w.thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (w.thread.isAlive()) {
                LOG.error("I/O thread {} did not stop within 10 s", w.thread.getName());
            }
        }
    }

    /** One I/O thread and its bounce buffer (used only when raw I/O is unavailable). */
    private final class Worker implements Runnable, Scratch {
        final Thread thread;
        volatile boolean sleeping;
        private ByteBuffer bounce;

        Worker(String name) {
            thread = new Thread(this, name);
            thread.setDaemon(true);
        }

        @Override
        public ByteBuffer bounce() {
            ByteBuffer b = bounce;
            if (b == null) {
                b = ByteBuffer.allocateDirect(BOUNCE_SIZE + 4096).alignedSlice(4096).limit(BOUNCE_SIZE).slice(); // once per thread, on first use of the fallback path
                bounce = b;
            }
            return b;
        }

        @Override
        public void run() {
            int idle = 0;
            while (!stopping) {
                Task t = queue.poll();
                if (t != null) {
                    idle = 0;
                    if (!queue.isEmpty()) {
                        wakeOne(); // more work: let another thread take it in parallel
                    }
                    try {
                        t.run(this);
                    } catch (Throwable e) {
                        LOG.error("I/O task threw: {}", t, e); // tasks report their own errors; this is a bug
                    }
                    continue;
                }
                if (idle < SPINS) {
                    idle++;
                    Thread.onSpinWait();
                    continue;
                }
                sleeping = true;
                if (queue.isEmpty() && !stopping) {
                    LockSupport.park(this);
                }
                sleeping = false;
                idle = 0;
            }
        }
    }

    /**
     * One pool shared by the bdevs of a module: started by the first {@link #acquire}, stopped (on a thread of its
     * own: joining blocks) by the {@link #release} that gives back the last reference, so no thread outlives the
     * module's last bdev. Thread-safe.
     */
    public static final class Shared {
        private final String name;
        private final int threads;
        private final int capacity;
        private IoThreads pool;
        private int refs;

        /** A shared pool of {@code threads} threads named {@code name-N} and a queue of {@code capacity} tasks. */
        public Shared(String name, int threads, int capacity) {
            if (threads < 1 || threads > 1024) {
                throw new IllegalArgumentException(name + " threads=" + threads + ": must be between 1 and 1024");
            }
            this.name = name;
            this.threads = threads;
            this.capacity = capacity;
        }

        /** The pool, started if it was not running; one more reference. */
        public synchronized IoThreads acquire() {
            if (pool == null) {
                pool = new IoThreads(name, threads, capacity);
            }
            refs++;
            return pool;
        }

        /** Gives one reference back; completes when the pool stopped (at the last reference) or at once. */
        public CompletionStage<Void> release() {
            IoThreads stop = null;
            synchronized (this) {
                if (refs > 0 && --refs == 0) {
                    stop = pool;
                    pool = null;
                }
            }
            return stop == null ? CompletableFuture.completedFuture(null) : stopAsync(stop);
        }

        /** Stops the pool whatever the references (module fini). */
        public CompletionStage<Void> shutdown() {
            IoThreads stop;
            synchronized (this) {
                stop = pool;
                pool = null;
                refs = 0;
            }
            return stop == null ? CompletableFuture.completedFuture(null) : stopAsync(stop);
        }

        private CompletionStage<Void> stopAsync(IoThreads p) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            Thread t = new Thread(() -> {
                try {
                    p.stop();
                } finally {
                    f.complete(null);
                }
            }, name + "-stop");
            t.setDaemon(true);
            t.start();
            return f;
        }
    }
}
