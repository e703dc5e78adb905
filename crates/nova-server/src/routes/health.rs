//! Liveness, readiness and Prometheus metrics.

use super::blocking;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use nova_engine::RequestCtx;
use serde::Serialize;
use utoipa::ToSchema;

/// The health routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// Readiness answer: each check and the verdict.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`; `degraded` (still `200`) when searches work but writes are refused (the data folder is
    /// full, below `data.min_free_mb` or read-only); `not_ready` (`503`) while the model loads or a store
    /// does not open.
    pub status: &'static str,
    /// The embedding model is loaded.
    pub model_loaded: bool,
    /// Every knowledge base opens and answers a count.
    pub store_open: bool,
    /// The data folder accepts writes and has at least `data.min_free_mb` free.
    pub disk_writable: bool,
    /// Knowledge bases another process has open (e.g. a `nova ingest`): answered `503 kb_busy` until it
    /// finishes; the service stays ready for the others.
    pub busy_kbs: Vec<String>,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()), responses((status = 200, description = "Success", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Ready to serve: model loaded, stores open (503 otherwise). A data folder that takes no writes (full,
/// below `data.min_free_mb`, read-only) answers `200` with `degraded`: searches still work, so the
/// replica stays in rotation while writes get `507`. The store and disk checks run at most every 5 s;
/// calls in between get the last answer.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "Success", body = Readiness), (status = 503, description = "Not ready: the model is loading", body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let health = match state.engine() {
        None => None,
        Some(engine) => blocking(move || Ok(engine.health())).await.ok(),
    };
    let model_loaded = state.engine().is_some();
    let (store_open, disk_writable, busy_kbs) = health.map_or((false, false, Vec::new()), |h| {
        (h.store_open, h.disk_writable, h.busy_kbs)
    });
    let ready = model_loaded && store_open;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: match (ready, disk_writable) {
            (false, _) => "not_ready",
            (true, false) => "degraded",
            (true, true) => "ready",
        },
        model_loaded,
        store_open,
        disk_writable,
        busy_kbs,
    };
    (status, Json(body))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus exposition format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Some(engine) = state.engine() {
        let (hits, misses) = engine.cache_stats();
        state.metrics().set_cache(hits, misses);
        if let Ok(kbs) = blocking(move || engine.list(&RequestCtx::internal("metrics"))).await {
            state.metrics().set_kbs(&kbs);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(),
    )
}
