//! API keys: create (the secret is shown once), list (never a secret), revoke. Administrators of every
//! knowledge base only — the engine checks.

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, Caller, Ready};
use crate::state::AppState;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use nova_engine::{KbName, KeyInfo, KeySpec, Role};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

/// The key routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/keys", get(list_keys).post(create_key))
        .route("/v1/keys/{name}", delete(revoke_key))
}

/// `POST /v1/keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Unique name: letters, digits, `-`, `_`.
    pub name: String,
    /// `reader`, `editor`, `admin` or `metrics`.
    pub role: String,
    /// Knowledge bases the role covers [default: all].
    #[serde(default)]
    pub kbs: Vec<String>,
    /// Groups, for document permissions.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Days until the key expires [default: never].
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub expires_in_days: Option<u64>,
    /// Request rate, e.g. `600/min` [default: the role's, else unlimited].
    #[serde(default)]
    pub rate: Option<String>,
    /// Requests per UTC day [default: the role's, else unlimited].
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub daily_quota: Option<u64>,
}

/// A key without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    /// Public id (the part after `nova_`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Knowledge bases it covers (empty: all).
    pub kbs: Vec<String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds, when it expires.
    pub expires_at: Option<u64>,
    /// Unix seconds, when it was revoked.
    pub revoked_at: Option<u64>,
}

impl From<KeyInfo> for KeyOut {
    fn from(k: KeyInfo) -> Self {
        Self {
            id: k.id,
            name: k.name,
            role: k.role.as_str().to_owned(),
            kbs: k.kbs.iter().map(ToString::to_string).collect(),
            groups: k.groups,
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new key: the secret is in this answer and nowhere else.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// Send as `Authorization: Bearer <key>`.
    pub key: String,
    /// Its metadata.
    pub info: KeyOut,
}

/// `GET /v1/keys` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Every key, oldest first.
    pub keys: Vec<KeyOut>,
}

impl CreateKey {
    fn spec(self) -> Result<KeySpec, ApiError> {
        let role: Role = self.role.parse().map_err(ApiError::invalid)?;
        let kbs = self
            .kbs
            .iter()
            .map(|k| KbName::parse(k))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeySpec {
            name: self.name,
            role,
            kbs,
            groups: self.groups,
            expires_in: self
                .expires_in_days
                .map(|d| Duration::from_secs(d.saturating_mul(86_400))),
            rate: self
                .rate
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e: String| ApiError::invalid(format!("`rate`: {e}")))?,
            daily_quota: self.daily_quota,
        })
    }
}

/// Create an API key (admin of every KB).
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, description = "Created; the secret is shown once", body = CreatedKey),
        (status = 401, description = "No valid key", body = ErrorBody), (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "A key by that name exists", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn create_key(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let spec = body.spec()?;
    let new = blocking(move || engine.create_key(&ctx, &spec)).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: new.secret,
            info: new.info.into(),
        }),
    ))
}

/// List API keys, never their secrets (admin of every KB).
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, description = "Success", body = KeyList),
        (status = 401, description = "No valid key", body = ErrorBody), (status = 403, description = "Not an administrator", body = ErrorBody)))]
pub async fn list_keys(
    Ready(engine): Ready,
    Caller(ctx): Caller,
) -> Result<Json<KeyList>, ApiError> {
    let keys = blocking(move || engine.list_keys(&ctx)).await?;
    Ok(Json(KeyList {
        keys: keys.into_iter().map(KeyOut::from).collect(),
    }))
}

/// Revoke an API key; refused from the next request on (admin of every KB).
#[utoipa::path(delete, path = "/v1/keys/{name}", tag = "keys",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 200, description = "Revoked", body = KeyOut),
        (status = 401, description = "No valid key", body = ErrorBody), (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No key by that name", body = ErrorBody)))]
pub async fn revoke_key(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(name): Path<String>,
) -> Result<Json<KeyOut>, ApiError> {
    let info = blocking(move || engine.revoke_key(&ctx, &name)).await?;
    Ok(Json(info.into()))
}
