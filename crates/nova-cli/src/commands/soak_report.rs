//! What a soak run found: per-window latency percentiles by operation, errors, memory and open files,
//! and the trends that tell drift and leaks from noise (first third of the run against the last third,
//! and a least-squares slope per hour).

use crate::cli::BenchSoakArgs;
use serde::Serialize;

/// An operation of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Search,
    Troubleshoot,
    Ingest,
    Delete,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::Search, Op::Troubleshoot, Op::Ingest, Op::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Op::Search => "search",
            Op::Troubleshoot => "troubleshoot",
            Op::Ingest => "ingest",
            Op::Delete => "delete",
        }
    }
}

/// One finished request: when it finished (seconds into the run), what, how long, whether it succeeded.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at_s: f64,
    pub op: Op,
    pub ms: f64,
    pub ok: bool,
}

/// The server process at one moment.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Probe {
    pub at_s: f64,
    pub rss_mib: f64,
    /// The anonymous part of `rss_mib` (heap, stacks), without the store's file pages.
    pub anon_mib: f64,
    pub fds: usize,
}

/// One operation's latency in one window (successful requests).
#[derive(Debug, Clone, Serialize)]
pub struct OpWindow {
    pub op: Op,
    pub requests: usize,
    pub errors: usize,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// One reporting window.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// Seconds into the run at the window's end.
    pub end_s: f64,
    pub requests: usize,
    pub errors: usize,
    pub ops: Vec<OpWindow>,
    /// The last probe in the window, if any.
    pub rss_mib: Option<f64>,
    pub anon_mib: Option<f64>,
    pub fds: Option<usize>,
}

/// How a series moved over the run.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    /// Median of the first and the last third of the windows.
    pub first_third: f64,
    pub last_third: f64,
    /// `last_third / first_third - 1`, in percent.
    pub change_pct: f64,
    /// Least-squares slope, in the series' unit per hour.
    pub slope_per_hour: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub url: String,
    pub kb: String,
    pub minutes: f64,
    pub rate: f64,
    pub window_s: u64,
    pub requests: usize,
    pub errors: usize,
    pub shed: usize,
    pub error_rate: f64,
    /// Per operation, over the whole run.
    pub overall: Vec<OpWindow>,
    /// p95 latency per operation (windows with at least 5 answers of it).
    pub p95_trend: Vec<(Op, Option<Trend>)>,
    pub rss_trend: Option<Trend>,
    pub anon_trend: Option<Trend>,
    pub fds_trend: Option<Trend>,
    pub rss_mib_min_max: Option<(f64, f64)>,
    pub fds_min_max: Option<(usize, usize)>,
    pub windows: Vec<Window>,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    nova_core::percentile(sorted, p)
}

fn op_window(op: Op, samples: &[&Sample]) -> OpWindow {
    let mut ms: Vec<f64> = samples
        .iter()
        .filter(|s| s.op == op && s.ok)
        .map(|s| s.ms)
        .collect();
    ms.sort_by(f64::total_cmp);
    OpWindow {
        op,
        requests: samples.iter().filter(|s| s.op == op).count(),
        errors: samples.iter().filter(|s| s.op == op && !s.ok).count(),
        p50_ms: percentile(&ms, 0.50),
        p95_ms: percentile(&ms, 0.95),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5).unwrap_or(f64::NAN)
}

/// The trend of `(seconds, value)` points; `None` with fewer than 3 points.
pub fn trend(points: &[(f64, f64)]) -> Option<Trend> {
    if points.len() < 3 {
        return None;
    }
    let third = points.len() / 3;
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let first_third = median(&values[..third.max(1)]);
    let last_third = median(&values[values.len() - third.max(1)..]);
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        values.iter().sum::<f64>() / n,
    );
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let slope_per_s = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    Some(Trend {
        first_third,
        last_third,
        change_pct: (last_third / first_third - 1.0) * 100.0,
        slope_per_hour: slope_per_s * 3600.0,
    })
}

pub fn summarise(
    samples: &[Sample],
    probes: &[Probe],
    shed: usize,
    args: &BenchSoakArgs,
) -> Report {
    let width = args.window as f64;
    let end = samples
        .iter()
        .map(|s| s.at_s)
        .chain(probes.iter().map(|p| p.at_s))
        .fold(0.0, f64::max);
    let count = (end / width).ceil().max(1.0) as usize;
    let windows: Vec<Window> = (0..count)
        .map(|i| {
            let (from, to) = (i as f64 * width, (i + 1) as f64 * width);
            let inside: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.at_s >= from && s.at_s < to)
                .collect();
            let probe = probes.iter().rfind(|p| p.at_s >= from && p.at_s < to);
            Window {
                end_s: to,
                requests: inside.len(),
                errors: inside.iter().filter(|s| !s.ok).count(),
                ops: Op::ALL.iter().map(|&op| op_window(op, &inside)).collect(),
                rss_mib: probe.map(|p| p.rss_mib),
                anon_mib: probe.map(|p| p.anon_mib),
                fds: probe.map(|p| p.fds),
            }
        })
        .collect();
    let all: Vec<&Sample> = samples.iter().collect();
    let errors = samples.iter().filter(|s| !s.ok).count();
    let p95_trend = Op::ALL
        .iter()
        .map(|&op| {
            let points: Vec<(f64, f64)> = windows
                .iter()
                .filter_map(|w| {
                    let o = w.ops.iter().find(|o| o.op == op)?;
                    (o.requests - o.errors >= 5)
                        .then_some(())
                        .and(o.p95_ms.map(|p| (w.end_s, p)))
                })
                .collect();
            (op, trend(&points))
        })
        .collect();
    let rss: Vec<(f64, f64)> = probes.iter().map(|p| (p.at_s, p.rss_mib)).collect();
    let anon: Vec<(f64, f64)> = probes.iter().map(|p| (p.at_s, p.anon_mib)).collect();
    let fds: Vec<(f64, f64)> = probes.iter().map(|p| (p.at_s, p.fds as f64)).collect();
    Report {
        url: args.url.clone(),
        kb: args.kb.clone(),
        minutes: args.minutes,
        rate: args.rate,
        window_s: args.window,
        requests: samples.len(),
        errors,
        shed,
        error_rate: errors as f64 / samples.len().max(1) as f64,
        overall: Op::ALL.iter().map(|&op| op_window(op, &all)).collect(),
        p95_trend,
        rss_trend: trend(&rss),
        anon_trend: trend(&anon),
        fds_trend: trend(&fds),
        rss_mib_min_max: probes.iter().map(|p| p.rss_mib).fold(None, |m, v| {
            Some(m.map_or((v, v), |(a, b): (f64, f64)| (a.min(v), b.max(v))))
        }),
        fds_min_max: probes.iter().map(|p| p.fds).fold(None, |m, v| {
            Some(m.map_or((v, v), |(a, b): (usize, usize)| (a.min(v), b.max(v))))
        }),
        windows,
    }
}

impl Report {
    /// A few lines for the terminal: totals, each operation's latency and trend, memory and files.
    pub fn verdict(&self) -> String {
        let mut out = format!(
            "{} requests in {:.0} min: {} errors ({:.3} %), {} shed",
            self.requests,
            self.minutes,
            self.errors,
            self.error_rate * 100.0,
            self.shed
        );
        for (o, (_, t)) in self.overall.iter().zip(&self.p95_trend) {
            let fmt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
            out.push_str(&format!(
                "\n  {:<12} {:>6} requests  p50 {:>7} ms  p95 {:>7} ms",
                o.op.name(),
                o.requests,
                fmt(o.p50_ms),
                fmt(o.p95_ms)
            ));
            if let Some(t) = t {
                out.push_str(&format!(
                    "  p95 first third {:.1} → last third {:.1} ms ({:+.1} %)",
                    t.first_third, t.last_third, t.change_pct
                ));
            }
        }
        if let (Some(t), Some((lo, hi))) = (&self.rss_trend, self.rss_mib_min_max) {
            out.push_str(&format!(
                "\n  RSS {lo:.0}–{hi:.0} MiB; first third {:.1} → last third {:.1} MiB ({:+.1} MiB/h fitted)",
                t.first_third, t.last_third, t.slope_per_hour
            ));
        }
        if let Some(t) = &self.anon_trend {
            out.push_str(&format!(
                "\n  anonymous memory (heap) first third {:.1} → last third {:.1} MiB ({:+.1} MiB/h fitted)",
                t.first_third, t.last_third, t.slope_per_hour
            ));
        }
        if let (Some(t), Some((lo, hi))) = (&self.fds_trend, self.fds_min_max) {
            out.push_str(&format!(
                "\n  open files {lo}–{hi}; first third {:.0} → last third {:.0}",
                t.first_third, t.last_third
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_series_has_no_trend_and_a_rising_one_does() {
        let flat: Vec<(f64, f64)> = (0..30).map(|i| (i as f64 * 60.0, 100.0)).collect();
        let t = trend(&flat).unwrap();
        assert_eq!((t.change_pct, t.slope_per_hour), (0.0, 0.0));
        // +1 per minute: +60 per hour, and the last third sits ~20 above the first.
        let rising: Vec<(f64, f64)> = (0..30).map(|i| (i as f64 * 60.0, i as f64)).collect();
        let t = trend(&rising).unwrap();
        assert!((t.slope_per_hour - 60.0).abs() < 1e-9, "{t:?}");
        assert!((t.last_third - t.first_third - 20.0).abs() < 1e-9, "{t:?}");
        assert!(trend(&rising[..2]).is_none());
    }
}
