//! Tickets in a knowledge base: their stored embeddings (no re-embedding) and labels as training data
//! for a router, routers versioned beside the KB (`<kb>/router/<label>/`), classification of a new
//! ticket, and suggested solutions — similar resolved tickets with their answers plus KB passages and
//! steps from the troubleshoot engine.

use crate::error::{EngineError, Result};
use crate::kb::{chunk_entry, KnowledgeBase};
use crate::search::{text_field, DocHit};
use crate::steps::normalised;
use crate::troubleshoot::{kind_is_ticket, SuggestedStep, TroubleshootOptions};
use nova_classify::{Examples, Prediction, RouterModel, TrainOptions};
use nova_embed::Embedder;
use nova_ingest::{chunk, ChunkOptions, Document};
use nova_store::{FieldFilter, Store};
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
    /// Payload filters for both searches.
    pub filters: Vec<FieldFilter>,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        Self {
            tickets: 3,
            passages: 3,
            max_steps: 8,
            filters: Vec::new(),
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

/// A label field must be a plain name: it becomes a folder.
pub(crate) fn check_label(label: &str) -> Result<()> {
    KnowledgeBase::check_name(label).map_err(|_| EngineError::BadLabel(label.to_owned()))
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
    doc.kind = "ticket".into();
    let texts: Vec<String> = chunk(&doc, ChunkOptions::default())
        .iter()
        .map(|c| chunk_entry(&doc, "", c).0)
        .collect();
    let texts: Vec<&str> = if texts.is_empty() {
        vec![subject]
    } else {
        texts.iter().map(String::as_str).collect()
    };
    let vectors = embedder.embed(&texts)?;
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
fn no_router(kb: &KnowledgeBase, label: &str) -> EngineError {
    EngineError::RouterNotFound {
        kb: kb.name().to_owned(),
        label: label.to_owned(),
    }
}

impl KnowledgeBase {
    /// Where routers for `label` are saved.
    pub fn router_dir(&self, label: &str) -> Result<PathBuf> {
        check_label(label)?;
        Ok(self.dir().join("router").join(label))
    }

    /// Every ticket (`kind=ticket`) with its stored embedding and its `label` field; tickets without
    /// the label are counted, not returned.
    pub fn labelled_tickets(&self, label: &str) -> Result<TicketSet> {
        check_label(label)?;
        let points = self.store().scan(
            &[kind_is_ticket()],
            &["doc_id", "chunk", "title", "text", label],
            true,
        )?;
        // doc id → (chunk index, vector, title, text, label), gathered then put in chunk order.
        type Part = (u64, Vec<f32>, String, String, String);
        let mut docs: BTreeMap<String, Vec<Part>> = BTreeMap::new();
        for p in points {
            let Some(dense) = p.dense else { continue };
            let label_value = match p.payload.get(label) {
                Some(serde_json::Value::String(s)) => s.trim().to_owned(),
                Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                    v.to_string()
                }
                _ => String::new(),
            };
            docs.entry(text_field(&p.payload, "doc_id"))
                .or_default()
                .push((
                    p.payload.get("chunk").and_then(|c| c.as_u64()).unwrap_or(0),
                    dense,
                    text_field(&p.payload, "title"),
                    text_field(&p.payload, "text"),
                    label_value,
                ));
        }
        let mut set = TicketSet::default();
        for (id, mut parts) in docs {
            parts.sort_by_key(|p| p.0);
            let label_value = parts[0].4.clone();
            if label_value.is_empty() {
                set.unlabelled += 1;
                continue;
            }
            let vector = mean_unit(parts.iter().map(|p| p.1.as_slice()));
            let mut text = parts[0].2.clone();
            for p in &parts {
                text.push('\n');
                text.push_str(&p.3);
            }
            set.ids.push(id);
            set.vectors.push(vector);
            set.labels.push(label_value);
            set.texts.push(text);
        }
        Ok(set)
    }

    /// Trains a router for `label` on the stored tickets, saves it as the next version and returns it
    /// (with the file written and the number of unlabelled tickets left out).
    pub fn train_router(
        &self,
        label: &str,
        opts: &TrainOptions,
        progress: &dyn Fn(usize, usize),
    ) -> Result<(RouterModel, PathBuf, usize)> {
        let set = self.labelled_tickets(label)?;
        if set.ids.len() < opts.folds.max(2) {
            return Err(EngineError::Classify(
                nova_classify::ClassifyError::NotEnoughData(format!(
                    "knowledge base `{}` has {} tickets with a `{label}` field ({} without); \
                     import labelled tickets with `nova tickets import`",
                    self.name(),
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
            label,
            self.model(),
            progress,
        )?;
        let path = model.save_version(&self.router_dir(label)?)?;
        Ok((model, path, set.unlabelled))
    }

    /// The current router for `label`.
    pub fn router(&self, label: &str) -> Result<RouterModel> {
        RouterModel::load_current(&self.router_dir(label)?)?.ok_or_else(|| no_router(self, label))
    }

    /// Router `version` for `label` (the engine's cache names the version it read from `CURRENT`).
    pub(crate) fn router_version(&self, label: &str, version: u32) -> Result<RouterModel> {
        Ok(RouterModel::load_version(
            &self.router_dir(label)?,
            version,
        )?)
    }

    /// The version `CURRENT` names for `label`, or the router-not-found error.
    pub(crate) fn current_router_version(&self, label: &str) -> Result<u32> {
        RouterModel::current_version(&self.router_dir(label)?)?
            .ok_or_else(|| no_router(self, label))
    }

    /// Similar answered tickets (one per distinct answer, scoring at least half the best), passages and
    /// steps for a ticket whose text embeds to `dense`.
    pub fn suggest(
        &self,
        text: &str,
        dense: &[f32],
        opts: &SuggestOptions,
    ) -> Result<(Vec<DocHit>, Vec<DocHit>, Vec<SuggestedStep>)> {
        // Unanswered and duplicate-answer tickets are dropped after the search, so ask for spares.
        let report = self.troubleshoot(
            text,
            dense,
            &TroubleshootOptions {
                passages: opts.passages,
                tickets: opts.tickets * 4,
                max_steps: opts.max_steps,
                filters: opts.filters.clone(),
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
