package io.spindle.app;

import io.spindle.runtime.ReactorConfig;

/**
 * A standalone Spindle in its own JVM, for {@link SpindleAppTest}'s signal test: prints {@code STARTED}, then
 * waits until SIGTERM/SIGINT stops it through CoordinatedShutdown, then prints {@code STOPPED clean=...}.
 */
public final class StandaloneMain {
    private StandaloneMain() {
    }

    /** Entry point. */
    public static void main(String[] args) throws Exception {
        Spindle s = Spindle.start(SpindleConfig.builder().name("signal-test")
                .reactor(ReactorConfig.builder().mask("0x3").conclude()).conclude());
        s.whenStopped().thenAccept(st -> System.out.println("STOPPED clean=" + st.clean()));
        System.out.println("STARTED reactors=" + s.reactors().size());
        System.out.flush();
        s.system().getWhenTerminated().toCompletableFuture().join();
    }
}
