//! Answer evaluation: for questions with judged relevant documents, how often an answer cites at least
//! one of them (or anything given at all), how many citations had to be removed, how often retrieval
//! refused, and how long answers took.

use crate::answer::Answer;
use nova_core::percentile;
use serde::Serialize;
use std::collections::HashMap;

/// One question's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct AnsweredQuery {
    /// Query id.
    pub id: String,
    /// The question.
    pub question: String,
    /// The answer's text (citations to passages not given already removed).
    pub answer: String,
    /// Documents it cites, in order of first mention.
    pub cited: Vec<String>,
    /// At least one cited document is judged relevant.
    pub cites_relevant: bool,
    /// Passages the model cited itself (not added by attribution).
    pub model_cited: usize,
    /// Citation markers KB Nova added after uncited sentences.
    pub attributed_citations: usize,
    /// A judged relevant document was among the passages given (the ceiling for `cites_relevant`).
    pub relevant_given: bool,
    /// Citation markers removed.
    pub dropped_citations: usize,
    /// Retrieval found nothing close enough; the model was not called.
    pub refused: bool,
    /// Completion tokens.
    pub completion_tokens: usize,
    /// Time to first token, ms (absent on a refusal).
    pub time_to_first_token_ms: Option<f64>,
    /// Retrieval and generation, ms.
    pub total_ms: f64,
    /// Completion tokens per second after the first.
    pub tokens_per_second: Option<f64>,
}

impl AnsweredQuery {
    /// Scores `answer` for query `id` against its judged relevant documents.
    pub fn score(
        id: &str,
        question: &str,
        answer: &Answer,
        relevant: &HashMap<String, u32>,
    ) -> Self {
        let is_relevant = |doc: &str| relevant.get(doc).is_some_and(|&g| g > 0);
        let mut cited: Vec<String> = Vec::new();
        for c in &answer.citations {
            if !cited.contains(&c.doc_id) {
                cited.push(c.doc_id.clone());
            }
        }
        Self {
            id: id.to_owned(),
            question: question.to_owned(),
            answer: answer.answer.clone(),
            cites_relevant: cited.iter().any(|d| is_relevant(d)),
            relevant_given: answer.passages.iter().any(|p| is_relevant(&p.doc_id)),
            cited,
            model_cited: answer.citations.iter().filter(|c| !c.attributed).count(),
            attributed_citations: answer.attributed_citations,
            dropped_citations: answer.dropped_citations,
            refused: answer.refused,
            completion_tokens: answer.usage.completion_tokens,
            time_to_first_token_ms: answer.timings.time_to_first_token_ms,
            total_ms: answer.timings.retrieval_ms + answer.timings.generation_ms,
            tokens_per_second: answer.timings.tokens_per_second,
        }
    }
}

/// The set's figures.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerReport {
    /// Generator provider and model.
    pub provider: String,
    /// The model's id.
    pub model: String,
    /// Questions asked.
    pub queries: usize,
    /// Share of questions whose answer cites at least one judged relevant document.
    pub cites_relevant: f64,
    /// Share whose answer cites at least one given passage.
    pub cites_any: f64,
    /// Share where the model itself cited at least one given passage (attribution aside).
    pub model_cites_any: f64,
    /// Share where a judged relevant document was among the passages given.
    pub relevant_given: f64,
    /// Citation numbers removed (naming no given passage) over those plus the passages the model cited
    /// validly: the share of the model's own citing that pointed nowhere.
    pub dropped_share: f64,
    /// Share of refusals (nothing close enough retrieved).
    pub refusals: f64,
    /// Median time to first token, ms (answered questions; absent when all were refused).
    pub ttft_p50_ms: Option<f64>,
    /// Median answer latency, ms.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile answer latency, ms.
    pub latency_p95_ms: Option<f64>,
    /// Mean decode speed, tokens/s.
    pub tokens_per_second: f64,
    /// Per question.
    pub answers: Vec<AnsweredQuery>,
}

impl AnswerReport {
    /// Sums per-question outcomes.
    pub fn new(provider: &str, model: &str, answers: Vec<AnsweredQuery>) -> Self {
        let n = answers.len().max(1) as f64;
        let share =
            |f: &dyn Fn(&AnsweredQuery) -> bool| answers.iter().filter(|a| f(a)).count() as f64 / n;
        let kept: usize = answers.iter().map(|a| a.model_cited).sum();
        let dropped: usize = answers.iter().map(|a| a.dropped_citations).sum();
        let mut ttft: Vec<f64> = answers
            .iter()
            .filter_map(|a| a.time_to_first_token_ms)
            .collect();
        let mut total: Vec<f64> = answers.iter().map(|a| a.total_ms).collect();
        ttft.sort_by(f64::total_cmp);
        total.sort_by(f64::total_cmp);
        let speeds: Vec<f64> = answers.iter().filter_map(|a| a.tokens_per_second).collect();
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            queries: answers.len(),
            cites_relevant: share(&|a| a.cites_relevant),
            cites_any: share(&|a| !a.cited.is_empty()),
            model_cites_any: share(&|a| a.model_cited > 0),
            relevant_given: share(&|a| a.relevant_given),
            dropped_share: if kept + dropped == 0 {
                0.0
            } else {
                dropped as f64 / (kept + dropped) as f64
            },
            refusals: share(&|a| a.refused),
            ttft_p50_ms: percentile(&ttft, 0.5),
            latency_p50_ms: percentile(&total, 0.5),
            latency_p95_ms: percentile(&total, 0.95),
            tokens_per_second: if speeds.is_empty() {
                0.0
            } else {
                speeds.iter().sum::<f64>() / speeds.len() as f64
            },
            answers,
        }
    }
}
