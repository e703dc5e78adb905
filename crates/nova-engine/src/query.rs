//! Query embeddings for a serving process: an LRU cache of recent queries in front of the batching
//! worker, so repeated questions skip the model and concurrent ones share a forward pass.

use crate::error::Result;
use moka::sync::Cache;
use nova_core::SharedCache;
use nova_embed::{BatchingEmbedder, BatchingOptions, Embedder};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a query embedding stays in the shared cache.
const SHARED_TTL: Duration = Duration::from_secs(24 * 3600);

/// Embeds queries through a cache and a batcher.
pub struct QueryEncoder {
    batcher: BatchingEmbedder,
    cache: Option<Cache<String, Arc<Vec<f32>>>>,
    /// The cache replicas share (Redis), with the model id its keys carry.
    shared: Option<(Arc<dyn SharedCache>, String)>,
    dim: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl QueryEncoder {
    /// `cache_entries` = 0 turns the cache off (cold benchmarks).
    /// `shared` is consulted after the local cache and filled after the model ran.
    pub fn new(
        embedder: Arc<dyn Embedder>,
        batching: BatchingOptions,
        cache_entries: u64,
        shared: Option<Arc<dyn SharedCache>>,
    ) -> Self {
        let model = embedder.model_id().to_owned();
        Self {
            dim: embedder.dim(),
            shared: shared.map(|s| (s, model)),
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
        // The query's hash, not its text, names it in the shared cache (queries may hold personal data).
        let shared_key = self.shared.as_ref().map(|(_, model)| {
            format!(
                "emb:{model}:{}",
                nova_core::to_hex(&Sha256::digest(query.as_bytes()))
            )
        });
        let from_shared = self
            .shared
            .as_ref()
            .zip(shared_key.as_deref())
            .and_then(|((cache, _), key)| cache.get(key))
            .and_then(|bytes| self.decode(&bytes));
        let v = match from_shared {
            Some(v) => Arc::new(v),
            None => {
                let v = Arc::new(self.batcher.embed_one(query)?);
                if let (Some((cache, _)), Some(key)) = (&self.shared, &shared_key) {
                    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                    cache.put(key, &bytes, SHARED_TTL);
                }
                v
            }
        };
        if let Some(c) = &self.cache {
            c.insert(query.to_owned(), v.clone());
        }
        Ok(v)
    }

    /// An embedding read back from the shared cache (little-endian f32s), if it has the model's size.
    fn decode(&self, bytes: &[u8]) -> Option<Vec<f32>> {
        (bytes.len() == self.dim * 4).then(|| {
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
    }

    /// (cache hits, cache misses) since start.
    pub fn cache_stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;

    /// Counts its forward passes.
    struct Counting(AtomicUsize);

    impl Embedder for Counting {
        fn model_id(&self) -> &str {
            "counting"
        }
        fn dim(&self) -> usize {
            2
        }
        fn embed(&self, texts: &[&str]) -> nova_embed::Result<Vec<nova_core::Embedding>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect())
        }
        fn token_counts(&self, texts: &[&str]) -> nova_embed::Result<Vec<usize>> {
            Ok(texts.iter().map(|_| 1).collect())
        }
    }

    /// A map standing in for Redis (the Redis side is tested against a real server in nova-auth).
    #[derive(Debug, Default)]
    struct MapCache(Mutex<HashMap<String, Vec<u8>>>);

    impl SharedCache for MapCache {
        fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.0.lock().get(key).cloned()
        }
        fn put(&self, key: &str, value: &[u8], _ttl: Duration) {
            self.0.lock().insert(key.to_owned(), value.to_vec());
        }
    }

    #[test]
    fn a_query_one_replica_embedded_is_read_from_the_shared_cache_by_another() {
        let shared = Arc::new(MapCache::default());
        let replica = |model: &Arc<Counting>| {
            QueryEncoder::new(
                model.clone(),
                BatchingOptions::default(),
                0,
                Some(shared.clone() as Arc<dyn SharedCache>),
            )
        };
        let (ma, mb) = (
            Arc::new(Counting(AtomicUsize::new(0))),
            Arc::new(Counting(AtomicUsize::new(0))),
        );
        let (a, b) = (replica(&ma), replica(&mb));
        assert_eq!(*a.encode("printer offline").unwrap(), vec![15.0, 1.0]);
        assert_eq!(*b.encode("printer offline").unwrap(), vec![15.0, 1.0]);
        assert_eq!(ma.0.load(Ordering::SeqCst), 1);
        assert_eq!(mb.0.load(Ordering::SeqCst), 0, "B read A's embedding");
        let keys: Vec<String> = shared.0.lock().keys().cloned().collect();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].starts_with("emb:counting:") && !keys[0].contains("printer"));
        // A value of the wrong size (another model's) is ignored, not trusted.
        shared.0.lock().insert(keys[0].clone(), vec![0; 4]);
        assert_eq!(*b.encode("printer offline").unwrap(), vec![15.0, 1.0]);
        assert_eq!(mb.0.load(Ordering::SeqCst), 1);
    }
}
