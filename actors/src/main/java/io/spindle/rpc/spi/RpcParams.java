package io.spindle.rpc.spi;

import com.fasterxml.jackson.databind.JsonNode;
import io.spindle.rpc.RpcException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * The {@code params} of one call, decoded the way SPDK's {@code spdk_json_decode_object} does: every key must
 * be known to the method, required keys must be present, and values must have the expected JSON type. A
 * {@code null} value counts as absent (rpc.py strips them anyway).
 *
 * <p>Every failure is an {@link RpcException} with {@link RpcException#INVALID_PARAMS} and a message of the
 * form {@code Invalid parameters: block_size="4k": must be an integer} that names the key, the value and the
 * bound. Read the keys the method takes, then call {@link #end()}, which refuses any key that was not read.
 *
 * <p>Not thread-safe; used on the handler's thread during the call.
 */
public final class RpcParams {
    private final String method;
    private final JsonNode params;
    private final Set<String> read = new LinkedHashSet<>();

    /**
     * Parameters of {@code method}.
     *
     * @param params an object, or null/missing for none
     * @throws RpcException when params is present but not an object (SPDK's methods take named parameters)
     */
    public RpcParams(String method, JsonNode params) throws RpcException {
        this.method = method;
        if (params != null && !params.isNull() && !params.isMissingNode() && !params.isObject()) {
            throw RpcException.invalidParams(method + " takes named parameters (a JSON object), got " + kind(params));
        }
        this.params = params == null || params.isNull() || params.isMissingNode() ? null : params;
    }

    /** Whether any params object was given (even an empty one). */
    public boolean present() {
        return params != null;
    }

    /** The raw params object, or null. */
    public JsonNode raw() {
        return params;
    }

    /**
     * Refuses any params at all (SPDK: "&lt;method&gt; method requires no parameters").
     *
     * @throws RpcException when a params object was given, even an empty one
     */
    public void none() throws RpcException {
        if (params != null) {
            throw new RpcException(RpcException.INVALID_PARAMS, method + " method requires no parameters");
        }
    }

    /** Whether {@code key} is present with a non-null value. */
    public boolean has(String key) {
        read.add(key);
        return params != null && params.hasNonNull(key);
    }

    private JsonNode get(String key) {
        read.add(key);
        if (params == null) {
            return null;
        }
        JsonNode v = params.get(key);
        return v == null || v.isNull() ? null : v;
    }

    private JsonNode require(String key, String what) throws RpcException {
        JsonNode v = get(key);
        if (v == null) {
            throw RpcException.invalidParams(key + " is required (" + what + ")");
        }
        return v;
    }

    /** A required string. */
    public String string(String key) throws RpcException {
        return asString(key, require(key, "a string"));
    }

    /** An optional string, or {@code def}. */
    public String string(String key, String def) throws RpcException {
        JsonNode v = get(key);
        return v == null ? def : asString(key, v);
    }

    private static String asString(String key, JsonNode v) throws RpcException {
        if (!v.isTextual()) {
            throw RpcException.invalidParams(key + "=" + v + ": must be a string");
        }
        return v.asText();
    }

    /** A required integer in {@code [min, max]}. */
    public long integer(String key, long min, long max) throws RpcException {
        return asLong(key, require(key, "an integer"), min, max);
    }

    /** An optional integer in {@code [min, max]}, or {@code def}. */
    public long integer(String key, long def, long min, long max) throws RpcException {
        JsonNode v = get(key);
        return v == null ? def : asLong(key, v, min, max);
    }

    private static long asLong(String key, JsonNode v, long min, long max) throws RpcException {
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw RpcException.invalidParams(key + "=" + v + ": must be an integer" + range(min, max));
        }
        long x = v.asLong();
        if (x < min || x > max) {
            throw RpcException.invalidParams(key + "=" + x + ": must be" + range(min, max));
        }
        return x;
    }

    private static String range(long min, long max) {
        if (min == Long.MIN_VALUE && max == Long.MAX_VALUE) {
            return "";
        }
        if (max == Long.MAX_VALUE) {
            return " >= " + min;
        }
        if (min == Long.MIN_VALUE) {
            return " <= " + max;
        }
        return " between " + min + " and " + max;
    }

    /** A required boolean. */
    public boolean bool(String key) throws RpcException {
        return asBool(key, require(key, "true or false"));
    }

    /** An optional boolean, or {@code def}. */
    public boolean bool(String key, boolean def) throws RpcException {
        JsonNode v = get(key);
        return v == null ? def : asBool(key, v);
    }

    private static boolean asBool(String key, JsonNode v) throws RpcException {
        if (!v.isBoolean()) {
            throw RpcException.invalidParams(key + "=" + v + ": must be true or false");
        }
        return v.asBoolean();
    }

    /** An optional UUID string, or null. */
    public UUID uuid(String key) throws RpcException {
        String s = string(key, null);
        if (s == null) {
            return null;
        }
        try {
            UUID u = UUID.fromString(s);
            if (!u.toString().equalsIgnoreCase(s)) {
                throw new IllegalArgumentException(s);
            }
            return u;
        } catch (IllegalArgumentException e) {
            throw RpcException.invalidParams(key + "=\"" + s + "\": must be a UUID (8-4-4-4-12 hex digits)");
        }
    }

    /** An optional array of strings, or null. */
    public List<String> strings(String key) throws RpcException {
        JsonNode v = get(key);
        if (v == null) {
            return null;
        }
        if (!v.isArray()) {
            throw RpcException.invalidParams(key + "=" + v + ": must be an array of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isTextual()) {
                throw RpcException.invalidParams(key + "=" + v + ": must be an array of strings");
            }
            out.add(e.asText());
        }
        return out;
    }

    /** An optional string that must be one of {@code allowed}, or {@code def}. */
    public String choice(String key, String def, String... allowed) throws RpcException {
        String s = string(key, null);
        if (s == null) {
            return def;
        }
        for (String a : allowed) {
            if (a.equals(s)) {
                return s;
            }
        }
        throw RpcException.invalidParams(key + "=\"" + s + "\": must be one of " + String.join(", ", allowed));
    }

    /**
     * Refuses any key that was not read: SPDK's decoders reject unknown keys, and a misspelt optional key must
     * not be ignored silently.
     *
     * @throws RpcException naming the first unknown key and the keys the method takes
     */
    public void end() throws RpcException {
        if (params == null) {
            return;
        }
        Iterator<String> it = params.fieldNames();
        while (it.hasNext()) {
            String k = it.next();
            if (!read.contains(k)) {
                throw RpcException.invalidParams("unknown key " + k + " (" + method + " takes "
                        + (read.isEmpty() ? "no parameters" : String.join(", ", read)) + ")");
            }
        }
    }

    private static String kind(JsonNode n) {
        return n.isArray() ? "an array" : n.isTextual() ? "a string" : n.isNumber() ? "a number" : n.isBoolean() ? "a boolean" : n.getNodeType().toString();
    }
}
