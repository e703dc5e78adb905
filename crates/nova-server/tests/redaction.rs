#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! PII redaction at ingest: a knowledge base created with `redact_pii` stores none of a document's
//! personal data anywhere in the data folder (store, write-ahead log, task files, feedback, audit
//! trail), while look-alikes (order numbers, dates, times, versions, a non-Luhn number) stay findable.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Every original value in the fixture that must not survive anywhere.
const PII: &[&str] = &[
    "jane.doe@example.com",
    "+1 415 555 0132",
    "(212) 555-0198",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "DE89 3704 0044 0532 0130 00",
    "123-45-6789",
    "192.168.10.24",
    "fe80::1ff:fe23:4567:890a",
];

/// Look-alikes that must survive.
const KEPT: &[&str] = &[
    "ORD-2026-558812",
    "2026-12-05",
    "14:30:05",
    "v1.28.3",
    "2.4.1",
    "4111111111111112",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacting_kb_keeps_no_personal_data_anywhere_in_the_data_folder() {
    let app = TestApp::ready().await;
    let created: Value = app
        .post("/v1/kbs", json!({"name": "billing", "redact_pii": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["redact_pii"], true, "{created}");

    let fixture = root().join("crates/nova-server/tests/fixtures/pii-ticket.md");
    let part = reqwest::multipart::Part::bytes(std::fs::read(&fixture).unwrap())
        .file_name("refund-jane.md");
    let r = app
        .client
        .post(app.url("/v1/kbs/billing/documents?wait=true"))
        .multipart(reqwest::multipart::Form::new().part("files", part))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let task: Value = r.json().await.unwrap();
    assert_eq!(task["added"], 1, "{task}");
    // A JSON document with personal data in its metadata, tags and title.
    let r = app
        .post(
            "/v1/kbs/billing/documents?wait=true",
            json!({"documents": [{"id": "T-9", "title": "Call back +1 415 555 0132", "kind": "ticket",
                "text": "Card 4111 1111 1111 1111 declined for jane.doe@example.com",
                "tags": ["jane.doe@example.com"],
                "metadata": {"requester": "jane.doe@example.com", "answer": "Refunded to DE89 3704 0044 0532 0130 00"}}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Feedback naming personal data in its query and comment.
    let r = app
        .post(
            "/v1/kbs/billing/feedback",
            json!({"query": "refund for jane.doe@example.com", "doc_id": "refund-jane.md",
                   "rating": "helpful", "comment": "she called from +1 415 555 0132"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // What a reader gets back: placeholders, and the look-alikes intact.
    let doc: Value = app
        .get("/v1/kbs/billing/documents/refund-jane.md")
        .await
        .json()
        .await
        .unwrap();
    let text = doc.to_string();
    for kept in KEPT {
        assert!(text.contains(kept), "{kept} was redacted: {text}");
    }
    for placeholder in ["[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[SSN]", "[IP]"] {
        assert!(text.contains(placeholder), "{placeholder} missing: {text}");
    }
    let hits: Value = app
        .post(
            "/v1/kbs/billing/search",
            json!({"query": "ORD-2026-558812", "mode": "bm25"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hits["results"][0]["doc_id"], "refund-jane.md", "{hits}");

    // Nothing personal anywhere on disk — and the byte search does see stored text (the look-alikes).
    let data = app.data.path();
    for value in PII {
        let found = files_containing(data, value);
        assert!(found.is_empty(), "`{value}` is stored in {found:?}");
    }
    assert!(
        !files_containing(data, "ORD-2026-558812").is_empty(),
        "the byte search must see stored text for this test to mean anything"
    );
}
