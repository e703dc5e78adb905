//! Similarity-weighted k-nearest-neighbour vote over unit vectors (cosine = dot product).

use crate::data::Examples;
use ndarray::{Array2, ArrayView2};

/// A fitted kNN head: the training vectors and their classes.
#[derive(Debug, Clone)]
pub struct Knn {
    /// Neighbours that vote.
    pub k: usize,
    /// Training vectors, one row each.
    pub x: Array2<f32>,
    /// Their classes.
    pub y: Vec<usize>,
    /// Number of classes.
    pub n_classes: usize,
}

/// Share of the total vote every class gets for free, so unseen classes keep a finite log-score.
const SMOOTHING: f32 = 1e-3;

impl Knn {
    /// Remembers the examples.
    pub fn fit(ex: &Examples, k: usize) -> Self {
        Self {
            k: k.max(1),
            x: ex.x.clone(),
            y: ex.y.clone(),
            n_classes: ex.classes.len(),
        }
    }

    /// Log of each class's share of the vote, one row per query; each neighbour votes with its cosine
    /// similarity (floored at 0). Calibrate with a temperature before reading them as probabilities.
    pub fn logits(&self, queries: ArrayView2<f32>) -> Array2<f32> {
        let sims = queries.dot(&self.x.t());
        let mut out = Array2::zeros((queries.nrows(), self.n_classes));
        for (row, mut logit) in sims.rows().into_iter().zip(out.rows_mut()) {
            let row = row.to_vec();
            logit.assign(&ndarray::Array1::from(vote(
                &row,
                &self.y,
                self.k,
                self.n_classes,
            )));
        }
        out
    }
}

/// The log vote shares of the `k` most similar training examples (`sims[i]` against example `i`).
pub(crate) fn vote(sims: &[f32], y: &[usize], k: usize, n_classes: usize) -> Vec<f32> {
    let k = k.min(y.len());
    let mut votes = vec![0f32; n_classes];
    if k > 0 {
        let mut order: Vec<usize> = (0..y.len()).collect();
        order.select_nth_unstable_by(k - 1, |a, b| sims[*b].total_cmp(&sims[*a]).then(a.cmp(b)));
        for &i in &order[..k] {
            votes[y[i]] += sims[i].max(0.0);
        }
    }
    let total: f32 = votes.iter().sum::<f32>().max(1e-6);
    let norm = total * (1.0 + SMOOTHING * n_classes as f32);
    votes
        .into_iter()
        .map(|v| ((v + SMOOTHING * total) / norm).ln())
        .collect()
}
