//! Ticket routing and suggested solutions. The router is the KB's current trained version, reloaded
//! as soon as `nova tickets train` saves a new one.

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{kb_name, query, ApiJson, Caller, Ready};
use crate::validate::{bounded, filters};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use nova_engine::{
    Classification, LabelField, RouterDetails, SuggestOptions, Suggestion, TicketQuery,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

use crate::state::AppState;

/// The ticket routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/kbs/{kb}/tickets/classify", post(classify))
        .route("/v1/kbs/{kb}/tickets/suggest", post(suggest))
        .route("/v1/kbs/{kb}/tickets/router", get(router_details))
}

/// `GET /v1/kbs/{kb}/tickets/router` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RouterQuery {
    /// Ticket field the router predicts (default `category`).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub label: Option<String>,
}

/// The current ticket router for a label: version, algorithm, labels with their training counts, and
/// every method's cross-validated report with its confusion matrix (no weights, no training text).
#[utoipa::path(get, path = "/v1/kbs/{kb}/tickets/router", tag = "tickets",
    params(("kb" = String, Path, description = "Knowledge base name"), RouterQuery),
    responses((status = 200, description = "Success", body = RouterDetails),
        (status = 404, description = "Knowledge base or router not found (`router_not_found`: train one with `nova tickets train`)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the parameter", body = ErrorBody), (status = 503, description = "Not ready: the model is loading", body = ErrorBody)))]
pub async fn router_details(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    params: Result<Query<RouterQuery>, QueryRejection>,
) -> Result<Json<RouterDetails>, ApiError> {
    let kb = kb_name(&kb)?;
    let q = query(params)?;
    let label = label_of(q.label.as_deref())?;
    let model = blocking(move || engine.router(&ctx, &kb, &label)).await?;
    Ok(Json(RouterDetails::of(&model)))
}

/// A new ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    /// Subject line (may be empty).
    #[serde(default)]
    pub subject: String,
    /// Body; subject and body together must not be empty.
    #[serde(default)]
    pub body: String,
    /// Ticket field the router predicts (default `category`).
    #[serde(default)]
    pub label: Option<String>,
    /// "Needs human" below this confidence, 0–1 (default: the router's).
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub threshold: Option<f32>,
    /// Labels to return, best first (1–20, default 3).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub top: Option<usize>,
}

/// A new ticket to find solutions for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestRequest {
    /// Subject line (may be empty).
    #[serde(default)]
    pub subject: String,
    /// Body; subject and body together must not be empty.
    #[serde(default)]
    pub body: String,
    /// Ticket field to route by, when a router for it is trained (default `category`).
    #[serde(default)]
    pub label: Option<String>,
    /// Similar resolved tickets (1–20, default 3).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub tickets: Option<usize>,
    /// KB passages (1–20, default 3).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub passages: Option<usize>,
    /// Payload filters for both searches, all required.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
}

fn ticket_text_present(subject: &str, body: &str) -> Result<(), ApiError> {
    if nova_core::is_blank(subject) && nova_core::is_blank(body) {
        return Err(ApiError::invalid("`subject` and `body` are both empty"));
    }
    Ok(())
}

fn label_of(label: Option<&str>) -> Result<LabelField, ApiError> {
    Ok(LabelField::parse(label.unwrap_or("category"))?)
}

/// Route a new ticket: top labels with calibrated probabilities and whether it needs a human.
#[utoipa::path(post, path = "/v1/kbs/{kb}/tickets/classify", tag = "tickets",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = ClassifyRequest,
    responses((status = 200, description = "Success", body = Classification),
        (status = 404, description = "Knowledge base or router not found (`router_not_found`: train one with `nova tickets train`)", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody), (status = 503, description = "Not ready: the model is loading", body = ErrorBody)))]
pub async fn classify(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(req): ApiJson<ClassifyRequest>,
) -> Result<Json<Classification>, ApiError> {
    let kb = kb_name(&kb)?;
    ticket_text_present(&req.subject, &req.body)?;
    if let Some(t) = req.threshold.filter(|t| !(0.0..=1.0).contains(t)) {
        return Err(ApiError::invalid(format!(
            "`threshold` must be between 0 and 1, got {t}"
        )));
    }
    let ticket = TicketQuery {
        label: label_of(req.label.as_deref())?,
        top: bounded("top", req.top, 3, 20)?,
        threshold: req.threshold,
        subject: req.subject,
        body: req.body,
    };
    let c = blocking(move || engine.classify(&ctx, &kb, &ticket)).await?;
    Ok(Json(c))
}

/// Suggested solutions: the route (when a router is trained), similar resolved tickets with their
/// answers, the best KB passages and extracted steps with citations.
#[utoipa::path(post, path = "/v1/kbs/{kb}/tickets/suggest", tag = "tickets",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = SuggestRequest,
    responses((status = 200, description = "Success", body = Suggestion), (status = 404, description = "Knowledge base, document or route not found", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody),
        (status = 429, description = "Overloaded: too many queries wait for the model; retry after `Retry-After` seconds", body = ErrorBody), (status = 503, description = "Not ready: the model is loading", body = ErrorBody)))]
pub async fn suggest(
    State(state): State<AppState>,
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(req): ApiJson<SuggestRequest>,
) -> Result<Json<Suggestion>, ApiError> {
    let kb = kb_name(&kb)?;
    ticket_text_present(&req.subject, &req.body)?;
    let opts = SuggestOptions {
        tickets: bounded("tickets", req.tickets, 3, 20)?,
        passages: bounded("passages", req.passages, 3, 20)?,
        filter: filters(&req.filters, state.limits().max_filters)?,
        ..SuggestOptions::default()
    };
    let ticket = TicketQuery {
        label: label_of(req.label.as_deref())?,
        subject: req.subject,
        body: req.body,
        threshold: None,
        top: 3,
    };
    let s = blocking(move || engine.suggest(&ctx, &kb, &ticket, &opts)).await?;
    Ok(Json(s))
}
