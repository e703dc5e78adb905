//! Prometheus metrics, one registry per server (no process-global state, so tests can run several
//! servers in one process). Names follow `nova_<area>_<what>_<unit>`.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::time::Instant;

/// Latency buckets in seconds, from 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    search_seconds: HistogramVec,
    searches: IntCounterVec,
    zero_results: IntCounterVec,
    embed_batch_size: HistogramVec,
    embed_batch_seconds: HistogramVec,
    kb_documents: IntGaugeVec,
    kb_chunks: IntGaugeVec,
    kb_index_version: IntGaugeVec,
    drift: prometheus::GaugeVec,
    drift_alerting: IntGaugeVec,
    ab_search_seconds: HistogramVec,
    ab_ratings: IntCounterVec,
    cache: IntGaugeVec,
    in_flight: prometheus::IntGauge,
    gen_tokens: IntCounterVec,
    gen_ttft: HistogramVec,
    gen_speed: HistogramVec,
    gen_answers: IntCounterVec,
    gen_dropped: IntCounterVec,
    gen_errors: IntCounterVec,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric names and labels below are constants; registration only fails on a duplicate name,
    // which is a programming error caught by the first test that builds a server.
    r.expect("metric definitions are valid and unique")
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = must(IntCounterVec::new(Opts::new(name, help), labels));
            must(registry.register(Box::new(c.clone())));
            c
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = must(IntGaugeVec::new(Opts::new(name, help), labels));
            must(registry.register(Box::new(g.clone())));
            g
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = must(HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets),
                labels,
            ));
            must(registry.register(Box::new(h.clone())));
            h
        };
        Self {
            requests: counter(
                "nova_http_requests_total",
                "HTTP requests by route, method and status.",
                &["route", "method", "status"],
            ),
            request_seconds: histogram(
                "nova_http_request_duration_seconds",
                "HTTP request latency by route and method.",
                &["route", "method"],
                LATENCY_BUCKETS.to_vec(),
            ),
            search_seconds: histogram(
                "nova_search_duration_seconds",
                "Search latency (embedding included) by mode.",
                &["mode"],
                LATENCY_BUCKETS.to_vec(),
            ),
            searches: counter("nova_search_queries_total", "Searches by mode.", &["mode"]),
            zero_results: counter(
                "nova_search_zero_results_total",
                "Searches that returned nothing, by mode.",
                &["mode"],
            ),
            embed_batch_size: histogram(
                "nova_embed_batch_size",
                "Texts per embedding forward pass (dynamic batching of queries).",
                &["source"],
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
            ),
            embed_batch_seconds: histogram(
                "nova_embed_batch_duration_seconds",
                "Time per embedding call.",
                &["source"],
                LATENCY_BUCKETS.to_vec(),
            ),
            kb_documents: gauge(
                "nova_kb_documents",
                "Documents per knowledge base.",
                &["kb"],
            ),
            kb_chunks: gauge("nova_kb_chunks", "Chunks per knowledge base.", &["kb"]),
            kb_index_version: gauge(
                "nova_kb_index_version",
                "The index version serving each knowledge base (nova index list).",
                &["kb"],
            ),
            drift: {
                let g = must(prometheus::GaugeVec::new(
                    Opts::new(
                        "nova_drift",
                        "Query drift against the reference window, by signal: centroid_shift \
                         (1 - cosine of mean query embeddings), low_score_share, zero_result_rate, \
                         oov_rate (current value).",
                    ),
                    &["kb", "signal"],
                ));
                must(registry.register(Box::new(g.clone())));
                g
            },
            drift_alerting: gauge(
                "nova_drift_alerting",
                "1 while a drift signal is past its threshold ([drift] in the configuration).",
                &["kb", "signal"],
            ),
            ab_ratings: counter(
                "nova_ab_ratings_total",
                "Results rated per A/B arm while a test runs, by rating (helpful, not_helpful, resolved).",
                &["kb", "arm", "rating"],
            ),
            ab_search_seconds: histogram(
                "nova_ab_search_duration_seconds",
                "Search latency per A/B arm while a test runs (its count: searches per arm).",
                &["kb", "arm"],
                LATENCY_BUCKETS.to_vec(),
            ),
            cache: gauge(
                "nova_query_cache_lookups",
                "Query-embedding cache lookups since start, by result.",
                &["result"],
            ),
            in_flight: {
                let g = must(prometheus::IntGauge::new(
                    "nova_http_requests_in_flight",
                    "Requests being served now.",
                ));
                must(registry.register(Box::new(g.clone())));
                g
            },
            gen_tokens: counter(
                "nova_generation_tokens_total",
                "Tokens read (prompt) and written (completion) by the answer generator.",
                &["provider", "kind"],
            ),
            gen_ttft: histogram(
                "nova_generation_time_to_first_token_seconds",
                "From calling the generator to its first text.",
                &["provider"],
                LATENCY_BUCKETS.to_vec(),
            ),
            gen_speed: histogram(
                "nova_generation_tokens_per_second",
                "Decode speed of each answer (completion tokens per second after the first).",
                &["provider"],
                vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0],
            ),
            gen_answers: counter(
                "nova_answers_total",
                "Answers by outcome: answered, or refused (nothing relevant; no model called).",
                &["provider", "outcome"],
            ),
            gen_dropped: counter(
                "nova_answer_dropped_citations_total",
                "Citations in generated text naming no passage given to the model (removed).",
                &["provider"],
            ),
            gen_errors: counter(
                "nova_generation_errors_total",
                "Answers that failed in the generator, by error code.",
                &["provider", "code"],
            ),
            registry,
        }
    }

    /// Records one answer.
    pub fn answer(&self, a: &nova_engine::Answer) {
        let p = a.provider.as_str();
        let outcome = if a.refused { "refused" } else { "answered" };
        self.gen_answers.with_label_values(&[p, outcome]).inc();
        if a.refused {
            return;
        }
        self.gen_tokens
            .with_label_values(&[p, "prompt"])
            .inc_by(a.usage.prompt_tokens as u64);
        self.gen_tokens
            .with_label_values(&[p, "completion"])
            .inc_by(a.usage.completion_tokens as u64);
        self.gen_dropped
            .with_label_values(&[p])
            .inc_by(a.dropped_citations as u64);
        if let Some(ms) = a.timings.time_to_first_token_ms {
            self.gen_ttft.with_label_values(&[p]).observe(ms / 1000.0);
        }
        if let Some(tps) = a.timings.tokens_per_second {
            self.gen_speed.with_label_values(&[p]).observe(tps);
        }
    }

    /// Records an answer that failed with `code` (an endpoint down, a model that would not load).
    pub fn generation_error(&self, provider: &str, code: nova_core::Code) {
        self.gen_errors
            .with_label_values(&[provider, code.as_str()])
            .inc();
    }

    /// Records one search.
    pub fn search(&self, mode: &str, seconds: f64, results: usize) {
        self.search_seconds
            .with_label_values(&[mode])
            .observe(seconds);
        self.searches.with_label_values(&[mode]).inc();
        if results == 0 {
            self.zero_results.with_label_values(&[mode]).inc();
        }
    }

    /// Records a search served on an A/B arm.
    pub fn ab_search(&self, kb: &str, arm: &str, seconds: f64) {
        self.ab_search_seconds
            .with_label_values(&[kb, arm])
            .observe(seconds);
    }

    /// Records a rating given on an A/B arm.
    pub fn ab_rating(&self, kb: &str, arm: &str, rating: nova_engine::Rating) {
        let rating = match rating {
            nova_engine::Rating::Helpful => "helpful",
            nova_engine::Rating::NotHelpful => "not_helpful",
            nova_engine::Rating::Resolved => "resolved",
        };
        self.ab_ratings.with_label_values(&[kb, arm, rating]).inc();
    }

    /// Records one embedding call of `size` texts.
    pub fn embed_batch(&self, source: &str, size: usize, seconds: f64) {
        self.embed_batch_size
            .with_label_values(&[source])
            .observe(size as f64);
        self.embed_batch_seconds
            .with_label_values(&[source])
            .observe(seconds);
    }

    /// Sets the per-KB gauges (called at scrape time) to exactly the KBs given, so a deleted KB's
    /// series disappear.
    pub fn set_kbs(&self, kbs: &[nova_engine::KbInfo]) {
        self.kb_documents.reset();
        self.kb_chunks.reset();
        self.kb_index_version.reset();
        for kb in kbs {
            let label = [kb.name.as_str()];
            self.kb_documents
                .with_label_values(&label)
                .set(kb.documents as i64);
            self.kb_chunks
                .with_label_values(&label)
                .set(kb.chunks as i64);
            self.kb_index_version
                .with_label_values(&label)
                .set(i64::from(kb.index_version));
        }
    }

    /// Sets the drift gauges to exactly the reports given (a KB without a reference has none).
    pub fn set_drift(&self, reports: &[nova_engine::DriftReport]) {
        self.drift.reset();
        self.drift_alerting.reset();
        for r in reports {
            for s in &r.signals {
                let labels = [r.kb.as_str(), s.metric.as_str()];
                self.drift.with_label_values(&labels).set(s.value);
                self.drift_alerting
                    .with_label_values(&labels)
                    .set(i64::from(s.alert));
            }
        }
    }

    /// Sets the cache lookup gauges.
    pub fn set_cache(&self, hits: u64, misses: u64) {
        self.cache.with_label_values(&["hit"]).set(hits as i64);
        self.cache.with_label_values(&["miss"]).set(misses as i64);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("encoding metrics: {e}");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A request method as a label: the ones HTTP defines, else `other` (a client can send any token as
/// a method, and each would otherwise become a series kept forever).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One request being tracked. Dropped without [`Tracked::finish`] means the request future was
/// cancelled: by the request timeout, which answers 408 from outside (counted as `408`), or by the client
/// going away first (counted as `499`, nginx's "client closed request"). Either way the in-flight gauge
/// comes back down and the request is in the counter and histogram.
struct Tracked {
    state: crate::AppState,
    route: String,
    method: &'static str,
    started: Instant,
    status: Option<axum::http::StatusCode>,
}

impl Tracked {
    fn finish(mut self, status: axum::http::StatusCode) {
        self.status = Some(status);
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let m = self.state.metrics();
        m.in_flight.dec();
        let elapsed = self.started.elapsed();
        let status = match self.status {
            Some(s) => s.as_str().to_owned(),
            None if elapsed >= self.state.limits().request_timeout => "408".into(),
            None => "499".into(),
        };
        m.requests
            .with_label_values(&[&self.route, self.method, &status])
            .inc();
        m.request_seconds
            .with_label_values(&[&self.route, self.method])
            .observe(elapsed.as_secs_f64());
    }
}

/// Counts and times every request under its route template (`/v1/kbs/{kb}/search`, not the raw path)
/// and a bounded method label, so label cardinality stays bounded whatever clients send.
pub async fn track(State(state): State<crate::AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    state.metrics().in_flight.inc();
    let tracked = Tracked {
        method: method_label(request.method()),
        state,
        route,
        started: Instant::now(),
        status: None,
    };
    let response = next.run(request).await;
    tracked.finish(response.status());
    response
}
