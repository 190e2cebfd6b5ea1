package io.spindle.examples.bdevperf;

import io.spindle.examples.bdevperf.BdevPerfOptions.UsageException;
import io.spindle.examples.bdevperf.BdevPerfOptions.Workload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * bdevperf's {@code -j} job file, read as SPDK's bdevperf reads it ({@code read_job_config}, the INI dialect of SPDK's
 * {@code lib/conf}): sections {@code [name]} in file order, {@code key=value} or {@code key value} lines, {@code #}
 * comments, a trailing {@code \} joins the next line. Each {@code [global]} section starts from the defaults again
 * and sets the defaults of the job sections that follow it; a job section takes what it does not set from the
 * {@code [global]} above it. The command line's {@code -q -o -M -w -T} override every {@code [global]} (not what a job
 * section sets itself).
 *
 * <p>Keys: {@code filename} (bdevs separated by {@code :}; every job section needs one), {@code cpumask},
 * {@code bs}, {@code iodepth}, {@code rwmixread} (default 50), {@code offset} and {@code length} (blocks; length 0
 * = to the end), {@code rw}. A job section needs {@code bs}, {@code iodepth} and {@code rw}, from itself or its
 * {@code [global]}. Unknown keys are ignored, as SPDK does.
 *
 * <p>Stateless; any thread.
 */
final class JobFile {
    /** One job section: its parameters and the bdevs it runs on (one job each). */
    record Section(JobParams params, List<String> filenames) {
    }

    private JobFile() {
    }

    /** Reads and checks {@code file}; errors name the file, the job and the key. */
    static List<Section> read(Path file, BdevPerfOptions cli) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UsageException("-j " + file + ": cannot read: " + e.getMessage());
        }
        return parse(file.toString(), lines, cli);
    }

    static List<Section> parse(String where, List<String> lines, BdevPerfOptions cli) {
        List<String> names = new ArrayList<>();
        List<Map<String, String>> sections = new ArrayList<>();
        Map<String, String> cur = null;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            int lineNo = i + 1;
            while (line.endsWith("\\") && i + 1 < lines.size()) {
                line = line.substring(0, line.length() - 1) + lines.get(++i).strip();
            }
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("[")) {
                int end = line.indexOf(']');
                if (end < 0 || end != line.length() - 1 || end == 1) {
                    throw new UsageException("-j " + where + ": line " + lineNo + ": broken section header " + line + " (expected [name])");
                }
                names.add(line.substring(1, end).strip());
                cur = new LinkedHashMap<>();
                sections.add(cur);
                continue;
            }
            if (cur == null) {
                throw new UsageException("-j " + where + ": line " + lineNo + ": " + line + " is outside any section (start with [global] or [job])");
            }
            int k = 0;
            while (k < line.length() && " \t=".indexOf(line.charAt(k)) < 0) {
                k++;
            }
            String key = line.substring(0, k);
            String rest = line.substring(k).replaceFirst("^[ \\t]*=?[ \\t]*", "");
            String value = rest.isEmpty() ? null : rest.split("[ \\t]+")[0];
            if (value != null) {
                cur.putIfAbsent(key, value); // SPDK reads a key's first occurrence; a key without a value counts as absent
            }
        }
        Defaults global = Defaults.of(cli);
        List<Section> out = new ArrayList<>();
        for (int s = 0; s < sections.size(); s++) {
            String name = names.get(s);
            Map<String, String> kv = sections.get(s);
            boolean isGlobal = name.equals("global");
            Defaults base = isGlobal ? Defaults.of(cli) : global;
            String what = "-j " + where + ": job '" + name + "'";
            String filename = kv.getOrDefault("filename", null);
            if (filename == null) {
                filename = base.filename;
            }
            if (!isGlobal && (filename == null || filename.isBlank())) {
                throw new UsageException(what + " expects a 'filename' parameter (bdevs separated by ':')");
            }
            String cpumask = kv.containsKey("cpumask") ? kv.get("cpumask") : base.cpumask;
            if (cpumask != null) {
                try {
                    io.spindle.runtime.CoreMask.parse(cpumask);
                } catch (IllegalArgumentException e) {
                    throw new UsageException(what + " has a bad 'cpumask' value " + cpumask + ": " + e.getMessage());
                }
            }
            Long bs = number(what, kv, "bs", base.bs);
            Long depth = number(what, kv, "iodepth", base.iodepth);
            Long mix = number(what, kv, "rwmixread", base.rwmixread);
            Long offset = number(what, kv, "offset", base.offset);
            Long length = number(what, kv, "length", base.length);
            Workload rw = base.rw;
            if (kv.containsKey("rw")) {
                String v = kv.get("rw");
                try {
                    rw = Workload.parse(v == null ? "" : v);
                } catch (UsageException e) {
                    throw new UsageException(what + " has a bad 'rw' value " + v + "; allowed: " + Workload.allowed());
                }
            }
            if (bs != null && (bs == 0 || bs > BdevPerfOptions.MAX_IO_SIZE)) {
                throw new UsageException(what + ": 'bs' " + bs + " must be 1.." + BdevPerfOptions.MAX_IO_SIZE);
            }
            if (depth != null && (depth == 0 || depth > BdevPerfOptions.MAX_QUEUE_DEPTH)) {
                throw new UsageException(what + ": 'iodepth' " + depth + " must be 1.." + BdevPerfOptions.MAX_QUEUE_DEPTH);
            }
            if (mix != null && mix > 100) {
                throw new UsageException(what + ": 'rwmixread' " + mix + " is not in the 0-100 range");
            }
            if (isGlobal) {
                Defaults g = new Defaults(filename, cpumask, bs, depth, mix, offset, length, rw);
                global = g.withCli(cli); // the command line overrides [global], as SPDK's config_set_cli_args
                continue;
            }
            if (bs == null) {
                throw new UsageException(what + " has no 'bs' assigned (in the job or its [global], or -o)");
            }
            if (depth == null) {
                throw new UsageException(what + " has no 'iodepth' assigned (in the job or its [global], or -q)");
            }
            if (rw == null) {
                throw new UsageException(what + " has no 'rw' assigned (in the job or its [global], or -w)");
            }
            List<String> bdevs = new ArrayList<>();
            for (String f : filename.split(":")) {
                String b = f.replace(" ", "").replace("\t", "");
                if (!b.isEmpty()) {
                    bdevs.add(b);
                }
            }
            if (bdevs.isEmpty()) {
                throw new UsageException(what + " expects a 'filename' parameter (bdevs separated by ':')");
            }
            out.add(new Section(new JobParams(name, rw, (int) (long) depth, bs, (int) (long) mix, offset, length, cpumask), bdevs));
        }
        return out;
    }

    /** A non-negative integer key of the section, else {@code def}; a bad value names the job and the key. */
    private static Long number(String what, Map<String, String> kv, String key, Long def) {
        if (!kv.containsKey(key)) {
            return def;
        }
        String v = kv.get(key);
        try {
            long n = Long.parseLong(v == null ? "" : v.trim());
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException(what + " has a bad '" + key + "' value " + v + " (a non-negative integer)");
        }
    }

    /** The values a job section falls back on: SPDK's {@code global_config}. */
    private record Defaults(String filename, String cpumask, Long bs, Long iodepth, Long rwmixread, Long offset, Long length, Workload rw) {
        /** SPDK's {@code global_default_config}, with the command line applied. */
        static Defaults of(BdevPerfOptions cli) {
            return new Defaults(null, null, null, null, 50L, 0L, 0L, null).withCli(cli);
        }

        Defaults withCli(BdevPerfOptions cli) {
            return new Defaults(cli.given("-T") ? cli.target() : filename, cpumask, cli.given("-o") ? Long.valueOf(cli.ioSize()) : bs,
                    cli.given("-q") ? Long.valueOf(cli.queueDepth()) : iodepth,
                    cli.given("-M") && cli.rwMixRead() > 0 ? Long.valueOf(cli.rwMixRead()) : rwmixread, offset, length,
                    cli.given("-w") && cli.workload() != null ? cli.workload() : rw);
        }
    }
}
