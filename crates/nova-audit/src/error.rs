//! The crate's one error type.

use nova_core::Code;
use std::path::PathBuf;

/// What went wrong with the audit trail.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file of the trail could not be read or written.
    #[error("audit trail {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The last record of the trail cannot be read back, so nothing can be chained to it.
    #[error("audit trail {}: {reason}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The HMAC key file is missing, unreadable or too short.
    #[error("audit HMAC key {}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A batch of records this one was written with failed; the message is the batch's error (shared
    /// by every caller in the batch, so it is kept as text).
    #[error("audit trail: writing failed: {0}")]
    BatchFailed(String),
    /// A `--since` / `--until` value that is not a date or time.
    #[error("`{value}` is not a date (YYYY-MM-DD) or an RFC 3339 time")]
    BadTime {
        /// What was given.
        value: String,
    },
}

impl AuditError {
    /// The stable code of this error.
    pub fn code(&self) -> Code {
        match self {
            Self::Io { .. } | Self::Damaged { .. } | Self::BatchFailed(_) => Code::AuditUnavailable,
            Self::Key { .. } => Code::Internal,
            Self::BadTime { .. } => Code::InvalidInput,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// The crate's result type.
pub type Result<T, E = AuditError> = std::result::Result<T, E>;
