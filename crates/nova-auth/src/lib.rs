//! Authentication: who a credential belongs to. API keys are high-entropy random secrets with a
//! visible id (`nova_<id>_<secret>`); only an HMAC-SHA256 of the secret under a per-data-folder key is
//! stored, and checking one costs a hash and a constant-time compare (argon2 is for low-entropy
//! passwords and would cost milliseconds per request). The key file is shared by the CLI and a running
//! server: writes take a file lock and replace the file atomically, and every check notices a changed
//! file, so a key created or revoked from the CLI takes effect at once.
//!
//! This crate turns credentials into a [`nova_core::Principal`]; what a principal may do is decided by
//! the engine. It knows nothing of HTTP.

mod authenticator;
mod error;
mod issuer;
mod jwt;
mod keys;
mod limits;
mod redis_link;
mod shared_limits;
mod token_cache;

pub use authenticator::{AuthMode, Authenticated, Authenticator, RoleLimits};
pub use error::{AuthError, Result};
pub use issuer::LocalIssuer;
pub use jwt::{JwksSource, JwtSettings, JwtVerifier, RefreshPolicy};
pub use keys::{KeyInfo, KeySpec, KeyStore, NewKey};
pub use limits::{Limiter, Rate, Verdict};
pub use redis_link::Redis;
pub use shared_limits::SharedLimits;
