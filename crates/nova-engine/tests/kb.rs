#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! Knowledge base end to end with the real model and a real on-disk store: ingest with bad files,
//! search, persistence across reopen, idempotent re-ingest, update, delete and filters.

use nova_embed::{BatchOptions, ModelSource, SentenceEmbedder};
use nova_engine::{KnowledgeBase, Mode, SearchOptions};
use nova_ingest::{read_path, ReadOptions};
use nova_store::FieldFilter;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tempfile::TempDir;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn embedder() -> &'static SentenceEmbedder {
    static MODEL: OnceLock<SentenceEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| {
        SentenceEmbedder::load(
            &ModelSource::Local(root().join("models/all-MiniLM-L6-v2")),
            BatchOptions::default(),
        )
        .expect("model (run scripts/fetch-models.sh)")
    })
}

/// The example KB plus one file of each bad kind and a ticket export.
fn corpus() -> TempDir {
    let dir = TempDir::new().unwrap();
    for entry in std::fs::read_dir(root().join("examples/kb")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.path().join("blob.md"), b"\x00\x01binary").unwrap();
    std::fs::write(dir.path().join("empty.txt"), "").unwrap();
    std::fs::write(dir.path().join("latin1.md"), b"caf\xe9 cr\xe8me").unwrap();
    std::fs::write(
        dir.path().join("tickets.jsonl"),
        "{\"id\":\"T-1\",\"title\":\"Laptop cannot reach VPN\",\"text\":\"VPN drops after sleep; fixed by disabling wifi power saving\",\"kind\":\"ticket\"}\n{not json\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("escalations.csv"),
        "id,subject,body,tags,acl,kind\n\
         E-7,Payroll export fails,\"The payroll export job times out at 02:00, retried manually\",\"finance;batch\",hr,ticket\n\
         E-8,\"broken,row\n",
    )
    .unwrap();
    dir
}

fn search(kb: &KnowledgeBase, q: &str, mode: Mode) -> Vec<String> {
    let opts = SearchOptions {
        mode,
        k: 3,
        ..SearchOptions::default()
    };
    kb.search(embedder(), q, &opts)
        .unwrap()
        .into_iter()
        .map(|h| h.doc_id)
        .collect()
}

#[test]
fn ingest_search_reopen_reingest_update_delete_and_filter() {
    let src = corpus();
    let data = TempDir::new().unwrap();
    let read = read_path(src.path(), &ReadOptions::default());
    assert_eq!(read.docs.len(), 9, "6 Markdown + 1 HTML article, 2 tickets");
    let reasons: Vec<String> = read.skipped.iter().map(|s| s.reason.clone()).collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");

    {
        let kb = KnowledgeBase::open(
            data.path(),
            "kb",
            embedder(),
            Some(KnowledgeBase::mean_tokens(&read.docs)),
        )
        .unwrap();
        let s = kb.ingest(embedder(), &read.docs, &|_| {}).unwrap();
        assert_eq!((s.added, s.updated, s.unchanged), (9, 0, 0));
        assert!(s.chunks >= 7);
        for mode in [Mode::Hybrid, Mode::Dense, Mode::Bm25] {
            assert_eq!(
                search(
                    &kb,
                    "pods keep restarting after the cluster upgrade CrashLoopBackOff",
                    mode
                )[0],
                "kubernetes-crashloopbackoff.md",
                "{mode:?}"
            );
        }
        let hit = &kb
            .search(
                embedder(),
                "ENOSPC no space left",
                &SearchOptions::default(),
            )
            .unwrap()[0];
        assert_eq!(hit.doc_id, "disk-full.md");
        assert!(
            hit.dense.is_some() && hit.bm25.is_some(),
            "hybrid hit explains both retrievers"
        );
    }

    // Reopened from disk: same answers, and re-ingesting unchanged files is a no-op.
    let kb = KnowledgeBase::open(data.path(), "kb", embedder(), None).unwrap();
    assert_eq!(
        search(&kb, "printer offline", Mode::Hybrid)[0],
        "printer-offline.md"
    );
    let chunks = kb.chunk_count().unwrap();
    let s = kb.ingest(embedder(), &read.docs, &|_| {}).unwrap();
    assert_eq!((s.added, s.updated, s.unchanged, s.chunks), (0, 0, 9, 0));
    assert_eq!(kb.chunk_count().unwrap(), chunks);

    // A changed file replaces its chunks.
    let mut changed = read.docs.clone();
    let doc = changed
        .iter_mut()
        .find(|d| d.id == "password-reset.md")
        .unwrap();
    doc.text =
        "# Password reset\n\nUse the self-service portal at id.example.com to unlock accounts."
            .into();
    let s = kb.ingest(embedder(), &changed, &|_| {}).unwrap();
    assert_eq!((s.added, s.updated, s.unchanged), (0, 1, 8));
    assert_eq!(
        search(&kb, "self-service portal unlock account", Mode::Bm25)[0],
        "password-reset.md"
    );

    // Filters: only tickets.
    let opts = SearchOptions {
        filters: vec![FieldFilter {
            field: "kind".into(),
            value: "ticket".into(),
        }],
        ..SearchOptions::default()
    };
    let hits = kb.search(embedder(), "vpn", &opts).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.doc_id.as_str()).collect::<Vec<_>>(),
        ["T-1", "E-7"]
    );
    // Tags and ACL groups from a CSV export are filterable; HTML articles are found by their content.
    for (field, value) in [("tags", "batch"), ("acl", "hr")] {
        let opts = SearchOptions {
            filters: vec![FieldFilter {
                field: field.into(),
                value: value.into(),
            }],
            ..SearchOptions::default()
        };
        let hits = kb.search(embedder(), "export job", &opts).unwrap();
        assert_eq!(hits.len(), 1, "{field}={value}");
        assert_eq!(hits[0].doc_id, "E-7");
    }
    assert_eq!(
        search(&kb, "browser says certificate date invalid", Mode::Hybrid)[0],
        "tls-certificate-expired.html"
    );
    assert_eq!(kb.doc_count().unwrap(), 9);

    // Delete.
    assert!(kb.delete("vpn-disconnects.md").unwrap());
    assert!(
        !search(&kb, "VPN tunnel drops every few minutes", Mode::Hybrid)
            .contains(&"vpn-disconnects.md".to_string())
    );
    assert!(!kb.delete("vpn-disconnects.md").unwrap());
}

#[test]
fn bad_kb_names_are_rejected() {
    let data = TempDir::new().unwrap();
    let err = KnowledgeBase::open(data.path(), "../escape", embedder(), None)
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("invalid knowledge base name"));
}
