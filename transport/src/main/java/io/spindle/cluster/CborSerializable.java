package io.spindle.cluster;

/**
 * Marker of every message and Distributed Data value that crosses nodes: bound to Pekko's {@code jackson-cbor}
 * serializer in the transport module's {@code reference.conf} ({@code pekko.actor.serialization-bindings}), so
 * nothing that leaves the JVM goes through Java serialization (which stays off).
 *
 * <p>Implementations are immutable records of plain values (strings, numbers, lists of records), validated in
 * their constructor: what another node sends is checked before it is used. {@code ClusterSerializationTest}
 * round-trips every implementation through the bound serializer.
 */
public interface CborSerializable {
}
