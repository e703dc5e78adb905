//! The store's error type.

use nova_core::Code;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Creating or reading the store's folder failed.
    #[error("store folder {path}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// Opening or creating the shard on disk failed.
    #[error("opening store at {path}")]
    Open {
        /// Shard folder.
        path: PathBuf,
        /// What the shard reported (boxed: qdrant's error is large and errors travel far).
        #[source]
        source: Box<qdrant_edge::OperationError>,
    },
    /// No store exists for that knowledge base.
    #[error("no store at {0}")]
    Missing(PathBuf),
    /// A vector has the wrong number of dimensions.
    #[error("vector has {got} dimensions, the store expects {expected}")]
    Dimension {
        /// Configured dimension.
        expected: usize,
        /// Received dimension.
        got: usize,
    },
    /// A payload key cannot be used in a filter or selector.
    #[error("`{0}` is not a valid payload field name")]
    FieldName(String),
    /// A condition mixes keyword and integer values.
    #[error("filter on `{0}` mixes keyword and integer values")]
    MixedValues(String),
    /// A setting of the store is unusable (a bad URL, no nodes).
    #[error("{0}")]
    Config(String),
    /// The knowledge base has no collection in the cluster.
    #[error("no collection `{0}` in the Qdrant cluster")]
    MissingCollection(String),
    /// Every attempt to reach the cluster failed.
    #[error("the Qdrant cluster did not answer the {operation} after {attempts} attempts (nodes: {urls})")]
    Unreachable {
        /// What was attempted.
        operation: &'static str,
        /// The nodes tried.
        urls: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: Box<qdrant_client::QdrantError>,
    },
    /// The cluster refused an operation.
    #[error("Qdrant cluster: {operation} failed")]
    Cluster {
        /// What was attempted.
        operation: &'static str,
        /// What the cluster reported.
        #[source]
        source: Box<qdrant_client::QdrantError>,
    },
    /// This backend cannot do that.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The underlying shard rejected an operation.
    #[error("store {operation} failed")]
    Operation {
        /// What was attempted (upsert, delete, search …).
        operation: &'static str,
        /// What the shard reported (boxed, as above).
        #[source]
        source: Box<qdrant_edge::OperationError>,
    },
}

impl StoreError {
    /// The stable code callers branch on.
    pub fn code(&self) -> Code {
        match self {
            Self::Dimension { .. }
            | Self::FieldName(_)
            | Self::MixedValues(_)
            | Self::Unsupported(_) => Code::InvalidInput,
            Self::Unreachable { .. } => Code::StoreUnavailable,
            // Dropped through another process sharing the cluster: gone here too.
            Self::MissingCollection(_) => Code::KbNotFound,
            Self::Cluster { source, .. } if names_a_missing_collection(source) => Code::KbNotFound,
            Self::Folder { source, .. } => Code::of_io(source),
            // The shard reports file-system failures as text only.
            Self::Open { source, .. } | Self::Operation { source, .. }
                if Code::names_storage_full(&source.to_string()) =>
            {
                Code::InsufficientStorage
            }
            Self::Missing(_)
            | Self::Config(_)
            | Self::Cluster { .. }
            | Self::Open { .. }
            | Self::Operation { .. } => Code::Internal,
        }
    }
}

/// The cluster answered that the collection does not exist.
pub(crate) fn names_a_missing_collection(error: &qdrant_client::QdrantError) -> bool {
    matches!(error, qdrant_client::QdrantError::ResponseError { status }
        if status.code() == tonic::Code::NotFound)
}
