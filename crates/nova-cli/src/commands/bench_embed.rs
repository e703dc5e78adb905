//! `nova bench embed`: embedding throughput on short queries and ~200-token passages, per thread count,
//! beside this machine's measured sgemm peak. Writes a JSON result and the exact texts used, so
//! `bench/embed_baseline.py` can run sentence-transformers on the same inputs in the same session.

use super::Outcome;
use crate::cli::BenchEmbedArgs;
use crate::config::ModelConfig;
use anyhow::{bail, Context, Result};
use nova_embed::{Embedder, Int8Kernel, Precision, SentenceEmbedder};
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

/// Latency of embedding `batch` queries in one call, as a server's batcher would.
#[derive(Debug, Serialize)]
struct LatencyCase {
    set: &'static str,
    threads: usize,
    batch: usize,
    calls: usize,
    p50_ms: f64,
    p99_ms: f64,
    texts_per_s: f64,
    /// The host's arithmetic ceiling for this call: its matmul FLOPs at the measured sgemm peak.
    ceiling_ms: f64,
    /// `ceiling_ms / p50_ms`: the share of the peak a call reaches.
    peak_fraction: f64,
}

/// How far int8 vectors are from fp32 ones on the benchmark's own texts.
#[derive(Debug, Serialize)]
struct Fidelity {
    set: &'static str,
    mean_cosine: f64,
    min_cosine: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    tool: &'static str,
    /// `fp32` or `int8` (`model.precision`).
    precision: String,
    /// The integer kernel in use (`avx512-vnni`, `avx2`, `portable`) when the precision is int8.
    int8_kernel: Option<String>,
    /// int8 only: cosine of each text's vector to its fp32 vector.
    fidelity: Vec<Fidelity>,
    /// OpenBLAS's kernel family (`SkylakeX`, `Haswell`, `Zen`, …): results depend on it.
    blas: String,
    model: String,
    cases: Vec<Case>,
    latency: Vec<LatencyCase>,
}

pub fn run(model: &ModelConfig, args: &BenchEmbedArgs) -> Result<Outcome> {
    let load = || {
        model
            .load_embedder()
            .with_context(|| format!("loading model {}", model.source()))
    };
    let embedder = &load()?;
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

    let blas = nova_embed::blas_core::current().unwrap_or_else(|| "none (candle gemm)".into());
    let precision = embedder.precision();
    let int8 = (precision == Precision::Int8).then(|| Int8Kernel::detect().to_string());
    eprintln!(
        "matmul kernels: OpenBLAS {blas}{}",
        int8.as_ref()
            .map(|k| format!(", dense layers int8 ({k})"))
            .unwrap_or_default()
    );
    let fidelity = if precision == Precision::Int8 {
        let reference = model.load_embedder_in(Precision::Fp32)?;
        [("queries", &queries), ("passages", &passages)]
            .into_iter()
            .map(|(set, texts)| fidelity(embedder, &reference, set, texts))
            .collect::<Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let mut cases = Vec::new();
    let mut latency = Vec::new();
    for &threads in &args.thread_counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()?;
        nova_embed::set_threads(threads.max(1));
        let peak = pool.install(|| nova_embed::sgemm_gflops(args.min_seconds.min(2.0)))?;
        // The embedder sizes its own query and bulk pools from the pool it is loaded in: a copy loaded
        // inside this one runs on `threads` cores (the one loaded outside would use them all).
        let embedder = &pool.install(load)?;
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
        for &batch in args.batch_sizes.iter().filter(|&&b| b > 0) {
            let case = pool.install(|| {
                measure_latency(embedder, &queries, threads, batch, peak, args.min_seconds)
            })?;
            eprintln!(
                "queries   threads={threads} batch={batch:<2} p50 {:>7.2} ms  p99 {:>7.2} ms  {:>7.1} texts/s  (ceiling {:.2} ms: {:.0}% of peak)",
                case.p50_ms, case.p99_ms, case.texts_per_s, case.ceiling_ms, case.peak_fraction * 100.0
            );
            latency.push(case);
        }
    }
    let report = Report {
        tool: "nova",
        precision: precision.to_string(),
        int8_kernel: int8,
        fidelity,
        blas,
        model: embedder.model_id().to_owned(),
        cases,
        latency,
    };
    fs_err::write(&args.out, serde_json::to_vec_pretty(&report)?)?;
    eprintln!(
        "wrote {} (texts in {})",
        args.out.display(),
        texts_path.display()
    );
    Ok(Outcome::Done)
}

/// Cosine of `embedder`'s vectors to `reference`'s on `texts` (both L2-normalised: a dot product).
fn fidelity(
    embedder: &SentenceEmbedder,
    reference: &SentenceEmbedder,
    set: &'static str,
    texts: &[String],
) -> Result<Fidelity> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (ours, theirs) = (embedder.embed(&refs)?, reference.embed(&refs)?);
    let cosines: Vec<f64> = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| nova_core::cosine(a, b))
        .collect();
    let out = Fidelity {
        set,
        mean_cosine: cosines.iter().sum::<f64>() / cosines.len().max(1) as f64,
        min_cosine: cosines.iter().copied().fold(f64::INFINITY, f64::min),
    };
    eprintln!(
        "{set:<9} int8 vs fp32 cosine: mean {:.5}, min {:.5}",
        out.mean_cosine, out.min_cosine
    );
    Ok(out)
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

/// Calls of `batch` consecutive queries (cycling through them) for `min_seconds`: per-call latency.
fn measure_latency(
    embedder: &SentenceEmbedder,
    queries: &[String],
    threads: usize,
    batch: usize,
    peak: f64,
    min_seconds: f64,
) -> Result<LatencyCase> {
    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
    let lengths: Vec<usize> = embedder.token_ids(&refs)?.iter().map(Vec::len).collect();
    let mean_flops = lengths
        .iter()
        .map(|&l| embedder.forward_flops(l))
        .sum::<f64>()
        / lengths.len() as f64;
    embedder.embed(&refs[..batch.min(refs.len())])?; // warm-up
    let mut millis = Vec::new();
    let start = Instant::now();
    let mut next = 0;
    while millis.is_empty() || start.elapsed().as_secs_f64() < min_seconds {
        let call: Vec<&str> = (0..batch).map(|i| refs[(next + i) % refs.len()]).collect();
        next = (next + batch) % refs.len();
        let t0 = Instant::now();
        embedder.embed(&call)?;
        millis.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let seconds = start.elapsed().as_secs_f64();
    millis.sort_by(f64::total_cmp);
    let p50_ms = nova_core::percentile(&millis, 0.50).unwrap_or(f64::NAN);
    let ceiling_ms = batch as f64 * mean_flops / (peak * 1e9) * 1000.0;
    Ok(LatencyCase {
        set: "queries",
        threads,
        batch,
        calls: millis.len(),
        p50_ms,
        p99_ms: nova_core::percentile(&millis, 0.99).unwrap_or(f64::NAN),
        texts_per_s: (millis.len() * batch) as f64 / seconds,
        ceiling_ms,
        peak_fraction: ceiling_ms / p50_ms,
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
