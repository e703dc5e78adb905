//! Machine-readable error codes: snake_case, stable once released, never renamed.

use serde::Serialize;
use std::fmt;

/// A stable error code that every library error maps to; the HTTP layer and the CLI translate it
/// into a status or an exit code, so callers can branch on it without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// A model file is absent from the model folder.
    ModelMissing,
    /// A model file exists but cannot be parsed or has the wrong shape.
    ModelCorrupt,
    /// The caller's input is malformed (bad JSON, missing field, wrong type).
    InvalidInput,
    /// Reading or writing a file failed.
    Io,
    /// The request body is not valid JSON.
    MalformedJson,
    /// No knowledge base by that name.
    KbNotFound,
    /// A knowledge base by that name already exists.
    KbExists,
    /// No document by that id in the knowledge base.
    DocumentNotFound,
    /// No trained ticket router for that knowledge base and label (`nova tickets train` makes one).
    RouterNotFound,
    /// Too few labelled examples (or classes) to train on.
    NotEnoughData,
    /// No such route.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The request body is larger than the server accepts.
    PayloadTooLarge,
    /// The request body's content type is not one the route accepts.
    UnsupportedMediaType,
    /// The service is starting (model loading) or shutting down.
    NotReady,
    /// The request took longer than the server allows.
    Timeout,
    /// An API key by that name already exists.
    KeyExists,
    /// No API key by that name.
    KeyNotFound,
    /// No valid credentials were presented.
    Unauthenticated,
    /// The caller lacks the role or knowledge-base grant the action needs.
    Forbidden,
    /// The caller sent more requests than its rate allows; retry after `Retry-After`.
    RateLimited,
    /// The caller's daily request quota is used up.
    QuotaExceeded,
    /// The service is at capacity (a full queue); retry after the `Retry-After` delay.
    Overloaded,
    /// A browser request from a site not in `server.cors_origins`, or a `Host` not in
    /// `server.allowed_hosts`.
    OriginNotAllowed,
    /// No ingest task with that id (or not one the caller may see).
    TaskNotFound,
    /// The operation was canceled on request.
    Canceled,
    /// The ingest task has not finished, so its record cannot be removed yet (cancel it first).
    TaskRunning,
    /// The knowledge base is open in another process (e.g. `nova ingest` while `nova serve` runs).
    KbBusy,
    /// A request the HTTP layer could not take apart (bad percent-encoding, a malformed header or query
    /// string).
    BadRequest,
    /// A request target longer than `server.max_uri_bytes`.
    UriTooLong,
    /// `model` in an OpenAI-compatible request names no `kb:<name>` the caller may read.
    ModelNotFound,
    /// The configured answer model (an OpenAI-compatible endpoint) is down, refused the key or answered
    /// an error.
    GeneratorUnavailable,
    /// The audit trail cannot be written, so the action was not carried out (audited deployments fail
    /// closed: nothing happens that the trail does not record).
    AuditUnavailable,
    /// Stored data is sealed under an encryption key that is not configured, or did not open (a wrong
    /// key, or altered data); nothing is returned rather than garbage.
    EncryptionKey,
    /// A write could not be made durable: the data folder is full (or below `data.min_free_mb`), out of
    /// quota, or read-only. Nothing was acknowledged; reads keep working; retry once space is freed.
    InsufficientStorage,
    /// The store (a Qdrant cluster) did not answer after the configured retries; retry later.
    StoreUnavailable,
    /// Anything unexpected; details go to the log, not the caller.
    Internal,
}

impl Code {
    /// The wire form, e.g. `model_missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ModelMissing => "model_missing",
            Self::ModelCorrupt => "model_corrupt",
            Self::InvalidInput => "invalid_input",
            Self::Io => "io",
            Self::MalformedJson => "malformed_json",
            Self::KbNotFound => "kb_not_found",
            Self::KbExists => "kb_exists",
            Self::DocumentNotFound => "document_not_found",
            Self::RouterNotFound => "router_not_found",
            Self::NotEnoughData => "not_enough_data",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NotReady => "not_ready",
            Self::Timeout => "timeout",
            Self::Overloaded => "overloaded",
            Self::RateLimited => "rate_limited",
            Self::QuotaExceeded => "quota_exceeded",
            Self::Unauthenticated => "unauthenticated",
            Self::KeyExists => "key_exists",
            Self::KeyNotFound => "key_not_found",
            Self::Forbidden => "forbidden",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::BadRequest => "bad_request",
            Self::KbBusy => "kb_busy",
            Self::TaskNotFound => "task_not_found",
            Self::Canceled => "canceled",
            Self::TaskRunning => "task_running",
            Self::UriTooLong => "uri_too_long",
            Self::GeneratorUnavailable => "generator_unavailable",
            Self::ModelNotFound => "model_not_found",
            Self::AuditUnavailable => "audit_unavailable",
            Self::EncryptionKey => "encryption_key",
            Self::InsufficientStorage => "insufficient_storage",
            Self::StoreUnavailable => "store_unavailable",
            Self::Internal => "internal",
        }
    }
}

impl Code {
    /// The code for a failed file-system call: a full, over-quota or read-only file system is
    /// [`Code::InsufficientStorage`] (the caller can do something about it), anything else [`Code::Io`].
    pub fn of_io(e: &std::io::Error) -> Self {
        use std::io::ErrorKind::{QuotaExceeded, ReadOnlyFilesystem, StorageFull};
        if matches!(e.kind(), StorageFull | ReadOnlyFilesystem | QuotaExceeded) {
            Self::InsufficientStorage
        } else {
            Self::Io
        }
    }

    /// Whether an error's text reports a full, over-quota or read-only file system. For libraries that
    /// hand file-system failures on as text only (the embedded store's service errors), where
    /// [`Code::of_io`] has no `io::Error` to look at: Rust's `io::Error` text ends in `(os error N)`.
    pub fn names_storage_full(message: &str) -> bool {
        // ENOSPC, EROFS, EDQUOT on Linux.
        ["(os error 28)", "(os error 30)", "(os error 122)"]
            .iter()
            .any(|m| message.contains(m))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_full_or_read_only_disk_is_insufficient_storage_and_other_failures_are_io() {
        for errno in [28, 30, 122] {
            let e = Error::from_raw_os_error(errno);
            assert_eq!(Code::of_io(&e), Code::InsufficientStorage, "{e}");
            assert!(Code::names_storage_full(&format!("flushing: {e}")), "{e}");
        }
        let e = Error::new(ErrorKind::PermissionDenied, "no");
        assert_eq!(Code::of_io(&e), Code::Io);
        assert!(!Code::names_storage_full(
            &Error::from_raw_os_error(2).to_string()
        ));
        assert_eq!(Code::InsufficientStorage.as_str(), "insufficient_storage");
    }
}
