//! The confusion matrix as an SVG heat map (`plotters`, SVG backend: no fonts or system libraries).

use crate::error::{ClassifyError, Result};
use crate::metrics::Report;
use plotters::prelude::*;
use std::path::Path;

/// Draws `report`'s confusion matrix, each row shaded by its share of the true label, to `path`.
pub fn confusion_svg(report: &Report, title: &str, path: &Path) -> Result<()> {
    let err = |e: &dyn std::error::Error| ClassifyError::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let n = report.confusion.len();
    let cell = 56u32;
    let margin = 240u32;
    let size = (margin + cell * n as u32 + 40, margin + cell * n as u32 + 20);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let labels: Vec<String> = report.per_class.iter().map(|m| m.label.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(margin - 60)
        .y_label_area_size(margin - 20)
        // Cells are centred on whole numbers so each tick label sits under (or beside) its cell.
        .build_cartesian_2d(-0.5..n as f64 - 0.5, -0.5..n as f64 - 0.5)
        .map_err(|e| err(&e))?;
    // Only whole-number ticks carry a label; row labels count from the top.
    let name = |v: f64, from_top: bool| {
        let i = v.round();
        if (v - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        let i = i as usize;
        let i = if from_top {
            n.checked_sub(1 + i)
        } else {
            Some(i)
        };
        i.and_then(|i| labels.get(i).cloned()).unwrap_or_default()
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n)
        .y_labels(n)
        .x_label_formatter(&|v| name(*v, false))
        .y_label_formatter(&|v| name(*v, true))
        .x_label_style(
            ("sans-serif", 12)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .x_desc("predicted")
        .y_desc("true")
        .draw()
        .map_err(|e| err(&e))?;
    for (t, row) in report.confusion.iter().enumerate() {
        let total: usize = row.iter().sum();
        for (p, &count) in row.iter().enumerate() {
            let share = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            // White (0) to deep blue (1).
            let shade = |full: u8| (255.0 - (255.0 - f64::from(full)) * share) as u8;
            let colour = RGBColor(shade(8), shade(48), shade(107));
            let (x, y) = (p as f64, (n - 1 - t) as f64);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                    colour.filled(),
                )))
                .map_err(|e| err(&e))?;
            let ink = if share > 0.5 { WHITE } else { BLACK };
            chart
                .draw_series(std::iter::once(Text::new(
                    count.to_string(),
                    (x - 0.2, y + 0.15),
                    ("sans-serif", 13).into_font().color(&ink),
                )))
                .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
