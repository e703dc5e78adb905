//! Tickets in a knowledge base: their stored embeddings (no re-embedding) and labels as training data
//! for a router, routers versioned beside the KB (`<kb>/router/<label>/`), classification of a new
//! ticket, and suggested solutions — similar resolved tickets with their answers plus KB passages and
//! steps from the troubleshoot engine.

use crate::error::{EngineError, Result};
use crate::kb::KnowledgeBase;
use crate::payload::{indexed_text, keys, ChunkPayload, TICKET_KIND};
use crate::search::DocHit;
use crate::steps::normalised;
use crate::troubleshoot::{kind_is_ticket, troubleshoot, SuggestedStep, TroubleshootOptions};
use nova_classify::{Examples, Prediction, RouterModel, TrainOptions};
use nova_core::{AccessFilter, Filter, LabelField};
use nova_embed::Embedder;
use nova_ingest::{chunk, ChunkOptions, Document};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// A similar ticket is suggested when it scores at least this share of the best one, so a weak third hit
/// adds no unrelated answer.
const TICKET_SCORE_RATIO: f64 = 0.5;

/// A knowledge base's tickets that carry a label.
#[derive(Debug, Clone, Default)]
pub struct TicketSet {
    /// Document ids.
    pub ids: Vec<String>,
    /// Mean of each ticket's chunk embeddings, unit length.
    pub vectors: Vec<Vec<f32>>,
    /// The label of each.
    pub labels: Vec<String>,
    /// Title and text of each (for the lexical baseline).
    pub texts: Vec<String>,
    /// Tickets without the label (left out).
    pub unlabelled: usize,
}

/// Which router answered.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RouterInfo {
    /// Label field it predicts.
    pub label: String,
    /// Model version.
    pub version: u32,
    /// `knn`, `logreg` or `hybrid`.
    pub algorithm: nova_classify::Algorithm,
    /// Unix seconds it was trained.
    pub trained_at: u64,
    /// Training tickets.
    pub examples: usize,
    /// sha256 of its training data.
    pub data_hash: String,
    /// Threshold used for `needs_human`.
    pub threshold: f32,
}

/// A routing decision and the model that made it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Classification {
    /// The decision.
    pub prediction: Prediction,
    /// The router.
    pub router: RouterInfo,
}

/// What to suggest for a new ticket.
#[derive(Debug, Clone)]
pub struct SuggestOptions {
    /// Similar resolved tickets.
    pub tickets: usize,
    /// KB passages.
    pub passages: usize,
    /// Most steps.
    pub max_steps: usize,
    /// Filter for both searches; may not name `acl`.
    pub filter: Filter,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        Self {
            tickets: 3,
            passages: 3,
            max_steps: 8,
            filter: Filter::all(),
        }
    }
}

/// Suggested solutions for a new ticket.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suggestion {
    /// Routing decision, when a router for the label is trained.
    pub classification: Option<Classification>,
    /// Most similar tickets that have an answer, one per distinct answer; the answer is in
    /// `metadata.answer`.
    pub similar_tickets: Vec<DocHit>,
    /// Best KB passages (non-ticket documents).
    pub passages: Vec<DocHit>,
    /// Steps from those passages, each citing its source.
    pub steps: Vec<SuggestedStep>,
}

/// A new ticket to route or find solutions for.
#[derive(Debug, Clone)]
pub struct TicketQuery {
    /// Ticket field the router predicts (`category`).
    pub label: LabelField,
    /// Subject line (may be empty).
    pub subject: String,
    /// Body.
    pub body: String,
    /// "Needs human" below this confidence (default: the router's).
    pub threshold: Option<f32>,
    /// Labels to return, best first.
    pub top: usize,
}

/// A router just trained and saved.
#[derive(Debug)]
pub struct TrainedRouter {
    /// The model.
    pub model: RouterModel,
    /// The file it was saved to.
    pub path: PathBuf,
    /// Tickets left out for lack of the label.
    pub unlabelled: usize,
}

/// The text a ticket is searched and routed by.
pub fn ticket_text(subject: &str, body: &str) -> String {
    [subject.trim(), body.trim()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// A new ticket's vector exactly as its stored twin would have: chunked like ingest, each chunk
/// embedded with title and section, the mean normalised.
pub fn ticket_vector(embedder: &dyn Embedder, subject: &str, body: &str) -> Result<Vec<f32>> {
    let mut doc = Document::new("new-ticket", subject.trim(), "", body.trim());
    doc.kind = TICKET_KIND.into();
    let texts: Vec<String> = chunk(&doc, ChunkOptions::default())
        .iter()
        .map(|c| indexed_text(&doc, c))
        .collect();
    let texts: Vec<&str> = if texts.is_empty() {
        vec![subject]
    } else {
        texts.iter().map(String::as_str).collect()
    };
    let vectors = embedder.embed_bulk(&texts)?;
    Ok(mean_unit(vectors.iter().map(Vec::as_slice)))
}

/// The normalised mean of unit vectors (a ticket's chunk embeddings → one ticket vector).
fn mean_unit<'a>(vectors: impl IntoIterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut mean: Vec<f32> = Vec::new();
    for v in vectors {
        mean.resize(v.len(), 0.0);
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x;
        }
    }
    nova_core::l2_normalize(&mut mean);
    mean
}

/// The error for a label with no trained router in `kb`.
pub(crate) fn no_router(kb: &KnowledgeBase, label: &LabelField) -> EngineError {
    EngineError::RouterNotFound {
        kb: kb.name().to_string(),
        label: label.to_string(),
    }
}

/// Sealed router files are bound to this context.
pub(crate) const ROUTER_CONTEXT: &str = "router";

/// Every ticket the caller can see with its stored embedding and its `label` field; tickets without
/// the label are counted, not returned.
pub(crate) fn labelled_tickets(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    label: &LabelField,
) -> Result<TicketSet> {
    let points = kb.store().scan(
        &Filter::must([kind_is_ticket()]),
        access,
        Some(&[
            keys::DOC_ID,
            keys::CHUNK,
            keys::VERSION,
            keys::TITLE,
            keys::TEXT,
            keys::SEALED,
            label.as_str(),
        ]),
        true,
    )?;
    // doc id → its chunks with their vectors, then one whole version each, in chunk order.
    let mut docs: BTreeMap<String, Vec<(ChunkPayload, Vec<f32>)>> = BTreeMap::new();
    for p in points {
        let Some(dense) = p.dense else { continue };
        let payload = kb.payload(p.payload)?;
        docs.entry(payload.doc_id.clone())
            .or_default()
            .push((payload, dense));
    }
    let mut set = TicketSet::default();
    for (id, mut parts) in docs {
        // While a ticket is being replaced two versions coexist: train on the newest.
        let newest = parts.iter().map(|(p, _)| p.version).max().unwrap_or(0);
        parts.retain(|(p, _)| p.version == newest);
        parts.sort_by_key(|(p, _)| p.chunk);
        let label_value = match parts[0].0.metadata.get(label.as_str()) {
            Some(serde_json::Value::String(s)) => s.trim().to_owned(),
            Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => v.to_string(),
            _ => String::new(),
        };
        if label_value.is_empty() {
            set.unlabelled += 1;
            continue;
        }
        let vector = mean_unit(parts.iter().map(|(_, v)| v.as_slice()));
        let mut text = parts[0].0.title.clone();
        for (p, _) in &parts {
            text.push('\n');
            text.push_str(&p.text);
        }
        set.ids.push(id);
        set.vectors.push(vector);
        set.labels.push(label_value);
        set.texts.push(text);
    }
    Ok(set)
}

/// Trains a router for `label` on the tickets the caller can see and saves it as the next version.
pub(crate) fn train_router(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    label: &LabelField,
    opts: &TrainOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<TrainedRouter> {
    let set = labelled_tickets(kb, access, label)?;
    if set.ids.len() < opts.folds.max(2) {
        return Err(EngineError::Classify(
            nova_classify::ClassifyError::NotEnoughData(format!(
                "knowledge base `{}` has {} tickets with a `{label}` field ({} without); \
                 import labelled tickets with `nova tickets import`",
                kb.name(),
                set.ids.len(),
                set.unlabelled
            )),
        ));
    }
    let examples = Examples::new(&set.vectors, &set.labels)?;
    let mut model = nova_classify::train(
        &examples,
        Some(&set.texts),
        opts,
        label.as_str(),
        &kb.model(),
        progress,
    )?;
    let keyring = kb.keyring();
    let path = model.save_version_with(&kb.router_dir(label), &|bytes| {
        crate::cipher::seal_bytes(keyring, bytes, ROUTER_CONTEXT).map_err(|e| e.to_string())
    })?;
    Ok(TrainedRouter {
        model,
        path,
        unlabelled: set.unlabelled,
    })
}

/// Similar answered tickets (one per distinct answer, scoring at least half the best), passages and
/// steps for a ticket whose text embeds to `dense`.
pub(crate) fn suggest(
    kb: &KnowledgeBase,
    access: &AccessFilter,
    text: &str,
    dense: &[f32],
    opts: &SuggestOptions,
) -> Result<(Vec<DocHit>, Vec<DocHit>, Vec<SuggestedStep>)> {
    // Unanswered and duplicate-answer tickets are dropped after the search, so ask for spares.
    let report = troubleshoot(
        kb,
        access,
        text,
        dense,
        &TroubleshootOptions {
            passages: opts.passages,
            tickets: opts.tickets * 4,
            max_steps: opts.max_steps,
            filter: opts.filter.clone(),
        },
    )?;
    let mut seen = HashSet::new();
    let best = report.similar_tickets.first().map_or(0.0, |t| t.score);
    let tickets = report
        .similar_tickets
        .into_iter()
        .filter(|t| t.score >= TICKET_SCORE_RATIO * best)
        .filter(|t| {
            let answer = t
                .metadata
                .get("answer")
                .and_then(|a| a.as_str())
                .map(normalised)
                .unwrap_or_default();
            !answer.is_empty() && seen.insert(answer)
        })
        .take(opts.tickets)
        .collect();
    Ok((tickets, report.passages, report.steps))
}

/// A trained router as an administrator inspects it: what it is, the labels it knows with their
/// training counts, and every method's cross-validated report (the chosen one's confusion matrix
/// included). No weights and no training text.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RouterDetails {
    /// The router.
    pub router: RouterInfo,
    /// Labels, in the order of every matrix and per-class list.
    pub classes: Vec<String>,
    /// Training tickets per label.
    pub class_counts: Vec<usize>,
    /// Cross-validated results of every method compared at training.
    pub cv: Vec<nova_classify::MethodReport>,
}

impl RouterDetails {
    /// Describes `model`.
    pub fn of(model: &RouterModel) -> Self {
        Self {
            router: RouterInfo::of(model),
            classes: model.meta.classes.clone(),
            class_counts: model.meta.class_counts.clone(),
            cv: model.meta.cv.clone(),
        }
    }
}

impl RouterInfo {
    /// Describes `model`.
    pub fn of(model: &RouterModel) -> Self {
        let m = &model.meta;
        Self {
            label: m.label.clone(),
            version: m.version,
            algorithm: m.algorithm,
            trained_at: m.trained_at,
            examples: m.examples,
            data_hash: m.data_hash.clone(),
            threshold: m.threshold,
        }
    }
}
