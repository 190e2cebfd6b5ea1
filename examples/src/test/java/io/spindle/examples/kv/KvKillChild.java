package io.spindle.examples.kv;

import java.io.PrintStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The child process of {@link KvKillTest}: opens the store at {@code args[0]}, runs {@code args[1]} closed loops of
 * puts ("burst-N" = {@link #value(long)}) forever, and prints "ACK N" for each put only after its stage completed
 * (written and flushed). It never stops by itself: the test kills it with SIGKILL.
 */
public final class KvKillChild {
    private KvKillChild() {
    }

    static byte[] value(long n) {
        byte[] v = new byte[512 + (int) (n % 700)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (byte) (n * 131 + i);
        }
        return v;
    }

    public static void main(String[] args) throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory();
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false);
        KvStore kv = KvStore.open(KvOptions.defaults().withFile(Path.of(args[0])).withSize(64L << 20).withMask("0x3"));
        AtomicLong next = new AtomicLong();
        int loops = Integer.parseInt(args[1]);
        synchronized (out) {
            out.println("READY");
            out.flush();
        }
        for (int i = 0; i < loops; i++) {
            put(kv, next, out);
        }
        new CountDownLatch(1).await();
    }

    private static void put(KvStore kv, AtomicLong next, PrintStream out) {
        long n = next.getAndIncrement();
        kv.put("burst-" + n, value(n)).whenComplete((v, e) -> {
            if (e == null) {
                synchronized (out) { // after the completion only: what is printed was acknowledged
                    out.println("ACK " + n);
                    out.flush();
                }
            }
            put(kv, next, out);
        });
    }
}
