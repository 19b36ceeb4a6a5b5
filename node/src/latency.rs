//! Where a COMMIT's time goes: one histogram per stage of a local commit
//! (flow-control gate, ordering, certification, apply wait, and the whole),
//! for `/metrics` (Prometheus histograms) and SHOW STATUS (means).
//!
//! Recording is a few relaxed atomic adds, so it can stay on the commit
//! path and on the single certification thread; a scrape reads the counts
//! without stopping writers (a scrape that races a record may see the
//! bucket before the sum, which Prometheus tolerates).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (`+Inf` is implied). From
/// 100 µs (a certification step) to 10 s (the default COMMIT deadline).
pub const BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// A histogram with fixed bounds ([`BOUNDS_US`]).
#[derive(Default)]
pub struct Histogram {
    /// Per bucket (not cumulative); the last is `+Inf`.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let i = BOUNDS_US.partition_point(|b| *b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let ns = d.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Mean in microseconds (0 before the first record).
    pub fn mean_us(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        self.sum_ns.load(Ordering::Relaxed) as f64 / n as f64 / 1_000.0
    }

    /// Appends the histogram as Prometheus series `name_bucket{le=..}`,
    /// `name_sum` (seconds) and `name_count`, with `labels` (already
    /// formatted, e.g. `stage="order"`) on every series.
    fn render_series(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, n) in self.buckets.iter().enumerate() {
            cumulative += n.load(Ordering::Relaxed);
            let le = match BOUNDS_US.get(i) {
                Some(us) => format!("{}", *us as f64 / 1e6),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        // The count is the +Inf bucket, so the two always agree.
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// The stages of a local commit, in the order a COMMIT passes them.
#[derive(Default)]
pub struct CommitLatency {
    /// Waiting for flow control to let the write-set out.
    pub fc_gate: Histogram,
    /// From submitting the write-set until its verdict came back: raft
    /// ordering (and the forward to the leader), the wait in the
    /// certification queue and certification itself.
    pub order: Histogram,
    /// Certifying one write-set (any node's) on the certification thread.
    pub certify: Histogram,
    /// From a positive verdict until this node has applied the write-set.
    pub apply_wait: Histogram,
    /// The whole COMMIT of a transaction that replicated something.
    pub total: Histogram,
}

impl CommitLatency {
    fn stages(&self) -> [(&'static str, &Histogram); 5] {
        [
            ("fc_gate", &self.fc_gate),
            ("order", &self.order),
            ("certify", &self.certify),
            ("apply_wait", &self.apply_wait),
            ("total", &self.total),
        ]
    }

    /// SHOW STATUS rows: the mean of each stage in microseconds since the
    /// node started (`trireme_commit_<stage>_avg_us`) with the number of
    /// timings behind it (`trireme_commit_<stage>_count`: a stage times
    /// what reaches it, e.g. `order` also the commits that then failed
    /// certification, `certify` every node's write-sets), and how many
    /// commits were timed whole.
    pub fn status(&self) -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = self
            .stages()
            .iter()
            .flat_map(|(s, h)| {
                [
                    (format!("trireme_commit_{s}_avg_us"), h.mean_us()),
                    (format!("trireme_commit_{s}_count"), h.count() as f64),
                ]
            })
            .collect();
        v.push(("trireme_commit_timed".into(), self.total.count() as f64));
        v
    }

    /// One Prometheus histogram family, `trireme_commit_stage_seconds`,
    /// with a `stage` label.
    pub fn render(&self, out: &mut String) {
        let name = "trireme_commit_stage_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time a local COMMIT spends per stage (certify: per write-set, any origin)"
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (stage, h) in self.stages() {
            h.render_series(out, name, &format!("stage=\"{stage}\""));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_land_in_the_bucket_of_their_upper_bound() {
        let h = Histogram::default();
        h.record(Duration::from_micros(100)); // le 0.0001
        h.record(Duration::from_micros(101)); // le 0.00025
        h.record(Duration::from_millis(3)); // le 0.005
        h.record(Duration::from_secs(60)); // +Inf
        let mut out = String::new();
        h.render_series(&mut out, "x", "");
        let line = |p: &str| {
            out.lines()
                .find(|l| l.starts_with(p))
                .unwrap_or_else(|| panic!("{p} missing from\n{out}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(line("x_bucket{le=\"0.0001\"}"), "1");
        assert_eq!(line("x_bucket{le=\"0.00025\"}"), "2");
        assert_eq!(line("x_bucket{le=\"0.0025\"}"), "2");
        assert_eq!(line("x_bucket{le=\"0.005\"}"), "3");
        assert_eq!(line("x_bucket{le=\"10\"}"), "3");
        assert_eq!(line("x_bucket{le=\"+Inf\"}"), "4");
        assert_eq!(line("x_count"), "4");
        let sum: f64 = line("x_sum").parse().unwrap();
        assert!((sum - 60.003201).abs() < 1e-9, "{sum}");
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn status_reports_means_per_stage() {
        let c = CommitLatency::default();
        assert_eq!(c.order.mean_us(), 0.0, "no division by zero");
        c.order.record(Duration::from_micros(1_000));
        c.order.record(Duration::from_micros(3_000));
        c.total.record(Duration::from_micros(5_000));
        let s = c.status();
        let get = |k: &str| s.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        assert_eq!(get("trireme_commit_order_avg_us"), Some(2_000.0));
        assert_eq!(get("trireme_commit_fc_gate_avg_us"), Some(0.0));
        assert_eq!(get("trireme_commit_timed"), Some(1.0));
        let mut out = String::new();
        c.render(&mut out);
        assert!(out.contains("# TYPE trireme_commit_stage_seconds histogram"));
        assert!(out
            .lines()
            .any(|l| l == "trireme_commit_stage_seconds_count{stage=\"order\"} 2"));
        assert!(out
            .lines()
            .any(|l| l == "trireme_commit_stage_seconds_bucket{stage=\"total\",le=\"0.005\"} 1"));
    }
}
