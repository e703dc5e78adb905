//! The one typed configuration tree: compiled-in defaults (`config/nova.example.toml`) → `nova.toml` or
//! `--config FILE` → `NOVA_SECTION__KEY` environment variables → command-line flags.

use anyhow::{bail, Context, Result};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use nova_embed::{BatchOptions, ModelSource};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The documented defaults, compiled in so the binary runs with no file at all.
pub const EXAMPLE: &str = include_str!("../../../config/nova.example.toml");

/// Everything `nova` can be configured with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The embedding model.
    pub model: ModelConfig,
    /// Where data lives.
    pub data: DataConfig,
    /// `nova serve`.
    pub server: ServerConfig,
    /// Who may call `nova serve`.
    pub auth: AuthConfig,
}

/// `[auth]`: authentication of HTTP callers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `required` (an API key on every route but the health probes) or `off` (local development).
    pub mode: nova_auth::AuthMode,
    /// Serve `/metrics` without a key.
    pub public_metrics: bool,
    /// Allow `mode = "off"` on a non-loopback address.
    pub allow_insecure_public: bool,
    /// Request rate per role for keys without their own (`600/min`); absent = unlimited.
    #[serde(default)]
    pub role_rates: std::collections::BTreeMap<nova_core::Role, String>,
    /// Requests per UTC day per role for keys without their own; absent = unlimited.
    #[serde(default)]
    pub role_daily_quotas: std::collections::BTreeMap<nova_core::Role, u64>,
}

impl AuthConfig {
    /// The per-role default limits, rates parsed (an error names the key).
    pub fn role_limits(&self) -> Result<nova_auth::RoleLimits> {
        let mut limits = nova_auth::RoleLimits::default();
        for (role, rate) in &self.role_rates {
            let parsed: nova_auth::Rate = rate
                .parse()
                .map_err(|e: String| anyhow::anyhow!("auth.role_rates.{}: {e}", role.as_str()))?;
            limits.rates.insert(*role, parsed);
        }
        limits.daily_quotas = self
            .role_daily_quotas
            .iter()
            .map(|(r, q)| (*r, *q))
            .collect();
        Ok(limits)
    }
}

/// `[server]`: the HTTP service.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address; port 0 picks a free port.
    pub addr: String,
    /// Largest request body, in MiB.
    pub body_limit_mb: usize,
    /// Longest a request may take, in seconds.
    pub request_timeout_secs: u64,
    /// Query-embedding cache entries; 0 = off.
    pub query_cache: u64,
    /// Longest a query waits to share a forward pass with concurrent ones, in milliseconds.
    pub batch_wait_ms: u64,
    /// Most queries waiting for the model; more are answered `429 overloaded`.
    pub batch_queue: usize,
}

/// `[data]`: storage locations.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Data folder; knowledge bases are under `kbs/`.
    pub dir: std::path::PathBuf,
    /// KB used when `--kb` is absent.
    pub default_kb: String,
}

/// `[model]`: which embedding model and how to batch it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Local folder or `hf:owner/name[@rev]`.
    pub path: String,
    /// Most texts per forward pass.
    pub max_batch: usize,
    /// Most padded tokens per forward pass.
    pub max_batch_tokens: usize,
    /// Inference threads; 0 = all cores.
    pub threads: usize,
}

impl Config {
    /// Loads the layers; `file` is `--config` (an error if it does not exist) or else `./nova.toml` if present.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let mut fig = Figment::from(Toml::string(EXAMPLE));
        match file {
            Some(path) if !path.is_file() => bail!("config file {} does not exist", path.display()),
            Some(path) => fig = fig.merge(Toml::file(path)),
            None if Path::new("nova.toml").is_file() => fig = fig.merge(Toml::file("nova.toml")),
            None => {}
        }
        let config: Self = fig
            // Only NOVA_SECTION__KEY variables are config; other NOVA_* names belong to scripts.
            .merge(
                Env::prefixed("NOVA_")
                    .filter(|k| k.as_str().contains("__"))
                    .split("__"),
            )
            .extract()
            .context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Range checks that serde cannot express; errors name the key.
    fn validate(&self) -> Result<()> {
        if self.model.max_batch == 0 {
            bail!("model.max_batch must be at least 1");
        }
        if self.model.max_batch_tokens < self.model.max_batch {
            bail!("model.max_batch_tokens must be at least model.max_batch");
        }
        if self.server.addr.parse::<std::net::SocketAddr>().is_err() {
            bail!(
                "server.addr `{}` is not an address like 127.0.0.1:8080",
                self.server.addr
            );
        }
        if self.server.batch_queue == 0 {
            bail!("server.batch_queue must be at least 1");
        }
        if self.server.body_limit_mb == 0 || self.server.request_timeout_secs == 0 {
            bail!("server.body_limit_mb and server.request_timeout_secs must be at least 1");
        }
        self.auth.role_limits()?;
        if self.model.path.trim().is_empty() {
            bail!("model.path must not be empty");
        }
        Ok(())
    }
}

impl ModelConfig {
    /// Where to load the model from.
    pub fn source(&self) -> ModelSource {
        ModelSource::parse(&self.path)
    }

    /// Batching limits for the embedder.
    pub fn batch(&self) -> BatchOptions {
        BatchOptions {
            max_batch: self.max_batch,
            max_batch_tokens: self.max_batch_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_validates() {
        let config: Config = Figment::from(Toml::string(EXAMPLE))
            .extract()
            .expect("example config parses");
        config.validate().expect("example config is valid");
        assert_eq!(config.model.max_batch, 32);
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = Figment::from(Toml::string(EXAMPLE))
            .merge(Toml::string("[model]\nbatch = 3"))
            .extract::<Config>()
            .expect_err("unknown key must fail");
        assert!(err.to_string().contains("batch"), "{err}");
    }

    #[test]
    fn zero_batch_is_rejected_naming_the_key() {
        let mut config: Config = Figment::from(Toml::string(EXAMPLE))
            .extract()
            .expect("parses");
        config.model.max_batch = 0;
        let err = config.validate().expect_err("must fail");
        assert!(err.to_string().contains("model.max_batch"));
    }
}
