//! Sealing records: SHA-256 of the record's bytes, or HMAC-SHA256 under a key so that only the key's
//! holder can produce a valid seal.

use crate::error::{AuditError, Result};
use ring::{digest, hmac};
use std::path::Path;

/// The all-zero hash the first record of a trail chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Fewest bytes an HMAC key file may hold (256 bits).
const MIN_KEY_BYTES: usize = 32;

/// How records are sealed.
#[derive(Clone)]
pub enum Sealer {
    /// SHA-256: shows accidental damage and edits by anyone who does not re-compute the chain.
    Plain,
    /// HMAC-SHA256 under a secret key; `id` (the first 8 bytes of the key's SHA-256, hex) is written in
    /// each record so the verifier can tell which key sealed it without the key being revealed.
    Hmac {
        /// The key.
        key: hmac::Key,
        /// Its public id.
        id: String,
    },
}

impl std::fmt::Debug for Sealer {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Sealer {
    /// An HMAC sealer with the key in `path` (raw bytes, or hex / text: whatever the file holds, at least
    /// 32 bytes; surrounding whitespace is ignored).
    pub fn from_key_file(path: &Path) -> Result<Self> {
        let bytes = fs_err::read(path).map_err(|e| AuditError::Key {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let trimmed = bytes.trim_ascii();
        if trimmed.len() < MIN_KEY_BYTES {
            return Err(AuditError::Key {
                path: path.to_owned(),
                reason: format!(
                    "holds {} bytes; at least {MIN_KEY_BYTES} are needed (e.g. `openssl rand -hex 32 > FILE`)",
                    trimmed.len()
                ),
            });
        }
        Ok(Self::from_key(trimmed))
    }

    /// An HMAC sealer with `key`.
    pub fn from_key(key: &[u8]) -> Self {
        let id = hex::encode(&digest::digest(&digest::SHA256, key).as_ref()[..8]);
        Self::Hmac {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            id,
        }
    }

    /// What is written in each record's `seal` field: `sha256` or `hmac-sha256:<key id>`.
    pub fn name(&self) -> String {
        match self {
            Self::Plain => "sha256".to_owned(),
            Self::Hmac { id, .. } => format!("hmac-sha256:{id}"),
        }
    }

    /// The seal of `bytes`, hex.
    pub fn seal(&self, bytes: &[u8]) -> String {
        match self {
            Self::Plain => hex::encode(digest::digest(&digest::SHA256, bytes)),
            Self::Hmac { key, .. } => hex::encode(hmac::sign(key, bytes)),
        }
    }

    /// Whether `seal` is this sealer's seal of `bytes` (constant time for HMAC).
    pub fn check(&self, bytes: &[u8], seal: &str) -> bool {
        match self {
            Self::Plain => self.seal(bytes) == seal,
            Self::Hmac { key, .. } => {
                hex::decode(seal).is_ok_and(|tag| hmac::verify(key, bytes, &tag).is_ok())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hmac_seal_differs_from_the_plain_hash_and_only_its_key_checks_it() {
        let bytes = b"{\"seq\":1}";
        let plain = Sealer::Plain;
        let keyed = Sealer::from_key(&[7u8; 32]);
        let other = Sealer::from_key(&[8u8; 32]);
        let seal = keyed.seal(bytes);
        assert_ne!(seal, plain.seal(bytes));
        assert!(keyed.check(bytes, &seal));
        assert!(!other.check(bytes, &seal));
        assert!(!keyed.check(bytes, &plain.seal(bytes)));
        assert!(plain.check(bytes, &plain.seal(bytes)));
        assert!(keyed.name().starts_with("hmac-sha256:"));
        assert_eq!(
            format!("{keyed:?}"),
            keyed.name(),
            "the key is never printed"
        );
    }

    #[test]
    fn a_short_key_file_is_refused_naming_the_need() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "short\n").unwrap();
        let err = Sealer::from_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("at least 32"), "{err}");
    }
}
