//! The metrics in Prometheus's text exposition format (version 0.0.4), as served on
//! `/metrics`. Every family has its `# HELP` and `# TYPE`; label values are escaped;
//! durations are in seconds and counters end in `_total`, as Prometheus names them.

use super::histogram::Histogram;
use super::state::MetricsState;
use crate::plugin::FailureKind;
use std::fmt::Write as _;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric.
pub fn render(state: &MetricsState) -> String {
    let mut out = Exposition::default();
    let totals = &state.totals;
    let pipeline = state.run.as_ref().map_or("", |r| r.pipeline.as_str());

    out.family("sluice_info", "gauge", "The pipeline this process runs.");
    out.sample(
        "sluice_info",
        &[
            ("pipeline", pipeline),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
        1.0,
    );
    if let Some(run) = &state.run {
        out.family(
            "sluice_start_time_seconds",
            "gauge",
            "When the run started, in seconds since the Unix epoch.",
        );
        out.sample(
            "sluice_start_time_seconds",
            &[],
            run.started_ms as f64 / 1e3,
        );
    }
    out.family(
        "sluice_batch_interval_seconds",
        "gauge",
        "The batch interval: a stream keeps up while batches take less.",
    );
    out.sample(
        "sluice_batch_interval_seconds",
        &[],
        state.interval_ms() as f64 / 1e3,
    );
    out.counter("sluice_batches_total", "Batches completed.", totals.batches);
    out.counter(
        "sluice_batches_failed_total",
        "Batches that failed (their output was not written).",
        totals.failed,
    );
    out.family(
        "sluice_batches_active",
        "gauge",
        "Batches cut and not completed: waiting, or being processed.",
    );
    out.sample("sluice_batches_active", &[], state.active_batches() as f64);
    if let Some(last) = totals.last_batch_ms {
        out.family(
            "sluice_last_batch_time_seconds",
            "gauge",
            "The batch time of the newest completed batch, in seconds since the Unix epoch.",
        );
        out.sample("sluice_last_batch_time_seconds", &[], last as f64 / 1e3);
    }
    out.histogram(
        "sluice_batch_scheduling_delay_seconds",
        "From a batch's time to the start of its processing.",
        &totals.scheduling_delay,
    );
    out.histogram(
        "sluice_batch_processing_seconds",
        "From the start of a batch's processing to the end of its last sink.",
        &totals.processing_time,
    );
    out.histogram(
        "sluice_batch_total_delay_seconds",
        "Scheduling delay plus processing time.",
        &totals.total_delay,
    );

    let sources = state.run.as_ref().map_or(&[][..], |r| &r.sources[..]);
    out.family(
        "sluice_records_received_total",
        "counter",
        "Records that entered batches, per source.",
    );
    for (i, source) in sources.iter().enumerate() {
        let n = totals.records_in.get(i).copied().unwrap_or(0);
        out.sample(
            "sluice_records_received_total",
            &[("source", source.name())],
            n as f64,
        );
    }
    out.counter(
        "sluice_records_written_total",
        "Records written to sinks.",
        totals.records_out,
    );
    out.counter(
        "sluice_dead_letters_total",
        "Records set aside instead of failing their batch.",
        totals.dead_letters,
    );
    out.family(
        "sluice_receiver_records_per_second",
        "gauge",
        "Records per second of batch time that entered the newest batch, per source.",
    );
    let interval_secs = state.interval_ms() as f64 / 1e3;
    for (i, source) in sources.iter().enumerate() {
        let n = state
            .history
            .last()
            .and_then(|b| b.report.records_in.get(i).copied())
            .unwrap_or(0);
        out.sample(
            "sluice_receiver_records_per_second",
            &[("source", source.name())],
            n as f64 / interval_secs,
        );
    }
    out.family(
        "sluice_receiver_rate_limit_records_per_second",
        "gauge",
        "The rate a source may take records at now (max_rate and backpressure); +Inf for none.",
    );
    for source in sources {
        out.sample(
            "sluice_receiver_rate_limit_records_per_second",
            &[("source", source.name())],
            source.limit().current().unwrap_or(f64::INFINITY),
        );
    }

    out.family(
        "sluice_stage_records_total",
        "counter",
        "Records each stage emitted.",
    );
    for stage in &totals.stages {
        out.sample(
            "sluice_stage_records_total",
            &[("stage", &stage.name)],
            stage.records_out as f64,
        );
    }
    out.family(
        "sluice_stage_seconds_total",
        "counter",
        "Time spent in each stage, summed over partitions.",
    );
    for stage in &totals.stages {
        out.sample(
            "sluice_stage_seconds_total",
            &[("stage", &stage.name)],
            stage.time.as_secs_f64(),
        );
    }

    out.family(
        "sluice_plugin_version_info",
        "gauge",
        "The version (content hash) each plugin's stages call now.",
    );
    for (plugin, version, _) in &totals.swaps {
        out.sample(
            "sluice_plugin_version_info",
            &[("plugin", plugin), ("version", version)],
            1.0,
        );
    }
    out.family(
        "sluice_plugin_calls_total",
        "counter",
        "Calls into each plugin version (one per partition per stage per batch).",
    );
    for p in &totals.plugins {
        let labels = [("plugin", p.plugin.as_str()), ("version", &p.version)];
        out.sample("sluice_plugin_calls_total", &labels, p.counts.calls as f64);
    }
    out.family(
        "sluice_plugin_call_seconds_total",
        "counter",
        "Time spent in calls into each plugin version, summed over threads.",
    );
    for p in &totals.plugins {
        let labels = [("plugin", p.plugin.as_str()), ("version", &p.version)];
        out.sample(
            "sluice_plugin_call_seconds_total",
            &labels,
            p.counts.time.as_secs_f64(),
        );
    }
    out.family(
        "sluice_plugin_failures_total",
        "counter",
        "Failed calls by kind: failed (the plugin returned an error), panicked, deadline, memory, trapped, protocol.",
    );
    for p in &totals.plugins {
        for kind in FailureKind::ALL {
            let labels = [
                ("plugin", p.plugin.as_str()),
                ("version", &p.version),
                ("kind", kind.label()),
            ];
            let n = p.counts.failures_of(kind);
            out.sample("sluice_plugin_failures_total", &labels, n as f64);
        }
    }
    out.family(
        "sluice_plugin_traps_total",
        "counter",
        "Calls that trapped (every failure kind but failed): the instance was replaced.",
    );
    for p in &totals.plugins {
        let labels = [("plugin", p.plugin.as_str()), ("version", &p.version)];
        let traps: u64 = FailureKind::ALL
            .into_iter()
            .filter(|k| k.is_trap())
            .map(|k| p.counts.failures_of(k))
            .sum();
        out.sample("sluice_plugin_traps_total", &labels, traps as f64);
    }
    out.family(
        "sluice_plugin_swaps_total",
        "counter",
        "Times the version a plugin's stages call changed (swaps and rollbacks).",
    );
    for (plugin, _, swaps) in &totals.swaps {
        out.sample(
            "sluice_plugin_swaps_total",
            &[("plugin", plugin)],
            *swaps as f64,
        );
    }
    out.histogram(
        "sluice_checkpoint_duration_seconds",
        "How long writing a checkpoint took.",
        &totals.checkpoint_duration,
    );
    out.text
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", format_value(value));
    }

    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, "counter", help);
        self.sample(name, &[], value as f64);
    }

    fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) {
        self.family(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        for (bound, count) in histogram.cumulative() {
            let le = format_value(bound);
            self.sample(&bucket, &[("le", &le)], count as f64);
        }
        self.sample(&format!("{name}_sum"), &[], histogram.sum());
        self.sample(&format!("{name}_count"), &[], histogram.count() as f64);
    }
}

/// A sample value: integers without a fraction, infinities as Prometheus spells them.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::sample::two_batches as state;

    #[test]
    fn counters_gauges_and_histograms_are_exposed() {
        let text = render(&state());
        for line in [
            "sluice_info{pipeline=\"wc \\\"demo\\\"\",version=\"0.1.0\"} 1",
            "# TYPE sluice_batches_total counter",
            "sluice_batches_total 2",
            "sluice_batch_interval_seconds 0.5",
            "sluice_last_batch_time_seconds 1001",
            "sluice_records_received_total{source=\"lines\"} 150",
            "sluice_records_written_total 300",
            "sluice_receiver_records_per_second{source=\"lines\"} 100",
            "sluice_receiver_rate_limit_records_per_second{source=\"lines\"} +Inf",
            "sluice_stage_records_total{stage=\"words\"} 1500",
            "sluice_stage_seconds_total{stage=\"words\"} 0.5",
            "sluice_plugin_calls_total{plugin=\"wordcount\",version=\"0123456789ab\"} 8",
            "sluice_plugin_failures_total{plugin=\"wordcount\",version=\"0123456789ab\",kind=\"deadline\"} 2",
            "sluice_plugin_failures_total{plugin=\"wordcount\",version=\"0123456789ab\",kind=\"failed\"} 4",
            "sluice_plugin_traps_total{plugin=\"wordcount\",version=\"0123456789ab\"} 2",
            "sluice_plugin_swaps_total{plugin=\"wordcount\"} 0",
            "sluice_plugin_version_info{plugin=\"wordcount\",version=\"0123456789ab\"} 1",
            "sluice_dead_letters_total 0",
            "# TYPE sluice_batch_processing_seconds histogram",
            "sluice_batch_processing_seconds_bucket{le=\"0.25\"} 0",
            "sluice_batch_processing_seconds_bucket{le=\"0.5\"} 2",
            "sluice_batch_processing_seconds_bucket{le=\"+Inf\"} 2",
            "sluice_batch_processing_seconds_sum 0.6",
            "sluice_batch_processing_seconds_count 2",
            "sluice_checkpoint_duration_seconds_count 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn every_line_is_a_comment_or_a_well_formed_sample() {
        let text = render(&state());
        let mut families = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(families.insert(name.to_string()), "{name} declared twice");
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(
                value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
                "{line}"
            );
            let name = series.split('{').next().unwrap();
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| families.contains(*f)))
                .unwrap_or(name);
            assert!(families.contains(family), "{line} has no # TYPE before it");
        }
    }

    #[test]
    fn values_and_labels_are_spelled_as_prometheus_reads_them() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}
