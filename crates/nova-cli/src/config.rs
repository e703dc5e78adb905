//! The one typed configuration tree: compiled-in defaults (`config/nova.example.toml`) → `nova.toml` or
//! `--config FILE` → `NOVA_SECTION__KEY` environment variables → command-line flags.

use anyhow::{bail, Context, Result};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use nova_embed::{BatchOptions, ModelSource, Precision, SentenceEmbedder};
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
    /// Where chunks are stored: embedded, or a Qdrant cluster.
    pub store: crate::store_config::StoreConfig,
    /// What replicas share (Redis).
    pub cache: crate::store_config::CacheConfig,
    /// `nova serve`.
    pub server: ServerConfig,
    /// The web console.
    pub ui: UiConfig,
    /// Query drift watching.
    pub drift: DriftConfig,
    /// Experiment tracking.
    pub tracking: TrackingConfig,
    /// Who may call `nova serve`.
    pub auth: AuthConfig,
    /// Who writes answers.
    pub generation: GenerationConfig,
    /// The audit trail.
    pub audit: AuditConfig,
    /// PII redaction at ingest.
    pub redaction: RedactionConfig,
    /// Encryption at rest.
    pub encryption: EncryptionConfig,
    /// A compliance profile.
    pub compliance: crate::profile::ComplianceConfig,
}

/// `[encryption]`: stored text sealed with AES-256-GCM under a key from a file or a variable.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// File holding the data key.
    #[serde(default)]
    pub key_file: Option<std::path::PathBuf>,
    /// Environment variable holding the data key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Rotated-out keys, still read until `nova kb rekey`.
    #[serde(default)]
    pub previous_key_files: Vec<std::path::PathBuf>,
}

impl EncryptionConfig {
    /// The engine's settings (the keys themselves are read when the engine opens).
    pub fn settings(&self) -> nova_engine::EncryptionSettings {
        // An empty string from the environment means "not set", as for the TLS files.
        let nonempty_path =
            |p: &Option<std::path::PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        nova_engine::EncryptionSettings {
            key_file: nonempty_path(&self.key_file),
            key_env: self.key_env.clone().filter(|v| !v.is_empty()),
            previous_key_files: self.previous_key_files.clone(),
        }
    }
}

/// `[redaction]`: personal data replaced with placeholders before anything is stored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionConfig {
    /// Redact everything ingested into every KB.
    pub enabled: bool,
    /// Further kinds: name → regular expression.
    #[serde(default)]
    pub patterns: std::collections::BTreeMap<String, String>,
}

impl RedactionConfig {
    /// The engine's settings.
    pub fn settings(&self) -> nova_engine::RedactionSettings {
        nova_engine::RedactionSettings {
            enabled: self.enabled,
            patterns: self
                .patterns
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// `[audit]`: the hash-chained record of who did and read what.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Force the trail on or off; unset = on when `auth.mode = "required"`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Also record reads.
    pub reads: bool,
    /// Keep query text in read records.
    pub query_text: bool,
    /// Seal records with HMAC-SHA256 under the key in this file.
    #[serde(default)]
    pub hmac_key_file: Option<std::path::PathBuf>,
    /// Days records are kept (whole files); 0 = forever.
    pub retention_days: u64,
    /// Size at which a new log file is started, MiB.
    pub rotate_mb: u64,
}

impl AuditConfig {
    /// The engine's settings; the HMAC key is read here, so a missing or short key stops the start.
    pub fn settings(&self, auth: &AuthConfig) -> Result<nova_engine::AuditSettings> {
        use nova_engine::nova_audit::{Sealer, TrailOptions};
        let sealer = match &self.hmac_key_file {
            Some(path) => Sealer::from_key_file(path).context("audit.hmac_key_file")?,
            None => Sealer::Plain,
        };
        Ok(nova_engine::AuditSettings {
            enabled: self
                .enabled
                .unwrap_or(auth.mode == nova_auth::AuthMode::Required),
            reads: self.reads,
            query_text: self.query_text,
            trail: TrailOptions {
                sealer,
                rotate_bytes: self.rotate_mb.saturating_mul(1 << 20),
                retention_days: self.retention_days,
            },
        })
    }
}

/// `[generation]`: the answer writer and its sampling.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationConfig {
    /// `extractive`, `local` or `openai`.
    pub provider: Provider,
    /// The GGUF for `local`.
    pub model_path: std::path::PathBuf,
    /// The endpoint for `openai`, up to `/v1`.
    pub base_url: String,
    /// The model the endpoint serves.
    pub model: String,
    /// Environment variable holding the API key.
    pub api_key_env: String,
    /// File holding the API key (when the variable is unset).
    pub api_key_file: std::path::PathBuf,
    /// Connect and per-read timeout, seconds.
    pub timeout_secs: u64,
    /// Retries on 429/5xx/connection failures.
    pub retries: u32,
    /// Sampling temperature; 0 = greedy.
    pub temperature: f32,
    /// Nucleus mass.
    pub top_p: f32,
    /// Sampler seed.
    pub seed: u64,
    /// Most tokens per answer.
    pub max_tokens: usize,
    /// Token budget of the passages in the prompt.
    pub context_tokens: usize,
    /// Passages retrieved per question.
    pub passages: usize,
    /// Resolved tickets retrieved per question.
    pub tickets: usize,
    /// Cite the passage an uncited sentence was taken from.
    pub attribute: bool,
}

/// Who writes answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Sentences of the retrieved passages, cited; no model.
    Extractive,
    /// A GGUF chat model in-process.
    Local,
    /// An OpenAI-compatible endpoint.
    Openai,
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
    /// OIDC / JWT bearer tokens, when configured.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
}

/// `[auth.jwt]`: accept JWT bearer tokens from one OIDC provider.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Expected `iss`, e.g. `https://login.microsoftonline.com/<tenant>/v2.0`.
    pub issuer: String,
    /// Expected `aud` (the application / client id).
    pub audience: String,
    /// The provider's JSON Web Key Set, saved to a file (instead of `jwks_url`).
    #[serde(default)]
    pub jwks_file: Option<std::path::PathBuf>,
    /// The provider's JWKS URL; with neither this nor `jwks_file`, it is read from the issuer's
    /// `/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Least seconds between two fetches of the key set (a token with an unknown `kid` asks for one).
    #[serde(default = "default_jwks_min_refresh")]
    pub jwks_min_refresh_secs: u64,
    /// Keys older than this many seconds are fetched again.
    #[serde(default = "default_jwks_max_age")]
    pub jwks_max_age_secs: u64,
    /// Claim with the caller's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Claim with the caller's roles.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Role-claim value → `reader`, `editor`, `admin` or `metrics`, optionally `:kb1,kb2`.
    #[serde(default)]
    pub role_map: std::collections::BTreeMap<String, String>,
    /// Clock skew allowed on `exp` / `nbf`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_roles_claim() -> String {
    "roles".into()
}

fn default_leeway() -> u64 {
    60
}

fn default_jwks_min_refresh() -> u64 {
    60
}

fn default_jwks_max_age() -> u64 {
    3600
}

impl JwtConfig {
    /// Where the keys come from; both `jwks_file` and `jwks_url` is an error.
    pub fn source(&self) -> Result<nova_auth::JwksSource> {
        Ok(match (&self.jwks_file, &self.jwks_url) {
            (Some(_), Some(_)) => {
                bail!("auth.jwt: set jwks_file or jwks_url, not both")
            }
            (Some(file), None) => nova_auth::JwksSource::File(file.clone()),
            (None, Some(url)) => nova_auth::JwksSource::Url(url.clone()),
            (None, None) => nova_auth::JwksSource::Discovery,
        })
    }

    /// How often the key set is fetched again.
    pub fn refresh(&self) -> nova_auth::RefreshPolicy {
        nova_auth::RefreshPolicy {
            min_interval: std::time::Duration::from_secs(self.jwks_min_refresh_secs),
            max_age: std::time::Duration::from_secs(self.jwks_max_age_secs),
            ..nova_auth::RefreshPolicy::default()
        }
    }

    /// The verifier's settings; a bad role-map entry is an error naming it.
    pub fn settings(&self) -> Result<nova_auth::JwtSettings> {
        let mut role_map = std::collections::HashMap::new();
        for (claim, grant) in &self.role_map {
            let (role, kbs) = grant
                .split_once(':')
                .map_or((grant.as_str(), None), |(r, k)| (r, Some(k)));
            let role: nova_core::Role = role
                .trim()
                .parse()
                .map_err(|e: String| anyhow::anyhow!("auth.jwt.role_map.{claim}: {e}"))?;
            let kbs = kbs
                .map(|k| {
                    k.split(',')
                        .map(|n| nova_core::KbName::parse(n.trim()))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .with_context(|| format!("auth.jwt.role_map.{claim}"))?;
            role_map.insert(claim.clone(), nova_core::Grant { role, kbs });
        }
        Ok(nova_auth::JwtSettings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            groups_claim: self.groups_claim.clone(),
            roles_claim: self.roles_claim.clone(),
            role_map,
            leeway_secs: self.leeway_secs,
        })
    }
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
    /// Extra wait for company after a batch's first query, in milliseconds (0: none; a batch is what queued
    /// while the previous forward pass ran).
    pub batch_wait_ms: u64,
    /// Most queries waiting for the model; more are answered `429 overloaded`.
    pub batch_queue: usize,
    /// Seconds a connection may take to send a complete request head (also closes idle keep-alive
    /// connections).
    pub header_read_timeout_secs: u64,
    /// Open connections at most.
    pub max_connections: usize,
    /// Longest search `query` or troubleshoot `problem`, in characters.
    pub max_query_chars: usize,
    /// Most `filters` entries per request (and, separately, troubleshoot `tags`).
    pub max_filters: usize,
    /// Longest request target (path and query string), in bytes.
    pub max_uri_bytes: usize,
    /// Browser origins allowed to call the API (`https://portal.example`).
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// `Host` header values served; empty = loopback names on a loopback address, else any.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// PEM certificate chain (leaf first): serve HTTPS. Empty = plain HTTP.
    #[serde(default)]
    pub tls_cert: std::path::PathBuf,
    /// PEM private key of `tls_cert`.
    #[serde(default)]
    pub tls_key: std::path::PathBuf,
}

impl ServerConfig {
    /// The TLS configuration when `tls_cert` and `tls_key` are set; one without the other is an error.
    pub fn tls(&self) -> Result<Option<std::sync::Arc<nova_server::tls::RustlsServerConfig>>> {
        let (cert, key) = (&self.tls_cert, &self.tls_key);
        match (cert.as_os_str().is_empty(), key.as_os_str().is_empty()) {
            (true, true) => Ok(None),
            (false, false) => Ok(Some(
                nova_server::tls::server_config(cert, key).context("server.tls_cert / server.tls_key")?,
            )),
            _ => bail!("server.tls_cert and server.tls_key go together: set both, or neither for plain HTTP"),
        }
    }
}

/// `[drift]`: watching each KB's query stream against a reference window.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    /// Watch at all.
    pub enabled: bool,
    /// Searches in the current (and reference) window.
    pub window: usize,
    /// Seconds between two looks by `nova serve`.
    pub interval_secs: u64,
    /// Alert when the centroid shift exceeds this.
    pub centroid_shift: f64,
    /// Alert when the low-score share rises by more than this.
    pub low_score_share: f64,
    /// Alert when the zero-result rate rises by more than this.
    pub zero_result_rate: f64,
    /// Alert when the out-of-vocabulary rate rises by more than this.
    pub oov_rate: f64,
    /// Slack-compatible webhook for alerts; empty = none.
    pub webhook_url: String,
}

impl DriftConfig {
    /// The engine's settings.
    pub fn settings(&self) -> nova_engine::DriftSettings {
        nova_engine::DriftSettings {
            enabled: self.enabled,
            window: self.window.max(1),
            centroid_shift: self.centroid_shift,
            low_score_share: self.low_score_share,
            zero_result_rate: self.zero_result_rate,
            oov_rate: self.oov_rate,
            ..nova_engine::DriftSettings::default()
        }
    }

    /// The server's watch, when drift is watched.
    pub fn watch(&self) -> Option<nova_server::drift::DriftWatch> {
        self.enabled.then(|| nova_server::drift::DriftWatch {
            interval: std::time::Duration::from_secs(self.interval_secs.max(1)),
            webhook: (!self.webhook_url.trim().is_empty())
                .then(|| self.webhook_url.trim().to_owned()),
        })
    }
}

/// `[tracking]`: where evaluation and training runs are recorded.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingConfig {
    /// Record runs in `<data>/tracking/runs.sqlite`.
    pub enabled: bool,
    /// Also send them to this MLflow tracking server; empty = local only.
    pub mlflow_url: String,
    /// The MLflow experiment runs go to.
    pub mlflow_experiment: String,
}

/// `[ui]`: the web console served by `nova serve` at `/ui`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// Serve it.
    pub enabled: bool,
    /// The console's client id at the `[auth.jwt]` provider; empty = API-key sign-in only.
    pub oidc_client_id: String,
    /// Scopes asked for at sign-in.
    pub oidc_scopes: String,
    /// `access_token` or `id_token`: which one the console sends to the API.
    pub oidc_token: String,
    /// The provider's name on the sign-in button.
    pub oidc_name: String,
}

impl UiConfig {
    /// What the server tells the console; `None` when it is off. OIDC sign-in needs `[auth.jwt]` (the
    /// server must accept the provider's tokens) and a client id.
    pub fn settings(
        &self,
        jwt: Option<&JwtConfig>,
    ) -> Result<Option<nova_server::ConsoleSettings>> {
        if !self.enabled {
            return Ok(None);
        }
        if !matches!(self.oidc_token.as_str(), "access_token" | "id_token") {
            bail!(
                "ui.oidc_token is `{}`: use \"access_token\" or \"id_token\"",
                self.oidc_token
            );
        }
        let oidc = match (jwt, self.oidc_client_id.trim()) {
            (_, "") => None,
            (None, _) => bail!(
                "ui.oidc_client_id is set but [auth.jwt] is not: the server could not verify the provider's tokens"
            ),
            (Some(jwt), client_id) => Some(nova_server::OidcLogin {
                issuer: jwt.issuer.clone(),
                client_id: client_id.to_owned(),
                scopes: self.oidc_scopes.clone(),
                token: self.oidc_token.clone(),
                name: self.oidc_name.clone(),
            }),
        };
        Ok(Some(nova_server::ConsoleSettings { oidc }))
    }
}

/// `[data]`: storage locations.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Data folder; knowledge bases are under `kbs/`.
    pub dir: std::path::PathBuf,
    /// KB used when `--kb` is absent.
    pub default_kb: String,
    /// Days feedback records are kept; 0 = forever.
    pub feedback_retention_days: u64,
    /// Days a finished ingest task's status stays readable at `GET /v1/tasks/{id}`; 0 = forever.
    pub task_retention_days: u64,
    /// Free MiB a write needs on the data folder (`insufficient_storage` below it); 0 = no floor.
    pub min_free_mb: u64,
    /// Log every search of a KB (for `nova gaps`).
    pub query_log: bool,
}

impl DataConfig {
    /// [`Self::min_free_mb`] in bytes.
    pub fn min_free_bytes(&self) -> u64 {
        self.min_free_mb.saturating_mul(1024 * 1024)
    }
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
    /// Arithmetic of the dense layers: `fp32` (equal to sentence-transformers) or `int8`.
    pub precision: Precision,
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
        let mut config: Self = fig
            // Only NOVA_SECTION__KEY variables are config; other NOVA_* names belong to scripts.
            .merge(
                Env::prefixed("NOVA_")
                    .filter(|k| k.as_str().contains("__"))
                    .split("__"),
            )
            .extract()
            .context("invalid configuration")?;
        config.apply_profile()?;
        config.validate()?;
        Ok(config)
    }

    /// Turns on what `[compliance] profile` needs, or refuses naming what is missing.
    fn apply_profile(&mut self) -> Result<()> {
        let set = |p: &std::path::Path| !p.as_os_str().is_empty();
        let tls = set(&self.server.tls_cert) && set(&self.server.tls_key);
        let encryption = self.encryption.settings().enabled();
        self.compliance.profile.apply(crate::profile::Controls {
            audit_enabled: &mut self.audit.enabled,
            audit_reads: &mut self.audit.reads,
            audit_query_text: &mut self.audit.query_text,
            audit_retention_days: &mut self.audit.retention_days,
            audit_hmac: self.audit.hmac_key_file.is_some(),
            redaction: &mut self.redaction.enabled,
            encryption,
            tls,
        })
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
        // A bad pattern is named at start, not at the first ingest.
        nova_ingest::Redactor::new(&self.redaction.settings().patterns)
            .context("redaction.patterns")?;
        if self.audit.rotate_mb == 0 {
            bail!("audit.rotate_mb must be at least 1");
        }
        if self.server.batch_queue == 0 {
            bail!("server.batch_queue must be at least 1");
        }
        if self.server.body_limit_mb == 0 || self.server.request_timeout_secs == 0 {
            bail!("server.body_limit_mb and server.request_timeout_secs must be at least 1");
        }
        self.auth.role_limits()?;
        if let Some(jwt) = &self.auth.jwt {
            jwt.settings()?;
        }
        let g = &self.generation;
        if g.max_tokens == 0 || g.context_tokens == 0 || g.passages == 0 {
            bail!("generation.max_tokens, generation.context_tokens and generation.passages must be at least 1");
        }
        if !(0.0..=2.0).contains(&g.temperature)
            || !(0.0..=1.0).contains(&g.top_p)
            || g.top_p == 0.0
        {
            bail!("generation.temperature must be within 0–2 and generation.top_p within (0, 1]");
        }
        if g.provider == Provider::Openai && !g.base_url.starts_with("http") {
            bail!("generation.base_url `{}` is not an http(s) URL", g.base_url);
        }
        if self.model.path.trim().is_empty() {
            bail!("model.path must not be empty");
        }
        Ok(())
    }
}

impl GenerationConfig {
    /// The default answer settings (requests may override sampling and counts).
    pub fn answer_options(&self) -> nova_engine::AnswerOptions {
        nova_engine::AnswerOptions {
            passages: self.passages,
            tickets: self.tickets,
            attribute: self.attribute,
            context_tokens: self.context_tokens,
            sampling: nova_engine::nova_generate::Sampling {
                temperature: self.temperature,
                top_p: self.top_p,
                seed: self.seed,
                max_tokens: self.max_tokens,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// The API key for `openai`: the variable if set and not empty, else the file's first line.
    fn api_key(&self) -> nova_engine::nova_generate::Result<Option<String>> {
        if let Ok(key) = std::env::var(&self.api_key_env) {
            if !key.trim().is_empty() {
                return Ok(Some(key.trim().to_owned()));
            }
        }
        if self.api_key_file.as_os_str().is_empty() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&self.api_key_file).map_err(|source| {
            nova_engine::nova_generate::GenerateError::KeyFile {
                path: self.api_key_file.clone(),
                source,
            }
        })?;
        Ok(text
            .lines()
            .next()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty()))
    }

    /// What builds the configured generator when the engine first needs it.
    pub fn loader(&self) -> nova_engine::GeneratorLoader {
        use nova_engine::nova_generate::{
            Extractive, Generator, LocalGenerator, OpenAiConfig, OpenAiGenerator,
        };
        let config = self.clone();
        Box::new(move || {
            let generator: std::sync::Arc<dyn Generator> = match config.provider {
                Provider::Extractive => std::sync::Arc::new(Extractive),
                Provider::Local => {
                    tracing::info!(path = %config.model_path.display(), "loading chat model");
                    std::sync::Arc::new(LocalGenerator::load(&config.model_path)?)
                }
                Provider::Openai => std::sync::Arc::new(OpenAiGenerator::new(OpenAiConfig {
                    base_url: config.base_url.clone(),
                    model: config.model.clone(),
                    api_key: config.api_key()?,
                    timeout: std::time::Duration::from_secs(config.timeout_secs.max(1)),
                    retries: config.retries,
                })),
            };
            Ok(generator)
        })
    }
}

impl ModelConfig {
    /// Where to load the model from.
    pub fn source(&self) -> ModelSource {
        ModelSource::parse(&self.path)
    }

    /// Loads the model in the configured precision (int8 weights are quantised once, here).
    pub fn load_embedder(&self) -> nova_embed::Result<SentenceEmbedder> {
        self.load_embedder_in(self.precision)
    }

    /// Loads the model in `precision`, whatever the configuration says (benchmarks compare both).
    pub fn load_embedder_in(&self, precision: Precision) -> nova_embed::Result<SentenceEmbedder> {
        let source = self.source();
        tracing::info!(%source, %precision, "loading embedding model");
        SentenceEmbedder::load(&source, self.batch())?.with_precision(precision)
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

    #[test]
    fn jwt_role_maps_read_roles_with_optional_kb_grants_and_name_bad_entries() {
        let config: Config = Figment::from(Toml::string(EXAMPLE))
            .merge(Toml::string(
                "[auth.jwt]\nissuer = \"https://idp\"\naudience = \"kb\"\njwks_file = \"j.json\"\n\
                 [auth.jwt.role_map]\n\"KB.Readers\" = \"reader\"\n\"Ops\" = \"editor:ops,hr\"\n",
            ))
            .extract()
            .expect("parses");
        let settings = config
            .auth
            .jwt
            .as_ref()
            .expect("jwt")
            .settings()
            .expect("valid");
        assert_eq!(settings.groups_claim, "groups");
        let ops = &settings.role_map["Ops"];
        assert_eq!(ops.role, nova_core::Role::Editor);
        assert_eq!(ops.kbs.as_ref().map(Vec::len), Some(2));
        assert_eq!(settings.role_map["KB.Readers"].kbs, None);
        let jwt = config.auth.jwt.as_ref().expect("jwt");
        assert_eq!(
            jwt.source().expect("one source"),
            nova_auth::JwksSource::File("j.json".into())
        );
        assert_eq!(jwt.refresh().min_interval.as_secs(), 60);
        let mut both = jwt.clone();
        both.jwks_url = Some("https://idp/keys".into());
        assert!(both.source().is_err());
        both.jwks_file = None;
        assert_eq!(
            both.source().expect("url"),
            nova_auth::JwksSource::Url("https://idp/keys".into())
        );
        let mut bad = config.clone();
        if let Some(jwt) = bad.auth.jwt.as_mut() {
            jwt.role_map.insert("X".into(), "owner".into());
        }
        let err = bad.validate().expect_err("unknown role");
        assert!(err.to_string().contains("auth.jwt.role_map.X"), "{err}");
    }
}
