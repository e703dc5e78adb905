//! Why generation failed, each with its stable [`Code`].

use nova_core::Code;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = GenerateError> = std::result::Result<T, E>;

/// Why a generator could not be built or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The GGUF file is not there.
    #[error("chat model not found at {path}; run scripts/fetch-models.sh (it installs SmolLM2-135M-Instruct) or set generation.model_path")]
    ModelMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The GGUF file could not be read or lacks what a Llama-family chat model needs.
    #[error("{path}: {problem}")]
    ModelInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The model ran and failed (a tensor shape the code did not expect).
    #[error("the chat model failed")]
    Model(#[source] candle_core::Error),
    /// The tokenizer refused the text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The GGUF's chat template does not render.
    #[error("chat template: {0}")]
    Template(#[source] minijinja::Error),
    /// The prompt does not fit the model's context window.
    #[error("the prompt takes {tokens} tokens; the model's context holds {context}")]
    PromptTooLong {
        /// Prompt tokens.
        tokens: usize,
        /// The model's context length.
        context: usize,
    },
    /// The remote endpoint could not be reached (refused, DNS, timeout).
    #[error("the generation endpoint {url} is unreachable: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The remote endpoint refused the API key (401/403).
    #[error("the generation endpoint {url} rejected the API key (HTTP {status}); check generation.api_key_env / generation.api_key_file")]
    Rejected {
        /// The URL.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// The remote endpoint answered an error status (after retries for 429/5xx).
    #[error("the generation endpoint {url} answered HTTP {status}: {body}")]
    Remote {
        /// The URL.
        url: String,
        /// Its status.
        status: u16,
        /// The start of its body.
        body: String,
    },
    /// The remote endpoint answered something that is not an OpenAI chat completion.
    #[error("the generation endpoint {url} sent an unreadable answer: {problem}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        problem: String,
    },
    /// The API key file could not be read.
    #[error("{path}: cannot read the API key")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
}

impl GenerateError {
    /// The stable code callers branch on.
    pub fn code(&self) -> Code {
        match self {
            Self::ModelMissing { .. } => Code::ModelMissing,
            Self::ModelInvalid { .. } => Code::ModelCorrupt,
            Self::PromptTooLong { .. } => Code::InvalidInput,
            Self::Unreachable { .. }
            | Self::Rejected { .. }
            | Self::Remote { .. }
            | Self::Protocol { .. } => Code::GeneratorUnavailable,
            Self::Model(_) | Self::Tokenizer(_) | Self::Template(_) | Self::KeyFile { .. } => {
                Code::Internal
            }
        }
    }
}
