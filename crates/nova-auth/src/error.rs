//! The authentication error type.

use nova_core::Code;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// Why a credential was refused or the key store failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credential, or one that is malformed, unknown, revoked or expired. The reason is for the
    /// log; callers get the same answer for all of them.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A key by that name already exists.
    #[error("a key named `{0}` already exists")]
    KeyExists(String),
    /// No key by that name.
    #[error("no key named `{0}`")]
    KeyNotFound(String),
    /// A key specification is unusable.
    #[error("{0}")]
    InvalidKey(String),
    /// Reading or writing the key files failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The key file is not valid JSON.
    #[error("{path}: invalid key file")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// The operating system's random source failed.
    #[error("the system random number generator failed")]
    Random,
}

impl AuthError {
    /// The stable code callers branch on.
    pub fn code(&self) -> Code {
        match self {
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::KeyExists(_) => Code::KeyExists,
            Self::KeyNotFound(_) => Code::KeyNotFound,
            Self::InvalidKey(_) => Code::InvalidInput,
            Self::Io { .. } | Self::Json { .. } => Code::Io,
            Self::Random => Code::Internal,
        }
    }
}
