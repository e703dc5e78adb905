//! A sentence-transformers model folder on disk: which files it must hold and what its small JSON configs say.

use crate::error::{EmbedError, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Files without which the model cannot run.
pub(crate) const REQUIRED_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// Files that refine behaviour when present (sequence length, pooling, normalisation).
pub(crate) const OPTIONAL_FILES: [&str; 3] = [
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "modules.json",
];

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Average of the token vectors under the attention mask (all-MiniLM-L6-v2).
    Mean,
    /// The `[CLS]` token's vector.
    Cls,
}

/// The BERT hyper-parameters this crate uses from `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

#[derive(Deserialize)]
struct ModuleEntry {
    #[serde(rename = "type")]
    kind: String,
}

/// A validated model folder: the required files exist and the configs parse.
#[derive(Debug, Clone)]
pub struct ModelDir {
    root: PathBuf,
    id: String,
    pub(crate) bert: BertConfig,
    pooling: Pooling,
    max_seq_length: usize,
    normalize: bool,
}

impl ModelDir {
    /// Checks the folder and reads its configs; a missing or unparsable file is an error naming it.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(EmbedError::MissingDir {
                path: root.to_path_buf(),
            });
        }
        for file in REQUIRED_FILES {
            let path = root.join(file);
            if !path.is_file() {
                return Err(EmbedError::MissingFile { path });
            }
        }
        let bert: BertConfig = read_json(&root.join("config.json"))?;
        let sbert: Option<SentenceBertConfig> =
            read_optional_json(&root.join("sentence_bert_config.json"))?;
        let pooling =
            match read_optional_json::<PoolingConfig>(&root.join("1_Pooling/config.json"))? {
                Some(p) if p.pooling_mode_cls_token && !p.pooling_mode_mean_tokens => Pooling::Cls,
                _ => Pooling::Mean,
            };
        let modules: Option<Vec<ModuleEntry>> = read_optional_json(&root.join("modules.json"))?;
        // Without modules.json we cannot tell; normalising is what every retrieval model here wants.
        let normalize = modules.is_none_or(|m| m.iter().any(|e| e.kind.ends_with("Normalize")));
        // sentence-transformers truncates at sentence_bert_config's max_seq_length, not tokenizer.json's value.
        let max_seq_length = sbert
            .and_then(|s| s.max_seq_length)
            .unwrap_or(bert.max_position_embeddings)
            .min(bert.max_position_embeddings);
        // The folder's name, not its path: the id is shown to API callers and stored in each KB.
        let id = std::fs::canonicalize(root)
            .unwrap_or_else(|_| root.to_path_buf())
            .file_name()
            .map_or_else(|| "model".to_owned(), |n| n.to_string_lossy().into_owned());
        Ok(Self {
            root: root.to_path_buf(),
            id,
            bert,
            pooling,
            max_seq_length,
            normalize,
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The model's id: the folder's name, or the hub repository it was downloaded from.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The same folder known by `id` (a hub snapshot is a hash-named folder; its id is the repository).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }
    /// Token limit per text, `[CLS]` and `[SEP]` included.
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }
    /// Pooling mode from `1_Pooling/config.json` (mean when absent).
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }
    /// Whether outputs are L2-normalised (a `Normalize` module in `modules.json`).
    pub fn normalize(&self) -> bool {
        self.normalize
    }
    /// Output dimension.
    pub fn dim(&self) -> usize {
        self.bert.hidden_size
    }
    /// Path of a file inside the folder.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs_err::read(path).map_err(|_| EmbedError::MissingFile {
        path: path.to_path_buf(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| EmbedError::CorruptFile {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

fn read_optional_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    if path.is_file() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}
