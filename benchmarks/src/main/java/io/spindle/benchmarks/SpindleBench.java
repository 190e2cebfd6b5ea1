package io.spindle.benchmarks;

import org.openjdk.jmh.annotations.Fork;

/**
 * The forked JVM every benchmark here runs in: one fork with the parent pom's {@code spindle.jvm.flags}
 * ({@link JvmFlags}; {@code JvmFlagsMirrorTest} keeps the two equal). JMH reads a benchmark class's
 * {@code @Fork} from its superclasses when the class has none, so a benchmark that extends this class gets
 * these flags without repeating them.
 *
 * <p>No state and no benchmark methods of its own; what a benchmark runs on is a {@link BenchRig}.
 */
@Fork(value = 1, jvmArgsAppend = {
    JvmFlags.OPENS_JDK_INTERNAL_MISC, JvmFlags.OPENS_JAVA_UTIL_ZIP, JvmFlags.EXPORTS_JDK_INTERNAL_MISC,
    JvmFlags.EXPORTS_JDK_INTERNAL_REF, JvmFlags.EXPORTS_JDK_INTERNAL_UTIL, JvmFlags.EXPORTS_SUN_NIO_CH,
    JvmFlags.EXPORTS_SUN_MISC, JvmFlags.EXPORTS_JAVAC_FILE, JvmFlags.OPENS_JAVAC, JvmFlags.OPENS_JAVA_LANG,
    JvmFlags.OPENS_JAVA_LANG_REFLECT, JvmFlags.OPENS_JAVA_IO, JvmFlags.OPENS_JAVA_UTIL, JvmFlags.CHRONICLE_ANALYTICS_OFF,
})
public abstract class SpindleBench {
    /** For subclasses. */
    protected SpindleBench() {
    }
}
