//! Ingest as tasks (as Meilisearch and Qdrant's `wait=false` do): a submission is parsed, written to disk
//! and answered at once with a task id; one worker thread ingests the queue in order. A task's status
//! file says queued / processing (documents and chunks done) / succeeded / failed / canceled, with the
//! skips and the result. Its documents stay on disk until it has run, so queued and interrupted tasks
//! survive a restart and run again (ingest is idempotent by content hash: a rerun only finishes the work).

use crate::cipher::Keyring;
use crate::error::{EngineError, Result};
use crate::files::{read_json, read_sealed_json, write_json_atomic, write_sealed_json};
use nova_ingest::Document;
use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for the worker.
    Queued,
    /// Being ingested; `docs_done` and `chunks_done` grow.
    Processing,
    /// Done; `summary` says what changed.
    Succeeded,
    /// Stopped by an error; `error` says which. Batches committed before it stay.
    Failed,
    /// Canceled before it finished. Batches committed before that stay.
    Canceled,
}

impl TaskStatus {
    /// Succeeded, failed or canceled: it will not change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }
}

/// A file or record of the submission that was not ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskSkip {
    /// File name (with `:line` for records).
    pub source: String,
    /// Why.
    pub reason: String,
}

/// An ingest task as its status file holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskInfo {
    /// Task id, increasing in submission order.
    pub task_id: u64,
    /// Knowledge base the documents go to.
    pub kb: String,
    /// Where it is.
    pub status: TaskStatus,
    /// Documents submitted.
    pub documents: usize,
    /// Documents whose chunks are all committed (or that were unchanged), so far.
    pub docs_done: usize,
    /// Chunks committed so far.
    pub chunks_done: usize,
    /// New documents (when succeeded).
    pub added: usize,
    /// Changed documents (when succeeded).
    pub updated: usize,
    /// Documents already stored with the same content (when succeeded).
    pub unchanged: usize,
    /// Chunks written (when succeeded).
    pub chunks: usize,
    /// Files or records of the submission that were not ingested, with the reason.
    pub skipped: Vec<TaskSkip>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The failure's stable error code (e.g. `insufficient_storage`: the disk filled up mid-ingest;
    /// batches before it stay, retry once space is freed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Unix seconds: submitted, started, finished.
    pub enqueued_at: u64,
    /// When the worker took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// When it reached a final status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The task files of a data folder, the queue to the worker and the cancel requests.
pub(crate) struct TaskQueue {
    dir: PathBuf,
    /// The next id, once known: found by reading the folder on first need, so commands that never touch
    /// tasks (every CLI search) do not list it.
    next_id: Mutex<Option<u64>>,
    to_worker: Mutex<Option<Sender<u64>>>,
    canceled: Mutex<HashSet<u64>>,
    /// The task being ingested now, and its KB.
    running: Mutex<Option<(u64, String)>>,
    /// Bumped on every status change; waiters for a task sleep on `changed`.
    generation: Mutex<u64>,
    changed: Condvar,
    /// Seals queued documents (encryption at rest).
    keyring: Option<Arc<Keyring>>,
}

impl TaskQueue {
    /// The queue in `dir` (created at the first submission); ids continue after the highest one there.
    pub(crate) fn open(dir: &Path, keyring: Option<Arc<Keyring>>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            keyring,
            next_id: Mutex::new(None),
            to_worker: Mutex::new(None),
            canceled: Mutex::new(HashSet::new()),
            running: Mutex::new(None),
            generation: Mutex::new(0),
            changed: Condvar::new(),
        }
    }

    /// A fresh id (creating the folder the first time).
    fn allocate(&self) -> Result<u64> {
        let mut next = self.next_id.lock();
        let id = match *next {
            Some(id) => id,
            None => {
                fs_err::create_dir_all(&self.dir).map_err(|source| EngineError::Io {
                    path: self.dir.clone(),
                    source,
                })?;
                let newest_file = ids_in(&self.dir).into_iter().max().unwrap_or(0);
                newest_file.max(self.last_id()) + 1
            }
        };
        // Recorded apart from the status files, which deletion and retention remove: an id is never
        // handed out twice, even after the newest task was deleted and the server restarted.
        write_json_atomic(&self.last_id_file(), &id)?;
        *next = Some(id + 1);
        Ok(id)
    }

    fn last_id_file(&self) -> PathBuf {
        self.dir.join("last-id")
    }

    /// The last id handed out, as recorded (0 in a folder from before it was recorded).
    fn last_id(&self) -> u64 {
        read_json(&self.last_id_file()).unwrap_or(0)
    }

    /// Removes a task's record (and its input, if it never ran). The caller checks it is final.
    pub(crate) fn forget(&self, id: u64) -> Result<()> {
        let path = self.status_file(id);
        fs_err::remove_file(&path).map_err(|source| EngineError::Io { path, source })?;
        let _ = fs_err::remove_file(self.input_file(id));
        Ok(())
    }

    fn status_file(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn input_file(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.input.json"))
    }

    /// Writes the documents, then the queued status (a task exists once its status file does), and hands
    /// the id to the worker if one runs.
    pub(crate) fn submit(
        &self,
        kb: &str,
        docs: &[Document],
        skipped: Vec<TaskSkip>,
    ) -> Result<TaskInfo> {
        let task_id = self.allocate()?;
        write_sealed_json(
            &self.input_file(task_id),
            &docs,
            self.keyring.as_deref(),
            &input_context(task_id),
        )?;
        let info = new_task(task_id, kb, docs.len(), skipped);
        self.save(&info)?;
        if let Some(tx) = self.to_worker.lock().as_ref() {
            let _ = tx.send(task_id);
        }
        Ok(info)
    }

    /// Records an upload in which no file could be read as a task that failed at once, so the answer
    /// (and `GET /v1/tasks/{id}`) lists every file with its reason, as for any other upload.
    pub(crate) fn record_unreadable(&self, kb: &str, skipped: Vec<TaskSkip>) -> Result<TaskInfo> {
        let mut info = new_task(self.allocate()?, kb, 0, skipped);
        info.status = TaskStatus::Failed;
        info.error =
            Some("nothing to ingest: the upload holds no readable file (each unreadable one is in `skipped`)".into());
        info.finished_at = Some(info.enqueued_at);
        self.save(&info)?;
        Ok(info)
    }
}

/// A queued task's first status.
/// A task's sealed input is bound to its id, so one task's documents never open as another's.
fn input_context(id: u64) -> String {
    format!("task-{id}")
}

fn new_task(task_id: u64, kb: &str, documents: usize, skipped: Vec<TaskSkip>) -> TaskInfo {
    TaskInfo {
        task_id,
        kb: kb.to_owned(),
        status: TaskStatus::Queued,
        documents,
        docs_done: 0,
        chunks_done: 0,
        added: 0,
        updated: 0,
        unchanged: 0,
        chunks: 0,
        skipped,
        error: None,
        error_code: None,
        enqueued_at: now(),
        started_at: None,
        finished_at: None,
    }
}

impl TaskQueue {
    /// The task's status, if it exists.
    pub(crate) fn get(&self, id: u64) -> Result<Option<TaskInfo>> {
        let path = self.status_file(id);
        if !path.is_file() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// Saves `info` and wakes waiters.
    pub(crate) fn save(&self, info: &TaskInfo) -> Result<()> {
        write_json_atomic(&self.status_file(info.task_id), info)?;
        *self.generation.lock() += 1;
        self.changed.notify_all();
        Ok(())
    }

    /// The task's documents (present until it has run).
    pub(crate) fn input(&self, id: u64) -> Result<Vec<Document>> {
        read_sealed_json(
            &self.input_file(id),
            self.keyring.as_deref(),
            &input_context(id),
        )
    }

    /// Drops the documents of a task that has run.
    pub(crate) fn forget_input(&self, id: u64) {
        let path = self.input_file(id);
        if let Err(e) = fs_err::remove_file(&path) {
            tracing::warn!(task = id, "could not remove a finished task's input: {e}");
        }
    }

    /// Asks the worker to stop `id` at its next commit (or not to start it).
    pub(crate) fn request_cancel(&self, id: u64) {
        self.canceled.lock().insert(id);
    }

    /// Records which task runs now (the worker's bookkeeping).
    pub(crate) fn set_running(&self, task: Option<(u64, String)>) {
        *self.running.lock() = task;
    }

    /// Stops the running task if it writes to `kb` (which is being deleted).
    pub(crate) fn cancel_running_on(&self, kb: &str) {
        let running = self.running.lock().clone();
        if let Some((id, _)) = running.filter(|(_, k)| k == kb) {
            self.request_cancel(id);
        }
    }

    /// Whether `id` was asked to stop.
    pub(crate) fn cancel_requested(&self, id: u64) -> bool {
        self.canceled.lock().contains(&id)
    }

    /// Connects the worker: tasks left queued or processing by an earlier run go to it first, in order.
    pub(crate) fn attach(&self, tx: Sender<u64>) -> Result<()> {
        let mut pending: Vec<TaskInfo> = ids_in(&self.dir)
            .into_iter()
            .filter_map(|id| self.get(id).ok().flatten())
            .filter(|t| !t.status.is_final())
            .collect();
        pending.sort_by_key(|t| t.task_id);
        for mut task in pending {
            if task.status == TaskStatus::Processing {
                tracing::info!(
                    task = task.task_id,
                    "resuming a task interrupted by a restart"
                );
                task.status = TaskStatus::Queued;
                self.save(&task)?;
            }
            let _ = tx.send(task.task_id);
        }
        *self.to_worker.lock() = Some(tx);
        Ok(())
    }

    /// Blocks until `id` is final or `timeout` has passed; its status then.
    pub(crate) fn wait(&self, id: u64, timeout: Duration) -> Result<Option<TaskInfo>> {
        let deadline = Instant::now() + timeout;
        let mut generation = self.generation.lock();
        loop {
            let info = self.get(id)?;
            match &info {
                Some(t) if !t.status.is_final() && Instant::now() < deadline => {
                    // Status changes notify; the timeout also re-reads in case another process wrote.
                    let _ = self
                        .changed
                        .wait_for(&mut generation, Duration::from_millis(500));
                }
                _ => return Ok(info),
            }
        }
    }
}

impl TaskQueue {
    /// Removes the status files of tasks that finished before `cutoff` (Unix seconds), except the
    /// newest task's: its id is where numbering resumes after a restart, so ids are never reused.
    /// Returns how many were removed.
    pub(crate) fn prune(&self, cutoff: u64) -> usize {
        let ids = ids_in(&self.dir);
        let newest = ids.iter().copied().max();
        let mut removed = 0;
        for id in ids.into_iter().filter(|&id| Some(id) != newest) {
            let old = matches!(self.get(id), Ok(Some(t))
                if t.status.is_final() && t.finished_at.is_some_and(|at| at < cutoff));
            if old && fs_err::remove_file(self.status_file(id)).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// Task ids with a status file in `dir`.
fn ids_in(dir: &Path) -> Vec<u64> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".json")?.parse::<u64>().ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_drops_only_old_finished_tasks_and_never_the_newest() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let queue = TaskQueue::open(dir.path(), None);
        let day = 86_400;
        let mut ids = Vec::new();
        // (finished how many days ago, if at all)
        for finished in [Some(30), Some(1), None, Some(30)] {
            let mut task = queue.submit("kb", &[], Vec::new()).expect("submit");
            if let Some(days_ago) = finished {
                task.status = TaskStatus::Succeeded;
                task.finished_at = Some(now() - days_ago * day);
            }
            queue.save(&task).expect("save");
            ids.push(task.task_id);
        }
        assert_eq!(queue.prune(now() - 7 * day), 1);
        let left: Vec<bool> = ids
            .iter()
            .map(|&id| queue.get(id).expect("read").is_some())
            .collect();
        // The old one goes; the recent, the unfinished and the newest (old, but where ids resume) stay.
        assert_eq!(left, [false, true, true, true]);
        let next = TaskQueue::open(dir.path(), None)
            .submit("kb", &[], Vec::new())
            .expect("submit after a restart");
        assert_eq!(next.task_id, ids[3] + 1, "ids never repeat");
    }
}
