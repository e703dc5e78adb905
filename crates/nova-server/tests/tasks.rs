#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! Ingest as tasks: 202 with a task to poll, progress and results, cancellation, who may look, and tasks
//! that outlive the process that accepted them.

mod common;

use common::*;

/// Polls a task until it is final. The deadline is generous: this checks outcomes, not speed, and the
/// 300-note task below takes a minute when the host is in a slow phase (its speed swings 3×).
async fn finished(app: &TestApp, id: u64) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::time::Instant::now() < deadline {
        let task: Value = app
            .get(&format!("/v1/tasks/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if ["succeeded", "failed", "canceled"].contains(&task["status"].as_str().unwrap()) {
            return task;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await; // poll interval
    }
    panic!("task {id} never finished");
}

fn notes(prefix: &str, n: usize) -> Value {
    let docs: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": format!("{prefix}-{i}"),
                   "text": format!("Note {i}: the {prefix} service restarts when its disk fills up. ").repeat(20)})
        })
        .collect();
    json!({ "documents": docs })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_answer_202_with_a_task_that_reports_progress_results_and_can_be_canceled() {
    let app = TestApp::ready().await;
    assert_eq!(
        app.post("/v1/kbs", json!({"name": "ops"})).await.status(),
        201
    );

    // 202 at once, with the task and where to poll it.
    let r = app.post("/v1/kbs/ops/documents", notes("vpn", 3)).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let task: Value = r.json().await.unwrap();
    let id = task["task_id"].as_u64().unwrap();
    assert_eq!(location, format!("/v1/tasks/{id}"));
    assert_eq!(
        (task["kb"].as_str(), task["documents"].as_u64()),
        (Some("ops"), Some(3))
    );
    let done = finished(&app, id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (done["added"].as_u64(), done["docs_done"].as_u64()),
        (Some(3), Some(3)),
        "{done}"
    );
    assert!(done["chunks_done"].as_u64().unwrap() >= 3, "{done}");
    let hits: Value = app
        .post(
            "/v1/kbs/ops/search",
            json!({"query": "vpn service disk fills"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hits["results"].as_array().unwrap().len(), 3, "{hits}");

    // One worker runs tasks in order: a task queued behind a long one is canceled before it starts and
    // never writes anything.
    let long = app.post("/v1/kbs/ops/documents", notes("long", 300)).await;
    let long_id = long.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let queued = app.post("/v1/kbs/ops/documents", notes("never", 2)).await;
    let queued_id = queued.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    assert!(queued_id > long_id);
    let r = app
        .client
        .post(app.url(&format!("/v1/tasks/{queued_id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "canceled");
    // A task that has not finished cannot be deleted (its record is what tells the client how it ended);
    // a finished one can. (The 300-note task is still running here unless the host is very fast.)
    let delete = |id: u64| {
        app.client
            .delete(app.url(&format!("/v1/tasks/{id}")))
            .send()
    };
    let r = delete(long_id).await.unwrap();
    if r.status() != 204 {
        let (status, code, _) = error_of(r).await;
        assert_eq!((status.as_u16(), code.as_str()), (409, "task_running"));
        assert_eq!(finished(&app, long_id).await["status"], "succeeded");
        assert_eq!(delete(long_id).await.unwrap().status(), 204);
    }
    assert_eq!(finished(&app, queued_id).await["status"], "canceled");
    // Gone from GET, a second DELETE is 404, and what the task ingested stays.
    assert_eq!(app.get(&format!("/v1/tasks/{long_id}")).await.status(), 404);
    assert_eq!(delete(long_id).await.unwrap().status(), 404);
    assert_eq!(app.get("/v1/kbs/ops/documents/long-0").await.status(), 200);
    assert_eq!(app.get("/v1/kbs/ops/documents/never-0").await.status(), 404);
    let kb: Value = app.get("/v1/kbs/ops").await.json().await.unwrap();
    assert_eq!(kb["documents"], 303, "{kb}");

    // `?wait=true` answers 200 with the finished task; skips are reported there.
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes) in [
        ("ok.md", &b"# Printer\n\nJammed tray: open it."[..]),
        ("blank.md", b"  "),
    ] {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name),
        );
    }
    let r = app
        .client
        .post(app.url("/v1/kbs/ops/documents?wait=true"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let task: Value = r.json().await.unwrap();
    assert_eq!(
        (task["status"].as_str(), task["added"].as_u64()),
        (Some("succeeded"), Some(1))
    );
    assert_eq!(task["skipped"][0]["source"], "blank.md", "{task}");

    // The same id twice in one request: the later copy is ingested, the earlier one reported.
    let r = app
        .post(
            "/v1/kbs/ops/documents?wait=true",
            json!({"documents": [
                {"id": "twice.md", "text": "first draft about printers"},
                {"id": "twice.md", "text": "final text about scanners"}
            ]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let task: Value = r.json().await.unwrap();
    assert_eq!(task["added"], 1, "{task}");
    assert_eq!(task["skipped"][0]["source"], "documents[0]", "{task}");
    let doc: Value = app
        .get("/v1/kbs/ops/documents/twice.md")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        doc.to_string().contains("final text about scanners"),
        "{doc}"
    );
    assert!(!doc.to_string().contains("first draft"), "{doc}");

    // Unknown, malformed, and other people's tasks.
    let (status, code, _) = error_of(app.get("/v1/tasks/999999").await).await;
    assert_eq!((status.as_u16(), code.as_str()), (404, "task_not_found"));
    let (status, _, _) = error_of(app.get("/v1/tasks/abc").await).await;
    assert_eq!(status, 422);
    let reader = app
        .keys
        .create(&key_spec(
            "reader",
            nova_engine::Role::Reader,
            &["ops"],
            &[],
        ))
        .unwrap();
    let r = client_with(Some(&reader.secret))
        .get(app.url(&format!("/v1/tasks/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "a reader does not see editors' tasks");
    let r = client_with(Some(&reader.secret))
        .post(app.url("/v1/kbs/ops/documents"))
        .json(&notes("r", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "nor submit one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_accepted_before_a_stop_runs_when_the_next_process_starts() {
    let data = TempDir::new().unwrap();
    let kb = nova_engine::KbName::parse("ops").unwrap();
    let ctx = nova_engine::RequestCtx::local();
    let docs: Vec<nova_ingest::Document> = (0..4)
        .map(|i| {
            nova_ingest::Document::new(
                format!("d{i}"),
                "",
                format!("d{i}"),
                format!("disk {i} full"),
            )
        })
        .collect();
    let id = tokio::task::block_in_place(|| {
        // Accepted and on disk, but this process stops before any worker ran it.
        let engine = Engine::new(data.path(), embedder(), EngineOptions::default()).unwrap();
        engine.create(&ctx, &kb).unwrap();
        let task = engine.submit_ingest(&ctx, &kb, &docs, vec![]).unwrap();
        assert_eq!(task.status, nova_engine::TaskStatus::Queued);
        task.task_id
    });
    let engine = Arc::new(Engine::new(data.path(), embedder(), EngineOptions::default()).unwrap());
    engine.start_task_worker().unwrap();
    let task = tokio::task::block_in_place(|| {
        engine
            .wait_task(&ctx, id, std::time::Duration::from_secs(120))
            .unwrap()
            .unwrap()
    });
    assert_eq!(task.status, nova_engine::TaskStatus::Succeeded, "{task:?}");
    assert_eq!(task.added, 4);
    let later = tokio::task::block_in_place(|| {
        engine.submit_ingest(&ctx, &kb, &docs[..1], vec![]).unwrap()
    });
    assert!(later.task_id > id, "ids keep increasing across restarts");

    // Deleting the newest task and restarting does not hand its id out again.
    let newest = tokio::task::block_in_place(|| {
        engine
            .wait_task(&ctx, later.task_id, std::time::Duration::from_secs(120))
            .unwrap()
            .unwrap()
    });
    assert!(newest.status.is_final(), "{newest:?}");
    engine.delete_task(&ctx, newest.task_id).unwrap().unwrap();
    drop(engine);
    let next = tokio::task::block_in_place(|| {
        // Another KB: the worker of the engine just dropped may still hold `ops` for a moment.
        let engine = Engine::new(data.path(), embedder(), EngineOptions::default()).unwrap();
        let other = nova_engine::KbName::parse("ops2").unwrap();
        engine.create(&ctx, &other).unwrap();
        engine
            .submit_ingest(&ctx, &other, &docs[..1], vec![])
            .unwrap()
    });
    assert!(next.task_id > newest.task_id, "{next:?} after {newest:?}");
}
