//! From a request's credential to a principal.

use crate::error::{AuthError, Result};
use crate::keys::KeyStore;
use crate::limits::Rate;
use nova_core::{Principal, Role};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Whether the service asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Every request but the health probes needs a valid credential (the default).
    Required,
    /// Local development only: every caller is the local administrator.
    Off,
}

/// A verified caller and the limits that apply to it.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who it is and what it may do.
    pub principal: Principal,
    /// Its request rate, if limited.
    pub rate: Option<Rate>,
    /// Its requests per UTC day, if limited.
    pub daily_quota: Option<u64>,
}

/// Defaults for keys that set no limits of their own, by role.
#[derive(Debug, Clone, Default)]
pub struct RoleLimits {
    /// Request rate per role.
    pub rates: HashMap<Role, Rate>,
    /// Requests per UTC day per role.
    pub daily_quotas: HashMap<Role, u64>,
}

/// Checks credentials against the key store.
pub struct Authenticator {
    mode: AuthMode,
    keys: KeyStore,
    defaults: RoleLimits,
    jwt: Option<crate::jwt::JwtVerifier>,
}

impl Authenticator {
    /// An authenticator in `mode` over `keys`, with per-role default limits.
    pub fn new(mode: AuthMode, keys: KeyStore, defaults: RoleLimits) -> Self {
        Self {
            mode,
            keys,
            defaults,
            jwt: None,
        }
    }

    /// Also accepts JWT bearer tokens checked by `jwt`.
    pub fn with_jwt(mut self, jwt: crate::jwt::JwtVerifier) -> Self {
        self.jwt = Some(jwt);
        self
    }

    /// Fetches the JWT provider's keys again (rate-limited; blocks, so run it off async executors).
    /// Called after [`AuthError::KeysStale`](crate::AuthError::KeysStale).
    pub fn refresh_jwt_keys(&self) {
        if let Some(jwt) = &self.jwt {
            jwt.refresh();
        }
    }

    /// [`Self::authenticate`] for callers that may block: refreshes stale JWT keys in place.
    pub fn authenticate_blocking(&self, authorization: Option<&str>) -> Result<Authenticated> {
        match self.authenticate(authorization) {
            Err(crate::AuthError::KeysStale) => self.authenticate_after_refresh(authorization),
            other => other,
        }
    }

    /// The second half of [`Self::authenticate_blocking`], for a caller that already got
    /// [`AuthError::KeysStale`](crate::AuthError::KeysStale) (blocks): re-fetches the keys and checks
    /// once more; a key still unknown is refused.
    pub fn authenticate_after_refresh(&self, authorization: Option<&str>) -> Result<Authenticated> {
        self.refresh_jwt_keys();
        self.authenticate(authorization).map_err(|e| match e {
            crate::AuthError::KeysStale => crate::AuthError::Unauthenticated("unknown key id"),
            e => e,
        })
    }

    /// The mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The caller behind an `Authorization` header value (`Bearer <key>`), if any.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Authenticated> {
        if self.mode == AuthMode::Off {
            return Ok(Authenticated {
                principal: Principal::local_admin(),
                rate: None,
                daily_quota: None,
            });
        }
        let header = authorization.ok_or(AuthError::Unauthenticated("no credentials"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or(AuthError::Unauthenticated("not a bearer credential"))?;
        if !token.starts_with("nova_") {
            if let Some(jwt) = &self.jwt {
                let mut who = jwt.verify(token)?;
                // A token carries no limits of its own: its subject gets its strongest role's defaults.
                if let Some(role) = who.principal.strongest_role() {
                    who.rate = self.defaults.rates.get(&role).copied();
                    who.daily_quota = self.defaults.daily_quotas.get(&role).copied();
                }
                return Ok(who);
            }
        }
        let key = self.keys.verify(token)?;
        Ok(Authenticated {
            principal: key.principal(),
            rate: key
                .rate
                .or_else(|| self.defaults.rates.get(&key.role).copied()),
            daily_quota: key
                .daily_quota
                .or_else(|| self.defaults.daily_quotas.get(&key.role).copied()),
        })
    }
}
