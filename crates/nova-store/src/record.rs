//! Plain data passed in and out of a [`crate::Store`].

/// A sparse vector: parallel term ids and weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVec {
    /// Term ids (hashes), unique.
    pub indices: Vec<u32>,
    /// Weight per term.
    pub values: Vec<f32>,
}

/// One chunk to store.
#[derive(Debug, Clone)]
pub struct ChunkRecord {
    /// Stable numeric id (derived from document id and chunk index by the caller).
    pub id: u64,
    /// Dense embedding.
    pub dense: Vec<f32>,
    /// BM25 document vector.
    pub sparse: SparseVec,
    /// JSON object; must hold a string `doc_id`.
    pub payload: serde_json::Value,
}

/// Which index answers a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retriever {
    /// Cosine similarity on the dense vector (HNSW).
    Dense,
    /// BM25 on the sparse vector (IDF computed by the store).
    Bm25,
}

/// Exact-match condition on a payload field (keyword or array-of-keyword fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFilter {
    /// Payload key, e.g. `tags` or `kind`.
    pub field: String,
    /// Required value.
    pub value: String,
}

/// A search against one retriever.
#[derive(Debug, Clone)]
pub struct StoreQuery<'a> {
    /// Which index.
    pub retriever: Retriever,
    /// Dense query vector (used for [`Retriever::Dense`]).
    pub dense: &'a [f32],
    /// Sparse query vector (used for [`Retriever::Bm25`]).
    pub sparse: &'a SparseVec,
    /// All must match.
    pub filters: &'a [FieldFilter],
    /// None may match.
    pub exclude: &'a [FieldFilter],
    /// How many hits.
    pub limit: usize,
    /// Payload keys to return with each hit; `None` returns the whole payload.
    pub payload_keys: Option<&'a [&'a str]>,
}

/// One search hit.
#[derive(Debug, Clone)]
pub struct StoreHit {
    /// Chunk id.
    pub id: u64,
    /// Retriever score (cosine, or BM25).
    pub score: f32,
    /// Stored payload.
    pub payload: serde_json::Value,
}

/// One stored chunk read back by a scan.
#[derive(Debug, Clone)]
pub struct StoredPoint {
    /// Chunk id.
    pub id: u64,
    /// The requested payload keys.
    pub payload: serde_json::Value,
    /// Dense vector, when asked for.
    pub dense: Option<Vec<f32>>,
}
