//! Search: dense and BM25 candidates from the store, fused for hybrid (by default z-score fusion whose
//! weight follows the query, `Fusion::for_query`; RRF, convex, z-score or DBSF on request), grouped per
//! document (best chunk wins), each hit carrying why it matched: per-retriever score and rank, and the
//! fused score.

use crate::error::{EngineError, Result};
use crate::fusion::{fuse, Fusion, QuerySignals};
use crate::kb::KnowledgeBase;
use crate::payload::ChunkPayload;
use nova_core::{AccessFilter, Filter};
use nova_store::{Retriever, SparseVec, StoreHit, StoreQuery};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

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
    /// Which chunks may match (the caller's filter; may not name `acl`, which the engine enforces from
    /// the caller's groups).
    pub filter: Filter,
    /// Chunks fetched from each retriever before fusion and grouping.
    pub candidates: usize,
    /// How hybrid mode combines the retrievers; `None`: the serving index version's fusion (set by
    /// `nova index tune` or a rebuild), else [`Fusion::default`].
    pub fusion: Option<Fusion>,
    /// Expand the BM25 query with terms of its best chunks (pseudo-relevance feedback, `crate::prf`):
    /// one more store read and BM25 search per query.
    pub prf: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Hybrid,
            k: 10,
            filter: Filter::all(),
            candidates: 300,
            fusion: None,
            prf: false,
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

/// Searches `kb` for what `access` lets the caller see, with the query's embedding already computed
/// (by a batching or caching front end). `dense` may be `None` only in BM25 mode.
pub(crate) fn search(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    query: &str,
    dense: Option<&[f32]>,
    opts: &SearchOptions,
) -> Result<Vec<DocHit>> {
    search_with(kb, access, query, dense, None, opts)
}

/// BM25's candidate chunks for `query`: what [`search_with`] takes ready-made, so they can be fetched
/// while the query is being embedded.
pub(crate) fn bm25_candidates(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    query: &str,
    opts: &SearchOptions,
) -> Result<Vec<StoreHit>> {
    bm25_hits(kb, access, &kb.bm25().query(query), opts)
}

/// BM25's candidate chunks for an analysed query vector.
fn bm25_hits(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    sparse: &SparseVec,
    opts: &SearchOptions,
) -> Result<Vec<StoreHit>> {
    Ok(kb.store().search(&candidates_query(
        Retriever::Bm25,
        &[],
        sparse,
        access,
        opts,
    ))?)
}

/// The store query of one retriever's candidates.
fn candidates_query<'a>(
    retriever: Retriever,
    dense: &'a [f32],
    sparse: &'a SparseVec,
    access: &'a AccessFilter,
    opts: &'a SearchOptions,
) -> StoreQuery<'a> {
    StoreQuery {
        retriever,
        dense,
        sparse,
        filter: &opts.filter,
        access,
        limit: opts.candidates.max(opts.k),
        // Candidates carry no payload: their documents come from `KnowledgeBase::chunk_docs`, and
        // full payloads are read for the winners only.
        payload_keys: Some(&[]),
    }
}

/// [`search`], with BM25's candidates already fetched ([`bm25_candidates`]) when `bm25` is given.
pub(crate) fn search_with(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    query: &str,
    dense: Option<&[f32]>,
    mut bm25: Option<Vec<StoreHit>>,
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
        kb.bm25().query(query)
    };
    let run = |retriever| {
        kb.store().search(&candidates_query(
            retriever,
            dense_vec,
            &sparse_vec,
            access,
            opts,
        ))
    };
    // A request that names no fusion gets the serving index version's.
    let fusion = opts.fusion.or_else(|| kb.fusion()).unwrap_or_default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        // The last attempt holds off retirements from its candidates to its payloads.
        let _retiring = (attempt == SEARCH_ATTEMPTS).then(|| kb.retiring.read());
        let dense = if opts.mode == Mode::Bm25 {
            Vec::new()
        } else {
            run(Retriever::Dense)?
        };
        let bm25 = match (opts.mode, bm25.take()) {
            (Mode::Dense, _) => Vec::new(),
            // Fetched beside the embedding; a retry fetches afresh.
            (_, Some(ready)) => ready,
            (_, None) => run(Retriever::Bm25)?,
        };
        let bm25 = if opts.prf && opts.mode != Mode::Dense {
            let expanded = crate::prf::expand(kb, access, &sparse_vec, &bm25)?;
            bm25_hits(kb, access, &expanded, opts)?
        } else {
            bm25
        };
        let docs =
            kb.chunk_docs
                .resolve(kb.store(), dense.iter().chain(&bm25).map(|h| h.id), access)?;
        // A candidate whose document could not be read was deleted after the search returned it (a
        // new version of its document is committed by then): search again, as for the winners below.
        let unresolved = dense.iter().chain(&bm25).any(|h| !docs.contains_key(&h.id));
        if unresolved && attempt < SEARCH_ATTEMPTS {
            continue;
        }
        // An adaptive fusion takes its weight from how well BM25 matched this query and whether the
        // dense retriever agrees with BM25's best document.
        let scores: Vec<f64> = bm25.iter().map(|h| f64::from(h.score)).collect();
        let fusion = fusion.for_query(QuerySignals {
            bm25: &scores,
            bm25_best_in_dense: best_placed_in(&bm25, &dense, &docs),
            dense_best_in_bm25: best_placed_in(&dense, &bm25, &docs),
        });
        let grouped = group(dense, bm25, &docs, opts, fusion);
        let ids: Vec<u64> = grouped.iter().map(|(id, _)| *id).collect();
        let mut payloads = kb.store().get_many(&ids, access)?;
        // A winner whose chunk is gone was replaced between the two reads (its document's new version
        // is committed by then): search again rather than drop the document. A chunk still missing
        // on the last attempt was deleted, not replaced.
        if payloads.len() < ids.len() && attempt < SEARCH_ATTEMPTS {
            continue;
        }
        let mut hits = Vec::with_capacity(grouped.len());
        for (id, mut hit) in grouped {
            if let Some(p) = payloads.remove(&id) {
                hydrate(&mut hit, kb.payload(p)?);
                hits.push(hit);
            }
        }
        return Ok(hits);
    }
}

/// Where one retriever (`other`) ranks the other's (`lead`'s) best document among its own documents
/// (0-based, each document at its best chunk's score); `None` when `other` did not return it. Both
/// sides are read so that tied scores cannot change the answer — a replica or a backend may list equal
/// scores in any order: every document tied at `lead`'s top score counts as its best (the best placed
/// of them is taken), and a document's place is the number of documents `other` scores strictly above
/// it.
fn best_placed_in(
    lead: &[StoreHit],
    other: &[StoreHit],
    doc_of: &HashMap<u64, Arc<str>>,
) -> Option<usize> {
    let top = lead.first()?.score;
    let best: HashSet<&Arc<str>> = lead
        .iter()
        .take_while(|h| !below(h.score, top))
        .filter_map(|h| doc_of.get(&h.id))
        .collect();
    // Each document's best score in `other`, best first (a retriever lists its chunks best first).
    let mut seen: HashSet<&Arc<str>> = HashSet::new();
    let firsts: Vec<(&Arc<str>, f32)> = other
        .iter()
        .filter_map(|h| doc_of.get(&h.id).map(|d| (d, h.score)))
        .filter(|(d, _)| seen.insert(d))
        .collect();
    // The first of `lead`'s best documents in that order is the best placed; the documents scored
    // strictly above it are a prefix.
    let (_, score) = firsts.iter().find(|(d, _)| best.contains(d))?;
    Some(firsts.partition_point(|(_, s)| below(*score, *s)))
}

/// `a` is below `b` by more than float noise (scores that differ in the last bits are tied).
fn below(a: f32, b: f32) -> bool {
    a < b - 1e-6 * b.abs().max(1.0)
}

/// Searches run again when a document was replaced mid-search.
const SEARCH_ATTEMPTS: usize = 3;

/// Fills a hit's display fields from its chunk's payload.
fn hydrate(hit: &mut DocHit, p: ChunkPayload) {
    hit.title = p.title;
    hit.source = p.source;
    hit.headings = p.headings;
    hit.text = p.text;
    hit.chunk = p.chunk;
    hit.kind = p.kind;
    hit.tags = p.tags;
    hit.metadata = p.metadata;
}

/// Ranks chunks (fused for hybrid), then keeps each document's best chunk: (chunk id, hit with its
/// scores; display fields still empty).
fn group(
    dense: Vec<StoreHit>,
    bm25: Vec<StoreHit>,
    doc_of: &HashMap<u64, Arc<str>>,
    opts: &SearchOptions,
    fusion: Fusion,
) -> Vec<(u64, DocHit)> {
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
    let ranked: Vec<(u64, f64)> = match opts.mode {
        Mode::Dense => dense.iter().map(|h| (h.id, f64::from(h.score))).collect(),
        Mode::Bm25 => bm25.iter().map(|h| (h.id, f64::from(h.score))).collect(),
        Mode::Hybrid => {
            let scored = |hits: &[StoreHit]| -> Vec<(u64, f64)> {
                hits.iter().map(|h| (h.id, f64::from(h.score))).collect()
            };
            fuse(fusion, &scored(&dense), &scored(&bm25))
        }
    };
    let mut docs: Vec<(u64, DocHit)> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for (id, score) in ranked {
        let Some(doc_id) = doc_of.get(&id).map(|d| d.to_string()) else {
            continue;
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(ids: &[u64]) -> Vec<StoreHit> {
        // Best first, no ties.
        let listed = ids.iter().enumerate();
        scored(
            &listed
                .map(|(i, &id)| (id, 1.0 - i as f32 / 100.0))
                .collect::<Vec<_>>(),
        )
    }

    fn scored(hits: &[(u64, f32)]) -> Vec<StoreHit> {
        hits.iter()
            .map(|&(id, score)| StoreHit {
                id,
                score,
                payload: serde_json::Map::new(),
            })
            .collect()
    }

    fn docs() -> HashMap<u64, Arc<str>> {
        // Chunks 1, 2 belong to doc a; 3 to b; 4, 5 to c; 6 to d.
        [(1, "a"), (2, "a"), (3, "b"), (4, "c"), (5, "c"), (6, "d")]
            .into_iter()
            .map(|(id, d)| (id, Arc::from(d)))
            .collect()
    }

    /// Where dense ranks BM25's best document (the agreement signal's first direction).
    fn bm25_best_in_dense(
        dense: &[StoreHit],
        bm25: &[StoreHit],
        doc_of: &HashMap<u64, Arc<str>>,
    ) -> Option<usize> {
        best_placed_in(bm25, dense, doc_of)
    }

    #[test]
    fn bm25s_best_document_is_ranked_among_dense_documents_not_chunks() {
        let doc_of = docs();
        let dense = hits(&[1, 2, 3, 5]);
        // BM25's best chunk is 4 (doc c): dense's documents are a, b, c — c is third (index 2),
        // though its chunk is fourth.
        assert_eq!(bm25_best_in_dense(&dense, &hits(&[4, 1]), &doc_of), Some(2));
        assert_eq!(bm25_best_in_dense(&dense, &hits(&[2]), &doc_of), Some(0));
        // Dense did not return it, or BM25 returned nothing.
        assert_eq!(
            bm25_best_in_dense(&hits(&[1, 3]), &hits(&[5]), &doc_of),
            None
        );
        assert_eq!(bm25_best_in_dense(&dense, &[], &doc_of), None);
        // The other direction: dense's best (chunk 1, doc a) is BM25's second document.
        assert_eq!(best_placed_in(&dense, &hits(&[4, 1]), &doc_of), Some(1));
    }

    #[test]
    fn tied_scores_give_the_same_place_in_any_order() {
        let doc_of = docs();
        // BM25 ties c and a at its top: whichever it lists first, the best placed of the two counts.
        let dense = hits(&[3, 1, 4]);
        for bm25 in [scored(&[(4, 5.0), (1, 5.0)]), scored(&[(1, 5.0), (4, 5.0)])] {
            assert_eq!(bm25_best_in_dense(&dense, &bm25, &doc_of), Some(1));
        }
        // Dense ties b, a and c: each is at place 0 whatever the order; d below them is at 3.
        for order in [[3, 1, 4, 6], [4, 3, 1, 6], [1, 4, 3, 6]] {
            let dense = scored(&[
                (order[0], 0.8),
                (order[1], 0.8),
                (order[2], 0.8),
                (order[3], 0.5),
            ]);
            assert_eq!(
                bm25_best_in_dense(&dense, &scored(&[(4, 3.0)]), &doc_of),
                Some(0)
            );
            assert_eq!(
                bm25_best_in_dense(&dense, &scored(&[(6, 3.0), (4, 2.0)]), &doc_of),
                Some(3)
            );
        }
    }
}
