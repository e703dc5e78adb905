//! The one API error type. Handlers return `ApiError`; the `render_errors` middleware turns it into
//! `{"error":{"code","message","request_id"}}` with the request's id, so every error body carries it.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nova_core::Code;
use nova_engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error for the caller: a stable code and a message that names the problem.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Stable machine-readable code.
    pub code: Code,
    /// Human-readable explanation.
    pub message: String,
}

/// The JSON error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `kb_not_found`.
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// The request's id (also in the `x-request-id` response header).
    pub request_id: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A 422 naming the offending field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidInput, message)
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }
}

/// The one mapping from codes to HTTP statuses.
pub fn status_of(code: Code) -> StatusCode {
    match code {
        Code::InvalidInput | Code::NotEnoughData => StatusCode::UNPROCESSABLE_ENTITY,
        Code::MalformedJson | Code::BadRequest => StatusCode::BAD_REQUEST,
        Code::UriTooLong => StatusCode::URI_TOO_LONG,
        Code::KbNotFound | Code::DocumentNotFound | Code::RouterNotFound | Code::NotFound => {
            StatusCode::NOT_FOUND
        }
        Code::KbExists | Code::KeyExists => StatusCode::CONFLICT,
        Code::KeyNotFound | Code::TaskNotFound | Code::ModelNotFound => StatusCode::NOT_FOUND,
        Code::Canceled | Code::TaskRunning => StatusCode::CONFLICT,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Forbidden | Code::OriginNotAllowed => StatusCode::FORBIDDEN,
        Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Code::NotReady | Code::KbBusy | Code::AuditUnavailable | Code::StoreUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Code::Timeout => StatusCode::REQUEST_TIMEOUT,
        Code::Overloaded | Code::RateLimited | Code::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
        Code::GeneratorUnavailable => StatusCode::BAD_GATEWAY,
        Code::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
        Code::ModelMissing
        | Code::ModelCorrupt
        | Code::Io
        | Code::EncryptionKey
        | Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = e.code();
        if code == Code::InsufficientStorage && !matches!(e, EngineError::DiskFull { .. }) {
            // A write the file system refused: the caller learns that and what to do; the path and the
            // OS error go to the log.
            tracing::error!(code = %code, "{}", chain_of(&e));
            return Self::new(
                code,
                "the data folder is full or read-only, so nothing was written; free space (or make it \
                 writable), then retry",
            );
        }
        if status_of(code).is_server_error() {
            // The full chain is for the log (written once by `render_errors`), not for the client.
            return Self::new(code, chain_of(&e));
        }
        Self::new(code, e.to_string())
    }
}

/// `e` and every error under it, `: `-joined.
fn chain_of(e: &EngineError) -> String {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(&format!(": {s}"));
        source = s.source();
    }
    chain
}

impl From<nova_core::NameError> for ApiError {
    fn from(e: nova_core::NameError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Longest message a client gets, in bytes: messages quote input, and input can be large.
const MAX_MESSAGE_BYTES: usize = 1024;

/// `message` cut at [`MAX_MESSAGE_BYTES`] (on a character boundary), saying so.
fn bounded_message(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("… (message shortened)");
    }
    message
}

/// The code for an error response that a layer below produced without an `ApiError` (an extractor's
/// plain-text rejection, an empty 4xx).
fn code_of_status(status: StatusCode) -> Code {
    match status {
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => Code::Timeout,
        StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
        StatusCode::URI_TOO_LONG => Code::UriTooLong,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => Code::InvalidInput,
        StatusCode::TOO_MANY_REQUESTS => Code::Overloaded,
        StatusCode::SERVICE_UNAVAILABLE => Code::NotReady,
        StatusCode::INSUFFICIENT_STORAGE => Code::InsufficientStorage,
        s if s.is_server_error() => Code::Internal,
        _ => Code::BadRequest,
    }
}

/// An error response without our JSON body, turned into an `ApiError` carrying its text.
async fn adopt_bare_error(response: Response) -> (StatusCode, ApiError, Response) {
    let status = response.status();
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_MESSAGE_BYTES * 4)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned()
    } else {
        text
    };
    let rest = Response::from_parts(parts, axum::body::Body::empty());
    (status, ApiError::new(code_of_status(status), message), rest)
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Writes the body of every `ApiError` response with the request id, and logs server errors once. Error
/// responses from below that carry no `ApiError` (extractor rejections in plain text, empty 4xx) get the
/// same JSON body, so a client parses one format.
pub async fn render_errors(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut response = next.run(request).await;
    let (status, error, response) = match response.extensions_mut().remove::<ApiError>() {
        Some(error) => (error.status(), error, response),
        None if response.status().as_u16() >= 400 && !is_json(&response) => {
            adopt_bare_error(response).await
        }
        None => return response,
    };
    let code = error.code;
    let message = if code == Code::GeneratorUnavailable {
        // The upstream's failure (address, status, its bounded reply) is what the operator needs to
        // act on, and it never holds the key: keys travel only in the request header.
        tracing::warn!(code = %error.code, request_id, "{}", error.message);
        bounded_message(error.message)
    } else if code == Code::AuditUnavailable {
        // The client learns why nothing happened; the path and the OS error stay in the log.
        tracing::error!(code = %error.code, request_id, "{}", error.message);
        "the audit trail cannot be written, so the action was not carried out; the server log has the details under this request id".to_owned()
    } else if code == Code::InsufficientStorage {
        // Written for the caller (free space, the setting): no path, no OS detail.
        tracing::warn!(code = %error.code, request_id, "{}", error.message);
        bounded_message(error.message)
    } else if status.is_server_error() {
        tracing::error!(code = %error.code, request_id, "{}", error.message);
        "internal error; the server log has the details under this request id".to_owned()
    } else {
        bounded_message(error.message)
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.as_str().to_owned(),
            message,
            request_id: request_id.clone(),
        },
    };
    let mut rendered = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        rendered.headers_mut().insert("x-request-id", v);
    }
    // Headers the error's producer set (`allow`, `retry-after`, rate-limit state) stay; the body's own
    // headers are the rendered ones.
    for (name, value) in response.headers() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if code == Code::Unauthenticated {
        rendered
            .headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
    }
    if code == Code::Overloaded || code == Code::KbBusy {
        // The queue drains in milliseconds; a second is a polite, coarse retry hint.
        rendered
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
    }
    rendered
}

/// Unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such route; see /docs for the API")
}

/// A panic in a handler becomes a 500 with the request id (set by `render_errors`).
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::new(Code::Internal, format!("handler panicked: {what}")).into_response()
}
