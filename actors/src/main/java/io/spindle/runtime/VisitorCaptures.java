package io.spindle.runtime;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;

/**
 * Refuses a fan-out visitor that holds its walk's context in one of its own fields: the visitor's {@code visit}
 * runs on the reactors, so a context it can reach could be touched, or freed, by a reactor (SPDK #3630).
 *
 * <p>Only fields of the visitor object itself are looked at (what an anonymous class or a lambda captures ends up
 * there, {@code this$0} aside); a context reached through another object is not seen. The field list of each
 * visitor class is computed once. Control path only: walks are not per I/O. Any thread.
 */
final class VisitorCaptures {
    private static final ClassValue<Field[]> FIELDS = new ClassValue<>() {
        @Override
        protected Field[] computeValue(Class<?> type) {
            List<Field> out = new ArrayList<>();
            for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
                for (Field f : c.getDeclaredFields()) {
                    if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
                        continue;
                    }
                    try {
                        f.setAccessible(true);
                        out.add(f);
                    } catch (RuntimeException e) {
                        // a class in a module that does not open itself: not inspectable, not refused
                    }
                }
            }
            return out.toArray(new Field[0]);
        }
    };

    private VisitorCaptures() {
    }

    /**
     * @throws IllegalArgumentException naming {@code what}, the visitor class and the field, when a field of
     *         {@code visitor} refers to {@code context}
     */
    static void refuseHeldContext(String what, Object visitor, Object context) {
        if (context == null) {
            return;
        }
        for (Field f : FIELDS.get(visitor.getClass())) {
            Object v;
            try {
                v = f.get(visitor);
            } catch (IllegalAccessException e) {
                continue;
            }
            if (v == context) {
                throw new IllegalArgumentException(what + ": visitor=" + visitor.getClass().getName() + " holds the walk's context in field="
                        + f.getName() + "; a visitor runs on the reactors and must not reach the context (SPDK #3630): take it as the "
                        + "argument of fold/complete, on the originator");
            }
        }
    }
}
