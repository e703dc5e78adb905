//! KB Nova's storage: chunks with a dense vector, a BM25 sparse vector and a JSON payload, searchable by
//! either vector and filterable by payload fields.
//!
//! The [`Store`] trait is the seam for a Qdrant-cluster backend later; [`EdgeStore`] is the embedded
//! default on `qdrant-edge` (an in-process Qdrant shard on disk with a write-ahead log). This crate knows
//! nothing of documents, chunking, embeddings or HTTP.

mod bm25;
mod edge;
mod error;
mod record;

pub use bm25::Bm25Encoder;
pub use edge::EdgeStore;
pub use error::{Result, StoreError};
pub use record::{
    ChunkRecord, FieldFilter, Retriever, SparseVec, StoreHit, StoreQuery, StoredPoint,
};

/// A knowledge base's chunk storage. Implementations are durable: once a write returns `Ok`, it survives
/// a crash (`kill -9`) and a restart.
pub trait Store: Send + Sync {
    /// Inserts or replaces chunks by id.
    fn upsert(&self, chunks: Vec<ChunkRecord>) -> Result<()>;
    /// Removes every chunk whose payload `doc_id` equals `doc_id`.
    fn delete_doc(&self, doc_id: &str) -> Result<()>;
    /// Top hits of one retriever, best first.
    fn search(&self, query: &StoreQuery<'_>) -> Result<Vec<StoreHit>>;
    /// Payload of one chunk by id, if it exists.
    fn get(&self, id: u64) -> Result<Option<serde_json::Value>>;
    /// Payloads of several chunks by id (absent ids are left out).
    fn get_many(&self, ids: &[u64]) -> Result<std::collections::HashMap<u64, serde_json::Value>>;
    /// Every chunk matching all `filters`, in id order, with the `payload_keys` of its payload and, when
    /// `with_dense`, its dense vector (e.g. to train a classifier on stored embeddings).
    fn scan(
        &self,
        filters: &[FieldFilter],
        payload_keys: &[&str],
        with_dense: bool,
    ) -> Result<Vec<StoredPoint>>;
    /// Number of chunks stored.
    fn count(&self) -> Result<usize>;
    /// Number of documents stored (chunks whose payload `chunk` is 0).
    fn count_docs(&self) -> Result<usize>;
}
