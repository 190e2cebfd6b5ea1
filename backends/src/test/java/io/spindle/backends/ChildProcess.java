package io.spindle.backends;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A second JVM running a test main class with this JVM's class path and module flags, for crash tests: start it,
 * wait for a line it prints, then kill it with SIGKILL ({@link Process#destroyForcibly()} on Linux).
 */
public final class ChildProcess implements AutoCloseable {
    private final Process process;
    private final BufferedReader out;

    /** Starts {@code main} with {@code args}; its stderr goes to {@code log}. */
    public ChildProcess(Class<?> main, Path log, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("-Dchronicle")) {
                cmd.add(a);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        process = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
        out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    /** Reads lines until one equals {@code line}; fails when the child ends first. */
    public void awaitLine(String line) throws Exception {
        String l;
        while ((l = out.readLine()) != null) {
            if (l.equals(line)) {
                return;
            }
        }
        throw new AssertionError("child ended (exit " + process.waitFor() + ") before printing " + line);
    }

    /** SIGKILL, then waits for the process to be gone. */
    public void kill9() throws Exception {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("child did not die after SIGKILL");
        }
    }

    @Override
    public void close() throws java.io.IOException {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
        out.close();
    }
}
