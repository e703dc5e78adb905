//! Recording runs: what `nova eval` and `nova tickets train|eval` measured, with the parameters and the
//! machine that produced it, into the data folder's tracking store (`nova runs`), and — with `--mlflow URL`
//! or `[tracking] mlflow_url` — to an MLflow tracking server.

use crate::cli::TrackArgs;
use crate::config::Config;
use anyhow::{Context, Result};
use nova_engine::{Engine, RequestCtx};
use nova_track::NewRun;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// A run being assembled; `finish` records it.
pub struct Recorder {
    run: NewRun,
}

impl Recorder {
    /// A run of `kind` named `name`, started now. The model's hash and the machine are noted by
    /// `finish`, and only when the run is recorded.
    pub fn start(kind: &str, name: String) -> Self {
        Self {
            run: NewRun {
                kind: kind.into(),
                name,
                started_at: now(),
                ..NewRun::default()
            },
        }
    }

    /// Notes a parameter.
    pub fn param(&mut self, key: &str, value: impl ToString) -> &mut Self {
        self.run.params.insert(key.into(), value.to_string());
        self
    }

    /// Notes a metric; a value that is not a number (docs/s of an ingest that had nothing to do) is left
    /// out rather than stored as a figure.
    pub fn metric(&mut self, key: &str, value: f64) -> &mut Self {
        if value.is_finite() {
            self.run.metrics.insert(key.into(), value);
        }
        self
    }

    /// Records the run with its `report`, locally unless `--no-track`, and at MLflow when asked; says
    /// where it went on stderr. A tracking failure is reported, never fatal: the evaluation itself
    /// succeeded and its figures are already printed.
    pub fn finish(
        mut self,
        engine: &Engine,
        config: &Config,
        args: &TrackArgs,
        report: serde_json::Value,
    ) {
        self.run.ended_at = now();
        self.run.report = report;
        if args.no_track || !config.tracking.enabled {
            return;
        }
        // Hashing the weights reads the whole model file: only for a run that is kept.
        self.run.tags = machine_tags();
        self.run
            .params
            .insert("model.id".into(), config.model.path.clone());
        if let Some(hash) = weights_sha256(config) {
            self.run.params.insert("model.weights_sha256".into(), hash);
        }
        let ctx = RequestCtx::local();
        let id = match engine.record_run(&ctx, &self.run) {
            Ok(id) => id,
            Err(e) => {
                eprintln!("warning: the run was not recorded: {e}");
                return;
            }
        };
        eprintln!("recorded run {id} (nova runs show {id})");
        let url = args
            .mlflow
            .clone()
            .unwrap_or_else(|| config.tracking.mlflow_url.clone());
        if url.trim().is_empty() {
            return;
        }
        let experiment = args
            .experiment
            .clone()
            .unwrap_or_else(|| config.tracking.mlflow_experiment.clone());
        match nova_track::mlflow::Mlflow::new(&url).log(&experiment, &self.run) {
            Ok(logged) => {
                if let Err(e) = engine.set_mlflow_run_id(&ctx, id, &logged.run_id) {
                    eprintln!("warning: {e}");
                }
                eprintln!(
                    "sent to MLflow: experiment {experiment} ({}), run {}{}",
                    logged.experiment_id,
                    logged.run_id,
                    if logged.artifact {
                        ", report.json attached"
                    } else {
                        ""
                    }
                );
            }
            Err(e) => eprintln!("warning: run {id} was not sent to MLflow: {e}"),
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Host, CPU, cores, OS and this binary's version.
fn machine_tags() -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    tags.insert("nova.version".into(), env!("CARGO_PKG_VERSION").into());
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        tags.insert("host".into(), host.trim().to_owned());
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    });
    if let Some(cpu) = cpu {
        tags.insert("cpu".into(), cpu);
    }
    tags.insert(
        "cores".into(),
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .to_string(),
    );
    tags.insert(
        "os".into(),
        format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
    );
    tags
}

/// SHA-256 of the model's weights file when the model is a local folder (a hub id names its revision).
fn weights_sha256(config: &Config) -> Option<String> {
    nova_engine::weights_sha256(Path::new(&config.model.path))
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("hashing {}", path.display()))?;
    Ok(nova_core::to_hex(&hasher.finalize()))
}

/// SHA-256 over texts, each followed by a NUL (so `["ab","c"]` and `["a","bc"]` differ).
pub fn sha256_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for t in texts {
        hasher.update(t.as_bytes());
        hasher.update([0]);
    }
    nova_core::to_hex(&hasher.finalize())
}
