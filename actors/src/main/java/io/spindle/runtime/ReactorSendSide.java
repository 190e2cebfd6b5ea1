package io.spindle.runtime;

/**
 * The fields of a {@link Reactor} that other threads touch on every cross-thread {@link Reactor#send}: the count of
 * sends between their state check and their enqueue, whether the reactor is parked (so a sender unparks it), whether it
 * has exited, and its thread. They sit on cache lines of their own, 64 bytes of padding on either side, away from the
 * fields the reactor writes on every loop (its clock, its idle back-off, its busy/idle counters): without it a sender's
 * increment and the reactor's loop bookkeeping bounced one line between the cores.
 *
 * <p>The padding is by class hierarchy, as Agrona pads its queues: HotSpot lays a superclass's fields out before a
 * subclass's, and byte fields leave no hole for the subclass's fields to fill. Owner: the reactor; every field is
 * written as its Javadoc says.
 */
final class ReactorSendSide extends ReactorSendSideFields {
    private static final java.lang.invoke.VarHandle SENDS_IN_PROGRESS;

    static {
        try {
            SENDS_IN_PROGRESS = java.lang.invoke.MethodHandles.lookup().findVarHandle(ReactorSendSideFields.class, "sendsInProgress", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** A sender enters the window between its state check and its enqueue (atomic increment). */
    void enterSend() {
        SENDS_IN_PROGRESS.getAndAdd(this, 1);
    }

    /** A sender leaves that window (atomic decrement). */
    void leaveSend() {
        SENDS_IN_PROGRESS.getAndAdd(this, -1);
    }

    byte p064, p065, p066, p067, p068, p069, p070, p071;
    byte p072, p073, p074, p075, p076, p077, p078, p079;
    byte p080, p081, p082, p083, p084, p085, p086, p087;
    byte p088, p089, p090, p091, p092, p093, p094, p095;
    byte p096, p097, p098, p099, p100, p101, p102, p103;
    byte p104, p105, p106, p107, p108, p109, p110, p111;
    byte p112, p113, p114, p115, p116, p117, p118, p119;
    byte p120, p121, p122, p123, p124, p125, p126, p127;
}

/** The padding before the send-side fields. */
abstract class ReactorSendSideLhsPadding {
    byte p000, p001, p002, p003, p004, p005, p006, p007;
    byte p008, p009, p010, p011, p012, p013, p014, p015;
    byte p016, p017, p018, p019, p020, p021, p022, p023;
    byte p024, p025, p026, p027, p028, p029, p030, p031;
    byte p032, p033, p034, p035, p036, p037, p038, p039;
    byte p040, p041, p042, p043, p044, p045, p046, p047;
    byte p048, p049, p050, p051, p052, p053, p054, p055;
    byte p056, p057, p058, p059, p060, p061, p062, p063;
}

/** The send-side fields themselves (see {@link ReactorSendSide}). */
abstract class ReactorSendSideFields extends ReactorSendSideLhsPadding {
    /** Sends between their state check and their enqueue; incremented and decremented by senders (any thread). */
    volatile int sendsInProgress;
    /** Set by the reactor around a park; read by every sender. */
    volatile boolean sleeping;
    /** Set once by the reactor when it has exited; read by every sender. */
    volatile boolean exited;
    /** The reactor's thread, set once before it starts (null in manual mode); read by senders that unpark it. */
    volatile Thread thread;
}
