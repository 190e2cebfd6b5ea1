package io.spindle.examples.rpc;

import io.spindle.examples.rpc.ArgParse.UsageException;

import java.util.ArrayList;
import java.util.List;

/**
 * Python's {@code shlex.split} (POSIX mode) and {@code shlex.quote}, as rpc.py uses them: splitting the command
 * lines it reads from stdin ({@link StdinScript}) and quoting the names {@code print_array} prints
 * ({@link SpindleRpc#print}).
 *
 * <p>Stateless; any thread.
 */
final class PyShlex {
    private PyShlex() {
    }

    /**
     * Python's {@code shlex.split} (POSIX mode): words split at blanks; single quotes keep everything; double
     * quotes keep everything but a backslash before {@code \\ " $ `}; a backslash outside quotes keeps the next
     * character.
     *
     * @throws UsageException for an unclosed quote or a trailing backslash (shlex's messages)
     */
    static List<String> split(String s) throws UsageException {
        List<String> out = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '\'') {
                int j = s.indexOf('\'', i + 1);
                if (j < 0) {
                    throw new UsageException("No closing quotation: " + s);
                }
                w.append(s, i + 1, j);
                i = j;
                inWord = true;
            } else if (ch == '"') {
                int j = i + 1;
                for (; j < s.length() && s.charAt(j) != '"'; j++) {
                    char d = s.charAt(j);
                    if (d == '\\' && j + 1 < s.length() && "\\\"$`\n".indexOf(s.charAt(j + 1)) >= 0) {
                        d = s.charAt(++j);
                    }
                    w.append(d);
                }
                if (j >= s.length()) {
                    throw new UsageException("No closing quotation: " + s);
                }
                i = j;
                inWord = true;
            } else if (ch == '\\') {
                if (i + 1 >= s.length()) {
                    throw new UsageException("No escaped character: " + s);
                }
                w.append(s.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(ch)) {
                if (inWord) {
                    out.add(w.toString());
                    w.setLength(0);
                    inWord = false;
                }
            } else {
                w.append(ch);
                inWord = true;
            }
        }
        if (inWord) {
            out.add(w.toString());
        }
        return out;
    }

    /** Python's {@code shlex.quote}. */
    static String quote(String v) {
        if (v.isEmpty()) {
            return "''";
        }
        if (v.matches("[\\w@%+=:,./-]+")) {
            return v;
        }
        return "'" + v.replace("'", "'\"'\"'") + "'";
    }
}
