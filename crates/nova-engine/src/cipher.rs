//! Encryption at rest (`[encryption]`): AES-256-GCM under a data key read from a file or an environment
//! variable (`ring`'s AEAD). A sealed value is `nova1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`, so
//! every record names the key that sealed it; the key id is the first 8 bytes of SHA-256 over the key,
//! which tells keys apart without revealing them. Older keys stay readable while `nova kb rekey`
//! re-seals what they sealed under the current one.
//!
//! Nonces are random (96 bits from the OS): far below the 2³² messages per key where that stops being
//! safe for a knowledge base's chunk count.

use crate::error::{EngineError, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Marks a sealed value (and its format's version).
const PREFIX: &str = "nova1:";
/// The payload, feedback or file member that holds the sealed fields.
pub(crate) const SEALED: &str = "sealed";

/// Where `[encryption]` finds its keys.
#[derive(Debug, Clone, Default)]
pub struct EncryptionSettings {
    /// The current data key: a file holding 32 raw bytes, 64 hex digits or 32 bytes in base64.
    pub key_file: Option<PathBuf>,
    /// Or the name of an environment variable holding the key (hex or base64).
    pub key_env: Option<String>,
    /// Keys replaced by a rotation, still read until `nova kb rekey` has re-sealed their data.
    pub previous_key_files: Vec<PathBuf>,
}

impl EncryptionSettings {
    /// Whether a key is configured (encryption is on).
    pub fn enabled(&self) -> bool {
        self.key_file.is_some() || self.key_env.is_some()
    }
}

struct DataKey {
    id: String,
    key: LessSafeKey,
}

/// The current key (seals) and the previous ones (only open).
pub struct Keyring {
    current: DataKey,
    previous: Vec<DataKey>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn bad_key(origin: &str, problem: &str) -> EngineError {
    EngineError::Encryption(format!("encryption key {origin}: {problem}"))
}

/// 32 key bytes from what a key file or variable holds: raw bytes, hex or base64 (whitespace ignored).
fn key_bytes(raw: &[u8], origin: &str) -> Result<Vec<u8>> {
    if raw.len() == 32 {
        return Ok(raw.to_vec());
    }
    let text = std::str::from_utf8(raw)
        .map_err(|_| bad_key(origin, "holds neither 32 raw bytes nor hex or base64 text"))?
        .trim();
    let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
            .collect::<std::result::Result<Vec<u8>, _>>()
            .ok()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .ok()
    };
    match decoded {
        Some(k) if k.len() == 32 => Ok(k),
        Some(k) => Err(bad_key(
            origin,
            &format!(
                "is {} bytes; AES-256 needs 32 (make one with `openssl rand -hex 32`)",
                k.len()
            ),
        )),
        None => Err(bad_key(
            origin,
            "is not 32 bytes of hex or base64 (make one with `openssl rand -hex 32`)",
        )),
    }
}

fn data_key(bytes: &[u8], origin: &str) -> Result<DataKey> {
    let bytes = key_bytes(bytes, origin)?;
    let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
        .map_err(|_| bad_key(origin, "is not a valid AES-256 key"))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    Ok(DataKey {
        id: nova_core::to_hex(&digest.as_ref()[..8]),
        key: LessSafeKey::new(unbound),
    })
}

fn read_key_file(path: &Path) -> Result<DataKey> {
    let origin = format!("file {}", path.display());
    let bytes = fs_err::read(path).map_err(|e| bad_key(&origin, &e.to_string()))?;
    data_key(&bytes, &origin)
}

impl Keyring {
    /// The keys `settings` name, or `None` when encryption is off. A missing or malformed key is an
    /// error naming the file or variable, never a silent fallback to plain text.
    pub fn load(settings: &EncryptionSettings) -> Result<Option<Self>> {
        let current = match (&settings.key_file, &settings.key_env) {
            (Some(_), Some(_)) => {
                return Err(EngineError::Encryption(
                    "set either encryption.key_file or encryption.key_env, not both".into(),
                ))
            }
            (Some(path), None) => read_key_file(path)?,
            (None, Some(var)) => {
                let origin = format!("variable {var}");
                let value = std::env::var(var)
                    .map_err(|_| bad_key(&origin, "is not set (or not valid UTF-8)"))?;
                data_key(value.as_bytes(), &origin)?
            }
            (None, None) => return Ok(None),
        };
        let previous = settings
            .previous_key_files
            .iter()
            .map(|p| read_key_file(p))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Self {
            current,
            previous,
            rng: SystemRandom::new(),
        }))
    }

    /// A keyring of one key (tests, tools).
    pub fn from_key(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            current: data_key(bytes, "given")?,
            previous: Vec::new(),
            rng: SystemRandom::new(),
        })
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Whether data sealed under key `id` can be opened.
    pub fn knows(&self, id: &str) -> bool {
        self.current.id == id || self.previous.iter().any(|k| k.id == id)
    }

    /// Seals `plain` under the current key; `context` (e.g. a document id) must be given again to open it,
    /// so a sealed value moved to another record does not open there.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| EngineError::Encryption("the OS random source failed".into()))?;
        let mut buf = plain.to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| EngineError::Encryption("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!(
            "{PREFIX}{}:{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Opens what [`Keyring::seal`] made with the same `context`. A value sealed under a key this ring
    /// does not hold, or altered, is an error — never garbage.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>> {
        let (id, body) = key_id_of(sealed)
            .ok_or_else(|| EngineError::Encryption("a sealed value is malformed".into()))?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| EngineError::WrongKey {
                found: id.to_owned(),
                configured: self.current.id.clone(),
            })?;
        let mut bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| EngineError::Encryption("a sealed value is not base64".into()))?;
        if bytes.len() < NONCE_LEN {
            return Err(EngineError::Encryption(
                "a sealed value is truncated".into(),
            ));
        }
        let mut ciphertext = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes)
            .map_err(|_| EngineError::Encryption("a sealed value is truncated".into()))?;
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut ciphertext)
            .map_err(|_| {
                EngineError::Encryption(format!(
                    "a value sealed under key {id} does not open: altered, or moved from another record"
                ))
            })?;
        Ok(plain.to_vec())
    }

    /// Moves `fields` of `map` (those present) into one sealed member.
    pub(crate) fn seal_fields(
        &self,
        map: &mut Map<String, Value>,
        fields: impl Fn(&str) -> bool,
        context: &str,
    ) -> Result<()> {
        let names: Vec<String> = map.keys().filter(|k| fields(k)).cloned().collect();
        if names.is_empty() {
            return Ok(());
        }
        let mut inner = Map::new();
        for name in names {
            if let Some(v) = map.remove(&name) {
                inner.insert(name, v);
            }
        }
        let plain = serde_json::to_vec(&inner).map_err(|e| EngineError::Internal(e.to_string()))?;
        map.insert(SEALED.into(), Value::String(self.seal(&plain, context)?));
        Ok(())
    }
}

/// The key id a sealed value names, and its body.
pub(crate) fn key_id_of(sealed: &str) -> Option<(&str, &str)> {
    sealed.strip_prefix(PREFIX)?.split_once(':')
}

/// Puts the fields [`Keyring::seal_fields`] sealed back into `map`. A sealed member without a keyring
/// is an error: the data was written with encryption on.
pub(crate) fn open_fields(
    keyring: Option<&Keyring>,
    map: &mut Map<String, Value>,
    context: &str,
) -> Result<()> {
    let Some(Value::String(sealed)) = map.remove(SEALED) else {
        return Ok(());
    };
    let keyring = keyring.ok_or_else(|| missing_key(&sealed))?;
    let plain = keyring.open(&sealed, context)?;
    let inner: Map<String, Value> = serde_json::from_slice(&plain)
        .map_err(|e| EngineError::Encryption(format!("sealed fields are not JSON: {e}")))?;
    map.extend(inner);
    Ok(())
}

/// The error for sealed data read with encryption off.
pub(crate) fn missing_key(sealed: &str) -> EngineError {
    let id = key_id_of(sealed).map_or("?", |(id, _)| id);
    EngineError::Encryption(format!(
        "data sealed under key {id} and no key is configured: set encryption.key_file (or \
         NOVA_ENCRYPTION__KEY_FILE) to that key"
    ))
}

/// A whole file's bytes sealed (`{"sealed": …}`) when a keyring is given, as is otherwise.
pub(crate) fn seal_bytes(
    keyring: Option<&Keyring>,
    plain: Vec<u8>,
    context: &str,
) -> Result<Vec<u8>> {
    match keyring {
        None => Ok(plain),
        Some(k) => {
            let wrapped = serde_json::json!({ SEALED: k.seal(&plain, context)? });
            serde_json::to_vec(&wrapped).map_err(|e| EngineError::Internal(e.to_string()))
        }
    }
}

/// The plain bytes of a file [`seal_bytes`] wrote (either form).
pub(crate) fn open_bytes(
    keyring: Option<&Keyring>,
    bytes: Vec<u8>,
    context: &str,
) -> Result<Vec<u8>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapped {
        sealed: String,
    }
    if !bytes.starts_with(b"{\"sealed\"") {
        return Ok(bytes);
    }
    match serde_json::from_slice::<Wrapped>(&bytes) {
        Ok(w) => {
            let keyring = keyring.ok_or_else(|| missing_key(&w.sealed))?;
            keyring.open(&w.sealed, context)
        }
        Err(_) => Ok(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let ring = Keyring::from_key(KEY.as_bytes()).unwrap();
        let sealed = ring.seal(b"disk full on /var", "doc-1").unwrap();
        assert!(!sealed.contains("disk"));
        assert_eq!(ring.open(&sealed, "doc-1").unwrap(), b"disk full on /var");
        // Same text, new nonce: no equality leaks.
        assert_ne!(sealed, ring.seal(b"disk full on /var", "doc-1").unwrap());
        assert!(
            ring.open(&sealed, "doc-2").is_err(),
            "moved to another record"
        );
        let other = Keyring::from_key(&[7u8; 32]).unwrap();
        assert!(matches!(
            other.open(&sealed, "doc-1"),
            Err(EngineError::WrongKey { .. })
        ));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.open(&tampered, "doc-1").is_err());
    }

    #[test]
    fn keys_are_read_as_raw_hex_or_base64_and_bad_ones_are_named() {
        let hex = Keyring::from_key(KEY.as_bytes()).unwrap();
        let raw: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&KEY[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        assert_eq!(
            Keyring::from_key(&raw).unwrap().current_id(),
            hex.current_id()
        );
        assert_eq!(
            Keyring::from_key(format!("{b64}\n").as_bytes())
                .unwrap()
                .current_id(),
            hex.current_id()
        );
        let err = Keyring::from_key(b"too short").unwrap_err().to_string();
        assert!(err.contains("openssl rand -hex 32"), "{err}");
    }

    #[test]
    fn fields_round_trip_and_others_stay_clear() {
        let ring = Keyring::from_key(KEY.as_bytes()).unwrap();
        let mut map: Map<String, Value> = serde_json::from_str(
            r#"{"doc_id":"d","text":"secret words","title":"t","kind":"article"}"#,
        )
        .unwrap();
        let original = map.clone();
        ring.seal_fields(&mut map, |k| k == "text" || k == "title", "d")
            .unwrap();
        assert!(!serde_json::to_string(&map).unwrap().contains("secret"));
        assert_eq!(map["kind"], "article");
        let mut without = map.clone();
        assert!(open_fields(None, &mut without, "d").is_err());
        open_fields(Some(&ring), &mut map, "d").unwrap();
        assert_eq!(map, original);
    }
}
