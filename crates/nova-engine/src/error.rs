//! The engine's error type. Every variant keeps the error it came from as its `source`, and says its
//! stable [`Code`].

use nova_core::Code;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Embedding failed.
    #[error(transparent)]
    Embed(#[from] nova_embed::EmbedError),
    /// Writing an answer failed (the chat model, or the endpoint behind it).
    #[error(transparent)]
    Generate(#[from] nova_generate::GenerateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] nova_store::StoreError),
    /// Training or using a ticket router failed.
    #[error(transparent)]
    Classify(#[from] nova_classify::ClassifyError),
    /// A knowledge base name, document id or label field is malformed.
    #[error(transparent)]
    Name(#[from] nova_core::NameError),
    /// The audit trail could not be written (the action was not carried out) or read.
    #[error(transparent)]
    Audit(#[from] nova_audit::AuditError),
    /// The experiment-tracking store failed, or has no such run.
    #[error(transparent)]
    Track(#[from] nova_track::TrackError),
    /// A `[redaction.patterns]` entry is not a valid regular expression.
    #[error(transparent)]
    Pattern(#[from] nova_ingest::PatternError),
    /// A credential was refused or the key store failed.
    #[error(transparent)]
    Auth(#[from] nova_auth::AuthError),
    /// The caller lacks the role or knowledge-base grant the action needs.
    #[error(transparent)]
    Forbidden(#[from] nova_core::Denied),
    /// No router has been trained for this knowledge base and label.
    #[error("no ticket router for `{label}` in knowledge base `{kb}`; train one with `nova tickets train --kb {kb} --label {label}`")]
    RouterNotFound {
        /// Knowledge base.
        kb: String,
        /// Label field.
        label: String,
    },
    /// No knowledge base by that name.
    #[error("knowledge base `{0}` not found")]
    KbNotFound(String),
    /// Another process has the knowledge base open (its lock file names it).
    #[error("knowledge base `{kb}` is open in another process ({holder}); stop it, or while `nova serve` runs add documents through its API (POST /v1/kbs/{kb}/documents)")]
    KbBusy {
        /// The KB.
        kb: String,
        /// Who holds it, as the holder wrote in the lock file.
        holder: String,
    },
    /// No such document (or not one the caller can see).
    #[error("document `{}` not found", nova_core::excerpt(.0))]
    DocumentNotFound(String),
    /// A field is out of its bounds; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// An ingest stopped because its task was canceled.
    #[error("canceled on request")]
    Canceled,
    /// A task's record was to be removed while it is still queued or running.
    #[error(
        "task {0} has not finished; cancel it first (POST /v1/tasks/{0}/cancel), then delete it"
    )]
    TaskRunning(u64),
    /// A knowledge base by that name already exists.
    #[error("knowledge base `{0}` already exists")]
    KbExists(String),
    /// The same document id twice in one ingest call.
    #[error("document id `{0}` appears more than once in the same request")]
    DuplicateDocument(String),
    /// A caller's filter names a field that only the engine may filter on.
    #[error(
        "filters may not name `{0}`: document permissions are applied from the caller's groups"
    )]
    ReservedFilterField(String),
    /// The work needs the embedding model and none could be loaded.
    #[error("the embedding model is not loaded")]
    NoModel,
    /// A stored payload does not have the shape the engine writes (a corrupt or foreign store).
    #[error("stored chunk payload is malformed")]
    Payload(#[source] serde_json::Error),
    /// A file the engine reads or writes itself (metadata, feedback, eval inputs).
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file the engine reads or writes itself.
    #[error("{path}: invalid JSON")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// An evaluation dataset is malformed.
    #[error("{path}: {problem}")]
    Dataset {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong, with the line when there is one.
        problem: String,
    },
    /// Encryption at rest is misconfigured (a key file missing or malformed) or sealed data did not open.
    #[error("{0}")]
    Encryption(String),
    /// Data sealed under a key the keyring does not hold.
    #[error("data is sealed under encryption key {found} but the configured key is {configured}: a wrong key file? (a rotated-out key goes in encryption.previous_key_files until `nova kb rekey` has run)")]
    WrongKey {
        /// The key id the data names.
        found: String,
        /// The current key's id.
        configured: String,
    },
    /// The data folder has less free space than a write is allowed to start with.
    #[error("the data folder has {} MiB free, below data.min_free_mb = {} MiB: nothing was written; free space (or lower the floor), then retry", crate::disk::mib(*.available), crate::disk::mib(*.floor))]
    DiskFull {
        /// Bytes free.
        available: u64,
        /// The configured floor in bytes.
        floor: u64,
    },
    /// A bug or a crashed worker thread; details are in the message and the log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The stable code callers branch on.
    pub fn code(&self) -> Code {
        match self {
            Self::Embed(e) => e.code(),
            Self::Generate(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Classify(e) => e.code(),
            Self::Name(e) => e.code(),
            Self::Forbidden(_) => Code::Forbidden,
            Self::Auth(e) => e.code(),
            Self::Audit(e) => e.code(),
            Self::Track(nova_track::TrackError::NoSuchRun(_)) => Code::NotFound,
            Self::Track(nova_track::TrackError::Io { source, .. }) => Code::of_io(source),
            Self::Track(_) => Code::Io,
            Self::Pattern(_) => Code::InvalidInput,
            Self::DuplicateDocument(_) | Self::ReservedFilterField(_) | Self::Dataset { .. } => {
                Code::InvalidInput
            }
            Self::RouterNotFound { .. } => Code::RouterNotFound,
            Self::KbNotFound(_) => Code::KbNotFound,
            Self::KbExists(_) => Code::KbExists,
            Self::KbBusy { .. } => Code::KbBusy,
            Self::Canceled => Code::Canceled,
            Self::TaskRunning(_) => Code::TaskRunning,
            Self::DocumentNotFound(_) => Code::DocumentNotFound,
            Self::Invalid(_) => Code::InvalidInput,
            Self::NoModel => Code::NotReady,
            Self::DiskFull { .. } => Code::InsufficientStorage,
            Self::Io { source, .. } => Code::of_io(source),
            Self::Json { .. } => Code::Io,
            Self::Encryption(_) | Self::WrongKey { .. } => Code::EncryptionKey,
            Self::Payload(_) | Self::Internal(_) => Code::Internal,
        }
    }
}
