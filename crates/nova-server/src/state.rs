//! Shared state: the engine (set once the model has loaded), metrics and limits.

use crate::metrics::Metrics;
use nova_auth::{Authenticator, Limiter};
use nova_engine::Engine;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body in bytes.
    pub body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Most inputs in one `/v1/embeddings` call.
    pub max_embedding_inputs: usize,
    /// Largest `k` a search may ask for.
    pub max_k: usize,
    /// Time a connection may take to send a complete request head, counted from when it starts
    /// waiting for one: bounds half-sent headers and idle keep-alive connections alike.
    pub header_read_timeout: Duration,
    /// Open connections at most; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Longest `query` (search) or `problem` (troubleshoot), in characters.
    pub max_query_chars: usize,
    /// Most filter conditions (filters plus tags) in one search or troubleshoot request.
    pub max_filters: usize,
    /// Longest request target (path and query string), in bytes; longer ones get a JSON 414.
    pub max_uri_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            max_embedding_inputs: 2048,
            max_k: 100,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_query_chars: 4096,
            max_filters: 32,
            max_uri_bytes: 8192,
        }
    }
}

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    engine: OnceLock<Arc<Engine>>,
    metrics: Arc<Metrics>,
    limits: Limits,
    security: Security,
    site: crate::site::SitePolicy,
}

/// Who may call: the authenticator (API keys) and whether `/metrics` is open to scrapers without one.
pub struct Security {
    /// Turns `Authorization` headers into principals.
    pub authenticator: Authenticator,
    /// `/metrics` without a key (`auth.public_metrics`).
    pub public_metrics: bool,
    /// Rate limits and daily quotas per caller.
    pub limiter: Arc<Limiter>,
}

impl AppState {
    /// State without an engine yet: the server answers `/healthz` and reports not ready.
    pub fn new(limits: Limits, security: Security) -> Self {
        Self::with_site(limits, security, crate::site::SitePolicy::default())
    }

    /// [`Self::new`] with a browser policy (allowed origins and hosts).
    pub fn with_site(limits: Limits, security: Security, site: crate::site::SitePolicy) -> Self {
        Self {
            inner: Arc::new(Shared {
                engine: OnceLock::new(),
                metrics: Arc::new(Metrics::new()),
                limits,
                security,
                site,
            }),
        }
    }

    /// Which browser origins and `Host` names are served.
    pub fn site(&self) -> &crate::site::SitePolicy {
        &self.inner.site
    }

    /// Authentication settings.
    pub fn security(&self) -> &Security {
        &self.inner.security
    }

    /// Makes the service ready. A second call is ignored.
    pub fn set_engine(&self, engine: Arc<Engine>) {
        if self.inner.engine.set(engine.clone()).is_err() {
            tracing::warn!("engine was already set");
            return;
        }
        // The server runs the ingest tasks of the engine it serves (and resumes unfinished ones).
        if let Err(e) = engine.start_task_worker() {
            tracing::error!("cannot start the ingest task worker: {e}");
        }
    }

    /// The engine, once ready.
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.inner.engine.get().cloned()
    }

    /// Prometheus metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A shared handle to the metrics, for observers outside request handling (embedding batches).
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        self.inner.metrics.clone()
    }

    /// `base` with an observer that records query-embedding batches in this server's metrics.
    pub fn engine_options(&self, base: nova_engine::EngineOptions) -> nova_engine::EngineOptions {
        let metrics = self.metrics_handle();
        let mut opts = base;
        opts.batching.observer = Some(Arc::new(move |n, took| {
            metrics.embed_batch("query", n, took.as_secs_f64());
        }));
        opts
    }

    /// Request limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }
}
