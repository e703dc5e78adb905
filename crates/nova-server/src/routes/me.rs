//! `GET /v1/me`: who the credential belongs to and what it may do — what a client (the web console)
//! needs to show only the pages a caller's role allows. The server still checks every request.

use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

/// The route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/me", get(me))
}

/// One role and what it covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantOut {
    /// `reader`, `editor`, `admin` or `metrics`.
    pub role: String,
    /// Knowledge bases it covers; absent = all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kbs: Option<Vec<String>>,
}

/// `GET /v1/me` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallerOut {
    /// The key's name, or the token's subject.
    pub subject: String,
    /// Roles.
    pub grants: Vec<GrantOut>,
    /// Groups, for document permissions.
    pub groups: Vec<String>,
}

/// The caller: subject, roles and groups (any valid credential; nothing is looked up).
#[utoipa::path(get, path = "/v1/me", tag = "keys",
    responses((status = 200, description = "Success", body = CallerOut),
        (status = 401, description = "No valid key", body = ErrorBody)))]
pub async fn me(Caller(ctx): Caller) -> Result<Json<CallerOut>, ApiError> {
    let p = ctx.principal;
    Ok(Json(CallerOut {
        subject: p.subject,
        grants: p
            .grants
            .into_iter()
            .map(|g| GrantOut {
                role: g.role.as_str().to_owned(),
                kbs: g
                    .kbs
                    .map(|kbs| kbs.iter().map(|k| k.as_str().to_owned()).collect()),
            })
            .collect(),
        groups: p.groups,
    }))
}
