//! The methods cross-validation compares, their reports, and the hybrid head's score mix — shared by
//! cross-validation and the saved model, so neither has to reach into the other.

use crate::calibrate::softmax_rows;
use crate::metrics::Report;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// A method compared in cross-validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Similarity-weighted kNN on the embeddings.
    Knn,
    /// Multinomial logistic regression on the embeddings.
    Logreg,
    /// Logistic regression on the embeddings and TF-IDF kNN, combined.
    Hybrid,
    /// kNN on TF-IDF vectors of the ticket text (lexical baseline).
    TfidfKnn,
    /// Always the most frequent label (floor).
    Majority,
}

impl Method {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Knn => "knn",
            Self::Logreg => "logreg",
            Self::Hybrid => "hybrid",
            Self::TfidfKnn => "tfidf-knn",
            Self::Majority => "majority",
        }
    }
}

/// One method's cross-validated result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MethodReport {
    /// The method.
    pub method: Method,
    /// Calibration temperature fitted on its out-of-fold predictions.
    pub temperature: f32,
    /// Out-of-fold metrics (calibrated probabilities).
    pub report: Report,
}

/// The hybrid head's scores: the mean of the two calibrated log-probabilities (a geometric mean of
/// the probabilities), so a label must look right both in meaning and in wording to win big.
pub(crate) fn mix(lr: &Array2<f32>, t_lr: f32, tfidf: &Array2<f32>, t_tfidf: f32) -> Array2<f32> {
    let log_p = |logits: &Array2<f32>, t: f32| softmax_rows(logits, t).mapv(|p| p.max(1e-9).ln());
    (log_p(lr, t_lr) + log_p(tfidf, t_tfidf)) * 0.5
}
