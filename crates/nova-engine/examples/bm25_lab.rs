//! BM25 alone through the engine's real path (chunking, title and heading prefix, the on-disk store,
//! its IDF), without the embedding model, so an analysis choice can be tried on a whole collection in
//! seconds: the dense side gets one constant vector. Writes a TREC run for `bench/bm25_compare.py`.
//!
//! cargo run --example bm25_lab -- DATASET_DIR RUN_FILE [prf]

use nova_core::Embedding;
use nova_embed::Embedder;
use nova_engine::{BeirSet, Engine, EngineOptions, IngestOptions, KbName, KbOptions, Mode};
use nova_engine::{RequestCtx, SearchOptions};
use std::fmt::Write as _;
use std::sync::Arc;

/// Every text at the same point: the store needs a dense vector, BM25 never reads it.
struct Constant;

impl Embedder for Constant {
    fn model_id(&self) -> &str {
        "constant"
    }
    fn dim(&self) -> usize {
        4
    }
    fn embed(&self, texts: &[&str]) -> nova_embed::Result<Vec<Embedding>> {
        Ok(texts.iter().map(|_| vec![0.5; 4]).collect())
    }
    fn token_counts(&self, texts: &[&str]) -> nova_embed::Result<Vec<usize>> {
        Ok(texts.iter().map(|t| t.split_whitespace().count()).collect())
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dataset, run_file, rest @ ..] = args.as_slice() else {
        return Err("usage: bm25_lab DATASET_DIR RUN_FILE [prf]".into());
    };
    let set = BeirSet::load(std::path::Path::new(dataset))?;
    let dir = tempfile::tempdir()?;
    let engine = Engine::new(
        dir.path(),
        Arc::new(Constant),
        EngineOptions::single_caller(),
    )?;
    let ctx = RequestCtx::local();
    let kb = KbName::parse("lab")?;
    engine.create_with(&ctx, &kb, KbOptions::default())?;
    engine.ingest(&ctx, &kb, &set.corpus, &IngestOptions::default())?;
    let base = SearchOptions {
        prf: rest.iter().any(|a| a == "prf"),
        ..SearchOptions::default()
    };
    let reports = engine.evaluate_beir(
        &ctx,
        &kb,
        &set,
        nova_engine::EvalRuns {
            modes: &[Mode::Bm25],
            fusions: &[],
        },
        &base,
        &mut |_| {},
    )?;
    let mut text = String::new();
    for r in &reports {
        println!(
            "{dataset} {}: nDCG@10 {:.4}  Recall@5 {:.4}  Recall@100 {:.4}  p50 {:.1} ms",
            if base.prf { "bm25+prf" } else { "bm25" },
            r.ndcg_at_10,
            r.recall_at_5,
            r.recall_at_100,
            r.latency_p50_ms
        );
        for (qid, ranked) in &r.run {
            for (rank, (doc, score)) in ranked.iter().enumerate() {
                writeln!(text, "{qid} Q0 {doc} {} {score:.6} bm25", rank + 1)?;
            }
        }
    }
    std::fs::write(run_file, text)?;
    Ok(())
}
