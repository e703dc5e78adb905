//! A token issuer of KB Nova's own: a fresh Ed25519 key, its JWKS, and tokens signed with it. For
//! benchmarks, tests and trying the `[auth.jwt]` wiring without an identity provider; it can only sign
//! with the key it generated, so it forges nothing a real provider's JWKS would accept.

use crate::error::{AuthError, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

/// An Ed25519 signing key with a key id.
pub struct LocalIssuer {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl LocalIssuer {
    /// A new key from the OS random source, published under `kid`.
    pub fn generate(kid: &str) -> Result<Self> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .map_err(|_| AuthError::Random)?
            .as_ref()
            .to_vec();
        let public = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| AuthError::Random)?
            .public_key()
            .as_ref()
            .to_vec();
        Ok(Self {
            kid: kid.to_owned(),
            pkcs8,
            public,
        })
    }

    /// The raw public key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&self.public),
                "kid": self.kid, "alg": "EdDSA", "use": "sig" })
    }

    /// A JWKS holding this key alone.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// `claims` signed (EdDSA) under this key's id.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        self.sign_as(&self.kid, claims)
    }

    /// `claims` signed with this key but naming key id `kid` (to test unknown or rotated ids).
    pub fn sign_as(&self, kid: &str, claims: &Value) -> Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8))
            .map_err(|e| AuthError::InvalidKey(format!("signing failed: {e}")))
    }

    /// The PKCS#8 private key (to sign with other libraries in tests).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
}
