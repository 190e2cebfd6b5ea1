package io.spindle.bdev.spi;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Builds the {@code {"method", "params"}} entries modules return from {@link BdevDriver#writeConfig}. */
public final class ConfigCalls {
    private ConfigCalls() {
    }

    /**
     * {@code {"method": method, "params": {name, num_blocks, block_size, uuid}}}: the parameters every
     * create call of a RAM-like module takes; add module-specific ones to {@code params}.
     */
    public static ObjectNode createCall(String method, BdevView bdev) {
        ObjectNode call = JsonNodeFactory.instance.objectNode();
        call.put("method", method);
        ObjectNode p = call.putObject("params");
        p.put("name", bdev.name());
        p.put("num_blocks", bdev.numBlocks());
        p.put("block_size", bdev.blockSize());
        p.put("uuid", bdev.uuid().toString());
        return call;
    }
}
