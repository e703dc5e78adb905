//! User feedback on results, appended to the knowledge base's `feedback.jsonl` and synced to disk
//! before the call returns.

use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// A user's verdict on a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// The result was useful.
    Helpful,
    /// The result was not useful.
    NotHelpful,
    /// Following the result fixed the problem.
    Resolved,
}

/// One feedback record, appended to `<kb>/feedback.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feedback {
    /// The query or problem the result answered.
    pub query: String,
    /// The document rated.
    pub doc_id: String,
    /// The verdict.
    pub rating: Rating,
    /// Free text from the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Request that produced the result, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Unix seconds when it was recorded (set by the engine).
    #[serde(default)]
    pub at: u64,
}

/// Appends one line to `path`; the caller serialises appenders so lines stay whole.
pub(crate) fn append(path: &Path, feedback: &Feedback) -> Result<()> {
    let io = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut line = serde_json::to_vec(feedback).map_err(|source| EngineError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    line.push(b'\n');
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.write_all(&line).map_err(io)?;
    file.sync_data().map_err(io)
}
