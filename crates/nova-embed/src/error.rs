//! The embedder's error type: every variant names the file or step that failed and, where there is one,
//! the fix.

use nova_core::Code;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;

/// Why loading the model or embedding text failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model folder itself does not exist.
    #[error("model folder {path} does not exist; run scripts/fetch-models.sh or set model.path")]
    MissingDir {
        /// The folder that was looked for.
        path: PathBuf,
    },
    /// A required file is absent from the model folder.
    #[error("model file {path} is missing; run scripts/fetch-models.sh to (re)install the model")]
    MissingFile {
        /// The file that was looked for.
        path: PathBuf,
    },
    /// A model file exists but cannot be used.
    #[error("model file {path} is corrupt ({source}); delete it and run scripts/fetch-models.sh")]
    CorruptFile {
        /// The offending file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A tensor the architecture needs is absent or has the wrong shape.
    #[error("model file {path}: tensor `{tensor}` {problem}; the file is not a BERT sentence-transformers model")]
    BadTensor {
        /// The weights file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// What is wrong with it (missing, expected shape …).
        problem: String,
    },
    /// Downloading from the Hugging Face hub failed.
    #[error("downloading `{file}` of `{repo}` from the Hugging Face hub")]
    Hub {
        /// Repository id, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
        repo: String,
        /// File within the repository.
        file: String,
        /// The hub client's error.
        #[source]
        source: hf_hub::api::sync::ApiError,
    },
    /// The tokenizer rejected the input.
    #[error("tokenizing text")]
    Tokenize(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The batching worker is gone (the process is shutting down).
    #[error("the embedding worker has stopped")]
    Stopped,
    /// The batching queue is full: the service is at capacity.
    #[error("too many queries are waiting for the model; retry shortly")]
    Overloaded,
    /// The query thread pool could not start (the OS refused threads).
    #[error("starting the query thread pool")]
    Threads(#[source] rayon::ThreadPoolBuildError),
    /// The forward pass failed (a bug or an out-of-memory, never bad user input).
    #[error("running the model")]
    Inference(#[from] candle_core::Error),
}

impl EmbedError {
    /// The stable code callers branch on.
    pub fn code(&self) -> Code {
        match self {
            Self::MissingDir { .. } | Self::MissingFile { .. } => Code::ModelMissing,
            Self::CorruptFile { .. } | Self::BadTensor { .. } => Code::ModelCorrupt,
            Self::Hub { .. } => Code::Io,
            Self::Tokenize(_) => Code::InvalidInput,
            Self::Inference(_) | Self::Stopped | Self::Threads(_) => Code::Internal,
            Self::Overloaded => Code::Overloaded,
        }
    }
}
