//! `nova bench embed`: embedding throughput on short queries and ~200-token passages, per thread count,
//! beside this machine's measured sgemm peak. Writes a JSON result and the exact texts used, so
//! `bench/embed_baseline.py` can run sentence-transformers on the same inputs in the same session.

use super::Outcome;
use crate::cli::BenchEmbedArgs;
use anyhow::{bail, Context, Result};
use nova_embed::{Embedder, SentenceEmbedder};
use serde::Serialize;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Words per benchmark passage: ~200 wordpieces for English technical prose.
const PASSAGE_WORDS: usize = 150;

#[derive(Debug, Serialize)]
struct Case {
    set: &'static str,
    threads: usize,
    texts: usize,
    avg_tokens: f64,
    seconds: f64,
    texts_per_s: f64,
    tokens_per_s: f64,
    /// Achieved model GFLOP/s (matmul work of the forward pass).
    gflops: f64,
    /// The same thread count's sgemm peak, measured in this run.
    sgemm_peak_gflops: f64,
    peak_fraction: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    tool: &'static str,
    model: String,
    cases: Vec<Case>,
}

pub fn run(embedder: &SentenceEmbedder, args: &BenchEmbedArgs) -> Result<Outcome> {
    let queries = read_queries(&args.queries)?;
    let mut passages = read_passages(&args.passages)?;
    passages.truncate(args.max_passages);
    if queries.is_empty() || passages.is_empty() {
        bail!(
            "no benchmark texts: {} queries, {} passages",
            queries.len(),
            passages.len()
        );
    }
    let texts_path = args.out.with_extension("texts.json");
    if let Some(dir) = args.out.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(
        &texts_path,
        serde_json::to_vec(&serde_json::json!({"queries": queries, "passages": passages}))?,
    )?;

    let mut cases = Vec::new();
    for &threads in &args.thread_counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()?;
        nova_embed::set_threads(threads.max(1));
        let peak = pool.install(|| nova_embed::sgemm_gflops(args.min_seconds.min(2.0)))?;
        for (set, texts) in [("queries", &queries), ("passages", &passages)] {
            let case =
                pool.install(|| measure(embedder, set, texts, threads, peak, args.min_seconds))?;
            eprintln!(
                "{set:<9} threads={threads} {:>8.1} texts/s {:>9.0} tokens/s  ({:.1} tokens avg, {:.0}% of sgemm peak {:.0} GFLOP/s)",
                case.texts_per_s,
                case.tokens_per_s,
                case.avg_tokens,
                case.peak_fraction * 100.0,
                peak
            );
            cases.push(case);
        }
    }
    let report = Report {
        tool: "nova",
        model: embedder.model_id().to_owned(),
        cases,
    };
    fs_err::write(&args.out, serde_json::to_vec_pretty(&report)?)?;
    eprintln!(
        "wrote {} (texts in {})",
        args.out.display(),
        texts_path.display()
    );
    Ok(Outcome::Done)
}

fn measure(
    embedder: &SentenceEmbedder,
    set: &'static str,
    texts: &[String],
    threads: usize,
    peak: f64,
    min_seconds: f64,
) -> Result<Case> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let lengths: Vec<usize> = embedder.token_ids(&refs)?.iter().map(Vec::len).collect();
    let flops_per_pass: f64 = lengths.iter().map(|&l| embedder.forward_flops(l)).sum();
    embedder.embed(&refs[..refs.len().min(32)])?; // warm-up: allocator, caches, rayon threads
    let start = Instant::now();
    let mut passes = 0usize;
    while passes == 0 || start.elapsed().as_secs_f64() < min_seconds {
        embedder.embed(&refs)?;
        passes += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let tokens: usize = lengths.iter().sum();
    let gflops = flops_per_pass * passes as f64 / seconds / 1e9;
    Ok(Case {
        set,
        threads,
        texts: texts.len(),
        avg_tokens: tokens as f64 / texts.len() as f64,
        seconds,
        texts_per_s: (texts.len() * passes) as f64 / seconds,
        tokens_per_s: (tokens * passes) as f64 / seconds,
        gflops,
        sgemm_peak_gflops: peak,
        peak_fraction: gflops / peak,
    })
}

/// The `text` field of each JSONL line (BEIR queries.jsonl has `_id` and `text`).
fn read_queries(path: &Path) -> Result<Vec<String>> {
    let file = fs_err::File::open(path).context("benchmark queries")?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let value: Value =
            serde_json::from_str(&line?).with_context(|| format!("parsing {}", path.display()))?;
        if let Some(text) = value.get("text").and_then(Value::as_str) {
            out.push(text.to_owned());
        }
    }
    Ok(out)
}

/// Markdown/text files under `dir` (sorted, so runs are comparable), cut at paragraph boundaries into
/// passages of about [`PASSAGE_WORDS`] words.
fn read_passages(dir: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    collect_files(dir, &mut files)?;
    files.sort();
    let mut passages = Vec::new();
    for file in files {
        let text = fs_err::read_to_string(&file)?;
        let mut current = String::new();
        for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            current.push_str(paragraph);
            current.push('\n');
            if current.split_whitespace().count() >= PASSAGE_WORDS {
                passages.push(std::mem::take(&mut current));
            }
        }
    }
    Ok(passages)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs_err::read_dir(dir).context("benchmark passages")? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "md" || e == "txt") {
            out.push(path);
        }
    }
    Ok(())
}
