//! The engine's error type.

use nova_core::Code;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Embedding failed.
    #[error(transparent)]
    Embed(#[from] nova_embed::EmbedError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] nova_store::StoreError),
    /// A knowledge base name is not usable as a folder name.
    #[error("invalid knowledge base name `{0}`: use letters, digits, `-` and `_`")]
    BadKbName(String),
    /// No knowledge base by that name.
    #[error("knowledge base `{0}` not found")]
    KbNotFound(String),
    /// A knowledge base by that name already exists.
    #[error("knowledge base `{0}` already exists")]
    KbExists(String),
    /// A bug or a crashed worker thread; details are in the message and the log.
    #[error("internal error: {0}")]
    Internal(String),
    /// A file the engine reads or writes itself (metadata, eval inputs).
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl EngineError {
    /// The stable code callers branch on.
    pub fn code(&self) -> Code {
        match self {
            Self::Embed(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::BadKbName(_) => Code::InvalidInput,
            Self::File { .. } => Code::Io,
            Self::Internal(_) => Code::Internal,
            Self::KbNotFound(_) => Code::KbNotFound,
            Self::KbExists(_) => Code::KbExists,
        }
    }
}
