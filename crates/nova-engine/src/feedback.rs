//! User feedback on results, appended to the knowledge base's `feedback.jsonl` (owner-only, 0600) and
//! synced to disk before the call returns. Fields are bounded — it holds what users typed, so it must
//! not grow without limit — and records older than the retention period are dropped.

use crate::cipher::{open_fields, Keyring};
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

/// Drops records older than `cutoff` (Unix seconds). Lines are in time order, so only the first one is
/// read unless something is due; then the rest is rewritten atomically.
pub(crate) fn prune(path: &Path, cutoff: u64) -> Result<usize> {
    use std::io::BufRead;
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(0); // nothing recorded yet
    };
    /// Only the time: a sealed line has no readable query.
    #[derive(Deserialize)]
    struct At {
        #[serde(default)]
        at: u64,
    }
    let at = |line: &str| serde_json::from_str::<At>(line).map_or(u64::MAX, |f| f.at);
    let mut lines = std::io::BufReader::new(file).lines();
    match lines.next() {
        Some(Ok(first)) if at(&first) < cutoff => {}
        _ => return Ok(0),
    }
    let text = fs_err::read_to_string(path).map_err(|source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let kept: Vec<&str> = text.lines().filter(|l| at(l) >= cutoff).collect();
    let removed = text.lines().count() - kept.len();
    let mut body = kept.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    crate::files::write_bytes_atomic(path, body.as_bytes())?;
    tracing::info!(path = %path.display(), removed, "feedback past its retention removed");
    Ok(removed)
}

/// What users typed: sealed under encryption at rest.
fn typed_by_user(key: &str) -> bool {
    key == "query" || key == "comment"
}

/// Sealed lines are bound to this context.
const CONTEXT: &str = "feedback";

/// One record as its line (without the newline), the user's text sealed when a keyring is given.
fn line_of(path: &Path, feedback: &Feedback, keyring: Option<&Keyring>) -> Result<Vec<u8>> {
    let json = |source| EngineError::Json {
        path: path.to_path_buf(),
        source,
    };
    let mut map = match serde_json::to_value(feedback).map_err(json)? {
        serde_json::Value::Object(map) => map,
        _ => return Err(EngineError::Internal("feedback is not an object".into())),
    };
    if let Some(k) = keyring {
        k.seal_fields(&mut map, typed_by_user, CONTEXT)?;
    }
    serde_json::to_vec(&map).map_err(json)
}

/// Every record of `path`, oldest first, its sealed fields opened (none when nothing was recorded).
pub(crate) fn read(path: &Path, keyring: Option<&Keyring>) -> Result<Vec<Feedback>> {
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(EngineError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let json = |source| EngineError::Json {
        path: path.to_path_buf(),
        source,
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).map_err(json)?;
            open_fields(keyring, &mut map, CONTEXT)?;
            serde_json::from_value(serde_json::Value::Object(map)).map_err(json)
        })
        .collect()
}

/// Re-seals every record of `path` under the keyring's current key (`nova kb rekey`); plain records are
/// sealed too. Returns how many records were written.
pub(crate) fn rekey(path: &Path, keyring: &Keyring) -> Result<usize> {
    let records = read(path, Some(keyring))?;
    if records.is_empty() && !path.exists() {
        return Ok(0);
    }
    let mut body = Vec::new();
    for record in &records {
        body.extend(line_of(path, record, Some(keyring))?);
        body.push(b'\n');
    }
    crate::files::write_bytes_atomic(path, &body)?;
    Ok(records.len())
}

/// Appends one line to `path`; the caller serialises appenders so lines stay whole.
pub(crate) fn append(path: &Path, feedback: &Feedback, keyring: Option<&Keyring>) -> Result<()> {
    let io = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut line = line_of(path, feedback, keyring)?;
    line.push(b'\n');
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(&line).map_err(io)?;
    file.sync_data().map_err(io)
}
