//! User feedback on results, appended to the knowledge base's `feedback.jsonl` (owner-only, 0600) and
//! synced to disk before the call returns. Fields are bounded — it holds what users typed, so it must
//! not grow without limit — and records older than the retention period are dropped.

use crate::cipher::Keyring;
use crate::error::{EngineError, Result};
use crate::sealed_log::LogKind;
use serde::{Deserialize, Serialize};
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Longest query kept, in characters.
pub const MAX_QUERY_CHARS: usize = 4096;
/// Longest comment kept, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Longest search request id, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// 422 naming the first field out of its bounds.
pub(crate) fn check(feedback: &Feedback) -> Result<()> {
    let too_long = |field: &str, n: usize, max: usize| {
        Err(EngineError::Invalid(format!(
            "`{field}` is {n} characters; at most {max} are kept"
        )))
    };
    if nova_core::is_blank(&feedback.query) {
        return Err(EngineError::Invalid("`query` must not be empty".into()));
    }
    let n = feedback.query.chars().count();
    if n > MAX_QUERY_CHARS {
        return too_long("query", n, MAX_QUERY_CHARS);
    }
    if let Some(n) = feedback.comment.as_ref().map(|c| c.chars().count()) {
        if n > MAX_COMMENT_CHARS {
            return too_long("comment", n, MAX_COMMENT_CHARS);
        }
    }
    if let Some(id) = &feedback.request_id {
        let ok = !id.is_empty()
            && id.len() <= MAX_REQUEST_ID_LEN
            && id.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(EngineError::Invalid(format!(
                "`search_request_id` must be 1–{MAX_REQUEST_ID_LEN} visible ASCII characters"
            )));
        }
    }
    Ok(())
}

/// Feedback's query and comment are what users typed; appends wait for the disk.
const KIND: LogKind = LogKind {
    typed_by_user: |key| key == "query" || key == "comment",
    context: "feedback",
    durable: true,
};

/// Every record of `path`, oldest first, its sealed fields opened.
pub(crate) fn read(path: &Path, keyring: Option<&Keyring>) -> Result<Vec<Feedback>> {
    crate::sealed_log::read(path, keyring, &KIND)
}

/// Re-seals every record under the keyring's current key; returns how many.
pub(crate) fn rekey(path: &Path, keyring: &Keyring) -> Result<usize> {
    crate::sealed_log::rekey::<Feedback>(path, keyring, &KIND)
}

/// Appends one record, synced; the caller serialises appenders so lines stay whole.
pub(crate) fn append(path: &Path, feedback: &Feedback, keyring: Option<&Keyring>) -> Result<()> {
    crate::sealed_log::append(path, feedback, keyring, &KIND)
}
