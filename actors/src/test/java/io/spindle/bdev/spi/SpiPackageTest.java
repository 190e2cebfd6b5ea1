package io.spindle.bdev.spi;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The module contract ({@code io.spindle.bdev.spi}) does not depend on the bdev layer's implementation package
 * ({@code io.spindle.bdev}): the implementation depends on the SPI, never the other way round, so there is no package
 * cycle. Checked on the compiled classes (every class, descriptor and generic signature in their constant pools, which
 * is what the JVM links against) and on the sources (imports, qualified names and Javadoc links, which the compiler
 * drops; a {@code ...} span of prose may name the implementation). A subpackage of {@code io.spindle.bdev} the SPI uses (the shared I/O enums) is held to the same rule, so the
 * cycle cannot come back through it.
 */
class SpiPackageTest {
    private static final String BDEV = "io/spindle/bdev/";
    /** A class directly in {@code io/spindle/bdev} (no further '/'), as internal name or inside a descriptor. */
    private static final Pattern BDEV_CLASS = Pattern.compile("io/spindle/bdev/([\\w$]+)(?![\\w$/])");
    /** A class in a subpackage of {@code io/spindle/bdev}; group 1 is the subpackage path. */
    private static final Pattern BDEV_SUBPACKAGE_CLASS = Pattern.compile("io/spindle/bdev/((?:[\\w$]+/)+)[\\w$]+");
    /** A class of, or a wildcard import of, {@code io.spindle.bdev} in source (package names are lower case). */
    private static final Pattern BDEV_CLASS_IN_SOURCE = Pattern.compile("io\\.spindle\\.bdev\\.(\\*|[A-Z][\\w$]*)");
    /** Prose in Javadoc ({@code ...} on one line): it may name the implementation, it links nothing. */
    private static final Pattern CODE_SPAN = Pattern.compile("\\{@code [^}]*}");

    @Test
    void compiledSpiClassesReferenceNoClassOfTheBdevPackage() throws Exception {
        Path root = Path.of(BdevModule.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertThat(root).as("classes directory of actors/").isDirectory();
        Set<String> violations = new TreeSet<>();
        Set<String> scannedClasses = new TreeSet<>();
        Set<String> seenPackages = new HashSet<>();
        Deque<String> packages = new ArrayDeque<>(List.of(BDEV + "spi/"));
        seenPackages.add(BDEV + "spi/");
        while (!packages.isEmpty()) {
            String pkg = packages.poll();
            for (Path file : classFiles(root.resolve(pkg))) {
                String className = pkg + file.getFileName().toString().replace(".class", "");
                scannedClasses.add(className);
                for (String utf8 : utf8Constants(Files.readAllBytes(file))) {
                    Matcher m = BDEV_CLASS.matcher(utf8);
                    while (m.find()) {
                        violations.add(className.replace('/', '.') + " -> io.spindle.bdev." + m.group(1));
                    }
                    Matcher sub = BDEV_SUBPACKAGE_CLASS.matcher(utf8);
                    while (sub.find()) {
                        String next = BDEV + sub.group(1);
                        if (seenPackages.add(next) && Files.isDirectory(root.resolve(next))) {
                            packages.add(next); // a subpackage the SPI uses must not lead back either
                        }
                    }
                }
            }
        }
        assertThat(scannedClasses).as("the SPI's classes were found and read")
                .contains(BDEV + "spi/BdevModule", BDEV + "spi/BdevDriver", BDEV + "spi/ModuleIo",
                        BDEV + "spi/BdevContext", BDEV + "spi/BdevSpec", BDEV + "spi/BdevSpec$Builder");
        assertThat(violations).as("references from the SPI (or a subpackage it uses) to the implementation package")
                .isEmpty();
    }

    @Test
    void spiSourcesNameNoClassOfTheBdevPackage() throws IOException {
        Path dir = Path.of("src/main/java/io/spindle/bdev/spi");
        assertThat(dir).as("SPI sources (tests run in actors/)").isDirectory();
        List<String> violations = new ArrayList<>();
        int files = 0;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                files++;
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    Matcher m = BDEV_CLASS_IN_SOURCE.matcher(CODE_SPAN.matcher(lines.get(i)).replaceAll(""));
                    while (m.find()) {
                        violations.add(f.getFileName() + ":" + (i + 1) + " io.spindle.bdev." + m.group(1));
                    }
                }
            }
        }
        assertThat(files).as("SPI source files read").isGreaterThanOrEqualTo(5);
        assertThat(violations).as("imports, qualified names or Javadoc links from the SPI to the implementation package")
                .isEmpty();
    }

    private static List<Path> classFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".class")).sorted().toList();
        }
    }

    /**
     * The CONSTANT_Utf8 entries of a class file's constant pool (JVMS 4.4): class names, member names, descriptors
     * and signatures, i.e. every type the class refers to.
     */
    static List<String> utf8Constants(byte[] classFile) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(classFile));
        if (in.readInt() != 0xCAFEBABE) {
            throw new IOException("not a class file");
        }
        in.readUnsignedShort(); // minor
        in.readUnsignedShort(); // major
        int count = in.readUnsignedShort();
        List<String> utf8 = new ArrayList<>();
        for (int i = 1; i < count; i++) {
            int tag = in.readUnsignedByte();
            switch (tag) {
                case 1 -> utf8.add(in.readUTF()); // Utf8: u2 length + modified UTF-8, as readUTF expects
                case 7, 8, 16, 19, 20 -> in.skipBytes(2); // Class, String, MethodType, Module, Package
                case 15 -> in.skipBytes(3); // MethodHandle
                case 3, 4, 9, 10, 11, 12, 17, 18 -> in.skipBytes(4); // Integer, Float, *ref, NameAndType, (Invoke)Dynamic
                case 5, 6 -> {
                    in.skipBytes(8); // Long, Double take two slots
                    i++;
                }
                default -> throw new IOException("constant pool tag " + tag + " at index " + i + " unknown");
            }
        }
        return utf8;
    }
}
