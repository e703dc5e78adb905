//! `nova bench http`: a bounded load against a search endpoint on this machine (127.0.0.1 only):
//! N concurrent clients send queries for S seconds per concurrency level; reports RPS, latency
//! percentiles and errors, and writes them as JSON. The same tool drives KB Nova and the seed stack,
//! which serve the same route. With `--arm` it interleaves several servers request by request (a
//! paired comparison the host's noise cannot bias).

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
    mean_ms: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
}

/// NaN for a level that completed no request, so the report shows it rather than a fake 0.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    nova_core::percentile(sorted, p).unwrap_or(f64::NAN)
}

/// Query texts from a JSONL file (`text` field: BEIR queries, eval query files).
pub(crate) fn load_queries(path: &std::path::Path) -> Result<Vec<String>> {
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

/// One server under load: its label, search URL and client (with its key).
struct Arm {
    label: String,
    endpoint: reqwest::Url,
    client: reqwest::Client,
}

/// `--url` (with `--key`) as the one arm, or every `--arm LABEL=URL` with `NOVA_KEY_<LABEL>`.
fn arms(args: &BenchHttpArgs, concurrency: usize) -> Result<Vec<Arm>> {
    let specs: Vec<(String, String, Option<String>)> = if args.arms.is_empty() {
        vec![(args.label.clone(), args.url.clone(), args.key.clone())]
    } else {
        args.arms
            .iter()
            .map(|spec| {
                let (label, url) = spec
                    .split_once('=')
                    .with_context(|| format!("--arm {spec}: expected LABEL=URL"))?;
                let key = std::env::var(format!("NOVA_KEY_{}", label.to_uppercase())).ok();
                Ok((label.to_owned(), url.to_owned(), key))
            })
            .collect::<Result<_>>()?
    };
    specs
        .into_iter()
        .map(|(label, url, key)| {
            let base = reqwest::Url::parse(&url).with_context(|| format!("bad URL {url}"))?;
            // A benchmark must never become a load test of somebody else's server.
            if !matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
                bail!("{url}: benchmarks only target this machine (127.0.0.1)");
            }
            let endpoint = base
                .join(&format!("v1/kbs/{}/search", args.kb))
                .context("building the search URL")?;
            Ok(Arm {
                label,
                endpoint,
                client: client(key.as_deref(), concurrency)?,
            })
        })
        .collect()
}

pub(crate) fn client(key: Option<&str>, concurrency: usize) -> Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        let mut value: reqwest::header::HeaderValue = format!("Bearer {key}")
            .parse()
            .context("the key is not a valid header value")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .default_headers(headers)
        .build()
        .context("building the HTTP client")
}

pub fn run(args: &BenchHttpArgs) -> Result<Outcome> {
    if args.duration <= 0.0 || args.duration > 600.0 {
        bail!("--duration must be in (0, 600] seconds");
    }
    let queries = Arc::new(load_queries(&args.queries)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut levels = Vec::new();
    let mut by_arm = serde_json::Map::new();
    let mut urls = Vec::new();
    for &concurrency in &args.concurrency {
        let arms = Arc::new(arms(args, concurrency)?);
        urls = arms.iter().map(|a| a.endpoint.to_string()).collect();
        let per_arm = runtime.block_on(load(
            arms.clone(),
            queries.clone(),
            concurrency,
            Duration::from_secs_f64(args.duration),
            args,
        ))?;
        for (arm, level) in arms.iter().zip(per_arm) {
            println!(
                "{:<6} c={:<3} {:>8.1} req/s  mean {:>7.2} ms  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
                arm.label, level.concurrency, level.rps, level.mean_ms, level.p50_ms, level.p95_ms, level.p99_ms, level.errors
            );
            if args.arms.is_empty() {
                levels.push(level);
            } else {
                let entry = by_arm
                    .entry(arm.label.clone())
                    .or_insert_with(|| serde_json::json!([]));
                if let Some(list) = entry.as_array_mut() {
                    list.push(serde_json::to_value(&level)?);
                }
            }
        }
    }
    let report = if args.arms.is_empty() {
        serde_json::json!({
            "label": args.label, "url": urls.first(), "kb": args.kb, "mode": args.mode, "k": args.k,
            "queries": queries.len(), "duration_s": args.duration, "levels": levels,
        })
    } else {
        serde_json::json!({
            "label": args.label, "urls": urls, "kb": args.kb, "mode": args.mode, "k": args.k,
            "queries": queries.len(), "duration_s": args.duration, "interleaved": true, "arms": by_arm,
        })
    };
    if let Some(dir) = args.out.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(&args.out, serde_json::to_vec_pretty(&report)?)?;
    eprintln!("wrote {}", args.out.display());
    Ok(Outcome::Done)
}

/// Drives `arms` with `concurrency` clients for `duration`: each request goes to the next arm in turn
/// (in an order that turns every cycle), and every arm gets the same query in turn, so they see the
/// same work. One level per arm.
async fn load(
    arms: Arc<Vec<Arm>>,
    queries: Arc<Vec<String>>,
    concurrency: usize,
    duration: Duration,
    args: &BenchHttpArgs,
) -> Result<Vec<Level>> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let n_arms = arms.len().max(1);
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (arms, queries, next) = (arms.clone(), queries.clone(), next.clone());
        let (mode, k) = (args.mode.clone(), args.k);
        tasks.push(tokio::spawn(async move {
            let mut latencies = vec![Vec::new(); n_arms];
            let mut errors = vec![0usize; n_arms];
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                // Each cycle sends one query to every arm; the order turns every cycle, so no arm is
                // always the one right after (or before) another in the sequence.
                let (cycle, position) = (n / n_arms, n % n_arms);
                let a = (position + cycle) % n_arms;
                let arm = &arms[a];
                let q = &queries[cycle % queries.len()];
                let body = serde_json::json!({"query": q, "k": k, "mode": mode});
                let t0 = Instant::now();
                let ok = match arm
                    .client
                    .post(arm.endpoint.clone())
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                if ok {
                    latencies[a].push(t0.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors[a] += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = vec![Vec::new(); n_arms];
    let mut errors = vec![0usize; n_arms];
    for t in tasks {
        let (l, e) = t.await.context("load task")?;
        for a in 0..n_arms {
            latencies[a].extend_from_slice(&l[a]);
            errors[a] += e[a];
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(latencies
        .into_iter()
        .zip(errors)
        .map(|(mut l, errors)| {
            l.sort_by(f64::total_cmp);
            let mean_ms = if l.is_empty() {
                f64::NAN
            } else {
                l.iter().sum::<f64>() / l.len() as f64
            };
            Level {
                concurrency,
                requests: l.len(),
                errors,
                seconds,
                rps: l.len() as f64 / seconds,
                mean_ms,
                p50_ms: percentile(&l, 0.50),
                p95_ms: percentile(&l, 0.95),
                p99_ms: percentile(&l, 0.99),
            }
        })
        .collect())
}
