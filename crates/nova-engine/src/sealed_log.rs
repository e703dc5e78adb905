//! Append-only JSON Lines logs of what users typed (feedback, the query log): one record per line in time
//! order, owner-only (0600), the user's text sealed under encryption at rest, records past their retention
//! dropped, re-sealed by `nova kb rekey`.

use crate::cipher::{open_fields, Keyring};
use crate::error::{EngineError, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Drops records older than `cutoff` (Unix seconds). Lines are in time order, so only the first one is
/// read unless something is due; then the rest is rewritten atomically.
pub(crate) fn prune(path: &Path, cutoff: u64) -> Result<usize> {
    use std::io::BufRead;
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(0); // nothing recorded yet
    };
    /// Only the time: a sealed line has no readable query.
    #[derive(Deserialize)]
    struct At {
        #[serde(default)]
        at: u64,
    }
    let at = |line: &str| serde_json::from_str::<At>(line).map_or(u64::MAX, |f| f.at);
    let mut lines = std::io::BufReader::new(file).lines();
    match lines.next() {
        Some(Ok(first)) if at(&first) < cutoff => {}
        _ => return Ok(0),
    }
    let text = fs_err::read_to_string(path).map_err(|source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let kept: Vec<&str> = text.lines().filter(|l| at(l) >= cutoff).collect();
    let removed = text.lines().count() - kept.len();
    let mut body = kept.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    crate::files::write_bytes_atomic(path, body.as_bytes())?;
    tracing::info!(path = %path.display(), removed, "records past their retention removed");
    Ok(removed)
}

/// A kind of log: which fields hold what users typed (sealed under encryption at rest), the context sealed
/// lines are bound to, and whether an append waits for the disk.
pub(crate) struct LogKind {
    pub typed_by_user: fn(&str) -> bool,
    pub context: &'static str,
    pub durable: bool,
}

/// One record as its line (without the newline), the user's text sealed when a keyring is given.
fn line_of<T: Serialize>(
    path: &Path,
    record: &T,
    keyring: Option<&Keyring>,
    kind: &LogKind,
) -> Result<Vec<u8>> {
    let json = |source| EngineError::Json {
        path: path.to_path_buf(),
        source,
    };
    let mut map = match serde_json::to_value(record).map_err(json)? {
        serde_json::Value::Object(map) => map,
        _ => {
            return Err(EngineError::Internal(
                "a log record is not an object".into(),
            ))
        }
    };
    if let Some(k) = keyring {
        k.seal_fields(&mut map, kind.typed_by_user, kind.context)?;
    }
    serde_json::to_vec(&map).map_err(json)
}

/// Every record of `path`, oldest first, its sealed fields opened (none when nothing was recorded).
pub(crate) fn read<T: DeserializeOwned>(
    path: &Path,
    keyring: Option<&Keyring>,
    kind: &LogKind,
) -> Result<Vec<T>> {
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(EngineError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let json = |source| EngineError::Json {
        path: path.to_path_buf(),
        source,
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).map_err(json)?;
            open_fields(keyring, &mut map, kind.context)?;
            serde_json::from_value(serde_json::Value::Object(map)).map_err(json)
        })
        .collect()
}

/// Re-seals every record of `path` under the keyring's current key (`nova kb rekey`); plain records are
/// sealed too. Returns how many records were written.
pub(crate) fn rekey<T: Serialize + DeserializeOwned>(
    path: &Path,
    keyring: &Keyring,
    kind: &LogKind,
) -> Result<usize> {
    let records: Vec<T> = read(path, Some(keyring), kind)?;
    if records.is_empty() && !path.exists() {
        return Ok(0);
    }
    let mut body = Vec::new();
    for record in &records {
        body.extend(line_of(path, record, Some(keyring), kind)?);
        body.push(b'\n');
    }
    crate::files::write_bytes_atomic(path, &body)?;
    Ok(records.len())
}

/// Appends one line to `path`; the caller serialises appenders so lines stay whole.
pub(crate) fn append<T: Serialize>(
    path: &Path,
    record: &T,
    keyring: Option<&Keyring>,
    kind: &LogKind,
) -> Result<()> {
    let io = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut line = line_of(path, record, keyring, kind)?;
    line.push(b'\n');
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(&line).map_err(io)?;
    if kind.durable {
        file.sync_data().map_err(io)?;
    }
    Ok(())
}
