//! From a request's credential to a principal.

use crate::error::{AuthError, Result};
use crate::keys::KeyStore;
use nova_core::Principal;
use serde::{Deserialize, Serialize};

/// Whether the service asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Every request but the health probes needs a valid credential (the default).
    Required,
    /// Local development only: every caller is the local administrator.
    Off,
}

/// Checks credentials against the key store.
pub struct Authenticator {
    mode: AuthMode,
    keys: KeyStore,
}

impl Authenticator {
    /// An authenticator in `mode` over `keys`.
    pub fn new(mode: AuthMode, keys: KeyStore) -> Self {
        Self { mode, keys }
    }

    /// The mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The caller behind an `Authorization` header value (`Bearer <key>`), if any.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal> {
        if self.mode == AuthMode::Off {
            return Ok(Principal::local_admin());
        }
        let header = authorization.ok_or(AuthError::Unauthenticated("no credentials"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or(AuthError::Unauthenticated("not a bearer credential"))?;
        Ok(self.keys.verify(token)?.principal())
    }
}
