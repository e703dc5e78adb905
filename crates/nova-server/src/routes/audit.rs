//! `GET /v1/audit`: the audit trail's records, for administrators of every knowledge base (the engine
//! checks, and records the reading itself).

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{query, Caller, Ready};
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery};
use axum::routing::get;
use axum::{Json, Router};
use nova_core::KbName;
use nova_engine::nova_audit::{self, Record};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Largest `after` (2^53 - 1).
const MAX_SEQ: u64 = 9_007_199_254_740_991;

/// Most records one page returns.
const MAX_PAGE: usize = 1000;

/// The audit route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/audit", get(list_audit))
}

/// Which records.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// From this day (`YYYY-MM-DD`, UTC) or RFC 3339 time, inclusive.
    #[param(schema_with = day_or_time)]
    pub since: Option<String>,
    /// Up to this day (whole day included) or RFC 3339 time (excluded).
    #[param(schema_with = day_or_time)]
    pub until: Option<String>,
    /// Only this subject (key name, OIDC `sub`, `local-admin`).
    #[param(min_length = 1)]
    pub subject: Option<String>,
    /// Only this knowledge base.
    pub kb: Option<String>,
    /// Only this action or family (`document` matches `document.delete`).
    #[param(min_length = 1)]
    pub action: Option<String>,
    /// Only records after this sequence number (the previous page's `next_after`).
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub after: Option<u64>,
    /// Records per page [default: 100].
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// A day (`date`) or a time (`date-time`), as `since` and `until` take.
fn day_or_time() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    let string = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    OneOfBuilder::new()
        .item(string(KnownFormat::Date))
        .item(string(KnownFormat::DateTime))
        .build()
        .into()
}

/// One stored record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    /// Position in the trail, from 1, without gaps.
    pub seq: u64,
    /// When (RFC 3339, UTC).
    pub ts: String,
    /// Who.
    pub subject: String,
    /// What (`search`, `document.delete`, `key.create`…).
    pub action: String,
    /// Which knowledge base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kb: Option<String>,
    /// The request's id.
    pub request_id: String,
    /// SHA-256 of the query text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_sha256: Option<String>,
    /// The query text (only with `audit.query_text`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Documents returned, written or deleted.
    pub doc_ids: Vec<String>,
    /// Counts, names, task ids.
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
    /// The previous record's hash.
    pub prev: String,
    /// This record's seal (`nova audit verify` checks it).
    pub hash: String,
}

impl From<Record> for AuditRecord {
    fn from(r: Record) -> Self {
        Self {
            seq: r.seq,
            ts: r.ts,
            subject: r.event.subject,
            action: r.event.action,
            kb: r.event.kb,
            request_id: r.event.request_id,
            query_sha256: r.event.query_sha256,
            query: r.event.query,
            doc_ids: r.event.doc_ids,
            detail: r.event.detail,
            prev: r.prev,
            hash: r.hash,
        }
    }
}

/// One page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Oldest first.
    pub records: Vec<AuditRecord>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// Audit records, oldest first, a page at a time (administrators of every KB; the reading is recorded).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, description = "Success", body = AuditPage),
        (status = 422, description = "Invalid input; the message names the parameter", body = ErrorBody),
        (status = 503, description = "The audit trail cannot be written (`audit_unavailable`)", body = ErrorBody)))]
pub async fn list_audit(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    RawQuery(raw): RawQuery,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    // `until=` would reach us as "absent"; a bound the client wrote but left empty is a mistake to name.
    if let Some(name) = raw
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_suffix('='))
    {
        return Err(ApiError::invalid(format!(
            "`{}` is empty: leave the parameter out for no bound",
            nova_core::excerpt(name)
        )));
    }
    let p = query(params)?;
    // Sequence numbers stay below 2^53, the largest count a JSON client holds exactly.
    if let Some(after) = p.after.filter(|a| *a > MAX_SEQ) {
        return Err(ApiError::invalid(format!(
            "`after` is {after}; at most {MAX_SEQ}"
        )));
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "`limit` must be 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    let time = |name: &str, v: Option<String>, parse: fn(&str) -> nova_audit::Result<_>| {
        v.map(|v| parse(&v).map_err(|e| ApiError::invalid(format!("`{name}`: {e}"))))
            .transpose()
    };
    let query = nova_audit::Query {
        since: time("since", p.since, nova_audit::Query::parse_since)?,
        until: time("until", p.until, nova_audit::Query::parse_until)?,
        subject: p.subject,
        kb: p
            .kb
            .map(|k| KbName::parse(&k).map(|k| k.to_string()))
            .transpose()?,
        action: p.action,
        after_seq: p.after,
        limit: Some(limit),
    };
    let records = blocking(move || engine.audit_records(&ctx, &query)).await?;
    let next_after = (records.len() == limit)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    Ok(Json(AuditPage {
        records: records.into_iter().map(AuditRecord::from).collect(),
        next_after,
    }))
}
