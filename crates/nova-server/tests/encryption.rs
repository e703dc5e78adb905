#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! Encryption at rest through the real server: the same session (sample KB uploaded as an ingest task,
//! tickets, feedback, audited searches with query text) is run once without and once with a data key.
//! With the key, a byte search of the whole data folder finds none of the documents', feedback's or
//! queries' text — the same search of the plain run finds every one, so the search can fail — while
//! search results are the same ids in the same order and reads return the text. A wrong or missing key
//! stops the engine at start with an error naming the key ids.

mod common;

use common::*;
use nova_engine::nova_audit::TrailOptions;
use nova_engine::{AuditSettings, EncryptionSettings};

/// Text that the session stores: phrases of the sample articles and tickets, a feedback comment and an
/// audited query (none of them is a document id, source or filterable field, which stay clear).
const STORED: &[&str] = &[
    "allows localhost",
    "exhaust inodes before blocks",
    "RESTARTS count keeps rising",
    "outbound queue",
    "Reserve the printer",
    "Wi-Fi power saving on laptops",
    "ERR_CERT_DATE_INVALID",
    "payments pods are in CrashLoopBackOff",
    "raised the memory limit",
    "the spooler keeps zebra-striping",
    "quokka tunnel keepalive",
];

const QUERIES: &[&str] = &[
    "vpn keeps disconnecting",
    "disk is full",
    "pods restart after upgrade with exit code 137",
    "certificate expired in the browser",
    "quokka tunnel keepalive",
];

async fn app_with(encryption: EncryptionSettings) -> TestApp {
    TestApp::ready_with_options(EngineOptions {
        audit: AuditSettings {
            enabled: true,
            reads: true,
            query_text: true,
            trail: TrailOptions::default(),
        },
        encryption,
        ..EngineOptions::default()
    })
    .await
}

/// The session; returns each query's hybrid result ids in order.
async fn session(app: &TestApp) -> Vec<Vec<String>> {
    app.sample_kb("help").await;
    let r = app
        .post(
            "/v1/kbs/help/feedback",
            json!({"query": "printer offline", "doc_id": "printer-offline.md",
                   "rating": "not_helpful", "comment": "the spooler keeps zebra-striping"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut ids = Vec::new();
    for q in QUERIES {
        let hits: Value = app
            .post("/v1/kbs/help/search", json!({"query": q, "k": 5}))
            .await
            .json()
            .await
            .unwrap();
        ids.push(
            hits["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["doc_id"].as_str().unwrap().to_owned())
                .collect(),
        );
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_data_folder_holds_no_text_and_answers_as_the_plain_one() {
    let keys = TempDir::new().unwrap();
    let key_file = keys.path().join("data.key");
    std::fs::write(
        &key_file,
        "5f1c0a9e3b7d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6\n",
    )
    .unwrap();

    let plain = app_with(EncryptionSettings::default()).await;
    let plain_ids = session(&plain).await;
    let sealed = app_with(EncryptionSettings {
        key_file: Some(key_file.clone()),
        ..EncryptionSettings::default()
    })
    .await;
    let sealed_ids = session(&sealed).await;

    assert!(plain_ids.iter().all(|ids| !ids.is_empty()));
    assert_eq!(sealed_ids, plain_ids, "same ids in the same order");
    for needle in STORED {
        assert!(
            !files_containing(plain.data.path(), needle).is_empty(),
            "`{needle}` must be on disk without encryption, or this test proves nothing"
        );
        let found = files_containing(sealed.data.path(), needle);
        assert!(
            found.is_empty(),
            "`{needle}` is stored in clear in {found:?}"
        );
    }

    // Readers still get the text: a document, and the audited query revealed to an administrator.
    let doc: Value = sealed
        .get("/v1/kbs/help/documents/disk-full.md")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        doc.to_string().contains("exhaust inodes before blocks"),
        "{doc}"
    );
    let audit: Value = sealed
        .get("/v1/audit?action=search")
        .await
        .json()
        .await
        .unwrap();
    let queries: Vec<&str> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["query"].as_str())
        .collect();
    assert!(queries.contains(&"quokka tunnel keepalive"), "{audit}");

    // A wrong key, or none, stops the engine at start and says why.
    let other = keys.path().join("other.key");
    std::fs::write(&other, [7u8; 32]).unwrap();
    let open = |encryption: EncryptionSettings| {
        let opts = EngineOptions {
            encryption,
            ..EngineOptions::default()
        };
        match Engine::new(sealed.data.path(), embedder(), opts) {
            Ok(_) => panic!("the engine opened a sealed data folder with the wrong key"),
            Err(e) => e.to_string(),
        }
    };
    let wrong = open(EncryptionSettings {
        key_file: Some(other),
        ..EncryptionSettings::default()
    });
    assert!(
        wrong.contains("knowledge base `help` is encrypted under key id")
            && wrong.contains("wrong key"),
        "{wrong}"
    );
    let missing = open(EncryptionSettings::default());
    assert!(
        missing.contains("no encryption key is configured"),
        "{missing}"
    );
}
