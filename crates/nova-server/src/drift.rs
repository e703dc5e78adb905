//! The drift watch: every `interval`, each knowledge base's query stream is compared with its
//! reference window (`Engine::drift_watch`); the gauges are set, and when a signal starts alerting the
//! webhook (Slack-compatible JSON, `{"text": …}`) is told once — again only after it has cleared.

use crate::state::AppState;
use nova_engine::{DriftReport, RequestCtx};
use std::time::Duration;

/// How the server watches drift.
#[derive(Debug, Clone)]
pub struct DriftWatch {
    /// Time between two looks.
    pub interval: Duration,
    /// Where alerts are posted; `None`: gauges only.
    pub webhook: Option<String>,
}

/// Starts the watch on the current runtime; it runs until the process ends.
pub fn spawn(state: AppState, watch: DriftWatch) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(watch.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (state, webhook) = (state.clone(), watch.webhook.clone());
            // Reading the log, embedding and scanning vocabularies block: off the async threads.
            let looked =
                tokio::task::spawn_blocking(move || look(&state, webhook.as_deref())).await;
            if let Err(e) = looked {
                tracing::warn!("drift watch failed: {e}");
            }
        }
    });
}

/// One look at every knowledge base.
fn look(state: &AppState, webhook: Option<&str>) {
    let Some(engine) = state.engine() else {
        return; // the model is still loading
    };
    let ctx = RequestCtx::internal("drift-watch");
    let kbs = match engine.list(&ctx) {
        Ok(kbs) => kbs,
        Err(e) => return tracing::warn!("drift watch: listing knowledge bases: {e}"),
    };
    let mut reports = Vec::new();
    for kb in kbs.iter().filter(|kb| kb.busy.is_none()) {
        let Ok(name) = nova_engine::KbName::parse(&kb.name) else {
            continue;
        };
        match engine.drift_watch(&ctx, &name) {
            Ok(report) => {
                if let (Some(url), false) = (webhook, report.newly_alerting.is_empty()) {
                    notify(url, &report);
                }
                reports.push(report);
            }
            Err(e) => tracing::warn!(kb = %name, "drift watch: {e}"),
        }
    }
    state.metrics().set_drift(&reports);
}

/// The alert as Slack (and most chat webhooks) take it.
pub fn message(report: &DriftReport) -> serde_json::Value {
    let lines: Vec<String> = report
        .signals
        .iter()
        .filter(|s| report.newly_alerting.contains(&s.metric))
        .map(|s| match s.metric.as_str() {
            "centroid_shift" => format!(
                "• query topics moved: centroid shift {:.3} (threshold {})",
                s.value, s.threshold
            ),
            m => format!(
                "• {m}: {:.1} % now, {:.1} % in the reference (threshold +{:.1} points)",
                s.value * 100.0,
                s.reference * 100.0,
                s.threshold * 100.0
            ),
        })
        .collect();
    serde_json::json!({
        "text": format!(
            "KB Nova: the query stream of knowledge base `{}` drifted from its reference ({} recent \
             queries):\n{}",
            report.kb,
            report.current.queries,
            lines.join("\n")
        )
    })
}

fn notify(url: &str, report: &DriftReport) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    // The URL is a secret (webhook URLs carry their token): never logged.
    match agent.post(url).send_json(message(report)) {
        Ok(_) => {
            tracing::info!(kb = %report.kb, signals = ?report.newly_alerting, "drift alert sent")
        }
        Err(e) => tracing::warn!(
            kb = %report.kb,
            "the drift webhook refused or could not be reached: {}",
            match e {
                ureq::Error::Status(code, _) => format!("HTTP {code}"),
                ureq::Error::Transport(t) => t.kind().to_string(),
            }
        ),
    }
}
