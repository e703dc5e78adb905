//! Knowledge gaps: the questions a knowledge base answers badly, grouped by meaning and ranked by how
//! often they are asked — what the writers should write next. A question counts when a search found
//! nothing, when the best passage's cosine similarity to it was low, when an answer was refused for want
//! of a passage, or when a user rated a result "not helpful". Searches and refusals come from the KB's
//! query log (`queries.jsonl`, written by `Engine::search` and `Engine::answer`, sealed and redacted
//! like feedback, pruned with it); clustering embeds each distinct
//! question once and joins it to the first group whose centroid is close enough (most asked first, so
//! groups form around the common wording).

use crate::feedback::{Feedback, Rating};
use crate::sealed_log::LogKind;
use serde::{Deserialize, Serialize};

/// One search, as the query log keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QueryRecord {
    /// Unix seconds.
    pub at: u64,
    /// What was asked (redacted when the KB redacts; sealed under encryption at rest).
    pub query: String,
    /// Documents returned.
    pub hits: usize,
    /// Cosine similarity of the best passage, when the dense retriever ranked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<f32>,
    /// An answer was asked for and refused (nothing to cite).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
}

/// The query text is what users typed. Appends do not wait for the disk: the log is for analytics, and
/// a search must not pay an fsync.
pub(crate) const KIND: LogKind = LogKind {
    typed_by_user: |key| key == "query",
    context: "queries",
    durable: false,
};

/// What a gap report looks at.
#[derive(Debug, Clone)]
pub struct GapOptions {
    /// Only questions of the last this many days.
    pub days: u64,
    /// A best-passage cosine below this is a poor answer.
    pub max_best: f32,
    /// Questions whose embeddings are at least this similar to a group's centroid join it.
    pub similarity: f32,
    /// Most groups returned.
    pub limit: usize,
}

impl Default for GapOptions {
    fn default() -> Self {
        Self {
            days: 30,
            max_best: 0.35,
            similarity: 0.7,
            limit: 20,
        }
    }
}

/// A group of similar questions the knowledge base answers badly.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Gap {
    /// How many times questions of this group were asked (or rated) in the window.
    pub volume: usize,
    /// Distinct questions in the group.
    pub distinct: usize,
    /// The most asked questions of the group, most asked first (at most 5).
    pub examples: Vec<String>,
    /// Searches that found nothing.
    pub no_results: usize,
    /// Searches whose best passage was a poor match.
    pub low_score: usize,
    /// "Not helpful" ratings.
    pub not_helpful: usize,
    /// Answers refused for want of a passage to cite.
    pub refused: usize,
    /// Unix seconds of the latest one.
    pub last_seen: u64,
}

/// Why one occurrence counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reason {
    Refused,
    NoResults,
    LowScore,
    NotHelpful,
}

/// The occurrences that count, as (question, reason, when).
pub(crate) fn signals(
    queries: &[QueryRecord],
    feedback: &[Feedback],
    since: u64,
    max_best: f32,
) -> Vec<(String, Reason, u64)> {
    let searches = queries.iter().filter(|q| q.at >= since).filter_map(|q| {
        let reason = if q.refused {
            Reason::Refused
        } else if q.hits == 0 {
            Reason::NoResults
        } else if q.best.is_some_and(|b| b < max_best) {
            Reason::LowScore
        } else {
            return None;
        };
        Some((q.query.clone(), reason, q.at))
    });
    let ratings = feedback
        .iter()
        .filter(|f| f.at >= since && f.rating == Rating::NotHelpful)
        .map(|f| (f.query.clone(), Reason::NotHelpful, f.at));
    searches.chain(ratings).collect()
}

/// The question as grouped: case and spacing do not make another question.
pub(crate) fn normalised(q: &str) -> String {
    q.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Groups `signals` by meaning; `embed` gives each distinct question's unit embedding, in order.
pub(crate) fn cluster(
    signals: Vec<(String, Reason, u64)>,
    embed: impl FnOnce(&[&str]) -> crate::Result<Vec<Vec<f32>>>,
    opts: &GapOptions,
) -> crate::Result<Vec<Gap>> {
    // Distinct questions, most asked first (ties: the latest first, then by text for a stable order).
    let mut distinct: Vec<(String, Gap)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (query, reason, at) in signals {
        let key = normalised(&query);
        let slot = *index.entry(key).or_insert_with(|| {
            distinct.push((query.clone(), Gap::default()));
            distinct.len() - 1
        });
        let g = &mut distinct[slot].1;
        g.volume += 1;
        g.last_seen = g.last_seen.max(at);
        match reason {
            Reason::NoResults => g.no_results += 1,
            Reason::LowScore => g.low_score += 1,
            Reason::NotHelpful => g.not_helpful += 1,
            Reason::Refused => g.refused += 1,
        }
    }
    distinct
        .sort_by(|a, b| (b.1.volume, b.1.last_seen, &a.0).cmp(&(a.1.volume, a.1.last_seen, &b.0)));
    let texts: Vec<&str> = distinct.iter().map(|(q, _)| q.as_str()).collect();
    let vectors = if texts.is_empty() {
        Vec::new()
    } else {
        embed(&texts)?
    };
    // (sum of the members' embeddings — the centroid's direction — and the group)
    let mut groups: Vec<(Vec<f32>, Gap)> = Vec::new();
    for ((query, one), v) in distinct.into_iter().zip(vectors) {
        let home = groups
            .iter()
            .position(|(sum, _)| nova_core::cosine(sum, &v) >= f64::from(opts.similarity));
        let i = home.unwrap_or_else(|| {
            groups.push((vec![0.0; v.len()], Gap::default()));
            groups.len() - 1
        });
        let (sum, g) = &mut groups[i];
        for (s, x) in sum.iter_mut().zip(&v) {
            *s += x;
        }
        g.volume += one.volume;
        g.distinct += 1;
        g.no_results += one.no_results;
        g.low_score += one.low_score;
        g.not_helpful += one.not_helpful;
        g.refused += one.refused;
        g.last_seen = g.last_seen.max(one.last_seen);
        if g.examples.len() < 5 {
            g.examples.push(query);
        }
    }
    let mut gaps: Vec<Gap> = groups.into_iter().map(|(_, g)| g).collect();
    gaps.sort_by_key(|g| std::cmp::Reverse((g.volume, g.last_seen)));
    gaps.truncate(opts.limit);
    Ok(gaps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(query: &str, hits: usize, best: Option<f32>, at: u64) -> QueryRecord {
        QueryRecord {
            at,
            query: query.into(),
            hits,
            best,
            refused: false,
        }
    }

    #[test]
    fn poor_answers_group_by_meaning_and_rank_by_volume() {
        let queries = vec![
            record("badge reader broken", 0, None, 10),
            record("Badge  reader broken", 0, None, 11),
            record("badge reader not working", 3, Some(0.2), 12),
            record("printer offline", 3, Some(0.8), 13), // answered well: not a gap
            record("parking permit renewal", 2, Some(0.1), 14),
            record("old question", 0, None, 1), // before the window
        ];
        let feedback = vec![Feedback {
            query: "parking permit renewal".into(),
            doc_id: "x".into(),
            rating: Rating::NotHelpful,
            comment: None,
            request_id: None,
            at: 15,
        }];
        let signals = signals(&queries, &feedback, 5, 0.35);
        assert_eq!(signals.len(), 5);
        // A toy embedding: questions sharing "badge" point one way, the rest another.
        let embed = |texts: &[&str]| {
            Ok(texts
                .iter()
                .map(|t| {
                    if t.contains("badge") {
                        vec![1.0, 0.0]
                    } else {
                        vec![0.0, 1.0]
                    }
                })
                .collect())
        };
        let gaps = cluster(signals, embed, &GapOptions::default()).unwrap();
        assert_eq!(gaps.len(), 2);
        assert_eq!((gaps[0].volume, gaps[0].distinct), (3, 2));
        assert_eq!(
            gaps[0].examples,
            ["badge reader broken", "badge reader not working"]
        );
        assert_eq!((gaps[0].no_results, gaps[0].low_score), (2, 1));
        assert_eq!(
            (gaps[1].volume, gaps[1].low_score, gaps[1].not_helpful),
            (2, 1, 1)
        );
        assert_eq!(gaps[1].last_seen, 15);
    }
}
