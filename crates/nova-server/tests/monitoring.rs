//! The monitoring kit in deploy/: Grafana dashboards in provisioning format and Prometheus alert rules.
//! Every metric they name must be one this server exports (and the common ones must show up on a live
//! server's /metrics after real traffic); with `promtool` (scripts/promtool-test-deps.sh) the alert file
//! and every dashboard expression are checked as PromQL — SKIPPED, saying so, without it.

#![allow(clippy::unwrap_used)] // a missing or malformed file in deploy/ should fail loudly

mod common;
use common::*;
use std::collections::BTreeSet;

const DASHBOARDS: [&str; 4] = [
    "kb-nova-service",
    "kb-nova-search-quality",
    "kb-nova-ab",
    "kb-nova-drift",
];

fn deploy(path: &str) -> PathBuf {
    root().join("deploy").join(path)
}

fn dashboard(name: &str) -> Value {
    let text = std::fs::read_to_string(deploy(&format!("grafana/dashboards/{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every expression of a dashboard's panels, with the `$instance` variable as Grafana expands "All".
fn expressions(d: &Value) -> Vec<String> {
    d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().replace("$instance", ".*"))
        .collect()
}

/// `nova_*` metric names in `text`, histogram series folded into their histogram.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("nova_") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        names.insert(base.to_owned());
    }
    names
}

#[test]
fn dashboards_are_grafana_provisioning_json_on_the_provisioned_datasource() {
    let datasource =
        std::fs::read_to_string(deploy("grafana/provisioning/datasources/prometheus.yaml"))
            .unwrap();
    let provider =
        std::fs::read_to_string(deploy("grafana/provisioning/dashboards/kb-nova.yaml")).unwrap();
    assert!(provider.contains("type: file") && provider.contains("apiVersion: 1"));
    let mut uids = BTreeSet::new();
    for name in DASHBOARDS {
        let d = dashboard(name);
        assert!(
            uids.insert(d["uid"].as_str().unwrap().to_owned()),
            "uids are unique"
        );
        assert!(d["schemaVersion"].as_u64().unwrap() >= 36, "{name}");
        assert!(d["title"].as_str().unwrap().starts_with("KB Nova"));
        let panels = d["panels"].as_array().unwrap();
        assert!(panels.len() >= 6, "{name}");
        let mut ids = BTreeSet::new();
        for p in panels {
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{name}: panel ids are unique"
            );
            for key in ["x", "y", "w", "h"] {
                assert!(p["gridPos"][key].is_u64(), "{name}: {}", p["title"]);
            }
            let uid = p["datasource"]["uid"].as_str().unwrap();
            assert!(
                datasource.contains(&format!("uid: {uid}")),
                "{name}: datasource {uid} is provisioned"
            );
            assert!(!p["targets"].as_array().unwrap().is_empty());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboards_and_alerts_use_is_exported() {
    let declared = metric_names(include_str!("../src/metrics.rs"));
    let alerts = std::fs::read_to_string(deploy("prometheus/alerts.yml")).unwrap();
    let mut used = metric_names(&alerts);
    for name in DASHBOARDS {
        used.extend(
            expressions(&dashboard(name))
                .iter()
                .flat_map(|e| metric_names(e)),
        );
    }
    let unknown: Vec<&String> = used.difference(&declared).collect();
    assert!(
        unknown.is_empty(),
        "not exported by nova serve: {unknown:?}"
    );

    // Live: after searches, a troubleshoot and an answer, the traffic and quality series are there.
    let app = TestApp::ready().await;
    app.sample_kb("ops").await;
    for mode in ["hybrid", "bm25"] {
        let r = app
            .post(
                "/v1/kbs/ops/search",
                json!({ "query": "printer offline", "mode": mode }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = app
        .post(
            "/v1/kbs/ops/answer",
            json!({ "question": "printer shows offline" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = app.get("/metrics").await.text().await.unwrap();
    let live = metric_names(&text);
    for name in [
        "nova_http_requests_total",
        "nova_http_request_duration_seconds",
        "nova_http_requests_in_flight",
        "nova_search_queries_total",
        "nova_search_duration_seconds",
        "nova_embed_batch_size",
        "nova_embed_batch_duration_seconds",
        "nova_answers_total",
        "nova_kb_chunks",
        "nova_kb_index_version",
        "nova_query_cache_lookups",
    ] {
        assert!(used.contains(name), "{name} is charted or alerted on");
        assert!(live.contains(name), "{name} missing from /metrics:\n{text}");
    }
}

#[test]
fn alert_rules_and_dashboard_queries_pass_promtool() {
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED the promtool checks: no promtool (scripts/promtool-test-deps.sh installs it)"
        );
        return;
    }
    let check = |file: &Path| {
        let out = std::process::Command::new("promtool")
            .args(["check", "rules"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    check(&deploy("prometheus/alerts.yml"));
    // Each dashboard query as a recording rule: promtool parses its PromQL.
    let dir = TempDir::new().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for name in DASHBOARDS {
        for (i, expr) in expressions(&dashboard(name)).iter().enumerate() {
            rules.push_str(&format!(
                "      - record: dashboard:{}:{i}\n        expr: {}\n",
                name.replace('-', "_"),
                serde_json::to_string(expr).unwrap()
            ));
        }
    }
    let file = dir.path().join("dashboards.yml");
    std::fs::write(&file, rules).unwrap();
    check(&file);
}
