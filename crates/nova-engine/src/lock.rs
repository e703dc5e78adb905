//! One process per knowledge base: the process that opens a KB holds an OS lock on its `writer.lock`
//! for as long as it keeps the KB open, and writes who it is into the file. A second process (a
//! `nova ingest` while `nova serve` runs) gets [`EngineError::KbBusy`] naming the holder, instead of
//! the store's own `Can't init WAL: WouldBlock` — and a server keeps serving its other KBs.

use crate::error::{EngineError, Result};
use nova_core::KbName;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

/// Held while the KB is open; the OS releases it when the process exits, even on kill -9.
#[derive(Debug)]
pub(crate) struct KbLock {
    _file: File,
}

impl KbLock {
    /// Takes `kb`'s lock at `path` (the KB's folder must exist), or says who holds it.
    pub(crate) fn acquire(path: &Path, kb: &KbName) -> Result<Self> {
        let io = |source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).map_err(io)?;
                file.write_all(holder().as_bytes()).map_err(io)?;
                Ok(Self { _file: file })
            }
            Err(TryLockError::WouldBlock) => {
                let written = std::fs::read_to_string(path).unwrap_or_default();
                let holder = match written.trim() {
                    "" => "a process that has not said who it is".to_owned(),
                    h => nova_core::excerpt(h),
                };
                Err(EngineError::KbBusy {
                    kb: kb.to_string(),
                    holder,
                })
            }
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

static LABEL: OnceLock<String> = OnceLock::new();

/// Names this process in the KB locks it takes (`nova serve`); the front end calls it once at start.
/// Never the full command line: arguments may hold secrets.
pub fn set_process_label(label: &str) {
    let _ = LABEL.set(label.to_owned());
}

/// `pid 4242: nova serve` (the program's file name when no label was set).
fn holder() -> String {
    let label = LABEL.get().cloned().unwrap_or_else(|| {
        std::env::args()
            .next()
            .as_deref()
            .map(Path::new)
            .and_then(Path::file_name)
            .map_or_else(|| "?".to_owned(), |n| n.to_string_lossy().into_owned())
    });
    format!("pid {}: {label}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("writer.lock");
        let kb = KbName::parse("ops").unwrap();
        let first = KbLock::acquire(&path, &kb).unwrap();
        let err = KbLock::acquire(&path, &kb).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, EngineError::KbBusy { .. }), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("POST /v1/kbs/ops/documents"), "{message}");
        drop(first);
        KbLock::acquire(&path, &kb).unwrap();
    }
}
