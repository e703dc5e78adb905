//! OIDC / JWT bearer tokens (Entra ID, Okta, Keycloak, Auth0, Google): signature checked against the
//! provider's JWKS (RS256, ES256 and EdDSA only — `alg: none`, HMAC algorithms and HMAC keys in the set
//! are refused), then `exp`, `nbf`, `iss` and `aud`; the token's groups and roles claims become the
//! principal's groups and role grants through a configured role map.

use crate::authenticator::Authenticated;
use crate::error::{AuthError, Result};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use nova_core::{Grant, Principal};
use std::collections::HashMap;
use std::path::Path;

/// The algorithms accepted: asymmetric only.
const ALLOWED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

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

/// Verifies tokens against one provider's keys.
pub struct JwtVerifier {
    settings: JwtSettings,
    keys: JwkSet,
}

impl JwtVerifier {
    /// A verifier over the JWKS in `path`.
    pub fn from_jwks_file(settings: JwtSettings, path: &Path) -> Result<Self> {
        let bytes = fs_err::read(path).map_err(|source| AuthError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let keys: JwkSet = serde_json::from_slice(&bytes).map_err(|source| AuthError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self { settings, keys })
    }

    /// The caller `token` names, if it is valid.
    pub fn verify(&self, token: &str) -> Result<Authenticated> {
        let refused = AuthError::Unauthenticated;
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("malformed token"))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(refused("token algorithm not accepted"));
        }
        let kid = header.kid.ok_or(refused("token names no key"))?;
        let jwk = self.keys.find(&kid).ok_or(refused("unknown key id"))?;
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
            return Err(refused("symmetric keys are not accepted"));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| refused("unusable key"))?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = self.settings.leeway_secs;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key,
            &validation,
        )
        .map_err(|e| {
            tracing::debug!(error = %e, "token refused");
            refused("invalid token")
        })?;
        let claims = data.claims;
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
            .ok_or(refused("token has no subject"))?;
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
