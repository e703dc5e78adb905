//! `nova bench soak`: mixed traffic at a steady rate for a long time against a server on this machine —
//! searches, troubleshooting, one-document ingests and deletes — while the server's resident memory and
//! open file descriptors are sampled from /proc. The answer to "does it degrade or leak over hours":
//! per-window latency percentiles, error and shed counts, and trends, as JSON and as an SVG plot.
//!
//! The loop is open: a request starts every 1/rate seconds whatever the answers take, so a server that
//! slows down shows as latency (and, past `--max-in-flight`, as shed requests), never as a quietly lower
//! rate.

use super::bench_http::{client, load_queries};
use super::soak_report::{summarise, Op, Probe, Sample};
use super::Outcome;
use crate::cli::BenchSoakArgs;
use anyhow::{bail, Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// One cycle of the mix: 12 searches, 5 troubleshoots, 2 ingests, 1 delete, interleaved.
const MIX: [Op; 20] = {
    use Op::{Delete as D, Ingest as I, Search as S, Troubleshoot as T};
    [S, S, T, S, I, S, T, S, S, T, S, D, S, T, S, I, S, T, S, S]
};

/// How many `soak-N` documents the ingests cycle through (each ingest replaces one; deletes remove one).
const SOAK_DOCS: usize = 50;

/// The server under test: where to send each operation.
struct Target {
    client: reqwest::Client,
    base: reqwest::Url,
    kb: String,
    queries: Vec<String>,
}

impl Target {
    fn url(&self, path: &str) -> Result<reqwest::Url> {
        self.base
            .join(&format!("v1/kbs/{}/{path}", self.kb))
            .context("building a URL")
    }

    /// Sends request number `n` (operation `op`); `Ok(true)` when it succeeded.
    async fn send(&self, n: usize, op: Op) -> Result<bool> {
        let q = &self.queries[n % self.queries.len()];
        // The request number makes every text unique: no query-cache hit hides the embedding path.
        let text = format!("{q} {n}");
        let doc = (n / MIX.len()) % SOAK_DOCS;
        let request = match op {
            Op::Search => self
                .client
                .post(self.url("search")?)
                .json(&serde_json::json!({"query": text, "k": 10})),
            Op::Troubleshoot => self
                .client
                .post(self.url("troubleshoot")?)
                .json(&serde_json::json!({"problem": text})),
            Op::Ingest => {
                let body = format!("{text}. {}", self.queries[(n * 7 + 3) % self.queries.len()]);
                self.client.post(self.url("documents?wait=true")?).json(
                    &serde_json::json!({"documents": [
                        {"id": format!("soak-{doc}"), "title": q, "text": body.repeat(8)}
                    ]}),
                )
            }
            Op::Delete => self
                .client
                .delete(self.url(&format!("documents/soak-{}", (doc * 7) % SOAK_DOCS))?),
        };
        let response = request.send().await?;
        let status = response.status();
        response.bytes().await?;
        // Deleting a document that a recent delete already removed is a correct answer.
        Ok(status.is_success() || (op == Op::Delete && status == reqwest::StatusCode::NOT_FOUND))
    }
}

/// `pid`'s resident memory — all of it, and its anonymous part (heap, stacks: where a leak grows; the
/// rest is file pages of the store's memory-mapped files, which follow the KB's size) — and its open
/// file descriptors, from /proc.
fn probe(pid: u32, at_s: f64) -> Option<Probe> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mib = |field: &str| -> Option<f64> {
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some(Probe {
        at_s,
        rss_mib: mib("VmRSS:")?,
        anon_mib: mib("RssAnon:")?,
        fds,
    })
}

pub fn run(args: &BenchSoakArgs) -> Result<Outcome> {
    if !(args.minutes > 0.0 && args.minutes <= 24.0 * 60.0) {
        bail!("--minutes must be in (0, 1440]");
    }
    if !(args.rate > 0.0 && args.rate <= 1000.0) {
        bail!("--rate must be in (0, 1000] requests per second");
    }
    if args.window == 0 {
        bail!("--window must be at least 1 second");
    }
    let base = reqwest::Url::parse(&args.url).with_context(|| format!("bad URL {}", args.url))?;
    if !matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        bail!(
            "{}: benchmarks only target this machine (127.0.0.1)",
            args.url
        );
    }
    if let Some(pid) = args.pid {
        probe(pid, 0.0)
            .with_context(|| format!("cannot read /proc/{pid}: is --pid the server's?"))?;
    }
    let target = Arc::new(Target {
        client: client(args.key.as_deref(), args.max_in_flight)?,
        base,
        kb: args.kb.clone(),
        queries: load_queries(&args.queries)?,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    eprintln!(
        "soak: {:.0} min at {} req/s against {} (kb {}), windows of {} s",
        args.minutes, args.rate, args.url, args.kb, args.window
    );
    let (samples, probes, shed) = runtime.block_on(drive(target, args, duration))?;
    let report = summarise(&samples, &probes, shed, args);
    if let Some(dir) = args.out.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(&args.out, serde_json::to_vec_pretty(&report)?)?;
    super::soak_plot::draw(&report, &args.plot)?;
    println!("{}", report.verdict());
    eprintln!("wrote {} and {}", args.out.display(), args.plot.display());
    Ok(Outcome::Done)
}

/// Runs the traffic for `duration`: every request's outcome, a probe per window, and the shed count.
async fn drive(
    target: Arc<Target>,
    args: &BenchSoakArgs,
    duration: Duration,
) -> Result<(Vec<Sample>, Vec<Probe>, usize)> {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let slots = Arc::new(Semaphore::new(args.max_in_flight.max(1)));
    let prober = args.pid.map(|pid| {
        let every = Duration::from_secs(args.window);
        tokio::spawn(async move {
            let mut probes = Vec::new();
            let mut tick = tokio::time::interval(every);
            while started.elapsed() < duration + every / 2 {
                tick.tick().await;
                probes.extend(probe(pid, started.elapsed().as_secs_f64()));
            }
            probes
        })
    });
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut n, mut shed) = (0usize, 0usize);
    let mut last_report = Instant::now();
    while started.elapsed() < duration {
        tick.tick().await;
        let op = MIX[n % MIX.len()];
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            shed += 1;
            n += 1;
            continue;
        };
        let (target, tx) = (target.clone(), tx.clone());
        tokio::spawn(async move {
            let t0 = Instant::now();
            let ok = target.send(n, op).await.unwrap_or(false);
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            let at_s = started.elapsed().as_secs_f64();
            let _ = tx.send(Sample { at_s, op, ms, ok });
            drop(slot);
        });
        n += 1;
        if last_report.elapsed() >= Duration::from_secs(60) {
            last_report = Instant::now();
            eprintln!(
                "soak: {:.0}/{:.0} min, {n} requests started, {shed} shed",
                started.elapsed().as_secs_f64() / 60.0,
                duration.as_secs_f64() / 60.0
            );
        }
    }
    drop(tx);
    // Let the requests in flight finish (each is bounded by the server's own request timeout).
    let mut samples = Vec::with_capacity(n);
    while let Some(s) = rx.recv().await {
        samples.push(s);
    }
    let probes = match prober {
        Some(p) => p.await.context("the /proc sampler")?,
        None => Vec::new(),
    };
    Ok((samples, probes, shed))
}
