//! The classifier's error type.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = ClassifyError> = std::result::Result<T, E>;

/// Why training, prediction or a model file failed.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// Not enough labelled examples or classes to learn from.
    #[error("cannot train: {0}")]
    NotEnoughData(String),
    /// Vectors of different lengths.
    #[error("embedding dimension mismatch: model expects {expected}, got {got}")]
    Dimension {
        /// What the model was trained on.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// The optimiser failed.
    #[error("logistic regression failed: {0}")]
    Fit(String),
    /// A model file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}
