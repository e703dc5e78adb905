//! Readiness as the engine sees it — stores open, data folder writable, KBs held by another process —
//! computed at most once per [`HEALTH_TTL`]: probes hit `/readyz` every second or two, and each check
//! writes a file.

use parking_lot::Mutex;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long one health check answers for.
pub const HEALTH_TTL: Duration = Duration::from_secs(5);

/// The engine's readiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The KB list reads and every KB opens (or is held by another process, which is not a fault of
    /// this one).
    pub store_open: bool,
    /// The data folder accepts writes.
    pub disk_writable: bool,
    /// KBs another process has open right now (e.g. a `nova ingest`): served again once it is done.
    pub busy_kbs: Vec<String>,
}

/// The last check and when it ran.
#[derive(Default)]
pub(crate) struct HealthCache {
    last: Mutex<Option<(Instant, Health)>>,
}

impl HealthCache {
    /// The cached health if younger than [`HEALTH_TTL`], else `check()`'s (one caller checks; the others
    /// wait for its answer).
    pub(crate) fn get(&self, check: impl FnOnce() -> Health) -> Health {
        let mut last = self.last.lock();
        if let Some((at, health)) = last.as_ref() {
            if at.elapsed() < HEALTH_TTL {
                return health.clone();
            }
        }
        let health = check();
        *last = Some((Instant::now(), health.clone()));
        health
    }
}

/// Writes and removes a probe file in `dir`.
pub(crate) fn writable(dir: &Path) -> bool {
    let probe = dir.join(".readyz-probe");
    let ok = fs_err::write(&probe, b"ok").and_then(|()| fs_err::remove_file(&probe));
    if let Err(e) = &ok {
        tracing::warn!("data folder is not writable: {e}");
    }
    ok.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_check_answers_for_its_ttl() {
        let cache = HealthCache::default();
        let runs = Cell::new(0);
        let check = || {
            runs.set(runs.get() + 1);
            Health {
                store_open: true,
                disk_writable: true,
                busy_kbs: vec![],
            }
        };
        for _ in 0..100 {
            assert!(cache.get(check).disk_writable);
        }
        assert_eq!(runs.get(), 1);
    }
}
