//! API keys: `nova_<id>_<secret>`, 6 random bytes of id and 32 of secret, both hex. The key file
//! (`<data>/auth/keys.json`) keeps each key's metadata and the HMAC-SHA256 of its secret under the data
//! folder's own hashing key (`<data>/auth/hmac.key`, 32 random bytes, owner-only), never the secret.

use crate::error::{AuthError, Result};
use nova_core::{Grant, KbName, Principal, Role};
use parking_lot::RwLock;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PREFIX: &str = "nova_";
const ID_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;

/// What a key is, without its secret: safe to list and log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Public id, the visible part of the key after `nova_`.
    pub id: String,
    /// Unique name (the subject in logs and audit).
    pub name: String,
    /// Role granted.
    pub role: Role,
    /// Knowledge bases the role covers; empty = all.
    #[serde(default)]
    pub kbs: Vec<KbName>,
    /// Groups, for document permissions.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds after which the key is refused.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// Unix seconds it was revoked at.
    #[serde(default)]
    pub revoked_at: Option<u64>,
    /// Its own request rate (else the role's default).
    #[serde(default)]
    pub rate: Option<crate::limits::Rate>,
    /// Its own daily request quota (else the role's default).
    #[serde(default)]
    pub daily_quota: Option<u64>,
}

impl KeyInfo {
    /// Why this key is refused now (`revoked key`, `expired key`), if it is.
    pub fn refusal(&self) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("revoked key")
        } else if self.expires_at.is_some_and(|t| now() >= t) {
            Some("expired key")
        } else {
            None
        }
    }

    /// The caller this key authenticates.
    pub fn principal(&self) -> Principal {
        Principal {
            subject: format!("key:{}", self.name),
            grants: vec![Grant {
                role: self.role,
                kbs: (!self.kbs.is_empty()).then(|| self.kbs.clone()),
            }],
            groups: self.groups.clone(),
        }
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// Unique name: letters, digits, `-`, `_`.
    pub name: String,
    /// Role granted.
    pub role: Role,
    /// Knowledge bases it covers; empty = all.
    pub kbs: Vec<KbName>,
    /// Groups, for document permissions.
    pub groups: Vec<String>,
    /// Lifetime; `None` = until revoked.
    pub expires_in: Option<Duration>,
    /// Request rate; `None` = the role's default.
    pub rate: Option<crate::limits::Rate>,
    /// Requests per UTC day; `None` = the role's default.
    pub daily_quota: Option<u64>,
}

/// A key just created: the only time its secret is known.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Its metadata.
    pub info: KeyInfo,
    /// The whole key to hand to the client, `nova_<id>_<secret>`.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyRecord {
    #[serde(flatten)]
    info: KeyInfo,
    /// Hex HMAC-SHA256 of the secret part.
    hash: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<KeyRecord>,
}

/// What the file looked like when read: a changed file (new inode after a rename, size, mtime) is
/// read again.
type Stamp = (u64, u64, SystemTime);

#[derive(Default)]
struct Cached {
    stamp: Option<Stamp>,
    by_id: HashMap<String, KeyRecord>,
    hmac: Option<hmac::Key>,
}

/// The keys of one data folder.
pub struct KeyStore {
    dir: PathBuf,
    cache: RwLock<Cached>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn random_hex(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AuthError::Random)?;
    Ok(hex::encode(bytes))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> AuthError + '_ {
    move |source| AuthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.len(), m.modified().ok()?))
}

/// Writes `bytes` to `path` via a synced temporary file and a rename, owner-only.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs_err::rename(&tmp, path).map_err(io(path))
}

impl KeyStore {
    /// The key store in `dir` (created on the first write).
    pub fn open(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            cache: RwLock::new(Cached::default()),
        }
    }

    fn keys_file(&self) -> PathBuf {
        self.dir.join("keys.json")
    }

    fn hmac_file(&self) -> PathBuf {
        self.dir.join("hmac.key")
    }

    /// The key folder, owner-only.
    fn ensure_dir(&self) -> Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io(&self.dir))
    }

    /// The hashing key, created (owner-only) on first use.
    fn hmac_key(&self, create: bool) -> Result<Option<hmac::Key>> {
        if let Some(k) = self.cache.read().hmac.clone() {
            return Ok(Some(k));
        }
        let path = self.hmac_file();
        let bytes = match fs_err::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                self.ensure_dir()?;
                let fresh = hex::decode(random_hex(32)?).map_err(|_| AuthError::Random)?;
                write_atomic(&path, &fresh)?;
                fresh
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let key = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
        self.cache.write().hmac = Some(key.clone());
        Ok(Some(key))
    }

    fn read_file(&self) -> Result<KeyFile> {
        let path = self.keys_file();
        match fs_err::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| AuthError::Json {
                path: path.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyFile::default()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Re-reads the key file if it changed since it was last read.
    fn refresh(&self) -> Result<()> {
        let current = stamp(&self.keys_file());
        if current.is_some() && self.cache.read().stamp == current {
            return Ok(());
        }
        let file = self.read_file()?;
        let mut cache = self.cache.write();
        cache.stamp = current;
        cache.by_id = file
            .keys
            .into_iter()
            .map(|r| (r.info.id.clone(), r))
            .collect();
        Ok(())
    }

    /// Changes the key file under an exclusive lock, so the CLI and a server never lose each
    /// other's writes.
    fn modify<T>(&self, change: impl FnOnce(&mut KeyFile) -> Result<T>) -> Result<T> {
        self.ensure_dir()?;
        let lock_path = self.dir.join("keys.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        let mut file = self.read_file()?;
        let out = change(&mut file)?;
        let bytes = serde_json::to_vec_pretty(&file).map_err(|source| AuthError::Json {
            path: self.keys_file(),
            source,
        })?;
        write_atomic(&self.keys_file(), &bytes)?;
        drop(lock); // releases the lock
        Ok(out)
    }

    /// Creates a key; its secret is in the answer and nowhere else.
    pub fn create(&self, spec: &KeySpec) -> Result<NewKey> {
        nova_core::LabelField::parse(&spec.name).map_err(|_| {
            AuthError::InvalidKey(format!(
                "invalid key name `{}`: use 1–64 letters, digits, `-` and `_`",
                spec.name
            ))
        })?;
        let id = random_hex(ID_BYTES)?;
        let secret = random_hex(SECRET_BYTES)?;
        let created_at = now();
        let info = KeyInfo {
            id: id.clone(),
            name: spec.name.clone(),
            role: spec.role,
            kbs: spec.kbs.clone(),
            groups: spec.groups.clone(),
            created_at,
            expires_at: spec.expires_in.map(|d| created_at + d.as_secs()),
            revoked_at: None,
            rate: spec.rate,
            daily_quota: spec.daily_quota,
        };
        let record_info = info.clone();
        self.modify(|file| {
            if file.keys.iter().any(|k| k.info.name == spec.name) {
                return Err(AuthError::KeyExists(spec.name.clone()));
            }
            // The hashing key is read or made under the same lock, so two first creates (CLI and
            // server) cannot each make one and leave keys hashed with the loser's.
            let key = self.hmac_key(true)?.ok_or(AuthError::Random)?;
            file.keys.push(KeyRecord {
                info: record_info,
                hash: hex::encode(hmac::sign(&key, secret.as_bytes()).as_ref()),
            });
            Ok(())
        })?;
        Ok(NewKey {
            info,
            secret: format!("{PREFIX}{id}_{secret}"),
        })
    }

    /// Every key, oldest first, without secrets.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.read_file()?.keys.into_iter().map(|r| r.info).collect())
    }

    /// Revokes the key called `name` (it stays listed, marked revoked).
    pub fn revoke(&self, name: &str) -> Result<KeyInfo> {
        self.modify(|file| {
            let record = file
                .keys
                .iter_mut()
                .find(|k| k.info.name == name)
                .ok_or_else(|| AuthError::KeyNotFound(name.to_owned()))?;
            record.info.revoked_at.get_or_insert_with(now);
            Ok(record.info.clone())
        })
    }

    /// The key `token` is, if it is one of ours and still valid.
    pub fn verify(&self, token: &str) -> Result<KeyInfo> {
        let (id, secret) = token
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .ok_or(AuthError::Unauthenticated("not a KB Nova API key"))?;
        self.refresh()?;
        let Some(key) = self.hmac_key(false)? else {
            return Err(AuthError::Unauthenticated("no keys exist"));
        };
        let cache = self.cache.read();
        let record = cache
            .by_id
            .get(id)
            .ok_or(AuthError::Unauthenticated("unknown key id"))?;
        let tag = hex::decode(&record.hash)
            .map_err(|_| AuthError::Unauthenticated("corrupt key record"))?;
        // Constant-time comparison of the secret's HMAC with the stored one.
        hmac::verify(&key, secret.as_bytes(), &tag)
            .map_err(|_| AuthError::Unauthenticated("wrong secret"))?;
        let info = &record.info;
        if let Some(why) = info.refusal() {
            return Err(AuthError::Unauthenticated(why));
        }
        Ok(info.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, role: Role) -> KeySpec {
        KeySpec {
            name: name.into(),
            role,
            kbs: vec![],
            groups: vec!["hr".into()],
            expires_in: None,
            rate: None,
            daily_quota: None,
        }
    }

    #[test]
    fn a_created_key_verifies_and_only_its_hash_is_stored() {
        let root = tempfile::TempDir::new().unwrap();
        let dir = root.path().join("auth");
        let store = KeyStore::open(&dir);
        let new = store.create(&spec("ops", Role::Editor)).unwrap();
        assert!(new.secret.starts_with("nova_"));
        assert_eq!(new.secret.len(), 5 + 12 + 1 + 64);
        let info = store.verify(&new.secret).unwrap();
        assert_eq!((info.name.as_str(), info.role), ("ops", Role::Editor));
        assert_eq!(info.principal().groups, ["hr"]);
        let file = std::fs::read_to_string(dir.join("keys.json")).unwrap();
        let secret_part = new.secret.rsplit('_').next().unwrap();
        assert!(
            !file.contains(secret_part),
            "the secret never reaches the disk"
        );
        use std::os::unix::fs::PermissionsExt;
        for owner_only in [dir.join("hmac.key"), dir.join("keys.json"), dir.clone()] {
            let mode = std::fs::metadata(&owner_only).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is owner-only", owner_only.display());
        }
    }

    #[test]
    fn wrong_secrets_unknown_ids_and_foreign_strings_are_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = KeyStore::open(dir.path());
        let new = store.create(&spec("a", Role::Reader)).unwrap();
        let mut tampered = new.secret.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == '0' { '1' } else { '0' });
        for bad in [
            tampered.as_str(),
            "nova_000000000000_00",
            "Bearer x",
            "",
            "nova_",
        ] {
            assert!(
                matches!(store.verify(bad), Err(AuthError::Unauthenticated(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            store.create(&spec("a", Role::Reader)),
            Err(AuthError::KeyExists(_))
        ));
    }

    #[test]
    fn revocation_and_expiry_take_effect_for_another_store_on_the_same_folder() {
        let dir = tempfile::TempDir::new().unwrap();
        let cli = KeyStore::open(dir.path());
        let server = KeyStore::open(dir.path());
        let key = cli.create(&spec("temp", Role::Reader)).unwrap();
        assert!(server.verify(&key.secret).is_ok());
        cli.revoke("temp").unwrap();
        assert!(
            matches!(
                server.verify(&key.secret),
                Err(AuthError::Unauthenticated("revoked key"))
            ),
            "the server sees the CLI's revocation on the next check"
        );
        let mut short = spec("short", Role::Reader);
        short.expires_in = Some(Duration::ZERO);
        let expired = cli.create(&short).unwrap();
        assert!(matches!(
            server.verify(&expired.secret),
            Err(AuthError::Unauthenticated("expired key"))
        ));
        assert_eq!(cli.list().unwrap().len(), 2);
        assert!(matches!(cli.revoke("nope"), Err(AuthError::KeyNotFound(_))));
    }
}
