//! Experiment tracking for KB Nova: every evaluation and every router training or evaluation is a *run* —
//! its parameters (model and its weights' hash, chunking, fusion, dataset and its hash, …), metrics,
//! tags (machine, binary version) and full JSON report — kept in a local SQLite store under the data
//! folder ([`RunStore`]), compared run against run ([`compare`]), and optionally sent to an MLflow
//! tracking server over its REST API ([`mlflow::Mlflow`]).

mod compare;
pub mod mlflow;
mod store;

pub use compare::{compare, Comparison, Delta, ParamChange};
pub use store::{NewRun, Run, RunStore, RunSummary};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// The SQLite store.
    #[error("tracking store {path}: {source}")]
    Store {
        /// Its file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// Creating the store's folder.
    #[error("tracking store {path}: {source}")]
    Io {
        /// The folder.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No run with that id.
    #[error("no run {0} in the tracking store (`nova runs list` shows them)")]
    NoSuchRun(String),
    /// The MLflow server refused or could not be reached.
    #[error("MLflow at {url}: {message}")]
    Mlflow {
        /// The server.
        url: String,
        /// What happened.
        message: String,
    },
    /// A report that does not serialise.
    #[error("run report: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result with [`TrackError`].
pub type Result<T> = std::result::Result<T, TrackError>;
