//! `nova serve`: binds first (so the address is known and `/healthz` answers at once), loads the
//! model on a worker thread (`/readyz` says 503 until then), and serves until SIGINT/SIGTERM, letting
//! in-flight requests finish.

use super::Outcome;
use crate::cli::ServeArgs;
use crate::config::Config;
use anyhow::{Context, Result};
use nova_auth::{AuthMode, Authenticator, JwtVerifier, KeyStore, Limiter};
use nova_embed::BatchingOptions;
use nova_engine::{Engine, EngineOptions};
use nova_server::{AppState, Limits, Security, SitePolicy};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

pub fn run(config: &Config, args: &ServeArgs) -> Result<Outcome> {
    let addr = args
        .addr
        .clone()
        .unwrap_or_else(|| config.server.addr.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let security = security(config, &addr)?;
    // Read the audit key and the TLS pair before binding: a missing file must stop the start, not the
    // first request.
    let audit = config.audit.settings(&config.auth)?;
    let tls = config.server.tls()?;
    let console = config.ui.settings(config.auth.jwt.as_ref())?;
    let limiter = security.limiter.clone();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr().context("reading the bound address")?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let ui = if console.is_some() {
            format!(", web console at {scheme}://{local}/ui/")
        } else {
            String::new()
        };
        println!("nova serving on {scheme}://{local} (API docs at {scheme}://{local}/docs{ui})");
        std::io::stdout().flush().ok();

        let limits = Limits {
            body_bytes: config.server.body_limit_mb * 1024 * 1024,
            request_timeout: Duration::from_secs(config.server.request_timeout_secs),
            header_read_timeout: Duration::from_secs(config.server.header_read_timeout_secs),
            max_connections: config.server.max_connections,
            max_query_chars: config.server.max_query_chars,
            max_filters: config.server.max_filters,
            max_uri_bytes: config.server.max_uri_bytes,
            ..Limits::default()
        };
        let site = SitePolicy {
            cors_origins: config.server.cors_origins.clone(),
            allowed_hosts: if config.server.allowed_hosts.is_empty() {
                SitePolicy::default_hosts(&local)
            } else {
                config.server.allowed_hosts.clone()
            },
            tls,
            console,
        };
        let state = AppState::with_site(limits, security, site);
        let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<anyhow::Error>();
        let loader_state = state.clone();
        let loader_config = config.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = load_engine(&loader_config, &loader_state, audit) {
                let _ = failed_tx.send(e);
            }
        });
        if let Some(watch) = config.drift.watch() {
            nova_server::drift::spawn(state.clone(), watch);
        }
        let server = nova_server::serve(listener, state, nova_server::shutdown_signal());
        tokio::select! {
            served = server => served.context("serving HTTP")?,
            Ok(e) = failed_rx => return Err(e),
        }
        // Today's request counts, so daily quotas hold across the restart.
        limiter.flush().context("writing request counts")?;
        Ok(Outcome::Done)
    })
}

/// The authentication settings; refuses `auth.mode = "off"` on a non-loopback address unless
/// `auth.allow_insecure_public`.
fn security(config: &Config, addr: &str) -> Result<Security> {
    let mode = config.auth.mode;
    let loopback = addr
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if mode == AuthMode::Off {
        if !loopback && !config.auth.allow_insecure_public {
            anyhow::bail!(
                "auth.mode = \"off\" would let anyone on the network read and delete every knowledge base \
                 at {addr}; listen on 127.0.0.1, turn auth on, or set auth.allow_insecure_public = true"
            );
        }
        tracing::warn!(%addr, "auth.mode = \"off\": every caller is an administrator (local development only)");
    }
    let dir = nova_core::DataLayout::new(&config.data.dir).auth_dir();
    let keys = KeyStore::open(&dir);
    if mode == AuthMode::Required
        && !loopback
        && config.auth.jwt.is_none()
        && keys.list().map(|k| k.is_empty()).unwrap_or(false)
    {
        tracing::warn!(%addr, "listening beyond this machine with no API key and no [auth.jwt]: every request will be refused until an admin runs `nova keys create`");
    }
    let mut authenticator = Authenticator::new(mode, keys, config.auth.role_limits()?);
    if let Some(jwt) = &config.auth.jwt {
        let verifier = JwtVerifier::new(jwt.settings()?, jwt.source()?, jwt.refresh())
            .context("loading the keys of auth.jwt")?;
        authenticator = authenticator.with_jwt(verifier);
    }
    // Its own link to Redis: limit checks never queue behind query-cache calls.
    let redis = config.cache.redis()?;
    Ok(Security {
        authenticator,
        public_metrics: config.auth.public_metrics,
        limiter: Limiter::open_shared(&dir, redis.map(nova_auth::SharedLimits::new))
            .context("reading request counts")?,
    })
}

fn load_engine(config: &Config, state: &AppState, audit: nova_engine::AuditSettings) -> Result<()> {
    let embedder: Arc<dyn nova_embed::Embedder> = Arc::new(super::load_embedder(config)?);
    let opts = state.engine_options(EngineOptions {
        cache_entries: config.server.query_cache,
        shared_cache: config
            .cache
            .redis()?
            .map(|r| r as Arc<dyn nova_core::SharedCache>),
        batching: BatchingOptions {
            max_wait: Duration::from_millis(config.server.batch_wait_ms),
            queue: config.server.batch_queue,
            ..BatchingOptions::default()
        },
        feedback_retention_days: config.data.feedback_retention_days,
        task_retention_days: config.data.task_retention_days,
        min_free_bytes: config.data.min_free_bytes(),
        query_log: config.data.query_log,
        drift: config.drift.settings(),
        answers: config.generation.answer_options(),
        audit,
        redaction: config.redaction.settings(),
        encryption: config.encryption.settings(),
        privilege_tag: config.compliance.profile.privilege_tag(),
    });
    let engine = Engine::new(&config.data.dir, embedder, opts)
        .with_context(|| format!("opening data folder {}", config.data.dir.display()))?
        .with_generator(config.generation.loader());
    let engine = super::on_configured_store(config, engine)?;
    state.set_engine(Arc::new(engine));
    tracing::info!("model loaded; ready");
    Ok(())
}
