//! The soak run as an SVG: p95 latency per operation (log scale), the server's resident memory and its
//! open file descriptors, each against minutes into the run (`plotters`, SVG backend: no fonts or system
//! libraries needed).

use super::soak_report::{Op, Report, Window};
use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// Writes the plot of `report` to `path`.
pub fn draw(report: &Report, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let root = SVGBackend::new(path, (900, 900)).into_drawing_area();
    let fail = |e: &dyn std::error::Error| anyhow!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let panels = root.split_evenly((3, 1));
    let minutes = (report.windows.len() as f64 * report.window_s as f64 / 60.0).max(1.0);
    latency(report, &panels[0], minutes).map_err(|e| fail(&*e))?;
    let memory = |part: fn(&Window) -> Option<f64>| -> Vec<(f64, f64)> {
        report
            .windows
            .iter()
            .filter_map(|w| Some((w.end_s / 60.0, part(w)?)))
            .collect()
    };
    let rss = [
        ("resident (RSS)", memory(|w| w.rss_mib)),
        ("anonymous (heap)", memory(|w| w.anon_mib)),
    ];
    let fds: Vec<(f64, f64)> = report
        .windows
        .iter()
        .filter_map(|w| Some((w.end_s / 60.0, w.fds? as f64)))
        .collect();
    let caption = format!(
        "Server memory (MiB) — {} requests at {} req/s",
        report.requests, report.rate
    );
    lines(&panels[1], &caption, "MiB", &rss, minutes).map_err(|e| fail(&*e))?;
    lines(
        &panels[2],
        "Open file descriptors",
        "fds",
        &[("fds", fds)],
        minutes,
    )
    .map_err(|e| fail(&*e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn latency(report: &Report, area: &DrawingArea<SVGBackend, Shift>, minutes: f64) -> DrawResult {
    let series: Vec<(Op, Vec<(f64, f64)>)> = Op::ALL
        .iter()
        .map(|&op| {
            let points = report
                .windows
                .iter()
                .filter_map(|w| {
                    let o = w.ops.iter().find(|o| o.op == op)?;
                    Some((w.end_s / 60.0, o.p95_ms?))
                })
                .collect();
            (op, points)
        })
        .collect();
    let values = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::MAX, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo = if lo == f64::MAX { 1.0 } else { lo };
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "p95 latency per {} s window (ms, log scale) — {} errors of {}",
                report.window_s, report.errors, report.requests
            ),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..minutes, ((lo * 0.8)..(hi * 1.25)).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("minutes")
        .y_desc("ms")
        .draw()?;
    let named: Vec<(&str, Vec<(f64, f64)>)> =
        series.into_iter().map(|(op, p)| (op.name(), p)).collect();
    draw_named(&mut chart, &named, SeriesLabelPosition::UpperRight)
}

/// Each series as a line in its colour, with a legend when there is more than one.
fn draw_named<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[(&str, Vec<(f64, f64)>)],
    legend: SeriesLabelPosition,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for ((name, points), colour) in series.iter().zip(COLOURS) {
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(legend)
            .draw()?;
    }
    Ok(())
}

/// Named series on a linear axis from zero.
fn lines(
    area: &DrawingArea<SVGBackend, Shift>,
    caption: &str,
    unit: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    minutes: f64,
) -> DrawResult {
    let hi = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.1))
        .fold(1.0f64, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        // From zero: a leak shows as a slope, not as noise blown up by a tight axis.
        .build_cartesian_2d(0.0..minutes, 0.0..hi * 1.15)?;
    chart
        .configure_mesh()
        .x_desc("minutes")
        .y_desc(unit)
        .draw()?;
    draw_named(&mut chart, series, SeriesLabelPosition::LowerRight)
}
