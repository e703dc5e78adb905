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
    /// The token's key is not in the cached key set (or the set is old) and a re-fetch is allowed:
    /// refresh the keys and verify again.
    #[error("the identity provider's keys should be fetched again")]
    KeysStale,
    /// The identity provider's discovery document or key set could not be fetched or used.
    #[error("identity provider: {0}")]
    Provider(String),
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
            Self::Unauthenticated(_) | Self::KeysStale => Code::Unauthenticated,
            Self::Provider(_) => Code::Io,
            Self::KeyExists(_) => Code::KeyExists,
            Self::KeyNotFound(_) => Code::KeyNotFound,
            Self::InvalidKey(_) => Code::InvalidInput,
            Self::Io { .. } | Self::Json { .. } => Code::Io,
            Self::Random => Code::Internal,
        }
    }
}
