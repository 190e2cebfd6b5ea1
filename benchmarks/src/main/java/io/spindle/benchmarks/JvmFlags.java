package io.spindle.benchmarks;

import java.util.List;

/**
 * The JVM flags every forked benchmark JVM needs (Agrona 2 and Chronicle Bytes on JDK 17+), one compile-time
 * constant per flag so that {@code @Fork(jvmArgsAppend = {...})} can name them.
 *
 * <p><b>This mirrors the {@code spindle.jvm.flags} property of the parent {@code pom.xml}</b>, flag for flag
 * and in the same order. Java annotations take only compile-time constants, so the property cannot be read
 * here. The {@code @Fork} that names them is written once, on {@link SpindleBench}, which every benchmark
 * extends. {@code JvmFlagsMirrorTest} (run by {@code mvn verify}) fails when this class, or the {@code @Fork} of
 * any benchmark, drifts from the property.
 */
public final class JvmFlags {
    public static final String OPENS_JDK_INTERNAL_MISC = "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED";
    public static final String OPENS_JAVA_UTIL_ZIP = "--add-opens=java.base/java.util.zip=ALL-UNNAMED";
    public static final String EXPORTS_JDK_INTERNAL_MISC = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    public static final String EXPORTS_JDK_INTERNAL_REF = "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED";
    public static final String EXPORTS_JDK_INTERNAL_UTIL = "--add-exports=java.base/jdk.internal.util=ALL-UNNAMED";
    public static final String EXPORTS_SUN_NIO_CH = "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED";
    public static final String EXPORTS_SUN_MISC = "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED";
    public static final String EXPORTS_JAVAC_FILE = "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED";
    public static final String OPENS_JAVAC = "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED";
    public static final String OPENS_JAVA_LANG = "--add-opens=java.base/java.lang=ALL-UNNAMED";
    public static final String OPENS_JAVA_LANG_REFLECT = "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED";
    public static final String OPENS_JAVA_IO = "--add-opens=java.base/java.io=ALL-UNNAMED";
    public static final String OPENS_JAVA_UTIL = "--add-opens=java.base/java.util=ALL-UNNAMED";
    public static final String CHRONICLE_ANALYTICS_OFF = "-Dchronicle.analytics.disable=true";

    private JvmFlags() {
    }

    /** All of the above in the parent pom's order (for tests and tools; annotations must list the constants). */
    public static List<String> all() {
        return List.of(OPENS_JDK_INTERNAL_MISC, OPENS_JAVA_UTIL_ZIP, EXPORTS_JDK_INTERNAL_MISC, EXPORTS_JDK_INTERNAL_REF,
                EXPORTS_JDK_INTERNAL_UTIL, EXPORTS_SUN_NIO_CH, EXPORTS_SUN_MISC, EXPORTS_JAVAC_FILE, OPENS_JAVAC,
                OPENS_JAVA_LANG, OPENS_JAVA_LANG_REFLECT, OPENS_JAVA_IO, OPENS_JAVA_UTIL, CHRONICLE_ANALYTICS_OFF);
    }
}
