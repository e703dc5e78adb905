//! Extractors that answer in the API's error format: JSON bodies whose problems name the field, path
//! parameters, the caller, and the engine (503 until the model is loaded).

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use nova_core::Code;
use nova_engine::{Engine, KbName, Principal, RequestCtx};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// `Json<T>` with our error body: 400 for malformed JSON, 413 when too large, 415 without a JSON
/// content type, 422 naming the field for wrong or missing fields and unknown ones.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_error(&rejection)),
        }
    }
}

fn json_error(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // serde's message names the field path (e.g. "k: invalid type ...").
            let detail =
                std::error::Error::source(e).map_or_else(|| e.body_text(), |s| s.to_string());
            ApiError::invalid(format!("invalid request body: {detail}"))
        }
        JsonRejection::JsonSyntaxError(e) => {
            let detail =
                std::error::Error::source(e).map_or_else(|| e.body_text(), |s| s.to_string());
            ApiError::new(Code::MalformedJson, format!("malformed JSON: {detail}"))
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            Code::UnsupportedMediaType,
            "expected a body with `Content-Type: application/json`",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            Code::PayloadTooLarge,
            "request body is larger than the server's limit (server.body_limit_mb)",
        ),
        other => ApiError::invalid(other.body_text()),
    }
}

/// The engine, or 503 `not_ready` while the model is still loading.
pub struct Ready(pub Arc<Engine>);

impl FromRequestParts<AppState> for Ready {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        state.engine().map(Self).ok_or_else(|| {
            ApiError::new(
                Code::NotReady,
                "the service is starting: the embedding model is still loading",
            )
        })
    }
}

/// Who is calling, for the engine: the principal the authentication layer verified (never anything
/// the client merely claims) and the request id.
pub struct Caller(pub RequestCtx);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // Set by `auth::authenticate` on every route that needs a caller.
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(crate::auth::unauthenticated)?;
        let mut ctx = RequestCtx::new(principal, request_id);
        // The A/B unit: a client that sends one session id per user keeps each user on one arm. Only a
        // short printable token is taken; anything else is ignored (the caller is the unit then).
        ctx.session = parts
            .headers
            .get("x-session-id")
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic()))
            .map(str::to_owned);
        Ok(Self(ctx))
    }
}

/// A query string's parameters, or 422 `invalid_input` with axum's account of what is wrong (the
/// handler takes `Result<Query<T>, QueryRejection>` so it decides when this check runs).
pub(crate) fn query<T>(
    params: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    params
        .map(|axum::extract::Query(p)| p)
        .map_err(|e| ApiError::invalid(e.body_text()))
}

/// A knowledge base name from the path, checked once (422 naming it when malformed).
pub(crate) fn kb_name(raw: &str) -> Result<KbName, ApiError> {
    Ok(KbName::parse(raw)?)
}
