//! Troubleshooting: a problem description in, the best knowledge-base passages, similar resolved
//! tickets and suggested steps out — each step citing the passage it came from. Extractive only: no
//! language model is needed.

use crate::error::Result;
use crate::kb::KnowledgeBase;
use crate::payload::{keys, TICKET_KIND};
use crate::search::{search, DocHit, Mode, SearchOptions};
use crate::steps::{extract, is_fix_section, normalised};
use nova_core::{AccessFilter, Condition, Filter};
use serde::Serialize;
use std::collections::HashSet;

/// A passage gives steps when its score is at least this share of the best passage's.
const STEP_SCORE_RATIO: f64 = 0.8;

/// A hit is relevant when its fused score is at least this share of the best hit's in its list…
pub(crate) const RELEVANCE_RATIO: f64 = 0.5;
/// …and the embedding model found it at all, at least this close (cosine): a ticket list in which
/// nothing is about the problem should be empty, not its five least unrelated entries. all-MiniLM-L6-v2
/// puts unrelated English text at 0.0–0.2.
pub(crate) const MIN_COSINE: f32 = 0.25;

/// The hits of `hits` (best first) near enough the best one to show: see [`RELEVANCE_RATIO`] and
/// [`MIN_COSINE`].
pub(crate) fn relevant(mut hits: Vec<DocHit>) -> Vec<DocHit> {
    let best = hits.first().map_or(0.0, |h| h.score);
    hits.retain(|h| {
        h.score >= RELEVANCE_RATIO * best && h.dense.as_ref().is_some_and(|d| d.score >= MIN_COSINE)
    });
    hits
}

/// What to return.
#[derive(Debug, Clone)]
pub struct TroubleshootOptions {
    /// Knowledge-base passages (non-ticket documents).
    pub passages: usize,
    /// Similar tickets.
    pub tickets: usize,
    /// Most suggested steps.
    pub max_steps: usize,
    /// Filter applied to both searches (product, version, tags…); may not name `acl`.
    pub filter: Filter,
}

impl Default for TroubleshootOptions {
    fn default() -> Self {
        Self {
            passages: 5,
            tickets: 3,
            max_steps: 8,
            filter: Filter::all(),
        }
    }
}

/// One suggested step with its citation.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuggestedStep {
    /// The instruction.
    pub text: String,
    /// Document it comes from.
    pub doc_id: String,
    /// That document's title.
    pub title: String,
    /// Its source path or URL.
    pub source: String,
    /// Section path of the passage.
    pub section: Vec<String>,
    /// Chunk index of the passage.
    pub chunk: u64,
}

/// The answer to a troubleshooting request.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TroubleshootReport {
    /// Best knowledge-base passages, best first: only those scoring at least half the best one's and
    /// semantically close to the problem (so fewer than asked when the rest are unrelated).
    pub passages: Vec<DocHit>,
    /// Most similar tickets (their resolution, when known, is in `metadata.answer`), by the same rule.
    pub similar_tickets: Vec<DocHit>,
    /// Steps from the passages, in passage order, duplicates removed.
    pub steps: Vec<SuggestedStep>,
}

/// `kind = ticket`.
pub(crate) fn kind_is_ticket() -> Condition {
    Condition::eq(keys::KIND, TICKET_KIND)
}

/// Answers `problem` from what `access` lets the caller see in `kb`. `dense` is the problem's embedding.
pub(crate) fn troubleshoot(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    problem: &str,
    dense: &[f32],
    opts: &TroubleshootOptions,
) -> Result<TroubleshootReport> {
    let articles = SearchOptions {
        mode: Mode::Hybrid,
        k: opts.passages,
        filter: opts.filter.clone().and_not(kind_is_ticket()),
        ..SearchOptions::default()
    };
    let passages = relevant(search(kb, access, problem, Some(dense), &articles)?);
    let tickets = SearchOptions {
        k: opts.tickets,
        filter: opts.filter.clone().and(kind_is_ticket()),
        ..articles
    };
    let similar_tickets = if opts.tickets == 0 {
        Vec::new()
    } else {
        relevant(search(kb, access, problem, Some(dense), &tickets)?)
    };
    let steps = steps_for(kb, access, &passages, opts.max_steps)?;
    Ok(TroubleshootReport {
        passages,
        similar_tickets,
        steps,
    })
}

/// Steps from each strong passage's document: its best chunk, then the document's fix sections.
/// Only passages scoring near the best one contribute, so a weak fifth hit adds no unrelated fixes.
fn steps_for(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    passages: &[DocHit],
    max: usize,
) -> Result<Vec<SuggestedStep>> {
    let mut seen = HashSet::new();
    let mut steps = Vec::new();
    if max == 0 {
        return Ok(steps);
    }
    let best = passages.first().map_or(0.0, |p| p.score);
    for hit in passages
        .iter()
        .filter(|p| p.score >= STEP_SCORE_RATIO * best)
    {
        let mut chunks = vec![(hit.chunk, hit.headings.clone(), hit.text.clone())];
        for c in kb.doc_chunks(&hit.doc_id, access)? {
            if c.chunk != hit.chunk && is_fix_section(&c.headings) {
                chunks.push((c.chunk, c.headings, c.text));
            }
        }
        for (chunk, headings, text) in chunks {
            for s in extract(&text, &headings) {
                if steps.len() == max {
                    return Ok(steps);
                }
                if seen.insert(normalised(&s.text)) {
                    steps.push(SuggestedStep {
                        text: s.text,
                        doc_id: hit.doc_id.clone(),
                        title: hit.title.clone(),
                        source: hit.source.clone(),
                        section: s.section,
                        chunk,
                    });
                }
            }
        }
    }
    Ok(steps)
}
