//! A named knowledge base on disk: `<data_dir>/kbs/<name>/` holding the store shard and `kb.json`
//! (BM25 average document length, embedding model). Ingest is idempotent per document content hash.

use crate::error::{EngineError, Result};
use nova_embed::{Embedder, SentenceEmbedder};
use nova_ingest::{chunk, ChunkOptions, Document};
use nova_store::{Bm25Encoder, ChunkRecord, EdgeStore, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Chunks embedded and committed together; each committed batch is durable.
const COMMIT_CHUNKS: usize = 256;
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
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(EngineError::BadKbName(name.to_owned()));
        }
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
    /// chunks. Chunks are embedded and committed in batches; `progress(docs_done)` is called after each.
    pub fn ingest(
        &self,
        embedder: &SentenceEmbedder,
        docs: &[Document],
        progress: &mut dyn FnMut(usize),
    ) -> Result<IngestSummary> {
        let mut summary = IngestSummary::default();
        let mut pending: Vec<(String, serde_json::Value, u64)> = Vec::new(); // (embed text, payload, id)
        for (done, doc) in docs.iter().enumerate() {
            let hash = doc.hash();
            match self.store.get(chunk_id(&doc.id, 0))? {
                Some(p) if p.get("hash").and_then(|h| h.as_str()) == Some(hash.as_str()) => {
                    summary.unchanged += 1;
                    continue;
                }
                Some(_) => {
                    self.store.delete_doc(&doc.id)?;
                    summary.updated += 1;
                }
                None => summary.added += 1,
            }
            for c in chunk(doc, ChunkOptions::default()) {
                let heading_path = c.headings.join(" › ");
                // Title and section go into what is embedded and indexed: they often name the topic the
                // passage itself only implies (BEIR likewise indexes title + text).
                let indexed = [doc.title.as_str(), heading_path.as_str(), c.text.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("\n");
                let payload = json!({
                    "doc_id": doc.id, "chunk": c.index, "title": doc.title, "source": doc.source,
                    "headings": c.headings, "text": c.text, "kind": doc.kind, "hash": hash,
                    "tags": [], "acl": [],
                });
                pending.push((indexed, payload, chunk_id(&doc.id, c.index)));
            }
            if pending.len() >= COMMIT_CHUNKS {
                summary.chunks += self.commit(embedder, &mut pending)?;
                progress(done + 1);
            }
        }
        summary.chunks += self.commit(embedder, &mut pending)?;
        progress(docs.len());
        Ok(summary)
    }

    fn commit(
        &self,
        embedder: &SentenceEmbedder,
        pending: &mut Vec<(String, serde_json::Value, u64)>,
    ) -> Result<usize> {
        if pending.is_empty() {
            return Ok(0);
        }
        let texts: Vec<&str> = pending.iter().map(|(t, _, _)| t.as_str()).collect();
        let vectors = embedder.embed(&texts)?;
        let records: Vec<ChunkRecord> = pending
            .drain(..)
            .zip(vectors)
            .map(|((text, payload, id), dense)| ChunkRecord {
                id,
                sparse: self.bm25.document(&text),
                dense,
                payload,
            })
            .collect();
        let n = records.len();
        self.store.upsert(records)?;
        Ok(n)
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
