//! Accuracy, macro-F1, per-class precision/recall/F1, the confusion matrix and the coverage/accuracy
//! trade-off of a confidence threshold.

use crate::calibrate::argmax;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One class's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClassMetrics {
    /// Label.
    pub label: String,
    /// Of the tickets predicted as this label, the share that had it.
    pub precision: f64,
    /// Of the tickets with this label, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Tickets with this label.
    pub support: usize,
}

/// At one confidence threshold: how many tickets are routed automatically and how many of those are right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoveragePoint {
    /// Minimum top probability to route without a human.
    pub threshold: f64,
    /// Share of tickets at or above it.
    pub coverage: f64,
    /// Accuracy on those tickets.
    pub accuracy: f64,
}

/// How well predictions match the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    /// Tickets scored.
    pub n: usize,
    /// Share predicted right.
    pub accuracy: f64,
    /// Unweighted mean F1 over the labels that occur in the truth or the predictions.
    pub macro_f1: f64,
    /// Expected calibration error of the top probability (10 bins).
    pub ece: f64,
    /// Per label, in label order.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]` counts, in label order.
    pub confusion: Vec<Vec<usize>>,
    /// Coverage and accuracy at thresholds 0.0, 0.1, …, 0.9.
    pub coverage: Vec<CoveragePoint>,
}

impl Report {
    /// Scores class probabilities `probs` (one row per ticket) against the true classes `y`.
    pub fn new(probs: &Array2<f32>, y: &[usize], classes: &[String]) -> Self {
        let c = classes.len();
        let mut confusion = vec![vec![0usize; c]; c];
        let mut tops = Vec::with_capacity(y.len());
        for (row, &truth) in probs.rows().into_iter().zip(y) {
            let (pred, p) = argmax(&row.to_vec());
            confusion[truth][pred] += 1;
            tops.push((p, pred == truth));
        }
        let n = y.len();
        let correct: usize = (0..c).map(|i| confusion[i][i]).sum();
        let per_class: Vec<ClassMetrics> = (0..c)
            .map(|i| {
                let tp = confusion[i][i] as f64;
                let support: usize = confusion[i].iter().sum();
                let predicted: usize = confusion.iter().map(|r| r[i]).sum();
                let precision = ratio(tp, predicted as f64);
                let recall = ratio(tp, support as f64);
                ClassMetrics {
                    label: classes[i].clone(),
                    precision,
                    recall,
                    f1: ratio(2.0 * precision * recall, precision + recall),
                    support,
                }
            })
            .collect();
        // As scikit-learn: labels present in the truth or the predictions.
        let present: Vec<&ClassMetrics> = per_class
            .iter()
            .enumerate()
            .filter(|(i, m)| m.support > 0 || confusion.iter().any(|r| r[*i] > 0))
            .map(|(_, m)| m)
            .collect();
        let macro_f1 = ratio(present.iter().map(|m| m.f1).sum(), present.len() as f64);
        let coverage = (0..10)
            .map(|t| {
                let threshold = f64::from(t) / 10.0;
                let kept: Vec<bool> = tops
                    .iter()
                    .filter(|(p, _)| *p >= threshold as f32)
                    .map(|(_, ok)| *ok)
                    .collect();
                CoveragePoint {
                    threshold,
                    coverage: ratio(kept.len() as f64, n as f64),
                    accuracy: ratio(
                        kept.iter().filter(|&&ok| ok).count() as f64,
                        kept.len() as f64,
                    ),
                }
            })
            .collect();
        Self {
            n,
            accuracy: ratio(correct as f64, n as f64),
            macro_f1,
            ece: crate::calibrate::ece(probs, y),
            per_class,
            confusion,
            coverage,
        }
    }

    /// Per-class precision/recall/F1 as an aligned text table.
    pub fn class_table(&self) -> String {
        let width = self.label_width();
        let mut out = format!(
            "{:<width$}  {:>9}  {:>6}  {:>6}  {:>7}\n",
            "label", "precision", "recall", "f1", "support"
        );
        for m in &self.per_class {
            let _ = writeln!(
                out,
                "{:<width$}  {:>9.3}  {:>6.3}  {:>6.3}  {:>7}",
                m.label, m.precision, m.recall, m.f1, m.support
            );
        }
        out
    }

    /// The confusion matrix as a text table (rows: true label, columns: predicted, numbered as the rows).
    pub fn confusion_table(&self) -> String {
        let width = self.label_width();
        let mut out = format!("{:<width$}", "true \\ predicted");
        for i in 0..self.per_class.len() {
            let _ = write!(out, " {:>5}", format!("[{}]", i + 1));
        }
        out.push('\n');
        for (i, row) in self.confusion.iter().enumerate() {
            let name = format!("[{}] {}", i + 1, self.per_class[i].label);
            let _ = write!(out, "{name:<width$}");
            for v in row {
                let _ = write!(out, " {v:>5}");
            }
            out.push('\n');
        }
        out
    }

    /// Coverage/accuracy per threshold as a text table.
    pub fn coverage_table(&self) -> String {
        let mut out = String::from("threshold  coverage  accuracy\n");
        for p in &self.coverage {
            let _ = writeln!(
                out,
                "{:>9.1}  {:>8.3}  {:>8.3}",
                p.threshold, p.coverage, p.accuracy
            );
        }
        out
    }

    fn label_width(&self) -> usize {
        self.per_class
            .iter()
            .map(|m| m.label.chars().count() + 5)
            .max()
            .unwrap_or(0)
            .max(16)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_a_hand_count() {
        // Truth a a b b c; predicted a b b b a.
        let classes = ["a".to_string(), "b".into(), "c".into()];
        let pick = [0usize, 1, 1, 1, 0];
        let probs = Array2::from_shape_fn((5, 3), |(i, j)| if pick[i] == j { 0.9 } else { 0.05 });
        let r = Report::new(&probs, &[0, 0, 1, 1, 2], &classes);
        assert!((r.accuracy - 0.6).abs() < 1e-9);
        assert_eq!(
            r.confusion,
            vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]
        );
        // a: p 1/2 r 1/2 f 0.5; b: p 2/3 r 1 f 0.8; c: 0.
        assert!((r.macro_f1 - (0.5 + 0.8 + 0.0) / 3.0).abs() < 1e-9);
        assert_eq!(r.coverage[9].coverage, 1.0);
        assert!(r.confusion_table().contains("[3] c"));
    }
}
