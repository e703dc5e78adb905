//! Analytics: what a knowledge base answers badly.

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{kb_name, query, Caller, Ready};
use crate::state::AppState;
use crate::validate::bounded;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::routing::get;
use axum::{Json, Router};
use nova_engine::{DriftReport, Gap, GapOptions};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The analytics routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/kbs/{kb}/analytics/gaps", get(gaps))
        .route("/v1/kbs/{kb}/analytics/drift", get(drift))
}

/// `GET /v1/kbs/{kb}/analytics/gaps` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GapsQuery {
    /// Questions of the last this many days (1–3650, default 30).
    #[param(minimum = 1, maximum = 3650)]
    pub days: Option<usize>,
    /// A best passage whose cosine similarity is below this is a poor answer (0–1, default 0.35).
    #[param(minimum = 0.0, maximum = 1.0)]
    pub max_best: Option<f32>,
    /// How similar a question must be to a group to join it (0–1, default 0.7).
    #[param(minimum = 0.0, maximum = 1.0)]
    pub similarity: Option<f32>,
    /// Most groups (1–200, default 20).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
}

/// `GET /v1/kbs/{kb}/analytics/gaps` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct GapReport {
    /// Groups of similar questions answered badly, most asked first.
    pub gaps: Vec<Gap>,
}

fn fraction(field: &str, value: Option<f32>, default: f32) -> Result<f32, ApiError> {
    match value.unwrap_or(default) {
        v if (0.0..=1.0).contains(&v) => Ok(v),
        v => Err(ApiError::invalid(format!(
            "`{field}` must be between 0 and 1, got {v}"
        ))),
    }
}

/// Knowledge gaps: the questions this knowledge base answers badly — searches that found nothing or
/// whose best passage matched poorly, and results rated "not helpful" — grouped by meaning and ranked
/// by how often they were asked, with example questions: what to write next (editors and
/// administrators of the KB: the report quotes what users asked).
#[utoipa::path(get, path = "/v1/kbs/{kb}/analytics/gaps", tag = "feedback",
    params(("kb" = String, Path, description = "Knowledge base name"), GapsQuery),
    responses((status = 200, description = "Success", body = GapReport),
        (status = 401, description = "No valid key", body = ErrorBody), (status = 403, description = "Not an editor of the knowledge base", body = ErrorBody),
        (status = 404, description = "Knowledge base not found", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn gaps(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    params: Result<Query<GapsQuery>, QueryRejection>,
) -> Result<Json<GapReport>, ApiError> {
    let kb = kb_name(&kb)?;
    let q = query(params)?;
    let defaults = GapOptions::default();
    let opts = GapOptions {
        days: bounded("days", q.days, defaults.days as usize, 3650)? as u64,
        max_best: fraction("max_best", q.max_best, defaults.max_best)?,
        similarity: fraction("similarity", q.similarity, defaults.similarity)?,
        limit: bounded("limit", q.limit, defaults.limit, 200)?,
    };
    let gaps = blocking(move || engine.gaps(&ctx, &kb, &opts)).await?;
    Ok(Json(GapReport { gaps }))
}

/// Query drift: the recent query stream (the last `[drift] window` searches) against the reference
/// window — centroid shift of the query embeddings, low-score share, zero-result rate and BM25
/// out-of-vocabulary rate, each against its threshold (editors and administrators of the KB). The
/// reference is frozen from the first full window, or by `nova drift baseline`.
#[utoipa::path(get, path = "/v1/kbs/{kb}/analytics/drift", tag = "feedback",
    params(("kb" = String, Path, description = "Knowledge base name")),
    responses((status = 200, description = "Success", body = DriftReport),
        (status = 401, description = "No valid key", body = ErrorBody), (status = 403, description = "Not an editor of the knowledge base", body = ErrorBody),
        (status = 404, description = "Knowledge base not found", body = ErrorBody)))]
pub async fn drift(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
) -> Result<Json<DriftReport>, ApiError> {
    let kb = kb_name(&kb)?;
    Ok(Json(blocking(move || engine.drift(&ctx, &kb)).await?))
}
