//! Plain data passed in and out of a [`crate::Store`].

use nova_core::{AccessFilter, Filter};

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
    /// Stable numeric id (chosen by the caller).
    pub id: u64,
    /// Dense embedding.
    pub dense: Vec<f32>,
    /// BM25 document vector.
    pub sparse: SparseVec,
    /// A JSON object; its meaning is the caller's.
    pub payload: serde_json::Map<String, serde_json::Value>,
}

/// What a new knowledge base's store is built for.
#[derive(Debug, Clone)]
pub struct StoreSchema {
    /// Dense vector dimension.
    pub dim: usize,
    /// Payload keys given a keyword index (cheap to filter on).
    pub keyword_fields: Vec<String>,
    /// Payload keys given an integer index.
    pub integer_fields: Vec<String>,
}

/// Which index answers a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retriever {
    /// Cosine similarity on the dense vector (HNSW).
    Dense,
    /// BM25 on the sparse vector (IDF computed by the store).
    Bm25,
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
    /// What the caller asked to match.
    pub filter: &'a Filter,
    /// What the caller may see; applied inside the query, on top of `filter`.
    pub access: &'a AccessFilter,
    /// How many hits.
    pub limit: usize,
    /// Payload keys to return with each hit; `None` returns the whole payload, an empty list none.
    pub payload_keys: Option<&'a [&'a str]>,
}

/// One search hit.
#[derive(Debug, Clone)]
pub struct StoreHit {
    /// Chunk id.
    pub id: u64,
    /// Retriever score (cosine, or BM25).
    pub score: f32,
    /// The requested payload keys.
    pub payload: serde_json::Map<String, serde_json::Value>,
}

/// One stored chunk read back by a scan.
#[derive(Debug, Clone)]
pub struct StoredPoint {
    /// Chunk id.
    pub id: u64,
    /// The requested payload keys.
    pub payload: serde_json::Map<String, serde_json::Value>,
    /// Dense vector, when asked for.
    pub dense: Option<Vec<f32>>,
}

/// The values of an any-of condition, all of one kind (what both backends' match conditions take).
pub(crate) enum MatchValues {
    /// Keywords (also for an empty list).
    Keywords(Vec<String>),
    /// Integers.
    Integers(Vec<i64>),
}

impl MatchValues {
    /// Splits `values` of the condition on `field` by kind; mixing kinds is refused.
    pub(crate) fn of(field: &str, values: &[nova_core::FieldValue]) -> crate::Result<Self> {
        let mut words = Vec::new();
        let mut numbers = Vec::new();
        for v in values {
            match v {
                nova_core::FieldValue::Keyword(s) => words.push(s.clone()),
                nova_core::FieldValue::Integer(n) => numbers.push(*n),
            }
        }
        match (words.is_empty(), numbers.is_empty()) {
            (_, true) => Ok(Self::Keywords(words)),
            (true, false) => Ok(Self::Integers(numbers)),
            (false, false) => Err(crate::StoreError::MixedValues(field.to_owned())),
        }
    }
}
