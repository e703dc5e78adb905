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
    /// Training or using a ticket router failed.
    #[error(transparent)]
    Classify(#[from] nova_classify::ClassifyError),
    /// No router has been trained for this knowledge base and label.
    #[error("no ticket router for `{label}` in knowledge base `{kb}`; train one with `nova tickets train --kb {kb} --label {label}`")]
    RouterNotFound {
        /// Knowledge base.
        kb: String,
        /// Label field.
        label: String,
    },
    /// A ticket label field name is not usable as a folder name.
    #[error("invalid label field `{0}`: use letters, digits, `-` and `_`")]
    BadLabel(String),
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
            Self::BadKbName(_) | Self::BadLabel(_) => Code::InvalidInput,
            Self::Classify(e) => match e {
                nova_classify::ClassifyError::NotEnoughData(_) => Code::NotEnoughData,
                nova_classify::ClassifyError::Dimension { .. } => Code::InvalidInput,
                nova_classify::ClassifyError::Fit(_) => Code::Internal,
                nova_classify::ClassifyError::File { .. } => Code::Io,
            },
            Self::RouterNotFound { .. } => Code::RouterNotFound,
            Self::File { .. } => Code::Io,
            Self::Internal(_) => Code::Internal,
            Self::KbNotFound(_) => Code::KbNotFound,
            Self::KbExists(_) => Code::KbExists,
        }
    }
}
