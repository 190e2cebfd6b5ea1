package io.spindle.runtime;

import com.typesafe.config.Config;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * Pekko executor that runs a dispatcher's mailboxes on one {@link Reactor}: the bridge that makes a reactor
 * a pinned dispatcher. Pekko hands every mailbox that has work to {@code execute} from the sender's thread;
 * that becomes a task on the reactor's MPSC queue, run in FIFO order with the reactor's other tasks.
 *
 * <p>The reactor's thread belongs to the {@link ReactorGroup}, not to Pekko: when Pekko shuts the
 * dispatcher's executor down (its last actor stopped), only this view is closed and the reactor keeps
 * running; Pekko makes a new view when the dispatcher is used again. Registered by
 * {@link ReactorGroup#registerDispatchers}; the dispatcher config carries the reactor's key under
 * {@code spindle-reactor}.
 */
public final class ReactorExecutorConfigurator extends ExecutorServiceConfigurator {
    private final Reactor reactor;

    /**
     * Called reflectively by Pekko.
     *
     * @throws IllegalArgumentException when the config names no live reactor
     */
    public ReactorExecutorConfigurator(Config config, DispatcherPrerequisites prerequisites) {
        super(config, prerequisites);
        String key = config.hasPath(ReactorGroup.REACTOR_KEY) ? config.getString(ReactorGroup.REACTOR_KEY) : null;
        Reactor r = key == null ? null : ReactorGroup.dispatcherReactor(key);
        if (r == null) {
            throw new IllegalArgumentException("dispatcher " + (config.hasPath("id") ? config.getString("id") : "?") + ": "
                    + ReactorGroup.REACTOR_KEY + "=" + key + " names no live reactor; register dispatchers with ReactorGroup.registerDispatchers");
        }
        this.reactor = r;
    }

    @Override
    public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
        return () -> new ReactorExecutorService(reactor);
    }

    /** An {@code ExecutorService} view of one reactor. */
    static final class ReactorExecutorService extends AbstractExecutorService {
        private final Reactor reactor;
        private volatile boolean shutdown;

        ReactorExecutorService(Reactor reactor) {
            this.reactor = reactor;
        }

        @Override
        public void execute(Runnable command) {
            reactor.send(command);
        }

        @Override
        public void shutdown() {
            shutdown = true;
        }

        @Override
        public List<Runnable> shutdownNow() {
            shutdown = true;
            return List.of();
        }

        @Override
        public boolean isShutdown() {
            return shutdown;
        }

        @Override
        public boolean isTerminated() {
            return shutdown;
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) {
            return shutdown;
        }

        @Override
        public String toString() {
            return "ReactorExecutorService[" + reactor.name() + "]";
        }
    }
}
