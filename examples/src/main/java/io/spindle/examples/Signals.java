package io.spindle.examples;

/**
 * Signal handling for Spindle's command-line programs ({@code spindle tgt}, {@code spindle bdevperf}): a handler
 * replaces the JVM's shutdown on SIGINT/SIGTERM so the program stops its own way and exits with its own status.
 * A handler runs on the JVM's signal thread; it should only hand the event over.
 */
public final class Signals {
    private Signals() {
    }

    /**
     * Runs {@code action} on signal {@code name} instead of the JVM's shutdown. Through reflection: the JDK has
     * no public signal API, and {@code sun.misc.Signal} (module jdk.unsupported, meant for exactly this) makes
     * javac warn, which this build treats as an error.
     *
     * @return false when the signal cannot be handled here
     */
    public static boolean onSignal(String name, Runnable action) {
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            Class<?> handler = Class.forName("sun.misc.SignalHandler");
            Object h = java.lang.reflect.Proxy.newProxyInstance(Signals.class.getClassLoader(), new Class<?>[] {handler},
                    (proxy, method, args) -> {
                        if (method.getName().equals("handle")) {
                            action.run();
                            return null;
                        }
                        return method.getName().equals("hashCode") ? System.identityHashCode(proxy)
                                : method.getName().equals("equals") ? proxy == args[0] : "spindle-signal-handler";
                    });
            signal.getMethod("handle", signal, handler).invoke(null, signal.getConstructor(String.class).newInstance(name), h);
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
    }

}
