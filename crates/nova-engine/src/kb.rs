//! An open knowledge base, internal to the engine: its store, its BM25 encoder and metadata, and the
//! reads every front door shares (one document's chunks, counts). The engine decides who may call
//! these; every read here takes the caller's access filter.

use crate::cipher::Keyring;
use crate::error::{EngineError, Result};
use crate::meta::KbMeta;
use crate::payload::{keys, whole_version, ChunkPayload};
use nova_core::{AccessFilter, Condition, DataLayout, DocId, Filter, KbName};
use nova_store::{Bm25Encoder, Store};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// BM25 average length used before a knowledge base has seen documents.
pub(crate) const DEFAULT_AVG_LEN: f64 = 120.0;

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

/// An open knowledge base.
pub(crate) struct KnowledgeBase {
    /// The name callers use.
    name: KbName,
    /// The index version this is ([`KbName::version`]; the KB's own name for version 1): where its
    /// store and settings are.
    physical: KbName,
    layout: DataLayout,
    store: Arc<dyn Store>,
    meta: RwLock<KbMeta>,
    bm25: RwLock<Arc<Bm25Encoder>>,
    /// One ingest at a time per KB: versions are numbered from what is stored.
    pub(crate) writer: Mutex<()>,
    /// Old versions are deleted under its write side; a search's last attempt reads under its read
    /// side, so a document replaced back to back during a search is still found (the earlier,
    /// lock-free attempts only retry).
    pub(crate) retiring: RwLock<()>,
    /// Seals and opens stored text (encryption at rest), when configured.
    keyring: Option<Arc<Keyring>>,
    /// Keeps other processes out while this one has the KB open (shared by its open index versions).
    lock: Arc<crate::lock::KbLock>,
    /// Chunk id → document id, so search candidates are grouped without reading their payloads.
    pub(crate) chunk_docs: crate::chunk_docs::ChunkDocs,
}

impl KnowledgeBase {
    /// Wraps an opened store and its metadata.
    pub fn new(
        physical: KbName,
        layout: DataLayout,
        store: Arc<dyn Store>,
        meta: KbMeta,
        lock: Arc<crate::lock::KbLock>,
        keyring: Option<Arc<Keyring>>,
    ) -> Self {
        let bm25 = Bm25Encoder::new(meta.bm25_avg_len.unwrap_or(DEFAULT_AVG_LEN));
        Self {
            name: KbName::parse(physical.base()).unwrap_or_else(|_| physical.clone()),
            physical,
            layout,
            store,
            meta: RwLock::new(meta),
            bm25: RwLock::new(Arc::new(bm25)),
            writer: Mutex::new(()),
            retiring: RwLock::new(()),
            keyring,
            lock,
            chunk_docs: crate::chunk_docs::ChunkDocs::default(),
        }
    }

    /// The KB's name.
    pub fn name(&self) -> &KbName {
        &self.name
    }

    /// The index version this is (1 for the KB's first index).
    pub fn version(&self) -> u32 {
        self.physical.split_version().map_or(1, |(_, n)| n)
    }

    /// The lock this process holds on the KB, for another of its index versions opened beside it.
    pub fn lock(&self) -> Arc<crate::lock::KbLock> {
        self.lock.clone()
    }

    /// How documents are cut into chunks in this index.
    pub fn chunking(&self) -> crate::meta::Chunking {
        self.meta.read().chunking.unwrap_or_default()
    }

    /// Hybrid search's fusion when a request leaves it at the default (set per index version).
    pub fn fusion(&self) -> Option<crate::fusion::Fusion> {
        self.meta.read().fusion.as_deref()?.parse().ok()
    }

    /// Records the fusion hybrid search uses by default (`nova index tune`).
    pub fn set_fusion(&self, fusion: crate::fusion::Fusion) -> Result<()> {
        let mut meta = self.meta.write();
        meta.fusion = Some(fusion.to_string());
        self.persist(&meta)
    }

    /// The settings record (model, BM25 length, chunking, fusion).
    pub(crate) fn meta(&self) -> KbMeta {
        self.meta.read().clone()
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The keys that seal and open its stored text (`None`: encryption at rest is off).
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_deref()
    }

    /// A stored payload read back, its sealed fields opened.
    pub fn payload(&self, map: nova_store::Payload) -> Result<ChunkPayload> {
        ChunkPayload::from_map(map, self.keyring())
    }

    /// Records that every chunk is now sealed under key `id` (after a rekey).
    pub fn set_key_id(&self, id: &str) -> Result<()> {
        let mut meta = self.meta.write();
        meta.key_id = Some(id.to_owned());
        self.persist(&meta)
    }

    /// The settings record as JSON (what exports and shared stores carry).
    pub fn settings_json(&self) -> Result<serde_json::Value> {
        self.meta.read().to_json()
    }

    /// Writes the settings record to the data folder and, for a shared store, beside the chunks.
    fn persist(&self, meta: &KbMeta) -> Result<()> {
        meta.save(&self.layout.meta_file(&self.physical))?;
        self.store.save_settings(&meta.to_json()?)?;
        Ok(())
    }

    /// The BM25 encoder for documents and queries.
    pub fn bm25(&self) -> Arc<Bm25Encoder> {
        self.bm25.read().clone()
    }

    /// The model the KB was built with, by id. KBs made before ids were names stored the model's
    /// absolute folder; that is shown as the folder's name (or the hub repository of a hub snapshot).
    pub fn model(&self) -> String {
        model_id_of(&self.meta.read().model)
    }

    /// Whether the KB was created to redact personal data from everything ingested.
    pub fn redacts_pii(&self) -> bool {
        self.meta.read().redact_pii
    }

    /// Fixes the BM25 average chunk length (measured on the first documents) and saves it.
    pub fn set_avg_len(&self, avg_len: f64) -> Result<()> {
        let mut meta = self.meta.write();
        meta.bm25_avg_len = Some(avg_len);
        self.persist(&meta)?;
        *self.bm25.write() = Arc::new(Bm25Encoder::new(avg_len));
        Ok(())
    }

    /// Where routers for a label are saved.
    pub fn router_dir(&self, label: &nova_core::LabelField) -> PathBuf {
        self.layout.router_dir(&self.name, label)
    }

    /// Documents the caller can see (chunks with index 0).
    pub fn doc_count(&self, access: &AccessFilter) -> Result<usize> {
        let first = Filter::must([Condition::eq(keys::CHUNK, 0)]);
        Ok(self.store.count(&first, access)?)
    }

    /// Chunks the caller can see.
    pub fn chunk_count(&self, access: &AccessFilter) -> Result<usize> {
        Ok(self.store.count(&Filter::all(), access)?)
    }

    /// Whether the caller sees document `doc_id` (any of its chunks passes `access`): a count, no payload
    /// read.
    pub fn sees(&self, doc_id: &str, access: &AccessFilter) -> Result<bool> {
        let filter = Filter::must([Condition::eq(keys::DOC_ID, doc_id)]);
        Ok(self.store.count(&filter, access)? > 0)
    }

    /// One whole version of a document's chunks, in order, if the caller can see it: one filtered
    /// scroll over the document id.
    pub fn doc_chunks(&self, doc_id: &str, access: &AccessFilter) -> Result<Vec<ChunkPayload>> {
        let filter = Filter::must([Condition::eq(keys::DOC_ID, doc_id)]);
        let chunks = self
            .store
            .scan(&filter, access, None, false)?
            .into_iter()
            .map(|p| self.payload(p.payload))
            .collect::<Result<Vec<_>>>()?;
        Ok(whole_version(chunks))
    }

    /// A stored document with its chunks, or `None` (also when the caller may not see it).
    pub fn document(&self, id: &DocId, access: &AccessFilter) -> Result<Option<StoredDocument>> {
        let chunks = self.doc_chunks(id.as_str(), access)?;
        let Some(first) = chunks.first() else {
            return Ok(None);
        };
        Ok(Some(StoredDocument {
            id: id.to_string(),
            title: first.title.clone(),
            source: first.source.clone(),
            kind: first.kind.clone(),
            tags: first.tags.clone(),
            acl: first.acl.clone(),
            hash: first.hash.clone(),
            chunks: chunks
                .iter()
                .enumerate()
                .map(|(index, p)| StoredChunk {
                    index: index as u64,
                    headings: p.headings.clone(),
                    text: p.text.clone(),
                })
                .collect(),
        }))
    }

    /// Removes a document's chunks (all versions) if the caller can see it; `false` if it could not.
    pub fn delete(&self, id: &DocId, access: &AccessFilter) -> Result<bool> {
        let _writer = self.writer.lock();
        let filter = Filter::must([Condition::eq(keys::DOC_ID, id.as_str())]);
        if self.store.count(&filter, access)? == 0 {
            return Ok(false);
        }
        self.store.delete(&filter)?;
        Ok(true)
    }

    /// Merges segments and builds indexes after bulk writes.
    pub fn optimize(&self) -> Result<()> {
        Ok(self.store.optimize()?)
    }
}

/// The error for a missing KB folder element.
pub(crate) fn not_found(name: &KbName) -> EngineError {
    EngineError::KbNotFound(name.to_string())
}

/// A stored model reference as an id safe to show: absolute paths become the folder's name, hub-cache
/// snapshots (`…/models--owner--name/snapshots/<rev>`) their repository.
pub(crate) fn model_id_of(stored: &str) -> String {
    let path = std::path::Path::new(stored);
    if !path.is_absolute() {
        return stored.to_owned();
    }
    let names: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(repo) = names
        .iter()
        .find_map(|n| n.strip_prefix("models--"))
        .and_then(|r| r.split_once("--"))
    {
        return format!("{}/{}", repo.0, repo.1);
    }
    names.last().cloned().unwrap_or_default()
}

#[cfg(test)]
mod model_id_tests {
    use super::model_id_of;

    #[test]
    fn stored_absolute_model_paths_are_shown_by_name() {
        assert_eq!(model_id_of("all-MiniLM-L6-v2"), "all-MiniLM-L6-v2");
        assert_eq!(
            model_id_of("/srv/models/all-MiniLM-L6-v2"),
            "all-MiniLM-L6-v2"
        );
        assert_eq!(
            model_id_of("/root/.cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/abc"),
            "sentence-transformers/all-MiniLM-L6-v2"
        );
    }
}
