//! Pseudo-relevance feedback for BM25 (RM3: Lavrenko & Croft, SIGIR 2001, with the interpolation and
//! defaults Anserini's BM25+RM3 uses): the terms that weigh most in BM25's best chunks are added to the
//! query, so a question phrased unlike the document still reaches it through the words of the documents
//! it did find. Works on term ids, so it needs no vocabulary: a chunk is read back and analysed as it
//! was indexed.

use crate::error::Result;
use crate::kb::KnowledgeBase;
use nova_core::AccessFilter;
use nova_store::{SparseVec, StoreHit};
use std::collections::HashMap;

/// Chunks read for feedback.
const FEEDBACK_DOCS: usize = 10;
/// Expansion terms kept.
const FEEDBACK_TERMS: usize = 10;
/// Weight of the original query against the expansion.
const ORIGINAL_WEIGHT: f32 = 0.5;

/// `query` (a BM25 query vector) expanded with the best terms of the top `hits` (BM25's ranking).
pub(crate) fn expand(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    query: &SparseVec,
    hits: &[StoreHit],
) -> Result<SparseVec> {
    let top = &hits[..hits.len().min(FEEDBACK_DOCS)];
    let total: f32 = top.iter().map(|h| h.score.max(0.0)).sum();
    if top.is_empty() || total <= 0.0 || query.indices.is_empty() {
        return Ok(query.clone());
    }
    let ids: Vec<u64> = top.iter().map(|h| h.id).collect();
    let mut payloads = kb.store().get_many(&ids, access)?;
    let bm25 = kb.bm25();
    // The relevance model: Σ over feedback chunks of P(chunk) · P(term | chunk), P(chunk) ∝ its score.
    let mut model: HashMap<u32, f32> = HashMap::new();
    for hit in top {
        let Some(payload) = payloads.remove(&hit.id) else {
            continue;
        };
        let counts = bm25.term_counts(&kb.payload(payload)?.indexed_text());
        let len: f32 = counts.values.iter().sum();
        if len == 0.0 {
            continue;
        }
        let weight = hit.score.max(0.0) / total;
        for (&term, &n) in counts.indices.iter().zip(&counts.values) {
            *model.entry(term).or_default() += weight * n / len;
        }
    }
    let mut best: Vec<(u32, f32)> = model.into_iter().collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    best.truncate(FEEDBACK_TERMS);
    Ok(interpolate(query, &best))
}

/// `ORIGINAL_WEIGHT`·query + (1 − `ORIGINAL_WEIGHT`)·expansion, each normalised to sum 1, as one sparse
/// vector with sorted indices.
fn interpolate(query: &SparseVec, expansion: &[(u32, f32)]) -> SparseVec {
    let q_sum: f32 = query.values.iter().sum();
    let e_sum: f32 = expansion.iter().map(|(_, w)| w).sum();
    let mut merged: HashMap<u32, f32> = HashMap::new();
    for (&t, &w) in query.indices.iter().zip(&query.values) {
        *merged.entry(t).or_default() += ORIGINAL_WEIGHT * w / q_sum;
    }
    if e_sum > 0.0 {
        for &(t, w) in expansion {
            *merged.entry(t).or_default() += (1.0 - ORIGINAL_WEIGHT) * w / e_sum;
        }
    }
    let mut terms: Vec<(u32, f32)> = merged.into_iter().collect();
    terms.sort_by_key(|(t, _)| *t);
    SparseVec {
        indices: terms.iter().map(|(t, _)| *t).collect(),
        values: terms.iter().map(|(_, w)| *w).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_keeps_the_query_and_adds_weighted_terms() {
        let query = SparseVec {
            indices: vec![5, 9],
            values: vec![1.0, 1.0],
        };
        let v = interpolate(&query, &[(9, 3.0), (2, 1.0)]);
        assert_eq!(v.indices, vec![2, 5, 9]);
        // term 2: .5·1/4; term 5: .5·1/2; term 9: .5·1/2 + .5·3/4
        let want = [0.125, 0.25, 0.625];
        for (got, want) in v.values.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // Without expansion terms the query is only rescaled.
        assert_eq!(interpolate(&query, &[]).values, vec![0.25, 0.25]);
    }
}
