#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! Snapshots over HTTP: an administrator downloads a consistent snapshot of a KB the server is serving
//! (a reader may not), and restoring it (what `nova kb restore` does) gives a KB that answers the same
//! queries with the same documents, scores and order.

mod common;

use common::*;
use nova_engine::{KbName, RequestCtx, Role};

fn ranked(v: &Value) -> Vec<(String, String)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["doc_id"].to_string(), h["score"].to_string()))
        .collect()
}

async fn search(app: &TestApp, kb: &str, query: &str) -> Value {
    app.post(
        &format!("/v1/kbs/{kb}/search"),
        json!({"query": query, "k": 10}),
    )
    .await
    .json()
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_taken_while_serving_restores_to_the_same_answers() {
    let app = TestApp::ready().await;
    app.sample_kb("help").await;

    let reader = app
        .keys
        .create(&key_spec("r", Role::Reader, &["help"], &[]))
        .unwrap();
    let r = client_with(Some(&reader.secret))
        .get(app.url("/v1/kbs/help/snapshot"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = app.get("/v1/kbs/help/snapshot").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/gzip");
    let archive = r.bytes().await.unwrap();

    let engine = app.state.engine().unwrap();
    let copy = KbName::parse("copy").unwrap();
    let (name, info) = tokio::task::block_in_place(|| {
        engine.restore(&RequestCtx::local(), &mut archive.as_ref(), Some(&copy))
    })
    .unwrap();
    assert_eq!((name.as_str(), info.kb.as_str()), ("copy", "help"));

    for query in [
        "disk is full",
        "vpn drops",
        "pods restart after the upgrade",
    ] {
        let (served, restored) = (
            search(&app, "help", query).await,
            search(&app, "copy", query).await,
        );
        assert!(!ranked(&served).is_empty());
        assert_eq!(ranked(&served), ranked(&restored), "{query}");
    }
}
