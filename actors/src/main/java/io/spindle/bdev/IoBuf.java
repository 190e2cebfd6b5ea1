package io.spindle.bdev;

import java.util.ArrayDeque;

/**
 * One reactor's cache of aligned I/O buffers (SPDK's iobuf): {@link #SMALL_SIZE} and {@link #LARGE_SIZE}
 * buffers kept for reuse so steady-state I/O allocates nothing. Get them with {@link #getSmall()} /
 * {@link #getLarge()} and give them back with {@link #put(DmaBuffer)}; a buffer taken here and never put
 * back is a leak the test extension reports.
 *
 * <p>Owner: its reactor; every method must be called there (obtain it with {@link BdevLayer#iobuf()}).
 */
public final class IoBuf {
    /** Size of a small buffer, as SPDK's default {@code small_bufsize}. */
    public static final int SMALL_SIZE = 8 * 1024;
    /** Size of a large buffer, as SPDK's default {@code large_bufsize}. */
    public static final int LARGE_SIZE = 132 * 1024;

    private final io.spindle.runtime.Reactor reactor;
    private final ArrayDeque<DmaBuffer> small = new ArrayDeque<>();
    private final ArrayDeque<DmaBuffer> large = new ArrayDeque<>();
    private final int smallCacheSize;
    private final int largeCacheSize;
    private int out;

    IoBuf(io.spindle.runtime.Reactor reactor, int smallCacheSize, int largeCacheSize) {
        this.reactor = reactor;
        this.smallCacheSize = smallCacheSize;
        this.largeCacheSize = largeCacheSize;
    }

    /** A small buffer (4096-aligned), from the cache when one is there. */
    public DmaBuffer getSmall() {
        reactor.assertCurrent("IoBuf.getSmall");
        DmaBuffer b = small.poll();
        out++;
        return b != null ? b : DmaBuffer.allocate(SMALL_SIZE, 4096);
    }

    /** A large buffer (4096-aligned), from the cache when one is there. */
    public DmaBuffer getLarge() {
        reactor.assertCurrent("IoBuf.getLarge");
        DmaBuffer b = large.poll();
        out++;
        return b != null ? b : DmaBuffer.allocate(LARGE_SIZE, 4096);
    }

    /** A buffer of at least {@code size} bytes: small, large, or null above {@link #LARGE_SIZE}. */
    public DmaBuffer get(long size) {
        return size <= SMALL_SIZE ? getSmall() : size <= LARGE_SIZE ? getLarge() : null;
    }

    /** Returns a buffer obtained here; kept for reuse up to the cache size, else freed. */
    public void put(DmaBuffer b) {
        reactor.assertCurrent("IoBuf.put");
        out--;
        if (b.capacity() == SMALL_SIZE && small.size() < smallCacheSize) {
            small.add(b);
        } else if (b.capacity() == LARGE_SIZE && large.size() < largeCacheSize) {
            large.add(b);
        } else {
            b.close();
        }
    }

    /** Buffers handed out and not put back. */
    public int outstanding() {
        return out;
    }

    void destroy() {
        DmaBuffer b;
        while ((b = small.poll()) != null) {
            b.close();
        }
        while ((b = large.poll()) != null) {
            b.close();
        }
    }
}
