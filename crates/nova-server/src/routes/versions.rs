//! Index versions and A/B tests: lineage, blue-green rebuilds behind the eval gate, switching and
//! rollback, experiments with their per-arm report. Policy (who may, what is locked) is the engine's.

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{kb_name, ApiJson, Caller, Ready};
use crate::state::AppState;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use nova_engine::{
    AbReport, AbSpec, BuildReport, BuildSpec, Experiment, Fusion, Guardrails, IndexVersion,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The version and experiment routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/kbs/{kb}/versions",
            get(list_versions).post(build_version),
        )
        .route("/v1/kbs/{kb}/versions/switch", post(switch_version))
        .route("/v1/kbs/{kb}/ab", get(ab_report).post(start_ab))
        .route("/v1/kbs/{kb}/ab/stop", post(stop_ab))
}

/// `GET /v1/kbs/{kb}/versions` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// The version answering searches.
    pub serving: u32,
    /// Every version, oldest first, with its lineage.
    pub versions: Vec<IndexVersion>,
}

/// Index versions of a knowledge base with their lineage: model and weights hash, chunking, BM25
/// length, fusion, source set, parent, the eval gate's verdict (editors of the KB).
#[utoipa::path(get, path = "/v1/kbs/{kb}/versions", tag = "index versions",
    params(("kb" = String, Path, description = "Knowledge base name")),
    responses((status = 200, description = "Success", body = VersionList),
        (status = 404, description = "Knowledge base not found", body = ErrorBody)))]
pub async fn list_versions(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
) -> Result<Json<VersionList>, ApiError> {
    let kb = kb_name(&kb)?;
    let list = blocking(move || {
        let versions = engine.versions(&ctx, &kb)?;
        let serving = engine.serving_version(&ctx, &kb)?;
        Ok(VersionList { serving, versions })
    })
    .await?;
    Ok(Json(list))
}

/// `POST /v1/kbs/{kb}/versions` body: what changes from the serving version (unset: kept).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildRequest {
    /// Words per chunk (8–2000).
    #[schema(minimum = 8, maximum = 2000)]
    pub chunk_words: Option<usize>,
    /// Words repeated between the pieces of a split paragraph (0–1000).
    #[schema(minimum = 0, maximum = 1000)]
    pub overlap_words: Option<usize>,
    /// Hybrid fusion by default: `rrf`, `rrf:K`, `convex:ALPHA`, `zscore:ALPHA`, `dbsf:ALPHA`,
    /// `adaptive:ALPHA:SLOPE:PIVOT[:BOOST:DEPTH[:BACKING]]`.
    pub fusion: Option<String>,
    /// How far below the serving version a golden-set metric may fall (0–1, default 0.01).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub threshold: Option<f64>,
    /// Keep serving the old version even if the new one passes.
    #[serde(default)]
    pub no_switch: bool,
    /// Why this version is built (kept in its lineage; at most 500 characters).
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

fn fusion(spec: Option<&str>) -> Result<Option<Fusion>, ApiError> {
    spec.map(|s| {
        s.parse()
            .map_err(|e: String| ApiError::invalid(format!("`fusion`: {e}")))
    })
    .transpose()
}

impl BuildRequest {
    /// The request's bounds (the contract's); the engine checks what a build needs of the result.
    fn spec(&self) -> Result<BuildSpec, ApiError> {
        if let Some(words) = self.chunk_words.filter(|w| !(8..=2000).contains(w)) {
            return Err(ApiError::invalid(format!(
                "`chunk_words` must be between 8 and 2000, got {words}"
            )));
        }
        if let Some(overlap) = self.overlap_words.filter(|o| *o > 1000) {
            return Err(ApiError::invalid(format!(
                "`overlap_words` must be at most 1000, got {overlap}"
            )));
        }
        if self.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
            return Err(ApiError::invalid("`note` is longer than 500 characters"));
        }
        Ok(BuildSpec {
            chunk_words: self.chunk_words,
            overlap_words: self.overlap_words,
            fusion: fusion(self.fusion.as_deref())?,
            threshold: self.threshold,
            no_switch: self.no_switch,
            note: self.note.clone(),
        })
    }
}

/// Build a new index version beside the serving one from the documents the KB holds, score both on
/// the KB's golden set (attached with `nova kb attach-eval`) and switch to it when no metric falls by
/// more than the threshold (administrators of the KB). Searches keep being answered by the serving
/// version meanwhile; ingests wait. A refused version is deleted and reported with `switched: false`
/// and the failing metrics. Large KBs can take longer than `server.request_timeout_secs`: the build
/// goes on and its record appears in `GET /v1/kbs/{kb}/versions`.
#[utoipa::path(post, path = "/v1/kbs/{kb}/versions", tag = "index versions",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = BuildRequest,
    responses((status = 200, description = "Built and gated (see `switched` and `version.gate`)", body = BuildReport),
        (status = 404, description = "Knowledge base not found", body = ErrorBody),
        (status = 422, description = "Invalid input, or no golden set attached; the message says which", body = ErrorBody)))]
pub async fn build_version(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(body): ApiJson<BuildRequest>,
) -> Result<Json<BuildReport>, ApiError> {
    let kb = kb_name(&kb)?;
    let spec = body.spec()?;
    let report = blocking(move || engine.build_version(&ctx, &kb, &spec, &|_| {})).await?;
    Ok(Json(report))
}

/// `POST /v1/kbs/{kb}/versions/switch` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchRequest {
    /// The version to serve; absent: the one that served before (rollback).
    pub to: Option<u32>,
}

/// `POST /v1/kbs/{kb}/versions/switch` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Switched {
    /// The version that served.
    pub from: u32,
    /// The version serving now.
    pub to: u32,
}

/// Switch the serving version at once: to `to`, or back to the previous one (rollback). Requests in
/// flight finish on the old version (administrators of the KB).
#[utoipa::path(post, path = "/v1/kbs/{kb}/versions/switch", tag = "index versions",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = SwitchRequest,
    responses((status = 200, description = "Switched", body = Switched),
        (status = 404, description = "Knowledge base not found", body = ErrorBody),
        (status = 422, description = "No such version, or its index is gone; the message says which", body = ErrorBody)))]
pub async fn switch_version(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(body): ApiJson<SwitchRequest>,
) -> Result<Json<Switched>, ApiError> {
    let kb = kb_name(&kb)?;
    let (from, to) = blocking(move || engine.switch_version(&ctx, &kb, body.to)).await?;
    Ok(Json(Switched { from, to }))
}

/// `POST /v1/kbs/{kb}/ab` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbRequest {
    /// The index version under test (built with `no_switch`, or the standby one).
    pub candidate: u32,
    /// Share of users sent to it, strictly between 0 and 1 (default 0.1).
    pub share: Option<f64>,
    /// Hybrid fusion of the candidate arm (to test a retrieval setting).
    pub fusion: Option<String>,
    /// When the candidate counts as worse [default: 200 searches and 50 ratings per arm, error
    /// margin 0.01, p95 latency margin 25 %, helpful margin 0.05, α = 0.01, a look every 50 events].
    pub guardrails: Option<Guardrails>,
}

/// Start an A/B test: a share of users (sticky per `X-Session-Id`, else per caller) search the
/// candidate version; searches, latencies, errors and ratings are counted per arm and the candidate is
/// rolled back automatically when a guardrail test finds it worse (administrators of the KB).
#[utoipa::path(post, path = "/v1/kbs/{kb}/ab", tag = "index versions",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = AbRequest,
    responses((status = 201, description = "Started", body = Experiment),
        (status = 404, description = "Knowledge base not found", body = ErrorBody),
        (status = 422, description = "Invalid input, no such version, or a test already runs", body = ErrorBody)))]
pub async fn start_ab(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(body): ApiJson<AbRequest>,
) -> Result<(StatusCode, Json<Experiment>), ApiError> {
    let kb = kb_name(&kb)?;
    let spec = AbSpec {
        candidate: body.candidate,
        share: body.share.unwrap_or(0.1),
        fusion: fusion(body.fusion.as_deref())?,
        guardrails: body.guardrails.unwrap_or_default(),
    };
    let exp = blocking(move || engine.start_experiment(&ctx, &kb, &spec)).await?;
    Ok((StatusCode::CREATED, Json(exp)))
}

/// The A/B test's figures per arm (searches, error rate and latency percentiles, ratings and helpful
/// rate with 95 % Wilson intervals) and each guardrail's test (editors of the KB).
#[utoipa::path(get, path = "/v1/kbs/{kb}/ab", tag = "index versions",
    params(("kb" = String, Path, description = "Knowledge base name")),
    responses((status = 200, description = "Success", body = AbReport),
        (status = 404, description = "Knowledge base not found", body = ErrorBody),
        (status = 422, description = "The KB has had no A/B test", body = ErrorBody)))]
pub async fn ab_report(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
) -> Result<Json<AbReport>, ApiError> {
    let kb = kb_name(&kb)?;
    Ok(Json(blocking(move || engine.ab_report(&ctx, &kb)).await?))
}

/// `POST /v1/kbs/{kb}/ab/stop` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    /// Make the candidate the serving version.
    #[serde(default)]
    pub promote: bool,
}

/// End the A/B test; with `promote` the candidate becomes the serving version (administrators).
#[utoipa::path(post, path = "/v1/kbs/{kb}/ab/stop", tag = "index versions",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = StopRequest,
    responses((status = 200, description = "Stopped", body = Experiment),
        (status = 404, description = "Knowledge base not found", body = ErrorBody),
        (status = 422, description = "The KB has no A/B test", body = ErrorBody)))]
pub async fn stop_ab(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(body): ApiJson<StopRequest>,
) -> Result<Json<Experiment>, ApiError> {
    let kb = kb_name(&kb)?;
    Ok(Json(
        blocking(move || engine.stop_experiment(&ctx, &kb, body.promote)).await?,
    ))
}
