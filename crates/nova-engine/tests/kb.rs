#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! Knowledge base end to end with the real model and a real on-disk store: ingest with bad files,
//! search, persistence across reopen, idempotent re-ingest, update, delete and filters.

use nova_embed::{BatchOptions, Embedder, ModelSource, SentenceEmbedder};
use nova_engine::{
    Condition, DocId, Engine, EngineOptions, Filter, IngestOptions, KbName, Mode, RequestCtx,
    SearchOptions,
};
use nova_ingest::{read_path, Document, ReadOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tempfile::TempDir;

mod common;

fn root() -> PathBuf {
    // Read at run time: cargo may reuse this binary from a checkout sharing the target folder.
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../..")
}

fn embedder() -> Arc<dyn Embedder> {
    static MODEL: OnceLock<Arc<dyn Embedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(
                SentenceEmbedder::load(
                    &ModelSource::Local(root().join("models/all-MiniLM-L6-v2")),
                    BatchOptions::default(),
                )
                .expect("model (run scripts/fetch-models.sh)"),
            )
        })
        .clone()
}

/// One knowledge base of an engine over `data`, with the calls the test makes.
struct Kb {
    engine: Engine,
    name: KbName,
    ctx: RequestCtx,
}

impl Kb {
    fn open(data: &Path) -> Self {
        Self {
            engine: common::on_test_backend(
                Engine::new(data, embedder(), EngineOptions::single_caller()).unwrap(),
                data,
            ),
            name: KbName::parse("kb").unwrap(),
            ctx: RequestCtx::local(),
        }
    }

    fn ingest(&self, docs: &[Document]) -> nova_engine::IngestSummary {
        let opts = IngestOptions {
            create_missing: true,
            ..IngestOptions::default()
        };
        self.engine
            .ingest(&self.ctx, &self.name, docs, &opts)
            .unwrap()
    }

    fn search(&self, q: &str, opts: &SearchOptions) -> Vec<nova_engine::DocHit> {
        self.engine.search(&self.ctx, &self.name, q, opts).unwrap()
    }

    fn chunks(&self) -> usize {
        self.engine.info(&self.ctx, &self.name).unwrap().chunks
    }

    fn delete(&self, id: &str) -> bool {
        self.engine
            .delete_document(&self.ctx, &self.name, &DocId::parse(id).unwrap())
            .unwrap()
    }
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

fn search(kb: &Kb, q: &str, mode: Mode) -> Vec<String> {
    let opts = SearchOptions {
        mode,
        k: 3,
        ..SearchOptions::default()
    };
    kb.search(q, &opts).into_iter().map(|h| h.doc_id).collect()
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
        let kb = Kb::open(data.path());
        let s = kb.ingest(&read.docs);
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
        let hit = &kb.search("ENOSPC no space left", &SearchOptions::default())[0];
        assert_eq!(hit.doc_id, "disk-full.md");
        assert!(
            hit.dense.is_some() && hit.bm25.is_some(),
            "hybrid hit explains both retrievers"
        );
    }

    // Reopened from disk: same answers, and re-ingesting unchanged files is a no-op.
    let kb = Kb::open(data.path());
    assert_eq!(
        search(&kb, "printer offline", Mode::Hybrid)[0],
        "printer-offline.md"
    );
    let chunks = kb.chunks();
    let s = kb.ingest(&read.docs);
    assert_eq!((s.added, s.updated, s.unchanged, s.chunks), (0, 0, 9, 0));
    assert_eq!(kb.chunks(), chunks);

    // A changed file replaces its chunks.
    let mut changed = read.docs.clone();
    let doc = changed
        .iter_mut()
        .find(|d| d.id == "password-reset.md")
        .unwrap();
    doc.text =
        "# Password reset\n\nUse the self-service portal at id.example.com to unlock accounts."
            .into();
    let s = kb.ingest(&changed);
    assert_eq!((s.added, s.updated, s.unchanged), (0, 1, 8));
    assert_eq!(
        search(&kb, "self-service portal unlock account", Mode::Bm25)[0],
        "password-reset.md"
    );

    // Filters: only tickets.
    let opts = SearchOptions {
        filter: Filter::must([Condition::eq("kind", "ticket")]),
        ..SearchOptions::default()
    };
    let hits = kb.search("vpn", &opts);
    assert_eq!(
        hits.iter().map(|h| h.doc_id.as_str()).collect::<Vec<_>>(),
        ["T-1", "E-7"]
    );
    // Tags from a CSV export are filterable (its ACL groups restrict who sees it, see seams.rs); HTML
    // articles are found by their content.
    let opts = SearchOptions {
        filter: Filter::must([Condition::eq("tags", "batch")]),
        ..SearchOptions::default()
    };
    let hits = kb.search("export job", &opts);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].doc_id, "E-7");
    assert_eq!(
        search(&kb, "browser says certificate date invalid", Mode::Hybrid)[0],
        "tls-certificate-expired.html"
    );
    assert_eq!(kb.engine.info(&kb.ctx, &kb.name).unwrap().documents, 9);

    // Delete.
    assert!(kb.delete("vpn-disconnects.md"));
    assert!(
        !search(&kb, "VPN tunnel drops every few minutes", Mode::Hybrid)
            .contains(&"vpn-disconnects.md".to_string())
    );
    assert!(!kb.delete("vpn-disconnects.md"));
}

#[test]
fn bad_kb_names_are_rejected() {
    let err = KbName::parse("../escape").expect_err("must fail");
    assert!(err.to_string().contains("invalid knowledge base name"));
}
