//! Search: dense and BM25 candidates from the store, fused by RRF for hybrid, grouped per document (best
//! chunk wins), each hit carrying why it matched: per-retriever score and rank, and the fused score.

use crate::error::Result;
use crate::fusion::{rrf, RRF_K};
use crate::kb::KnowledgeBase;
use nova_embed::{Embedder, SentenceEmbedder};
use nova_store::{FieldFilter, Retriever, SparseVec, Store, StoreHit, StoreQuery};
use serde::Serialize;
use std::collections::HashMap;
use std::str::FromStr;

/// Retrieval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Dense and BM25 fused by RRF.
    Hybrid,
    /// Embedding cosine only.
    Dense,
    /// BM25 only.
    Bm25,
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
    /// Chunks fetched from each retriever before fusion and grouping.
    pub candidates: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Hybrid,
            k: 10,
            filters: Vec::new(),
            candidates: 100,
        }
    }
}

/// A retriever's view of a hit: its score and 1-based rank among chunks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetrieverScore {
    /// Cosine (dense) or BM25 score.
    pub score: f32,
    /// 1-based rank in that retriever's chunk list.
    pub rank: usize,
}

/// One document in the results, represented by its best chunk.
#[derive(Debug, Clone, Serialize)]
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
}

impl KnowledgeBase {
    /// Searches the knowledge base; results are documents, best first.
    pub fn search(
        &self,
        embedder: &SentenceEmbedder,
        query: &str,
        opts: &SearchOptions,
    ) -> Result<Vec<DocHit>> {
        let empty = SparseVec::default();
        let dense_vec = if opts.mode == Mode::Bm25 {
            Vec::new()
        } else {
            embedder.embed(&[query])?.remove(0)
        };
        let sparse_vec = if opts.mode == Mode::Dense {
            empty.clone()
        } else {
            self.bm25().query(query)
        };
        let run = |retriever| {
            self.store().search(&StoreQuery {
                retriever,
                dense: &dense_vec,
                sparse: &sparse_vec,
                filters: &opts.filters,
                limit: opts.candidates.max(opts.k),
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
        Ok(group(dense, bm25, opts))
    }
}

/// Ranks chunks (fused for hybrid), then keeps each document's best chunk.
fn group(dense: Vec<StoreHit>, bm25: Vec<StoreHit>, opts: &SearchOptions) -> Vec<DocHit> {
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
        Mode::Hybrid => rrf(
            &[
                dense.iter().map(|h| h.id).collect(),
                bm25.iter().map(|h| h.id).collect(),
            ],
            RRF_K,
        ),
    };
    for h in dense.into_iter().chain(bm25) {
        payloads.entry(h.id).or_insert(h.payload);
    }
    let mut docs: Vec<DocHit> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for (id, score) in ranked {
        let Some(p) = payloads.get(&id) else { continue };
        let field = |k: &str| {
            p.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let doc_id = field("doc_id");
        if let Some(&i) = index_of.get(&doc_id) {
            docs[i].more_chunks += 1;
            continue;
        }
        if docs.len() == opts.k {
            continue; // keep counting extra chunks of listed docs only
        }
        index_of.insert(doc_id.clone(), docs.len());
        docs.push(DocHit {
            title: field("title"),
            source: field("source"),
            headings: p
                .get("headings")
                .and_then(|h| h.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            text: field("text"),
            chunk: p.get("chunk").and_then(|c| c.as_u64()).unwrap_or_default(),
            doc_id,
            score,
            dense: dense_by_id.get(&id).copied(),
            bm25: bm25_by_id.get(&id).copied(),
            more_chunks: 0,
        });
    }
    docs
}
