package io.spindle.examples.rpc;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Iterator;
import java.util.Map;

/**
 * JSON text exactly as Python's {@code json.dumps(obj, indent=n)} writes it (what SPDK's {@code rpc.py}
 * prints), so {@code spindle rpc} and {@code rpc.py} print the same bytes for the same answer: {@code ": "}
 * after keys, {@code ","} at line ends, empty containers as {@code []} and {@code {}}, non-ASCII characters
 * escaped as {@code \\uXXXX}. With {@code indent < 0}, the compact form {@code json.dumps(obj)} writes
 * ({@code ", "} and {@code ": "} separators on one line).
 *
 * <p>Stateless; any thread.
 */
final class PyJson {
    private PyJson() {
    }

    static String dumps(JsonNode n, int indent) {
        StringBuilder b = new StringBuilder();
        write(b, n, indent, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, JsonNode n, int indent, int level) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            b.append("null");
        } else if (n.isObject()) {
            if (n.isEmpty()) {
                b.append("{}");
                return;
            }
            b.append('{');
            Iterator<Map.Entry<String, JsonNode>> it = n.properties().iterator();
            boolean first = true;
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                b.append(first ? "" : indent < 0 ? ", " : ",");
                first = false;
                newline(b, indent, level + 1);
                string(b, e.getKey());
                b.append(": ");
                write(b, e.getValue(), indent, level + 1);
            }
            newline(b, indent, level);
            b.append('}');
        } else if (n.isArray()) {
            if (n.isEmpty()) {
                b.append("[]");
                return;
            }
            b.append('[');
            boolean first = true;
            for (JsonNode e : n) {
                b.append(first ? "" : indent < 0 ? ", " : ",");
                first = false;
                newline(b, indent, level + 1);
                write(b, e, indent, level + 1);
            }
            newline(b, indent, level);
            b.append(']');
        } else if (n.isTextual()) {
            string(b, n.asText());
        } else if (n.isBoolean()) {
            b.append(n.asBoolean() ? "true" : "false");
        } else if (n.isIntegralNumber()) {
            b.append(n.bigIntegerValue());
        } else if (n.isNumber()) {
            double d = n.asDouble();
            b.append(d == Math.rint(d) && !Double.isInfinite(d) ? String.format(java.util.Locale.ROOT, "%.1f", d) : Double.toString(d));
        } else {
            string(b, n.asText());
        }
    }

    private static void newline(StringBuilder b, int indent, int level) {
        if (indent < 0) {
            return;
        }
        b.append('\n');
        for (int i = 0; i < indent * level; i++) {
            b.append(' ');
        }
    }

    static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7f) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
