//! Labelled examples and stratified fold assignment.

use crate::error::{ClassifyError, Result};
use ndarray::Array2;
use sha2::{Digest, Sha256};

/// Unit-length vectors with a class index each; `classes` are the sorted label names.
#[derive(Debug, Clone)]
pub struct Examples {
    /// One row per example.
    pub x: Array2<f32>,
    /// Class index per row (into `classes`).
    pub y: Vec<usize>,
    /// Label names, sorted.
    pub classes: Vec<String>,
}

impl Examples {
    /// Examples from vectors and their labels; needs at least two classes and equal dimensions.
    pub fn new(vectors: &[Vec<f32>], labels: &[String]) -> Result<Self> {
        if vectors.len() != labels.len() {
            return Err(ClassifyError::NotEnoughData(format!(
                "{} vectors but {} labels",
                vectors.len(),
                labels.len()
            )));
        }
        let dim = vectors.first().map_or(0, Vec::len);
        if let Some(bad) = vectors.iter().find(|v| v.len() != dim) {
            return Err(ClassifyError::Dimension {
                expected: dim,
                got: bad.len(),
            });
        }
        let mut classes: Vec<String> = labels.to_vec();
        classes.sort();
        classes.dedup();
        if classes.len() < 2 {
            return Err(ClassifyError::NotEnoughData(format!(
                "{} labelled examples in {} class(es); at least two classes are needed",
                labels.len(),
                classes.len()
            )));
        }
        let y = labels
            .iter()
            .map(|l| classes.binary_search(l).unwrap_or_default())
            .collect();
        let flat: Vec<f32> = vectors.iter().flatten().copied().collect();
        let x = Array2::from_shape_vec((vectors.len(), dim), flat)
            .map_err(|e| ClassifyError::NotEnoughData(e.to_string()))?;
        Ok(Self { x, y, classes })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// No examples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The rows at `idx`, same classes.
    pub fn subset(&self, idx: &[usize]) -> Self {
        Self {
            x: self.x.select(ndarray::Axis(0), idx),
            y: idx.iter().map(|&i| self.y[i]).collect(),
            classes: self.classes.clone(),
        }
    }

    /// sha256 of the labels and vector bytes: names the exact data a model was trained on.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        for (row, &y) in self.x.rows().into_iter().zip(&self.y) {
            h.update(self.classes[y].as_bytes());
            h.update([0u8]);
            for v in row {
                h.update(v.to_le_bytes());
            }
        }
        format!("{:x}", h.finalize())
    }

    /// Examples per class, in class order.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &y in &self.y {
            counts[y] += 1;
        }
        counts
    }
}

/// SplitMix64: a tiny seeded generator, so folds are the same on every machine and version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Fold number (0..k) per example: each class is shuffled with `seed` and dealt round-robin, continuing
/// where the previous class stopped so folds stay equal in size.
pub fn stratified_folds(y: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    let n_classes = y.iter().max().map_or(0, |m| m + 1);
    let mut rng = SplitMix(seed);
    let mut folds = vec![0; y.len()];
    let mut next = 0;
    for class in 0..n_classes {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        rng.shuffle(&mut idx);
        for i in idx {
            folds[i] = next % k;
            next += 1;
        }
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_balanced_and_seeded() {
        let y: Vec<usize> = (0..100).map(|i| usize::from(i % 10 == 0)).collect();
        let a = stratified_folds(&y, 5, 42);
        assert_eq!(a, stratified_folds(&y, 5, 42));
        assert_ne!(a, stratified_folds(&y, 5, 7));
        for f in 0..5 {
            let members: Vec<usize> = (0..100).filter(|&i| a[i] == f).collect();
            assert_eq!(members.len(), 20);
            assert_eq!(members.iter().filter(|&&i| y[i] == 1).count(), 2);
        }
    }

    #[test]
    fn one_class_is_refused() {
        let err = Examples::new(&[vec![1.0], vec![0.5]], &["a".into(), "a".into()]);
        assert!(matches!(err, Err(ClassifyError::NotEnoughData(_))));
    }
}
