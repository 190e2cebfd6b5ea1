package io.spindle.runtime;

/**
 * A snapshot of one reactor's counters: what SPDK's {@code framework_get_reactors} and
 * {@code thread_get_stats} report. Made by {@link Reactor#stats()}.
 *
 * <p><b>Threads and ownership.</b> An immutable value that belongs to whoever asked for it and may be passed
 * to any thread. The counters behind it belong to the reactor: only its own thread (or, in manual mode, the
 * test stepping it) writes them, once per loop iteration, with opaque stores. {@code stats()} may be called
 * from any thread and then reads each counter whole (no torn {@code long}), but the set is one consistent
 * snapshot only when taken on the reactor itself, between iterations, as {@code framework_get_reactors} does
 * through a {@code forEachReactor} walk. Off the reactor, the poller and channel counts, which live in
 * reactor-owned collections, are not read at all and are {@code -1}.
 *
 * @param name           thread name, {@code reactor_<core>}
 * @param core           the core of the core mask this reactor serves
 * @param busyNanos      time spent in loop iterations that did work (a task ran or a poller returned > 0),
 *                       each iteration charged up to the start of the next one
 * @param idleNanos      time spent in iterations that did none, idle strategy included
 * @param loops          loop iterations
 * @param tasksRun       tasks (messages and actor mailbox runs) executed
 * @param pollerRuns     poller function calls
 * @param activePollers  registered pollers that run every loop; -1 when taken off the reactor
 * @param timedPollers   registered pollers with a period; -1 when taken off the reactor
 * @param pausedPollers  paused pollers; -1 when taken off the reactor
 * @param channels       live io_channels on this reactor; -1 when taken off the reactor
 */
public record ReactorStats(String name, int core, long busyNanos, long idleNanos, long loops, long tasksRun,
                           long pollerRuns, int activePollers, int timedPollers, int pausedPollers, int channels) {
}
