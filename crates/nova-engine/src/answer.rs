//! Answers with sources: the troubleshoot retrieval (relevant passages and resolved tickets only), fitted
//! best first into a token budget and numbered, a grounded prompt, the configured [`Generator`], and
//! every `[n]` in the answer checked against what was given — citations to anything else are removed
//! and counted, even mid-stream. Nothing relevant found: a refusal, and the model is not called.

use crate::search::DocHit;
use crate::troubleshoot::TroubleshootReport;
use nova_generate::attribution::Attributor;
use nova_generate::citations::{check, CitationFilter};
use nova_generate::{grounded_messages, ChatMessage, GenRequest, Generator, Passage, Sampling};
use serde::Serialize;
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// What the caller sees when nothing in the knowledge base is close enough to the question.
pub const REFUSAL: &str =
    "The knowledge base does not cover this: no passage is close enough to the question.";

/// How to answer.
#[derive(Debug, Clone)]
pub struct AnswerOptions {
    /// Knowledge-base passages retrieved (before the relevance cut and the token budget).
    pub passages: usize,
    /// Resolved tickets retrieved likewise.
    pub tickets: usize,
    /// Tokens of context (passages) the prompt may hold.
    pub context_tokens: usize,
    /// Sampling for the model.
    pub sampling: Sampling,
    /// Earlier turns of the conversation, oldest first (the OpenAI-compatible route passes them).
    pub history: Vec<ChatMessage>,
    /// Payload filter for retrieval; may not name `acl`.
    pub filter: nova_core::Filter,
    /// Cite a passage after a sentence the model left uncited when most of its words come from it.
    pub attribute: bool,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        Self {
            passages: 5,
            tickets: 2,
            context_tokens: 1024,
            sampling: Sampling::default(),
            history: Vec::new(),
            filter: nova_core::Filter::all(),
            attribute: true,
        }
    }
}

/// One numbered passage given to the model, and what it points at.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Citation {
    /// Its number in the answer's `[n]` markers.
    pub n: usize,
    /// Document id.
    pub doc_id: String,
    /// Title.
    pub title: String,
    /// Source path or URL.
    pub source: String,
    /// Section path of the passage.
    pub section: Vec<String>,
    /// Chunk index of the passage.
    pub chunk: u64,
    /// `article`, `ticket`, …
    pub kind: String,
    /// KB Nova added every `[n]` of this passage (after sentences whose words come from it); the model
    /// itself did not cite it.
    pub attributed: bool,
}

/// Tokens in and out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    /// Prompt tokens (the generator's count).
    pub prompt_tokens: usize,
    /// Completion tokens.
    pub completion_tokens: usize,
}

/// Where the time went, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timings {
    /// Embedding the question and both searches.
    pub retrieval_ms: f64,
    /// From the call to the generator to its first text (absent on a refusal).
    pub time_to_first_token_ms: Option<f64>,
    /// The generator's whole run.
    pub generation_ms: f64,
    /// Completion tokens per second after the first.
    pub tokens_per_second: Option<f64>,
}

/// An answer with its sources.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answer {
    /// The answer, with citations to passages that were not given removed.
    pub answer: String,
    /// The passages the answer cites, in order of first mention.
    pub citations: Vec<Citation>,
    /// Every passage given to the model, by number.
    pub passages: Vec<Citation>,
    /// Citation numbers in the model's text that named no given passage (removed).
    pub dropped_citations: usize,
    /// Citation markers KB Nova added after uncited sentences taken from a passage.
    pub attributed_citations: usize,
    /// Nothing relevant was found: the answer is the refusal and no model was called.
    pub refused: bool,
    /// `extractive`, `local` or `openai`.
    pub provider: String,
    /// The model's id.
    pub model: String,
    /// `stop`, `length` or `canceled`.
    pub finish_reason: String,
    /// Token counts.
    pub usage: Usage,
    /// Timings.
    pub timings: Timings,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A ticket's passage: its text and, when recorded, how it was resolved.
fn ticket_text(hit: &DocHit) -> String {
    match hit.metadata.get("answer").and_then(|a| a.as_str()) {
        Some(answer) if !answer.trim().is_empty() => {
            format!("{}\nResolution: {}", hit.text.trim(), answer.trim())
        }
        _ => hit.text.clone(),
    }
}

/// The passages to give, best first across articles and tickets, deduplicated by text, numbered, and
/// cut where the next one would overflow `budget` tokens (the best one always goes, trimmed to fit).
fn context(
    report: &TroubleshootReport,
    generator: &dyn Generator,
    budget: usize,
) -> (Vec<Passage>, Vec<Citation>) {
    let mut hits: Vec<(&DocHit, String)> = report
        .passages
        .iter()
        .map(|h| (h, h.text.clone()))
        .chain(report.similar_tickets.iter().map(|h| (h, ticket_text(h))))
        .collect();
    hits.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
    let mut seen = HashSet::new();
    let (mut passages, mut cited) = (Vec::new(), Vec::new());
    let mut used = 0;
    for (hit, mut text) in hits {
        if !seen.insert(crate::steps::normalised(&text)) {
            continue;
        }
        let mut tokens = generator.count_tokens(&text) + 16;
        if used + tokens > budget {
            if !passages.is_empty() {
                break;
            }
            // The best passage alone is over budget: keep its opening words.
            let words: Vec<&str> = text.split_whitespace().collect();
            let keep = words.len() * budget / tokens.max(1);
            text = words[..keep.min(words.len())].join(" ");
            tokens = budget;
        }
        used += tokens;
        let n = passages.len() + 1;
        passages.push(Passage {
            n,
            title: hit.title.clone(),
            source: hit.source.clone(),
            text,
        });
        cited.push(Citation {
            n,
            doc_id: hit.doc_id.clone(),
            title: hit.title.clone(),
            source: hit.source.clone(),
            section: hit.headings.clone(),
            chunk: hit.chunk,
            kind: hit.kind.clone(),
            attributed: false,
        });
    }
    (passages, cited)
}

/// Answers `question` from `report` (already retrieved, `retrieval` long) with `generator`, passing
/// the answer's text to `on_token` as it is written, citations already checked.
pub(crate) fn answer(
    generator: &dyn Generator,
    question: &str,
    report: &TroubleshootReport,
    retrieval: Duration,
    opts: &AnswerOptions,
    on_token: &mut dyn FnMut(&str) -> ControlFlow<()>,
) -> crate::Result<Answer> {
    let (passages, given) = context(report, generator, opts.context_tokens);
    let mut reply = Answer {
        answer: String::new(),
        citations: Vec::new(),
        passages: given.clone(),
        dropped_citations: 0,
        attributed_citations: 0,
        refused: passages.is_empty(),
        provider: generator.provider().to_owned(),
        model: generator.model_id().to_owned(),
        finish_reason: "stop".into(),
        usage: Usage::default(),
        timings: Timings {
            retrieval_ms: ms(retrieval),
            ..Timings::default()
        },
    };
    if reply.refused {
        reply.answer = REFUSAL.to_owned();
        let _ = on_token(REFUSAL);
        return Ok(reply);
    }
    let request = GenRequest {
        messages: grounded_messages(question, &passages, &opts.history),
        passages,
        sampling: opts.sampling.clone(),
    };
    let mut filter = CitationFilter::new(given.len());
    let mut attributor = opts.attribute.then(|| Attributor::new(&request.passages));
    let mut text = String::new();
    let mut forward = |piece: &str| {
        let mut shown = filter.push(piece);
        if let Some(a) = attributor.as_mut() {
            shown = a.push(&shown);
        }
        text.push_str(&shown);
        if shown.is_empty() {
            ControlFlow::Continue(())
        } else {
            on_token(&shown)
        }
    };
    let started = Instant::now();
    let out = generator.generate(&request, &mut forward)?;
    let mut rest = filter.finish();
    if let Some(a) = attributor.as_mut() {
        rest = a.push(&rest);
        rest.push_str(&a.finish());
    }
    if !rest.is_empty() {
        text.push_str(&rest);
        let _ = on_token(&rest);
    }
    let added = attributor.map(|a| a.added).unwrap_or_default();
    // The final text holds both kinds of marker; its order of first mention is the citations' order.
    reply.citations = check(&text, given.len())
        .cited
        .iter()
        .filter_map(|&n| {
            let mut c = given.get(n - 1)?.clone();
            c.attributed = !filter.cited.contains(&n);
            Some(c)
        })
        .collect();
    reply.answer = text;
    reply.attributed_citations = added.len();
    reply.dropped_citations = filter.dropped;
    reply.finish_reason = serde_json::to_value(out.finish_reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "stop".into());
    reply.usage = Usage {
        prompt_tokens: out.prompt_tokens,
        completion_tokens: out.completion_tokens,
    };
    reply.timings.time_to_first_token_ms = out.time_to_first_token.map(ms);
    reply.timings.generation_ms = ms(started.elapsed());
    reply.timings.tokens_per_second = out.tokens_per_second();
    Ok(reply)
}
