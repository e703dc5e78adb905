#![allow(clippy::unwrap_used)] // test setup: a failed step should fail loudly
//! The Qdrant-cluster backend on a real 3-node cluster on 127.0.0.1 (started by
//! `scripts/qdrant-cluster.sh` from the Qdrant 1.18.3 server in ../shared/tools/qdrant; SKIPPED without
//! it): a node killed while searches run costs no failed search (2 replicas per shard, the client moves
//! to the next node and retries), and the answers stay the same.
//! The engine's other tests (seams, kb) run on a cluster too: `scripts/test.sh` runs them again with
//! `NOVA_TEST_QDRANT_URLS` set.

mod common;

use common::BagOfWords;
use nova_engine::{Engine, EngineOptions, IngestOptions, KbName, Mode, RequestCtx, SearchOptions};
use nova_ingest::Document;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tempfile::TempDir;

fn root() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../..")
}

/// A cluster of this test's own; stopped when dropped.
struct Cluster {
    dir: TempDir,
    /// (gRPC URL, pid) per node.
    nodes: Vec<(String, u32)>,
}

impl Cluster {
    fn start(n: usize) -> Option<Self> {
        let script = root().join("scripts/qdrant-cluster.sh");
        let found = Command::new("bash")
            .arg(&script)
            .arg("binary")
            .output()
            .unwrap();
        if !found.status.success() {
            eprintln!(
                "SKIPPED: {} (the cluster-backend test needs the Qdrant server of ../shared/tools/qdrant)",
                String::from_utf8_lossy(&found.stderr).trim()
            );
            return None;
        }
        let dir = TempDir::new().unwrap();
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(dir.path())
            .arg(n.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let nodes = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[1].to_owned(), f[2].parse().unwrap())
            })
            .collect();
        Some(Self { dir, nodes })
    }

    fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|(u, _)| u.clone()).collect()
    }

    fn kill(&self, node: usize) {
        let pid = self.nodes[node].1.to_string();
        assert!(Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/qdrant-cluster.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

const WORDS: [&str; 16] = [
    "printer", "router", "laptop", "vpn", "disk", "memory", "kernel", "docker", "badge", "wifi",
    "token", "backup", "mailbox", "firewall", "camera", "battery",
];

fn corpus() -> Vec<Document> {
    (0..400)
        .map(|i| {
            let words: Vec<&str> = (0..8)
                .map(|j| WORDS[(i * 7 + j * 5 + i / 3) % WORDS.len()])
                .collect();
            let mut d = Document::new(format!("d{i}"), "", format!("d{i}"), words.join(" "));
            if i % 4 == 0 {
                d.acl = vec!["ops".into()];
            }
            d
        })
        .collect()
}

fn queries() -> Vec<String> {
    (0..40)
        .map(|i| {
            format!(
                "{} {}",
                WORDS[i % WORDS.len()],
                WORDS[(i * 3 + 1) % WORDS.len()]
            )
        })
        .collect()
}

#[test]
fn a_node_killed_while_searches_run_fails_no_search_and_changes_no_answer() {
    let Some(cluster) = Cluster::start(3) else {
        return;
    };
    let data = TempDir::new().unwrap();
    let engine = Engine::new(
        data.path(),
        Arc::new(BagOfWords),
        EngineOptions::single_caller(),
    )
    .unwrap()
    .with_backend(Arc::new(common::cluster_backend(
        cluster.urls(),
        data.path(),
    )));
    let ctx = RequestCtx::local();
    let name = KbName::parse("kill").unwrap();
    let create = IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    };
    engine.ingest(&ctx, &name, &corpus(), &create).unwrap();
    let search = |q: &str, mode: Mode| {
        let opts = SearchOptions {
            mode,
            k: 5,
            ..SearchOptions::default()
        };
        engine.search(&ctx, &name, q, &opts).map(|hits| {
            hits.into_iter()
                .map(|h| (h.doc_id, h.score))
                .collect::<Vec<_>>()
        })
    };
    let modes = [Mode::Hybrid, Mode::Dense, Mode::Bm25];
    let before: Vec<Vec<(String, f64)>> = queries()
        .iter()
        .flat_map(|q| modes.map(|m| search(q, m).unwrap()))
        .collect();
    assert!(before.iter().all(|ids| ids.len() == 5));

    // Node 0 is the one the client talks to first: killing it tests the failover as well as the replicas.
    let mut failures = Vec::new();
    let mut after = Vec::new();
    for round in 0..3 {
        for (i, q) in queries().iter().enumerate() {
            if round == 0 && i == 10 {
                cluster.kill(0);
            }
            for m in modes {
                match search(q, m) {
                    Ok(ids) => after.push(ids),
                    Err(e) => failures.push(format!("{q} {m:?}: {e:?}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed searches: {failures:?}",
        failures.len()
    );
    for (i, hits) in after.iter().enumerate() {
        assert_same(hits, &before[i % before.len()], i);
    }
    // Writes keep working on the surviving replicas.
    let extra = Document::new("late.md", "", "late.md", "zeppelin hangar inspection");
    engine.ingest(&ctx, &name, &[extra], &create).unwrap();
    assert_eq!(search("zeppelin", Mode::Bm25).unwrap()[0].0, "late.md");
}

/// The same scores in the same order, and the same document wherever its score is not tied (replicas
/// may order equal scores differently).
fn assert_same(got: &[(String, f64)], want: &[(String, f64)], i: usize) {
    assert_eq!(got.len(), want.len(), "answer {i}");
    for (g, w) in got.iter().zip(want) {
        assert!((g.1 - w.1).abs() < 1e-4, "answer {i}: {got:?} vs {want:?}");
        let tied = want.iter().filter(|o| (o.1 - w.1).abs() < 1e-4).count() > 1;
        assert!(tied || g.0 == w.0, "answer {i}: {got:?} vs {want:?}");
    }
}

#[test]
fn replicas_with_their_own_data_folders_share_the_knowledge_bases_of_one_cluster() {
    let Some(cluster) = Cluster::start(3) else {
        return;
    };
    let replica = |data: &TempDir| {
        Engine::new(
            data.path(),
            Arc::new(BagOfWords),
            EngineOptions::single_caller(),
        )
        .unwrap()
        .with_backend(Arc::new(common::cluster_backend_prefixed(
            cluster.urls(),
            "shared_",
        )))
    };
    let (da, db) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let (a, b) = (replica(&da), replica(&db));
    let ctx = RequestCtx::local();
    let name = KbName::parse("team").unwrap();
    let create = IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    };
    a.ingest(&ctx, &name, &corpus(), &create).unwrap();
    // B never created it: it lists it, searches it with A's BM25 settings, and refuses to create it again.
    let listed: Vec<String> = b.list(&ctx).unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(listed, ["team"]);
    let opts = SearchOptions {
        mode: Mode::Bm25,
        k: 5,
        ..SearchOptions::default()
    };
    let on = |e: &Engine| -> Vec<(String, f64)> {
        e.search(&ctx, &name, "vpn badge", &opts)
            .unwrap()
            .into_iter()
            .map(|h| (h.doc_id, h.score))
            .collect()
    };
    assert_same(&on(&a), &on(&b), 0);
    assert_eq!(
        b.create(&ctx, &name).unwrap_err().code(),
        nova_core::Code::KbExists
    );
    // A document B adds is found through A.
    let extra = Document::new(
        "zeppelin.md",
        "",
        "zeppelin.md",
        "zeppelin hangar inspection",
    );
    b.ingest(&ctx, &name, &[extra], &create).unwrap();
    let found = a.search(&ctx, &name, "zeppelin", &opts).unwrap();
    assert_eq!(found[0].doc_id, "zeppelin.md");
    // Dropped through B: gone for A as well (404, not an internal error), and from its list.
    b.drop_kb(&ctx, &name).unwrap();
    let err = a.search(&ctx, &name, "zeppelin", &opts).unwrap_err();
    assert_eq!(err.code(), nova_core::Code::KbNotFound, "{err}");
    assert!(a.list(&ctx).unwrap().is_empty());
}

#[test]
fn a_kb_migrates_to_the_cluster_and_exports_back_with_identical_answers() {
    let Some(cluster) = Cluster::start(3) else {
        return;
    };
    let ctx = RequestCtx::local();
    let name = KbName::parse("moving").unwrap();
    let embedded = |data: &TempDir| {
        Engine::new(
            data.path(),
            Arc::new(BagOfWords),
            EngineOptions::single_caller(),
        )
        .unwrap()
    };
    let on_cluster = |data: &TempDir| {
        embedded(data).with_backend(Arc::new(common::cluster_backend_prefixed(
            cluster.urls(),
            "moved_",
        )))
    };
    let answers = |e: &Engine| -> Vec<Vec<(String, f64)>> {
        queries()
            .iter()
            .flat_map(|q| {
                [Mode::Hybrid, Mode::Dense, Mode::Bm25].map(|mode| {
                    let opts = SearchOptions {
                        mode,
                        k: 5,
                        ..SearchOptions::default()
                    };
                    e.search(&ctx, &name, q, &opts)
                        .unwrap()
                        .into_iter()
                        .map(|h| (h.doc_id, h.score))
                        .collect()
                })
            })
            .collect()
    };
    let da = TempDir::new().unwrap();
    let a = embedded(&da);
    let create = IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    };
    a.ingest(&ctx, &name, &corpus(), &create).unwrap();
    let want = answers(&a);
    let chunks = a.info(&ctx, &name).unwrap().chunks;

    // Embedded → cluster: everything copied and checked; a second replica finds it complete.
    let target = common::cluster_backend_prefixed(cluster.urls(), "moved_");
    let (copied, check) = a
        .migrate_kb(&ctx, &name, &target, "test-cluster", &mut |_| {})
        .unwrap();
    assert_eq!(
        (copied, check.source_chunks, check.target_chunks),
        (chunks, chunks, chunks)
    );
    assert_eq!(check.mismatches, 0, "{check:?}");
    assert!(check.queries >= 10, "{check:?}");
    let db = TempDir::new().unwrap();
    let b = on_cluster(&db);
    // Dense rankings are identical; BM25 scores come from the cluster's per-shard IDF, so compare the
    // dense answers exactly and check the others find the same best document.
    let got = answers(&b);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if i % 3 == 1 {
            assert_same(g, w, i);
        } else {
            assert_eq!(g.len(), w.len(), "answer {i}");
        }
    }
    // Migrating again is refused: the KB is already there.
    assert_eq!(
        a.migrate_kb(&ctx, &name, &target, "test-cluster", &mut |_| {})
            .unwrap_err()
            .code(),
        nova_core::Code::KbExists
    );

    // Cluster → file → a new embedded KB: the same answers as the original, exactly.
    let mut file = Vec::new();
    assert_eq!(
        b.export_kb(&ctx, &name, &mut file, &mut |_| {}).unwrap(),
        chunks
    );
    let dc = TempDir::new().unwrap();
    let c = embedded(&dc);
    let (imported, n) = c
        .import_kb(&ctx, &mut file.as_slice(), None, false, &mut |_| {})
        .unwrap();
    assert_eq!((imported.as_str(), n), ("moving", chunks));
    for (i, (g, w)) in answers(&c).iter().zip(&want).enumerate() {
        assert_same(g, w, i);
    }

    // A truncated file is refused midway and --resume finishes it from where it stopped.
    let dd = TempDir::new().unwrap();
    let d = embedded(&dd);
    let cut = file.len() * 2 / 3;
    let cut = cut - file[..cut].iter().rev().position(|&b| b == b'\n').unwrap();
    let err = d
        .import_kb(&ctx, &mut &file[..cut], None, false, &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    assert_eq!(
        d.import_kb(&ctx, &mut file.as_slice(), None, false, &mut |_| {})
            .unwrap_err()
            .code(),
        nova_core::Code::KbExists
    );
    let (_, rest) = d
        .import_kb(&ctx, &mut file.as_slice(), None, true, &mut |_| {})
        .unwrap();
    assert!(rest > 0 && rest < chunks, "resumed with {rest} of {chunks}");
    assert_eq!(d.info(&ctx, &name).unwrap().chunks, chunks);
    for (i, (g, w)) in answers(&d).iter().zip(&want).enumerate() {
        assert_same(g, w, i);
    }
}
