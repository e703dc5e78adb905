//! Troubleshooting: a problem description in, the best knowledge-base passages, similar resolved
//! tickets and suggested steps out — each step citing the passage it came from. Extractive only: no
//! language model is needed.

use crate::error::Result;
use crate::kb::KnowledgeBase;
use crate::search::{DocHit, Mode, SearchOptions};
use crate::steps::{extract, normalised};
use nova_store::FieldFilter;
use serde::Serialize;
use std::collections::HashSet;

/// A passage gives steps when its score is at least this share of the best passage's.
const STEP_SCORE_RATIO: f64 = 0.8;

/// What to return.
#[derive(Debug, Clone)]
pub struct TroubleshootOptions {
    /// Knowledge-base passages (non-ticket documents).
    pub passages: usize,
    /// Similar tickets.
    pub tickets: usize,
    /// Most suggested steps.
    pub max_steps: usize,
    /// Payload filters applied to both searches (product, version, tags…).
    pub filters: Vec<FieldFilter>,
}

impl Default for TroubleshootOptions {
    fn default() -> Self {
        Self {
            passages: 5,
            tickets: 3,
            max_steps: 8,
            filters: Vec::new(),
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
    /// Best knowledge-base passages, best first.
    pub passages: Vec<DocHit>,
    /// Most similar tickets (their resolution, when known, is in `metadata.answer`).
    pub similar_tickets: Vec<DocHit>,
    /// Steps from the passages, in passage order, duplicates removed.
    pub steps: Vec<SuggestedStep>,
}

pub(crate) fn kind_is_ticket() -> FieldFilter {
    FieldFilter {
        field: "kind".into(),
        value: "ticket".into(),
    }
}

impl KnowledgeBase {
    /// Answers `problem` from the knowledge base. `dense` is the problem's embedding.
    pub fn troubleshoot(
        &self,
        problem: &str,
        dense: &[f32],
        opts: &TroubleshootOptions,
    ) -> Result<TroubleshootReport> {
        let articles = SearchOptions {
            mode: Mode::Hybrid,
            k: opts.passages,
            filters: opts.filters.clone(),
            exclude: vec![kind_is_ticket()],
            ..SearchOptions::default()
        };
        let passages = self.search_with_vector(problem, Some(dense), &articles)?;
        let mut ticket_filters = opts.filters.clone();
        ticket_filters.push(kind_is_ticket());
        let tickets = SearchOptions {
            k: opts.tickets,
            filters: ticket_filters,
            exclude: Vec::new(),
            ..articles
        };
        let similar_tickets = if opts.tickets == 0 {
            Vec::new()
        } else {
            self.search_with_vector(problem, Some(dense), &tickets)?
        };
        let steps = self.steps_for(&passages, opts.max_steps)?;
        Ok(TroubleshootReport {
            passages,
            similar_tickets,
            steps,
        })
    }

    /// Steps from each strong passage's document: its best chunk, then the document's fix sections.
    /// Only passages scoring near the best one contribute, so a weak fifth hit adds no unrelated fixes.
    fn steps_for(&self, passages: &[DocHit], max: usize) -> Result<Vec<SuggestedStep>> {
        let mut seen = HashSet::new();
        let mut steps = Vec::new();
        let best = passages.first().map_or(0.0, |p| p.score);
        for hit in passages
            .iter()
            .filter(|p| p.score >= STEP_SCORE_RATIO * best)
        {
            let mut chunks = vec![(hit.chunk, hit.headings.clone(), hit.text.clone())];
            for (index, headings, text) in self.doc_chunks(&hit.doc_id)? {
                if index != hit.chunk && crate::steps::is_fix_section(&headings) {
                    chunks.push((index, headings, text));
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
}
