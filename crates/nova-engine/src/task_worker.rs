//! The one thread that runs ingest tasks, oldest first: it marks a task processing, ingests its documents
//! through [`Engine::ingest`] (so the same checks, batching and durability apply as for `nova ingest`),
//! records progress after every durable commit and the result at the end, and drops the task's input.

use crate::engine::{Engine, IngestOptions};
use crate::error::EngineError;
use crate::ingest::IngestProgress;
use crate::tasks::{now, TaskInfo, TaskStatus};
use nova_core::{KbName, RequestCtx};
use parking_lot::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Weak;
use std::time::{Duration, Instant};

/// Runs tasks as their ids arrive, until the engine is gone.
pub(crate) fn run(engine: &Weak<Engine>, inbox: &Receiver<u64>) {
    let mut last_prune: Option<Instant> = None;
    loop {
        let id = match inbox.recv_timeout(Duration::from_secs(1)) {
            Ok(id) => id,
            Err(RecvTimeoutError::Timeout) => match engine.upgrade() {
                Some(engine) => {
                    if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                        last_prune = Some(Instant::now());
                        prune(&engine);
                    }
                    continue;
                }
                None => return,
            },
            Err(_) => return,
        };
        let Some(engine) = engine.upgrade() else {
            return;
        };
        // A panic inside one ingest (a store that lost its files) must not stop every later task.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_one(&engine, id)));
        match ran {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(task = id, "task bookkeeping failed: {e}"),
            Err(_) => {
                tracing::error!(task = id, "task panicked; marked failed");
                if let Ok(Some(task)) = engine.task_queue().get(id) {
                    let internal =
                        EngineError::Internal("the ingest panicked; see the server log".into());
                    let _ = finish(&engine, task, Err(internal));
                }
            }
        }
        engine.task_queue().set_running(None);
    }
}

/// How often, when idle, the worker removes finished tasks past `task_retention_days`.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

fn prune(engine: &Engine) {
    let days = engine.options().task_retention_days;
    if days == 0 {
        return;
    }
    let removed = engine
        .task_queue()
        .prune(now().saturating_sub(days * 86_400));
    if removed > 0 {
        tracing::info!(removed, days, "removed finished tasks past their retention");
    }
}

fn run_one(engine: &Engine, id: u64) -> crate::Result<()> {
    let queue = engine.task_queue();
    let Some(mut task) = queue.get(id)? else {
        return Ok(());
    };
    if task.status.is_final() {
        return Ok(());
    }
    if queue.cancel_requested(id) {
        return finish(engine, task, Err(EngineError::Canceled));
    }
    task.status = TaskStatus::Processing;
    task.started_at = Some(now());
    queue.save(&task)?;
    queue.set_running(Some((id, task.kb.clone())));
    tracing::info!(task = id, kb = %task.kb, documents = task.documents, "task started");
    let outcome = (|| {
        let docs = queue.input(id)?;
        let kb = KbName::parse(&task.kb)?;
        // Who may write was checked when the task was submitted; the worker acts for the service.
        let ctx = RequestCtx::internal(&format!("task-{id}"));
        let live = Mutex::new(task.clone());
        let progress = |p: IngestProgress| {
            let mut t = live.lock();
            t.docs_done = p.docs_done;
            t.chunks_done = p.chunks_committed;
            if let Err(e) = queue.save(&t) {
                tracing::warn!(task = id, "could not record progress: {e}");
            }
        };
        let cancel = || queue.cancel_requested(id);
        let opts = IngestOptions {
            create_missing: false,
            progress: Some(&progress),
            cancel: Some(&cancel),
        };
        let summary = engine.ingest(&ctx, &kb, &docs, &opts)?;
        let t = live.lock().clone();
        Ok((t, summary))
    })();
    match outcome {
        Ok((mut t, summary)) => {
            t.added = summary.added;
            t.updated = summary.updated;
            t.unchanged = summary.unchanged;
            t.chunks = summary.chunks;
            finish(engine, t, Ok(()))
        }
        Err(e) => {
            // Progress recorded so far is in the status file.
            let t = queue.get(id)?.unwrap_or(task);
            finish(engine, t, Err(e))
        }
    }
}

/// Records the final status and drops the input.
fn finish(engine: &Engine, mut task: TaskInfo, result: crate::Result<()>) -> crate::Result<()> {
    let queue = engine.task_queue();
    task.status = match &result {
        Ok(()) => TaskStatus::Succeeded,
        Err(EngineError::Canceled) => TaskStatus::Canceled,
        Err(e) => {
            task.error = Some(e.to_string());
            task.error_code = Some(e.code().as_str().to_owned());
            TaskStatus::Failed
        }
    };
    task.finished_at = Some(now());
    queue.save(&task)?;
    queue.forget_input(task.task_id);
    tracing::info!(task = task.task_id, status = ?task.status, "task finished");
    Ok(())
}
