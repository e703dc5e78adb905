//! The store's error type.

use nova_core::Code;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening or creating the shard on disk failed.
    #[error("opening store at {path}: {message}")]
    Open {
        /// Shard folder.
        path: PathBuf,
        /// What the shard reported.
        message: String,
    },
    /// A vector has the wrong number of dimensions.
    #[error("vector has {got} dimensions, the store expects {expected}")]
    Dimension {
        /// Configured dimension.
        expected: usize,
        /// Received dimension.
        got: usize,
    },
    /// The underlying shard rejected an operation.
    #[error("store {operation} failed: {message}")]
    Operation {
        /// What was attempted (upsert, delete, search …).
        operation: &'static str,
        /// What the shard reported.
        message: String,
    },
}

impl StoreError {
    /// The stable code callers branch on.
    pub fn code(&self) -> Code {
        match self {
            Self::Dimension { .. } => Code::InvalidInput,
            Self::Open { .. } | Self::Operation { .. } => Code::Internal,
        }
    }
}
