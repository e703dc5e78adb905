//! Authentication middleware: every request except the health probes and the API description must
//! carry a valid credential; the verified principal rides in the request's extensions for the
//! [`Caller`](crate::extract::Caller) extractor. What the principal may do is the engine's decision;
//! only `/metrics`, which serves this process's own registry, is checked here.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nova_core::{Code, Role};

/// Routes anyone may call: liveness and readiness probes and the API's own description.
fn is_open(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/openapi.json")
}

/// The 401 every refused credential gets: one answer, whatever the reason (logged, not told).
pub(crate) fn unauthenticated() -> ApiError {
    ApiError::new(
        Code::Unauthenticated,
        "a valid API key is required: send `Authorization: Bearer <key>` (an admin creates keys with `nova keys create`)",
    )
}

/// Verifies the caller and records it for the handlers.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if is_open(&path) {
        return next.run(req).await;
    }
    let security = state.security();
    if path == "/metrics" && security.public_metrics {
        return next.run(req).await;
    }
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = match security.authenticator.authenticate(header) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(reason = %e, "credential refused");
            return unauthenticated().into_response();
        }
    };
    if path == "/metrics" {
        if let Err(denied) = principal.require(Role::Metrics, None) {
            return ApiError::new(Code::Forbidden, denied.to_string()).into_response();
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}
