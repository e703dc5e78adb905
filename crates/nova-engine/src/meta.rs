//! A knowledge base's metadata file (`kb.json`): the embedding model it was built with and the BM25
//! average chunk length, fixed by its first ingest. Written atomically (temp file + rename).

use crate::error::{EngineError, Result};
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
}

impl KbMeta {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = fs_err::read(path).map_err(|source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| EngineError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes `path` so that a crash leaves either the old or the new file, never half of one.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| EngineError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        {
            let mut file = fs_err::File::create(&tmp).map_err(io)?;
            std::io::Write::write_all(&mut file, &bytes).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        fs_err::rename(&tmp, path).map_err(io)
    }
}
