#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! The audit trail through the real server: a scripted session (admin writes, a reader's reads, a
//! delete) is recorded whole with the documents each caller was shown, verifies with its HMAC key,
//! reads back page by page at GET /v1/audit (administrators only), and an action whose record cannot be
//! written is refused rather than carried out unrecorded.

mod common;

use common::*;
use nova_engine::nova_audit::{verify, Sealer, TrailOptions};
use nova_engine::{AuditSettings, EngineOptions};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn audited_app(sealer: Sealer) -> TestApp {
    TestApp::ready_with_options(EngineOptions {
        audit: AuditSettings {
            enabled: true,
            reads: true,
            query_text: false,
            trail: TrailOptions {
                sealer,
                ..TrailOptions::default()
            },
        },
        ..EngineOptions::default()
    })
    .await
}

fn sha256_hex(text: &str) -> String {
    Sealer::Plain.seal(text.as_bytes())
}

async fn records(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/v1/audit{query}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn of_action<'a>(page: &'a Value, action: &str) -> Vec<&'a Value> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_session_is_recorded_with_what_each_caller_saw_and_verifies() {
    let sealer = Sealer::from_key(&[9u8; 32]);
    let app = audited_app(sealer.clone()).await;
    app.sample_kb("help").await;
    let alice = app
        .keys
        .create(&key_spec(
            "alice",
            nova_engine::Role::Reader,
            &["help"],
            &[],
        ))
        .unwrap()
        .secret;
    let reader = client_with(Some(&alice));
    let query = "pods keep restarting after the upgrade";
    let hits = json_of(
        reader
            .post(app.url("/v1/kbs/help/search"))
            .json(&json!({"query": query, "k": 3})),
    )
    .await;
    let shown: Vec<&str> = hits["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["doc_id"].as_str().unwrap())
        .collect();
    assert!(!shown.is_empty(), "{hits}");
    let r = reader
        .post(app.url("/v1/kbs/help/troubleshoot"))
        .json(&json!({"problem": "vpn disconnects"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = reader
        .get(app.url("/v1/kbs/help/documents/vpn-disconnects.md"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .delete(app.url("/v1/kbs/help/documents/T-1001"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // Only administrators of every KB read the trail.
    let r = reader.get(app.url("/v1/audit")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let page = records(&app, "?kb=help").await;
    let actions: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for want in [
        "kb.create",
        "documents.submit",
        "documents.ingest",
        "search",
        "troubleshoot",
        "document.get",
        "document.delete",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let search = of_action(&page, "search")[0];
    assert_eq!(search["subject"], "key:alice");
    assert_eq!(search["query_sha256"], sha256_hex(query));
    assert!(
        search.get("query").is_none(),
        "query text is kept only when configured"
    );
    assert_eq!(
        search["doc_ids"],
        json!(shown),
        "the trail names what the reader was shown"
    );
    assert!(search["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    let submit = of_action(&page, "documents.submit")[0];
    assert_eq!(submit["subject"], "key:test-admin");
    assert_eq!(submit["doc_ids"].as_array().unwrap().len(), 7);
    assert_eq!(
        of_action(&page, "document.delete")[0]["doc_ids"],
        json!(["T-1001"])
    );

    // Paging: a page of two, then the rest from where it ended.
    let first = records(&app, "?limit=2").await;
    assert_eq!(first["records"].as_array().unwrap().len(), 2);
    let after = first["next_after"].as_u64().unwrap();
    let rest = records(&app, &format!("?after={after}")).await;
    assert_eq!(rest["records"][0]["seq"].as_u64().unwrap(), after + 1);
    // Reading the trail is itself recorded.
    assert!(!of_action(&records(&app, "?action=audit").await, "audit.read").is_empty());

    let (status, code, body) = error_of(app.get("/v1/audit?since=last-tuesday").await).await;
    assert_eq!((status.as_u16(), code.as_str()), (422, "invalid_input"));
    assert!(
        body["error"]["message"].as_str().unwrap().contains("since"),
        "{body}"
    );

    let dir = app.data.path().join("audit");
    let v = verify(&dir, &sealer).unwrap();
    assert!(v.intact(), "{:?}", v.problem);
    assert!(v.records >= 10, "{v:?}");
    // Sealed with the key: without it the trail does not verify.
    assert!(!verify(&dir, &Sealer::Plain).unwrap().intact());

    // Fail closed: while the trail cannot be written, a read is refused, not served unrecorded.
    let blocker = dir.join("head.json.tmp");
    let search = || {
        reader
            .post(app.url("/v1/kbs/help/search"))
            .json(&json!({"query": query}))
            .send()
    };
    std::fs::create_dir(&blocker).unwrap();
    let (status, code, _) = error_of(search().await.unwrap()).await;
    assert_eq!((status.as_u16(), code.as_str()), (503, "audit_unavailable"));
    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(search().await.unwrap().status(), StatusCode::OK);
    let v = verify(&dir, &sealer).unwrap();
    assert!(v.intact(), "{:?}", v.problem);
}
