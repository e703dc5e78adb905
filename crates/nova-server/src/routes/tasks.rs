//! Ingest tasks: status, cancellation and removal of finished ones. Callers see the tasks of the KBs
//! they may edit.

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Caller, Ready};
use crate::state::AppState;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use nova_core::Code;
use nova_engine::TaskInfo;

/// The task routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tasks/{id}", get(get_task).delete(delete_task))
        .route("/v1/tasks/{id}/cancel", post(cancel_task))
}

/// A task as the answer to its submission: 200 when final, else 202 with `Location`.
pub(crate) fn task_response(task: TaskInfo) -> Response {
    let status = if task.status.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let location = format!("/v1/tasks/{}", task.task_id);
    (status, [(header::LOCATION, location)], Json(task)).into_response()
}

fn task_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::invalid(format!(
            "task id `{}` is not a number",
            nova_core::excerpt(raw)
        ))
    })
}

fn not_found(id: u64) -> ApiError {
    ApiError::new(Code::TaskNotFound, format!("task {id} not found"))
}

/// An ingest task: queued, processing (with documents and chunks done), succeeded (with what changed),
/// failed (with the error) or canceled; the skipped files and records either way.
#[utoipa::path(get, path = "/v1/tasks/{id}", tag = "documents",
    params(("id" = u64, Path, description = "Task id")),
    responses((status = 200, description = "Success", body = TaskInfo),
        (status = 404, description = "No such task, or one of a KB the caller may not edit", body = ErrorBody),
        (status = 422, description = "Not a task id", body = ErrorBody)))]
pub async fn get_task(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskInfo>, ApiError> {
    let id = task_id(&id)?;
    blocking(move || engine.task(&ctx, id))
        .await?
        .map(Json)
        .ok_or_else(|| not_found(id))
}

/// Cancel a task: a queued one never runs; a running one stops before its next batch, keeping what it
/// committed. Answers the task (a final one unchanged); it stays readable until deleted or retired.
#[utoipa::path(post, path = "/v1/tasks/{id}/cancel", tag = "documents",
    params(("id" = u64, Path, description = "Task id")),
    responses((status = 200, description = "Canceled, or asked to stop at its next batch", body = TaskInfo),
        (status = 404, description = "No such task, or one of a KB the caller may not edit", body = ErrorBody),
        (status = 422, description = "Not a task id", body = ErrorBody)))]
pub async fn cancel_task(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskInfo>, ApiError> {
    let id = task_id(&id)?;
    blocking(move || engine.cancel_task(&ctx, id))
        .await?
        .map(Json)
        .ok_or_else(|| not_found(id))
}

/// Delete a finished task's record (succeeded, failed or canceled): `GET` answers 404 afterwards. What
/// the task ingested stays. A task still queued or running is refused with 409 `task_running`: cancel it
/// first (`POST /v1/tasks/{id}/cancel`).
#[utoipa::path(delete, path = "/v1/tasks/{id}", tag = "documents",
    params(("id" = u64, Path, description = "Task id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such task, or one of a KB the caller may not edit", body = ErrorBody),
        (status = 409, description = "The task has not finished (`task_running`)", body = ErrorBody),
        (status = 422, description = "Not a task id", body = ErrorBody)))]
pub async fn delete_task(
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = task_id(&id)?;
    blocking(move || engine.delete_task(&ctx, id))
        .await?
        .map(|()| StatusCode::NO_CONTENT)
        .ok_or_else(|| not_found(id))
}
