//! `nova bench http`: a bounded load against a search endpoint on this machine (127.0.0.1 only):
//! N concurrent clients send queries for S seconds per concurrency level; reports RPS, latency
//! percentiles and errors, and writes them as JSON. The same tool drives KB Nova and the seed stack,
//! which serve the same route.

use super::Outcome;
use crate::cli::BenchHttpArgs;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Serialize)]
struct Level {
    concurrency: usize,
    requests: usize,
    errors: usize,
    seconds: f64,
    rps: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
}

/// NaN for a level that completed no request, so the report shows it rather than a fake 0.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    nova_core::percentile(sorted, p).unwrap_or(f64::NAN)
}

/// Query texts from a JSONL file (`text` field: BEIR queries, eval query files).
fn load_queries(path: &std::path::Path) -> Result<Vec<String>> {
    let text = fs_err::read_to_string(path)?;
    let queries: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
        .filter(|t| !t.trim().is_empty())
        .collect();
    if queries.is_empty() {
        bail!("{}: no JSON lines with a `text` field", path.display());
    }
    Ok(queries)
}

pub fn run(args: &BenchHttpArgs) -> Result<Outcome> {
    let url = reqwest::Url::parse(&args.url).with_context(|| format!("bad --url {}", args.url))?;
    // A benchmark must never become a load test of somebody else's server.
    if !matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        bail!(
            "--url must point at this machine (127.0.0.1), got {}",
            args.url
        );
    }
    if args.duration <= 0.0 || args.duration > 600.0 {
        bail!("--duration must be in (0, 600] seconds");
    }
    let queries = Arc::new(load_queries(&args.queries)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let endpoint = url
        .join(&format!("v1/kbs/{}/search", args.kb))
        .context("building the search URL")?;
    let mut levels = Vec::new();
    for &concurrency in &args.concurrency {
        let level = runtime.block_on(load(
            endpoint.clone(),
            queries.clone(),
            concurrency,
            Duration::from_secs_f64(args.duration),
            args,
        ))?;
        println!(
            "{:<6} c={:<3} {:>8.1} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
            args.label, level.concurrency, level.rps, level.p50_ms, level.p95_ms, level.p99_ms, level.errors
        );
        levels.push(level);
    }
    let report = serde_json::json!({
        "label": args.label, "url": endpoint.as_str(), "kb": args.kb, "mode": args.mode, "k": args.k,
        "queries": queries.len(), "duration_s": args.duration, "levels": levels,
    });
    if let Some(dir) = args.out.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(&args.out, serde_json::to_vec_pretty(&report)?)?;
    eprintln!("wrote {}", args.out.display());
    Ok(Outcome::Done)
}

async fn load(
    endpoint: reqwest::Url,
    queries: Arc<Vec<String>>,
    concurrency: usize,
    duration: Duration,
    args: &BenchHttpArgs,
) -> Result<Level> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = &args.key {
        let mut value: reqwest::header::HeaderValue = format!("Bearer {key}")
            .parse()
            .context("--key is not a valid header value")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .default_headers(headers)
        .build()
        .context("building the HTTP client")?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, endpoint, queries, next) = (
            client.clone(),
            endpoint.clone(),
            queries.clone(),
            next.clone(),
        );
        let (mode, k) = (args.mode.clone(), args.k);
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let q = &queries[next.fetch_add(1, Ordering::Relaxed) % queries.len()];
                let body = serde_json::json!({"query": q, "k": k, "mode": mode});
                let t0 = Instant::now();
                match client.post(endpoint.clone()).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {
                        let ok = r.bytes().await.is_ok();
                        if ok {
                            latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                        } else {
                            errors += 1;
                        }
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.context("load task")?;
        latencies.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    Ok(Level {
        concurrency,
        requests: latencies.len(),
        errors,
        seconds,
        rps: latencies.len() as f64 / seconds,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
    })
}
