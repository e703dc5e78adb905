//! Shared by the engine's integration tests: which store backend they run on, and a tiny deterministic
//! embedder for tests the real model adds nothing to.
#![allow(dead_code)] // each test binary uses its own part
//!
//! By default the embedded store. With `NOVA_TEST_QDRANT_URLS` set (comma-separated gRPC URLs of a Qdrant
//! cluster; `scripts/test.sh` starts one with `scripts/qdrant-cluster.sh` and runs these tests again),
//! the same tests run on the Qdrant-cluster backend: 2 shards, 2 replicas.

use nova_core::Embedding;
use nova_embed::Embedder;
use nova_engine::Engine;
use nova_store::{QdrantBackend, QdrantOptions, WriteOrdering};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

/// The cluster's gRPC URLs, when the tests are to run on one.
pub fn cluster_urls() -> Option<Vec<String>> {
    let urls = std::env::var("NOVA_TEST_QDRANT_URLS").ok()?;
    let urls: Vec<String> = urls.split(',').map(|u| u.trim().to_owned()).collect();
    (!urls.iter().all(String::is_empty)).then_some(urls)
}

/// The cluster backend for a data folder: collections named after the folder, so tests running side by
/// side never share one and reopening the folder finds its collections again.
pub fn cluster_backend(urls: Vec<String>, data: &Path) -> QdrantBackend {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    cluster_backend_prefixed(urls, &format!("t{:016x}_", h.finish()))
}

/// The cluster backend with collections named `<prefix><kb>`.
pub fn cluster_backend_prefixed(urls: Vec<String>, prefix: &str) -> QdrantBackend {
    QdrantBackend::new(QdrantOptions {
        urls,
        collection_prefix: prefix.to_owned(),
        shard_number: 2,
        replication_factor: 2,
        // One confirmation: writes go on while a node (and so one copy of some shards) is down.
        write_consistency_factor: 1,
        write_ordering: WriteOrdering::Weak,
        // A killed node may be the write leader: re-election takes seconds on a busy 2-core host.
        retries: 7,
        ..QdrantOptions::default()
    })
    .expect("cluster backend")
}

/// `engine` on the backend the environment asks for.
pub fn on_test_backend(engine: Engine, data: &Path) -> Engine {
    match cluster_urls() {
        Some(urls) => engine.with_backend(Arc::new(cluster_backend(urls, data))),
        None => engine,
    }
}

/// Bag of hashed words in 64 dimensions, unit length: texts sharing words are close.
pub struct BagOfWords;

pub const DIM: usize = 64;

pub fn bag(text: &str) -> Embedding {
    let mut v = vec![0f32; DIM];
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
    {
        let h = w
            .to_lowercase()
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        v[(h % DIM as u64) as usize] += 1.0;
    }
    nova_core::l2_normalize(&mut v);
    v
}

impl Embedder for BagOfWords {
    fn model_id(&self) -> &str {
        "bag-of-words"
    }
    fn dim(&self) -> usize {
        DIM
    }
    fn embed(&self, texts: &[&str]) -> nova_embed::Result<Vec<Embedding>> {
        Ok(texts.iter().map(|t| bag(t)).collect())
    }
    fn token_counts(&self, texts: &[&str]) -> nova_embed::Result<Vec<usize>> {
        Ok(texts.iter().map(|t| t.split_whitespace().count()).collect())
    }
}
