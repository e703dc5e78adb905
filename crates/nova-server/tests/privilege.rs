#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! Legal privilege (the `legal` profile) through the real server: a document tagged `privileged` is
//! returned only to members of its ACL groups — not to an administrator of the KB outside them, and to
//! nobody when its ACL is empty — in search, troubleshoot and document reads; every read of one is in the
//! privilege log (`privileged.*` audit records), and the responses carrying it are never cached.

mod common;

use common::*;
use nova_engine::{AuditSettings, Role};

async fn legal_app() -> TestApp {
    TestApp::ready_with_options(EngineOptions {
        audit: AuditSettings {
            enabled: true,
            ..AuditSettings::default()
        },
        privilege_tag: Some("privileged".into()),
        ..EngineOptions::default()
    })
    .await
}

fn ids(v: &Value, list: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["doc_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_documents_reach_only_their_groups_and_every_read_is_logged() {
    let app = legal_app().await;
    assert_eq!(
        app.post("/v1/kbs", json!({"name": "cases"})).await.status(),
        StatusCode::CREATED
    );
    let docs = json!({"documents": [
        {"id": "memo.md", "title": "Merger litigation strategy memo",
         "text": "Counsel's merger litigation strategy: settle the patent claim before discovery.",
         "tags": ["privileged"], "acl": ["litigation"]},
        {"id": "unassigned.md", "title": "Merger litigation draft",
         "text": "Draft merger litigation notes from counsel, not yet assigned to a team.",
         "tags": ["privileged"]},
        {"id": "policy.md", "title": "Merger communication policy",
         "text": "Employees must not discuss the merger litigation with the press."}
    ]});
    let r = app.post("/v1/kbs/cases/documents?wait=true", docs).await;
    assert_eq!(r.status(), StatusCode::OK);

    let lit = app
        .keys
        .create(&key_spec("lit", Role::Reader, &["cases"], &["litigation"]))
        .unwrap();
    let lawyer = client_with(Some(&lit.secret));
    let search = json!({"query": "merger litigation strategy", "k": 10});

    // The KB's administrator is in no group: only the ordinary document.
    let admin_view: Value = app
        .post("/v1/kbs/cases/search", search.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&admin_view, "results"), ["policy.md"], "{admin_view}");
    let r = app.get("/v1/kbs/cases/documents/memo.md").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let report: Value = app
        .post(
            "/v1/kbs/cases/troubleshoot",
            json!({"problem": "merger litigation strategy"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(!ids(&report, "passages").contains(&"memo.md".to_owned()));

    // A member of the memo's group sees it; the unassigned privileged draft reaches nobody.
    let r = lawyer
        .post(app.url("/v1/kbs/cases/search"))
        .json(&search)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    let lawyer_view: Value = r.json().await.unwrap();
    let seen = ids(&lawyer_view, "results");
    assert!(seen.contains(&"memo.md".to_owned()), "{lawyer_view}");
    assert!(!seen.contains(&"unassigned.md".to_owned()), "{lawyer_view}");
    let r = lawyer
        .get(app.url("/v1/kbs/cases/documents/memo.md"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");

    // The privilege log: exactly the lawyer's two reads of the memo (reads are otherwise not audited).
    let log: Value = app
        .get("/v1/audit?action=privileged")
        .await
        .json()
        .await
        .unwrap();
    let records = log["records"].as_array().unwrap();
    let summary: Vec<(&str, &str, Vec<&str>)> = records
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["subject"].as_str().unwrap(),
                r["doc_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("privileged.search", "key:lit", vec!["memo.md"]),
            ("privileged.document.get", "key:lit", vec!["memo.md"]),
        ],
        "{log}"
    );
}
