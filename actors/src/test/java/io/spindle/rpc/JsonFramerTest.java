package io.spindle.rpc;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The stream framer: where one top-level JSON value ends, whatever the chunking. */
class JsonFramerTest {
    private static final class Collect implements JsonFramer.Sink {
        final List<String> values = new ArrayList<>();
        final List<Long> tooLarge = new ArrayList<>();
        int stopAfter = Integer.MAX_VALUE;

        @Override
        public boolean value(byte[] buf, int len) {
            values.add(new String(buf, 0, len, StandardCharsets.UTF_8));
            return values.size() < stopAfter;
        }

        @Override
        public void tooLarge(long size) {
            tooLarge.add(size);
        }
    }

    private static Collect feedInChunks(JsonFramer f, String s, int chunk) {
        Collect c = new Collect();
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i += chunk) {
            ByteBuffer bb = ByteBuffer.wrap(b, i, Math.min(chunk, b.length - i));
            assertThat(f.feed(bb, c)).isTrue();
            assertThat(bb.hasRemaining()).isFalse();
        }
        return c;
    }

    static final String STREAM = "{\"a\":\"}{\\\"]\",\"b\":[1,{\"c\":[]}]}  [1,2]\n{\"x\":\"\\\\\"}\"str\\\"ing\" {}";
    static final List<String> VALUES = List.of("{\"a\":\"}{\\\"]\",\"b\":[1,{\"c\":[]}]}", "[1,2]", "{\"x\":\"\\\\\"}",
            "\"str\\\"ing\"", "{}");

    @Test
    @DisplayName("concatenated values, braces and escaped quotes inside strings, split at every chunk size")
    void everyChunking() {
        for (int chunk = 1; chunk <= STREAM.length(); chunk++) {
            JsonFramer f = new JsonFramer(1 << 20);
            Collect c = feedInChunks(f, STREAM, chunk);
            assertThat(c.values).as("chunk=" + chunk).isEqualTo(VALUES);
            assertThat(f.midValue()).isFalse();
        }
    }

    @Test
    @DisplayName("random documents in random chunks come out whole and in order")
    void randomized() {
        Random r = new Random(42);
        for (int round = 0; round < 200; round++) {
            List<String> docs = new ArrayList<>();
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < 1 + r.nextInt(6); i++) {
                String d = randomValue(r, 0);
                docs.add(d);
                s.append(d).append(" \n\t".substring(0, r.nextInt(4)));
            }
            JsonFramer f = new JsonFramer(1 << 20);
            Collect c = feedInChunks(f, s.toString(), 1 + r.nextInt(20));
            assertThat(c.values).isEqualTo(docs);
        }
    }

    private static String randomValue(Random r, int depth) {
        int k = depth > 3 ? 2 : r.nextInt(4);
        switch (k) {
            case 0 -> {
                StringBuilder b = new StringBuilder("{");
                for (int i = 0; i < r.nextInt(3); i++) {
                    b.append(i > 0 ? "," : "").append("\"k").append(i).append("\":").append(depth < 3 ? randomValue(r, depth + 1) : "1");
                }
                return b.append('}').toString();
            }
            case 1 -> {
                StringBuilder b = new StringBuilder("[");
                for (int i = 0; i < r.nextInt(3); i++) {
                    b.append(i > 0 ? "," : "").append(depth < 3 ? randomValue(r, depth + 1) : "2");
                }
                return b.append(']').toString();
            }
            default -> {
                String[] tricky = {"\"{\"", "\"}\"", "\"[\\\"]\"", "\"\\\\\"", "\"plain\"", "\"é€\""};
                return "{\"s\":" + tricky[r.nextInt(tricky.length)] + "}";
            }
        }
    }

    @Test
    @DisplayName("a value over the bound is skipped in constant memory and reported with its size; the next one is framed")
    void oversized() {
        JsonFramer f = new JsonFramer(1024);
        String big = "{\"p\":\"" + "y".repeat(5000) + "\"}";
        Collect c = feedInChunks(f, big + "{\"ok\":1}", 100);
        assertThat(c.tooLarge).containsExactly((long) big.length());
        assertThat(c.values).containsExactly("{\"ok\":1}");
    }

    @Test
    @DisplayName("top-level scalars end at whitespace or a structural character")
    void scalars() {
        JsonFramer f = new JsonFramer(1024);
        Collect c = feedInChunks(f, "42 true{\"a\":1}null ", 3);
        assertThat(c.values).containsExactly("42", "true", "{\"a\":1}", "null");
    }

    @Test
    @DisplayName("the sink can stop the feed (flow control); the rest stays in the buffer for the next feed")
    void flowControl() {
        JsonFramer f = new JsonFramer(1024);
        Collect c = new Collect();
        c.stopAfter = 1;
        ByteBuffer bb = ByteBuffer.wrap("{\"a\":1}{\"b\":2}".getBytes(StandardCharsets.UTF_8));
        assertThat(f.feed(bb, c)).isFalse();
        assertThat(c.values).containsExactly("{\"a\":1}");
        assertThat(bb.remaining()).isEqualTo(7);
        c.stopAfter = Integer.MAX_VALUE;
        assertThat(f.feed(bb, c)).isTrue();
        assertThat(c.values).containsExactly("{\"a\":1}", "{\"b\":2}");
    }

    @Test
    @DisplayName("a partial value is reported as mid-value (a client that closes now closes mid-request)")
    void midValue() {
        JsonFramer f = new JsonFramer(1024);
        Collect c = feedInChunks(f, "{\"method\":\"x", 4);
        assertThat(c.values).isEmpty();
        assertThat(f.midValue()).isTrue();
    }
}
