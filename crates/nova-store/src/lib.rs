//! KB Nova's storage: chunks with a dense vector, a BM25 sparse vector and a JSON payload, searchable by
//! either vector and filterable by payload fields — every read restricted by the caller's
//! [`AccessFilter`].
//!
//! A [`StoreBackend`] creates, opens, lists and drops one [`Store`] per knowledge base; [`EdgeBackend`]
//! is the embedded default on `qdrant-edge` (an in-process Qdrant shard on disk with a write-ahead log);
//! [`QdrantBackend`] keeps each knowledge base as a collection of a Qdrant server or cluster (gRPC). This crate knows
//! nothing of documents, chunking, embeddings or HTTP: payload keys and their indexes are the caller's.

mod bm25;
mod cluster;
mod edge;
mod error;
mod record;

pub use bm25::Bm25Encoder;
pub use cluster::{QdrantBackend, QdrantOptions, QdrantStore, ReadConsistency, WriteOrdering};
pub use edge::{EdgeBackend, EdgeStore};
pub use error::{Result, StoreError};
pub use record::{
    ChunkRecord, Retriever, SparseVec, StoreHit, StoreQuery, StoreSchema, StoredPoint,
};

use nova_core::{AccessFilter, Filter, KbName};
use std::collections::HashMap;
use std::sync::Arc;

/// A JSON payload as stored.
pub type Payload = serde_json::Map<String, serde_json::Value>;

/// A knowledge base's chunk storage. Implementations are durable: once a write returns `Ok`, it survives
/// a crash (`kill -9`) and a restart. Every read takes the caller's [`AccessFilter`] and applies it in
/// the store's own query.
pub trait Store: Send + Sync {
    /// Dense vector dimension.
    fn dim(&self) -> usize;
    /// Inserts or replaces chunks by id.
    fn upsert(&self, chunks: Vec<ChunkRecord>) -> Result<()>;
    /// Replaces the whole payload of chunks by id, vectors untouched (re-sealing under a new key).
    fn overwrite_payloads(&self, payloads: Vec<(u64, Payload)>) -> Result<()>;
    /// Removes every chunk matching `filter`.
    fn delete(&self, filter: &Filter) -> Result<()>;
    /// Top hits of one retriever, best first.
    fn search(&self, query: &StoreQuery<'_>) -> Result<Vec<StoreHit>>;
    /// Payloads of chunks by id that `access` allows (absent or hidden ids are left out).
    fn get_many(&self, ids: &[u64], access: &AccessFilter) -> Result<HashMap<u64, Payload>>;
    /// Every chunk matching `filter` and `access`, in id order, with the `payload_keys` of its payload
    /// (`None`: all) and, when `with_dense`, its dense vector.
    fn scan(
        &self,
        filter: &Filter,
        access: &AccessFilter,
        payload_keys: Option<&[&str]>,
        with_dense: bool,
    ) -> Result<Vec<StoredPoint>>;
    /// Number of chunks matching `filter` and `access`.
    fn count(&self, filter: &Filter, access: &AccessFilter) -> Result<usize>;
    /// Merges segments and builds indexes where that pays; called after bulk writes.
    fn optimize(&self) -> Result<()>;
    /// Makes everything written so far durable on disk, then runs `f` while no write or maintenance can
    /// change the store's files (reads may wait too): for copying them as a consistent snapshot.
    /// Fails, without running `f`, when that flush cannot be made durable.
    fn frozen(&self, f: &mut dyn FnMut()) -> Result<()>;
    /// Up to `limit` whole chunks (both vectors and the payload, unfiltered: for export and migration by
    /// administrators) with ids above `after`, in id order, and whether more follow.
    fn export_page(&self, after: Option<u64>, limit: usize) -> Result<(Vec<ChunkRecord>, bool)>;
    /// Keeps the knowledge base's settings record beside its chunks, for backends that several processes
    /// share (each keeps its own copy in its data folder too). The embedded store has nothing to do.
    fn save_settings(&self, _settings: &serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// Where knowledge bases' stores live: one [`Store`] per knowledge base.
pub trait StoreBackend: Send + Sync {
    /// Creates an empty store for `kb`.
    fn create(&self, kb: &KbName, schema: &StoreSchema) -> Result<Arc<dyn Store>>;
    /// Opens the existing store of `kb`.
    fn open(&self, kb: &KbName) -> Result<Arc<dyn Store>>;
    /// True when `kb` has a store.
    fn exists(&self, kb: &KbName) -> bool;
    /// Removes `kb`'s store and everything in it. The caller makes sure nobody still uses it.
    fn drop_kb(&self, kb: &KbName) -> Result<()>;
    /// Knowledge bases that have a store, sorted.
    fn list(&self) -> Result<Vec<KbName>>;
    /// The settings record [`Store::save_settings`] kept for `kb`, if any: how a process that shares the
    /// backend learns of a knowledge base another one created. `None` for the embedded store.
    fn load_settings(&self, _kb: &KbName) -> Result<Option<serde_json::Value>> {
        Ok(None)
    }
}
