//! Free space on the data folder, checked before a write is accepted: below the floor
//! (`data.min_free_mb`) an ingest, a new KB or a restore is refused with `insufficient_storage`
//! rather than started. The store maps its files into memory, so running the file system completely
//! full is the one place a write can fail after the point where it could still be refused cleanly —
//! the floor keeps writes away from that edge, and leaves room for the task records and the store's
//! optimiser. A write that still hits a full or read-only disk is reported the same way.

use crate::error::{EngineError, Result};
use std::path::{Path, PathBuf};

/// The floor a fresh engine keeps: room for a few ingest batches, the task records and a segment merge
/// of a small KB. Raise it for large KBs (a merge needs room for a copy of the largest segment).
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

/// The data folder and the free space a write needs there.
#[derive(Debug, Clone)]
pub(crate) struct DiskGuard {
    dir: PathBuf,
    min_free: u64,
}

impl DiskGuard {
    pub(crate) fn new(dir: &Path, min_free: u64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            min_free,
        }
    }

    /// Bytes free for this process's writes, if the file system says.
    pub(crate) fn available(&self) -> Option<u64> {
        fs4::available_space(&self.dir).ok()
    }

    /// `Ok` when the data folder has at least the floor free (or cannot say: the write itself will tell).
    pub(crate) fn check(&self) -> Result<()> {
        match self.available() {
            Some(available) if available < self.min_free => Err(EngineError::DiskFull {
                available,
                floor: self.min_free,
            }),
            _ => Ok(()),
        }
    }
}

/// `n` bytes in MiB for messages, rounded down.
pub(crate) fn mib(n: u64) -> u64 {
    n / (1024 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_refuses_below_it_and_names_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DiskGuard::new(dir.path(), 0).check().is_ok());
        let e = DiskGuard::new(dir.path(), u64::MAX).check().unwrap_err();
        assert_eq!(e.code(), nova_core::Code::InsufficientStorage);
        assert!(e.to_string().contains("data.min_free_mb"), "{e}");
    }
}
