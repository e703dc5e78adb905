//! The classifier's error type; each variant keeps its cause as `source` and says its [`Code`].

use nova_core::Code;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = ClassifyError> = std::result::Result<T, E>;

/// Why training, prediction or a model file failed.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// Not enough labelled examples or classes to learn from (the message gives the counts).
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
    #[error("logistic regression failed")]
    Fit(#[source] Box<linfa_logistic::error::Error>),
    /// A model file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// A model file is not valid JSON.
    #[error("{path}: invalid JSON")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A model file parses but does not describe a usable model.
    #[error("{path}: {problem}")]
    BadModel {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Drawing a plot failed (the plotting library's errors are not `Send`, so its message is kept).
    #[error("drawing {path}: {message}")]
    Plot {
        /// The image file.
        path: PathBuf,
        /// What the plotting library said.
        message: String,
    },
}

impl ClassifyError {
    /// The stable code callers branch on.
    pub fn code(&self) -> Code {
        match self {
            Self::NotEnoughData(_) => Code::NotEnoughData,
            Self::Dimension { .. } => Code::InvalidInput,
            Self::Fit(_) => Code::Internal,
            Self::Io { .. } | Self::Json { .. } | Self::BadModel { .. } | Self::Plot { .. } => {
                Code::Io
            }
        }
    }
}
