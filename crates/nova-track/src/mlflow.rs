//! Sends a run to an MLflow tracking server through its REST API (`/api/2.0/mlflow/…`): the experiment is
//! found by name or created, then `runs/create`, `runs/log-batch` (in MLflow's batch limits),
//! `runs/update` to FINISHED, and the JSON report uploaded as the artifact `report.json` when the server
//! proxies artifacts (`mlflow-artifacts:` URIs, the default of `mlflow server`).

use crate::{NewRun, Result, TrackError};
use serde_json::{json, Value};
use std::time::Duration;

/// MLflow's per-request limits for `runs/log-batch`.
const MAX_METRICS: usize = 1000;
const MAX_PARAMS: usize = 100;
const MAX_TAGS: usize = 100;
/// Longest parameter value MLflow stores.
const MAX_PARAM_CHARS: usize = 6000;

/// A tracking server.
pub struct Mlflow {
    base: String,
    agent: ureq::Agent,
}

/// Where a run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The experiment's id.
    pub experiment_id: String,
    /// The run's id.
    pub run_id: String,
    /// Whether `report.json` was stored as an artifact.
    pub artifact: bool,
}

/// A metric or parameter name as MLflow accepts it (letters, digits, `_ - . / space`); others become `_`.
pub fn key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Mlflow {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:5000`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(10))
                .timeout(Duration::from_secs(60))
                .build(),
        }
    }

    fn fail(&self, message: impl Into<String>) -> TrackError {
        TrackError::Mlflow {
            url: self.base.clone(),
            message: message.into(),
        }
    }

    /// The error MLflow sent (`{"error_code", "message"}`), or the transport's.
    fn explain(&self, e: ureq::Error) -> TrackError {
        match e {
            ureq::Error::Status(code, response) => {
                let body: Value = response.into_json().unwrap_or(Value::Null);
                let detail = body["message"].as_str().unwrap_or("no message");
                let kind = body["error_code"].as_str().unwrap_or("error");
                self.fail(format!("{code} {kind}: {detail}"))
            }
            ureq::Error::Transport(t) => self.fail(format!("unreachable: {t}")),
        }
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        let response = self
            .agent
            .post(&url)
            .send_json(body)
            .map_err(|e| self.explain(e))?;
        response
            .into_json()
            .map_err(|e| self.fail(format!("{path}: unreadable answer: {e}")))
    }

    /// The experiment named `name`, created when missing.
    pub fn experiment(&self, name: &str) -> Result<String> {
        let url = format!("{}/api/2.0/mlflow/experiments/get-by-name", self.base);
        match self.agent.get(&url).query("experiment_name", name).call() {
            Ok(r) => {
                let body: Value = r
                    .into_json()
                    .map_err(|e| self.fail(format!("get-by-name: {e}")))?;
                body["experiment"]["experiment_id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.fail("get-by-name answered without an experiment id"))
            }
            Err(ureq::Error::Status(404, _)) => {
                let body = self.post("experiments/create", &json!({ "name": name }))?;
                body["experiment_id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.fail("experiments/create answered without an id"))
            }
            Err(e) => Err(self.explain(e)),
        }
    }

    /// Sends `run` to experiment `experiment`.
    pub fn log(&self, experiment: &str, run: &NewRun) -> Result<Logged> {
        let experiment_id = self.experiment(experiment)?;
        let created = self.post(
            "runs/create",
            &json!({
                "experiment_id": experiment_id,
                "run_name": run.name,
                "start_time": run.started_at * 1000,
                "tags": [{ "key": "kb_nova.kind", "value": run.kind }],
            }),
        )?;
        let info = &created["run"]["info"];
        let run_id = info["run_id"]
            .as_str()
            .ok_or_else(|| self.fail("runs/create answered without a run id"))?
            .to_owned();
        let at = run.ended_at * 1000;
        let metrics: Vec<Value> = run
            .metrics
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| json!({ "key": key(k), "value": v, "timestamp": at, "step": 0 }))
            .collect();
        let params: Vec<Value> = run
            .params
            .iter()
            .map(|(k, v)| {
                let value: String = v.chars().take(MAX_PARAM_CHARS).collect();
                json!({ "key": key(k), "value": value })
            })
            .collect();
        let tags: Vec<Value> = run
            .tags
            .iter()
            .map(|(k, v)| json!({ "key": key(k), "value": v }))
            .collect();
        for chunk in metrics.chunks(MAX_METRICS) {
            self.post(
                "runs/log-batch",
                &json!({ "run_id": run_id, "metrics": chunk }),
            )?;
        }
        for chunk in params.chunks(MAX_PARAMS) {
            self.post(
                "runs/log-batch",
                &json!({ "run_id": run_id, "params": chunk }),
            )?;
        }
        for chunk in tags.chunks(MAX_TAGS) {
            self.post(
                "runs/log-batch",
                &json!({ "run_id": run_id, "tags": chunk }),
            )?;
        }
        let artifact = match info["artifact_uri"].as_str() {
            Some(uri) => self.upload_report(uri, &run.report)?,
            None => false,
        };
        self.post(
            "runs/update",
            &json!({ "run_id": run_id, "status": "FINISHED", "end_time": at }),
        )?;
        Ok(Logged {
            experiment_id,
            run_id,
            artifact,
        })
    }

    /// Stores the report as `report.json` under a proxied artifact URI; `false` when the server keeps
    /// artifacts somewhere only its clients' own storage libraries reach (S3, a shared path, …).
    fn upload_report(&self, artifact_uri: &str, report: &Value) -> Result<bool> {
        let Some(path) = artifact_uri.strip_prefix("mlflow-artifacts:") else {
            tracing::warn!(
                artifact_uri,
                "the MLflow server does not proxy artifacts: report.json not uploaded"
            );
            return Ok(false);
        };
        // `mlflow-artifacts:/1/<run>/artifacts` or `mlflow-artifacts://host/1/<run>/artifacts`.
        let path = path.trim_start_matches('/');
        let path = if artifact_uri.starts_with("mlflow-artifacts://") {
            path.split_once('/').map_or("", |(_, rest)| rest)
        } else {
            path
        };
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{path}/report.json",
            self.base
        );
        self.agent
            .put(&url)
            .set("content-type", "application/json")
            .send_bytes(&serde_json::to_vec_pretty(report)?)
            .map_err(|e| self.explain(e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_what_mlflow_accepts() {
        assert_eq!(
            key("hybrid[convex:0.6].ndcg_at_10"),
            "hybrid_convex_0.6_.ndcg_at_10"
        );
        assert_eq!(key("model/sha256"), "model/sha256");
    }

    #[test]
    fn an_unreachable_server_is_a_clear_error() {
        // Port 9 (discard) on loopback: nothing listens there in a test environment.
        let err = Mlflow::new("http://127.0.0.1:9")
            .experiment("kb-nova")
            .expect_err("nothing listens");
        let text = err.to_string();
        assert!(
            text.starts_with("MLflow at http://127.0.0.1:9: unreachable"),
            "{text}"
        );
    }
}
