//! Knowledge bases: list, create, show, delete.

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{kb_name, ApiJson, Caller, Ready};
use crate::state::AppState;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use nova_engine::KbInfo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The knowledge-base routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/kbs", get(list_kbs).post(create_kb))
        .route("/v1/kbs/{kb}", get(get_kb).delete(delete_kb))
        .route("/v1/kbs/{kb}/snapshot", get(snapshot_kb))
}

/// `GET /v1/kbs` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct KbList {
    /// Every knowledge base with its size.
    pub kbs: Vec<KbInfo>,
}

/// `POST /v1/kbs` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKb {
    /// Letters, digits, `-` and `_`; at most 64 characters.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub name: String,
    /// Replace personal data (e-mails, phones, cards, SSNs, IBANs, IPs) with placeholders in everything
    /// ingested into this KB, whatever the server's `[redaction]` says [default: false].
    #[serde(default)]
    pub redact_pii: bool,
}

/// List knowledge bases.
#[utoipa::path(get, path = "/v1/kbs", tag = "knowledge bases",
    responses((status = 200, description = "Success", body = KbList), (status = 503, description = "Not ready: the model is loading", body = ErrorBody)))]
pub async fn list_kbs(Ready(engine): Ready, Caller(ctx): Caller) -> Result<Json<KbList>, ApiError> {
    let kbs = blocking(move || engine.list(&ctx)).await?;
    Ok(Json(KbList { kbs }))
}

/// Create an empty knowledge base.
#[utoipa::path(post, path = "/v1/kbs", tag = "knowledge bases", request_body = CreateKb,
    responses((status = 201, description = "Created", body = KbInfo), (status = 409, description = "Already exists", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn create_kb(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    ApiJson(body): ApiJson<CreateKb>,
) -> Result<(StatusCode, Json<KbInfo>), ApiError> {
    let kb = kb_name(&body.name)?;
    let opts = nova_engine::KbOptions {
        redact_pii: body.redact_pii,
    };
    let info = blocking(move || engine.create_with(&ctx, &kb, opts)).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// One knowledge base's size.
#[utoipa::path(get, path = "/v1/kbs/{kb}", tag = "knowledge bases",
    params(("kb" = String, Path, description = "Knowledge base name")),
    responses((status = 200, description = "Success", body = KbInfo), (status = 404, description = "Knowledge base, document or route not found", body = ErrorBody)))]
pub async fn get_kb(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
) -> Result<Json<KbInfo>, ApiError> {
    let kb = kb_name(&kb)?;
    Ok(Json(blocking(move || engine.info(&ctx, &kb)).await?))
}

/// A snapshot archive: gzip'd tar, as `nova kb snapshot` writes it.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct SnapshotArchive(pub Vec<u8>);

/// A consistent snapshot of a knowledge base while the server keeps serving (administrators of the KB):
/// a gzip'd tar of its store, metadata, routers and feedback with a SHA-256 manifest, for `nova kb
/// restore FILE [--as NAME]`. Writes to the KB wait while it is copied; the archive is built before it is
/// sent (the store's preallocated files compress ~2,000×).
#[utoipa::path(get, path = "/v1/kbs/{kb}/snapshot", tag = "knowledge bases",
    params(("kb" = String, Path, description = "Knowledge base name")),
    responses(
        (status = 200, description = "The archive", content_type = "application/gzip", body = SnapshotArchive),
        (status = 403, description = "Not an administrator of this KB", body = ErrorBody),
        (status = 404, description = "Knowledge base, document or route not found", body = ErrorBody)))]
pub async fn snapshot_kb(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let kb = kb_name(&kb)?;
    let name = kb.to_string();
    let archive = blocking(move || {
        let mut out = Vec::new();
        engine
            .snapshot(&ctx, &kb, &mut out)
            .map(|_| SnapshotArchive(out))
    })
    .await?;
    let disposition = format!("attachment; filename=\"{name}.snapshot.tgz\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        archive.0,
    ))
}

/// Delete a knowledge base and all its documents.
#[utoipa::path(delete, path = "/v1/kbs/{kb}", tag = "knowledge bases",
    params(("kb" = String, Path, description = "Knowledge base name")),
    responses((status = 204, description = "Done, no body"), (status = 404, description = "Knowledge base, document or route not found", body = ErrorBody)))]
pub async fn delete_kb(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
) -> Result<StatusCode, ApiError> {
    let kb = kb_name(&kb)?;
    blocking(move || engine.drop_kb(&ctx, &kb)).await?;
    Ok(StatusCode::NO_CONTENT)
}
