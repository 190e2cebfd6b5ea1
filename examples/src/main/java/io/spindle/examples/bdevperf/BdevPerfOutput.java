package io.spindle.examples.bdevperf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * bdevperf's result files: {@code --json-out} (the shape of SPDK's {@code perform_tests} result) and
 * {@code --plot} (each job's latency percentile curve, a PNG drawn with XChart).
 *
 * <p>Threads: bdevperf's main thread, after the run. Stateless.
 */
final class BdevPerfOutput {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BdevPerfOutput() {
    }

    /**
     * SPDK's {@code perform_tests} result ({@code bdevperf_test_done} / {@code performance_dump_job_json}):
     * {@code {"results": [{job, core_mask, workload, [percentage,] status, [verify_range,] queue_depth, io_size, runtime,
     * iops, mibps, io_failed, io_timeout, avg_latency_us, min_latency_us, max_latency_us}], "core_count": n}}.
     */
    static ObjectNode resultJson(List<BdevPerf.Row> rows, int coreCount) {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode results = root.putArray("results");
        for (BdevPerf.Row r : rows) {
            job(results.addObject(), r);
        }
        root.put("core_count", coreCount);
        return root;
    }

    private static ObjectNode job(ObjectNode o, BdevPerf.Row r) {
        BdevPerfJob.Snapshot s = r.s();
        JobParams p = r.p();
        o.put("job", r.name());
        o.put("core_mask", r.coreMask());
        o.put("workload", p.workload().flag());
        if (p.workload().mixed()) {
            o.put("percentage", p.rwMixRead());
        }
        o.put("status", r.status());
        if (r.verifyRange() != null) {
            ObjectNode v = o.putObject("verify_range");
            v.put("start", r.verifyRange()[0]);
            v.put("length", r.verifyRange()[1]);
        }
        o.put("queue_depth", p.queueDepth());
        o.put("io_size", p.ioSize());
        double sec = s.elapsedNanos() / 1e9;
        double iops = sec > 0 ? s.ios() / sec : 0;
        long count = s.ios() + s.failed();
        o.put("runtime", sec);
        o.put("iops", iops);
        o.put("mibps", iops * p.ioSize() / (1 << 20));
        o.put("io_failed", s.failed());
        o.put("io_timeout", s.timedOut());
        o.put("avg_latency_us", count > 0 ? s.latencySumNanos() / 1e3 / count : 0);
        o.put("min_latency_us", s.latencyMinNanos() / 1e3);
        o.put("max_latency_us", s.latencyMaxNanos() / 1e3);
        return o;
    }

    /** {@code --json-out}: {@link #resultJson} plus each job's HdrHistogram percentiles ({@code latency_percentiles_us}). */
    static void writeJson(BdevPerfOptions opts, List<BdevPerf.Row> rows, Path file, int coreCount) throws IOException {
        ObjectNode root = resultJson(rows, coreCount);
        ArrayNode results = (ArrayNode) root.get("results");
        for (int i = 0; i < rows.size(); i++) {
            Histogram h = rows.get(i).s().latency();
            if (h != null && h.getTotalCount() > 0) {
                ObjectNode p = ((ObjectNode) results.get(i)).putObject("latency_percentiles_us");
                for (double q : new double[] {50, 90, 99, 99.9, 99.99}) {
                    p.put(String.format(Locale.ROOT, "p%s", q == Math.rint(q) ? String.valueOf((long) q) : String.valueOf(q)),
                            h.getValueAtPercentile(q) / 1e3);
                }
            }
        }
        Files.write(file, JSON.writeValueAsBytes(root));
    }

    /**
     * Latency against percentile for each job, HdrHistogram's classic plot: the x axis counts the nines of the
     * percentile, -log10(1-q) (0 = the median's left end, 1 = p90, 2 = p99, 3 = p99.9, 4 = p99.99), the y axis is
     * latency in µs on a log scale.
     *
     * @throws IOException when the file cannot be written; jobs without a recorded histogram are left out
     */
    static void plot(BdevPerfOptions opts, List<BdevPerf.Row> rows, Path file) throws IOException {
        XYChart chart = new XYChartBuilder().width(1000).height(600)
                .title("bdevperf " + (opts.workload() != null ? opts.workload().flag() + ", QD " + opts.queueDepth() + ", " + opts.ioSize() + " B: " : "")
                        + "latency by percentile")
                .xAxisTitle("percentile, in nines: 1 = p90, 2 = p99, 3 = p99.9, 4 = p99.99").yAxisTitle("latency (us)").build();
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setMarkerSize(0);
        int series = 0;
        for (BdevPerf.Row r : rows) {
            Histogram h = r.s().latency();
            if (h == null || h.getTotalCount() == 0) {
                continue;
            }
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (HistogramIterationValue v : h.percentiles(5)) {
                double q = v.getPercentileLevelIteratedTo() / 100.0;
                if (q >= 1.0) {
                    break;
                }
                x.add(-Math.log10(1 - q));
                y.add(Math.max(0.001, v.getValueIteratedTo() / 1e3));
            }
            if (x.isEmpty()) {
                continue;
            }
            String name = r.name() + (r.coreMask() != null ? " (" + r.coreMask() + ")" : "");
            for (int n = 2; chart.getSeriesMap().containsKey(name); n++) {
                name = r.name() + " #" + n;
            }
            chart.addSeries(name, x, y).setMarker(SeriesMarkers.NONE);
            series++;
        }
        if (series == 0) {
            throw new IOException("no job recorded latencies to plot");
        }
        String f = file.toString();
        BitmapEncoder.saveBitmap(chart, f.substring(0, f.length() - ".png".length()), BitmapEncoder.BitmapFormat.PNG);
    }
}
