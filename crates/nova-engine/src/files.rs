//! Durable small files: JSON written to a temporary file, fsynced, renamed over the old one and the folder
//! fsynced, so a crash leaves the old version or the new one, never half of either. Owner-only (0600):
//! these files hold documents and bookkeeping nobody else on the machine needs to read.

use crate::cipher::{open_bytes, seal_bytes, Keyring};
use crate::error::{EngineError, Result};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `value` as JSON to `path` atomically and durably.
pub(crate) fn write_json_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|source| EngineError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_bytes_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically and durably.
pub(crate) fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    fs_err::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        // The rename is durable only once the folder's entry is.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

/// Maps an I/O error on `path` to the engine's error naming it.
pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> EngineError + '_ {
    move |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Every file under `dir`, recursively, as (its path relative to `dir` with `/` separators, its path),
/// sorted by the relative path.
pub(crate) fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs_err::read_dir(&d).map_err(io(&d))? {
            let path = entry.map_err(io(&d))?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .map_err(|_| {
                    EngineError::Internal(format!("{} escaped {}", path.display(), dir.display()))
                })?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads JSON from `path`.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    read_sealed_json(path, None, "")
}

/// [`write_json_atomic`], the whole file sealed under `keyring` (bound to `context`) when one is given:
/// for files that hold what users wrote (queued documents).
pub(crate) fn write_sealed_json(
    path: &Path,
    value: &impl Serialize,
    keyring: Option<&Keyring>,
    context: &str,
) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|source| EngineError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_bytes_atomic(path, &seal_bytes(keyring, bytes, context)?)
}

/// Reads JSON that [`write_sealed_json`] wrote, sealed or not.
pub(crate) fn read_sealed_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    keyring: Option<&Keyring>,
    context: &str,
) -> Result<T> {
    let bytes = fs_err::read(path).map_err(|source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&open_bytes(keyring, bytes, context)?).map_err(|source| {
        EngineError::Json {
            path: path.to_path_buf(),
            source,
        }
    })
}
