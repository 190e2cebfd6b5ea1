package io.spindle.runtime;

/**
 * A snapshot of one reactor's counters: what SPDK's {@code framework_get_reactors} and
 * {@code thread_get_stats} report.
 *
 * @param name           thread name, {@code reactor_<core>}
 * @param core           the core of the core mask this reactor serves
 * @param busyNanos      time spent in loop iterations that did work
 * @param idleNanos      time spent in iterations that did none, idle strategy included
 * @param loops          loop iterations
 * @param tasksRun       tasks (messages and actor mailbox runs) executed
 * @param pollerRuns     poller function calls
 * @param activePollers  registered pollers that run every loop
 * @param timedPollers   registered pollers with a period
 * @param pausedPollers  paused pollers
 * @param channels       live io_channels on this reactor
 */
public record ReactorStats(String name, int core, long busyNanos, long idleNanos, long loops, long tasksRun,
                           long pollerRuns, int activePollers, int timedPollers, int pausedPollers, int channels) {
}
