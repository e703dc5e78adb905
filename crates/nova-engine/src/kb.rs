//! A named knowledge base on disk: `<data_dir>/kbs/<name>/` holding the store shard and `kb.json`
//! (BM25 average document length, embedding model). Ingest is idempotent per document content hash.

use crate::error::{EngineError, Result};
use crate::search::{strings, text_field};
use nova_embed::{Embedder, SentenceEmbedder};
use nova_ingest::{chunk, Chunk, ChunkOptions, Document};
use nova_store::{Bm25Encoder, ChunkRecord, EdgeStore, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Chunks embedded and committed together; each committed batch is durable.
const COMMIT_CHUNKS: usize = 256;
/// Upper bound when reading a document back chunk by chunk (~100k words).
const MAX_CHUNKS_PER_DOC: usize = 1_000;
/// BM25 average length before a knowledge base has seen documents.
const DEFAULT_AVG_LEN: f64 = 120.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KbMeta {
    /// Mean analysed tokens per chunk, fixed at the first ingest (BM25 length normalisation).
    bm25_avg_len: f64,
    /// The embedding model's id when the KB was created.
    model: String,
}

/// What an ingest run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    /// New documents.
    pub added: usize,
    /// Documents whose content changed (old chunks replaced).
    pub updated: usize,
    /// Documents already stored with the same content.
    pub unchanged: usize,
    /// Chunks written.
    pub chunks: usize,
}

/// How far an ingest run has got; everything counted here is durably committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestProgress {
    /// Documents (in input order) whose chunks are all committed, or that were unchanged.
    pub docs_done: usize,
    /// Chunks committed so far in this run.
    pub chunks_committed: usize,
}

/// Embedded chunks of whole documents, ready to commit.
struct Batch {
    records: Vec<ChunkRecord>,
    docs_done: usize,
}

/// What is embedded and indexed for a chunk, its payload and its id.
pub(crate) fn chunk_entry(
    doc: &Document,
    hash: &str,
    c: &Chunk,
) -> (String, serde_json::Value, u64) {
    let heading_path = c.headings.join(" › ");
    // Title and section go into what is embedded and indexed: they often name the topic the passage
    // itself only implies (BEIR likewise indexes title + text).
    let indexed = [doc.title.as_str(), heading_path.as_str(), c.text.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    let mut payload = json!({
        "doc_id": doc.id, "chunk": c.index, "title": doc.title, "source": doc.source,
        "headings": c.headings, "text": c.text, "kind": doc.kind, "hash": hash,
        "tags": doc.tags, "acl": doc.acl,
    });
    if let Some(obj) = payload.as_object_mut() {
        for (k, v) in &doc.fields {
            // Metadata never overwrites the fields search relies on.
            obj.entry(k.clone()).or_insert_with(|| json!(v));
        }
    }
    (indexed, payload, chunk_id(&doc.id, c.index))
}

/// An open knowledge base.
pub struct KnowledgeBase {
    name: String,
    dir: PathBuf,
    store: EdgeStore,
    bm25: Bm25Encoder,
    meta: KbMeta,
}

/// Stable chunk id: the first 8 bytes of sha256("doc_id#index").
pub(crate) fn chunk_id(doc_id: &str, index: usize) -> u64 {
    let digest = Sha256::digest(format!("{doc_id}#{index}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

fn file_err(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> EngineError + '_ {
    move |e| EngineError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl KnowledgeBase {
    /// Opens (or creates) knowledge base `name` under `data_dir`. `avg_len_hint` seeds BM25's average
    /// document length for a new KB (eval passes the corpus's real value).
    pub fn open(
        data_dir: &Path,
        name: &str,
        embedder: &SentenceEmbedder,
        avg_len_hint: Option<f64>,
    ) -> Result<Self> {
        Self::check_name(name)?;
        let dir = data_dir.join("kbs").join(name);
        let meta_path = dir.join("kb.json");
        let meta = if meta_path.is_file() {
            let bytes = fs_err::read(&meta_path).map_err(|e| file_err(&meta_path)(&e))?;
            serde_json::from_slice(&bytes).map_err(|e| file_err(&meta_path)(&e))?
        } else {
            fs_err::create_dir_all(&dir).map_err(|e| file_err(&dir)(&e))?;
            let meta = KbMeta {
                bm25_avg_len: avg_len_hint.unwrap_or(DEFAULT_AVG_LEN),
                model: embedder.model_id().to_owned(),
            };
            let bytes = serde_json::to_vec_pretty(&meta).map_err(|e| file_err(&meta_path)(&e))?;
            fs_err::write(&meta_path, bytes).map_err(|e| file_err(&meta_path)(&e))?;
            meta
        };
        let store = EdgeStore::open(&dir.join("store"), embedder.dim())?;
        Ok(Self {
            name: name.to_owned(),
            bm25: Bm25Encoder::new(meta.bm25_avg_len),
            dir,
            store,
            meta,
        })
    }

    /// A name is usable as a folder name: letters, digits, `-`, `_`, at most 64 characters.
    pub fn check_name(name: &str) -> Result<()> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(())
        } else {
            Err(EngineError::BadKbName(name.to_owned()))
        }
    }

    /// A stored document with its chunks, or `None`.
    pub fn document(&self, doc_id: &str) -> Result<Option<crate::engine::StoredDocument>> {
        let payloads = self.doc_payloads(doc_id)?;
        let Some(first) = payloads.first() else {
            return Ok(None);
        };
        Ok(Some(crate::engine::StoredDocument {
            id: doc_id.to_owned(),
            title: text_field(first, "title"),
            source: text_field(first, "source"),
            kind: text_field(first, "kind"),
            tags: strings(first.get("tags")),
            acl: strings(first.get("acl")),
            hash: text_field(first, "hash"),
            chunks: payloads
                .iter()
                .enumerate()
                .map(|(index, p)| crate::engine::StoredChunk {
                    index: index as u64,
                    headings: strings(p.get("headings")),
                    text: text_field(p, "text"),
                })
                .collect(),
        }))
    }

    /// The KB's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The KB's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn store(&self) -> &EdgeStore {
        &self.store
    }

    pub(crate) fn bm25(&self) -> &Bm25Encoder {
        &self.bm25
    }

    /// Names of the knowledge bases under `data_dir`, sorted.
    pub fn list(data_dir: &Path) -> Result<Vec<String>> {
        let dir = data_dir.join("kbs");
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = fs_err::read_dir(&dir)
            .map_err(|e| file_err(&dir)(&e))?
            .flatten()
            .filter(|e| e.path().join("kb.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Documents stored.
    pub fn doc_count(&self) -> Result<usize> {
        Ok(self.store.count_docs()?)
    }

    /// Chunks stored.
    pub fn chunk_count(&self) -> Result<usize> {
        Ok(self.store.count()?)
    }

    /// Mean BM25 token count of the chunks of `docs` (for seeding a new KB).
    pub fn mean_tokens(docs: &[Document]) -> f64 {
        let enc = Bm25Encoder::new(DEFAULT_AVG_LEN);
        let (mut total, mut n) = (0usize, 0usize);
        for doc in docs {
            for c in chunk(doc, ChunkOptions::default()) {
                total += enc.token_count(&format!("{} {}", doc.title, c.text));
                n += 1;
            }
        }
        if n == 0 {
            DEFAULT_AVG_LEN
        } else {
            total as f64 / n as f64
        }
    }

    /// Ingests documents: unchanged ones (same content hash) are skipped, changed ones replace their
    /// chunks. Chunks are embedded in batches of whole documents; a writer thread commits each batch
    /// durably while the next is embedded, and `progress` is called after each commit, so what it
    /// reports survives a crash.
    pub fn ingest(
        &self,
        embedder: &SentenceEmbedder,
        docs: &[Document],
        progress: &(dyn Fn(IngestProgress) + Sync),
    ) -> Result<IngestSummary> {
        let mut summary = IngestSummary::default();
        // One batch in flight: embedding of batch n+1 overlaps the commit of batch n.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
        let (produced, written) = std::thread::scope(|scope| {
            let writer = scope.spawn(move || self.write_batches(rx, progress));
            let produced = self.embed_batches(embedder, docs, &tx, &mut summary);
            drop(tx);
            let written = writer.join().unwrap_or_else(|_| {
                Err(EngineError::Internal(
                    "ingest writer thread panicked".into(),
                ))
            });
            (produced, written)
        });
        // A writer failure also stops the producer (its channel closes); report the root cause.
        let chunks = written?;
        produced?;
        summary.chunks = chunks;
        progress(IngestProgress {
            docs_done: docs.len(),
            chunks_committed: chunks,
        });
        Ok(summary)
    }

    fn embed_batches(
        &self,
        embedder: &SentenceEmbedder,
        docs: &[Document],
        tx: &std::sync::mpsc::SyncSender<Batch>,
        summary: &mut IngestSummary,
    ) -> Result<()> {
        let mut pending: Vec<(String, serde_json::Value, u64)> = Vec::new(); // (embed text, payload, id)
        for (done, doc) in docs.iter().enumerate() {
            let hash = doc.hash();
            let changed = match self.store.get(chunk_id(&doc.id, 0))? {
                Some(p) if p.get("hash").and_then(|h| h.as_str()) == Some(hash.as_str()) => {
                    summary.unchanged += 1;
                    false
                }
                Some(_) => {
                    self.store.delete_doc(&doc.id)?;
                    summary.updated += 1;
                    true
                }
                None => {
                    summary.added += 1;
                    true
                }
            };
            if changed {
                for c in chunk(doc, ChunkOptions::default()) {
                    pending.push(chunk_entry(doc, &hash, &c));
                }
            }
            let last = done + 1 == docs.len();
            if pending.len() >= COMMIT_CHUNKS || (last && !pending.is_empty()) {
                let records = self.embed(embedder, std::mem::take(&mut pending))?;
                let batch = Batch {
                    records,
                    docs_done: done + 1,
                };
                if tx.send(batch).is_err() {
                    return Ok(()); // the writer stopped on an error, which ingest reports
                }
            }
        }
        Ok(())
    }

    fn write_batches(
        &self,
        rx: std::sync::mpsc::Receiver<Batch>,
        progress: &(dyn Fn(IngestProgress) + Sync),
    ) -> Result<usize> {
        let mut written = 0;
        for batch in rx {
            written += batch.records.len();
            self.store.upsert(batch.records)?;
            tracing::info!(
                kb = %self.name,
                docs = batch.docs_done,
                chunks = written,
                "batch committed"
            );
            progress(IngestProgress {
                docs_done: batch.docs_done,
                chunks_committed: written,
            });
        }
        Ok(written)
    }

    fn embed(
        &self,
        embedder: &SentenceEmbedder,
        pending: Vec<(String, serde_json::Value, u64)>,
    ) -> Result<Vec<ChunkRecord>> {
        let texts: Vec<&str> = pending.iter().map(|(t, _, _)| t.as_str()).collect();
        let vectors = embedder.embed(&texts)?;
        Ok(pending
            .into_iter()
            .zip(vectors)
            .map(|((text, payload, id), dense)| ChunkRecord {
                id,
                sparse: self.bm25.document(&text),
                dense,
                payload,
            })
            .collect())
    }

    /// A document's chunks in order as (index, headings, text); empty if it is not stored.
    pub fn doc_chunks(&self, doc_id: &str) -> Result<Vec<(u64, Vec<String>, String)>> {
        Ok(self
            .doc_payloads(doc_id)?
            .iter()
            .enumerate()
            .map(|(index, p)| {
                (
                    index as u64,
                    strings(p.get("headings")),
                    text_field(p, "text"),
                )
            })
            .collect())
    }

    /// The payloads of a document's chunks in order; empty if it is not stored.
    fn doc_payloads(&self, doc_id: &str) -> Result<Vec<serde_json::Value>> {
        let mut payloads = Vec::new();
        // Chunk ids are derived from (doc id, index), so a document is read back by walking indices.
        for index in 0..MAX_CHUNKS_PER_DOC {
            let Some(p) = self.store.get(chunk_id(doc_id, index))? else {
                break;
            };
            payloads.push(p);
        }
        Ok(payloads)
    }

    /// Removes a document's chunks; `false` if it was not stored.
    pub fn delete(&self, doc_id: &str) -> Result<bool> {
        let existed = self.store.get(chunk_id(doc_id, 0))?.is_some();
        self.store.delete_doc(doc_id)?;
        Ok(existed)
    }

    /// Builds indexes after bulk ingest.
    pub fn optimize(&self) -> Result<()> {
        Ok(self.store.optimize()?)
    }

    /// The model the KB was built with.
    pub fn model(&self) -> &str {
        &self.meta.model
    }
}
