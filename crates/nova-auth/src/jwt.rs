//! OIDC / JWT bearer tokens (Entra ID, Okta, Keycloak, Auth0, Google): signature checked against the
//! provider's JWKS (RS256, ES256 and EdDSA only — `alg: none`, HMAC algorithms and HMAC keys in the set
//! are refused), then `exp`, `nbf`, `iss` and `aud`; the token's groups and roles claims become the
//! principal's groups and role grants through a configured role map.
//!
//! The key set comes from a file, a URL, or the issuer's OIDC discovery document. Keys are parsed
//! once per fetch and cached by `kid`. Providers rotate keys by publishing a new one before signing
//! with it, so a token naming an unknown `kid` (or a cache older than its maximum age) asks for a
//! re-fetch — at most one per `min_refresh`, so a flood of made-up `kid`s costs the provider nothing.
//! The fetch blocks, so it is a separate step ([`JwtVerifier::refresh`]) that an async caller runs off
//! its executor threads; [`JwtVerifier::verify`] never does I/O.

use crate::authenticator::Authenticated;
use crate::error::{AuthError, Result};
use crate::token_cache::TokenCache;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use nova_core::{Grant, Principal};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The algorithms accepted: asymmetric only.
const ALLOWED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// The largest discovery document or key set read from a provider.
const MAX_BODY: u64 = 1 << 20;

/// How tokens are checked and mapped.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// Claim holding the caller's groups (default `groups`).
    pub groups_claim: String,
    /// Claim holding the caller's roles (default `roles`).
    pub roles_claim: String,
    /// Role-claim value → the grant it gives.
    pub role_map: HashMap<String, Grant>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

/// Where the provider's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS saved to a file (re-read when a refresh is due).
    File(PathBuf),
    /// A JWKS URL (`https://`, or `http://` on a loopback host).
    Url(String),
    /// The `jwks_uri` of `<issuer>/.well-known/openid-configuration`.
    Discovery,
}

/// When the key set is fetched again.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// The least time between two fetches, however many unknown `kid`s arrive.
    pub min_interval: Duration,
    /// Keys older than this are fetched again (so a key the provider withdrew stops working).
    pub max_age: Duration,
    /// Connect + read timeout of one HTTP fetch.
    pub timeout: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(60),
            max_age: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
        }
    }
}

/// One key of the set, parsed once.
enum Entry {
    Usable(Box<DecodingKey>),
    /// Listed, but never accepted (a symmetric key, or one `jsonwebtoken` cannot use).
    Refused(&'static str),
}

struct KeyCache {
    by_kid: HashMap<String, Entry>,
    loaded: Option<Instant>,
}

/// Verifies tokens against one provider's keys.
pub struct JwtVerifier {
    settings: JwtSettings,
    source: JwksSource,
    policy: RefreshPolicy,
    cache: RwLock<KeyCache>,
    /// When the last fetch started; held during a fetch so concurrent callers wait for it.
    last_fetch: Mutex<Option<Instant>>,
    fetches: AtomicU64,
    /// Tokens that passed every check in the last minute.
    verified: TokenCache,
}

impl JwtVerifier {
    /// A verifier over the JWKS in `path` (which must be readable now).
    pub fn from_jwks_file(settings: JwtSettings, path: &std::path::Path) -> Result<Self> {
        Self::new(
            settings,
            JwksSource::File(path.to_path_buf()),
            RefreshPolicy::default(),
        )
    }

    /// A verifier over `source`. A file must load now; a provider that cannot be reached yet is
    /// logged and asked again when the first token arrives after `policy.min_interval` (a server
    /// should not refuse to start because the identity provider blinked).
    pub fn new(settings: JwtSettings, source: JwksSource, policy: RefreshPolicy) -> Result<Self> {
        match &source {
            JwksSource::Url(url) => check_url(url)?,
            JwksSource::Discovery => check_url(&settings.issuer)?,
            JwksSource::File(_) => {}
        }
        let verifier = Self {
            settings,
            source,
            policy,
            cache: RwLock::new(KeyCache {
                by_kid: HashMap::new(),
                loaded: None,
            }),
            last_fetch: Mutex::new(None),
            fetches: AtomicU64::new(0),
            verified: TokenCache::default(),
        };
        match verifier.fetch_now() {
            Ok(()) => {}
            Err(e) if !matches!(verifier.source, JwksSource::File(_)) => {
                tracing::error!(error = %e, "could not fetch the identity provider's keys; JWTs are refused until it answers");
            }
            Err(e) => return Err(e),
        }
        Ok(verifier)
    }

    /// How many times the key set was fetched (or read) so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The caller `token` names, if it is valid. [`AuthError::KeysStale`] means fetching the key set
    /// again may change the answer: call [`Self::refresh`] (off any async executor) and verify again.
    pub fn verify(&self, token: &str) -> Result<Authenticated> {
        if let Some(who) = self.verified.get(token) {
            return Ok(who);
        }
        let refused = AuthError::Unauthenticated;
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("malformed token"))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(refused("token algorithm not accepted"));
        }
        let kid = header.kid.ok_or(refused("token names no key"))?;
        let cache = self.cache.read();
        let expired = cache
            .loaded
            .is_none_or(|at| at.elapsed() > self.policy.max_age);
        let entry = match cache.by_kid.get(&kid) {
            Some(_) if expired && self.refresh_allowed() => return Err(AuthError::KeysStale),
            Some(entry) => entry,
            None if self.refresh_allowed() => return Err(AuthError::KeysStale),
            None => return Err(refused("unknown key id")),
        };
        let key = match entry {
            Entry::Usable(key) => key,
            Entry::Refused(why) => return Err(refused(why)),
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = self.settings.leeway_secs;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            key,
            &validation,
        )
        .map_err(|e| {
            tracing::debug!(error = %e, "token refused");
            refused("invalid token")
        })?;
        drop(cache);
        let who = self.principal(&data.claims)?;
        // `exp` is a required claim the check above accepted, so it is a number here.
        if let Some(exp) = data.claims.get("exp").and_then(serde_json::Value::as_u64) {
            self.verified
                .put(token, &who, exp, self.settings.leeway_secs);
        }
        Ok(who)
    }

    /// Fetches the key set again unless another fetch happened within `min_interval` (then waits for
    /// any fetch in progress and returns). Failures are logged and the old keys kept.
    pub fn refresh(&self) {
        let mut last = self.last_fetch.lock();
        if last.is_some_and(|at| at.elapsed() < self.policy.min_interval) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(e) = self.load() {
            tracing::warn!(error = %e, "re-fetching the identity provider's keys failed; keeping the old ones");
        }
    }

    /// Never blocks: with a fetch under way the answer is yes, and [`Self::refresh`] waits for it.
    fn refresh_allowed(&self) -> bool {
        self.last_fetch
            .try_lock()
            .is_none_or(|last| last.is_none_or(|at| at.elapsed() >= self.policy.min_interval))
    }

    fn fetch_now(&self) -> Result<()> {
        *self.last_fetch.lock() = Some(Instant::now());
        self.load()
    }

    fn load(&self) -> Result<()> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let set: JwkSet = match &self.source {
            JwksSource::File(path) => {
                let bytes = fs_err::read(path).map_err(|source| AuthError::Io {
                    path: path.clone(),
                    source,
                })?;
                serde_json::from_slice(&bytes).map_err(|source| AuthError::Json {
                    path: path.clone(),
                    source,
                })?
            }
            JwksSource::Url(url) => self.get_json(url)?,
            JwksSource::Discovery => {
                let issuer = self.settings.issuer.trim_end_matches('/');
                let url = format!("{issuer}/.well-known/openid-configuration");
                let doc: serde_json::Value = self.get_json(&url)?;
                // OIDC Discovery §4.3: the document must name the issuer it was fetched for.
                if doc["issuer"].as_str().map(|i| i.trim_end_matches('/')) != Some(issuer) {
                    return Err(AuthError::Provider(format!(
                        "{url} names issuer {} instead of {issuer}",
                        doc["issuer"]
                    )));
                }
                let jwks = doc["jwks_uri"]
                    .as_str()
                    .ok_or_else(|| AuthError::Provider(format!("{url} has no jwks_uri")))?;
                check_url(jwks)?;
                self.get_json(jwks)?
            }
        };
        let by_kid: HashMap<String, Entry> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let entry = if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
                    Entry::Refused("symmetric keys are not accepted")
                } else {
                    DecodingKey::from_jwk(jwk)
                        .map(|k| Entry::Usable(Box::new(k)))
                        .unwrap_or(Entry::Refused("unusable key"))
                };
                Some((kid, entry))
            })
            .collect();
        tracing::info!(keys = by_kid.len(), "identity provider keys loaded");
        *self.cache.write() = KeyCache {
            by_kid,
            loaded: Some(Instant::now()),
        };
        // A withdrawn key's tokens must not outlive the set that dropped it.
        self.verified.clear();
        Ok(())
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T> {
        let provider = |what: String| AuthError::Provider(format!("{url}: {what}"));
        let response = ureq::AgentBuilder::new()
            .timeout(self.policy.timeout)
            .redirects(0)
            .build()
            .get(url)
            .set("accept", "application/json")
            .call()
            .map_err(|e| provider(e.to_string()))?;
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_BODY)
            .read_to_end(&mut body)
            .map_err(|e| provider(e.to_string()))?;
        serde_json::from_slice(&body).map_err(|e| provider(format!("not the expected JSON: {e}")))
    }

    fn principal(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Authenticated> {
        let strings = |claim: &str| -> Vec<String> {
            match claims.get(claim) {
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                Some(serde_json::Value::String(s)) => vec![s.clone()],
                _ => Vec::new(),
            }
        };
        let subject = claims
            .get("sub")
            .and_then(|s| s.as_str())
            .ok_or(AuthError::Unauthenticated("token has no subject"))?;
        let grants = strings(&self.settings.roles_claim)
            .iter()
            .filter_map(|r| self.settings.role_map.get(r).cloned())
            .collect();
        Ok(Authenticated {
            principal: Principal {
                subject: format!("jwt:{subject}"),
                grants,
                groups: strings(&self.settings.groups_claim),
            },
            rate: None,
            daily_quota: None,
        })
    }
}

/// Keys travel over TLS: plain `http://` only to this machine (tests, a local sidecar).
fn check_url(url: &str) -> Result<()> {
    let bad = |why: &str| Err(AuthError::Provider(format!("{url}: {why}")));
    if url.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return bad("not an http(s) URL");
    };
    let host = nova_core::strip_port(rest.split(['/', '?']).next().unwrap_or_default());
    if matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        Ok(())
    } else {
        bad("keys must be fetched over https:// (http:// is allowed only on a loopback host)")
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn keys_are_fetched_over_tls_except_from_this_machine() {
        for ok in [
            "https://login.example/keys",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/x",
            "http://[::1]:9/x",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example/jwks",
            "http://127.0.0.1.evil.example/x",
            "ftp://x",
            "file:///etc/passwd",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
