//! The engine a serving process holds: every knowledge base under one data folder, opened on first use
//! and shared between requests, and one query encoder (cache + dynamic batching) for all of them.
//! Every method blocks (model inference, disk); async callers run them on a blocking thread.

use crate::error::{EngineError, Result};
use crate::kb::{IngestProgress, IngestSummary, KnowledgeBase};
use crate::query::QueryEncoder;
use crate::search::{DocHit, Mode, SearchOptions};
use crate::tickets::{
    ticket_text, ticket_vector, Classification, RouterInfo, SuggestOptions, Suggestion,
};
use crate::troubleshoot::{TroubleshootOptions, TroubleshootReport};
use nova_classify::RouterModel;
use nova_embed::{BatchingOptions, Embedder, SentenceEmbedder};
use nova_ingest::Document;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Serving knobs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Query-embedding cache size in entries; 0 = off.
    pub cache_entries: u64,
    /// Dynamic batching of concurrent query embeddings.
    pub batching: BatchingOptions,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            cache_entries: 10_000,
            batching: BatchingOptions::default(),
        }
    }
}

/// A knowledge base's name and size.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KbInfo {
    /// Name.
    pub name: String,
    /// Documents stored.
    pub documents: usize,
    /// Chunks stored.
    pub chunks: usize,
    /// Embedding model it was built with.
    pub model: String,
}

/// A user's verdict on a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// The result was useful.
    Helpful,
    /// The result was not useful.
    NotHelpful,
    /// Following the result fixed the problem.
    Resolved,
}

/// One feedback record, appended to `<kb>/feedback.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feedback {
    /// The query or problem the result answered.
    pub query: String,
    /// The document rated.
    pub doc_id: String,
    /// The verdict.
    pub rating: Rating,
    /// Free text from the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Request that produced the result, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Unix seconds when it was recorded (set by the engine).
    #[serde(default)]
    pub at: u64,
}

/// A stored document read back.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredDocument {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Source path or URL.
    pub source: String,
    /// Kind.
    pub kind: String,
    /// Tags.
    pub tags: Vec<String>,
    /// ACL groups.
    pub acl: Vec<String>,
    /// Content hash.
    pub hash: String,
    /// Chunks in order.
    pub chunks: Vec<StoredChunk>,
}

/// One stored chunk.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredChunk {
    /// Position in the document.
    pub index: u64,
    /// Section path.
    pub headings: Vec<String>,
    /// Text.
    pub text: String,
}

/// All knowledge bases of a data folder, plus the model.
pub struct Engine {
    data_dir: PathBuf,
    embedder: Arc<SentenceEmbedder>,
    queries: QueryEncoder,
    open: RwLock<HashMap<String, Arc<KnowledgeBase>>>,
    // Creating, dropping and first opens are rare; one lock keeps them from racing each other.
    lifecycle: Mutex<()>,
    /// Loaded routers by (kb, label); reloaded when `CURRENT` names another version.
    routers: RwLock<HashMap<(String, String), Arc<RouterModel>>>,
}

impl Engine {
    /// An engine over `data_dir` (created if missing).
    pub fn new(
        data_dir: &Path,
        embedder: Arc<SentenceEmbedder>,
        opts: EngineOptions,
    ) -> Result<Self> {
        fs_err::create_dir_all(data_dir.join("kbs")).map_err(|e| EngineError::File {
            path: data_dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let dyn_embedder: Arc<dyn Embedder> = embedder.clone();
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            queries: QueryEncoder::new(dyn_embedder, opts.batching.clone(), opts.cache_entries),
            embedder,
            open: RwLock::new(HashMap::new()),
            lifecycle: Mutex::new(()),
            routers: RwLock::new(HashMap::new()),
        })
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The embedding model.
    pub fn embedder(&self) -> &SentenceEmbedder {
        &self.embedder
    }

    /// Query-embedding cache (hits, misses).
    pub fn cache_stats(&self) -> (u64, u64) {
        self.queries.cache_stats()
    }

    fn kb_dir(&self, name: &str) -> PathBuf {
        self.data_dir.join("kbs").join(name)
    }

    /// An existing knowledge base.
    pub fn kb(&self, name: &str) -> Result<Arc<KnowledgeBase>> {
        if let Some(kb) = self.open.read().get(name) {
            return Ok(kb.clone());
        }
        let _guard = self.lifecycle.lock();
        if let Some(kb) = self.open.read().get(name) {
            return Ok(kb.clone());
        }
        KnowledgeBase::check_name(name)?;
        if !self.kb_dir(name).join("kb.json").is_file() {
            return Err(EngineError::KbNotFound(name.to_owned()));
        }
        self.open_and_keep(name)
    }

    /// Opens (creating if needed) and keeps it for later requests. Caller holds `lifecycle`.
    fn open_and_keep(&self, name: &str) -> Result<Arc<KnowledgeBase>> {
        let kb = Arc::new(KnowledgeBase::open(
            &self.data_dir,
            name,
            &self.embedder,
            None,
        )?);
        self.open.write().insert(name.to_owned(), kb.clone());
        Ok(kb)
    }

    /// Creates an empty knowledge base; an error if it exists.
    pub fn create(&self, name: &str) -> Result<KbInfo> {
        KnowledgeBase::check_name(name)?;
        {
            let _guard = self.lifecycle.lock();
            if self.kb_dir(name).join("kb.json").is_file() {
                return Err(EngineError::KbExists(name.to_owned()));
            }
            self.open_and_keep(name)?;
        }
        self.info(name)
    }

    /// Deletes a knowledge base and its files.
    pub fn drop_kb(&self, name: &str) -> Result<()> {
        let kb = self.kb(name)?;
        let _guard = self.lifecycle.lock();
        self.open.write().remove(name);
        self.routers.write().retain(|(k, _), _| k != name);
        drop(kb);
        let dir = self.kb_dir(name);
        fs_err::remove_dir_all(&dir).map_err(|e| EngineError::File {
            path: dir,
            message: e.to_string(),
        })
    }

    /// Size of one knowledge base.
    pub fn info(&self, name: &str) -> Result<KbInfo> {
        let kb = self.kb(name)?;
        Ok(KbInfo {
            name: name.to_owned(),
            documents: kb.doc_count()?,
            chunks: kb.chunk_count()?,
            model: kb.model().to_owned(),
        })
    }

    /// Every knowledge base, by name.
    pub fn list(&self) -> Result<Vec<KbInfo>> {
        KnowledgeBase::list(&self.data_dir)?
            .iter()
            .map(|n| self.info(n))
            .collect()
    }

    /// Searches one knowledge base.
    pub fn search(&self, kb: &str, query: &str, opts: &SearchOptions) -> Result<Vec<DocHit>> {
        let kb = self.kb(kb)?;
        let dense = match opts.mode {
            Mode::Bm25 => None,
            Mode::Dense | Mode::Hybrid => Some(self.queries.encode(query)?),
        };
        kb.search_with_vector(query, dense.as_deref().map(Vec::as_slice), opts)
    }

    /// Passages, similar tickets and suggested steps for a problem.
    pub fn troubleshoot(
        &self,
        kb: &str,
        problem: &str,
        opts: &TroubleshootOptions,
    ) -> Result<TroubleshootReport> {
        let kb = self.kb(kb)?;
        let dense = self.queries.encode(problem)?;
        kb.troubleshoot(problem, &dense, opts)
    }

    /// Adds or replaces documents; returns once they are durable.
    pub fn ingest(&self, kb: &str, docs: &[Document]) -> Result<IngestSummary> {
        let kb = self.kb(kb)?;
        kb.ingest(&self.embedder, docs, &|_: IngestProgress| {})
    }

    /// A stored document, or `None`.
    pub fn document(&self, kb: &str, id: &str) -> Result<Option<StoredDocument>> {
        self.kb(kb)?.document(id)
    }

    /// Removes a document; `false` if it was not there.
    pub fn delete_document(&self, kb: &str, id: &str) -> Result<bool> {
        self.kb(kb)?.delete(id)
    }

    /// Embeddings of arbitrary texts (the OpenAI-compatible endpoint), in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.embedder.embed(texts)?)
    }

    /// Appends feedback to the knowledge base's `feedback.jsonl`, synced to disk before returning.
    pub fn feedback(&self, kb: &str, mut feedback: Feedback) -> Result<()> {
        let kb = self.kb(kb)?;
        feedback.at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let path = kb.dir().join("feedback.jsonl");
        let err = |e: &dyn std::fmt::Display| EngineError::File {
            path: path.clone(),
            message: e.to_string(),
        };
        let mut line = serde_json::to_vec(&feedback).map_err(|e| err(&e))?;
        line.push(b'\n');
        let _guard = self.lifecycle.lock(); // one appender at a time keeps lines whole
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| err(&e))?;
        file.write_all(&line).map_err(|e| err(&e))?;
        file.sync_data().map_err(|e| err(&e))
    }

    /// The current router for (kb, label): read once, then reused until a retrain moves `CURRENT` on
    /// (a one-line file read per call), so `nova tickets train` takes effect without a restart.
    fn router(&self, kb: &KnowledgeBase, label: &str) -> Result<Arc<RouterModel>> {
        let key = (kb.name().to_owned(), label.to_owned());
        let current = kb.current_router_version(label)?;
        if let Some(model) = self.routers.read().get(&key) {
            if model.meta.version == current {
                return Ok(model.clone());
            }
        }
        // Load the version just read, not `CURRENT` again: a retrain in between must not be mixed in.
        let model = Arc::new(kb.router_version(label, current)?);
        tracing::info!(
            kb = kb.name(),
            label,
            version = model.meta.version,
            "router loaded"
        );
        self.routers.write().insert(key, model.clone());
        Ok(model)
    }

    /// Routes a new ticket with the KB's current router for `label`.
    pub fn classify(
        &self,
        kb: &str,
        label: &str,
        subject: &str,
        body: &str,
        threshold: Option<f32>,
        top: usize,
    ) -> Result<Classification> {
        let kb = self.kb(kb)?;
        let model = self.router(&kb, label)?;
        let vector = ticket_vector(self.embedder.as_ref(), subject, body)?;
        let x = ndarray::ArrayView2::from_shape((1, vector.len()), &vector)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let texts = [ticket_text(subject, body)];
        let prediction = model
            .predict(x, &texts, threshold, top)?
            .pop()
            .ok_or_else(|| EngineError::Internal("router returned no prediction".into()))?;
        let mut router = RouterInfo::of(&model);
        router.threshold = threshold.unwrap_or(router.threshold);
        Ok(Classification { prediction, router })
    }

    /// Suggested solutions for a new ticket: routing (when a router for `label` exists), similar
    /// answered tickets, KB passages and steps.
    pub fn suggest(
        &self,
        kb_name: &str,
        label: &str,
        subject: &str,
        body: &str,
        opts: &SuggestOptions,
    ) -> Result<Suggestion> {
        let kb = self.kb(kb_name)?;
        let classification = match self.classify(kb_name, label, subject, body, None, 3) {
            Ok(c) => Some(c),
            Err(EngineError::RouterNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let text = ticket_text(subject, body);
        let dense = self.queries.encode(&text)?;
        let (similar_tickets, passages, steps) = kb.suggest(&text, &dense, opts)?;
        Ok(Suggestion {
            classification,
            similar_tickets,
            passages,
            steps,
        })
    }
}
