//! `[store]`: where knowledge bases' chunks live — the embedded store in the data folder, or a Qdrant
//! server or cluster — and `[cache]`: what several `nova serve` replicas share (Redis).

use anyhow::{bail, Context, Result};
use nova_store::{QdrantBackend, QdrantOptions, ReadConsistency, StoreBackend, WriteOrdering};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Which store backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// An in-process Qdrant shard per KB under the data folder.
    Embedded,
    /// One collection per KB on a Qdrant server or cluster (gRPC).
    Qdrant,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `embedded` or `qdrant`.
    pub kind: StoreKind,
    /// gRPC URLs of the Qdrant nodes (port 6334 by default); calls fail over between them.
    pub qdrant_urls: Vec<String>,
    /// Environment variable holding the cluster's API key; empty = none.
    pub qdrant_api_key_env: String,
    /// Prefix of every collection name.
    pub collection_prefix: String,
    /// Shards per new collection.
    pub shard_number: u32,
    /// Copies of each shard.
    pub replication_factor: u32,
    /// Replicas that must confirm a write.
    pub write_consistency_factor: u32,
    /// `weak`, `medium` or `strong`.
    pub write_ordering: String,
    /// `one`, `majority`, `quorum` or `all`.
    pub read_consistency: String,
    /// Per-request deadline, seconds.
    pub timeout_secs: u64,
    /// Retries of a failed call, each on the next node.
    pub retries: u32,
    /// First retry delay, milliseconds; doubled each time.
    pub backoff_ms: u64,
}

impl StoreConfig {
    /// The backend to use instead of the embedded default, if any.
    pub fn backend(&self) -> Result<Option<Arc<dyn StoreBackend>>> {
        if self.kind == StoreKind::Embedded {
            return Ok(None);
        }
        self.qdrant_backend(self.qdrant_urls.clone()).map(Some)
    }

    /// A Qdrant backend laid out as configured, on the nodes at `urls`.
    pub fn qdrant_backend(&self, urls: Vec<String>) -> Result<Arc<dyn StoreBackend>> {
        let write_ordering = match self.write_ordering.as_str() {
            "weak" => WriteOrdering::Weak,
            "medium" => WriteOrdering::Medium,
            "strong" => WriteOrdering::Strong,
            other => bail!("store.write_ordering is `{other}`: use weak, medium or strong"),
        };
        let read_consistency = match self.read_consistency.as_str() {
            "one" => ReadConsistency::One,
            "majority" => ReadConsistency::Majority,
            "quorum" => ReadConsistency::Quorum,
            "all" => ReadConsistency::All,
            other => bail!("store.read_consistency is `{other}`: use one, majority, quorum or all"),
        };
        let api_key = match self.qdrant_api_key_env.as_str() {
            "" => None,
            var => Some(std::env::var(var).with_context(|| {
                format!("store.qdrant_api_key_env names `{var}`, which is not set")
            })?),
        };
        let opts = QdrantOptions {
            urls,
            api_key,
            collection_prefix: self.collection_prefix.clone(),
            shard_number: self.shard_number.max(1),
            replication_factor: self.replication_factor.max(1),
            write_consistency_factor: self.write_consistency_factor.max(1),
            write_ordering,
            read_consistency,
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
            retries: self.retries,
            backoff: Duration::from_millis(self.backoff_ms),
            ..QdrantOptions::default()
        };
        Ok(Arc::new(
            QdrantBackend::new(opts).context("the [store] settings")?,
        ))
    }
}

/// `[cache]`: what replicas of `nova serve` share.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// `redis://host:port/db`; empty = every process keeps its own.
    pub redis: String,
    /// Prefix of every key written.
    pub redis_prefix: String,
    /// Deadline of one Redis call, milliseconds.
    pub redis_timeout_ms: u64,
}

impl CacheConfig {
    /// The Redis replicas share, when configured.
    pub fn redis(&self) -> Result<Option<Arc<nova_auth::Redis>>> {
        if self.redis.is_empty() {
            return Ok(None);
        }
        let timeout = Duration::from_millis(self.redis_timeout_ms.max(1));
        nova_auth::Redis::new(&self.redis, &self.redis_prefix, timeout)
            .map(|r| Some(Arc::new(r)))
            .map_err(|e| anyhow::anyhow!("cache.redis: {e}"))
    }
}
