//! Documents: add (JSON or multipart file upload), read back, delete. A write is answered only after
//! it is durable in the store.

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{kb_name, query, ApiJson, Caller, Ready};
use crate::state::AppState;
use crate::validate::non_empty;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use nova_core::Code;
use nova_engine::{AccessQuestion, DocId, DocumentAccess, StoredDocument, TaskInfo, TaskSkip};
use nova_ingest::{read_bytes, Document, ReadOptions, Skip};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;

/// The document routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/kbs/{kb}/documents", post(add_documents))
        .route(
            "/v1/kbs/{kb}/documents/{id}",
            get(get_document).delete(delete_document),
        )
        .route("/v1/kbs/{kb}/documents/{id}/access", get(document_access))
}

/// One document in a JSON upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// Stable id; re-sending the same id replaces the document (a no-op when unchanged).
    pub id: String,
    /// Title [default: none].
    #[serde(default)]
    pub title: String,
    /// Body; Markdown headings and blank-line paragraphs guide chunking.
    #[schema(min_length = 1, pattern = r"\S")]
    pub text: String,
    /// `article` (default) or `ticket`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Source path or URL shown in results [default: the id].
    #[serde(default)]
    pub source: Option<String>,
    /// Filterable labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Groups allowed to see the document.
    #[serde(default)]
    pub acl: Vec<String>,
    /// Other metadata (product, version, category, answer…), filterable by name.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// JSON upload body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentsIn {
    /// Documents to add or replace.
    #[schema(min_items = 1)]
    pub documents: Vec<DocumentIn>,
}

/// `POST …/documents` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubmitParams {
    /// Wait for the task to finish (at most the request timeout less two seconds) and answer 200 with its
    /// final status; when it is still running then, 202 as without it.
    #[serde(default)]
    pub wait: bool,
}

impl DocumentIn {
    fn into_document(self, i: usize) -> Result<Document, ApiError> {
        let at = |field: &str| format!("documents[{i}].{field}");
        if DocId::parse(&self.id).is_err() {
            return Err(ApiError::invalid(format!(
                "`{}` must be 1–{} characters without control characters",
                at("id"),
                DocId::MAX_LEN
            )));
        }
        non_empty(&at("text"), &self.text)?;
        let source = self.source.unwrap_or_else(|| self.id.clone());
        let mut doc = Document::new(self.id, self.title, source, self.text);
        if let Some(kind) = self.kind {
            doc.kind = kind;
        }
        doc.tags = self.tags;
        doc.acl = self.acl;
        doc.fields = self.metadata;
        Ok(doc)
    }
}

/// A multipart upload, for the OpenAPI document (the handler reads the parts as they stream in).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the body; never constructed
pub struct UploadForm {
    /// The files, one part each (a part named `file` is read the same, as in `curl -F file=@runbook.md`).
    /// A part's file name is its document id and its extension the format (`.md`, `.markdown`, `.txt`,
    /// `.html`, `.htm`, `.pdf`, `.jsonl`, `.csv`); files of other types are reported as skipped.
    #[schema(value_type = Vec<String>, format = Binary, min_items = 1)]
    files: Vec<Vec<u8>>,
}

/// Add or replace documents: a JSON body `{"documents": [...]}`, or a multipart upload of files
/// (Markdown, text, HTML, PDF, JSONL, CSV; the file name is the document id). The input is checked and
/// written to disk, then ingested by a task: the answer is `202` with the task (poll `Location`, i.e.
/// `GET /v1/tasks/{id}`), or with `?wait=true` `200` with the finished task.
#[utoipa::path(post, path = "/v1/kbs/{kb}/documents", tag = "documents",
    params(("kb" = String, Path, description = "Knowledge base name"), SubmitParams),
    request_body(content((DocumentsIn = "application/json"), (UploadForm = "multipart/form-data"))),
    responses((status = 200, description = "Finished (with `?wait=true`): the task's final status; also at once, as a `failed` task listing every file in `skipped`, when no uploaded file could be read", body = TaskInfo),
        (status = 202, description = "Queued: the task, also at the `Location` header", body = TaskInfo,
            headers(("location" = String, description = "`/v1/tasks/{id}`"))),
        (status = 404, description = "Knowledge base, document or route not found", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Not JSON or multipart", body = ErrorBody), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn add_documents(
    State(state): State<AppState>,
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    params: Result<Query<SubmitParams>, QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let kb = kb_name(&kb)?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (docs, skipped) = if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::invalid(format!("multipart body: {}", e.body_text())))?;
        let files = receive_files(multipart).await?;
        // Parsing PDF and HTML is CPU work: off the async runtime.
        tokio::task::spawn_blocking(move || parse_files(files))
            .await
            .map_err(|e| ApiError::new(Code::Internal, format!("parser thread failed: {e}")))?
    } else {
        let ApiJson(body) = ApiJson::<DocumentsIn>::from_request(request, &state).await?;
        if body.documents.is_empty() {
            return Err(ApiError::invalid("`documents` must not be empty"));
        }
        let docs = body
            .documents
            .into_iter()
            .enumerate()
            .map(|(i, d)| d.into_document(i))
            .collect::<Result<Vec<_>, _>>()?;
        (docs, Vec::new())
    };
    let skipped = skipped
        .into_iter()
        .map(|s| TaskSkip {
            source: s.source,
            reason: s.reason,
        })
        .collect();
    let wait = state
        .limits()
        .request_timeout
        .saturating_sub(Duration::from_secs(2));
    let task = blocking(move || {
        let task = engine.submit_ingest(&ctx, &kb, &docs, skipped)?;
        if !params.wait {
            return Ok(task);
        }
        Ok(engine.wait_task(&ctx, task.task_id, wait)?.unwrap_or(task))
    })
    .await?;
    if task.error_code.as_deref() == Some(Code::InsufficientStorage.as_str()) {
        // The caller waited to learn whether its documents are durable: they are not all, and the
        // answer says so the way a refusal at submission would.
        return Err(ApiError::new(
            Code::InsufficientStorage,
            format!(
                "task {} stopped: {}; batches committed before it stay (GET /v1/tasks/{})",
                task.task_id,
                task.error.as_deref().unwrap_or("the disk is full"),
                task.task_id
            ),
        ));
    }
    Ok(super::tasks::task_response(task))
}

/// The multipart part names that carry files (`curl -F file=@a.md`, or `files` for several).
const UPLOAD_PARTS: [&str; 2] = ["file", "files"];

/// The uploaded files as (name, bytes): at least one, each from a `file`/`files` part with a file name.
async fn receive_files(mut multipart: Multipart) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    let mut files = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::new(
                    Code::PayloadTooLarge,
                    "upload is larger than the server's limit (server.body_limit_mb)",
                ))
            }
            Err(e) => {
                return Err(ApiError::invalid(format!(
                    "multipart body: {}",
                    e.body_text()
                )))
            }
        };
        let part = field.name().unwrap_or_default().to_owned();
        if !UPLOAD_PARTS.contains(&part.as_str()) {
            return Err(ApiError::invalid(format!(
                "multipart body: unexpected part `{}`; send files as `file` or `files` parts",
                nova_core::excerpt(&part)
            )));
        }
        let Some(name) = field.file_name().map(str::to_owned) else {
            return Err(ApiError::invalid(format!(
                "multipart body: part `{part}` has no file name (a file's name is its document id)"
            )));
        };
        let bytes = field.bytes().await.map_err(|e| {
            ApiError::invalid(format!("reading upload `{name}`: {}", e.body_text()))
        })?;
        files.push((name, bytes.to_vec()));
    }
    if files.is_empty() {
        return Err(ApiError::invalid(
            "multipart body: no files (send them as `file` or `files` parts)",
        ));
    }
    Ok(files)
}

/// Reads each file as `nova ingest` would (its name is its document id).
fn parse_files(files: Vec<(String, Vec<u8>)>) -> (Vec<Document>, Vec<Skip>) {
    let (mut docs, mut skipped) = (Vec::new(), Vec::new());
    for (name, bytes) in files {
        let read = read_bytes(&name, bytes, &ReadOptions::default());
        docs.extend(read.docs);
        skipped.extend(read.skipped);
    }
    (docs, skipped)
}

/// A stored document with its chunks.
#[utoipa::path(get, path = "/v1/kbs/{kb}/documents/{id}", tag = "documents",
    params(("kb" = String, Path, description = "Knowledge base name"),
        ("id" = String, Path, description = "Document id (URL-encoded)")),
    responses((status = 200, description = "Success", body = StoredDocument), (status = 404, description = "Knowledge base, document or route not found", body = ErrorBody)))]
pub async fn get_document(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path((kb, id)): Path<(String, String)>,
) -> Result<Json<StoredDocument>, ApiError> {
    let kb = kb_name(&kb)?;
    let lookup = DocId::parse(&id)?;
    match blocking(move || engine.document(&ctx, &kb, &lookup)).await? {
        Some(doc) => Ok(Json(doc)),
        None => Err(not_found(&id)),
    }
}

/// `GET …/access` query: whom to explain the document's visibility for (neither: every key).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccessParams {
    /// An API key's name (`bob` or `key:bob`).
    pub subject: Option<String>,
    /// Comma-separated groups of a hypothetical reader (e.g. a JWT caller's groups claim).
    pub groups: Option<String>,
}

/// Who can see a document and why: every key with a role on the KB, one key (`subject`), a reader in
/// some groups (`groups`), or both of the last two side by side. Administrators of the KB only.
#[utoipa::path(get, path = "/v1/kbs/{kb}/documents/{id}/access", tag = "documents",
    params(("kb" = String, Path, description = "Knowledge base name"),
        ("id" = String, Path, description = "Document id (URL-encoded)"), AccessParams),
    responses((status = 200, description = "Success", body = DocumentAccess),
        (status = 404, description = "Knowledge base, document, key or route not found", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn document_access(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path((kb, id)): Path<(String, String)>,
    params: Result<axum::extract::Query<AccessParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DocumentAccess>, ApiError> {
    let params = query(params)?;
    let kb = kb_name(&kb)?;
    let lookup = DocId::parse(&id)?;
    let key = params
        .subject
        .map(|s| s.strip_prefix("key:").unwrap_or(&s).to_owned());
    let groups = params.groups.map(|g| {
        g.split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let question = match (key, groups) {
        (Some(k), Some(g)) => AccessQuestion::KeyAndGroups(k, g),
        (Some(k), None) => AccessQuestion::Key(k),
        (None, Some(g)) => AccessQuestion::Groups(g),
        (None, None) => AccessQuestion::Keys,
    };
    match blocking(move || engine.document_access(&ctx, &kb, &lookup, &question)).await? {
        Some(access) => Ok(Json(access)),
        None => Err(not_found(&id)),
    }
}

/// Delete a document; durable when answered.
#[utoipa::path(delete, path = "/v1/kbs/{kb}/documents/{id}", tag = "documents",
    params(("kb" = String, Path, description = "Knowledge base name"),
        ("id" = String, Path, description = "Document id (URL-encoded)")),
    responses((status = 204, description = "Done, no body"), (status = 404, description = "Knowledge base, document or route not found", body = ErrorBody)))]
pub async fn delete_document(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path((kb, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let kb = kb_name(&kb)?;
    let lookup = DocId::parse(&id)?;
    if blocking(move || engine.delete_document(&ctx, &kb, &lookup)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(Code::DocumentNotFound, format!("document `{id}` not found"))
}
