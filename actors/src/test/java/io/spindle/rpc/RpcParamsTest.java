package io.spindle.rpc;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spindle.rpc.spi.RpcParams;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** SPDK-style strict decoding of params, with messages that name the key and the bound. */
class RpcParamsTest {
    private static final ObjectMapper M = new ObjectMapper();

    private static RpcParams p(String json) throws Exception {
        return new RpcParams("m", json == null ? null : M.readTree(json));
    }

    @Test
    @DisplayName("typed reads with defaults; null values count as absent")
    void reads() throws Exception {
        RpcParams p = p("{\"s\":\"x\",\"n\":5,\"b\":true,\"z\":null,\"l\":[\"a\",\"b\"]}");
        assertThat(p.string("s")).isEqualTo("x");
        assertThat(p.integer("n", 0, 10)).isEqualTo(5);
        assertThat(p.bool("b")).isTrue();
        assertThat(p.string("z", "def")).isEqualTo("def");
        assertThat(p.strings("l")).containsExactly("a", "b");
        assertThat(p.integer("missing", 7, 0, 10)).isEqualTo(7);
        p.end();
    }

    @Test
    @DisplayName("each failure is -32602 naming the key, the value and the bound")
    void failures() throws Exception {
        assertThatThrownBy(() -> p("{}").string("name")).isInstanceOf(RpcException.class)
                .hasMessage("Invalid parameters: name is required (a string)")
                .extracting(e -> ((RpcException) e).code()).isEqualTo(RpcException.INVALID_PARAMS);
        assertThatThrownBy(() -> p("{\"n\":1.5}").integer("n", 0, 10)).hasMessage("Invalid parameters: n=1.5: must be an integer between 0 and 10");
        assertThatThrownBy(() -> p("{\"n\":11}").integer("n", 0, 10)).hasMessage("Invalid parameters: n=11: must be between 0 and 10");
        assertThatThrownBy(() -> p("{\"n\":-1}").integer("n", 0, Long.MAX_VALUE)).hasMessage("Invalid parameters: n=-1: must be >= 0");
        assertThatThrownBy(() -> p("{\"b\":\"yes\"}").bool("b")).hasMessage("Invalid parameters: b=\"yes\": must be true or false");
        assertThatThrownBy(() -> p("{\"u\":\"nope\"}").uuid("u")).hasMessageContaining("u=\"nope\": must be a UUID");
        assertThatThrownBy(() -> p("[1]")).hasMessageContaining("m takes named parameters (a JSON object), got an array");
        assertThatThrownBy(() -> p("{\"c\":\"x\"}").choice("c", null, "a", "b")).hasMessage("Invalid parameters: c=\"x\": must be one of a, b");
    }

    @Test
    @DisplayName("end() refuses keys the method did not read, listing the ones it takes; none() refuses any params")
    void unknownKeys() throws Exception {
        RpcParams p = p("{\"name\":\"x\",\"nmae\":\"y\"}");
        p.string("name");
        p.integer("size", 0, 0, 10);
        assertThatThrownBy(p::end).hasMessage("Invalid parameters: unknown key nmae (m takes name, size)");
        assertThatThrownBy(() -> p("{}").none()).hasMessage("m method requires no parameters");
        p(null).none();
    }
}
