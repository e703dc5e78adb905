//! Routes, one module per resource; each exposes `routes()`. Handlers extract, call one engine
//! function on a blocking thread, and map the result.

pub mod analytics;
pub mod answer;
pub mod audit;
pub mod chat;
pub mod documents;
pub mod embeddings;
pub mod feedback;
pub mod health;
pub mod kbs;
pub mod keys;
pub mod me;
pub mod search;
pub mod tasks;
pub mod tickets;
pub mod versions;

use crate::error::ApiError;
use nova_core::Code;
use nova_engine::EngineError;

/// Runs blocking engine work (inference, disk) off the async runtime, keeping the request's span.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| ApiError::new(Code::Internal, format!("worker thread failed: {e}")))?
        .map_err(ApiError::from)
}
