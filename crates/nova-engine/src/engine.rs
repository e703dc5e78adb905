//! The engine: the one front door the CLI and the HTTP server both call. It holds every knowledge
//! base of a data folder (opened on first use, shared between requests), the store backend, and the
//! embedding model (loaded at start, or on first need so commands that never embed never load it).
//! Every method that reads or writes KB data takes the caller's [`RequestCtx`]; reads apply the
//! access filter derived from it inside the store query. Policy lives here: a new KB's BM25 length
//! normalisation, optimising after ingest, which fields a caller may filter on.
//! Every method blocks (model inference, disk); async callers run them on a blocking thread.

use crate::access::{AccessQuestion, DocumentAccess};
use crate::answer::{Answer, AnswerOptions};
use crate::answer_eval::{AnswerReport, AnsweredQuery};
use crate::audit::{AuditSettings, Auditor};
use crate::cipher::{EncryptionSettings, Keyring};
use crate::disk::DiskGuard;
use crate::error::{EngineError, Result};
use crate::eval::{evaluate, BeirSet, EvalRuns, ModeReport};
use crate::feedback::Feedback;
use crate::health::{writable, Health, HealthCache};
use crate::ingest::CancelCheck;
use crate::ingest::{mean_tokens, IngestProgress, IngestSummary};
use crate::kb::{not_found, KnowledgeBase, StoredDocument};
use crate::lock::KbLock;
use crate::meta::KbMeta;
use crate::payload::{STORE_SCHEMA_INTEGERS, STORE_SCHEMA_KEYWORDS};
use crate::query::QueryEncoder;
use crate::search::{DocHit, Mode, SearchOptions};
use crate::snapshot::SnapshotInfo;
use crate::tasks::{TaskInfo, TaskQueue, TaskSkip};
use crate::tickets::{
    ticket_text, ticket_vector, Classification, RouterInfo, SuggestOptions, Suggestion,
    TicketQuery, TrainedRouter,
};
use crate::troubleshoot::{TroubleshootOptions, TroubleshootReport};
use nova_auth::{KeyInfo, KeySpec, KeyStore, NewKey};
use nova_classify::{Report, RouterModel, TrainOptions};
use nova_core::{
    AccessFilter, DataLayout, DocId, Filter, KbName, LabelField, Principal, RequestCtx, Role,
    ACL_FIELD,
};
use nova_embed::{BatchingOptions, Embedder};
use nova_ingest::Document;
use nova_store::{EdgeBackend, StoreBackend, StoreSchema};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

mod drift_watch;
mod experiments;
mod versioning;
pub use experiments::AbSpec;
pub use versioning::{
    tune_grid, BuildReport, BuildSpec, GoldenReport, GoldenSet, TuneReport, DEFAULT_GATE_THRESHOLD,
};

/// Serving knobs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Query-embedding cache size in entries; 0 = off.
    pub cache_entries: u64,
    /// A query-embedding cache shared with other replicas (Redis), behind the local one.
    pub shared_cache: Option<Arc<dyn nova_core::SharedCache>>,
    /// Dynamic batching of concurrent query embeddings.
    pub batching: BatchingOptions,
    /// Feedback older than this many days is removed from `feedback.jsonl`; 0 keeps it forever.
    pub feedback_retention_days: u64,
    /// Finished ingest tasks older than this many days are removed from `tasks/`; 0 keeps them forever.
    pub task_retention_days: u64,
    /// Answer settings a request does not override.
    pub answers: AnswerOptions,
    /// The audit trail (off unless enabled).
    pub audit: AuditSettings,
    /// PII redaction at ingest (off unless enabled; a KB created with `redact_pii` redacts regardless).
    pub redaction: RedactionSettings,
    /// Encryption at rest (off unless a key is configured).
    pub encryption: EncryptionSettings,
    /// Legal privilege: documents tagged with this are visible only to members of their `acl` groups
    /// (administrators included), and every read of one is written to the privilege log.
    pub privilege_tag: Option<String>,
    /// Writes (ingest, a new KB, a restore) are refused with `insufficient_storage` while the data
    /// folder has less than this many bytes free.
    pub min_free_bytes: u64,
    /// Keep each KB's searches (query, hit count, best cosine) in `queries.jsonl` for knowledge-gap
    /// reports; pruned with feedback (`feedback_retention_days`), sealed and redacted like it.
    pub query_log: bool,
    /// Watching each KB's query stream for drift against a reference window.
    pub drift: crate::drift::DriftSettings,
}

/// `[redaction]`: replace personal data with typed placeholders before anything is stored.
#[derive(Debug, Clone, Default)]
pub struct RedactionSettings {
    /// Redact everything ingested into every KB, and query text before it is recorded.
    pub enabled: bool,
    /// Further kinds: name → regular expression (placeholder `[NAME]`).
    pub patterns: Vec<(String, String)>,
}

/// How a new knowledge base behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct KbOptions {
    /// Redact personal data from everything ingested into it, whatever `[redaction]` says.
    pub redact_pii: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            cache_entries: 10_000,
            shared_cache: None,
            batching: BatchingOptions::default(),
            feedback_retention_days: 365,
            task_retention_days: 7,
            answers: AnswerOptions::default(),
            audit: AuditSettings::default(),
            redaction: RedactionSettings::default(),
            encryption: EncryptionSettings::default(),
            privilege_tag: None,
            min_free_bytes: crate::disk::DEFAULT_MIN_FREE_BYTES,
            query_log: true,
            drift: crate::drift::DriftSettings::default(),
        }
    }
}

impl EngineOptions {
    /// One query at a time (the command line): no cache, no waiting for company.
    pub fn single_caller() -> Self {
        Self {
            cache_entries: 0,
            batching: BatchingOptions {
                max_wait: Duration::ZERO,
                ..BatchingOptions::default()
            },
            ..Self::default()
        }
    }
}

/// Loads the answer generator when the engine first writes an answer (a GGUF takes a second and some
/// hundred MB; servers that never answer never pay for it).
pub type GeneratorLoader =
    Box<dyn Fn() -> nova_generate::Result<Arc<dyn nova_generate::Generator>> + Send + Sync>;

/// Loads the embedding model when the engine first needs it.
pub type EmbedderLoader = Box<dyn Fn() -> nova_embed::Result<Arc<dyn Embedder>> + Send + Sync>;

/// A knowledge base's name and size (as the caller sees it).
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
    /// Set when the KB cannot be read now because another process has it open (the counts are then 0):
    /// who holds it and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy: Option<String>,
    /// Personal data is redacted from everything ingested into it (created so, or `[redaction]` on).
    pub redact_pii: bool,
    /// The index version serving it (1 until a rebuild switches; `nova index list`).
    pub index_version: u32,
}

/// The loaded embedding model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// Model id (folder path or hub id).
    pub id: String,
    /// Vector dimension.
    pub dim: usize,
}

/// How an ingest call behaves.
#[derive(Default)]
pub struct IngestOptions<'a> {
    /// Create the knowledge base if it does not exist (the command line does; the API asks first).
    pub create_missing: bool,
    /// Told after each durable commit.
    pub progress: Option<&'a (dyn Fn(IngestProgress) + Sync)>,
    /// Asked before each batch; `true` stops the ingest (`EngineError::Canceled`), keeping what was
    /// committed.
    pub cancel: Option<CancelCheck<'a>>,
}

struct Model {
    embedder: Arc<dyn Embedder>,
    queries: QueryEncoder,
}

impl Model {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            id: self.embedder.model_id().to_owned(),
            dim: self.embedder.dim(),
        }
    }
}

/// What the query-log appenders share besides the lock.
#[derive(Default)]
struct QueryLogState {
    /// When each KB's log was last pruned: retention is counted in days, so searches prune it at most
    /// hourly instead of opening it an extra time each.
    pruned: HashMap<KbName, Instant>,
    /// When a failed append was last reported.
    last_warning: Option<Instant>,
}

/// A search's hits, with the index version that answered.
#[derive(Debug, Clone)]
pub struct Searched {
    /// Documents, best first.
    pub hits: Vec<DocHit>,
    /// The index version searched.
    pub version: u32,
    /// The A/B arm, while a test runs.
    pub arm: Option<crate::ab::Arm>,
}

/// An index version's BM25 terms and the chunk count they were read at.
type Vocabulary = (usize, Arc<HashSet<u32>>);

/// How long `drop_kb` waits for requests still using the KB before removing its files.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// All knowledge bases of a data folder, plus the model.
pub struct Engine {
    layout: DataLayout,
    backend: Arc<dyn StoreBackend>,
    opts: EngineOptions,
    model: OnceLock<Model>,
    loader: Option<EmbedderLoader>,
    model_init: Mutex<()>,
    open: RwLock<HashMap<KbName, Arc<KnowledgeBase>>>,
    // Creating, dropping and first opens are rare; one lock keeps them from racing each other.
    lifecycle: Mutex<()>,
    /// KBs being dropped: invisible to new requests while the ones in flight drain.
    retiring: Mutex<HashSet<KbName>>,
    /// One feedback appender at a time keeps lines whole.
    feedback_lock: Mutex<()>,
    /// One query-log appender at a time; holds when each log was last pruned and a failure reported.
    query_log_lock: Mutex<QueryLogState>,
    /// Loaded routers by (kb, label); reloaded when `CURRENT` names another version.
    routers: RwLock<HashMap<(KbName, LabelField), Arc<RouterModel>>>,
    /// The data folder's API keys.
    keys: KeyStore,
    /// The last readiness check.
    health: HealthCache,
    /// Ingest tasks.
    tasks: TaskQueue,
    /// Writes answers; loaded by `generator_loader` on first use (extractive when there is none).
    generator: OnceLock<Arc<dyn nova_generate::Generator>>,
    generator_loader: Option<GeneratorLoader>,
    generator_init: Mutex<()>,
    /// Records who did and read what (when `[audit]` is on).
    auditor: Auditor,
    /// Replaces personal data (always built: a KB may ask for it when `[redaction]` is off).
    redactor: nova_ingest::Redactor,
    /// Seals stored text, feedback, queued ingest input, routers and audited query text (`[encryption]`).
    keyring: Option<Arc<Keyring>>,
    /// Free space a write needs on the data folder.
    disk: DiskGuard,
    /// Evaluation and training runs (`<data>/tracking/runs.sqlite`), opened on first use.
    runs: Mutex<Option<Arc<nova_track::RunStore>>>,
    /// Each KB's running A/B test, read from its `ab.json` on first use (`None`: there is none).
    experiments: RwLock<HashMap<KbName, Option<Arc<experiments::Live>>>>,
    /// Each KB's recent queries, for drift signals.
    drift: Mutex<HashMap<KbName, crate::drift::Window>>,
    /// Each index version's BM25 vocabulary (the chunk count it was read at, and the terms).
    vocabularies: Mutex<HashMap<String, Vocabulary>>,
}

/// Refuses to start when a knowledge base is sealed under a key that is not configured: a clear error
/// now, never unreadable results later. A KB with plain chunks under a configured key is only warned
/// about (its new chunks are sealed; `nova kb rekey` seals the rest).
fn check_keys(layout: &DataLayout, keyring: Option<&Keyring>) -> Result<()> {
    let Ok(entries) = fs_err::read_dir(layout.kbs_dir()) else {
        return Ok(());
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let Ok(name) = KbName::parse(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        if !layout.meta_file(&name).is_file() {
            continue;
        }
        // What is read is the serving index version (versions kept beside it are re-sealed by rekey
        // too; a retired one's settings no longer matter).
        let serving = crate::versions::VersionFiles::new(layout, name.as_str())
            .alias()?
            .serving;
        let meta = KbMeta::load(&layout.meta_file(&name.version(serving)))?;
        if let Some(refusal) = key_refusal(&name, &meta, keyring) {
            return Err(EngineError::Encryption(refusal));
        }
    }
    Ok(())
}

/// Why `name` (its metadata `meta`) cannot be read with `keyring`, if it cannot.
fn key_refusal(name: &KbName, meta: &KbMeta, keyring: Option<&Keyring>) -> Option<String> {
    match (meta.key_id.as_deref(), keyring) {
        (Some(id), None) => Some(format!(
            "knowledge base `{name}` is encrypted (key id {id}) and no encryption key is \
             configured: set encryption.key_file (NOVA_ENCRYPTION__KEY_FILE) or \
             encryption.key_env to its key"
        )),
        (Some(id), Some(k)) if !k.knows(id) => Some(format!(
            "knowledge base `{name}` is encrypted under key id {id}, but the configured key is \
             {}: a wrong key file? (after a rotation, list the old key in \
             encryption.previous_key_files until `nova kb rekey {name}` has run)",
            k.current_id()
        )),
        (None, Some(_)) => {
            tracing::warn!(
                kb = %name,
                "encryption is on but this knowledge base was created without it: new chunks \
                 are sealed, older ones stay plain until `nova kb rekey {name}`"
            );
            None
        }
        _ => None,
    }
}

/// The store layout of every knowledge base: vectors of `dim` dimensions and the engine's payload indexes.
fn store_schema(dim: usize) -> StoreSchema {
    StoreSchema {
        dim,
        keyword_fields: STORE_SCHEMA_KEYWORDS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        integer_fields: STORE_SCHEMA_INTEGERS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    }
}

/// A caller's filter may not name the fields the engine enforces itself.
fn check_client_filter(filter: &Filter) -> Result<()> {
    match filter.fields().into_iter().find(|f| *f == ACL_FIELD) {
        Some(f) => Err(EngineError::ReservedFilterField(f.to_owned())),
        None => Ok(()),
    }
}

impl Engine {
    /// An engine over `data_dir` (created if missing) with a loaded model.
    pub fn new(data_dir: &Path, embedder: Arc<dyn Embedder>, opts: EngineOptions) -> Result<Self> {
        let engine = Self::empty(data_dir, None, opts)?;
        let _ = engine.model.set(engine.model_of(embedder));
        Ok(engine)
    }

    /// An engine that loads the model with `loader` the first time it needs it (to embed documents,
    /// queries or tickets); listing, deleting and BM25 search never do.
    pub fn lazy(data_dir: &Path, loader: EmbedderLoader, opts: EngineOptions) -> Result<Self> {
        Self::empty(data_dir, Some(loader), opts)
    }

    fn empty(data_dir: &Path, loader: Option<EmbedderLoader>, opts: EngineOptions) -> Result<Self> {
        let layout = DataLayout::new(data_dir);
        let kbs = layout.kbs_dir();
        fs_err::create_dir_all(&kbs).map_err(|source| EngineError::Io { path: kbs, source })?;
        let keyring = Keyring::load(&opts.encryption)?.map(Arc::new);
        check_keys(&layout, keyring.as_deref())?;
        let tasks = TaskQueue::open(&layout.tasks_dir(), keyring.clone());
        let auditor = Auditor::open(&layout.audit_dir(), opts.audit.clone(), keyring.clone())?;
        let redactor = nova_ingest::Redactor::new(&opts.redaction.patterns)?;
        Ok(Self {
            disk: DiskGuard::new(layout.root(), opts.min_free_bytes),
            auditor,
            redactor,
            keyring,
            tasks,
            keys: KeyStore::open(&layout.auth_dir()),
            backend: Arc::new(EdgeBackend::new(layout.clone())),
            layout,
            opts,
            model: OnceLock::new(),
            loader,
            model_init: Mutex::new(()),
            open: RwLock::new(HashMap::new()),
            lifecycle: Mutex::new(()),
            retiring: Mutex::new(HashSet::new()),
            feedback_lock: Mutex::new(()),
            query_log_lock: Mutex::new(QueryLogState::default()),
            routers: RwLock::new(HashMap::new()),
            health: HealthCache::default(),
            generator: OnceLock::new(),
            generator_loader: None,
            generator_init: Mutex::new(()),
            runs: Mutex::new(None),
            experiments: RwLock::new(HashMap::new()),
            drift: Mutex::new(HashMap::new()),
            vocabularies: Mutex::new(HashMap::new()),
        })
    }

    /// Writes answers with what `loader` builds, the first time one is asked for.
    pub fn with_generator(mut self, loader: GeneratorLoader) -> Self {
        self.generator_loader = Some(loader);
        self
    }

    /// Answer settings a request does not override (`[generation]`).
    pub fn answer_defaults(&self) -> &AnswerOptions {
        &self.opts.answers
    }

    /// The answer generator, loading it if needed.
    pub fn generator(&self) -> Result<Arc<dyn nova_generate::Generator>> {
        if let Some(g) = self.generator.get() {
            return Ok(g.clone());
        }
        let _init = self.generator_init.lock();
        if let Some(g) = self.generator.get() {
            return Ok(g.clone());
        }
        let generator: Arc<dyn nova_generate::Generator> = match &self.generator_loader {
            Some(load) => load()?,
            None => Arc::new(nova_generate::Extractive),
        };
        Ok(self.generator.get_or_init(|| generator).clone())
    }

    /// Uses `backend` for the stores instead of the embedded default.
    pub fn with_backend(mut self, backend: Arc<dyn StoreBackend>) -> Self {
        self.backend = backend;
        self
    }

    fn model_of(&self, embedder: Arc<dyn Embedder>) -> Model {
        Model {
            queries: QueryEncoder::new(
                embedder.clone(),
                self.opts.batching.clone(),
                self.opts.cache_entries,
                self.opts.shared_cache.clone(),
            ),
            embedder,
        }
    }

    fn model(&self) -> Result<&Model> {
        if let Some(m) = self.model.get() {
            return Ok(m);
        }
        let _init = self.model_init.lock();
        if let Some(m) = self.model.get() {
            return Ok(m);
        }
        let loader = self.loader.as_ref().ok_or(EngineError::NoModel)?;
        let model = self.model_of(loader()?);
        Ok(self.model.get_or_init(|| model))
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        self.layout.root()
    }

    /// The embedding model (loading it if needed).
    pub fn model_info(&self) -> Result<ModelInfo> {
        Ok(self.model()?.info())
    }

    /// The model's id and dimension if it is loaded (never loads it).
    pub fn loaded_model_info(&self) -> Option<ModelInfo> {
        self.model.get().map(|m| m.info())
    }

    /// Query-embedding cache (hits, misses); zeros before the model is loaded.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.model.get().map_or((0, 0), |m| m.queries.cache_stats())
    }

    /// An existing knowledge base, opened on first use.
    fn kb(&self, name: &KbName) -> Result<Arc<KnowledgeBase>> {
        if let Some(kb) = self.open.read().get(name) {
            return Ok(kb.clone());
        }
        let _guard = self.lifecycle.lock();
        self.kb_locked(name)
    }

    /// [`Self::kb`] for a caller holding `lifecycle`.
    fn kb_locked(&self, name: &KbName) -> Result<Arc<KnowledgeBase>> {
        if let Some(kb) = self.open.read().get(name) {
            return Ok(kb.clone());
        }
        let meta_file = self.layout.meta_file(name);
        if self.retiring.lock().contains(name) {
            return Err(not_found(name));
        }
        if !meta_file.is_file() && !self.adopt(name)? {
            return Err(not_found(name));
        }
        // The lock before the store: a second process must hear who has the KB, not the WAL's error.
        let lock = Arc::new(KbLock::acquire(&self.layout.lock_file(name), name)?);
        // The alias names the index version that answers (1 unless a rebuild switched it).
        let serving = crate::versions::VersionFiles::new(&self.layout, name.as_str())
            .alias()?
            .serving;
        let kb = self.open_version(&name.version(serving), lock)?;
        self.open.write().insert(name.clone(), kb.clone());
        Ok(kb)
    }

    /// Opens index version `physical` of a KB whose lock this process holds.
    fn open_version(&self, physical: &KbName, lock: Arc<KbLock>) -> Result<Arc<KnowledgeBase>> {
        let meta = KbMeta::load(&self.layout.meta_file(physical))?;
        let store = self.backend.open(physical)?;
        Ok(self.wrap(physical, store, meta, lock))
    }

    /// An open store of index version `physical` with its settings, as the engine keeps it.
    fn wrap(
        &self,
        physical: &KbName,
        store: Arc<dyn nova_store::Store>,
        meta: KbMeta,
        lock: Arc<KbLock>,
    ) -> Arc<KnowledgeBase> {
        Arc::new(KnowledgeBase::new(
            physical.clone(),
            self.layout.clone(),
            store,
            meta,
            lock,
            self.keyring.clone(),
        ))
    }

    /// Takes in a knowledge base another process created in a shared store (a Qdrant cluster): its
    /// settings record is copied into this data folder. False when the store has none for `name`.
    fn adopt(&self, name: &KbName) -> Result<bool> {
        let Some(settings) = self.backend.load_settings(name)? else {
            return Ok(false);
        };
        let meta = KbMeta::from_json(settings)?;
        let dir = self.layout.kb_dir(name);
        fs_err::create_dir_all(&dir).map_err(|source| EngineError::Io { path: dir, source })?;
        meta.save(&self.layout.meta_file(name))?;
        tracing::info!(kb = %name, "knowledge base found in the shared store: opened here too");
        Ok(true)
    }

    /// Creates `name`'s store and metadata; caller holds `lifecycle`.
    fn create_locked(&self, name: &KbName, opts: KbOptions) -> Result<Arc<KnowledgeBase>> {
        if self.retiring.lock().contains(name) || self.layout.meta_file(name).is_file() {
            return Err(EngineError::KbExists(name.to_string()));
        }
        let model = self.model()?;
        let meta = KbMeta {
            bm25_avg_len: None,
            model: model.embedder.model_id().to_owned(),
            redact_pii: opts.redact_pii,
            key_id: self.keyring.as_ref().map(|k| k.current_id().to_owned()),
            chunking: None,
            fusion: None,
        };
        self.create_store_locked(name, meta, model.embedder.dim())
    }

    /// Creates `name` with the settings `meta` and vectors of `dim` dimensions (a new KB, or one being
    /// imported); caller holds `lifecycle` and has checked that the name is free in the data folder.
    fn create_store_locked(
        &self,
        name: &KbName,
        meta: KbMeta,
        dim: usize,
    ) -> Result<Arc<KnowledgeBase>> {
        self.disk.check()?;
        if self.backend.load_settings(name)?.is_some() {
            // Created by another process sharing the store.
            return Err(EngineError::KbExists(name.to_string()));
        }
        if self.backend.exists(name) {
            // A create that died before writing its metadata left an empty store behind.
            self.backend.drop_kb(name)?;
        }
        let dir = self.layout.kb_dir(name);
        fs_err::create_dir_all(&dir).map_err(|source| EngineError::Io { path: dir, source })?;
        let lock = Arc::new(KbLock::acquire(&self.layout.lock_file(name), name)?);
        let store = self.backend.create(name, &store_schema(dim))?;
        // The metadata is written last (beside a shared store's chunks, then here): a KB exists once it
        // is there.
        store.save_settings(&meta.to_json()?)?;
        meta.save(&self.layout.meta_file(name))?;
        let kb = self.wrap(name, store, meta, lock);
        self.open.write().insert(name.clone(), kb.clone());
        Ok(kb)
    }

    /// Creates an empty knowledge base; an error if it exists.
    pub fn create(&self, ctx: &RequestCtx, name: &KbName) -> Result<KbInfo> {
        self.create_with(ctx, name, KbOptions::default())
    }

    /// [`Self::create`] with options.
    pub fn create_with(&self, ctx: &RequestCtx, name: &KbName, opts: KbOptions) -> Result<KbInfo> {
        ctx.principal.require(Role::Admin, Some(name))?;
        {
            let _guard = self.lifecycle.lock();
            self.create_locked(name, opts)?;
        }
        self.auditor.record(ctx, "kb.create", Some(name), |e| {
            e.detail(serde_json::json!({"redact_pii": opts.redact_pii}))
        })?;
        self.info(ctx, name)
    }

    /// Whether what goes into `kb` (and queries about it) is redacted.
    fn redacts(&self, kb: &KnowledgeBase) -> bool {
        self.opts.redaction.enabled || kb.redacts_pii()
    }

    /// `docs` as they may be stored in `kb`: with personal data replaced when the KB redacts.
    fn redacted<'d>(&self, kb: &KnowledgeBase, docs: &'d [Document]) -> Cow<'d, [Document]> {
        if !self.redacts(kb) {
            return Cow::Borrowed(docs);
        }
        let mut counts = nova_ingest::RedactionCounts::default();
        let mut out = docs.to_vec();
        for doc in &mut out {
            self.redactor.document(doc, &mut counts);
        }
        if counts.total() > 0 {
            tracing::info!(kb = %kb.name(), values = counts.total(), kinds = ?counts.0, "personal data redacted");
        }
        Cow::Owned(out)
    }

    /// What `ctx`'s caller may read in `name`: the access filter of its principal, with the legal
    /// privilege rule on top when it is on.
    fn access(&self, ctx: &RequestCtx, name: &KbName) -> AccessFilter {
        let access = ctx.access(name);
        match &self.opts.privilege_tag {
            Some(tag) => access.privileged(&ctx.principal, crate::payload::keys::TAGS, tag),
            None => access,
        }
    }

    /// Writes the privilege log's record (an `privileged.<action>` audit record, whatever
    /// `audit.reads` says) when the caller was shown privileged documents.
    fn log_privileged<'a>(
        &self,
        ctx: &RequestCtx,
        action: &str,
        name: &KbName,
        shown: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<()> {
        let Some(tag) = &self.opts.privilege_tag else {
            return Ok(());
        };
        let ids: Vec<&str> = shown
            .into_iter()
            .filter(|(_, tags)| tags.iter().any(|t| t == tag))
            .map(|(id, _)| id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.auditor
            .record(ctx, &format!("privileged.{action}"), Some(name), |e| {
                e.doc_ids(ids)
            })
    }

    /// A read for the audit trail, its query redacted first when `name` redacts (so neither the text
    /// nor a hash of personal data is kept).
    fn audit_read<'a>(
        &self,
        ctx: &RequestCtx,
        action: &str,
        name: &KbName,
        query: Option<&str>,
        doc_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        if !self.auditor.records_reads() {
            return Ok(());
        }
        let kb = self.kb(name)?;
        let query = query.map(|q| self.scrubbed(&kb, q));
        self.auditor
            .read(ctx, action, name, query.as_deref(), doc_ids)
    }

    /// Text as it may be kept about `kb` (feedback, the audit trail): redacted when the KB redacts.
    fn scrubbed<'t>(&self, kb: &KnowledgeBase, text: &'t str) -> Cow<'t, str> {
        if self.redacts(kb) {
            Cow::Owned(
                self.redactor
                    .redact(text, &mut nova_ingest::RedactionCounts::default()),
            )
        } else {
            Cow::Borrowed(text)
        }
    }

    /// Deletes a knowledge base and its files, once the requests still using it have finished.
    pub fn drop_kb(&self, ctx: &RequestCtx, name: &KbName) -> Result<()> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let kb = {
            let _guard = self.lifecycle.lock();
            let kb = self.kb_locked(name)?;
            self.retiring.lock().insert(name.clone());
            self.open.write().remove(name);
            self.routers.write().retain(|(k, _), _| k != name);
            // A running A/B test holds its candidate index open.
            self.experiments.write().remove(name);
            kb
        };
        // An ingest task into it stops at its next batch instead of holding the drain below.
        self.tasks.cancel_running_on(name.as_str());
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while Arc::strong_count(&kb) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if Arc::strong_count(&kb) > 1 {
            tracing::warn!(kb = %name, "requests still use the knowledge base; deleting it anyway");
        }
        drop(kb);
        let removed = self.remove_files(name);
        self.retiring.lock().remove(name);
        removed?;
        self.auditor.record(ctx, "kb.drop", Some(name), |e| e)
    }

    fn remove_files(&self, name: &KbName) -> Result<()> {
        // Metadata first: after a crash midway the KB is gone, not half there.
        let meta = self.layout.meta_file(name);
        fs_err::remove_file(&meta).map_err(|source| EngineError::Io { path: meta, source })?;
        // Its other index versions' stores (in a shared store they are collections of their own).
        for version in crate::versions::VersionFiles::new(&self.layout, name.as_str()).records()? {
            if version.version > 1 {
                self.backend.drop_kb(&name.version(version.version))?;
            }
        }
        self.backend.drop_kb(name)?;
        let dir = self.layout.kb_dir(name);
        match fs_err::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(EngineError::Io {
                path: dir,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Size of one knowledge base, counting what the caller can see.
    pub fn info(&self, ctx: &RequestCtx, name: &KbName) -> Result<KbInfo> {
        ctx.principal.require(Role::Reader, Some(name))?;
        let kb = self.kb(name)?;
        let access = self.access(ctx, name);
        Ok(KbInfo {
            name: name.to_string(),
            documents: kb.doc_count(&access)?,
            chunks: kb.chunk_count(&access)?,
            model: kb.model(),
            busy: None,
            redact_pii: self.redacts(&kb),
            index_version: kb.version(),
        })
    }

    /// Readiness: every KB opens (or is busy in another process), the data folder is writable. Checked at
    /// most every few seconds ([`crate::HEALTH_TTL`]); no document is counted.
    pub fn health(&self) -> Health {
        self.health.get(|| {
            let (mut store_open, mut busy_kbs) = (true, Vec::new());
            match self.backend.list() {
                Ok(names) => {
                    for name in names {
                        match self.kb(&name) {
                            Ok(_) | Err(EngineError::KbNotFound(_)) => {}
                            Err(EngineError::KbBusy { .. }) => busy_kbs.push(name.to_string()),
                            Err(e) => {
                                tracing::warn!(kb = %name, "knowledge base does not open: {e}");
                                store_open = false;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("cannot list knowledge bases: {e}");
                    store_open = false;
                }
            }
            Health {
                store_open,
                disk_writable: writable(self.layout.root()) && self.disk.check().is_ok(),
                busy_kbs,
            }
        })
    }

    /// Every knowledge base, by name.
    pub fn list(&self, ctx: &RequestCtx) -> Result<Vec<KbInfo>> {
        let mut out = Vec::new();
        for name in self.backend.list()? {
            // Only the KBs the caller holds a role on: the others are not its to know about.
            if ctx.principal.role_on(&name).is_none() {
                continue;
            }
            match self.info(ctx, &name) {
                Ok(info) => out.push(info),
                // Dropped (or never finished creating) since the listing: not a KB any more.
                Err(EngineError::KbNotFound(_)) => {}
                // One KB in another process's hands must not take the whole listing down.
                Err(e @ EngineError::KbBusy { .. }) => {
                    let meta = KbMeta::load(&self.layout.meta_file(&name)).ok();
                    out.push(KbInfo {
                        name: name.to_string(),
                        documents: 0,
                        chunks: 0,
                        model: meta
                            .as_ref()
                            .map(|m| crate::kb::model_id_of(&m.model))
                            .unwrap_or_default(),
                        busy: Some(e.to_string()),
                        redact_pii: self.opts.redaction.enabled
                            || meta.is_some_and(|m| m.redact_pii),
                        index_version: crate::versions::VersionFiles::new(
                            &self.layout,
                            name.as_str(),
                        )
                        .alias()
                        .map_or(1, |a| a.serving),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Adds or replaces documents; returns once they are durable. The first documents written to an
    /// empty KB fix its BM25 average chunk length; the store is optimised after every ingest that
    /// wrote chunks — whichever door the documents came through.
    pub fn ingest(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        docs: &[Document],
        opts: &IngestOptions<'_>,
    ) -> Result<IngestSummary> {
        ctx.principal.require(Role::Editor, Some(name))?;
        crate::ingest::check_documents(docs)?;
        let model = self.model()?;
        let kb = match self.kb(name) {
            Err(EngineError::KbNotFound(_)) if opts.create_missing => {
                ctx.principal.require(Role::Admin, Some(name))?;
                let _guard = self.lifecycle.lock();
                match self.kb_locked(name) {
                    Err(EngineError::KbNotFound(_)) => {
                        let kb = self.create_locked(name, KbOptions::default())?;
                        self.auditor.record(ctx, "kb.create", Some(name), |e| e)?;
                        kb
                    }
                    other => other?,
                }
            }
            other => other?,
        };
        // Personal data goes before anything is embedded, indexed or stored.
        let docs = &*self.redacted(&kb, docs);
        let _writer = kb.writer.lock();
        self.disk.check()?;
        if kb.chunk_count(&AccessFilter::system())? == 0 {
            // Nothing indexed yet, so the length normalisation can still follow the corpus.
            kb.set_avg_len(mean_tokens(docs, kb.chunking().into()))?;
        }
        let summary = crate::ingest::ingest(
            &kb,
            model.embedder.as_ref(),
            docs,
            &self.disk,
            opts.progress.unwrap_or(&|_| {}),
            opts.cancel.unwrap_or(&|| false),
            None,
        )?;
        if summary.chunks > 0 {
            kb.optimize()?;
        }
        self.auditor
            .record(ctx, "documents.ingest", Some(name), |e| {
                e.doc_ids(docs.iter().map(|d| d.id.as_str()))
                    .detail(serde_json::json!({
                        "added": summary.added,
                        "updated": summary.updated,
                        "unchanged": summary.unchanged,
                        "chunks": summary.chunks,
                    }))
            })?;
        Ok(summary)
    }

    /// Queues `docs` for ingest into `name` as a task and answers once they are on disk (editors of the
    /// KB). The task worker ([`Self::start_task_worker`]) ingests them; [`Self::task`] reports progress.
    pub fn submit_ingest(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        docs: &[Document],
        mut skipped: Vec<TaskSkip>,
    ) -> Result<TaskInfo> {
        ctx.principal.require(Role::Editor, Some(name))?;
        // One request may carry a document twice (an export with a repeated row, a retried item): the
        // later copy is what the client last said, so it is ingested and the earlier ones are reported.
        let (docs, replaced) = crate::ingest::last_of_each_id(docs);
        skipped.extend(replaced);
        crate::ingest::check_documents(&docs)?;
        let kb = self.kb(name)?;
        // Redacted before the queued input is written to disk.
        let docs = self.redacted(&kb, &docs);
        let task = if docs.is_empty() {
            // Every uploaded file was skipped: a well-formed request whose content cannot be ingested,
            // reported like any upload's skips, as a task (failed, never queued).
            self.tasks.record_unreadable(name.as_str(), skipped)?
        } else {
            // Refused now, while the caller is still there to hear it, rather than queued to fail.
            self.disk.check()?;
            self.tasks.submit(name.as_str(), &docs, skipped)?
        };
        self.auditor
            .record(ctx, "documents.submit", Some(name), |e| {
                e.doc_ids(docs.iter().map(|d| d.id.as_str()))
                    .detail(serde_json::json!({"task_id": task.task_id}))
            })?;
        Ok(task)
    }

    /// A task's status; `None` when there is none or it belongs to a KB the caller may not edit.
    pub fn task(&self, ctx: &RequestCtx, id: u64) -> Result<Option<TaskInfo>> {
        let Some(task) = self.tasks.get(id)? else {
            return Ok(None);
        };
        let kb = KbName::parse(&task.kb)?;
        Ok(ctx
            .principal
            .require(Role::Editor, Some(&kb))
            .is_ok()
            .then_some(task))
    }

    /// [`Self::task`], once it is final or `timeout` has passed.
    pub fn wait_task(
        &self,
        ctx: &RequestCtx,
        id: u64,
        timeout: Duration,
    ) -> Result<Option<TaskInfo>> {
        if self.task(ctx, id)?.is_none() {
            return Ok(None);
        }
        self.tasks.wait(id, timeout)
    }

    /// Cancels a task: a queued one never runs, a running one stops before its next batch (what was
    /// committed stays). A final task is returned as it is.
    pub fn cancel_task(&self, ctx: &RequestCtx, id: u64) -> Result<Option<TaskInfo>> {
        let Some(mut task) = self.task(ctx, id)? else {
            return Ok(None);
        };
        if task.status.is_final() {
            return Ok(Some(task));
        }
        self.tasks.request_cancel(id);
        if task.status == crate::tasks::TaskStatus::Queued {
            task.status = crate::tasks::TaskStatus::Canceled;
            task.finished_at = Some(crate::tasks::now());
            self.tasks.save(&task)?;
        }
        self.record_task(ctx, "task.cancel", &task)?;
        Ok(Some(task))
    }

    /// Removes a finished task's record, so it is no longer readable. `None` when there is no such task
    /// (or the caller may not see it); a task still queued or running is refused with
    /// [`EngineError::TaskRunning`] — cancel it first.
    pub fn delete_task(&self, ctx: &RequestCtx, id: u64) -> Result<Option<()>> {
        let Some(task) = self.task(ctx, id)? else {
            return Ok(None);
        };
        if !task.status.is_final() {
            return Err(EngineError::TaskRunning(id));
        }
        self.tasks.forget(id)?;
        self.record_task(ctx, "task.delete", &task)?;
        Ok(Some(()))
    }

    fn record_task(&self, ctx: &RequestCtx, action: &str, task: &TaskInfo) -> Result<()> {
        let kb = KbName::parse(&task.kb)?;
        self.auditor.record(ctx, action, Some(&kb), |e| {
            e.detail(serde_json::json!({"task_id": task.task_id}))
        })
    }

    /// Starts the thread that runs ingest tasks in order, beginning with those a previous run left
    /// queued or unfinished. It stops when the engine is dropped.
    pub fn start_task_worker(self: &Arc<Self>) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.tasks.attach(tx)?;
        let engine = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("nova-tasks".into())
            .spawn(move || crate::task_worker::run(&engine, &rx))
            .map_err(|source| EngineError::Io {
                path: self.layout.tasks_dir(),
                source,
            })?;
        Ok(())
    }

    /// The options the engine was built with.
    pub(crate) fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// The task files and queue (for the worker).
    pub(crate) fn task_queue(&self) -> &TaskQueue {
        &self.tasks
    }

    /// Searches one knowledge base.
    pub fn search(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        query: &str,
        opts: &SearchOptions,
    ) -> Result<Vec<DocHit>> {
        Ok(self.search_traced(ctx, name, query, opts)?.hits)
    }

    /// [`Self::search`], saying which index version answered and, during an A/B test, on which arm.
    pub fn search_traced(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        query: &str,
        opts: &SearchOptions,
    ) -> Result<Searched> {
        ctx.principal.require(Role::Reader, Some(name))?;
        check_client_filter(&opts.filter)?;
        let started = Instant::now();
        let (kb, opts, arm) = self.routed(ctx, name, opts)?;
        let hits = self.search_in(ctx, name, &kb, query, &opts);
        let traced = arm.as_ref().map(|(_, a)| *a);
        self.record_search(name, arm, &hits, started);
        Ok(Searched {
            hits: hits?,
            version: kb.version(),
            arm: traced,
        })
    }

    /// A search of index `kb` (the serving version of `name`, or an A/B arm's).
    fn search_in(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        kb: &KnowledgeBase,
        query: &str,
        opts: &SearchOptions,
    ) -> Result<Vec<DocHit>> {
        let access = self.access(ctx, name);
        let (dense, bm25) = match opts.mode {
            Mode::Bm25 => (None, None),
            Mode::Dense => (Some(self.model()?.queries.encode(query)?), None),
            // BM25's candidates are fetched on another thread while the query is embedded (the store
            // serves reads side by side), so hybrid costs about what the embedding alone does.
            Mode::Hybrid => std::thread::scope(|s| {
                let bm25 = s.spawn(|| crate::search::bm25_candidates(kb, &access, query, opts));
                let dense = self.model().and_then(|m| m.queries.encode(query));
                let bm25 = bm25
                    .join()
                    .map_err(|_| EngineError::Internal("BM25 retrieval panicked".into()))?;
                Ok::<_, EngineError>((Some(dense?), Some(bm25?)))
            })?,
        };
        let hits = crate::search::search_with(
            kb,
            &access,
            query,
            dense.as_deref().map(Vec::as_slice),
            bm25,
            opts,
        )?;
        self.audit_read(
            ctx,
            "search",
            name,
            Some(query),
            hits.iter().map(|h| h.doc_id.as_str()),
        )?;
        self.log_privileged(ctx, "search", name, hits.iter().map(shown))?;
        let best = hits.first().and_then(|h| h.dense.as_ref()).map(|d| d.score);
        if self.opts.query_log || self.opts.drift.enabled {
            // What may be kept of the query (redacted when the KB redacts), made once for both.
            let kept = self.scrubbed(kb, query);
            self.log_query(kb, name, &kept, hits.len(), best, false);
            self.observe(
                name,
                &kept,
                dense.as_deref().map(Vec::as_slice),
                best,
                hits.len(),
            );
        }
        Ok(hits)
    }

    /// Appends a search (or a refused answer) to the KB's query log (best effort: a request never fails
    /// for it; a failing log is reported at most once a minute).
    /// `kept` is the query as it may be kept ([`Self::scrubbed`]).
    fn log_query(
        &self,
        kb: &KnowledgeBase,
        name: &KbName,
        kept: &str,
        hits: usize,
        best: Option<f32>,
        refused: bool,
    ) {
        if !self.opts.query_log {
            return;
        }
        let record = crate::gaps::QueryRecord {
            at: crate::tasks::now(),
            query: kept.to_owned(),
            hits,
            best,
            refused,
        };
        let path = self.layout.queries_file(name);
        let mut state = self.query_log_lock.lock();
        let prune_due = state
            .pruned
            .get(name)
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(3600));
        let written = (|| {
            if prune_due {
                self.prune_expired(&path, record.at)?;
                state.pruned.insert(name.clone(), Instant::now());
            }
            crate::sealed_log::append(&path, &record, kb.keyring(), &crate::gaps::KIND)
        })();
        if let Err(e) = written {
            if state
                .last_warning
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
            {
                state.last_warning = Some(Instant::now());
                tracing::warn!(kb = %name, "the query log cannot be written: {e}");
            }
        }
    }

    /// Drops the records of a user-text log (feedback, queries) older than the feedback retention,
    /// counted back from `now` (Unix seconds); nothing when retention is off.
    fn prune_expired(&self, path: &Path, now: u64) -> Result<()> {
        if self.opts.feedback_retention_days > 0 {
            let cutoff = now.saturating_sub(self.opts.feedback_retention_days * 86_400);
            crate::sealed_log::prune(path, cutoff)?;
        }
        Ok(())
    }

    /// The questions `name` answers badly, grouped by meaning and ranked by volume: searches that found
    /// nothing or whose best passage matched poorly, and "not helpful" ratings (editors of the KB).
    /// Embeds each distinct question once.
    pub fn gaps(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        opts: &crate::GapOptions,
    ) -> Result<Vec<crate::Gap>> {
        ctx.principal.require(Role::Editor, Some(name))?;
        let kb = self.kb(name)?;
        let queries: Vec<crate::gaps::QueryRecord> = {
            let _guard = self.query_log_lock.lock();
            crate::sealed_log::read(
                &self.layout.queries_file(name),
                kb.keyring(),
                &crate::gaps::KIND,
            )?
        };
        let feedback = {
            let _guard = self.feedback_lock.lock();
            crate::feedback::read(&self.layout.feedback_file(name), kb.keyring())?
        };
        let since = crate::tasks::now().saturating_sub(opts.days.saturating_mul(86_400));
        let signals = crate::gaps::signals(&queries, &feedback, since, opts.max_best);
        let embedder = &self.model()?.embedder;
        let gaps = crate::gaps::cluster(signals, |texts| Ok(embedder.embed(texts)?), opts)?;
        // The report quotes what users asked: recorded like any read of user text.
        self.audit_read(ctx, "gaps", name, None, std::iter::empty())?;
        Ok(gaps)
    }

    /// Passages, similar tickets and suggested steps for a problem.
    pub fn troubleshoot(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        problem: &str,
        opts: &TroubleshootOptions,
    ) -> Result<TroubleshootReport> {
        let report = self.troubleshoot_report(ctx, name, problem, opts)?;
        self.audit_read(
            ctx,
            "troubleshoot",
            name,
            Some(problem),
            report_doc_ids(&report),
        )?;
        self.log_privileged(ctx, "troubleshoot", name, report_hits(&report).map(shown))?;
        Ok(report)
    }

    /// [`Self::troubleshoot`] without the audit record (its callers write their own).
    fn troubleshoot_report(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        problem: &str,
        opts: &TroubleshootOptions,
    ) -> Result<TroubleshootReport> {
        ctx.principal.require(Role::Reader, Some(name))?;
        check_client_filter(&opts.filter)?;
        let kb = self.kb(name)?;
        let dense = self.model()?.queries.encode(problem)?;
        crate::troubleshoot::troubleshoot(&kb, &self.access(ctx, name), problem, &dense, opts)
    }

    /// An answer to `question` written from what the caller may read in `name`, with checked citations;
    /// each piece of text goes to `on_token` as it is written (`Break` stops generation).
    pub fn answer(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        question: &str,
        opts: &AnswerOptions,
        on_token: &mut dyn FnMut(&str) -> std::ops::ControlFlow<()>,
    ) -> Result<Answer> {
        let started = Instant::now();
        let retrieval = TroubleshootOptions {
            passages: opts.passages,
            tickets: opts.tickets,
            max_steps: 0,
            filter: opts.filter.clone(),
        };
        let report = self.troubleshoot_report(ctx, name, question, &retrieval)?;
        // Recorded before a word of the answer is written: what the model is given is what is read.
        self.audit_read(ctx, "answer", name, Some(question), report_doc_ids(&report))?;
        self.log_privileged(ctx, "answer", name, report_hits(&report).map(shown))?;
        let generator = self.generator()?;
        let answer = crate::answer::answer(
            generator.as_ref(),
            question,
            &report,
            started.elapsed(),
            opts,
            on_token,
        )?;
        if answer.refused {
            let kb = self.kb(name)?;
            self.log_query(&kb, name, &self.scrubbed(&kb, question), 0, None, true);
        }
        Ok(answer)
    }

    /// Answers each of `set`'s questions against KB `name` (already holding the corpus) and scores the
    /// citations against the judged relevant documents.
    pub fn evaluate_answers(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        set: &BeirSet,
        opts: &AnswerOptions,
        progress: &mut dyn FnMut(usize, &AnsweredQuery),
    ) -> Result<AnswerReport> {
        let generator = self.generator()?;
        let no_relevance = HashMap::new();
        let mut scored = Vec::with_capacity(set.queries.len());
        for (i, (id, question)) in set.queries.iter().enumerate() {
            let answer = self.answer(ctx, name, question, opts, &mut |_| {
                std::ops::ControlFlow::Continue(())
            })?;
            let relevant = set.qrels.get(id).unwrap_or(&no_relevance);
            scored.push(AnsweredQuery::score(id, question, &answer, relevant));
            if let Some(last) = scored.last() {
                progress(i + 1, last);
            }
        }
        Ok(AnswerReport::new(
            generator.provider(),
            generator.model_id(),
            scored,
        ))
    }

    /// A stored document, or `None` (also when the caller may not see it).
    pub fn document(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        id: &DocId,
    ) -> Result<Option<StoredDocument>> {
        ctx.principal.require(Role::Reader, Some(name))?;
        let doc = self.kb(name)?.document(id, &self.access(ctx, name))?;
        if let Some(d) = &doc {
            self.audit_read(ctx, "document.get", name, None, [id.as_str()])?;
            self.log_privileged(
                ctx,
                "document.get",
                name,
                [(d.id.as_str(), d.tags.as_slice())],
            )?;
        }
        Ok(doc)
    }

    /// Who can see a document and why (administrators of the KB only): every key with a role on it,
    /// one named key, or a reader in given groups. `None` when there is no such document.
    pub fn document_access(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        id: &DocId,
        question: &AccessQuestion,
    ) -> Result<Option<DocumentAccess>> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let Some(doc) = self.kb(name)?.document(id, &self.access(ctx, name))? else {
            return Ok(None);
        };
        let keys = self.keys.list()?;
        if let Some(key) = question.key() {
            if !keys.iter().any(|k| k.name == key) {
                return Err(nova_auth::AuthError::KeyNotFound(key.to_owned()).into());
            }
        }
        let answer = crate::access::explain(name, &doc, &keys, question);
        self.auditor
            .record(ctx, "document.access", Some(name), |e| {
                e.doc_ids([id.as_str()])
            })?;
        Ok(Some(answer))
    }

    /// Removes a document; `false` if it was not there (or the caller may not see it).
    pub fn delete_document(&self, ctx: &RequestCtx, name: &KbName, id: &DocId) -> Result<bool> {
        ctx.principal.require(Role::Editor, Some(name))?;
        let deleted = self.kb(name)?.delete(id, &self.access(ctx, name))?;
        if deleted {
            self.auditor
                .record(ctx, "document.delete", Some(name), |e| {
                    e.doc_ids([id.as_str()])
                })?;
        }
        Ok(deleted)
    }

    /// Re-seals everything `name` stores under the current encryption key (admins of the KB): after a key
    /// rotation, or to encrypt a KB written before encryption was on. Ingest waits meanwhile.
    pub fn rekey(&self, ctx: &RequestCtx, name: &KbName) -> Result<crate::RekeyReport> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let keyring = self.keyring.as_deref().ok_or_else(|| {
            EngineError::Invalid(
                "encryption is off: set encryption.key_file (or key_env) to the new key first"
                    .into(),
            )
        })?;
        let kb = self.kb(name)?;
        let report = {
            let _writer = kb.writer.lock();
            let mut report = crate::rekey::rekey(&kb, &self.layout, keyring)?;
            // The versions kept for rollback or an A/B test, and the golden set, are the KB's too: after
            // the rotation the old key may go.
            report.chunks += self.reseal_versions(&kb, keyring)?;
            report
        };
        self.auditor.record(ctx, "kb.rekey", Some(name), |e| {
            e.detail(serde_json::json!({
                "key_id": report.key_id,
                "chunks": report.chunks,
                "feedback": report.feedback,
                "routers": report.routers,
            }))
        })?;
        // Routers are cached decoded; nothing to reload (their content is unchanged).
        Ok(report)
    }

    /// Writes every chunk of `name` — both vectors and the stored payload — and its settings to `out` as
    /// an export file (`nova kb import` reads it back on any store backend, nothing re-embedded).
    /// Administrators of the KB. `progress` hears the chunks written so far.
    pub fn export_kb(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        out: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(usize),
    ) -> Result<usize> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let kb = self.kb(name)?;
        let header = crate::transfer::ExportHeader {
            kb: name.to_string(),
            dim: kb.store().dim(),
            settings: kb.settings_json()?,
        };
        let chunks = crate::transfer::export(kb.store(), header, out, progress)?;
        self.auditor.record(ctx, "kb.export", Some(name), |e| {
            e.detail(serde_json::json!({ "chunks": chunks }))
        })?;
        Ok(chunks)
    }

    /// Reads an export file into a new knowledge base (`as_name`, or the name it was exported from) on
    /// this engine's store backend. With `resume`, an import that stopped midway (its KB holds an
    /// `import.json` marker) continues after the last chunk it wrote. The end line's count is checked; a
    /// truncated file leaves the KB marked as importing. Administrators of the KB's name.
    pub fn import_kb(
        &self,
        ctx: &RequestCtx,
        input: &mut dyn std::io::BufRead,
        as_name: Option<&KbName>,
        resume: bool,
        progress: &mut dyn FnMut(usize),
    ) -> Result<(KbName, usize)> {
        let (mut reader, header) = crate::transfer::ImportReader::open(input)?;
        let name = match as_name {
            Some(n) => n.clone(),
            None => KbName::parse(&header.kb)?,
        };
        ctx.principal.require(Role::Admin, Some(&name))?;
        let meta = KbMeta::from_json(header.settings)?;
        if let Some(refusal) = key_refusal(&name, &meta, self.keyring.as_deref()) {
            return Err(EngineError::Encryption(refusal));
        }
        let marker = self.layout.kb_dir(&name).join("import.json");
        let (kb, mut after) = {
            let _guard = self.lifecycle.lock();
            if resume && marker.is_file() {
                let last: Option<u64> = crate::files::read_json(&marker)?;
                (self.kb_locked(&name)?, last)
            } else {
                if self.retiring.lock().contains(&name) || self.layout.meta_file(&name).is_file() {
                    return Err(EngineError::KbExists(name.to_string()));
                }
                let kb = self.create_store_locked(&name, meta, header.dim)?;
                crate::files::write_json_atomic(&marker, &None::<u64>)?;
                (kb, None)
            }
        };
        let _writer = kb.writer.lock();
        let mut written = 0;
        loop {
            let batch = reader.batch(crate::transfer::BATCH)?;
            if batch.is_empty() {
                break;
            }
            let fresh: Vec<_> = batch
                .into_iter()
                .filter(|c| after.is_none_or(|a| c.id > a))
                .collect();
            if let Some(last) = fresh.last().map(|c| c.id) {
                self.disk.check()?;
                written += fresh.len();
                kb.store().upsert(fresh)?;
                after = Some(last);
                crate::files::write_json_atomic(&marker, &after)?;
            }
            progress(written);
        }
        fs_err::remove_file(&marker).map_err(|source| EngineError::Io {
            path: marker.clone(),
            source,
        })?;
        self.auditor.record(ctx, "kb.import", Some(&name), |e| {
            e.detail(serde_json::json!({ "chunks": written, "resumed": resume }))
        })?;
        Ok((name, written))
    }

    /// Copies `name` to `target` (another store backend, e.g. a Qdrant cluster) without re-embedding,
    /// then compares the two (counts, and the dense rankings of a sample of chunks). Writes to the KB
    /// wait until the copy is done. An interrupted copy to the same `target_label` resumes after its last
    /// chunk; the KB appears on the target only once complete. Administrators of the KB.
    pub fn migrate_kb(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        target: &dyn nova_store::StoreBackend,
        target_label: &str,
        progress: &mut dyn FnMut(usize),
    ) -> Result<(usize, crate::transfer::Verification)> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let kb = self.kb(name)?;
        let _writer = kb.writer.lock();
        if target.load_settings(name)?.is_some() {
            return Err(EngineError::KbExists(format!(
                "{name} (on the target store)"
            )));
        }
        let marker = self.layout.kb_dir(name).join("migrate.json");
        let resumed: Option<(String, Option<u64>)> = if marker.is_file() {
            crate::files::read_json(&marker)?
        } else {
            None
        };
        let there = target.exists(name);
        let (mut after, dst) = match resumed {
            Some((label, after)) if label == target_label && there => (after, target.open(name)?),
            _ => {
                if there {
                    // Left by a copy to somewhere else, or one that died before its first batch.
                    target.drop_kb(name)?;
                }
                (None, target.create(name, &store_schema(kb.store().dim()))?)
            }
        };
        let mut copied = 0;
        crate::transfer::pages(kb.store(), after, &mut |chunks| {
            let last = chunks.last().map(|c| c.id);
            copied += chunks.len();
            dst.upsert(chunks)?;
            after = last.or(after);
            crate::files::write_json_atomic(&marker, &(target_label, after))?;
            progress(copied);
            Ok(())
        })?;
        // The settings last: only a complete copy is a knowledge base on the target.
        dst.save_settings(&kb.settings_json()?)?;
        let verification = crate::transfer::verify(kb.store(), dst.as_ref(), 20)?;
        let _ = fs_err::remove_file(&marker);
        self.auditor.record(ctx, "kb.migrate", Some(name), |e| {
            e.detail(serde_json::json!({
                "target": target_label,
                "chunks": copied,
                "verification": verification,
            }))
        })?;
        Ok((copied, verification))
    }

    /// Writes a snapshot of `name` to `out` (administrators of the KB): its store, metadata, routers and
    /// feedback, consistent while the KB keeps serving (writes to it wait until the copy is done).
    pub fn snapshot(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        out: &mut dyn std::io::Write,
    ) -> Result<SnapshotInfo> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let kb = self.kb(name)?;
        let dir = self.layout.kb_dir(name);
        let mut written = None;
        {
            let _writer = kb.writer.lock();
            let _feedback = self.feedback_lock.lock();
            kb.store().frozen(&mut || {
                written = Some(crate::snapshot::write(name.as_str(), &dir, &mut *out));
            })?;
        }
        let info = written.unwrap_or_else(|| {
            Err(EngineError::Internal(
                "the store did not run the copy".into(),
            ))
        })?;
        self.auditor.record(ctx, "kb.snapshot", Some(name), |e| {
            e.detail(serde_json::json!({"files": info.files.len(), "bytes": info.bytes()}))
        })?;
        Ok(info)
    }

    /// Restores a snapshot from `input` as a new knowledge base (`as_name`, or the name it was taken
    /// of). Every file is checked against the snapshot's manifest before the KB appears; a truncated or
    /// altered archive is refused and leaves nothing behind. Administrators of the KB's name.
    pub fn restore(
        &self,
        ctx: &RequestCtx,
        input: &mut dyn std::io::Read,
        as_name: Option<&KbName>,
    ) -> Result<(KbName, SnapshotInfo)> {
        if let Some(name) = as_name {
            ctx.principal.require(Role::Admin, Some(name))?;
        }
        self.disk.check()?;
        static RESTORES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = RESTORES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let staging = self
            .layout
            .kbs_dir()
            .join(format!(".restore-{}-{n}", std::process::id()));
        let placed = self.restore_into(ctx, input, as_name, &staging);
        if staging.exists() {
            let _ = fs_err::remove_dir_all(&staging);
        }
        let (name, info) = placed?;
        self.auditor.record(ctx, "kb.restore", Some(&name), |e| {
            e.detail(serde_json::json!({"from": info.kb, "files": info.files.len(), "bytes": info.bytes()}))
        })?;
        Ok((name, info))
    }

    fn restore_into(
        &self,
        ctx: &RequestCtx,
        input: &mut dyn std::io::Read,
        as_name: Option<&KbName>,
        staging: &Path,
    ) -> Result<(KbName, SnapshotInfo)> {
        let info = crate::snapshot::unpack(input, staging)?;
        let name = match as_name {
            Some(n) => n.clone(),
            None => KbName::parse(&info.kb)?,
        };
        ctx.principal.require(Role::Admin, Some(&name))?;
        let meta = KbMeta::load(&staging.join("kb.json"))?;
        if let Some(refusal) = key_refusal(&name, &meta, self.keyring.as_deref()) {
            return Err(EngineError::Encryption(refusal));
        }
        let _guard = self.lifecycle.lock();
        let target = self.layout.kb_dir(&name);
        if target.exists() || self.retiring.lock().contains(&name) {
            return Err(EngineError::KbExists(name.to_string()));
        }
        fs_err::rename(staging, &target).map_err(crate::files::io(&target))?;
        Ok((name, info))
    }

    /// Embeddings of arbitrary texts (the OpenAI-compatible endpoint), in order.
    pub fn embed(&self, ctx: &RequestCtx, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        ctx.principal.require_somewhere(Role::Reader)?;
        Ok(self.model()?.embedder.embed(texts)?)
    }

    /// Tokens each text counts as model input.
    pub fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>> {
        Ok(self.model()?.embedder.token_counts(texts)?)
    }

    /// Appends feedback to the knowledge base's `feedback.jsonl`, synced to disk before returning; while
    /// an A/B test runs, the rating counts for the rater's arm (returned).
    pub fn feedback(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        mut feedback: Feedback,
    ) -> Result<Option<crate::ab::Arm>> {
        ctx.principal.require(Role::Reader, Some(name))?;
        let kb = self.kb(name)?;
        crate::feedback::check(&feedback)?;
        // Only a document the caller can see may be rated: no records about ids that do not exist.
        let doc = DocId::parse(&feedback.doc_id)?;
        if !kb.sees(doc.as_str(), &self.access(ctx, name))? {
            return Err(EngineError::DocumentNotFound(feedback.doc_id));
        }
        feedback.query = self.scrubbed(&kb, &feedback.query).into_owned();
        feedback.comment = feedback
            .comment
            .map(|c| self.scrubbed(&kb, &c).into_owned());
        feedback.at = crate::tasks::now();
        feedback
            .request_id
            .get_or_insert_with(|| ctx.request_id.clone());
        let path = self.layout.feedback_file(name);
        let _guard = self.feedback_lock.lock();
        self.prune_expired(&path, feedback.at)?;
        crate::feedback::append(&path, &feedback, self.keyring.as_deref())?;
        let arm = self.record_rating(
            ctx,
            name,
            feedback.rating != crate::feedback::Rating::NotHelpful,
        );
        self.auditor.record(ctx, "feedback", Some(name), |e| {
            e.doc_ids([feedback.doc_id.as_str()])
                .detail(serde_json::json!({"rating": feedback.rating}))
        })?;
        Ok(arm)
    }

    /// The tracking store, opened (and created) on first use.
    fn run_store(&self) -> Result<Arc<nova_track::RunStore>> {
        let mut slot = self.runs.lock();
        if let Some(store) = slot.as_ref() {
            return Ok(store.clone());
        }
        let store = Arc::new(nova_track::RunStore::open(
            &self.layout.root().join("tracking/runs.sqlite"),
        )?);
        *slot = Some(store.clone());
        Ok(store)
    }

    /// Records an evaluation or training run (administrators: runs describe the whole deployment);
    /// returns its number.
    pub fn record_run(&self, ctx: &RequestCtx, run: &nova_track::NewRun) -> Result<i64> {
        ctx.principal.require(Role::Admin, None)?;
        let id = self.run_store()?.record(run)?;
        self.auditor.record(ctx, "run.record", None, |e| {
            e.detail(serde_json::json!({"run": id, "kind": run.kind}))
        })?;
        Ok(id)
    }

    /// Notes the id an MLflow server gave run `id`.
    pub fn set_mlflow_run_id(&self, ctx: &RequestCtx, id: i64, mlflow_run_id: &str) -> Result<()> {
        ctx.principal.require(Role::Admin, None)?;
        Ok(self.run_store()?.set_mlflow_run_id(id, mlflow_run_id)?)
    }

    /// The latest `limit` runs (of `kind`), newest first.
    pub fn runs(
        &self,
        ctx: &RequestCtx,
        kind: Option<&str>,
        limit: usize,
    ) -> Result<Vec<nova_track::RunSummary>> {
        ctx.principal.require(Role::Admin, None)?;
        Ok(self.run_store()?.list(kind, limit)?)
    }

    /// Run `id`, whole.
    pub fn run(&self, ctx: &RequestCtx, id: i64) -> Result<nova_track::Run> {
        ctx.principal.require(Role::Admin, None)?;
        Ok(self.run_store()?.get(id)?)
    }

    /// The latest `limit` feedback records of KB `name` about documents the caller can see, newest first
    /// (editors and administrators of the KB: the records hold what users typed).
    pub fn feedback_records(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        limit: usize,
    ) -> Result<Vec<Feedback>> {
        ctx.principal.require(Role::Editor, Some(name))?;
        let kb = self.kb(name)?;
        let records = {
            let _guard = self.feedback_lock.lock();
            crate::feedback::read(&self.layout.feedback_file(name), kb.keyring())?
        };
        // Only feedback about documents the caller can see: the records name them and quote what was
        // asked about them.
        let access = self.access(ctx, name);
        let mut visible: HashMap<String, bool> = HashMap::new();
        let mut kept = Vec::with_capacity(limit.min(records.len()));
        for record in records.into_iter().rev() {
            if kept.len() == limit {
                break;
            }
            let sees = match visible.get(&record.doc_id) {
                Some(&sees) => sees,
                None => {
                    let sees = kb.sees(&record.doc_id, &access)?;
                    visible.insert(record.doc_id.clone(), sees);
                    sees
                }
            };
            if sees {
                kept.push(record);
            }
        }
        let records = kept;
        self.auditor.read(
            ctx,
            "feedback.read",
            name,
            None,
            records.iter().map(|r| r.doc_id.as_str()),
        )?;
        Ok(records)
    }

    /// The current router for (kb, label): read once, then reused until a retrain moves `CURRENT` on
    /// (a one-line file read per call), so `nova tickets train` takes effect without a restart.
    fn current_router(&self, kb: &KnowledgeBase, label: &LabelField) -> Result<Arc<RouterModel>> {
        let dir = kb.router_dir(label);
        let current = RouterModel::current_version(&dir)?
            .ok_or_else(|| crate::tickets::no_router(kb, label))?;
        let key = (kb.name().clone(), label.clone());
        if let Some(model) = self.routers.read().get(&key) {
            if model.meta.version == current {
                return Ok(model.clone());
            }
        }
        // Load the version just read, not `CURRENT` again: a retrain in between must not be mixed in.
        let keyring = kb.keyring();
        let model = Arc::new(RouterModel::load_version_with(&dir, current, &|bytes| {
            crate::cipher::open_bytes(keyring, bytes, crate::tickets::ROUTER_CONTEXT)
                .map_err(|e| e.to_string())
        })?);
        tracing::info!(kb = %kb.name(), %label, version = model.meta.version, "router loaded");
        self.routers.write().insert(key, model.clone());
        Ok(model)
    }

    /// The current router for `label` (no model is loaded).
    pub fn router(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        label: &LabelField,
    ) -> Result<Arc<RouterModel>> {
        ctx.principal.require(Role::Reader, Some(name))?;
        let kb = self.kb(name)?;
        self.current_router(&kb, label)
    }

    /// Routes a new ticket with the KB's current router for its label.
    pub fn classify(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        ticket: &TicketQuery,
    ) -> Result<Classification> {
        ctx.principal.require(Role::Reader, Some(name))?;
        let kb = self.kb(name)?;
        let model = self.current_router(&kb, &ticket.label)?;
        let vector = ticket_vector(
            self.model()?.embedder.as_ref(),
            &ticket.subject,
            &ticket.body,
        )?;
        let x = ndarray::ArrayView2::from_shape((1, vector.len()), &vector)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let texts = [ticket_text(&ticket.subject, &ticket.body)];
        let prediction = model
            .predict(x, &texts, ticket.threshold, ticket.top)?
            .pop()
            .ok_or_else(|| EngineError::Internal("router returned no prediction".into()))?;
        let mut router = RouterInfo::of(&model);
        router.threshold = ticket.threshold.unwrap_or(router.threshold);
        self.audit_read(ctx, "ticket.classify", name, Some(&texts[0]), [])?;
        Ok(Classification { prediction, router })
    }

    /// Suggested solutions for a new ticket: routing (when a router for its label exists), similar
    /// answered tickets, KB passages and steps.
    pub fn suggest(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        ticket: &TicketQuery,
        opts: &SuggestOptions,
    ) -> Result<Suggestion> {
        ctx.principal.require(Role::Reader, Some(name))?;
        check_client_filter(&opts.filter)?;
        let kb = self.kb(name)?;
        let classification = match self.classify(ctx, name, ticket) {
            Ok(c) => Some(c),
            Err(EngineError::RouterNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let text = ticket_text(&ticket.subject, &ticket.body);
        let dense = self.model()?.queries.encode(&text)?;
        let (similar_tickets, passages, steps) =
            crate::tickets::suggest(&kb, &self.access(ctx, name), &text, &dense, opts)?;
        self.audit_read(
            ctx,
            "ticket.suggest",
            name,
            Some(&text),
            similar_tickets
                .iter()
                .chain(&passages)
                .map(|h| h.doc_id.as_str()),
        )?;
        Ok(Suggestion {
            classification,
            similar_tickets,
            passages,
            steps,
        })
    }

    /// Trains a router for `label` on the KB's labelled tickets (their stored embeddings; nothing is
    /// re-embedded) and saves it as the next version.
    pub fn train_router(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        label: &LabelField,
        opts: &TrainOptions,
        progress: &dyn Fn(usize, usize),
    ) -> Result<TrainedRouter> {
        ctx.principal.require(Role::Editor, Some(name))?;
        let kb = self.kb(name)?;
        let trained =
            crate::tickets::train_router(&kb, &self.access(ctx, name), label, opts, progress)?;
        self.auditor.record(ctx, "router.train", Some(name), |e| {
            e.detail(serde_json::json!({
                "label": label.as_str(),
                "version": trained.model.meta.version,
            }))
        })?;
        Ok(trained)
    }

    /// Scores the current router for `label` on labelled `tickets` (embedded as ingest would); labels
    /// the router has never seen count as errors.
    pub fn evaluate_router(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        label: &LabelField,
        tickets: &[Document],
        progress: &dyn Fn(usize),
    ) -> Result<Report> {
        ctx.principal.require(Role::Reader, Some(name))?;
        let model = self.router(ctx, name, label)?;
        let embedder = self.model()?.embedder.as_ref();
        let labelled: Vec<(&Document, &String)> = tickets
            .iter()
            .filter_map(|d| d.fields.get(label.as_str()).map(|l| (d, l)))
            .collect();
        if labelled.is_empty() {
            return Err(EngineError::Classify(
                nova_classify::ClassifyError::NotEnoughData(format!(
                    "no tickets with a `{label}` field to evaluate on"
                )),
            ));
        }
        let mut classes = model.meta.classes.clone();
        let mut truth = Vec::with_capacity(labelled.len());
        let mut vectors = Vec::with_capacity(labelled.len() * model.meta.dim);
        let mut texts = Vec::with_capacity(labelled.len());
        for (done, (doc, l)) in labelled.iter().enumerate() {
            vectors.extend(ticket_vector(embedder, &doc.title, &doc.text)?);
            texts.push(ticket_text(&doc.title, &doc.text));
            let class = match classes.iter().position(|c| c == *l) {
                Some(i) => i,
                None => {
                    classes.push((*l).clone());
                    classes.len() - 1
                }
            };
            truth.push(class);
            progress(done + 1);
        }
        let x = ndarray::Array2::from_shape_vec((labelled.len(), model.meta.dim), vectors)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let known = model.probabilities(x.view(), &texts)?;
        // Unseen labels get a zero-probability column so the confusion matrix can show them.
        let mut probs = ndarray::Array2::zeros((labelled.len(), classes.len()));
        probs
            .slice_mut(ndarray::s![.., ..known.ncols()])
            .assign(&known);
        Ok(Report::new(&probs, &truth, &classes))
    }

    /// Runs `set`'s test queries in each mode against KB `name` (already holding the corpus), embedding
    /// each query afresh (no cache, so latencies are cold).
    pub fn evaluate_beir(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        set: &BeirSet,
        runs: EvalRuns<'_>,
        base: &SearchOptions,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<ModeReport>> {
        ctx.principal.require(Role::Reader, Some(name))?;
        check_client_filter(&base.filter)?;
        let kb = self.kb(name)?;
        let embedder = self.model()?.embedder.as_ref();
        let access = self.access(ctx, name);
        // A fusion sweep asks hybrid the same query once per fusion; it is embedded once (its later
        // fusions' latencies then leave the embedding out). Single runs embed every time.
        let sweep = runs.fusions.len() > 1;
        let embedded: Mutex<HashMap<String, Vec<f32>>> = Mutex::default();
        let search = |query: &str, opts: &SearchOptions| {
            let dense = match opts.mode {
                Mode::Bm25 => None,
                Mode::Hybrid if sweep => match embedded.lock().entry(query.to_owned()) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(e.get().clone()),
                    std::collections::hash_map::Entry::Vacant(e) => embedder
                        .embed(&[query])?
                        .into_iter()
                        .next()
                        .map(|v| e.insert(v).clone()),
                },
                Mode::Dense | Mode::Hybrid => embedder.embed(&[query])?.into_iter().next(),
            };
            crate::search::search(&kb, &access, query, dense.as_deref(), opts)
        };
        evaluate(set, runs, base, &search, progress)
    }

    /// Creates an API key (administrators of every KB only); the secret is in the answer alone.
    pub fn create_key(&self, ctx: &RequestCtx, spec: &KeySpec) -> Result<NewKey> {
        ctx.principal.require(Role::Admin, None)?;
        let key = self.keys.create(spec)?;
        self.auditor.record(ctx, "key.create", None, |e| {
            e.detail(serde_json::json!({
                "name": spec.name,
                "role": spec.role,
                "kbs": spec.kbs,
                "groups": spec.groups,
            }))
        })?;
        Ok(key)
    }

    /// Every API key, without secrets.
    pub fn list_keys(&self, ctx: &RequestCtx) -> Result<Vec<KeyInfo>> {
        ctx.principal.require(Role::Admin, None)?;
        let keys = self.keys.list()?;
        self.auditor.record(ctx, "key.list", None, |e| e)?;
        Ok(keys)
    }

    /// Revokes the key called `name`; a running server refuses it from its next request on.
    pub fn revoke_key(&self, ctx: &RequestCtx, name: &str) -> Result<KeyInfo> {
        ctx.principal.require(Role::Admin, None)?;
        let key = self.keys.revoke(name)?;
        self.auditor.record(ctx, "key.revoke", None, |e| {
            e.detail(serde_json::json!({"name": name}))
        })?;
        Ok(key)
    }

    /// The caller the key called `name` authenticates as (to show a user's view; admins only).
    pub fn key_principal(&self, ctx: &RequestCtx, name: &str) -> Result<Principal> {
        ctx.principal.require(Role::Admin, None)?;
        self.keys
            .list()?
            .into_iter()
            .find(|k| k.name == name)
            .map(|k| k.principal())
            .ok_or_else(|| EngineError::Auth(nova_auth::AuthError::KeyNotFound(name.to_owned())))
    }

    /// Audit records matching `query`, oldest first (administrators of every KB). The reading is itself
    /// recorded.
    pub fn audit_records(
        &self,
        ctx: &RequestCtx,
        query: &nova_audit::Query,
    ) -> Result<Vec<nova_audit::Record>> {
        ctx.principal.require(Role::Admin, None)?;
        let mut records = nova_audit::read(&self.layout.audit_dir(), query)?;
        for r in &mut records {
            self.auditor.reveal(&mut r.event);
        }
        self.auditor.record(ctx, "audit.read", None, |e| {
            e.detail(serde_json::json!({"returned": records.len()}))
        })?;
        Ok(records)
    }

    /// Writes the audit records matching `query` to `out` (administrators of every KB); how many. The
    /// export is itself recorded.
    pub fn export_audit(
        &self,
        ctx: &RequestCtx,
        query: &nova_audit::Query,
        format: nova_audit::ExportFormat,
        out: &mut dyn std::io::Write,
    ) -> Result<u64> {
        ctx.principal.require(Role::Admin, None)?;
        let n = nova_audit::export(&self.layout.audit_dir(), query, format, out, &|e| {
            self.auditor.reveal(e)
        })?;
        self.auditor.record(ctx, "audit.export", None, |e| {
            e.detail(serde_json::json!({"exported": n}))
        })?;
        Ok(n)
    }

    /// Checks the whole audit trail with the configured seal (administrators of every KB).
    pub fn verify_audit(&self, ctx: &RequestCtx) -> Result<nova_audit::Verification> {
        ctx.principal.require(Role::Admin, None)?;
        Ok(nova_audit::verify(
            &self.layout.audit_dir(),
            self.auditor.sealer(),
        )?)
    }
}

/// The hits a troubleshoot report shows its reader.
fn report_hits(report: &TroubleshootReport) -> impl Iterator<Item = &DocHit> {
    report.passages.iter().chain(&report.similar_tickets)
}

/// The documents a troubleshoot report shows its reader.
fn report_doc_ids(report: &TroubleshootReport) -> impl Iterator<Item = &str> {
    report_hits(report).map(|h| h.doc_id.as_str())
}

/// A hit's id and tags, for the privilege log.
fn shown(hit: &DocHit) -> (&str, &[String]) {
    (hit.doc_id.as_str(), hit.tags.as_slice())
}
