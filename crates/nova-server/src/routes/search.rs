//! Search and troubleshoot.

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{kb_name, ApiJson, Caller, Ready};
use crate::state::{AppState, Limits};
use crate::validate::{at_most, bounded, filters, query_text};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use nova_engine::{
    Condition, DocHit, Mode, SearchOptions, TroubleshootOptions, TroubleshootReport,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;
use utoipa::ToSchema;

/// The search routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/kbs/{kb}/search", post(search))
        .route("/v1/kbs/{kb}/troubleshoot", post(troubleshoot))
}

/// `POST /v1/kbs/{kb}/search` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// What the user is looking for, in their own words.
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub query: String,
    /// `hybrid` (default), `dense` or `bm25`.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Documents to return (1–100, default 10).
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub k: Option<usize>,
    /// Payload filters, all required, e.g. `{"kind": "ticket", "tags": "vpn"}`.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// Expand the BM25 query with the words of its best passages before fusing (pseudo-relevance
    /// feedback, RM3): it helps questions phrased unlike the documents on some collections and hurts
    /// on others (README: Evaluation); one more index read and BM25 search, a few milliseconds.
    #[serde(default)]
    pub prf: bool,
}

/// `POST /v1/kbs/{kb}/search` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// Mode used.
    pub mode: Mode,
    /// Server time for the search, embedding included, in milliseconds.
    pub took_ms: f64,
    /// The index version that answered (`nova index list`).
    pub index_version: u32,
    /// The A/B arm the caller is on (`control` or `candidate`), while a test runs on this KB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm: Option<nova_engine::Arm>,
    /// Documents, best first, each with its best passage and why it matched.
    pub results: Vec<DocHit>,
}

impl SearchRequest {
    fn options(&self, limits: &Limits) -> Result<SearchOptions, ApiError> {
        query_text("query", &self.query, limits.max_query_chars)?;
        Ok(SearchOptions {
            mode: self.mode.unwrap_or(Mode::Hybrid),
            k: bounded("k", self.k, 10, limits.max_k)?,
            filter: filters(&self.filters, limits.max_filters)?,
            prf: self.prf,
            ..SearchOptions::default()
        })
    }
}

/// Search a knowledge base (hybrid BM25 + dense by default).
#[utoipa::path(post, path = "/v1/kbs/{kb}/search", tag = "search",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = SearchRequest,
    responses((status = 200, description = "Success", body = SearchResponse), (status = 404, description = "Knowledge base, document or route not found", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody),
        (status = 429, description = "Overloaded: too many queries wait for the model; retry after `Retry-After` seconds", body = ErrorBody), (status = 503, description = "Not ready: the model is loading", body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(req): ApiJson<SearchRequest>,
) -> Result<Json<SearchResponse>, ApiError> {
    let kb = kb_name(&kb)?;
    let opts = req.options(state.limits())?;
    let mode = opts.mode;
    let started = Instant::now();
    let name = kb.to_string();
    let searched = blocking(move || engine.search_traced(&ctx, &kb, &req.query, &opts)).await?;
    let secs = started.elapsed().as_secs_f64();
    let results = searched.hits;
    state.metrics().search(mode.as_str(), secs, results.len());
    if let Some(arm) = searched.arm {
        state.metrics().ab_search(&name, arm.as_str(), secs);
    }
    Ok(Json(SearchResponse {
        mode,
        took_ms: secs * 1000.0,
        index_version: searched.version,
        arm: searched.arm,
        results,
    }))
}

/// `POST /v1/kbs/{kb}/troubleshoot` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TroubleshootRequest {
    /// The problem, as the user or the ticket describes it.
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub problem: String,
    /// Only documents whose `product` field is this.
    #[serde(default)]
    pub product: Option<String>,
    /// Only documents whose `version` field is this.
    #[serde(default)]
    pub version: Option<String>,
    /// Only documents carrying all these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Other payload filters, all required.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// Passages to return (1–20, default 5).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub passages: Option<usize>,
    /// Similar tickets to return (0–20, default 3).
    #[schema(minimum = 0, maximum = 20)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub tickets: Option<usize>,
}

impl TroubleshootRequest {
    fn options(&self, limits: &Limits) -> Result<TroubleshootOptions, ApiError> {
        query_text("problem", &self.problem, limits.max_query_chars)?;
        // Tags are filters too, bounded like them (each list on its own, as the contract states).
        at_most("tags", self.tags.len(), limits.max_filters)?;
        let mut filter = filters(&self.filters, limits.max_filters)?;
        for (field, value) in [("product", &self.product), ("version", &self.version)] {
            if let Some(v) = value {
                filter = filter.and(Condition::eq(field, v.as_str()));
            }
        }
        for t in &self.tags {
            filter = filter.and(Condition::eq("tags", t.as_str()));
        }
        let tickets = match self.tickets {
            Some(0) => 0,
            other => bounded("tickets", other, 3, 20)?,
        };
        Ok(TroubleshootOptions {
            passages: bounded("passages", self.passages, 5, 20)?,
            tickets,
            filter,
            ..TroubleshootOptions::default()
        })
    }
}

/// Troubleshoot a problem: best passages, similar resolved tickets and suggested steps with citations.
#[utoipa::path(post, path = "/v1/kbs/{kb}/troubleshoot", tag = "search",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = TroubleshootRequest,
    responses((status = 200, description = "Success", body = TroubleshootReport), (status = 404, description = "Knowledge base, document or route not found", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody),
        (status = 429, description = "Overloaded: too many queries wait for the model; retry after `Retry-After` seconds", body = ErrorBody), (status = 503, description = "Not ready: the model is loading", body = ErrorBody)))]
pub async fn troubleshoot(
    State(state): State<AppState>,
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(req): ApiJson<TroubleshootRequest>,
) -> Result<Json<TroubleshootReport>, ApiError> {
    let kb = kb_name(&kb)?;
    let opts = req.options(state.limits())?;
    let started = Instant::now();
    let report = blocking(move || engine.troubleshoot(&ctx, &kb, &req.problem, &opts)).await?;
    state.metrics().search(
        "troubleshoot",
        started.elapsed().as_secs_f64(),
        report.passages.len() + report.similar_tickets.len(),
    );
    Ok(Json(report))
}
