//! What the document-permission filter costs a reader's search, in process, on a copy of a real KB's
//! store: for each query a dense and a BM25 search (300 candidates each, as hybrid search asks) and
//! the payload read of the winners, once as an administrator (no filter) and once as a reader in no
//! group, the two interleaved so the host's drift hits both. Run twice: on the store as it is, and
//! after one chunk with an `acl` is added — the store skips the filter only while no chunk sets one.
//!
//!   cp -r .nova/kbs/eval-scifact/store /tmp/store-copy     # never a live KB: the run writes to it
//!   cargo run --release -p nova-store --example acl_filter_cost -- /tmp/store-copy QUERIES.jsonl
//!
//! Query texts come from a JSONL file with a `text` field (bench/judged_queries.py writes one); dense
//! query vectors are random unit vectors, which cost the same to search as real ones.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: any failure should stop it loudly

use nova_core::{AccessFilter, Filter, KbName, Principal};
use nova_store::{Bm25Encoder, ChunkRecord, EdgeStore, Retriever, SparseVec, Store, StoreQuery};
use std::time::{Duration, Instant};

/// Time per query for dense search, BM25 search and the payload read, by arm.
type Totals = [[Duration; 3]; 2];

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: acl_filter_cost STORE_COPY QUERIES.jsonl");
    let queries_file = args
        .next()
        .expect("usage: acl_filter_cost STORE_COPY QUERIES.jsonl");
    let store = EdgeStore::open(std::path::Path::new(&path)).expect("open the store copy");
    let queries = queries(&queries_file, store.dim());
    let kb = KbName::parse("bench").expect("kb name");
    let arms = [
        ("admin", AccessFilter::system()),
        (
            "reader",
            AccessFilter::for_principal(&Principal::member("bench", &[]), &kb),
        ),
    ];
    report(
        "no chunk sets an acl",
        &arms,
        &measure(&store, &queries, &arms),
    );
    let restricted = ChunkRecord {
        id: u64::MAX - 1,
        dense: queries[0].0.clone(),
        sparse: queries[0].1.clone(),
        payload: serde_json::json!({ "doc_id": "restricted", "acl": ["hr"] })
            .as_object()
            .expect("object")
            .clone(),
    };
    store
        .upsert(vec![restricted])
        .expect("add a restricted chunk");
    report(
        "one chunk sets an acl",
        &arms,
        &measure(&store, &queries, &arms),
    );
}

fn queries(file: &str, dim: usize) -> Vec<(Vec<f32>, SparseVec)> {
    let bm25 = Bm25Encoder::new(200.0);
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    std::fs::read_to_string(file)
        .expect("read the queries")
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let mut dense: Vec<f32> = (0..dim).map(|_| next()).collect();
            let norm = dense.iter().map(|x| x * x).sum::<f32>().sqrt();
            dense.iter_mut().for_each(|x| *x /= norm);
            (dense, bm25.query(v["text"].as_str().expect("a text field")))
        })
        .collect()
}

fn measure(
    store: &EdgeStore,
    queries: &[(Vec<f32>, SparseVec)],
    arms: &[(&str, AccessFilter); 2],
) -> Totals {
    let all = Filter::default();
    let mut totals: Totals = Default::default();
    // Round 0 warms the caches and is not counted.
    for round in 0..4 {
        for (i, (dense, sparse)) in queries.iter().enumerate() {
            for turn in 0..2 {
                let arm = (turn + i + round) % 2;
                let access = &arms[arm].1;
                let mut ids = Vec::new();
                for (slot, retriever) in [Retriever::Dense, Retriever::Bm25].into_iter().enumerate()
                {
                    let start = Instant::now();
                    let hits = store
                        .search(&StoreQuery {
                            retriever,
                            dense,
                            sparse,
                            filter: &all,
                            access,
                            limit: 300,
                            payload_keys: Some(&["doc_id"]),
                        })
                        .expect("search");
                    if round > 0 {
                        totals[arm][slot] += start.elapsed();
                    }
                    ids.extend(hits.iter().take(5).map(|h| h.id));
                }
                let start = Instant::now();
                store.get_many(&ids, access).expect("read payloads");
                if round > 0 {
                    totals[arm][2] += start.elapsed();
                }
            }
        }
    }
    let n = (queries.len() * 3) as u32;
    totals.map(|arm| arm.map(|t| t / n))
}

fn report(case: &str, arms: &[(&str, AccessFilter); 2], totals: &Totals) {
    println!("{case}:");
    for (arm, t) in totals.iter().enumerate() {
        let sum: Duration = t.iter().sum();
        println!(
            "  {:<6} dense {:.3} ms  bm25 {:.3} ms  payloads {:.3} ms  total {:.3} ms",
            arms[arm].0,
            t[0].as_secs_f64() * 1e3,
            t[1].as_secs_f64() * 1e3,
            t[2].as_secs_f64() * 1e3,
            sum.as_secs_f64() * 1e3
        );
    }
}
