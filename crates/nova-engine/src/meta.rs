//! A knowledge base's metadata file (`kb.json`): the embedding model it was built with and the BM25
//! average chunk length, fixed by its first ingest. Written atomically (temp file + rename).

use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What `kb.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KbMeta {
    /// Mean analysed tokens per chunk, measured on the first ingest into the empty KB (BM25 length
    /// normalisation); `None` until then.
    #[serde(default)]
    pub bm25_avg_len: Option<f64>,
    /// The embedding model's id when the KB was created.
    pub model: String,
    /// Personal data is redacted from everything ingested into this KB, whatever `[redaction]` says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redact_pii: bool,
    /// The encryption key (id) its stored text is sealed under: set when the KB is created with
    /// encryption on, or by `nova kb rekey`. `None`: chunks written before encryption was on are plain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// How documents are cut into chunks; `None`: the chunker's defaults (KBs built before index
    /// versions, and versions that did not change it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunking: Option<Chunking>,
    /// Hybrid search's fusion when a request leaves it at the default (`rrf:60`, `convex:0.4`, …): set
    /// by `nova index build --fusion` or `nova index tune`; `None`: the engine's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fusion: Option<String>,
}

/// The chunker's settings a KB (index version) was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Chunking {
    /// Words per chunk, aimed at.
    pub target_words: usize,
    /// Words repeated between consecutive pieces of a split paragraph.
    pub overlap_words: usize,
}

impl Default for Chunking {
    fn default() -> Self {
        Self::from(nova_ingest::ChunkOptions::default())
    }
}

impl From<nova_ingest::ChunkOptions> for Chunking {
    fn from(o: nova_ingest::ChunkOptions) -> Self {
        Self {
            target_words: o.target_words,
            overlap_words: o.overlap_words,
        }
    }
}

impl From<Chunking> for nova_ingest::ChunkOptions {
    fn from(c: Chunking) -> Self {
        Self {
            target_words: c.target_words,
            overlap_words: c.overlap_words,
        }
    }
}

impl KbMeta {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self> {
        crate::files::read_json(path)
    }

    /// The record as JSON (what a shared store keeps).
    pub fn to_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self)
            .map_err(|e| crate::EngineError::Internal(format!("settings record: {e}")))
    }

    /// The record a shared store kept.
    pub fn from_json(value: serde_json::Value) -> Result<Self> {
        serde_json::from_value(value)
            .map_err(|e| crate::EngineError::Internal(format!("settings record in the store: {e}")))
    }

    /// Writes `path` so that a crash leaves either the old or the new file, never half of one.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::files::write_json_atomic(path, self)
    }
}
