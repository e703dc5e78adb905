//! Feedback on results: stored per knowledge base for analytics and A/B comparisons.

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{kb_name, query, ApiJson, Caller, Ready};
use crate::state::AppState;
use crate::validate::{bounded, non_empty};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use nova_engine::{Feedback, Rating};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The feedback route.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/kbs/{kb}/feedback",
        post(record_feedback).get(list_feedback),
    )
}

/// `GET /v1/kbs/{kb}/feedback` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedbackQuery {
    /// Most records, newest first (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// `GET /v1/kbs/{kb}/feedback` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackList {
    /// Records, newest first.
    pub feedback: Vec<Feedback>,
}

/// Feedback received on a knowledge base's results, newest first, about the documents the caller can see
/// (editors and administrators of the KB: the records hold what users typed).
#[utoipa::path(get, path = "/v1/kbs/{kb}/feedback", tag = "feedback",
    params(("kb" = String, Path, description = "Knowledge base name"), FeedbackQuery),
    responses((status = 200, description = "Success", body = FeedbackList),
        (status = 401, description = "No valid key", body = ErrorBody), (status = 403, description = "Not an editor of the knowledge base", body = ErrorBody),
        (status = 404, description = "Knowledge base not found", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn list_feedback(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    params: Result<Query<FeedbackQuery>, QueryRejection>,
) -> Result<Json<FeedbackList>, ApiError> {
    let kb = kb_name(&kb)?;
    let q = query(params)?;
    let limit = bounded("limit", q.limit, 100, 1000)?;
    let feedback = blocking(move || engine.feedback_records(&ctx, &kb, limit)).await?;
    Ok(Json(FeedbackList { feedback }))
}

/// `POST /v1/kbs/{kb}/feedback` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackIn {
    /// The query or problem the result answered.
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub query: String,
    /// The document rated.
    pub doc_id: String,
    /// `helpful`, `not_helpful` or `resolved`.
    pub rating: Rating,
    /// Optional free text.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
    /// The `x-request-id` of the search that produced the result, if the client kept it.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128, pattern = r"^[!-~]+$")]
    pub search_request_id: Option<String>,
}

/// Acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackRecorded {
    /// Always true: the record is on disk.
    pub recorded: bool,
}

/// Record whether a result helped.
#[utoipa::path(post, path = "/v1/kbs/{kb}/feedback", tag = "feedback",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = FeedbackIn,
    responses((status = 201, description = "Created", body = FeedbackRecorded), (status = 404, description = "Knowledge base not found, or `doc_id` names no document the caller can see (`document_not_found`)", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn record_feedback(
    State(state): State<AppState>,
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(body): ApiJson<FeedbackIn>,
) -> Result<(StatusCode, Json<FeedbackRecorded>), ApiError> {
    let kb = kb_name(&kb)?;
    // The engine bounds `query` and the rest; an empty id gets this clearer message first.
    non_empty("doc_id", &body.doc_id)?;
    // Without the search's own id, the engine records this request's.
    let feedback = Feedback {
        query: body.query,
        doc_id: body.doc_id,
        rating: body.rating,
        comment: body.comment,
        request_id: body.search_request_id,
        at: 0,
    };
    let rating = body.rating;
    let name = kb.to_string();
    let arm = blocking(move || engine.feedback(&ctx, &kb, feedback)).await?;
    if let Some(arm) = arm {
        state.metrics().ab_rating(&name, arm.as_str(), rating);
    }
    Ok((
        StatusCode::CREATED,
        Json(FeedbackRecorded { recorded: true }),
    ))
}
