//! Search: dense and BM25 candidates from the store, fused for hybrid (convex combination by default, RRF on request), grouped per document (best
//! chunk wins), each hit carrying why it matched: per-retriever score and rank, and the fused score.

use crate::error::{EngineError, Result};
use crate::fusion::{fuse, Fusion};
use crate::kb::KnowledgeBase;
use nova_embed::{Embedder, SentenceEmbedder};
use nova_store::{FieldFilter, Retriever, SparseVec, Store, StoreHit, StoreQuery};
use serde::Serialize;
use std::collections::HashMap;
use std::str::FromStr;

/// Retrieval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Dense and BM25 fused (see `SearchOptions::fusion`).
    Hybrid,
    /// Embedding cosine only.
    Dense,
    /// BM25 only.
    Bm25,
}

impl Mode {
    /// `hybrid`, `dense` or `bm25`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::Dense => "dense",
            Self::Bm25 => "bm25",
        }
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "hybrid" => Ok(Self::Hybrid),
            "dense" => Ok(Self::Dense),
            "bm25" => Ok(Self::Bm25),
            other => Err(format!("unknown mode `{other}` (hybrid, dense or bm25)")),
        }
    }
}

/// What to search for and how.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Retrieval mode.
    pub mode: Mode,
    /// Documents to return.
    pub k: usize,
    /// Payload filters, all required.
    pub filters: Vec<FieldFilter>,
    /// Payload filters that must not match (e.g. `kind=ticket` to search articles only).
    pub exclude: Vec<FieldFilter>,
    /// Chunks fetched from each retriever before fusion and grouping.
    pub candidates: usize,
    /// How hybrid mode combines the retrievers.
    pub fusion: Fusion,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Hybrid,
            k: 10,
            filters: Vec::new(),
            exclude: Vec::new(),
            candidates: 300,
            fusion: Fusion::default(),
        }
    }
}

/// A retriever's view of a hit: its score and 1-based rank among chunks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetrieverScore {
    /// Cosine (dense) or BM25 score.
    pub score: f32,
    /// 1-based rank in that retriever's chunk list.
    pub rank: usize,
}

/// One document in the results, represented by its best chunk.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocHit {
    /// Document id.
    pub doc_id: String,
    /// Title.
    pub title: String,
    /// Source path or URL.
    pub source: String,
    /// Section path of the best chunk.
    pub headings: Vec<String>,
    /// The best chunk's text.
    pub text: String,
    /// Chunk index of the best chunk.
    pub chunk: u64,
    /// Score used for ranking (fused score in hybrid mode).
    pub score: f64,
    /// Dense retriever's score and rank for the best chunk, if it found it.
    pub dense: Option<RetrieverScore>,
    /// BM25's score and rank for the best chunk, if it found it.
    pub bm25: Option<RetrieverScore>,
    /// Other chunks of this document that also matched.
    pub more_chunks: usize,
    /// `article`, `ticket`, …
    pub kind: String,
    /// The document's tags.
    pub tags: Vec<String>,
    /// Other stored metadata (category, priority, answer, …).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Payload keys shown as `DocHit` fields (or internal), not repeated in `metadata`.
const STANDARD_KEYS: [&str; 11] = [
    "doc_id", "chunk", "title", "source", "headings", "text", "kind", "hash", "tags", "acl",
    "indexed",
];

impl KnowledgeBase {
    /// Searches the knowledge base; results are documents, best first.
    pub fn search(
        &self,
        embedder: &SentenceEmbedder,
        query: &str,
        opts: &SearchOptions,
    ) -> Result<Vec<DocHit>> {
        let dense = if opts.mode == Mode::Bm25 {
            None
        } else {
            Some(embedder.embed(&[query])?.remove(0))
        };
        self.search_with_vector(query, dense.as_deref(), opts)
    }

    /// Searches with the query's embedding already computed (by a batching or caching front end).
    /// `dense` may be `None` only in BM25 mode.
    pub fn search_with_vector(
        &self,
        query: &str,
        dense: Option<&[f32]>,
        opts: &SearchOptions,
    ) -> Result<Vec<DocHit>> {
        let dense_vec = match (opts.mode, dense) {
            (Mode::Bm25, _) => &[][..],
            (_, Some(v)) => v,
            (_, None) => {
                return Err(EngineError::Internal(
                    "dense or hybrid search without a query embedding".into(),
                ))
            }
        };
        let sparse_vec = if opts.mode == Mode::Dense {
            SparseVec::default()
        } else {
            self.bm25().query(query)
        };
        let run = |retriever| {
            self.store().search(&StoreQuery {
                retriever,
                dense: dense_vec,
                sparse: &sparse_vec,
                filters: &opts.filters,
                exclude: &opts.exclude,
                limit: opts.candidates.max(opts.k),
                // Candidates carry only their document id; full payloads are read for the winners.
                payload_keys: Some(&["doc_id"]),
            })
        };
        let dense = if opts.mode == Mode::Bm25 {
            Vec::new()
        } else {
            run(Retriever::Dense)?
        };
        let bm25 = if opts.mode == Mode::Dense {
            Vec::new()
        } else {
            run(Retriever::Bm25)?
        };
        let grouped = group(dense, bm25, opts);
        let ids: Vec<u64> = grouped.iter().map(|(id, _)| *id).collect();
        let payloads = self.store().get_many(&ids)?;
        Ok(grouped
            .into_iter()
            .map(|(id, mut hit)| {
                if let Some(p) = payloads.get(&id) {
                    hydrate(&mut hit, p);
                }
                hit
            })
            .collect())
    }
}

/// Fills a hit's display fields from its chunk's full payload.
fn hydrate(hit: &mut DocHit, p: &serde_json::Value) {
    hit.title = text_field(p, "title");
    hit.source = text_field(p, "source");
    hit.headings = strings(p.get("headings"));
    hit.text = text_field(p, "text");
    hit.chunk = p.get("chunk").and_then(|c| c.as_u64()).unwrap_or_default();
    hit.kind = text_field(p, "kind");
    hit.tags = strings(p.get("tags"));
    hit.metadata = p
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !STANDARD_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
}

/// Ranks chunks (fused for hybrid), then keeps each document's best chunk: (chunk id, hit with its
/// scores; display fields still empty).
fn group(dense: Vec<StoreHit>, bm25: Vec<StoreHit>, opts: &SearchOptions) -> Vec<(u64, DocHit)> {
    let explain = |hits: &[StoreHit]| -> HashMap<u64, RetrieverScore> {
        hits.iter()
            .enumerate()
            .map(|(i, h)| {
                (
                    h.id,
                    RetrieverScore {
                        score: h.score,
                        rank: i + 1,
                    },
                )
            })
            .collect()
    };
    let (dense_by_id, bm25_by_id) = (explain(&dense), explain(&bm25));
    let mut payloads: HashMap<u64, serde_json::Value> = HashMap::new();
    let ranked: Vec<(u64, f64)> = match opts.mode {
        Mode::Dense => dense.iter().map(|h| (h.id, f64::from(h.score))).collect(),
        Mode::Bm25 => bm25.iter().map(|h| (h.id, f64::from(h.score))).collect(),
        Mode::Hybrid => {
            let scored = |hits: &[StoreHit]| -> Vec<(u64, f64)> {
                hits.iter().map(|h| (h.id, f64::from(h.score))).collect()
            };
            fuse(opts.fusion, &scored(&dense), &scored(&bm25))
        }
    };
    for h in dense.into_iter().chain(bm25) {
        payloads.entry(h.id).or_insert(h.payload);
    }
    let mut docs: Vec<(u64, DocHit)> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for (id, score) in ranked {
        let Some(p) = payloads.get(&id) else { continue };
        let doc_id = text_field(p, "doc_id");
        if let Some(&i) = index_of.get(&doc_id) {
            docs[i].1.more_chunks += 1;
            continue;
        }
        if docs.len() == opts.k {
            continue; // keep counting extra chunks of listed docs only
        }
        index_of.insert(doc_id.clone(), docs.len());
        docs.push((
            id,
            DocHit {
                doc_id,
                score,
                dense: dense_by_id.get(&id).copied(),
                bm25: bm25_by_id.get(&id).copied(),
                ..DocHit::default()
            },
        ));
    }
    docs
}

/// A payload's string field (empty when absent or not a string).
pub(crate) fn text_field(p: &serde_json::Value, key: &str) -> String {
    p.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// A JSON array of strings (anything else is empty).
pub(crate) fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(|h| h.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
