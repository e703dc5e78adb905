//! Query embeddings for a serving process: an LRU cache of recent queries in front of the batching
//! worker, so repeated questions skip the model and concurrent ones share a forward pass.

use crate::error::Result;
use moka::sync::Cache;
use nova_embed::{BatchingEmbedder, BatchingOptions, Embedder};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Embeds queries through a cache and a batcher.
pub struct QueryEncoder {
    batcher: BatchingEmbedder,
    cache: Option<Cache<String, Arc<Vec<f32>>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl QueryEncoder {
    /// `cache_entries` = 0 turns the cache off (cold benchmarks).
    pub fn new(embedder: Arc<dyn Embedder>, batching: BatchingOptions, cache_entries: u64) -> Self {
        Self {
            batcher: BatchingEmbedder::spawn(embedder, batching),
            cache: (cache_entries > 0).then(|| Cache::new(cache_entries)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The query's embedding (blocking: call from a worker thread, not an async task).
    pub fn encode(&self, query: &str) -> Result<Arc<Vec<f32>>> {
        if let Some(v) = self.cache.as_ref().and_then(|c| c.get(query)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(v);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let v = Arc::new(self.batcher.embed_one(query)?);
        if let Some(c) = &self.cache {
            c.insert(query.to_owned(), v.clone());
        }
        Ok(v)
    }

    /// (cache hits, cache misses) since start.
    pub fn cache_stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}
