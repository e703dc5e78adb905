//! A cache several processes share (Redis, for replicas of one service).

use std::time::Duration;

/// A best-effort key-value cache shared between processes: a miss, an outage or a failed write is never
/// an error, only a slower path. Keys are the caller's; implementations may add a prefix.
pub trait SharedCache: Send + Sync + std::fmt::Debug {
    /// The value under `key`, if present and reachable.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores `value` under `key` for `ttl` (ignored when unreachable).
    fn put(&self, key: &str, value: &[u8], ttl: Duration);
}
